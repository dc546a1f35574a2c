//! The fleet quorum (feature `fleet`): the replicas of a service share their breakers' health
//! through Redis, and a component opens on every replica once enough of them see it open,
//! without one replica's bad network path opening the others.
//!
//! Each replica keeps its own breakers, and the hot path never touches Redis: a [`Fleet`]
//! runs beside the registry on tokio and only writes the fleet's gate bit (and the verdict's
//! detail) on the registry's breakers, the way the global fuse does. Per component:
//!
//! - **Reports.** This replica publishes a [`Report`] (state, time in state, generation,
//!   cooldown left, window error rate and calls, a heartbeat sequence, a schema version) as
//!   its field of the component's hash `breaker:{<namespace>:<component>}:reports`, on every
//!   local transition (coalesced) and on every [`tick`](Fleet::tick) (each `sync_interval`).
//!   One hash tag per component, so Redis Cluster keeps a component's keys on one slot.
//! - **Notices.** Each change is also published on `breaker:<namespace>:notices` with the
//!   record itself, so the others apply it at once; every tick reads the hashes in full
//!   (one pipelined round trip), which repairs whatever a lost notice missed.
//! - **Membership** is judged on this replica's clock: a replica is live while its heartbeat
//!   sequence keeps changing within `replica_ttl` as seen here (no cross-machine clock
//!   comparison); long-silent replicas' fields are deleted by whoever sees them.
//! - **Verdict.** Open while at least `max(min_open_replicas, ceil(open_replica_ratio ×
//!   live))` live replicas (this one included) report the component `Open` or `HalfOpen`
//!   (a breaker forced open by hand is an operator's local choice, not evidence about the
//!   dependency, so it does not count, like the global fuse's tally). While it holds, this replica's breaker, if `Closed`, refuses with
//!   [`CircuitError::FleetOpen`](crate::CircuitError::FleetOpen); a replica whose own
//!   breaker is `Open` or `HalfOpen` goes on as usual (probes pass gates), so recovery found
//!   by its probes lowers the count and lifts the verdict everywhere. A replica refused by the
//!   verdict reports `Closed`: it never feeds the verdict that refuses it.
//! - **Redis is an aid.** Unreachable, slow or refusing auth: every command runs on the
//!   fleet's tasks with a timeout, the replica serves on its local breakers, a
//!   [`FleetEvent::Disconnected`] is emitted and counted, the client reconnects with backoff,
//!   and once no full read has succeeded for `stale_after` the verdicts refuse nothing.
//!
//! Keyed families: a report already carries a bounded list of its family keys that are not
//! `Closed` ([`Report::keys`]); counting them per key and holding a key-level gate is the
//! part to add once keyed families land (see [`Fleet::tick`]).

mod view;
mod wire;

pub use wire::{
    DecodeError, Force, KeyReport, Notice, Report, MAX_KEYS, MAX_NAME_BYTES, MAX_RECORD_BYTES,
    SCHEMA_VERSION,
};

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use rustc_hash::FxHashMap;

use crate::config::{mask_password, FleetConfig, FleetConfigError};
use crate::engine::clock::Timeline;
use crate::engine::{CircuitState, ComponentBreaker};
use crate::names::{ComponentName, GLOBAL};
use crate::registry::fleet_gate::FleetVerdict;
use crate::registry::{Event, FleetEvent, GlobalCircuitBreaker};

use view::{Count, Quorum, View, MAX_REPLICAS};

/// The hash field an operator's force is kept in (replica ids cannot start with `!`).
const FORCE_FIELD: &str = "!force";

/// Why a [`Fleet`] could not start, or an operator's command could not reach the fleet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// A setting breaks a rule.
    #[error(transparent)]
    Config(#[from] FleetConfigError),
    /// The URL cannot be used (the password, if any, is masked).
    #[error("fleet: cannot use Redis URL {url}: {reason}")]
    Url {
        /// The URL, password masked.
        url: String,
        /// Why.
        reason: String,
    },
    /// No registered component has that name.
    #[error("fleet: no component `{0}` is registered")]
    UnknownComponent(String),
    /// Redis did not answer (unreachable, too slow, refused auth): nothing was changed.
    #[error("fleet: Redis: {0}")]
    Redis(String),
    /// Started outside a tokio runtime, which runs the fleet's tasks.
    #[error("fleet: start it inside a tokio runtime (its tasks run there)")]
    NoRuntime,
}

/// The registry a fleet serves: `&'static` (the process-wide one) or shared in an `Arc`.
type RegistryRef = Arc<dyn Deref<Target = GlobalCircuitBreaker> + Send + Sync>;

/// Builds and starts a [`Fleet`]; every setting of [`FleetConfig`] has a method.
#[must_use]
#[derive(Debug, Clone)]
pub struct FleetBuilder {
    config: FleetConfig,
    background: bool,
    start_timeout: Duration,
}

impl FleetBuilder {
    /// The Redis URL (`redis://[user][:password@]host[:port][/db]`, `rediss://` for TLS).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.config.url = url.into();
        self
    }

    /// The namespace (one per service sharing the Redis).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.config.namespace = namespace.into();
        self
    }

    /// This replica's id (default: `<hostname>-<pid>-<random>`).
    pub fn replica_id(mut self, id: impl Into<String>) -> Self {
        self.config.replica_id = Some(id.into());
        self
    }

    /// The fewest open replicas that open the others (default 2).
    pub fn min_open_replicas(mut self, n: u32) -> Self {
        self.config.min_open_replicas = n;
        self
    }

    /// The share of live replicas that opens the others (default 0.5).
    pub fn open_replica_ratio(mut self, ratio: f32) -> Self {
        self.config.open_replica_ratio = ratio;
        self
    }

    /// The heartbeat and full-read period (default 1s).
    pub fn sync_interval(mut self, d: Duration) -> Self {
        self.config.sync_interval = d;
        self
    }

    /// How long a silent replica still counts (default 5s).
    pub fn replica_ttl(mut self, d: Duration) -> Self {
        self.config.replica_ttl = d;
        self
    }

    /// How old a verdict may get without a full read before it refuses nothing (default 10s).
    pub fn stale_after(mut self, d: Duration) -> Self {
        self.config.stale_after = d;
        self
    }

    /// All settings at once (a config file's `[fleet]` section).
    pub fn config(mut self, config: FleetConfig) -> Self {
        self.config = config;
        self
    }

    /// How long [`start`](Self::start) waits to read the fleet before it returns in local
    /// mode (default 2s, real time: it bounds I/O).
    pub fn start_timeout(mut self, d: Duration) -> Self {
        self.start_timeout = d;
        self
    }

    /// No background heartbeat: the caller calls [`Fleet::tick`] (tests, after advancing a
    /// `FakeClock`). Transitions are still published, and notices still applied, at once.
    pub fn manual_ticks(mut self) -> Self {
        self.background = false;
        self
    }

    /// Starts the fleet on `registry` (a `&'static` registry or an `Arc` of one) in the
    /// current tokio runtime. It reads the fleet's reports before it returns, so a replica
    /// started during an outage refuses from its first call; if Redis cannot be read within
    /// the start timeout it returns anyway, in local mode, with a
    /// [`FleetEvent::Disconnected`]. Errors only for a setting or URL that cannot work.
    pub async fn start<R>(self, registry: R) -> Result<Fleet, FleetError>
    where
        R: Deref<Target = GlobalCircuitBreaker> + Send + Sync + 'static,
    {
        Fleet::start_with(self, Arc::new(registry)).await
    }
}

/// One component as the fleet sees it (see [`FleetSnapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetComponent {
    /// The component.
    pub component: ComponentName,
    /// Live replicas reporting it open, this one included (`None`: the view is stale).
    pub open_replicas: Option<u32>,
    /// Live replicas, this one included.
    pub live_replicas: u32,
    /// Open replicas needed for the verdict.
    pub quorum: u32,
    /// The verdict holds: this replica's `Closed` breaker refuses with `FleetOpen`.
    pub verdict_open: bool,
    /// An operator's fleet-wide force in effect, and who set it.
    pub forced_by: Option<String>,
}

/// The fleet at one instant, as this replica sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetSnapshot {
    /// This replica's id.
    pub replica: String,
    /// The namespace.
    pub namespace: String,
    /// The last full read succeeded (`false`: local mode).
    pub connected: bool,
    /// Why Redis failed last, if it did (password masked by the client's own messages).
    pub last_error: Option<String>,
    /// Times Redis was lost (a start that could not read it counts).
    pub disconnects: u64,
    /// Records read from Redis and ignored: malformed, oversized or of a future version.
    pub ignored_records: u64,
    /// Calls refused with `FleetOpen` since the registry was built.
    pub refused_calls: u64,
    /// Live replicas other than this one.
    pub live_peers: usize,
    /// Every registered component.
    pub components: Vec<FleetComponent>,
}

/// A running fleet quorum over one registry; dropping it stops its tasks and releases its
/// verdicts (the breakers go on locally).
pub struct Fleet {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet")
            .field("replica", &self.shared.replica)
            .field("namespace", &self.shared.namespace)
            .finish_non_exhaustive()
    }
}

struct Shared {
    registry: RegistryRef,
    replica: String,
    namespace: String,
    quorum: Mutex<Quorum>,
    client: redis::Client,
    conn: ConnectionManager,
    /// Bounds every Redis exchange (real time).
    io_timeout: Duration,
    timeline: Timeline,
    view: Mutex<View>,
    seq: AtomicU64,
    /// Serialises publications, so the sequence grows in the order Redis sees the writes.
    io: tokio::sync::Mutex<()>,
    /// A local transition happened: publish.
    dirty: tokio::sync::Notify,
    /// The listener tried to subscribe (start waits for its first try, bounded).
    subscribed: tokio::sync::Notify,
    /// What was last published per component (state, generation), to coalesce.
    published: Mutex<FxHashMap<ComponentName, (CircuitState, u64)>>,
    /// Verdicts held now (for the events on change).
    held: Mutex<FxHashMap<ComponentName, Count>>,
    /// Fleet-wide forces applied here, and by whom.
    applied: Mutex<FxHashMap<ComponentName, String>>,
    last_error: Mutex<Option<String>>,
    /// The config file's `[fleet]` section as last applied.
    file_seen: Mutex<Option<FleetConfig>>,
    /// `Disconnected` was told for the current outage.
    down_told: std::sync::atomic::AtomicBool,
}

/// Whether a local breaker in `state` counts toward a quorum (as [`Report::is_open`]).
const fn reports_open(state: CircuitState) -> bool {
    state.is_unhealthy()
}

/// `<hostname>-<pid>-<random>`, trimmed to the allowed characters and length.
fn default_replica_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_else(|| "host".to_owned());
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(40)
        .collect();
    // std's RandomState is seeded per process from the OS: enough for a suffix that keeps
    // two processes with one pid (containers) apart.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    let suffix = hasher.finish() & 0xff_ffff;
    let host = if host.is_empty() {
        "host".to_owned()
    } else {
        host
    };
    format!("{host}-{}-{suffix:06x}", std::process::id())
}

/// A first sequence number above any this replica id used before: microseconds of the wall
/// clock, read once. Only this writer's own sequence depends on it; no reader compares it with
/// a clock.
fn first_seq() -> u64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    u64::try_from(micros).unwrap_or(u64::MAX / 2)
}

fn quorum_of(config: &FleetConfig) -> Quorum {
    Quorum {
        min_open_replicas: config.min_open_replicas,
        open_replica_ratio: config.open_replica_ratio,
        replica_ttl: config.replica_ttl,
        stale_after: config.stale_after,
        sync_interval: config.sync_interval,
    }
}

impl Fleet {
    /// A builder with [`FleetConfig::default`]'s settings.
    pub fn builder() -> FleetBuilder {
        FleetBuilder {
            config: FleetConfig::default(),
            background: true,
            start_timeout: Duration::from_secs(2),
        }
    }

    /// Starts a fleet on `registry` with `config` (a config file's `[fleet]` section, say:
    /// `registry.fleet_config()`); see [`FleetBuilder::start`].
    pub async fn start<R>(registry: R, config: FleetConfig) -> Result<Self, FleetError>
    where
        R: Deref<Target = GlobalCircuitBreaker> + Send + Sync + 'static,
    {
        Self::builder().config(config).start(registry).await
    }

    async fn start_with(builder: FleetBuilder, registry: RegistryRef) -> Result<Self, FleetError> {
        let config = builder.config;
        config.validate()?;
        // tokio::spawn and its timers would panic elsewhere (another executor polling us).
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(FleetError::NoRuntime);
        }
        let url_error = |e: redis::RedisError| FleetError::Url {
            url: mask_password(&config.url),
            reason: e.to_string(),
        };
        let client = redis::Client::open(config.url.as_str()).map_err(url_error)?;
        let io_timeout = config
            .sync_interval
            .clamp(Duration::from_millis(200), Duration::from_secs(2));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(io_timeout))
            .set_response_timeout(Some(io_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)
            .map_err(url_error)?;
        let replica = config.replica_id.clone().unwrap_or_else(default_replica_id);
        let timeline = Timeline::new(Arc::clone(registry.clock()));
        let shared = Arc::new(Shared {
            replica,
            namespace: config.namespace.clone(),
            quorum: Mutex::new(quorum_of(&config)),
            client,
            conn,
            io_timeout,
            timeline,
            view: Mutex::new(View::default()),
            seq: AtomicU64::new(first_seq()),
            io: tokio::sync::Mutex::new(()),
            dirty: tokio::sync::Notify::new(),
            subscribed: tokio::sync::Notify::new(),
            published: Mutex::new(FxHashMap::default()),
            held: Mutex::new(FxHashMap::default()),
            applied: Mutex::new(FxHashMap::default()),
            last_error: Mutex::new(None),
            down_told: std::sync::atomic::AtomicBool::new(false),
            file_seen: Mutex::new(None),
            registry,
        });
        shared.registry.fleet_gates().attach();
        let weak = Arc::downgrade(&shared);
        shared.registry.on_event(move |event| {
            if let Event::StateChanged(t) = event {
                if t.component != GLOBAL {
                    if let Some(shared) = Weak::upgrade(&weak) {
                        shared.dirty.notify_one();
                    }
                }
            }
        });

        let mut tasks = Vec::new();
        let subscribed = shared.subscribed.notified();
        tasks.push(tokio::spawn(listen(Arc::downgrade(&shared))));
        // Subscribed before the first full read, so no change falls between the two; both
        // bounded by the start timeout.
        let deadline = tokio::time::Instant::now() + builder.start_timeout;
        let _ = tokio::time::timeout_at(deadline, subscribed).await;
        if tokio::time::timeout_at(deadline, shared.tick())
            .await
            .is_err()
        {
            shared.disconnected("timed out reading the fleet at start".to_owned());
        }
        tasks.push(tokio::spawn(publish_transitions(Arc::downgrade(&shared))));
        if builder.background {
            tasks.push(tokio::spawn(heartbeat(
                Arc::downgrade(&shared),
                config.sync_interval,
            )));
        }
        Ok(Self { shared, tasks })
    }

    /// This replica's id.
    pub fn replica_id(&self) -> &str {
        &self.shared.replica
    }

    /// Publishes this replica's reports, reads the fleet in full, recomputes the verdicts:
    /// what the background task does every `sync_interval`, for tests to call after
    /// advancing a `FakeClock`. `Err` means local mode (the error is also an event).
    ///
    /// Keyed families: here is where each report will carry the family keys that are not
    /// `Closed`, and the verdict be computed and gated per key as it is per component.
    pub async fn tick(&self) -> Result<(), FleetError> {
        self.shared.tick().await
    }

    /// Forces `component` open on every replica of the namespace (each within one
    /// `sync_interval`, at once through the channel), with a [`FleetEvent::ForcedOpen`] on
    /// each naming `by`. Fails, changing nothing, if Redis does not answer.
    pub async fn force_open(&self, component: &str, by: &str) -> Result<(), FleetError> {
        self.shared.operate(component, by, true).await
    }

    /// Releases a fleet-wide force: every replica resets the breaker it forced open.
    pub async fn release(&self, component: &str, by: &str) -> Result<(), FleetError> {
        self.shared.operate(component, by, false).await
    }

    /// New quorum settings (url, namespace and replica id stay: they name the keys). The
    /// running settings stay if one is invalid.
    pub fn reconfigure(&self, config: &FleetConfig) -> Result<(), FleetError> {
        config.validate()?;
        *self.shared.quorum.lock() = quorum_of(config);
        self.shared.recompute();
        Ok(())
    }

    /// The fleet as this replica sees it now.
    pub fn snapshot(&self) -> FleetSnapshot {
        self.shared.snapshot()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // The breakers go on locally: no verdict outlives the fleet that drew it.
        let gates = self.shared.registry.fleet_gates();
        for breaker in self.shared.registry.breakers() {
            gates.release(&breaker);
        }
    }
}

impl Shared {
    fn now(&self) -> u64 {
        self.timeline.now_nanos()
    }

    fn key(&self, component: &str) -> String {
        format!("breaker:{{{}:{component}}}:reports", self.namespace)
    }

    fn channel(&self) -> String {
        format!("breaker:{}:notices", self.namespace)
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }

    fn report(breaker: &ComponentBreaker, seq: u64) -> Report {
        let s = breaker.snapshot();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Report {
            v: SCHEMA_VERSION,
            seq,
            state: s.state,
            since_ms: ms(s.time_in_state),
            generation: s.generation,
            open_for_ms: s.retry_after.map(ms),
            rate: if s.window.error_rate.is_finite() {
                s.window.error_rate.clamp(0.0, 1.0)
            } else {
                0.0
            },
            calls: s.window.calls,
            keys: Vec::new(),
        }
    }

    fn components(&self) -> Vec<Arc<ComponentBreaker>> {
        let mut breakers: Vec<_> = self.registry.breakers().collect();
        breakers.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        breakers
    }

    /// A config file's `[fleet]` section that changed since the last tick: its quorum
    /// settings apply from now on (url, namespace and replica id name the connection and the
    /// keys; they take a restart of the fleet).
    fn follow_file(&self) {
        let Some(file) = self.registry.fleet_config() else {
            return;
        };
        let mut seen = self.file_seen.lock();
        if seen.as_ref() != Some(&file) {
            *self.quorum.lock() = quorum_of(&file);
            *seen = Some(file);
        }
    }

    async fn tick(&self) -> Result<(), FleetError> {
        self.follow_file();
        let guard = self.io.lock().await;
        let breakers = self.components();
        let seq = self.next_seq();
        let garbage = {
            let ttl = self.quorum.lock().replica_ttl;
            self.view.lock().collect_garbage(self.now(), ttl)
        };
        let mut pipe = redis::pipe();
        for (component, replica) in &garbage {
            pipe.hdel(self.key(component), replica).ignore();
        }
        let mut published = Vec::with_capacity(breakers.len());
        for breaker in &breakers {
            let report = Self::report(breaker, seq);
            published.push((breaker.name().clone(), (report.state, report.generation)));
            let key = self.key(breaker.name());
            pipe.hset(&key, &self.replica, report.encode()).ignore();
            pipe.hgetall(&key);
        }
        let mut conn = self.conn.clone();
        let result = tokio::time::timeout(
            self.io_timeout,
            pipe.query_async::<Vec<Vec<(Vec<u8>, Vec<u8>)>>>(&mut conn),
        )
        .await;
        drop(guard);
        let hashes = match result {
            Ok(Ok(hashes)) => hashes,
            Ok(Err(e)) => return Err(self.failed(e.to_string())),
            Err(_) => return Err(self.failed("Redis did not answer in time".to_owned())),
        };
        let now = self.now();
        {
            let mut view = self.view.lock();
            for (breaker, fields) in breakers.iter().zip(hashes) {
                let (reports, force) = self.decode_hash(fields);
                view.full_read(breaker.name(), reports, force, now);
            }
            view.refreshed(now);
        }
        self.published.lock().extend(published);
        self.connected();
        self.recompute();
        Ok(())
    }

    /// One component's hash, decoded with bounds; what fails is counted and skipped.
    fn decode_hash(
        &self,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> (Vec<(String, Report)>, Option<Force>) {
        let gates = self.registry.fleet_gates();
        let mut reports = Vec::new();
        let mut force = None;
        for (field, value) in fields {
            let Ok(field) = String::from_utf8(field) else {
                gates.ignore_record();
                continue;
            };
            if field == FORCE_FIELD {
                match Force::decode(&value) {
                    Ok(f) => force = Some(f),
                    Err(_) => gates.ignore_record(),
                }
                continue;
            }
            if field == self.replica {
                continue;
            }
            if field.len() > MAX_NAME_BYTES || reports.len() >= MAX_REPLICAS {
                gates.ignore_record();
                continue;
            }
            match Report::decode(&value) {
                Ok(report) => reports.push((field, report)),
                Err(_) => gates.ignore_record(),
            }
        }
        (reports, force)
    }

    fn failed(&self, error: String) -> FleetError {
        self.disconnected(error.clone());
        // Local mode may have to lift a verdict that just went stale.
        self.recompute();
        FleetError::Redis(error)
    }

    /// Redis failed: local mode. Told (and counted) once per outage, including a start that
    /// never reached Redis.
    fn disconnected(&self, error: String) {
        let gates = self.registry.fleet_gates();
        gates.set_connected(false);
        *self.last_error.lock() = Some(error.clone());
        if !self.down_told.swap(true, Ordering::Relaxed) {
            gates.count_disconnect();
            self.registry.emit(&Event::Fleet(FleetEvent::Disconnected {
                replica: self.replica.clone(),
                error,
            }));
        }
    }

    /// A full read succeeded: told once per recovery (and on the first success).
    fn connected(&self) {
        let gates = self.registry.fleet_gates();
        let was = gates.is_connected();
        gates.set_connected(true);
        self.down_told.store(false, Ordering::Relaxed);
        *self.last_error.lock() = None;
        if !was {
            self.registry.emit(&Event::Fleet(FleetEvent::Connected {
                replica: self.replica.clone(),
            }));
        }
    }

    /// Recomputes every component's verdict and applies the operators' forces, then tells
    /// the hooks, outside every lock.
    fn recompute(&self) {
        let now = self.now();
        let quorum = *self.quorum.lock();
        let gates = self.registry.fleet_gates();
        let mut events = Vec::new();
        let mut force_open = Vec::new();
        let mut reset = Vec::new();
        {
            let view = self.view.lock();
            let mut held = self.held.lock();
            let mut applied = self.applied.lock();
            for breaker in self.components() {
                let name = breaker.name();
                let own_open = reports_open(breaker.state());
                match view.verdict(name, &self.replica, own_open, now, &quorum) {
                    Some(count) => {
                        gates.hold(
                            &breaker,
                            FleetVerdict {
                                open_replicas: count.open,
                                live_replicas: count.live,
                                retry_after: count.retry_after,
                            },
                        );
                        if held.insert(name.clone(), count).is_none() {
                            events.push(FleetEvent::QuorumOpen {
                                component: name.clone(),
                                open_replicas: count.open,
                                live_replicas: count.live,
                            });
                        }
                    }
                    None => {
                        if held.remove(name.as_str()).is_some() {
                            gates.release(&breaker);
                            events.push(FleetEvent::QuorumLifted {
                                component: name.clone(),
                            });
                        }
                    }
                }
                let force = view.forced(name).filter(|f| f.open);
                match (force, applied.contains_key(name.as_str())) {
                    (Some(f), false) => {
                        applied.insert(name.clone(), f.by.clone());
                        force_open.push(Arc::clone(&breaker));
                        events.push(FleetEvent::ForcedOpen {
                            component: name.clone(),
                            by: f.by.clone(),
                        });
                    }
                    (None, true) => {
                        let by = view
                            .forced(name)
                            .map(|f| f.by.clone())
                            .unwrap_or_else(|| "unknown".to_owned());
                        applied.remove(name.as_str());
                        reset.push(Arc::clone(&breaker));
                        events.push(FleetEvent::Released {
                            component: name.clone(),
                            by,
                        });
                    }
                    _ => {}
                }
            }
        }
        for breaker in force_open {
            breaker.force_open();
        }
        for breaker in reset {
            // Only what the fleet forced: a breaker an operator reset or disabled locally
            // since is left as it is.
            if breaker.state() == CircuitState::ForcedOpen {
                breaker.reset();
            }
        }
        for event in events {
            self.registry.emit(&Event::Fleet(event));
        }
    }

    /// Publishes the components whose state moved since they were last published, with a
    /// notice each; coalesced: one pass covers every transition since the last.
    async fn publish_changes(&self) {
        // Its own transition changes this replica's count at once, Redis or not.
        self.recompute();
        let guard = self.io.lock().await;
        let changed: Vec<Arc<ComponentBreaker>> = {
            let published = self.published.lock();
            self.components()
                .into_iter()
                .filter(|b| {
                    published.get(b.name().as_str()) != Some(&(b.state(), b.snapshot().generation))
                })
                .collect()
        };
        if changed.is_empty() {
            return;
        }
        let seq = self.next_seq();
        let mut pipe = redis::pipe();
        let mut sent = Vec::new();
        for breaker in &changed {
            let report = Self::report(breaker, seq);
            sent.push((breaker.name().clone(), (report.state, report.generation)));
            pipe.hset(self.key(breaker.name()), &self.replica, report.encode())
                .ignore();
            let notice = Notice {
                v: SCHEMA_VERSION,
                component: breaker.name().to_string(),
                replica: self.replica.clone(),
                report: Some(report),
                force: None,
            };
            pipe.publish(self.channel(), notice.encode()).ignore();
        }
        let mut conn = self.conn.clone();
        let result = tokio::time::timeout(self.io_timeout, pipe.query_async::<()>(&mut conn)).await;
        drop(guard);
        match result {
            Ok(Ok(())) => self.published.lock().extend(sent),
            Ok(Err(e)) => {
                self.failed(e.to_string());
            }
            Err(_) => {
                self.failed("Redis did not answer in time".to_owned());
            }
        }
    }

    /// A notice from the channel: applied at once (decoded with bounds; what fails is
    /// counted).
    fn on_notice(&self, payload: &[u8]) {
        let notice = match Notice::decode(payload) {
            Ok(notice) => notice,
            Err(_) => {
                self.registry.fleet_gates().ignore_record();
                return;
            }
        };
        if notice.replica == self.replica && notice.force.is_none() {
            return;
        }
        let now = self.now();
        {
            let mut view = self.view.lock();
            if let Some(report) = notice.report {
                view.notice(&notice.component, &notice.replica, report, now);
            }
            if let Some(force) = notice.force {
                view.force(&notice.component, force);
            }
        }
        self.recompute();
    }

    async fn operate(&self, component: &str, by: &str, open: bool) -> Result<(), FleetError> {
        if self.registry.component(component).is_none() {
            return Err(FleetError::UnknownComponent(component.to_owned()));
        }
        let by: String = by.chars().take(MAX_NAME_BYTES / 4).collect();
        let by = if by.is_empty() {
            "unknown".to_owned()
        } else {
            by
        };
        let force = Force {
            v: SCHEMA_VERSION,
            open,
            by,
        };
        let notice = Notice {
            v: SCHEMA_VERSION,
            component: component.to_owned(),
            replica: self.replica.clone(),
            report: None,
            force: Some(force.clone()),
        };
        let mut pipe = redis::pipe();
        pipe.hset(self.key(component), FORCE_FIELD, force.encode())
            .ignore();
        pipe.publish(self.channel(), notice.encode()).ignore();
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.io_timeout, pipe.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(FleetError::Redis(e.to_string())),
            Err(_) => return Err(FleetError::Redis("Redis did not answer in time".to_owned())),
        }
        self.view.lock().force(component, force);
        self.recompute();
        Ok(())
    }

    fn snapshot(&self) -> FleetSnapshot {
        let now = self.now();
        let quorum = *self.quorum.lock();
        let gates = self.registry.fleet_gates();
        let view = self.view.lock();
        let components = self
            .components()
            .iter()
            .map(|b| {
                let name = b.name();
                let count = view.count(name, &self.replica, reports_open(b.state()), now, &quorum);
                let live = count.map_or(1, |c| c.live);
                FleetComponent {
                    component: name.clone(),
                    open_replicas: count.map(|c| c.open),
                    live_replicas: live,
                    quorum: quorum.needed(live),
                    verdict_open: gates.verdict(name).is_some(),
                    forced_by: view.forced(name).filter(|f| f.open).map(|f| f.by.clone()),
                }
            })
            .collect();
        FleetSnapshot {
            replica: self.replica.clone(),
            namespace: self.namespace.clone(),
            connected: gates.is_connected(),
            last_error: self.last_error.lock().clone(),
            disconnects: gates.disconnects(),
            ignored_records: gates.ignored_records(),
            refused_calls: gates.refused(),
            live_peers: view.live_others(&self.replica, now, quorum.replica_ttl),
            components,
        }
    }
}

/// The pub/sub listener: a dedicated connection subscribed to the namespace's channel,
/// re-established with backoff (real time: it paces I/O, not breaker time) until the fleet
/// is dropped.
async fn listen(shared: Weak<Shared>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let (client, channel, timeout) =
            (strong.client.clone(), strong.channel(), strong.io_timeout);
        drop(strong);
        let subscribed = tokio::time::timeout(timeout, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        // Start waits for the first attempt, whatever its outcome.
        if let Some(strong) = shared.upgrade() {
            strong.subscribed.notify_waiters();
        }
        if let Ok(Ok(pubsub)) = subscribed {
            backoff = Duration::from_millis(50);
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let Some(strong) = shared.upgrade() else {
                    return;
                };
                strong.on_notice(message.get_payload_bytes());
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Publishes local transitions as they happen (coalesced by the notification).
async fn publish_transitions(shared: Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        // Holding the Arc while waiting is fine: dropping the fleet aborts this task.
        strong.dirty.notified().await;
        strong.publish_changes().await;
    }
}

/// The heartbeat: a tick every `sync_interval`.
async fn heartbeat(shared: Weak<Shared>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let _ = strong.tick().await;
    }
}

// The registry's side of the gate, tested from here: a test inside the registry that builds a
// registry would make its file and the registry's import each other.
#[allow(clippy::unwrap_used, clippy::panic)]
// Not in the loom build (`--cfg breaker_loom`), which runs only the models.
#[cfg(not(breaker_loom))]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CircuitConfig;
    use crate::engine::{CircuitError, FakeClock, Outcome, Permit};
    use crate::registry::GlobalCircuitBreaker;

    fn refusal(breaker: &ComponentBreaker) -> Option<CircuitError> {
        match breaker.acquire() {
            Permit::Allowed(g) => {
                g.record(Outcome::Success);
                None
            }
            Permit::Rejected(e) => Some(e),
        }
    }

    /// The fleet's gate refuses a `Closed` member with its detail and counts it; the fuse's
    /// verdict, which covers every component, wins when both hold.
    #[test]
    fn the_fleet_gate_refuses_with_its_detail_and_the_fuse_comes_first() {
        let registry = GlobalCircuitBreaker::builder()
            .clock(FakeClock::new())
            .config(CircuitConfig {
                consecutive_failures_threshold: Some(1),
                ..CircuitConfig::DEFAULT
            })
            .build()
            .unwrap();
        let [a, b, c] = ["a", "b", "c"].map(|n| registry.register(n).unwrap());
        let gates = registry.fleet_gates();
        let verdict = FleetVerdict {
            open_replicas: 2,
            live_replicas: 3,
            retry_after: Duration::from_secs(7),
        };
        gates.hold(&c, verdict);
        assert_eq!(
            refusal(&c),
            Some(CircuitError::FleetOpen {
                component: c.name().clone(),
                open_replicas: 2,
                live_replicas: 3,
                retry_after: Duration::from_secs(7),
            })
        );
        assert_eq!(gates.refused(), 1);
        assert_eq!(gates.verdict("c"), Some(verdict));
        for member in [&a, &b] {
            if let Permit::Allowed(g) = member.acquire() {
                g.record(Outcome::Failure);
            }
        }
        assert!(matches!(refusal(&c), Some(CircuitError::GlobalOpen { .. })));
        assert_eq!(gates.refused(), 1, "the fuse's refusal is not the fleet's");
        a.reset();
        b.reset();
        assert!(matches!(refusal(&c), Some(CircuitError::FleetOpen { .. })));
        gates.release(&c);
        assert_eq!(refusal(&c), None);
        assert_eq!(gates.verdict("c"), None);
    }
}
