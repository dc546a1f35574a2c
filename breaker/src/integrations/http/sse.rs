//! `GET /events`: Server-Sent Events for the dashboard. Each client gets a `snapshot` event at
//! once and every second after (the `GET /breakers` JSON), and a `transition` or `config`
//! event for each record of the feed as it happens.
//!
//! Bounded: at most `sse_clients` streams at once (the next is answered `503`); each client's
//! queue is the broadcast's `sse_queue` slots, and a client that falls that far behind is
//! sent one `dropped` event and disconnected (counted in `debug.sse_dropped` of
//! `GET /breakers`), so a stalled client holds at most its socket buffers. The engine only
//! ever sends into the broadcast, which never waits for a receiver.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tokio::time::{timeout_at, Instant};

use super::feed::Record;
use super::json::Owned;
use super::state::Ops;

/// How often a snapshot is pushed.
const TICK: Duration = Duration::from_secs(1);

/// One open stream's place under the cap, given back when the stream is dropped.
#[derive(Debug)]
struct Slot(Ops);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0 .0.clients.open.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Stream1 {
    slot: Slot,
    rx: Receiver<Arc<Record>>,
    next_tick: Instant,
    done: bool,
}

pub(crate) async fn events(State(ops): State<Ops>) -> Response {
    let clients = &ops.0.clients;
    if clients.open.fetch_add(1, Ordering::Relaxed) >= clients.cap {
        clients.open.fetch_sub(1, Ordering::Relaxed);
        clients.refused.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::json!({ "error": "too_many_event_streams", "cap": clients.cap });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let state = Stream1 {
        rx: ops.0.feed.subscribe(),
        slot: Slot(ops),
        // The first snapshot goes out at once.
        next_tick: Instant::now(),
        done: false,
    };
    Sse::new(stream_of(state))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn stream_of(state: Stream1) -> impl Stream<Item = Result<SseEvent, Infallible>> + Send {
    stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        let ops = &s.slot.0;
        let event = match timeout_at(s.next_tick, s.rx.recv()).await {
            Ok(Ok(record)) => {
                let name = if record.kind == "transition" {
                    "transition"
                } else {
                    "config"
                };
                data(name, &record.view(ops.0.feed.now()))
            }
            Ok(Err(RecvError::Lagged(missed))) => {
                ops.0.clients.dropped.fetch_add(1, Ordering::Relaxed);
                s.done = true;
                data("dropped", &serde_json::json!({ "missed": missed }))
            }
            Ok(Err(RecvError::Closed)) => return None,
            Err(_tick) => {
                s.next_tick = Instant::now() + TICK;
                let owned = Owned::read(ops.registry(), &ops.0.feed, false);
                data("snapshot", &owned.view(ops.debug()))
            }
        };
        Some((Ok(event), s))
    })
}

fn data(name: &str, value: &impl Serialize) -> SseEvent {
    let event = SseEvent::default().event(name);
    match serde_json::to_string(value) {
        Ok(json) => event.data(json),
        Err(e) => event.data(format!("{{\"error\":{:?}}}", e.to_string())),
    }
}
