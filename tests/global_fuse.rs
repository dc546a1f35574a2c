#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The derived global fuse: it opens when enough components are unhealthy, refuses calls to
//! the healthy ones, still lets the unhealthy ones probe, and closes when they recover.

use std::sync::Arc;
use std::time::Duration;

use breaker::{
    CallError, CircuitConfig, CircuitError, CircuitState, ComponentBreaker, FakeClock,
    FamilyConfig, GlobalCircuitBreaker, GlobalTripConditions, Outcome, TransitionReason, GLOBAL,
};
use breaker_suite::{fuse_at_half_of_three, trip, EventLog};

const COOLDOWN: Duration = Duration::from_secs(10);

struct Fixture {
    clock: FakeClock,
    registry: GlobalCircuitBreaker,
    log: EventLog,
}

impl Fixture {
    fn get(&self, name: &str) -> Arc<ComponentBreaker> {
        self.registry.component(name).unwrap()
    }

    fn fuse(&self) -> CircuitState {
        self.registry.global().state()
    }
}

/// A registry with the components `names`; the fuse opens at half of at least three, and a
/// component opens on its second failure (`min_calls: 2`).
fn registry(names: &[&str]) -> Fixture {
    let (clock, registry, log) = breaker_suite::registry(fuse_at_half_of_three(COOLDOWN));
    for name in names {
        registry.register(name).unwrap();
    }
    Fixture {
        clock,
        registry,
        log,
    }
}

/// Four components, `a` and `b` tripped: the fuse is open.
fn fuse_open() -> Fixture {
    let f = registry(&["a", "b", "c", "d"]);
    assert_eq!(trip(&f.get("a")), 2, "opens on its second failure");
    assert_eq!(trip(&f.get("b")), 2, "opens on its second failure");
    assert_eq!(f.fuse(), CircuitState::Open);
    f
}

fn global_open(component: &str) -> CircuitError {
    CircuitError::GlobalOpen {
        component: component.to_owned().into(),
        retry_after: COOLDOWN,
    }
}

#[test]
fn one_unhealthy_of_four_leaves_the_fuse_closed_two_open_it() {
    let f = registry(&["a", "b", "c", "d"]);
    assert_eq!(trip(&f.get("a")), 2, "opens on its second failure");
    assert_eq!(f.fuse(), CircuitState::Closed);
    assert_eq!(f.registry.snapshot().unhealthy, 1);
    assert!(f.get("c").acquire().is_allowed());

    assert_eq!(trip(&f.get("b")), 2, "opens on its second failure");
    assert_eq!(f.fuse(), CircuitState::Open);
    assert_eq!(f.registry.snapshot().unhealthy, 2);
    let opened = f
        .log
        .transitions()
        .into_iter()
        .filter(|t| t.component == GLOBAL)
        .collect::<Vec<_>>();
    assert_eq!(opened.len(), 1);
    assert_eq!(
        (opened[0].from, opened[0].to, opened[0].reason),
        (
            CircuitState::Closed,
            CircuitState::Open,
            TransitionReason::GlobalRatio {
                unhealthy: 2,
                components: 4
            }
        )
    );
}

#[test]
fn an_open_fuse_rejects_closed_components_with_global_open() {
    let f = fuse_open();
    assert_eq!(
        f.get("c").acquire().into_result().unwrap_err(),
        global_open("c")
    );
    let mut ran = false;
    let out = f.registry.call("d", || {
        ran = true;
        Ok::<(), ()>(())
    });
    assert_eq!(out, Err(CallError::Rejected(global_open("d"))));
    assert!(!ran, "a refused call must not run");
    let snap = f.registry.snapshot();
    assert_eq!(snap.component("c").unwrap().rejections.global_open, 1);
    assert_eq!(snap.component("d").unwrap().rejections.global_open, 1);
    assert_eq!(f.get("c").state(), CircuitState::Closed);
}

#[test]
fn open_components_still_reject_with_open_under_an_open_fuse() {
    let f = fuse_open();
    assert_eq!(
        f.get("a").acquire().into_result().unwrap_err(),
        CircuitError::Open {
            component: "a".into(),
            retry_after: COOLDOWN,
        }
    );
}

#[test]
fn unhealthy_components_probe_while_the_fuse_is_open_and_their_recovery_closes_it() {
    let f = fuse_open();
    f.clock.advance(COOLDOWN);
    let (a, b, c) = (f.get("a"), f.get("b"), f.get("c"));

    let probe_a = a.acquire().into_result().unwrap();
    let probe_b = b.acquire().into_result().unwrap();
    assert!(probe_a.is_probe() && probe_b.is_probe());
    // HalfOpen still counts as unhealthy: the fuse stays open for the healthy ones.
    assert_eq!(f.fuse(), CircuitState::Open);
    assert_eq!(c.acquire().into_result().unwrap_err(), global_open("c"));

    probe_a.record(Outcome::Success);
    assert_eq!(a.state(), CircuitState::Closed);
    assert_eq!(f.fuse(), CircuitState::Closed, "1 of 4 is below the ratio");
    assert_eq!(f.registry.call("c", || Ok::<u8, ()>(3)), Ok(3));
    assert!(a.acquire().is_allowed());

    probe_b.record(Outcome::Success);
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(f.registry.snapshot().unhealthy, 0);
    assert_eq!(
        f.log
            .moves()
            .into_iter()
            .filter(|m| m.0 == GLOBAL)
            .collect::<Vec<_>>(),
        [
            (GLOBAL.into(), CircuitState::Closed, CircuitState::Open),
            (GLOBAL.into(), CircuitState::Open, CircuitState::Closed)
        ]
    );
}

#[test]
fn the_fuse_stays_open_until_enough_components_have_recovered() {
    let f = registry(&["a", "b", "c", "d"]);
    // Calls to `c` already in flight when the fuse opens still report, and trip it.
    let c = f.get("c");
    let in_flight = [
        c.acquire().into_result().unwrap(),
        c.acquire().into_result().unwrap(),
    ];
    assert_eq!(trip(&f.get("a")), 2, "opens on its second failure");
    assert_eq!(trip(&f.get("b")), 2, "opens on its second failure");
    assert_eq!(f.fuse(), CircuitState::Open);
    for guard in in_flight {
        guard.record(Outcome::Failure);
    }
    assert_eq!(c.state(), CircuitState::Open);
    assert_eq!(f.registry.snapshot().unhealthy, 3);
    f.clock.advance(COOLDOWN);
    // 3 of 4 unhealthy; the fuse closes once fewer than half are.
    for (name, unhealthy, fuse) in [
        ("a", 2, CircuitState::Open),
        ("b", 1, CircuitState::Closed),
        ("c", 0, CircuitState::Closed),
    ] {
        let component = f.get(name);
        let probe = component.acquire().into_result().unwrap();
        assert!(probe.is_probe(), "{name} probes through the fuse");
        probe.record(Outcome::Success);
        assert_eq!(component.state(), CircuitState::Closed);
        assert_eq!(f.registry.snapshot().unhealthy, unhealthy);
        assert_eq!(f.fuse(), fuse, "after {name} closed");
    }
    assert_eq!(f.fuse(), CircuitState::Closed);
    assert_eq!(f.registry.call("d", || Ok::<u8, ()>(4)), Ok(4));
}

#[test]
fn below_min_components_the_fuse_stays_closed() {
    let f = registry(&["a", "b"]);
    assert_eq!(trip(&f.get("a")), 2, "opens on its second failure");
    assert_eq!(trip(&f.get("b")), 2, "opens on its second failure");
    assert_eq!(f.registry.snapshot().unhealthy, 2);
    assert_eq!(
        f.fuse(),
        CircuitState::Closed,
        "2 of 2 but fewer than 3 components"
    );
    assert!(f.log.transitions().iter().all(|t| t.component != GLOBAL));

    // A third (healthy) component meets min_components: 2 of 3 open the fuse.
    let c = f.registry.register("c").unwrap();
    assert_eq!(f.fuse(), CircuitState::Open);
    assert_eq!(c.acquire().into_result().unwrap_err(), global_open("c"));
}

#[test]
fn disabled_components_bypass_an_open_fuse() {
    let f = registry(&["a", "b", "c", "d"]);
    let d = f.get("d");
    d.disable();
    assert_eq!(trip(&f.get("a")), 2, "opens on its second failure");
    assert_eq!(trip(&f.get("b")), 2, "opens on its second failure");
    assert_eq!(f.fuse(), CircuitState::Open);
    assert_eq!(
        f.get("c").acquire().into_result().unwrap_err(),
        global_open("c")
    );
    let guard = d.acquire().into_result().unwrap();
    assert!(!guard.is_probe());
    guard.record(Outcome::Success);
    assert_eq!(f.registry.call("d", || Ok::<u8, ()>(1)), Ok(1));
}

#[test]
fn forced_open_components_do_not_count_toward_the_ratio() {
    let f = registry(&["a", "b", "c", "d"]);
    f.get("a").force_open();
    f.get("b").force_open();
    f.get("c").force_open();
    assert_eq!(f.registry.snapshot().unhealthy, 0);
    assert_eq!(f.fuse(), CircuitState::Closed);
    assert!(f.get("d").acquire().is_allowed());
}

#[test]
fn forcing_an_open_component_open_takes_it_out_of_the_ratio() {
    let f = fuse_open();
    f.get("b").force_open();
    assert_eq!(f.registry.snapshot().unhealthy, 1);
    assert_eq!(f.fuse(), CircuitState::Closed);
    assert!(f.get("c").acquire().is_allowed());
    assert!(matches!(
        f.get("b").acquire().into_result().unwrap_err(),
        CircuitError::ForcedOpen { .. }
    ));
}

#[test]
fn the_snapshot_names_the_fuse_global() {
    let f = fuse_open();
    let snap = f.registry.snapshot();
    assert_eq!(snap.global.component, "__global__");
    assert_eq!(snap.global.component, GLOBAL);
    assert_eq!(snap.global.state, CircuitState::Open);
    assert_eq!(f.registry.global().name(), "__global__");
    let names: Vec<_> = snap
        .components
        .iter()
        .map(|c| c.component.as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c", "d"], "the fuse is not a component");
}

/// A registry whose fuse needs `min_calls` calls in the windows before it opens.
fn gated(min_calls: u32) -> GlobalCircuitBreaker {
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig {
        min_calls: 2,
        open_cooldown: COOLDOWN,
        global_trip_conditions: GlobalTripConditions {
            component_open_ratio: 0.5,
            min_components: 3,
            min_calls,
        },
        ..CircuitConfig::DEFAULT
    });
    registry
}

/// Registering used to walk every component's window on each registration once
/// `global_trip_conditions.min_calls > 0` (20,000 components: 15.7 s). The fuse only sums
/// windows when the ratio holds and it could open, so healthy registrations read none.
#[test]
fn registering_twenty_thousand_components_under_a_call_minimum_reads_no_window() {
    let registry = gated(5);
    for i in 1..=20_000u64 {
        registry.register(&format!("svc-{i}")).unwrap();
        // Checked as it goes, so a quadratic walk fails within a few registrations.
        let reads = registry.fuse_window_reads();
        assert!(reads <= i, "{reads} window reads after {i} registrations");
    }
    assert_eq!(registry.fuse_window_reads(), 0);
    assert_eq!(registry.global().state(), CircuitState::Closed);
}

#[test]
fn the_call_minimum_still_gates_opening_and_summing_stops_once_it_is_met() {
    let registry = gated(6);
    let names: Vec<String> = (0..100).map(|i| format!("c{i:03}")).collect();
    for name in &names {
        registry.register(name).unwrap();
    }
    let get = |name: &str| registry.component(name).unwrap();
    // Healthy components hold 5 calls in all: below the minimum.
    for name in &names[50..55] {
        get(name)
            .acquire()
            .into_result()
            .unwrap()
            .record(Outcome::Success);
    }
    for name in &names[..50] {
        assert_eq!(trip(&get(name)), 2, "opens on its second failure");
    }
    assert_eq!(registry.snapshot().unhealthy, 50);
    assert_eq!(
        registry.global().state(),
        CircuitState::Closed,
        "ratio met, but 5 calls < min_calls 6"
    );
    // One more call, then a transition re-derives: now the fuse opens.
    get(&names[60])
        .acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    let before = registry.fuse_window_reads();
    assert_eq!(trip(&get(&names[99])), 2, "opens on its second failure");
    assert_eq!(registry.global().state(), CircuitState::Open);
    let walked = registry.fuse_window_reads() - before;
    assert!(walked <= 100, "one derivation read {walked} windows of 100");
    // Recovery: the ratio alone closes it, without reading windows.
    let before = registry.fuse_window_reads();
    for name in &names[..50] {
        get(name).reset();
    }
    assert_eq!(registry.global().state(), CircuitState::Closed);
    assert_eq!(
        registry.fuse_window_reads(),
        before,
        "closing needs no call count"
    );
}

/// A component or a keyed family that joins while the fuse refuses is held at once (it must
/// not serve while every other healthy member is refused) and serves once the fuse closes.
#[test]
fn members_that_join_while_the_fuse_is_open_are_refused_until_it_closes() {
    // Open at a quarter of six: two unhealthy, still a quarter once two more members join.
    let (_clock, registry, _log) = breaker_suite::registry(CircuitConfig {
        global_trip_conditions: GlobalTripConditions {
            component_open_ratio: 0.25,
            min_components: 3,
            min_calls: 0,
        },
        ..fuse_at_half_of_three(COOLDOWN)
    });
    let get = |name: &str| registry.component(name).unwrap();
    let fuse = || registry.global().state();
    for name in ["a", "b", "c", "d", "e", "f"] {
        registry.register(name).unwrap();
    }
    assert_eq!(trip(&get("a")), 2, "opens on its second failure");
    assert_eq!(fuse(), CircuitState::Closed, "1 of 6 unhealthy");
    assert_eq!(trip(&get("b")), 2, "opens on its second failure");
    assert_eq!(fuse(), CircuitState::Open, "2 of 6 unhealthy");
    let late = registry.register("late").unwrap();
    assert_eq!(fuse(), CircuitState::Open, "2 of 7 unhealthy");
    assert_eq!(
        late.acquire().into_result().unwrap_err(),
        global_open("late")
    );
    let hosts = registry
        .register_family_with(
            "hosts",
            FamilyConfig::DEFAULT,
            fuse_at_half_of_three(COOLDOWN),
        )
        .unwrap();
    assert_eq!(fuse(), CircuitState::Open, "2 of 8 unhealthy");
    let key = Arc::clone(hosts.key("a.example").unwrap().breaker());
    assert!(
        matches!(
            key.acquire().into_result().unwrap_err(),
            CircuitError::GlobalOpen { .. }
        ),
        "a new family's keys are held too"
    );

    for name in ["a", "b"] {
        get(name).reset();
    }
    assert_eq!(fuse(), CircuitState::Closed);
    late.acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    key.acquire()
        .into_result()
        .unwrap()
        .record(Outcome::Success);
    assert_eq!(late.snapshot().successes, 1);
    assert_eq!(key.snapshot().successes, 1);
}

/// A keyed family's calls count toward `global_trip_conditions.min_calls` like a
/// component's: the family is one member, its keys' windows its calls.
#[test]
fn a_familys_calls_count_toward_the_fuses_call_minimum() {
    let registry = gated(4);
    for name in ["a", "b", "c"] {
        registry.register(name).unwrap();
    }
    let hosts = registry
        .register_family("hosts", FamilyConfig::DEFAULT)
        .unwrap();
    let call = |key: &str| {
        hosts
            .key(key)
            .unwrap()
            .acquire()
            .into_result()
            .unwrap()
            .record(Outcome::Success);
    };
    for key in ["x", "y", "x"] {
        call(key);
    }
    let get = |name: &str| registry.component(name).unwrap();
    assert_eq!(trip(&get("a")), 2, "opens on its second failure");
    assert_eq!(trip(&get("b")), 2, "opens on its second failure");
    assert_eq!(
        registry.global().state(),
        CircuitState::Closed,
        "2 of 4 members unhealthy, but 3 calls < min_calls 4"
    );
    call("y");
    get("b").reset();
    assert_eq!(trip(&get("b")), 2, "opens on its second failure");
    assert_eq!(registry.global().state(), CircuitState::Open);
}
