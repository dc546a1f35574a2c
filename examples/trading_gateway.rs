//! The demo: a trading gateway's three exchange adapters, protected by `#[circuit_breaker]`,
//! driven through a scripted outage and recovery.
//!
//! - `binance_ws` (a sync market-data feed), `binance_rest` and `kraken_rest` (async REST)
//!   are declared once in `breakers!`, with per-component overrides, and tuned further by an
//!   embedded `breakers.toml`.
//! - Binance REST starts failing, trips its own breaker, probes, backs off, and recovers.
//! - A keyed family, `endpoint[]`, holds one breaker per order-routing endpoint (`eu`, `us`,
//!   `ap`): the `us` endpoint fails for a while, only its key opens, its siblings keep serving,
//!   and it recovers through its own probes. The family is one member of the global fuse.
//! - A network partition then takes out both Binance adapters: two of four members are
//!   unhealthy, so the derived global fuse opens and even the healthy Kraken adapter (and every
//!   endpoint key) is refused until half-open probes show Binance is back.
//!
//! Time is simulated (a `FakeClock`), so the 40 s script plays in about 8 s and needs no
//! network; pass `--fast` to skip the pacing. A live table redraws while it runs (in a
//! terminal), transitions are logged as they happen, and a timeline closes the run.
//!
//! Run it with `cargo run --example trading_gateway`.
//!
//! With `--serve 127.0.0.1:8080` it also serves the live dashboard (`breaker::http::router`:
//! `GET /` and the rest) on that address, plays the script in real time (40 s, so the page's
//! rates and countdowns are the script's), and keeps serving after the script ends until
//! Ctrl-C.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use breaker::{
    circuit_breaker, CircuitConfig, CircuitError, CircuitState, ComponentSnapshot, Event,
    FakeClock, GlobalCircuitBreaker, GlobalTripConditions, RegistrySnapshot,
};

breaker::breakers! {
    /// Binance market-data websocket: trips on five failures in a row.
    binance_ws { consecutive_failures_threshold: Some(5) },
    /// Binance REST: stricter error rate, quicker retry.
    binance_rest { error_rate_threshold: 0.3, open_cooldown: Duration::from_secs(2) },
    /// Kraken REST.
    kraken_rest,
    /// The order-routing endpoints (`eu`, `us`, `ap`): a keyed family, a breaker per endpoint.
    endpoint[] { max_keys: 16 },
}

/// Operators' overrides, layered over the manifest (see README "Config files").
const BREAKERS_TOML: &str = r#"
[defaults]
rolling_window = "5s"
window_buckets = 10
min_calls = 10
open_cooldown = "3s"
half_open_max_concurrent = 2
half_open_required_successes = 2

[global]
component_open_ratio = 0.5
min_components = 3

[families.endpoint]
min_keys = 3

[components.binance_rest]
open_backoff_multiplier = 2.0
open_cooldown_max = "8s"
"#;

const TICK: Duration = Duration::from_millis(100);
const SCRIPT_SECONDS: u64 = 40;
const NAMES: [&str; ROWS] = [
    "binance_ws",
    "binance_rest",
    "kraken_rest",
    "endpoint[eu]",
    "endpoint[us]",
    "endpoint[ap]",
    "__global__",
];
const ROWS: usize = 7;
/// The order-routing endpoints, each a key of the `endpoint` family.
const ENDPOINTS: [&str; 3] = ["eu", "us", "ap"];

/// Which venues are up; the script flips these.
#[derive(Default)]
struct Network {
    binance_ws_up: AtomicBool,
    binance_rest_up: AtomicBool,
    kraken_up: AtomicBool,
    /// The `us` order-routing endpoint (the other endpoints stay up).
    us_endpoint_up: AtomicBool,
    /// Bodies that actually ran (the breaker spares the venue the rest).
    attempts: AtomicU64,
}

#[derive(Debug)]
enum ExchangeError {
    Unavailable,
    Refused(CircuitError),
}

impl From<CircuitError> for ExchangeError {
    fn from(e: CircuitError) -> Self {
        Self::Refused(e)
    }
}

struct Gateway {
    net: Arc<Network>,
}

impl Gateway {
    /// The websocket feed: a sync call.
    #[circuit_breaker(component = "binance_ws")]
    fn next_tick(&self) -> Result<f64, ExchangeError> {
        self.net.attempts.fetch_add(1, Ordering::Relaxed);
        if self.net.binance_ws_up.load(Ordering::Relaxed) {
            Ok(64_000.0)
        } else {
            Err(ExchangeError::Unavailable)
        }
    }

    /// Binance REST: an async call.
    #[circuit_breaker(component = "binance_rest")]
    async fn order_book(&self, depth: usize) -> Result<usize, ExchangeError> {
        self.net.attempts.fetch_add(1, Ordering::Relaxed);
        if self.net.binance_rest_up.load(Ordering::Relaxed) {
            Ok(depth)
        } else {
            Err(ExchangeError::Unavailable)
        }
    }

    /// Kraken REST: an async call.
    #[circuit_breaker(component = "kraken_rest")]
    async fn ticker(&self) -> Result<f64, ExchangeError> {
        self.net.attempts.fetch_add(1, Ordering::Relaxed);
        if self.net.kraken_up.load(Ordering::Relaxed) {
            Ok(63_990.0)
        } else {
            Err(ExchangeError::Unavailable)
        }
    }

    /// Sends an order through order-routing endpoint `endpoint`: the key picks its breaker in
    /// the `endpoint` family, so only a failing endpoint's key opens.
    #[circuit_breaker(component = "endpoint", key = endpoint)]
    fn route(&self, endpoint: &str) -> Result<(), ExchangeError> {
        self.net.attempts.fetch_add(1, Ordering::Relaxed);
        if endpoint != "us" || self.net.us_endpoint_up.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(ExchangeError::Unavailable)
        }
    }
}

/// The script: at second `.0`, set the venues (and the `us` endpoint) to `.1` and say `.2`.
const SCRIPT: [(u64, [bool; 4], &str); 7] = [
    (0, [true, true, true, true], "all venues healthy"),
    (
        5,
        [true, false, true, true],
        "Binance REST starts answering 503",
    ),
    (12, [true, true, true, true], "Binance REST recovers"),
    (
        14,
        [true, true, true, false],
        "the us endpoint fails; eu and ap keep serving",
    ),
    (18, [true, true, true, true], "the us endpoint is back"),
    (
        20,
        [false, false, true, true],
        "network partition: both Binance adapters down",
    ),
    (28, [true, true, true, true], "partition heals"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fast = args.iter().any(|a| a == "--fast");
    let live = std::io::stdout().is_terminal() && !fast;
    match serve_arg(&args) {
        None => run(&mut std::io::stdout(), live),
        Some(addr) => {
            let addr = addr?;
            // Bound here, so a taken port fails before the script starts.
            let listener =
                std::net::TcpListener::bind(&addr).map_err(|e| format!("--serve {addr}: {e}"))?;
            let url = format!("http://{}/", listener.local_addr()?);
            run_with(&mut std::io::stdout(), live, Some(listener), &url)?;
            eprintln!("the script is over; still serving the dashboard at {url} until Ctrl-C");
            loop {
                std::thread::park();
            }
        }
    }
}

/// The address of `--serve ADDR` or `--serve=ADDR`, if given.
fn serve_arg(args: &[String]) -> Option<Result<String, &'static str>> {
    args.iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--serve") {
            Some("") => Some(args.get(i + 1).cloned().ok_or("--serve needs an address")),
            Some(rest) => rest.strip_prefix('=').map(|addr| Ok(addr.to_owned())),
            None => None,
        })
}

/// Plays the script, writing to `out` (the phase tables, the transitions, the timeline); with
/// `live`, redraws a table in the terminal instead and paces the script to about 8 s.
fn run(out: &mut dyn Write, live: bool) -> Result<(), Box<dyn std::error::Error>> {
    run_with(out, live, None, "")
}

/// Serves the registry's dashboard on `listener` from a thread of its own.
fn serve(
    registry: &'static GlobalCircuitBreaker,
    listener: std::net::TcpListener,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    // Built here, not in the thread: its event hook must be in place before the script's
    // first event.
    let app = breaker::http::router(registry);
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let served = async {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, app).await
            };
            if let Err(e) = served.await {
                eprintln!("the dashboard server stopped: {e}");
            }
        });
    });
    Ok(())
}

/// [`run`], and with a `listener`, the dashboard served on it while the script plays in
/// real time (100 ms a tick).
fn run_with(
    out: &mut dyn Write,
    live: bool,
    listener: Option<std::net::TcpListener>,
    url: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let clock = FakeClock::new();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    // Where each transition took a breaker, drained every tick into the timeline: a half-open
    // episode that starts and ends within one tick never shows in the end-of-tick state.
    let moves: Arc<Mutex<Vec<(breaker::ComponentName, CircuitState)>>> = Arc::default();

    // Installed before any adapter is called, so the manifest's handles use this registry.
    let registry = breaker::install({
        let (clock, log, moves) = (clock.clone(), Arc::clone(&log), Arc::clone(&moves));
        GlobalCircuitBreaker::builder()
            .config(CircuitConfig {
                global_trip_conditions: GlobalTripConditions::DEFAULT,
                ..CircuitConfig::DEFAULT
            })
            .clock(clock.clone())
            .on_event(move |event| {
                if let Event::StateChanged(t) = event {
                    let line = format!(
                        "t={:>5.1}s  {:<13} {:>11} -> {:<11} {}",
                        clock.elapsed().as_secs_f64(),
                        t.component.as_str(),
                        t.from,
                        t.to,
                        t.reason
                    );
                    log.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line);
                    moves
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((t.component.clone(), t.to));
                }
            })
            .build()?
    })
    .map_err(|e| e.to_string())?;
    // Served before the manifest and the file go in, so the page's timeline has them.
    let pace = match listener {
        Some(listener) => {
            serve(registry, listener)?;
            eprintln!("dashboard: {url} (the script plays in real time, 40 s)");
            Some(TICK)
        }
        None => live.then_some(Duration::from_millis(20)),
    };
    // The components and the `endpoint` family, before the file's sections name them.
    breakers::declare(registry)?;
    registry.reload_from_str(BREAKERS_TOML)?;

    let net = Arc::new(Network::default());
    let gateway = Gateway {
        net: Arc::clone(&net),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let mut timeline: Vec<[Seen; ROWS]> = Vec::new();
    let mut refused = 0u64;
    let mut by_reason = std::collections::BTreeMap::new();
    let mut calls = 0u64;
    let mut printed = 0;
    let mut phase = "";

    for tick in 0..SCRIPT_SECONDS * 10 {
        let second = tick / 10;
        if let Some((_, up, what)) = SCRIPT.iter().find(|(at, _, _)| *at * 10 == tick) {
            net.binance_ws_up.store(up[0], Ordering::Relaxed);
            net.binance_rest_up.store(up[1], Ordering::Relaxed);
            net.kraken_up.store(up[2], Ordering::Relaxed);
            net.us_endpoint_up.store(up[3], Ordering::Relaxed);
            phase = what;
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(format!(
                    "t={:>5.1}s  == {what} ==",
                    clock.elapsed().as_secs_f64()
                ));
            if !live && tick > 0 {
                write!(out, "{}", table(&registry.snapshot()))?;
            }
        }
        let mut seen = states(registry).map(Seen::from);
        // Two calls per adapter per tick.
        for _ in 0..2 {
            let results = [
                gateway.next_tick().err(),
                runtime.block_on(gateway.order_book(20)).err(),
                runtime.block_on(gateway.ticker()).err(),
            ];
            calls += 3;
            for result in results.iter().flatten() {
                if let ExchangeError::Refused(e) = result {
                    refused += 1;
                    *by_reason.entry(e.reason()).or_insert(0u64) += 1;
                }
            }
            for key in ENDPOINTS {
                calls += 1;
                if let Err(ExchangeError::Refused(e)) = gateway.route(key) {
                    refused += 1;
                    *by_reason.entry(e.reason()).or_insert(0u64) += 1;
                }
            }
        }
        for (component, to) in moves
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            if let Some(row) = NAMES.iter().position(|name| *name == component) {
                seen[row].add(to);
            }
        }
        for (row, state) in states(registry).into_iter().enumerate() {
            seen[row].add(state);
        }
        timeline.push(seen);
        clock.advance(TICK);

        if let Some(pace) = pace {
            std::thread::sleep(pace);
        }
        if live {
            if tick % 2 == 0 {
                redraw(registry, &log, second, phase, &net, calls, refused);
            }
        } else {
            let log = log.lock().unwrap_or_else(PoisonError::into_inner);
            for line in &log[printed..] {
                writeln!(out, "{line}")?;
            }
            printed = log.len();
        }
    }
    if live {
        redraw(registry, &log, SCRIPT_SECONDS, "done", &net, calls, refused);
    } else {
        writeln!(out)?;
        write!(out, "{}", table(&registry.snapshot()))?;
    }
    writeln!(out)?;
    print_timeline(out, &timeline)?;
    writeln!(
        out,
        "\n{calls} calls: {} reached the venues, {refused} were refused without touching them ({}).",
        net.attempts.load(Ordering::Relaxed),
        by_reason
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(())
}

fn states(registry: &GlobalCircuitBreaker) -> [CircuitState; ROWS] {
    NAMES.map(|name| {
        if let Some(c) = registry.component(name) {
            return c.state();
        }
        // `endpoint[us]`: a key of the `endpoint` family.
        let key = name
            .strip_prefix("endpoint[")
            .and_then(|k| k.strip_suffix(']'));
        match (key, registry.family("endpoint")) {
            (Some(key), Some(family)) => {
                family.get(key).map_or(CircuitState::Closed, |b| b.state())
            }
            _ => registry.global().state(),
        }
    })
}

fn redraw(
    registry: &GlobalCircuitBreaker,
    log: &Mutex<Vec<String>>,
    second: u64,
    phase: &str,
    net: &Network,
    calls: u64,
    refused: u64,
) {
    let mut out = String::from("\x1b[2J\x1b[H");
    out.push_str(&format!(
        "trading_gateway  t={second:>2}s/{SCRIPT_SECONDS}s  phase: {phase}\n\n"
    ));
    let snapshot = registry.snapshot();
    out.push_str(&table(&snapshot));
    out.push_str(&format!(
        "\ncalls {calls}, refused {refused}, reached the venues {}\n\ntransitions:\n",
        net.attempts.load(Ordering::Relaxed)
    ));
    let log = log.lock().unwrap_or_else(PoisonError::into_inner);
    for line in log.iter().rev().take(14).rev() {
        out.push_str(line);
        out.push('\n');
    }
    print!("{out}");
    let _ = std::io::stdout().flush();
}

/// Every component, every family key, then the fuse.
fn table(snapshot: &RegistrySnapshot) -> String {
    let keys = snapshot.families.iter().flat_map(|f| f.keys.iter());
    let rows: Vec<&ComponentSnapshot> = snapshot
        .components
        .iter()
        .chain(keys)
        .chain([&snapshot.global])
        .collect();
    let mut out = format!(
        "{:<13} {:<11} {:>10} {:>7} {:>9} {:>9} {:>11}\n",
        "component", "state", "error rate", "calls", "failures", "rejected", "retry after"
    );
    for c in rows {
        out.push_str(&format!(
            "{:<13} {:<11} {:>9.0}% {:>7} {:>9} {:>9} {:>11}\n",
            c.component.as_str(),
            c.state.as_str(),
            c.window.error_rate * 100.0,
            c.calls,
            c.failures,
            c.rejections.total(),
            c.retry_after
                .map(|d| format!("{:.1}s", d.as_secs_f64()))
                .unwrap_or_default()
        ));
    }
    out
}

/// The states a breaker was in during a stretch of the script: where it started and every
/// state a transition took it to.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    closed: bool,
    half_open: bool,
    open: bool,
}

impl Seen {
    fn add(&mut self, state: CircuitState) {
        match state {
            CircuitState::Closed | CircuitState::Disabled => self.closed = true,
            CircuitState::HalfOpen => self.half_open = true,
            CircuitState::Open | CircuitState::ForcedOpen => self.open = true,
        }
    }

    fn merge(self, other: Self) -> Self {
        Self {
            closed: self.closed || other.closed,
            half_open: self.half_open || other.half_open,
            open: self.open || other.open,
        }
    }

    /// `?` if a half-open episode touched the stretch (episodes are shorter than a column),
    /// else `X` if the breaker was open in it, else `=`.
    fn glyph(self) -> char {
        if self.half_open {
            '?'
        } else if self.open {
            'X'
        } else {
            '='
        }
    }
}

impl From<CircuitState> for Seen {
    fn from(state: CircuitState) -> Self {
        let mut seen = Self::default();
        seen.add(state);
        seen
    }
}

/// One character per half second: `=` closed, `X` open, `?` half-open at some point in it.
fn print_timeline(out: &mut dyn Write, timeline: &[[Seen; ROWS]]) -> std::io::Result<()> {
    writeln!(
        out,
        "timeline (one column per 0.5 s:  '=' closed   'X' open   '?' half-open):"
    )?;
    let mut ruler = String::new();
    for s in (0..SCRIPT_SECONDS).step_by(5) {
        ruler.push_str(&format!("{s:<10}"));
    }
    writeln!(out, "{:<13} {ruler}", "")?;
    for (row, name) in NAMES.iter().enumerate() {
        let line: String = timeline
            .chunks(5)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|seen| seen[row])
                    .fold(Seen::default(), Seen::merge)
                    .glyph()
            })
            .collect();
        writeln!(out, "{name:<13} {line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::error::Error;
    use std::io::{Read, Write};

    #[test]
    fn serve_takes_its_address_either_way() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let addr = Ok("127.0.0.1:8080".to_owned());
        assert_eq!(super::serve_arg(&args(&["--fast"])), None);
        assert_eq!(
            super::serve_arg(&args(&["--serve", "127.0.0.1:8080"])),
            Some(addr.clone())
        );
        assert_eq!(
            super::serve_arg(&args(&["--serve=127.0.0.1:8080"])),
            Some(addr)
        );
        assert!(matches!(
            super::serve_arg(&args(&["--serve"])),
            Some(Err(_))
        ));
    }

    /// What `--serve` starts: the dashboard and its routes, on the registry it is given.
    #[test]
    fn serve_answers_the_dashboard_and_its_routes() -> Result<(), Box<dyn Error>> {
        let registry: &'static breaker::GlobalCircuitBreaker = Box::leak(Box::new(
            breaker::GlobalCircuitBreaker::new(breaker::CircuitConfig::DEFAULT)?,
        ));
        registry.register("kraken_rest")?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        super::serve(registry, listener)?;
        let get = |path: &str| -> Result<String, Box<dyn Error>> {
            let mut s = std::net::TcpStream::connect(addr)?;
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        };
        let page = get("/")?;
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("new EventSource"));
        let breakers = get("/breakers")?;
        assert!(
            breakers.contains("\"component\":\"kraken_rest\""),
            "{breakers}"
        );
        Ok(())
    }

    /// The scripted run, as a pipe sees it: every half-open episode the transition log reports
    /// shows as `?` in its timeline column, and the legend names each glyph.
    #[test]
    fn the_timeline_shows_every_half_open_episode_and_names_each_glyph(
    ) -> Result<(), Box<dyn Error>> {
        let mut out = Vec::new();
        super::run(&mut out, false)?;
        let text = String::from_utf8(out)?;
        let row = |name: &str| {
            text.lines()
                .skip_while(|l| !l.starts_with("timeline"))
                .find_map(|l| l.strip_prefix(name))
                .map(|cells| cells.trim_start().chars().collect::<Vec<_>>())
        };
        let mut episodes = 0;
        for line in text.lines().filter(|l| l.contains("-> half_open")) {
            // `t= 23.4s  binance_rest  open -> half_open cooldown elapsed`
            let mut words = line.trim_start_matches("t=").split_whitespace();
            let at: f64 = words
                .next()
                .ok_or("no time")?
                .trim_end_matches('s')
                .parse()?;
            let name = words.next().ok_or("no component")?;
            let cells = row(name).ok_or("no timeline row")?;
            // Ten ticks per second, five ticks per column, whole ticks only.
            let column = (at * 10.0).round() as usize / 5;
            assert_eq!(
                cells.get(column),
                Some(&'?'),
                "{name} was half-open at {at} s (column {column}): {}",
                cells.iter().collect::<String>()
            );
            episodes += 1;
        }
        assert!(
            episodes >= 4,
            "the script has half-open episodes: {episodes}"
        );
        // The family: only the failing endpoint's key opened; its siblings served throughout.
        let us = row("endpoint[us]").ok_or("no endpoint[us] row")?;
        assert!(us.contains(&'X'), "endpoint[us] opened: {us:?}");
        for sibling in ["endpoint[eu]", "endpoint[ap]"] {
            let cells = row(sibling).ok_or("no sibling row")?;
            assert!(
                cells.iter().all(|c| *c == '='),
                "{sibling} stayed closed: {cells:?}"
            );
        }
        let legend = text
            .lines()
            .find(|l| l.starts_with("timeline"))
            .ok_or("no timeline")?;
        for glyph in ["'=' closed", "'X' open", "'?' half-open"] {
            assert!(legend.contains(glyph), "legend without {glyph}: {legend}");
        }
        Ok(())
    }
}
