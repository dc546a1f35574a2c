#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The corners the behaviour suites do not reach: formatting (`Debug`, `Display` of every
//! reason and error), accessors, the `tracing` events on refusals and trip checks, the global
//! fuse's own breaker refusing calls, file-layer errors, the tower layer's accessors and
//! `Debug`, and a manifest handle built at run time.

use std::io;
use std::time::Duration;

use breaker::layer::{CircuitBreaker, CircuitBreakerLayer, ErrorsAsFailures};
use breaker::{
    CallError, CircuitConfig, CircuitError, CircuitState, ComponentBreaker, Event, Exponential,
    FakeClock, GlobalCircuitBreaker, GlobalTripConditions, Outcome, Permit, RegistryError, Sliding,
    TransitionReason, WindowStrategy,
};
use breaker_suite::EventLog;
use futures::executor::block_on;
use http::{Response, StatusCode};
use tower::{service_fn, Layer, Service, ServiceExt};

fn registry_with(config: CircuitConfig) -> (FakeClock, GlobalCircuitBreaker, EventLog) {
    let clock = FakeClock::new();
    let log = EventLog::default();
    let registry = GlobalCircuitBreaker::builder()
        .config(config)
        .clock(clock.clone())
        .on_event(log.hook())
        .build()
        .unwrap();
    (clock, registry, log)
}

fn trips_at_two() -> CircuitConfig {
    CircuitConfig {
        min_calls: 2,
        half_open_max_concurrent: 1,
        half_open_required_successes: 1,
        global_trip_conditions: GlobalTripConditions {
            component_open_ratio: 0.5,
            min_components: 1,
            min_calls: 0,
        },
        ..CircuitConfig::DEFAULT
    }
}

/// The same, with the fuse out of the way (it needs three components).
fn trips_at_two_alone() -> CircuitConfig {
    CircuitConfig {
        global_trip_conditions: GlobalTripConditions::DEFAULT,
        ..trips_at_two()
    }
}

fn trip(b: &ComponentBreaker) {
    for _ in 0..2 {
        b.acquire().into_result().unwrap().record(Outcome::Failure);
    }
    assert_eq!(b.state(), CircuitState::Open);
}

#[test]
fn debug_output_names_what_matters() {
    let (clock, registry, _log) = registry_with(trips_at_two());
    let b = registry.register("dbg").unwrap();
    b.acquire().into_result().unwrap().record(Outcome::Success);
    let clock_dbg = format!("{clock:?}");
    assert!(clock_dbg.contains("FakeClock") && clock_dbg.contains("elapsed"));
    let b_dbg = format!("{b:?}");
    assert!(b_dbg.contains("dbg") && b_dbg.contains("Window") && b_dbg.contains("stripes"));
    let r_dbg = format!("{registry:?}");
    assert!(r_dbg.contains("components: 1") && r_dbg.contains("Fuse"));
    let builder = GlobalCircuitBreaker::builder().on_event(|_| {});
    assert!(format!("{builder:?}").contains("hooks: 1"));
    assert_eq!(format!("{:?}", FakeClock::default().elapsed()), "0ns");
    let _ = registry.clock().now();
}

#[test]
fn every_state_and_reason_displays() {
    for state in CircuitState::ALL {
        assert_eq!(state.to_string(), state.as_str());
    }
    let reasons = [
        (
            TransitionReason::ErrorRate {
                rate: 0.5,
                threshold: 0.5,
                calls: 10,
            },
            "error rate 0.5 >= 0.5 over 10 calls",
        ),
        (
            TransitionReason::SlowCallRate {
                rate: 1.0,
                threshold: 0.8,
                calls: 5,
            },
            "slow-call rate 1 >= 0.8 over 5 calls",
        ),
        (
            TransitionReason::ConsecutiveFailures { count: 3 },
            "3 consecutive failures",
        ),
        (TransitionReason::CooldownElapsed, "cooldown elapsed"),
        (
            TransitionReason::ProbesSucceeded { successes: 2 },
            "2 probe(s) succeeded",
        ),
        (
            TransitionReason::ProbesFailed { failures: 1 },
            "1 probe(s) failed",
        ),
        (
            TransitionReason::HalfOpenTimeout,
            "half-open episode timed out",
        ),
        (TransitionReason::ForcedOpen, "forced open"),
        (TransitionReason::Disabled, "disabled"),
        (TransitionReason::Reset, "reset"),
        (
            TransitionReason::GlobalRatio {
                unhealthy: 2,
                components: 4,
            },
            "2 of 4 components unhealthy",
        ),
    ];
    for (reason, text) in reasons {
        assert_eq!(reason.to_string(), text);
    }
}

#[test]
fn every_rejection_has_a_reason_label_and_converts_to_io() {
    let errors = [
        (
            CircuitError::Open {
                component: "a".into(),
                retry_after: Duration::from_millis(1500),
            },
            "open",
        ),
        (
            CircuitError::HalfOpenExhausted {
                component: "a".into(),
            },
            "half_open_exhausted",
        ),
        (
            CircuitError::GlobalOpen {
                component: "a".into(),
                retry_after: Duration::ZERO,
            },
            "global_open",
        ),
        (
            CircuitError::ForcedOpen {
                component: "a".into(),
            },
            "forced_open",
        ),
        (
            CircuitError::ComponentMissing {
                component: "a".into(),
            },
            "component_missing",
        ),
    ];
    for (error, label) in errors {
        assert_eq!(error.reason(), label);
        assert_eq!(error.component(), "a");
        let text = error.to_string();
        assert!(text.contains('a'), "{text}");
        let expected = if label == "component_missing" {
            io::ErrorKind::NotFound
        } else {
            io::ErrorKind::ConnectionRefused
        };
        assert_eq!(io::Error::from(error).kind(), expected);
    }
    // Sub-millisecond hints read as 0s.
    let soon = CircuitError::Open {
        component: "a".into(),
        retry_after: Duration::from_micros(10),
    };
    assert!(soon.to_string().ends_with("0s"), "{soon}");

    let inner: CallError<&str> = CallError::Inner("boom");
    assert_eq!(inner.rejection(), None);
    assert_eq!(inner.to_string(), "boom");
    assert_eq!(inner.into_inner(), Some("boom"));
    let refused: CallError<&str> = CallError::Rejected(CircuitError::HalfOpenExhausted {
        component: "a".into(),
    });
    assert!(refused.rejection().is_some());
    assert_eq!(refused.into_inner(), None);
}

/// The fuse's own breaker refuses calls while it is open (its state is derived, so it has no
/// cooldown and no probes).
#[test]
fn the_global_fuse_refuses_its_own_calls_while_open() {
    let (_clock, registry, _log) = registry_with(trips_at_two());
    let b = registry.register("only").unwrap();
    let fuse = registry.global();
    let g = fuse.acquire().into_result().unwrap();
    g.record(Outcome::Failure);
    assert_eq!(
        fuse.state(),
        CircuitState::Closed,
        "calls never drive the fuse"
    );
    trip(&b);
    assert_eq!(fuse.state(), CircuitState::Open);
    assert!(matches!(
        fuse.acquire().into_result().unwrap_err(),
        CircuitError::GlobalOpen { .. }
    ));
    assert_eq!(fuse.retry_after(), None);
}

#[test]
fn names_longer_than_128_bytes_are_refused() {
    let (_clock, registry, _log) = registry_with(CircuitConfig::DEFAULT);
    let long = "n".repeat(129);
    assert!(matches!(
        registry.register(&long).unwrap_err(),
        RegistryError::InvalidName { .. }
    ));
    assert!(registry.register(&"n".repeat(128)).is_ok());
}

#[test]
fn weighting_strategies_at_their_edges() {
    assert_eq!(Sliding.weight(9, 0.0), 1.0);
    assert_eq!(Exponential.weight(0, 0.0), 1.0);
    assert_eq!(Exponential.weight(1, 0.0), 0.0);
    assert_eq!(Exponential.weight(2, 2.0), 0.5);
}

#[test]
fn optional_durations_in_files() {
    let parse = |v: &str| toml::from_str::<CircuitConfig>(&format!("half_open_max_wait = {v}"));
    assert_eq!(parse("false").unwrap().half_open_max_wait, None);
    assert_eq!(parse("\"Never\"").unwrap().half_open_max_wait, None);
    assert_eq!(parse("\" disabled \"").unwrap().half_open_max_wait, None);
    assert_eq!(
        parse("\"90s\"").unwrap().half_open_max_wait,
        Some(Duration::from_secs(90))
    );
    let flag = parse("true").unwrap_err().to_string();
    assert!(flag.contains("or \"off\""), "{flag}");
    let typo = parse("\"5 parsecs\"").unwrap_err().to_string();
    assert!(typo.contains("invalid duration"), "{typo}");
    // And they serialise back as written.
    let off = toml::to_string(&CircuitConfig {
        half_open_max_wait: None,
        ..CircuitConfig::DEFAULT
    })
    .unwrap();
    assert!(off.contains("half_open_max_wait = \"off\""), "{off}");
}

#[test]
fn file_errors_and_reports() {
    let (_clock, registry, log) = registry_with(CircuitConfig::DEFAULT);
    registry.register("known").unwrap();

    // A missing file: an I/O error, with no line and no rule.
    let missing = registry
        .reload_from_path("/nonexistent/breaker/config.toml")
        .unwrap_err();
    assert_eq!(missing.line(), None);
    assert!(missing.config_error().is_none());
    assert!(missing.to_string().contains("config.toml"));

    // A parse error has a line, but no rule.
    let parse = registry.reload_from_str("[defaults\n").unwrap_err();
    assert!(parse.line().is_some());
    assert!(parse.config_error().is_none());

    // A rule broken in [global]: located in that section.
    let global = registry
        .reload_from_str("[global]\ncomponent_open_ratio = 1.5\n")
        .unwrap_err();
    assert_eq!(global.line(), Some(2));
    assert_eq!(
        global.config_error().unwrap().field(),
        "global_trip_conditions.component_open_ratio"
    );

    // [defaults] may carry the fuse's table too; [global] extends it.
    let report = registry
        .reload_from_str(
            "[defaults.global_trip_conditions]\nmin_components = 2\n\n[global]\ncomponent_open_ratio = 0.25\n",
        )
        .unwrap();
    assert_eq!(
        report.to_string(),
        "every [components.*] section names a registered component"
    );
    let g = registry.config().global_trip_conditions;
    assert_eq!((g.min_components, g.component_open_ratio), (2, 0.25));

    let report = registry
        .reload_from_str("[components.unknown_one]\nmin_calls = 3\n")
        .unwrap();
    assert_eq!(
        report.to_string(),
        "sections for unregistered components: unknown_one"
    );
    assert!(log
        .events()
        .iter()
        .any(|e| matches!(e, Event::FileRefused { .. })));
}

/// A file section that cannot be layered over a component's own config: the component still
/// registers (on the defaults) and the refusal is announced.
#[test]
fn a_component_whose_layers_break_a_rule_starts_on_the_defaults() {
    let (_clock, registry, log) = registry_with(CircuitConfig::DEFAULT);
    registry
        .reload_from_str("[components.late]\nhalf_open_required_successes = 3\n")
        .unwrap();
    let late = declared_late::breakers::late.in_registry(&registry);
    assert!(late.config().validate().is_ok());
    assert!(
        log.events().iter().any(|e| matches!(
            e,
            Event::ConfigRefused {
                component: Some(c),
                ..
            } if c == "late"
        )),
        "{:?}",
        log.events()
    );
}

#[test]
fn a_handle_built_at_run_time() {
    let handle = &runtime::breakers::runtime_handle;
    assert_eq!(handle.name(), "runtime_handle");
    assert_eq!(handle.declared_fields(), ["min_calls"]);
    assert_eq!(handle.declared_config().map(|c| c.min_calls), Some(7));
    let (_clock, registry, _log) = registry_with(CircuitConfig::DEFAULT);
    runtime::breakers::declare(&registry).unwrap();
    let b = handle.in_registry(&registry);
    assert_eq!(b.name(), "runtime_handle");
    assert!(format!("{handle:?}").contains("runtime_handle"));
}

mod runtime {
    breaker::breakers! { runtime_handle { min_calls: 7 } }
}

mod declared_late {
    breaker::breakers! {
        late { half_open_max_concurrent: 1, half_open_required_successes: 1 },
    }
}

mod layered {
    breaker::breakers! { layer_handle }
}

#[test]
fn the_tower_layer_exposes_its_service_and_formats() {
    let (_clock, registry, _log) = registry_with(trips_at_two_alone());
    let layer = CircuitBreakerLayer::for_component(&registry, "svc")
        .unwrap()
        .classify(ErrorsAsFailures);
    assert!(format!("{layer:?}").contains("svc"));
    let inner = service_fn(|n: u32| async move {
        if n == 0 {
            Err(io::Error::other("zero"))
        } else {
            Ok(n)
        }
    });
    let mut svc: CircuitBreaker<_, _, _> = layer.layer(inner);
    let _ = svc.get_ref();
    block_on(async {
        let svc = svc.ready().await.unwrap();
        let fut = svc.call(7);
        assert!(format!("{fut:?}").contains("guard"));
        assert_eq!(fut.await.unwrap(), 7);
        // One failure of two calls: 0.5, the threshold.
        assert!(matches!(svc.call(0).await, Err(CallError::Inner(_))));
        let refused = svc.call(1);
        assert!(format!("{refused:?}").contains("rejected"));
        assert!(matches!(refused.await, Err(CallError::Rejected(_))));
    });
    assert!(format!("{svc:?}").contains("svc"));
    let _inner = svc.into_inner();
}

#[test]
fn http_refusals_and_inner_errors() {
    let (_clock, registry, _log) = registry_with(trips_at_two_alone());
    // The default HTTP answer passes the inner service's own errors through.
    // HTTP mode reads the request's `Accept`, so its requests are `http::Request`s.
    let failing = service_fn(|_: http::Request<()>| async {
        Err::<Response<String>, _>(io::Error::other("down"))
    });
    let mut svc = CircuitBreakerLayer::for_component(&registry, "http_inner")
        .unwrap()
        .http()
        .layer(failing);
    let request = || http::Request::new(());
    block_on(async {
        for _ in 0..2 {
            let err = svc
                .ready()
                .await
                .unwrap()
                .call(request())
                .await
                .unwrap_err();
            assert_eq!(err.to_string(), "down");
        }
        let refused = svc.ready().await.unwrap().call(request()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    });

    // A custom answer, and its formatting.
    let failing =
        service_fn(|_: ()| async { Err::<Response<String>, _>(io::Error::other("down")) });
    let layer = CircuitBreakerLayer::for_component(&registry, "http_custom")
        .unwrap()
        .respond_with(|e: &CircuitError| {
            Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .body(e.reason().to_owned())
                .unwrap()
        });
    assert!(format!("{layer:?}").contains("http_custom"));
    let mut svc = layer.layer(failing);
    block_on(async {
        for _ in 0..2 {
            assert!(svc.ready().await.unwrap().call(()).await.is_err());
        }
        let refused = svc.ready().await.unwrap().call(()).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.body(), "open");
    });
}

#[test]
fn a_layer_for_a_manifest_handle_names_its_component() {
    let layer = CircuitBreakerLayer::for_handle(&layered::breakers::layer_handle);
    let svc = layer.layer(service_fn(|_: ()| async { Ok::<_, io::Error>(()) }));
    // Formatting does not touch the process-wide registry.
    assert!(format!("{svc:?}").contains("layer_handle"));
    let _ = Permit::Rejected(CircuitError::ComponentMissing {
        component: "x".into(),
    })
    .is_allowed();
}
