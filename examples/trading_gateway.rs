//! A scripted outage and recovery of three exchange adapters, on a simulated clock so it runs
//! in milliseconds: one adapter fails and trips its own breaker, recovers through half-open
//! probes, then a wider outage trips the derived global fuse until the adapters recover.
//!
//! Run it with `cargo run --example trading_gateway`.

use std::time::Duration;

use breaker::{
    Breaker, CircuitConfig, Event, FakeClock, GlobalCircuitBreaker, GlobalTripConditions, Outcome,
    Permit,
};

const COMPONENTS: [&str; 3] = ["binance_ws", "binance_rest", "kraken_rest"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = FakeClock::new();
    let start = clock.clone();
    let registry = GlobalCircuitBreaker::builder()
        .config(CircuitConfig {
            min_calls: 10,
            open_cooldown: Duration::from_secs(5),
            half_open_max_concurrent: 2,
            half_open_required_successes: 2,
            global_trip_conditions: GlobalTripConditions {
                component_open_ratio: 0.6,
                min_components: 3,
                min_calls: 0,
            },
            ..CircuitConfig::DEFAULT
        })
        .clock(clock.clone())
        .on_event(move |event| {
            if let Event::StateChanged(t) = event {
                println!(
                    "  t={:>5.1}s  {:<13} {:>9} -> {:<9} ({})",
                    start.elapsed().as_secs_f64(),
                    t.component,
                    t.from,
                    t.to,
                    t.reason
                );
            }
        })
        .build()?;
    for name in COMPONENTS {
        registry.register(name)?;
    }

    println!("phase 1: all healthy");
    traffic(&registry, &clock, 20, |_| true);

    println!("phase 2: binance_rest starts failing");
    traffic(&registry, &clock, 20, |c| c != "binance_rest");

    println!("phase 3: binance_rest recovers; its breaker probes and closes");
    clock.advance(Duration::from_secs(5));
    traffic(&registry, &clock, 10, |_| true);

    println!("phase 4: a network partition takes out both Binance adapters");
    traffic(&registry, &clock, 60, |c| c == "kraken_rest");

    println!("phase 5: the partition heals");
    clock.advance(Duration::from_secs(10));
    traffic(&registry, &clock, 10, |_| true);

    println!();
    table(&registry);
    Ok(())
}

/// `rounds` calls to every component, 100 ms apart; `healthy` decides each call's outcome.
fn traffic(
    registry: &GlobalCircuitBreaker,
    clock: &FakeClock,
    rounds: u32,
    healthy: impl Fn(&str) -> bool,
) {
    for _ in 0..rounds {
        for name in COMPONENTS {
            match registry.acquire(name) {
                Permit::Allowed(guard) => {
                    guard.record(if healthy(name) {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    });
                }
                Permit::Rejected(_) => {}
            }
        }
        clock.advance(Duration::from_millis(100));
    }
}

fn table(registry: &GlobalCircuitBreaker) {
    let snapshot = registry.snapshot();
    println!(
        "{:<13} {:<10} {:>6} {:>9} {:>9} {:>11}",
        "component", "state", "calls", "failures", "rejected", "transitions"
    );
    for c in snapshot.components.iter().chain([&snapshot.global]) {
        println!(
            "{:<13} {:<10} {:>6} {:>9} {:>9} {:>11}",
            c.component,
            c.state.as_str(),
            c.calls,
            c.failures,
            c.rejections.total(),
            c.generation
        );
    }
}
