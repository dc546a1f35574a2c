//! Headless Chromium for tests, through `chromedriver` and the `fantoccini` WebDriver client.
//! Included by the tests that need it (`#[path = "support/browser.rs"] mod browser;`): it
//! uses dev-dependencies, which the `breaker_suite` library cannot.
//!
//! `chromedriver` starts on a free 127.0.0.1 port and is killed on drop; Chromium runs with a
//! fresh profile directory and the flags of `ops_common` (no sandbox, no GPU, no network of
//! its own). Missing binaries fail the test under `CI=true` and skip it otherwise.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};

/// A running chromedriver with one Chromium session.
pub(crate) struct Browser {
    driver: Child,
    /// Chromium's profile, removed on drop.
    _profile: tempfile::TempDir,
    /// The WebDriver session. Close it with [`Browser::close`] to quit Chromium cleanly.
    pub(crate) client: Client,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

impl Browser {
    /// Chromium under chromedriver, or `None` (after printing why) when either is missing
    /// outside CI. Under `CI=true` a missing binary fails the test: `scripts/test` installs
    /// them.
    pub(crate) async fn start(test: &str) -> Option<Self> {
        let chromium = on_path("chromium").or_else(|| on_path("chromium-browser"));
        let driver = on_path("chromedriver");
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "{test}: chromium and chromedriver are required under CI=true (scripts/test installs them)"
            );
            println!("SKIPPED {test}: chromium or chromedriver not on PATH (bash scripts/test installs them)");
            return None;
        };
        Some(Self::launch(&chromium, &driver).await)
    }

    async fn launch(chromium: &Path, driver: &Path) -> Self {
        let port = free_port();
        let mut driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a profile directory");
        let url = format!("http://127.0.0.1:{port}");

        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        // chromedriver takes a moment to listen: a bounded poll of session creation.
        let mut patience =
            breaker_suite::Patience::new(Duration::from_secs(30), Duration::from_millis(100));
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) => {
                    if let Ok(Some(status)) = driver.try_wait() {
                        panic!("chromedriver exited: {status}");
                    }
                    if !patience.again_async().await {
                        let _ = driver.kill();
                        panic!("no WebDriver session from chromedriver at {url}: {e}");
                    }
                }
            }
        };
        Self {
            driver,
            _profile: profile,
            client,
        }
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    pub(crate) async fn close(self) {
        let client = self.client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        drop(self);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
