//! The routers' event feed: one registry hook turns each [`Event`] into a [`Record`] and hands
//! it to a bounded broadcast (the SSE clients) and a bounded ring (`GET /events/recent`).
//!
//! The hook runs on the thread that caused the transition, so it never waits: the broadcast
//! overwrites its oldest slot when a receiver lags (that receiver is then dropped, see
//! `sse.rs`), and the ring and the last-transition map are taken with `try_lock`, a miss
//! being counted rather than waited for.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;

use super::duration::human;
use crate::{Clock, Event, FleetEvent};

/// One transition or reload, as the feed keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) kind: &'static str,
    pub(crate) component: Option<String>,
    pub(crate) from: Option<&'static str>,
    pub(crate) to: Option<&'static str>,
    pub(crate) reason: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) unknown_components: Vec<String>,
    /// On the registry's clock, for `ago` (a fake clock in tests).
    pub(crate) at: Option<Instant>,
    /// Wall-clock time the hook heard it.
    pub(crate) unix_ms: u64,
}

/// A [`Record`] as JSON, with `ago` measured now on the registry's clock.
#[derive(Debug, Serialize)]
pub(crate) struct RecordView<'a> {
    seq: u64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    unknown_components: &'a [String],
    at_unix_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ago: Option<String>,
}

impl Record {
    fn of(event: &Event, seq: u64) -> Self {
        let mut record = Record {
            seq,
            kind: "",
            component: None,
            from: None,
            to: None,
            reason: None,
            path: None,
            error: None,
            unknown_components: Vec::new(),
            at: None,
            unix_ms: unix_ms(),
        };
        match event {
            Event::StateChanged(t) => {
                record.kind = "transition";
                record.component = Some(t.component.to_string());
                record.from = Some(t.from.as_str());
                record.to = Some(t.to.as_str());
                record.reason = Some(t.reason.to_string());
                record.at = Some(t.at);
            }
            Event::ConfigReloaded { component } => {
                record.kind = "config_reloaded";
                record.component = component.as_deref().map(str::to_owned);
            }
            Event::ConfigRefused { component, error } => {
                record.kind = "config_refused";
                record.component = component.as_deref().map(str::to_owned);
                record.error = Some(error.to_string());
            }
            Event::FileReloaded {
                path,
                unknown_components,
            } => {
                record.kind = "file_reloaded";
                record.path = path.as_ref().map(|p| p.display().to_string());
                record.unknown_components.clone_from(unknown_components);
            }
            Event::FileRefused { path, error } => {
                record.kind = "file_refused";
                record.path = path.as_ref().map(|p| p.display().to_string());
                record.error = Some(error.clone());
            }
            Event::ManifestEntryIgnored { component } => {
                record.kind = "manifest_entry_ignored";
                record.component = Some(component.to_string());
            }
            Event::Fleet(event) => fleet(&mut record, event),
            Event::FamilyOverflow {
                family,
                active,
                calls,
            } => {
                record.kind = if *active {
                    "family_overflow_started"
                } else {
                    "family_overflow_ended"
                };
                record.component = Some(family.to_string());
                record.reason = Some(format!("{calls} calls sent to the overflow breaker so far"));
            }
            Event::FamilyCapped {
                component,
                unhealthy,
                live,
            } => {
                record.kind = "family_capped";
                record.component = Some(component.to_string());
                record.reason = Some(format!(
                    "{unhealthy} of {live} live keys unhealthy: the ejection cap kept it closed"
                ));
            }
        }
        record
    }

    /// Whether it is a config file being put in force or refused.
    pub(crate) fn is_file_reload(&self) -> bool {
        matches!(self.kind, "file_reloaded" | "file_refused")
    }

    pub(crate) fn view(&self, now: Instant) -> RecordView<'_> {
        RecordView {
            seq: self.seq,
            kind: self.kind,
            component: self.component.as_deref(),
            from: self.from,
            to: self.to,
            reason: self.reason.as_deref(),
            path: self.path.as_deref(),
            error: self.error.as_deref(),
            unknown_components: &self.unknown_components,
            at_unix_ms: self.unix_ms,
            ago: self.at.map(|at| human(now.saturating_duration_since(at))),
        }
    }
}

/// A fleet event as a record: `kind` says which, `reason` carries who or how many.
fn fleet(record: &mut Record, event: &FleetEvent) {
    match event {
        FleetEvent::Connected { replica } => {
            record.kind = "fleet_connected";
            record.reason = Some(format!("replica {replica}"));
        }
        FleetEvent::Disconnected { replica, error } => {
            record.kind = "fleet_disconnected";
            record.reason = Some(format!("replica {replica}"));
            record.error = Some(error.clone());
        }
        FleetEvent::QuorumOpen {
            component,
            open_replicas,
            live_replicas,
        } => {
            record.kind = "fleet_quorum_open";
            record.component = Some(component.to_string());
            record.reason = Some(format!(
                "{open_replicas} of {live_replicas} live replicas see it open"
            ));
        }
        FleetEvent::QuorumLifted { component } => {
            record.kind = "fleet_quorum_lifted";
            record.component = Some(component.to_string());
        }
        FleetEvent::ForcedOpen { component, by } => {
            record.kind = "fleet_forced_open";
            record.component = Some(component.to_string());
            record.reason = Some(format!("by {by}"));
        }
        FleetEvent::Released { component, by } => {
            record.kind = "fleet_released";
            record.component = Some(component.to_string());
            record.reason = Some(format!("by {by}"));
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What the routers know of the registry's events.
pub(crate) struct Feed {
    tx: broadcast::Sender<Arc<Record>>,
    recent: Mutex<VecDeque<Arc<Record>>>,
    recent_cap: usize,
    last_transition: Mutex<HashMap<String, Arc<Record>>>,
    last_reload: Mutex<Option<Arc<Record>>>,
    seq: AtomicU64,
    /// Records the ring or the maps missed because a reader held them.
    pub(crate) missed: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("receivers", &self.tx.receiver_count())
            .field("recent_cap", &self.recent_cap)
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// A feed whose broadcast holds `queue` records per client and whose ring keeps `recent`.
    pub(crate) fn new(clock: Arc<dyn Clock>, queue: usize, recent: usize) -> Self {
        let (tx, _) = broadcast::channel(queue.max(1));
        Self {
            tx,
            recent: Mutex::new(VecDeque::with_capacity(recent)),
            recent_cap: recent,
            last_transition: Mutex::new(HashMap::new()),
            last_reload: Mutex::new(None),
            seq: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            clock,
        }
    }

    /// The hook's body: never blocks.
    pub(crate) fn push(&self, event: &Event) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let record = Arc::new(Record::of(event, seq));
        // No receiver is not an error: nobody is watching.
        let _ = self.tx.send(Arc::clone(&record));
        match self.recent.try_lock() {
            Some(mut ring) => {
                if self.recent_cap > 0 {
                    if ring.len() == self.recent_cap {
                        ring.pop_front();
                    }
                    ring.push_back(Arc::clone(&record));
                }
            }
            None => {
                self.missed.fetch_add(1, Ordering::Relaxed);
            }
        }
        if record.kind == "transition" {
            if let Some(component) = record.component.clone() {
                match self.last_transition.try_lock() {
                    Some(mut map) => {
                        map.insert(component, Arc::clone(&record));
                    }
                    None => {
                        self.missed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        } else if record.is_file_reload() {
            match self.last_reload.try_lock() {
                Some(mut last) => *last = Some(record),
                None => {
                    self.missed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.tx.subscribe()
    }

    /// The registry clock's now, for `ago`.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The last `limit` records, oldest first.
    pub(crate) fn recent(&self, limit: usize) -> Vec<Arc<Record>> {
        let ring = self.recent.lock();
        let skip = ring.len().saturating_sub(limit);
        ring.iter().skip(skip).cloned().collect()
    }

    pub(crate) fn last_transition(&self, component: &str) -> Option<Arc<Record>> {
        self.last_transition.lock().get(component).cloned()
    }

    pub(crate) fn last_reload(&self) -> Option<Arc<Record>> {
        self.last_reload.lock().clone()
    }
}

#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::config::{ConfigError, ConfigValue};
    use crate::{CircuitState, ComponentName, FakeClock, Transition, TransitionReason};

    fn feed(recent: usize) -> (FakeClock, Feed) {
        let clock = FakeClock::new();
        let feed = Feed::new(Arc::new(clock.clone()), 8, recent);
        (clock, feed)
    }

    fn transition(component: &'static str, at: Instant) -> Event {
        Event::StateChanged(Transition {
            component: ComponentName::from_static(component),
            from: CircuitState::Closed,
            to: CircuitState::Open,
            reason: TransitionReason::ConsecutiveFailures { count: 3 },
            at,
            generation: 1,
        })
    }

    fn reloaded() -> Event {
        Event::FileReloaded {
            path: Some(PathBuf::from("/etc/breakers.toml")),
            unknown_components: vec!["nosuch".to_owned()],
        }
    }

    fn kinds(records: &[Arc<Record>]) -> Vec<&'static str> {
        records.iter().map(|r| r.kind).collect()
    }

    #[test]
    fn every_event_is_a_record_of_its_kind_with_who_and_why() {
        let name = ComponentName::from_static;
        let error = ConfigError::runtime("min_calls", ConfigValue::Count(0), "must be at least 1");
        let cases = [
            (
                Event::ConfigReloaded { component: None },
                ("config_reloaded", None, None, None),
            ),
            (
                Event::ConfigReloaded {
                    component: Some(name("db")),
                },
                ("config_reloaded", Some("db"), None, None),
            ),
            (
                Event::ConfigRefused {
                    component: Some(name("db")),
                    error: error.clone(),
                },
                ("config_refused", Some("db"), None, Some(error.to_string())),
            ),
            (
                Event::FileRefused {
                    path: None,
                    error: "<config>:2: bad".to_owned(),
                },
                (
                    "file_refused",
                    None,
                    None,
                    Some("<config>:2: bad".to_owned()),
                ),
            ),
            (
                Event::ManifestEntryIgnored {
                    component: name("db"),
                },
                ("manifest_entry_ignored", Some("db"), None, None),
            ),
            (
                Event::FamilyOverflow {
                    family: name("hosts"),
                    active: true,
                    calls: 0,
                },
                (
                    "family_overflow_started",
                    Some("hosts"),
                    Some("0 calls sent to the overflow breaker so far"),
                    None,
                ),
            ),
            (
                Event::FamilyOverflow {
                    family: name("hosts"),
                    active: false,
                    calls: 12,
                },
                (
                    "family_overflow_ended",
                    Some("hosts"),
                    Some("12 calls sent to the overflow breaker so far"),
                    None,
                ),
            ),
            (
                Event::FamilyCapped {
                    component: name("hosts"),
                    unhealthy: 2,
                    live: 4,
                },
                (
                    "family_capped",
                    Some("hosts"),
                    Some("2 of 4 live keys unhealthy: the ejection cap kept it closed"),
                    None,
                ),
            ),
            (
                Event::Fleet(FleetEvent::Connected {
                    replica: "r1".to_owned(),
                }),
                ("fleet_connected", None, Some("replica r1"), None),
            ),
            (
                Event::Fleet(FleetEvent::Disconnected {
                    replica: "r1".to_owned(),
                    error: "connection refused".to_owned(),
                }),
                (
                    "fleet_disconnected",
                    None,
                    Some("replica r1"),
                    Some("connection refused".to_owned()),
                ),
            ),
            (
                Event::Fleet(FleetEvent::QuorumOpen {
                    component: name("db"),
                    open_replicas: 2,
                    live_replicas: 3,
                }),
                (
                    "fleet_quorum_open",
                    Some("db"),
                    Some("2 of 3 live replicas see it open"),
                    None,
                ),
            ),
            (
                Event::Fleet(FleetEvent::QuorumLifted {
                    component: name("db"),
                }),
                ("fleet_quorum_lifted", Some("db"), None, None),
            ),
            (
                Event::Fleet(FleetEvent::ForcedOpen {
                    component: name("db"),
                    by: "oncall".to_owned(),
                }),
                ("fleet_forced_open", Some("db"), Some("by oncall"), None),
            ),
            (
                Event::Fleet(FleetEvent::Released {
                    component: name("db"),
                    by: "oncall".to_owned(),
                }),
                ("fleet_released", Some("db"), Some("by oncall"), None),
            ),
        ];
        for (seq, (event, (kind, component, reason, error))) in (1..).zip(cases) {
            let record = Record::of(&event, seq);
            assert_eq!(record.seq, seq);
            assert_eq!(record.kind, kind, "{event:?}");
            assert_eq!(record.component.as_deref(), component, "{kind}");
            assert_eq!(record.reason.as_deref(), reason, "{kind}");
            assert_eq!(record.error, error, "{kind}");
            // Only a transition has a state change and a time on the registry's clock.
            assert_eq!(
                (record.from, record.to, record.at),
                (None, None, None),
                "{kind}"
            );
            assert_eq!(record.is_file_reload(), kind == "file_refused", "{kind}");
            assert!(record.unix_ms > 1_600_000_000_000, "{kind}");
        }
    }

    #[test]
    fn a_record_reads_as_json_with_only_what_it_has() {
        let (clock, feed) = feed(4);
        feed.push(&transition("db", clock.now()));
        feed.push(&reloaded());
        clock.advance(Duration::from_secs(90));
        let now = feed.now();
        let records = feed.recent(10);
        let json = |r: &Record| serde_json::to_value(r.view(now)).unwrap();

        let moved = json(&records[0]);
        assert_eq!(moved["kind"], "transition");
        assert_eq!(moved["from"], "closed");
        assert_eq!(moved["to"], "open");
        assert_eq!(moved["reason"], "3 consecutive failures");
        assert_eq!(moved["ago"], "1m 30s");
        assert!(moved.get("path").is_none());
        assert!(moved.get("unknown_components").is_none());

        let file = json(&records[1]);
        assert_eq!(file["kind"], "file_reloaded");
        assert_eq!(file["path"], "/etc/breakers.toml");
        assert_eq!(file["unknown_components"], serde_json::json!(["nosuch"]));
        // No time on the registry's clock: no `ago`, and no empty fields either.
        for absent in ["ago", "component", "from", "to", "reason", "error"] {
            assert!(file.get(absent).is_none(), "{absent} in {file}");
        }
        assert_eq!(file["seq"], 2);

        // A transition stamped after `now` (another clock's instant) reads as just now.
        let later = Record::of(&transition("db", now + Duration::from_secs(5)), 3);
        assert_eq!(json(&later)["ago"], "0ms");
    }

    #[test]
    fn the_ring_keeps_the_last_records_and_the_maps_the_last_of_each() {
        let (clock, feed) = feed(2);
        feed.push(&transition("db", clock.now()));
        feed.push(&reloaded());
        feed.push(&transition("cache", clock.now()));
        feed.push(&Event::ConfigReloaded { component: None });
        assert_eq!(kinds(&feed.recent(10)), ["transition", "config_reloaded"]);
        assert_eq!(feed.recent(10)[0].component.as_deref(), Some("cache"));
        assert_eq!(kinds(&feed.recent(1)), ["config_reloaded"]);
        assert!(feed.recent(0).is_empty());

        // The last transition of each component, and the last file reload, survive the ring.
        assert_eq!(feed.last_transition("db").unwrap().seq, 1);
        assert_eq!(feed.last_transition("cache").unwrap().seq, 3);
        assert!(feed.last_transition("nosuch").is_none());
        assert_eq!(feed.last_reload().unwrap().seq, 2);
        // A code reload is no file reload.
        feed.push(&Event::FileRefused {
            path: None,
            error: "bad".to_owned(),
        });
        assert_eq!(feed.last_reload().unwrap().kind, "file_refused");
        assert_eq!(feed.missed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_ring_of_none_keeps_nothing_but_the_last_transitions() {
        let (clock, feed) = feed(0);
        feed.push(&transition("db", clock.now()));
        feed.push(&reloaded());
        assert!(feed.recent(100).is_empty());
        assert_eq!(feed.last_transition("db").unwrap().seq, 1);
        assert_eq!(feed.last_reload().unwrap().seq, 2);
        assert_eq!(feed.missed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_held_reader_costs_the_hook_a_counted_miss_not_a_wait() {
        let (clock, feed) = feed(8);
        let mut events = feed.subscribe();
        {
            let _ring = feed.recent.lock();
            let _map = feed.last_transition.lock();
            let _last = feed.last_reload.lock();
            // On this thread: were the hook to wait for the locks it would deadlock here.
            feed.push(&transition("db", clock.now()));
            feed.push(&reloaded());
            feed.push(&Event::ConfigReloaded { component: None });
        }
        // The ring missed three, the map one transition and the slot one file reload.
        assert_eq!(feed.missed.load(Ordering::Relaxed), 5);
        assert!(feed.recent(10).is_empty());
        assert!(feed.last_transition("db").is_none());
        assert!(feed.last_reload().is_none());
        // The subscribers missed nothing, in order.
        let seqs: Vec<_> = (0..3).map(|_| events.try_recv().unwrap().seq).collect();
        assert_eq!(seqs, [1, 2, 3]);

        // Once the readers are gone the next records land again.
        feed.push(&transition("db", clock.now()));
        assert_eq!(feed.recent(10).len(), 1);
        assert_eq!(feed.last_transition("db").unwrap().seq, 4);
    }

    #[test]
    fn a_queue_of_zero_still_delivers_and_a_lagging_client_learns_it_lagged() {
        let clock = FakeClock::new();
        let feed = Feed::new(Arc::new(clock.clone()), 0, 4);
        let mut events = feed.subscribe();
        feed.push(&transition("db", clock.now()));
        assert_eq!(events.try_recv().unwrap().seq, 1);
        // One slot: a second record before the client reads overwrites the first.
        feed.push(&reloaded());
        feed.push(&Event::ConfigReloaded { component: None });
        assert!(matches!(
            events.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(1))
        ));
        assert_eq!(events.try_recv().unwrap().seq, 3);
        let debug = format!("{feed:?}");
        assert!(debug.contains("receivers: 1"), "{debug}");
        assert!(debug.contains("recent_cap: 4"), "{debug}");
    }
}
