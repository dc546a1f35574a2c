#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The admin router logs who changed what: the token's label, the remote address, the
//! component and the action; refusals with the remote address and never the token. Alone in
//! its binary: a thread's `tracing` default misses events of a callsite that another test's
//! thread registered first without a subscriber.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use breaker::GlobalCircuitBreaker;
use breaker_suite::ADMIN_TOKEN as TOKEN;

fn setup() -> (Arc<GlobalCircuitBreaker>, axum::Router) {
    breaker_suite::admin_fixture(breaker::http::admin)
}

/// A `tracing` layer that keeps every event's fields as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", field.name(), value));
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
}

#[tokio::test]
async fn changes_are_logged_with_who_and_from_where() {
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(captured.clone()));

    let (_registry, admin) = setup();
    // A real server, so the remote address is known.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            admin.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{addr}/breakers/db/force-open");
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        let refused = client.post(&url).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        client.post(&url).bearer_auth(TOKEN).send().await.unwrap()
    })
    .await
    .expect("bounded");
    assert_eq!(ok.status(), StatusCode::OK);
    server.abort();

    let lines = captured.0.lock().unwrap().clone();
    let change = lines
        .iter()
        .find(|l| l.contains("breaker changed by an operator"))
        .unwrap_or_else(|| panic!("no change logged: {lines:#?}"));
    assert!(change.contains("by=oncall"), "{change}");
    assert!(change.contains("component=db"), "{change}");
    assert!(change.contains("action=\"force_open\""), "{change}");
    assert!(change.contains("remote=Some(127.0.0.1:"), "{change}");
    let refusal = lines
        .iter()
        .find(|l| l.contains("admin request refused"))
        .unwrap_or_else(|| panic!("no refusal logged: {lines:#?}"));
    assert!(refusal.contains("credential=\"missing\""), "{refusal}");
    assert!(
        !lines.iter().any(|l| l.contains(TOKEN)),
        "the token is never logged"
    );
}
