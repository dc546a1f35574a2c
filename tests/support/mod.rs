//! Helpers shared by the workspace's integration tests, benches and examples.

pub mod redis_server;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub mod prometheus;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, ComponentName, Event, FakeClock,
    GlobalCircuitBreaker, GlobalTripConditions, Outcome, Recorded, Transition,
};

/// Defaults for the fuse's tests: a component opens on its second failure (`min_calls: 2`)
/// for `open_cooldown` and closes on one probe (one at a time); the fuse opens at half of at
/// least three components, whatever their call counts.
pub const fn fuse_at_half_of_three(open_cooldown: Duration) -> CircuitConfig {
    CircuitConfig {
        min_calls: 2,
        open_cooldown,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        global_trip_conditions: GlobalTripConditions {
            component_open_ratio: 0.5,
            min_components: 3,
            min_calls: 0,
        },
        ..CircuitConfig::DEFAULT
    }
}

/// The bearer token of [`admin_fixture`]'s admin routes.
pub const ADMIN_TOKEN: &str = "correct-horse-battery-staple";

/// A registry on the defaults with one component, `db`, and its admin routes as `admin`
/// builds them (pass `breaker::http::admin`: this crate does not name axum's `Router`),
/// behind [`ADMIN_TOKEN`] labelled `oncall`.
///
/// # Panics
///
/// If the default config is refused or `db` cannot register: a bug in the library.
#[allow(clippy::expect_used)]
pub fn admin_fixture<T>(
    admin: impl FnOnce(Arc<GlobalCircuitBreaker>, breaker::http::AdminAuth) -> T,
) -> (Arc<GlobalCircuitBreaker>, T) {
    let registry = Arc::new(
        GlobalCircuitBreaker::new(CircuitConfig::DEFAULT).expect("the defaults are valid"),
    );
    registry.register("db").expect("`db` registers");
    let routes = admin(
        Arc::clone(&registry),
        breaker::http::AdminAuth::bearer(ADMIN_TOKEN).label("oncall"),
    );
    (registry, routes)
}

// The fixtures below are test code: when one cannot do what the test asked, failing the test
// on the spot, with a message, is their job. Hence their `expect`s and `panic!`s.

/// A registry with `config` as its defaults, on a [`FakeClock`] of its own, with an
/// [`EventLog`] attached from the start (so it sees every event, registrations included).
///
/// # Panics
///
/// If `config` is invalid: a fixture with a bad config is a bug in the test.
#[allow(clippy::expect_used)]
pub fn registry(config: CircuitConfig) -> (FakeClock, GlobalCircuitBreaker, EventLog) {
    let clock = FakeClock::new();
    let log = EventLog::default();
    let registry = GlobalCircuitBreaker::builder()
        .config(config)
        .clock(clock.clone())
        .on_event(log.hook())
        .build()
        .expect("the fixture's config is valid");
    (clock, registry, log)
}

/// A standalone breaker (no registry, no fuse) named `name` with `config`, on a
/// [`FakeClock`] of its own.
///
/// # Panics
///
/// If `name` or `config` is invalid: a bug in the test.
#[allow(clippy::expect_used)]
pub fn breaker(name: &str, config: CircuitConfig) -> (FakeClock, ComponentBreaker) {
    let clock = FakeClock::new();
    let b = ComponentBreaker::new(name, config, Arc::new(clock.clone()))
        .expect("the fixture's name and config are valid");
    (clock, b)
}

/// One call through `b` that ends with `outcome`.
///
/// # Panics
///
/// If `b` refuses the call: callers use it where admission is part of what they assert.
#[allow(clippy::panic)]
pub fn call(b: &ComponentBreaker, outcome: Outcome) -> Recorded {
    match b.acquire().into_result() {
        Ok(guard) => guard.record(outcome),
        Err(e) => panic!(
            "`{}` refused a call the test expects it to admit: {e}",
            b.name()
        ),
    }
}

/// Opens `b` (a breaker in `Closed`) with failed calls, one at a time until it opens, and
/// returns how many it took. A fresh breaker opens after `min_calls` failures (sooner with a
/// lower `consecutive_failures_threshold`); successes already in the window take more.
///
/// # Panics
///
/// If a call is refused before `b` opens, or if `b` is still not open after 10 000 failures.
#[allow(clippy::panic)]
pub fn trip(b: &ComponentBreaker) -> u32 {
    const LIMIT: u32 = 10_000;
    for failures in 1..=LIMIT {
        call(b, Outcome::Failure);
        if b.state() == CircuitState::Open {
            return failures;
        }
    }
    panic!("{LIMIT} failures did not open `{}`", b.name())
}

/// The message of a panic payload (`catch_unwind`'s `Err`), whether the panic formatted its
/// message (`String`) or not (`&'static str`); `"<not a string>"` for any other payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<not a string>")
}

/// Records every event a registry emits, for assertions.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    events: Arc<Mutex<Vec<Event>>>,
}

impl EventLog {
    /// A log attached to `registry`.
    pub fn attach(registry: &GlobalCircuitBreaker) -> Self {
        let log = Self::default();
        let sink = log.clone();
        registry.on_event(move |e| sink.push(e.clone()));
        log
    }

    /// A hook that appends to this log, for builders.
    pub fn hook(&self) -> impl Fn(&Event) + Send + Sync + 'static {
        let sink = self.clone();
        move |e| sink.push(e.clone())
    }

    fn push(&self, e: Event) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(e);
    }

    /// Everything so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The state changes so far.
    pub fn transitions(&self) -> Vec<Transition> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::StateChanged(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    /// `(component, from, to)` of each state change, in order.
    pub fn moves(&self) -> Vec<(ComponentName, CircuitState, CircuitState)> {
        self.transitions()
            .into_iter()
            .map(|t| (t.component, t.from, t.to))
            .collect()
    }
}

/// How long the macro tests' breakers stay open.
pub const COOLDOWN: std::time::Duration = std::time::Duration::from_secs(10);

/// Trips at 50 % errors once `min_calls` calls are in the window; one probe at a time, one
/// success closes; [`COOLDOWN`] open.
pub fn small_config(min_calls: u32) -> breaker::CircuitConfig {
    breaker::CircuitConfig {
        min_calls,
        error_rate_threshold: 0.5,
        open_cooldown: COOLDOWN,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        ..breaker::CircuitConfig::DEFAULT
    }
}

/// Gives the invoking module its own registry, so macro tests running in parallel share
/// nothing: `CLOCK` (a `FakeClock`), `LOG` (its events), `REG` (a registry on that clock with
/// `$config` as defaults), `RUNS` (a body counter), `runs()`, `$component()` (the manifest
/// component's breaker in `REG`) and `snap()` (its snapshot).
// `crate::breakers` deliberately names the calling test's manifest, not this crate.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! isolated_registry {
    ($config:expr, $component:ident) => {
        #[allow(dead_code)]
        static CLOCK: ::once_cell::sync::Lazy<::breaker::FakeClock> =
            ::once_cell::sync::Lazy::new(::breaker::FakeClock::new);
        #[allow(dead_code)]
        static LOG: ::once_cell::sync::Lazy<$crate::EventLog> =
            ::once_cell::sync::Lazy::new($crate::EventLog::default);
        static REG: ::once_cell::sync::Lazy<::breaker::GlobalCircuitBreaker> =
            ::once_cell::sync::Lazy::new(|| {
                ::breaker::GlobalCircuitBreaker::builder()
                    .config($config)
                    .clock(CLOCK.clone())
                    .on_event(LOG.hook())
                    .build()
                    .unwrap()
            });
        #[allow(dead_code)]
        static RUNS: ::std::sync::atomic::AtomicU32 = ::std::sync::atomic::AtomicU32::new(0);

        #[allow(dead_code)]
        fn runs() -> u32 {
            RUNS.load(::std::sync::atomic::Ordering::SeqCst)
        }

        #[allow(dead_code)]
        fn $component() -> ::std::sync::Arc<::breaker::ComponentBreaker> {
            crate::breakers::$component.in_registry(&REG)
        }

        #[allow(dead_code)]
        fn snap() -> ::breaker::ComponentSnapshot {
            $component().snapshot()
        }
    };
}

breaker::breakers! {
    /// A component declared in this library, for `tests/cross_crate.rs`: another crate's
    /// annotated functions use it through `pub use breaker_suite::breakers;`.
    shared_api,
}

/// Runs `body` under a scoped `tracing` subscriber at `level` and returns what it logged, as
/// text without colours. Only callsites whose interest no other thread has cached first are
/// seen, so a test that uses it lives alone in its binary.
pub fn logged(level: tracing::Level, body: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, body);
    let bytes = sink
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The one way the tests wait on real I/O (a socket, a child process, a file watcher, Redis,
/// a browser): look, and if what is awaited is not there yet, [`again`](Self::again) pauses
/// `every` and says whether the deadline allows another look. Bounded in time and in the
/// number of looks. Never for breaker time: a `FakeClock` advances that.
#[derive(Debug)]
pub struct Patience {
    deadline: std::time::Instant,
    every: Duration,
    looks_left: u64,
}

impl Patience {
    /// At most `within` of real time, looking every `every`.
    pub fn new(within: Duration, every: Duration) -> Self {
        let every = every.max(Duration::from_millis(1));
        let looks = within.as_millis() / every.as_millis() + 2;
        Self {
            deadline: std::time::Instant::now() + within,
            every,
            looks_left: u64::try_from(looks).unwrap_or(u64::MAX).min(1_000_000),
        }
    }

    fn spend(&mut self) -> bool {
        if self.looks_left == 0 || std::time::Instant::now() >= self.deadline {
            return false;
        }
        self.looks_left -= 1;
        true
    }

    /// Pauses before the next look; `false` (at once) when the deadline has passed.
    pub fn again(&mut self) -> bool {
        let more = self.spend();
        if more {
            std::thread::sleep(self.every);
        }
        more
    }

    /// [`again`](Self::again) on tokio's timer, for tests inside a runtime.
    pub async fn again_async(&mut self) -> bool {
        let more = self.spend();
        if more {
            tokio::time::sleep(self.every).await;
        }
        more
    }
}

/// Looks at `check` every `every` until it returns `Some`, for at most `within`.
pub fn poll_every<T>(
    every: Duration,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let mut patience = Patience::new(within, every);
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if !patience.again() {
            return None;
        }
    }
}

/// Whether `done` holds within `within`, looked at every 20 ms.
pub fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    poll_every(Duration::from_millis(20), within, || done().then_some(())).is_some()
}
