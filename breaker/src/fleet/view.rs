//! What this replica knows of the others, and the verdicts it draws: pure state, no I/O, so
//! membership and quorum are tested on a bare clock value.
//!
//! Membership is judged on the *reader's* clock: a replica is live while its heartbeat
//! sequence keeps changing within `replica_ttl`, as observed here. No timestamp written by
//! another machine is compared with this one's clock. A replica seen for the first time
//! counts as live from that moment (a replica that starts during an outage must count the
//! reports it finds); one whose sequence then stands still drops out after `replica_ttl`, and
//! its fields are deleted once it has stood still for [`GC_AFTER_TTLS`] times that.

use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::engine::clock::nanos;

use super::wire::{Force, Report};

/// A replica whose heartbeat has stood still this many `replica_ttl`s is deleted from Redis
/// by whoever sees it (long after it stopped counting, so a slow replica is not erased).
pub(crate) const GC_AFTER_TTLS: u32 = 6;

/// The most replicas one component's hash is read for; more are ignored (and counted).
pub(crate) const MAX_REPLICAS: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Member {
    seq: u64,
    /// When `seq` last changed, on this replica's clock (ns).
    changed_at: u64,
}

/// The quorum rule's inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Quorum {
    pub(crate) min_open_replicas: u32,
    pub(crate) open_replica_ratio: f32,
    pub(crate) replica_ttl: Duration,
    pub(crate) stale_after: Duration,
    pub(crate) sync_interval: Duration,
}

impl Quorum {
    /// The open reports needed among `live` replicas.
    pub(crate) fn needed(&self, live: u32) -> u32 {
        let by_ratio = (f64::from(self.open_replica_ratio) * f64::from(live)).ceil();
        // In [0, live] because the ratio is in [0, 1].
        let by_ratio = by_ratio as u32;
        self.min_open_replicas.max(by_ratio)
    }
}

/// A quorum verdict on one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count {
    pub(crate) open: u32,
    pub(crate) live: u32,
    pub(crate) retry_after: Duration,
}

/// The fleet as this replica last saw it.
#[derive(Debug, Default)]
pub(crate) struct View {
    members: FxHashMap<String, Member>,
    /// Component -> replica -> its latest report.
    reports: FxHashMap<String, FxHashMap<String, Report>>,
    /// Component -> the operator's latest force.
    forces: FxHashMap<String, Force>,
    /// The last full read of the fleet, on this replica's clock.
    fresh_at: Option<u64>,
}

impl View {
    /// `replica` published `seq`: it is live from now if that is news.
    fn heartbeat(&mut self, replica: &str, seq: u64, now: u64) {
        match self.members.get_mut(replica) {
            Some(m) if m.seq == seq => {}
            Some(m) => {
                m.seq = seq;
                m.changed_at = now;
            }
            None => {
                self.members.insert(
                    replica.to_owned(),
                    Member {
                        seq,
                        changed_at: now,
                    },
                );
            }
        }
    }

    /// A report from a notice: applied unless an equal or newer one is known (notices and
    /// full reads may arrive in either order).
    pub(crate) fn notice(&mut self, component: &str, replica: &str, report: Report, now: u64) {
        let known = self.reports.get(component).and_then(|r| r.get(replica));
        if known.is_some_and(|r| r.seq >= report.seq) {
            return;
        }
        self.heartbeat(replica, report.seq, now);
        self.reports
            .entry(component.to_owned())
            .or_default()
            .insert(replica.to_owned(), report);
    }

    /// A full read of `component`'s hash: it replaces what was known of it.
    pub(crate) fn full_read(
        &mut self,
        component: &str,
        reports: Vec<(String, Report)>,
        force: Option<Force>,
        now: u64,
    ) {
        let mut fresh = FxHashMap::default();
        for (replica, report) in reports {
            self.heartbeat(&replica, report.seq, now);
            fresh.insert(replica, report);
        }
        self.reports.insert(component.to_owned(), fresh);
        match force {
            Some(force) => {
                self.forces.insert(component.to_owned(), force);
            }
            None => {
                self.forces.remove(component);
            }
        }
    }

    /// An operator's force from a notice.
    pub(crate) fn force(&mut self, component: &str, force: Force) {
        self.forces.insert(component.to_owned(), force);
    }

    pub(crate) fn forced(&self, component: &str) -> Option<&Force> {
        self.forces.get(component)
    }

    /// Every full read of the fleet succeeded at `now`.
    pub(crate) fn refreshed(&mut self, now: u64) {
        self.fresh_at = Some(now);
    }

    /// Whether the verdicts may refuse: the fleet was read in full within `stale_after`.
    pub(crate) fn is_fresh(&self, now: u64, quorum: &Quorum) -> bool {
        self.fresh_at
            .is_some_and(|at| now.saturating_sub(at) <= nanos(quorum.stale_after))
    }

    fn is_live(&self, replica: &str, now: u64, ttl: Duration) -> bool {
        self.members
            .get(replica)
            .is_some_and(|m| now.saturating_sub(m.changed_at) < nanos(ttl))
    }

    /// Live replicas other than this one, over every component read.
    pub(crate) fn live_others(&self, me: &str, now: u64, ttl: Duration) -> usize {
        self.members
            .keys()
            .filter(|r| r.as_str() != me && self.is_live(r, now, ttl))
            .count()
    }

    /// The count on `component`: this replica (open or not) plus every live other. `None`
    /// while stale: an old verdict refuses nothing.
    pub(crate) fn count(
        &self,
        component: &str,
        me: &str,
        own_open: bool,
        now: u64,
        quorum: &Quorum,
    ) -> Option<Count> {
        if !self.is_fresh(now, quorum) {
            return None;
        }
        let mut count = Count {
            open: u32::from(own_open),
            live: 1,
            retry_after: Duration::MAX,
        };
        if let Some(reports) = self.reports.get(component) {
            for (replica, report) in reports {
                if replica == me || !self.is_live(replica, now, quorum.replica_ttl) {
                    continue;
                }
                count.live = count.live.saturating_add(1);
                if report.is_open() {
                    count.open = count.open.saturating_add(1);
                    let left = Duration::from_millis(report.open_for_ms.unwrap_or(0));
                    count.retry_after = count.retry_after.min(left);
                }
            }
        }
        count.retry_after = count.retry_after.max(quorum.sync_interval);
        Some(count)
    }

    /// Whether the count on `component` reaches the quorum.
    pub(crate) fn verdict(
        &self,
        component: &str,
        me: &str,
        own_open: bool,
        now: u64,
        quorum: &Quorum,
    ) -> Option<Count> {
        self.count(component, me, own_open, now, quorum)
            .filter(|c| c.open >= quorum.needed(c.live))
    }

    /// Replicas whose heartbeat has stood still for [`GC_AFTER_TTLS`] `replica_ttl`s: their
    /// fields are to be deleted. Forgotten here at once.
    pub(crate) fn collect_garbage(&mut self, now: u64, ttl: Duration) -> Vec<(String, String)> {
        let limit = nanos(ttl).saturating_mul(u64::from(GC_AFTER_TTLS));
        let dead: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| now.saturating_sub(m.changed_at) >= limit)
            .map(|(r, _)| r.clone())
            .collect();
        let mut fields = Vec::new();
        for replica in &dead {
            self.members.remove(replica);
            for (component, reports) in &mut self.reports {
                if reports.remove(replica).is_some() {
                    fields.push((component.clone(), replica.clone()));
                }
            }
        }
        fields
    }
}

#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CircuitState;
    use crate::fleet::wire::SCHEMA_VERSION;

    const S: u64 = 1_000_000_000;

    fn quorum() -> Quorum {
        Quorum {
            min_open_replicas: 2,
            open_replica_ratio: 0.5,
            replica_ttl: Duration::from_secs(5),
            stale_after: Duration::from_secs(10),
            sync_interval: Duration::from_secs(1),
        }
    }

    fn report(seq: u64, state: CircuitState) -> Report {
        Report {
            v: SCHEMA_VERSION,
            seq,
            state,
            since_ms: 0,
            generation: 1,
            open_for_ms: Some(20_000),
            rate: 1.0,
            calls: 20,
            keys: Vec::new(),
        }
    }

    #[test]
    fn the_quorum_is_the_larger_of_the_count_and_the_ratio() {
        let q = quorum();
        assert_eq!(q.needed(1), 2);
        assert_eq!(q.needed(3), 2);
        assert_eq!(q.needed(5), 3);
        assert_eq!(q.needed(10), 5);
    }

    #[test]
    fn one_open_replica_alone_opens_nobody() {
        let q = quorum();
        let mut view = View::default();
        view.full_read(
            "db",
            vec![
                ("a".into(), report(1, CircuitState::Open)),
                ("b".into(), report(1, CircuitState::Closed)),
            ],
            None,
            0,
        );
        view.refreshed(0);
        assert_eq!(view.verdict("db", "c", false, 0, &q), None);
        // Its own open report makes two.
        let c = view.verdict("db", "c", true, 0, &q).unwrap();
        assert_eq!((c.open, c.live), (2, 3));
        assert_eq!(c.retry_after, Duration::from_secs(20));
    }

    #[test]
    fn membership_follows_the_readers_clock() {
        let q = quorum();
        let mut view = View::default();
        let both_open = |seq| {
            vec![
                ("a".into(), report(seq, CircuitState::Open)),
                ("b".into(), report(seq, CircuitState::Open)),
            ]
        };
        view.full_read("db", both_open(1), None, 0);
        view.refreshed(0);
        assert!(view.verdict("db", "c", false, 4 * S, &q).is_some());
        // b's heartbeat goes on, a's stands still: at 5s a no longer counts.
        view.full_read(
            "db",
            vec![
                ("a".into(), report(1, CircuitState::Open)),
                ("b".into(), report(2, CircuitState::Open)),
            ],
            None,
            4 * S,
        );
        view.refreshed(5 * S);
        assert_eq!(view.live_others("c", 5 * S, q.replica_ttl), 1);
        assert_eq!(view.verdict("db", "c", false, 5 * S, &q), None);
        // Garbage after six ttls of silence, and only then.
        assert!(view.collect_garbage(29 * S, q.replica_ttl).is_empty());
        assert_eq!(
            view.collect_garbage(30 * S, q.replica_ttl),
            [("db".to_owned(), "a".to_owned())]
        );
    }

    #[test]
    fn a_stale_view_refuses_nothing_and_old_notices_are_ignored() {
        let q = quorum();
        let mut view = View::default();
        view.notice("db", "a", report(5, CircuitState::Open), 0);
        view.notice("db", "b", report(5, CircuitState::Open), 0);
        assert_eq!(
            view.verdict("db", "c", false, 0, &q),
            None,
            "never read in full"
        );
        view.refreshed(0);
        assert!(view.verdict("db", "c", false, 0, &q).is_some());
        view.notice("db", "a", report(4, CircuitState::Closed), 0);
        assert!(
            view.verdict("db", "c", false, 0, &q).is_some(),
            "older notice"
        );
        assert_eq!(
            view.verdict("db", "c", false, 10 * S + 1, &q),
            None,
            "stale"
        );
    }
}
