#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Hooks see each transition exactly once, however many threads race to cause it; a panicking
//! hook harms neither the breaker nor the other hooks; generations count transitions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use breaker::{
    CircuitConfig, CircuitState, ComponentBreaker, FakeClock, GlobalCircuitBreaker, Outcome,
    Permit, Transition,
};
use breaker_suite::EventLog;

const THREADS: usize = 8;
const COOLDOWN: Duration = Duration::from_secs(10);
const ROUNDS: usize = 20;

struct Fixture {
    clock: FakeClock,
    registry: GlobalCircuitBreaker,
    b: Arc<ComponentBreaker>,
    log: EventLog,
}

fn fixture() -> Fixture {
    fixture_with(&["db"])
}

/// `names[0]` is the fixture's `b`; the fuse opens at half of at least three components.
fn fixture_with(names: &[&str]) -> Fixture {
    let clock = FakeClock::new();
    let log = EventLog::default();
    let registry = GlobalCircuitBreaker::builder()
        .config(CircuitConfig {
            min_calls: 20,
            open_cooldown: COOLDOWN,
            half_open_max_concurrent: 3,
            half_open_required_successes: 3,
            ..CircuitConfig::DEFAULT
        })
        .clock(clock.clone())
        .on_event(log.hook())
        .build()
        .unwrap();
    for name in names {
        registry.register(name).unwrap();
    }
    let b = registry.component(names[0]).unwrap();
    Fixture {
        clock,
        registry,
        b,
        log,
    }
}

/// This component's state changes, as `(from, to)`.
fn moves(log: &EventLog) -> Vec<(CircuitState, CircuitState)> {
    log.moves()
        .into_iter()
        .filter(|m| m.0 == "db")
        .map(|m| (m.1, m.2))
        .collect()
}

/// Calls with `outcome` until `done` holds (bounded, so a bug fails instead of hanging).
fn hammer(b: &ComponentBreaker, outcome: Outcome, done: impl Fn(&ComponentBreaker) -> bool) {
    for _ in 0..100_000 {
        if done(b) {
            return;
        }
        if let Permit::Allowed(guard) = b.acquire() {
            guard.record(outcome);
        }
    }
    panic!("gave up waiting; state {:?}", b.state());
}

fn counter() -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let c = Arc::new(AtomicUsize::new(0));
    (Arc::clone(&c), c)
}

#[test]
fn racing_failures_fire_exactly_one_open_event() {
    for _ in 0..ROUNDS {
        let f = fixture();
        let is_open = |t: &Transition| {
            t.component == "db" && t.from == CircuitState::Closed && t.to == CircuitState::Open
        };
        let (by_state_hook, state_count) = counter();
        f.registry.on_state_change(move |t| {
            if is_open(t) {
                by_state_hook.fetch_add(1, Ordering::SeqCst);
            }
        });
        let (by_event_hook, event_count) = counter();
        f.registry.on_event(move |e| {
            if matches!(e, breaker::Event::StateChanged(t) if is_open(t)) {
                by_event_hook.fetch_add(1, Ordering::SeqCst);
            }
        });

        let start = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    start.wait();
                    hammer(&f.b, Outcome::Failure, |b| {
                        b.state() != CircuitState::Closed
                    });
                });
            }
        });

        assert_eq!(f.b.state(), CircuitState::Open);
        assert_eq!(state_count.load(Ordering::SeqCst), 1);
        assert_eq!(event_count.load(Ordering::SeqCst), 1);
        assert_eq!(moves(&f.log), [(CircuitState::Closed, CircuitState::Open)]);
    }
}

#[test]
fn a_panicking_hook_does_not_poison_the_breaker_or_stop_other_hooks() {
    let f = fixture();
    let (panicked, panics) = counter();
    f.registry.on_event(move |_| {
        panicked.fetch_add(1, Ordering::SeqCst);
        panic!("a broken hook");
    });
    let after = EventLog::attach(&f.registry);

    hammer(&f.b, Outcome::Failure, |b| b.state() == CircuitState::Open);
    f.clock.advance(COOLDOWN);
    hammer(&f.b, Outcome::Success, |b| {
        b.state() == CircuitState::Closed
    });

    let cycle = [
        (CircuitState::Closed, CircuitState::Open),
        (CircuitState::Open, CircuitState::HalfOpen),
        (CircuitState::HalfOpen, CircuitState::Closed),
    ];
    // Hooks registered before and after the panicking one both saw every transition.
    assert_eq!(moves(&f.log), cycle);
    assert_eq!(moves(&after), cycle);
    assert_eq!(panics.load(Ordering::SeqCst), 3);
    // And the breaker still works.
    assert_eq!(f.b.call(|| Ok::<u8, ()>(1)), Ok(1));
    f.b.force_open();
    assert_eq!(f.b.state(), CircuitState::ForcedOpen);
}

#[test]
fn a_full_cycle_driven_from_eight_threads_emits_one_event_per_transition() {
    for _ in 0..ROUNDS {
        let f = fixture();
        let (seen, state_changes) = counter();
        f.registry.on_state_change(move |t| {
            if t.component == "db" {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });

        let phase = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                s.spawn(|| {
                    phase.wait();
                    hammer(&f.b, Outcome::Failure, |b| b.state() == CircuitState::Open);
                    if phase.wait().is_leader() {
                        f.clock.advance(COOLDOWN);
                    }
                    phase.wait();
                    hammer(&f.b, Outcome::Success, |b| {
                        b.state() == CircuitState::Closed
                    });
                });
            }
        });

        // Hooks run outside the transition lock, on the thread that made the transition, so
        // two transitions made back to back on different threads may be delivered in either
        // order; the generation says which came first.
        let mut seen: Vec<_> = f
            .log
            .transitions()
            .into_iter()
            .map(|t| (t.generation, t.from, t.to))
            .collect();
        seen.sort_unstable_by_key(|t| t.0);
        assert_eq!(
            seen,
            [
                (1, CircuitState::Closed, CircuitState::Open),
                (2, CircuitState::Open, CircuitState::HalfOpen),
                (3, CircuitState::HalfOpen, CircuitState::Closed),
            ]
        );
        assert_eq!(state_changes.load(Ordering::SeqCst), 3);
        assert_eq!(f.b.snapshot().generation, 3);
    }
}

#[test]
fn the_generation_grows_by_one_per_transition() {
    let f = fixture();
    assert_eq!(f.b.snapshot().generation, 0);
    f.b.force_open();
    f.b.reset();
    f.b.disable();
    f.b.reset();
    f.b.reset(); // Closed -> Closed is a transition too.
    hammer(&f.b, Outcome::Failure, |b| b.state() == CircuitState::Open);
    f.clock.advance(COOLDOWN);
    hammer(&f.b, Outcome::Success, |b| {
        b.state() == CircuitState::Closed
    });

    let transitions: Vec<_> = f
        .log
        .transitions()
        .into_iter()
        .filter(|t| t.component == "db")
        .collect();
    assert_eq!(transitions.len(), 8);
    for (i, t) in transitions.iter().enumerate() {
        assert_eq!(t.generation, i as u64 + 1, "transition {i}: {t:?}");
    }
    assert_eq!(f.b.snapshot().generation, 8);
}

#[test]
fn components_tripping_and_recovering_together_move_the_fuse_once_each_way() {
    for _ in 0..ROUNDS {
        let f = fixture_with(&["a", "b", "c", "d"]);
        let (a, b) = (
            f.registry.component("a").unwrap(),
            f.registry.component("b").unwrap(),
        );
        let phase = Barrier::new(THREADS);
        std::thread::scope(|s| {
            for i in 0..THREADS {
                let (a, b, phase, f) = (&a, &b, &phase, &f);
                s.spawn(move || {
                    let mine = if i % 2 == 0 { a } else { b };
                    phase.wait();
                    hammer(mine, Outcome::Failure, |c| c.state() == CircuitState::Open);
                    if phase.wait().is_leader() {
                        f.clock.advance(COOLDOWN);
                    }
                    phase.wait();
                    hammer(mine, Outcome::Success, |c| {
                        c.state() == CircuitState::Closed
                    });
                });
            }
        });

        let fuse: Vec<_> = f
            .log
            .transitions()
            .into_iter()
            .filter(|t| t.component == breaker::GLOBAL)
            .collect();
        let moves: Vec<_> = fuse.iter().map(|t| (t.from, t.to, t.generation)).collect();
        assert_eq!(
            moves,
            [
                (CircuitState::Closed, CircuitState::Open, 1),
                (CircuitState::Open, CircuitState::Closed, 2),
            ]
        );
        for name in ["a", "b"] {
            let component: Vec<_> = f.log.moves().into_iter().filter(|m| m.0 == name).collect();
            assert_eq!(component.len(), 3, "{name}: {component:?}");
        }
        assert_eq!(f.registry.global().state(), CircuitState::Closed);
    }
}
