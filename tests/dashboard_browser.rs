#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The dashboard in a real browser: headless Chromium under chromedriver opens `GET /` of a
//! registry served on 127.0.0.1 (on a `FakeClock`), a component trips, and the page shows it
//! open; its rows are compared with `/breakers`; text that looks like markup shows as text.
//!
//! `BREAKER_DASHBOARD_SCREENSHOT=1` also runs some traffic for the sparklines and saves
//! `docs/dashboard.png` (the README's screenshot). Missing chromium/chromedriver: skipped
//! with a printed line, or failed under `CI=true`.

#[path = "support/browser.rs"]
mod browser;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use breaker::{CircuitConfig, GlobalCircuitBreaker, Outcome};
use breaker_suite::Patience;
use fantoccini::{Client, Locator};
use serde_json::Value;

const CONFIG: CircuitConfig = CircuitConfig {
    min_calls: 4,
    open_cooldown: Duration::from_secs(90),
    ..CircuitConfig::DEFAULT
};

/// Markup a component name cannot carry (names are `[A-Za-z0-9_.:-]`, checked by every way
/// to register one), so it comes in the way operator-supplied text does: a config file
/// naming it, whose refusal the timeline shows.
const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn breakers_json(addr: SocketAddr) -> Value {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let text = client
        .get(format!("http://{addr}/breakers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Polls `probe` every 100 ms until it returns `Some`, for at most `within`.
async fn until<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let mut patience = Patience::new(within, Duration::from_millis(100));
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(patience.again_async().await, "timed out waiting for {what}");
    }
}

/// What the page shows in its breaker rows: (component, state, calls, failures). Read in
/// one script, since the rows are rebuilt on every snapshot (an element found by one
/// WebDriver command may be gone by the next).
async fn rows(page: &Client) -> Vec<(String, String, u64, u64)> {
    let rows = page
        .execute(
            r#"return Array.from(document.querySelectorAll("tr[data-component]")).map(function (tr) {
                 function f(name) { return tr.querySelector('[data-field="' + name + '"]'); }
                 return [tr.getAttribute("data-component"), f("state").getAttribute("data-state"),
                         Number(f("calls").textContent), Number(f("failures").textContent)];
               });"#,
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(rows).unwrap()
}

fn traffic(registry: &GlobalCircuitBreaker, name: &str, calls: u32, failing_every: u32) {
    let b = registry.component(name).unwrap();
    for i in 0..calls {
        if let Ok(guard) = b.acquire().into_result() {
            let failed = failing_every > 0 && i % failing_every == 0;
            guard.record(if failed {
                Outcome::Failure
            } else {
                Outcome::Success
            });
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_an_open_breaker_as_breakers_reports_it() {
    tokio::time::timeout(Duration::from_secs(120), scenario())
        .await
        .expect("the browser scenario finishes in time");
}

async fn scenario() {
    let Some(browser) = browser::Browser::start("dashboard_browser").await else {
        return;
    };
    let (clock, registry, _log) = breaker_suite::registry(CONFIG);
    let registry = Arc::new(registry);
    for name in ["binance_ws", "ledger_db", "orders_api", "quotes_cache"] {
        registry.register(name).unwrap();
    }
    let app = breaker::http::router(Arc::clone(&registry));
    let addr = serve(app).await;
    let page = &browser.client;
    page.goto(&format!("http://{addr}/")).await.unwrap();

    let first = until("four rows", Duration::from_secs(20), || async {
        let rows = rows(page).await;
        (rows.len() == 4).then_some(rows)
    })
    .await;
    assert!(first.iter().all(|r| r.1 == "closed"), "{first:?}");

    // Traffic, then an outage of the ledger.
    traffic(&registry, "orders_api", 40, 0);
    traffic(&registry, "binance_ws", 30, 10);
    let ledger = registry.component("ledger_db").unwrap();
    let tripped_after = breaker_suite::trip(&ledger);
    clock.advance(Duration::from_secs(25));
    // Operator text with markup in it: a file whose section names no valid component is
    // refused, and the refusal (with the name) goes on the timeline.
    let refused = registry.reload_from_str(&format!("[components.\"{HOSTILE}\"]\nmin_calls = 5\n"));
    assert!(refused.unwrap_err().to_string().contains(HOSTILE));

    let shown = until(
        "ledger_db open on the page",
        Duration::from_secs(20),
        || async {
            let rows = rows(page).await;
            rows.iter()
                .any(|r| r.0 == "ledger_db" && r.1 == "open")
                .then_some(rows)
        },
    )
    .await;

    // The page agrees with `/breakers` (no traffic since, so the counts are settled).
    let json = breakers_json(addr).await;
    let expected: Vec<(String, String, u64, u64)> = json["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["component"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
                c["calls"].as_u64().unwrap(),
                c["failures"].as_u64().unwrap(),
            )
        })
        .collect();
    let shown = until(
        "the page's counts to match /breakers",
        Duration::from_secs(10),
        || {
            let expected = expected.clone();
            let shown = shown.clone();
            async move {
                let now = rows(page).await;
                let latest = if now == expected { now } else { shown };
                (latest == expected).then_some(latest)
            }
        },
    )
    .await;
    assert_eq!(shown, expected);
    assert_eq!(
        shown.iter().find(|r| r.0 == "ledger_db").unwrap().3,
        u64::from(tripped_after)
    );

    // The retry countdown: 90 s of cooldown, 25 s of it gone on the fake clock.
    let retry = page
        .execute(
            r#"return document.querySelector('tr[data-component="ledger_db"] [data-field="retry_after"]').textContent;"#,
            vec![],
        )
        .await
        .unwrap();
    let retry = retry.as_str().unwrap();
    // The page counts down in real time between snapshots (a second apart, later on a
    // loaded machine), from the 65 s each snapshot says.
    let seconds_left = match retry.strip_prefix("1m") {
        Some("") => 60,
        Some(rest) => 60 + rest.trim().trim_end_matches('s').parse::<u64>().unwrap(),
        None => panic!("retry countdown {retry:?}"),
    };
    assert!((55..=65).contains(&seconds_left), "{retry}");

    // The timeline has the transition with its reason, and the hostile text as text.
    let timeline = until("the timeline", Duration::from_secs(10), || async {
        let text = page
            .find(Locator::Id("timeline"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (text.contains("ledger_db") && text.contains(HOSTILE)).then_some(text)
    })
    .await;
    assert!(timeline.contains("closed → open: error rate"), "{timeline}");
    // Nothing was parsed as markup: one script (the page's), no image, no alert (an open
    // alert would fail every WebDriver command above).
    let counts = page
        .execute(
            "return [document.querySelectorAll('script').length, document.images.length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(counts, serde_json::json!([1, 0]));
    // The page knows it is live (the connection line is set by the stream's events).
    let conn = page
        .find(Locator::Id("conn"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(conn, "live");
    let fuse = page.find(Locator::Id("fuse")).await.unwrap();
    assert_eq!(
        fuse.attr("data-state").await.unwrap().as_deref(),
        Some("closed")
    );

    if std::env::var("BREAKER_DASHBOARD_SCREENSHOT").is_ok_and(|v| v == "1") {
        screenshot(page, &registry).await;
    }
    browser.close().await;
}

/// A few seconds of mixed traffic (the sparklines sample once a second), then the picture.
async fn screenshot(page: &Client, registry: &GlobalCircuitBreaker) {
    for second in 0..12 {
        traffic(registry, "orders_api", 20 + second * 3, 0);
        traffic(registry, "binance_ws", 25, 4);
        traffic(registry, "quotes_cache", 10, if second > 6 { 2 } else { 0 });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let png = page.screenshot().await.unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dashboard.png");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, png).unwrap();
    println!("saved {}", path.display());
}
