#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Property test of Rule 1, "a refused input changes nothing, and an accepted one means what
//! it says": random sequences of `register`, `register_with`, manifest declares, code
//! reloads (`reload`), component reloads and file reloads (valid and invalid), with calls in
//! between, run against a real registry and a small reference model of the layering written
//! from README.md ("Config files": five layers, field by field, most specific last; the
//! manifest conflict rule; strict mode; a manifest declared over a name registered first),
//! not from the engine.
//!
//! After every step the engine must accept exactly what the model accepts. After a refused
//! step every breaker's config, state and counts (its whole snapshot), the registry's
//! defaults and its components are exactly what they were; after an accepted one each
//! breaker's config equals the model's layering of its inputs.
//!
//! Cases: `PROPTEST_CASES` (default 300). Seed: `LAYERING_SEED` (a number; default: fresh
//! each run, printed); a failure prints the seed and the shrunk sequence.
//!
//! The fields the model varies are those whose rules can conflict across layers
//! (`half_open_required_successes <= half_open_max_concurrent`), plus an optional field on
//! each side of "off", and plain ones. The window's geometry never changes here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use breaker::{
    CircuitConfig, ComponentName, ComponentSnapshot, FakeClock, GlobalCircuitBreaker, Outcome,
    Permit,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

breaker::breakers! {
    m1 { half_open_required_successes: 2, consecutive_failures_threshold: None },
    m2 { min_calls: 3, half_open_max_concurrent: 4 },
}

/// The registry's defaults at the start, and what code configs are written over: two probes
/// at most, one success required, so a layer can lower either side of the rule between them.
const START: CircuitConfig = CircuitConfig {
    half_open_max_concurrent: 2,
    half_open_required_successes: 1,
    ..CircuitConfig::DEFAULT
};

/// Names `register` uses (`m1` is the manifest's: registered by name before it is declared,
/// it gets the entry's fields when it is); files also name `m2` and `typo`.
const PLAIN: [&str; 4] = ["a", "b", "x", "m1"];
const SECTIONS: [&str; 6] = ["a", "b", "x", "m1", "m2", "typo"];

// ---------------------------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------------------------

/// One field set to one value (the values include invalid ones).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Set {
    MinCalls(u32),
    ErrorRate(f32),
    MaxConcurrent(u32),
    RequiredSuccesses(u32),
    Consecutive(Option<u32>),
    MaxWait(Option<Duration>),
    Cooldown(Duration),
}

impl Set {
    fn apply(self, c: &mut CircuitConfig) {
        match self {
            Set::MinCalls(n) => c.min_calls = n,
            Set::ErrorRate(r) => c.error_rate_threshold = r,
            Set::MaxConcurrent(n) => c.half_open_max_concurrent = n,
            Set::RequiredSuccesses(n) => c.half_open_required_successes = n,
            Set::Consecutive(n) => c.consecutive_failures_threshold = n,
            Set::MaxWait(d) => c.half_open_max_wait = d,
            Set::Cooldown(d) => c.open_cooldown = d,
        }
    }

    /// The key, so a layer sets each field at most once.
    fn key(self) -> u8 {
        match self {
            Set::MinCalls(_) => 0,
            Set::ErrorRate(_) => 1,
            Set::MaxConcurrent(_) => 2,
            Set::RequiredSuccesses(_) => 3,
            Set::Consecutive(_) => 4,
            Set::MaxWait(_) => 5,
            Set::Cooldown(_) => 6,
        }
    }

    fn toml(self) -> String {
        let duration = |d: Duration| format!("\"{}s\"", d.as_secs());
        match self {
            Set::MinCalls(n) => format!("min_calls = {n}"),
            Set::ErrorRate(r) => format!("error_rate_threshold = {r:?}"),
            Set::MaxConcurrent(n) => format!("half_open_max_concurrent = {n}"),
            Set::RequiredSuccesses(n) => format!("half_open_required_successes = {n}"),
            Set::Consecutive(None) => "consecutive_failures_threshold = \"off\"".to_owned(),
            Set::Consecutive(Some(n)) => format!("consecutive_failures_threshold = {n}"),
            Set::MaxWait(None) => "half_open_max_wait = \"off\"".to_owned(),
            Set::MaxWait(Some(d)) => format!("half_open_max_wait = {}", duration(d)),
            Set::Cooldown(d) => format!("open_cooldown = {}", duration(d)),
        }
    }
}

type Partial = Vec<Set>;

fn over(base: CircuitConfig, partial: &[Set]) -> CircuitConfig {
    let mut c = base;
    for s in partial {
        s.apply(&mut c);
    }
    c
}

fn valid(c: &CircuitConfig) -> bool {
    c.validate().is_ok()
}

/// A config file: `[defaults]`, `[global] min_components`, `[components.<name>]`, or text
/// that does not parse.
#[derive(Debug, Clone, PartialEq)]
enum File {
    Toml {
        defaults: Partial,
        min_components: Option<u32>,
        sections: BTreeMap<&'static str, Partial>,
    },
    Garbage,
}

impl File {
    fn text(&self) -> String {
        let File::Toml {
            defaults,
            min_components,
            sections,
        } = self
        else {
            return "[defaults\nmin_calls = ".to_owned();
        };
        let mut text = String::from("# generated\n[defaults]\n");
        for s in defaults {
            text += &format!("{}\n", s.toml());
        }
        if let Some(n) = min_components {
            text += &format!("\n[global]\nmin_components = {n}\n");
        }
        for (name, partial) in sections {
            text += &format!("\n[components.{name}]\n");
            for s in partial {
                text += &format!("{}\n", s.toml());
            }
        }
        text
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Code {
    Defaults,
    /// A `breakers!` entry: its fields.
    Manifest(Partial),
    Full(CircuitConfig),
}

#[derive(Debug, Clone, Default)]
struct Model {
    /// Layer 2 (`None`: `START`, the builder's).
    base: Option<CircuitConfig>,
    /// Layers 3 and 5 (parsed).
    file: Option<(Partial, Option<u32>, BTreeMap<&'static str, Partial>)>,
    /// Registered components and their layer 4.
    code: BTreeMap<&'static str, Code>,
    declared: bool,
}

/// Where a field of a manifest component's layering came from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum From {
    Defaults,
    Entry,
    Section,
}

fn manifest_fields(name: &str) -> Partial {
    match name {
        "m1" => vec![Set::RequiredSuccesses(2), Set::Consecutive(None)],
        _ => vec![Set::MinCalls(3), Set::MaxConcurrent(4)],
    }
}

impl Model {
    fn base(&self) -> CircuitConfig {
        self.base.unwrap_or(START)
    }

    /// Layers 1 to 3.
    fn defaults(&self) -> CircuitConfig {
        let mut c = self.base();
        if let Some((defaults, min_components, _)) = &self.file {
            c = over(c, defaults);
            if let Some(n) = min_components {
                c.global_trip_conditions.min_components = *n;
            }
        }
        c
    }

    fn section(&self, name: &str) -> Option<&Partial> {
        self.file.as_ref().and_then(|(_, _, s)| s.get(name))
    }

    /// Layers 4 and 5 over the defaults, with the manifest conflict rule; may be invalid.
    /// Also says whether a key of the component's section gave way to the entry.
    fn resolved(&self, name: &str, code: &Code) -> (CircuitConfig, bool) {
        let d = self.defaults();
        let section = self.section(name).cloned().unwrap_or_default();
        match code {
            Code::Defaults => (over(d, &section), false),
            // `global_trip_conditions` is the registry's, whatever the code says.
            Code::Full(c) => {
                let own = CircuitConfig {
                    global_trip_conditions: d.global_trip_conditions,
                    ..*c
                };
                (over(own, &section), false)
            }
            Code::Manifest(fields) => {
                let mut c = over(over(d, fields), &section);
                // The only rule between two fields the model varies: successes <= probes.
                let from = |key: u8| {
                    if section.iter().any(|s| s.key() == key) {
                        From::Section
                    } else if fields.iter().any(|s| s.key() == key) {
                        From::Entry
                    } else {
                        From::Defaults
                    }
                };
                let (probes, successes) = (from(2), from(3));
                let broken = c.half_open_required_successes > c.half_open_max_concurrent;
                if !broken || (probes != From::Entry && successes != From::Entry) {
                    return (c, false);
                }
                // The entry's field holds; the other takes CircuitConfig::DEFAULT's.
                if probes != From::Entry {
                    c.half_open_max_concurrent = CircuitConfig::DEFAULT.half_open_max_concurrent;
                }
                if successes != From::Entry {
                    c.half_open_required_successes =
                        CircuitConfig::DEFAULT.half_open_required_successes;
                }
                (c, probes == From::Section || successes == From::Section)
            }
        }
    }

    fn config_of(&self, name: &'static str) -> CircuitConfig {
        self.resolved(name, &self.code[name]).0
    }

    /// Whether every layer in force makes a valid config, for every registered component and
    /// for every section of an unregistered one (as a follower of the defaults).
    fn consistent(&self) -> bool {
        if !valid(&self.defaults()) {
            return false;
        }
        if !self.code.keys().all(|name| valid(&self.config_of(name))) {
            return false;
        }
        let sections = self
            .file
            .as_ref()
            .map(|(_, _, s)| s.keys().copied().collect::<Vec<_>>());
        sections.unwrap_or_default().into_iter().all(|name| {
            self.code.contains_key(name) || valid(&self.resolved(name, &Code::Defaults).0)
        })
    }

    /// Applies `op`; returns whether it was accepted (the model is unchanged if not).
    fn step(&mut self, op: &Op) -> bool {
        let mut next = self.clone();
        let accepted = match op {
            Op::Register(name) => {
                next.code.entry(name).or_insert(Code::Defaults);
                next.consistent()
            }
            Op::RegisterWith(name, partial) | Op::ReloadComponent(name, partial) => {
                let config = over(START, partial);
                let known = self.code.contains_key(name);
                if matches!(op, Op::ReloadComponent(..)) && !known || !valid(&config) {
                    false
                } else {
                    next.code.insert(name, Code::Full(config));
                    next.consistent()
                }
            }
            Op::Declare => {
                next.declared = true;
                for name in ["m1", "m2"] {
                    // New, or registered by name on the defaults: the entry is its layer 4.
                    // Its own whole config in code wins over the entry.
                    if matches!(next.code.get(name), None | Some(Code::Defaults)) {
                        next.code
                            .insert(name, Code::Manifest(manifest_fields(name)));
                    }
                }
                true
            }
            Op::Reload(partial) => {
                let config = over(START, partial);
                next.base = Some(config);
                valid(&config) && next.consistent()
            }
            Op::ReloadFile(File::Garbage) => false,
            Op::ReloadFile(File::Toml {
                defaults,
                min_components,
                sections,
            }) => {
                next.file = Some((defaults.clone(), *min_components, sections.clone()));
                let strict_ok =
                    !self.declared || sections.keys().all(|name| self.code.contains_key(name));
                // A file whose section would give way to an entry is refused instead.
                let no_section_gives_way = next
                    .code
                    .iter()
                    .all(|(name, code)| !next.resolved(name, code).1);
                strict_ok && no_section_gives_way && next.consistent()
            }
            Op::Call(..) | Op::Advance => true,
        };
        if accepted {
            *self = next;
        }
        accepted
    }
}

// ---------------------------------------------------------------------------------------------
// The operations.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Register(&'static str),
    RegisterWith(&'static str, Partial),
    ReloadComponent(&'static str, Partial),
    Declare,
    Reload(Partial),
    ReloadFile(File),
    /// A call to a component (if registered) that ends with this outcome.
    Call(&'static str, bool),
    Advance,
}

fn set_strategy() -> impl Strategy<Value = Set> {
    prop_oneof![
        (0u32..=5).prop_map(Set::MinCalls),
        prop::sample::select(vec![0.3f32, 0.5, 1.0, 1.5]).prop_map(Set::ErrorRate),
        (1u32..=4).prop_map(Set::MaxConcurrent),
        (1u32..=4).prop_map(Set::RequiredSuccesses),
        prop::sample::select(vec![None, Some(0), Some(2), Some(5)]).prop_map(Set::Consecutive),
        prop::sample::select(vec![None, Some(Duration::from_secs(10))]).prop_map(Set::MaxWait),
        prop::sample::select(vec![Duration::from_secs(1), Duration::from_secs(600)])
            .prop_map(Set::Cooldown),
    ]
}

/// Up to `n` settings, each field at most once (the last one wins, as in a layer).
fn partial(n: usize) -> impl Strategy<Value = Partial> {
    prop::collection::vec(set_strategy(), 0..=n).prop_map(|sets| {
        let mut by_key = BTreeMap::new();
        for s in sets {
            by_key.insert(s.key(), s);
        }
        by_key.into_values().collect()
    })
}

fn file_strategy() -> impl Strategy<Value = File> {
    let toml = (
        partial(2),
        prop::option::weighted(0.2, 0u32..=3),
        prop::collection::btree_map(prop::sample::select(SECTIONS.to_vec()), partial(2), 0..=3),
    )
        .prop_map(|(defaults, min_components, sections)| File::Toml {
            defaults,
            min_components,
            sections,
        });
    prop_oneof![9 => toml, 1 => Just(File::Garbage)]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let plain = prop::sample::select(PLAIN.to_vec());
    let any_name = prop::sample::select(vec!["a", "b", "x", "m1", "m2"]);
    prop_oneof![
        4 => plain.clone().prop_map(Op::Register),
        3 => (any_name.clone(), partial(3)).prop_map(|(n, p)| Op::RegisterWith(n, p)),
        2 => (any_name.clone(), partial(3)).prop_map(|(n, p)| Op::ReloadComponent(n, p)),
        1 => Just(Op::Declare),
        3 => partial(3).prop_map(Op::Reload),
        5 => file_strategy().prop_map(Op::ReloadFile),
        4 => (any_name, any::<bool>()).prop_map(|(n, ok)| Op::Call(n, ok)),
        1 => Just(Op::Advance),
    ]
}

// ---------------------------------------------------------------------------------------------
// The engine, in lockstep.
// ---------------------------------------------------------------------------------------------

struct Engine {
    registry: GlobalCircuitBreaker,
    clock: FakeClock,
}

impl Engine {
    fn new() -> Self {
        let clock = FakeClock::new();
        let registry = GlobalCircuitBreaker::builder()
            .config(START)
            .clock(clock.clone())
            .build()
            .unwrap();
        Self { registry, clock }
    }

    /// Applies `op`; returns whether it was accepted.
    fn step(&self, op: &Op) -> bool {
        let r = &self.registry;
        let config = |p: &Partial| over(START, p);
        match op {
            Op::Register(name) => r.register(name).is_ok(),
            Op::RegisterWith(name, p) => r.register_with(name, config(p)).is_ok(),
            Op::ReloadComponent(name, p) => r.reload_component(name, config(p)).is_ok(),
            Op::Declare => {
                breakers::declare(r).unwrap();
                true
            }
            Op::Reload(p) => r.reload(config(p)).is_ok(),
            Op::ReloadFile(file) => r.reload_from_str(&file.text()).is_ok(),
            Op::Call(name, ok) => {
                if let Some(b) = r.component(name) {
                    if let Permit::Allowed(guard) = b.acquire() {
                        guard.record(if *ok {
                            Outcome::Success
                        } else {
                            Outcome::Failure
                        });
                    }
                }
                true
            }
            Op::Advance => {
                self.clock.advance(Duration::from_secs(7));
                true
            }
        }
    }

    /// Everything a refused operation must leave as it was.
    fn observe(
        &self,
    ) -> (
        CircuitConfig,
        Vec<ComponentName>,
        Vec<(CircuitConfig, ComponentSnapshot)>,
    ) {
        let components = self.registry.components();
        let breakers = components
            .iter()
            .map(|name| self.registry.component(name).unwrap())
            .map(|b| (b.config(), b.snapshot()))
            .chain(std::iter::once((
                self.registry.global().config(),
                self.registry.global().snapshot(),
            )))
            .collect();
        (self.registry.config(), components, breakers)
    }
}

fn run_case(ops: &[Op]) -> Result<(), TestCaseError> {
    let engine = Engine::new();
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        let before = engine.observe();
        let engine_accepted = engine.step(op);
        let model_accepted = model.step(op);
        prop_assert_eq!(
            engine_accepted,
            model_accepted,
            "step {}: {:?}: the engine {} what the model {}",
            step,
            op,
            if engine_accepted {
                "accepted"
            } else {
                "refused"
            },
            if model_accepted { "accepts" } else { "refuses" }
        );
        if !engine_accepted {
            prop_assert_eq!(
                &engine.observe(),
                &before,
                "step {}: the refused {:?} changed something",
                step,
                op
            );
        }
        prop_assert_eq!(
            engine.registry.config(),
            model.defaults(),
            "step {}: defaults",
            step
        );
        let registered: Vec<&str> = model.code.keys().copied().collect();
        prop_assert_eq!(
            engine.registry.components(),
            registered,
            "step {}: components",
            step
        );
        for name in model.code.keys() {
            prop_assert_eq!(
                engine.registry.component(name).unwrap().config(),
                model.config_of(name),
                "step {}: the config of `{}` after {:?}",
                step,
                name,
                op
            );
        }
        prop_assert_eq!(
            engine.registry.is_strict(),
            model.declared,
            "step {}: strict",
            step
        );
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn seed() -> u64 {
    match std::env::var("LAYERING_SEED") {
        Ok(v) => v.parse().expect("LAYERING_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    }
}

#[test]
fn every_operation_is_all_or_nothing_and_layers_as_the_model_says() {
    let (seed, cases) = (seed(), cases());
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = ProptestConfig {
        cases,
        max_shrink_iters: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let started = Instant::now();
    let ops = prop::collection::vec(op_strategy(), 1..40);
    let result = runner.run(&ops, |ops| run_case(&ops));
    eprintln!(
        "layering model: {cases} cases, seed {seed}, {:.2?}",
        started.elapsed()
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, ops)) => panic!(
            "the engine and the layering model disagree: {reason}\n\
             rerun with LAYERING_SEED={seed} PROPTEST_CASES={cases}\nops ({}): {ops:#?}",
            ops.len()
        ),
        Err(e) => panic!("LAYERING_SEED={seed}: {e}"),
    }
}

/// The model exercises what it claims to: over a fixed seed, both refusals and acceptances
/// of every kind of operation happen, and manifest conflicts with the defaults and with a
/// file's section both occur.
#[test]
fn the_generated_operations_cover_refusals_and_conflicts() {
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let ops = prop::collection::vec(op_strategy(), 1..40);
    let mut seen = BTreeSet::new();
    for _ in 0..300 {
        let case = ops.new_tree(&mut runner).unwrap().current();
        let mut model = Model::default();
        for op in &case {
            let kind = format!("{op:?}")
                .split(['(', ' '])
                .next()
                .unwrap()
                .to_owned();
            let registered_first =
                matches!(op, Op::Declare) && matches!(model.code.get("m1"), Some(Code::Defaults));
            let accepted = model.step(op);
            seen.insert(format!("{kind}:{accepted}"));
            if registered_first {
                seen.insert("declared over a registration".to_owned());
            }
            for name in ["m1", "m2"] {
                if let Some(code @ Code::Manifest(fields)) = model.code.get(name) {
                    let complete = over(
                        over(model.defaults(), fields),
                        model.section(name).map_or(&[][..], |s| s),
                    );
                    if !valid(&complete) {
                        seen.insert("manifest conflict resolved".to_owned());
                    }
                    if model.resolved(name, code).1 {
                        seen.insert("section gave way".to_owned());
                    }
                }
            }
        }
    }
    for want in [
        "Register:true",
        "RegisterWith:true",
        "RegisterWith:false",
        "ReloadComponent:true",
        "ReloadComponent:false",
        "Reload:true",
        "Reload:false",
        "ReloadFile:true",
        "ReloadFile:false",
        "Declare:true",
        "declared over a registration",
        "section gave way",
        "manifest conflict resolved",
    ] {
        assert!(seen.contains(want), "never generated {want}: {seen:?}");
    }
}
