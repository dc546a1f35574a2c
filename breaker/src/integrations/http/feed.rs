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
