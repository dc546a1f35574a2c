//! What every route of the read-only router shares: the registry, the event feed and the
//! limits the builder set.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::feed::Feed;
use super::json::RouterDebug;
use crate::GlobalCircuitBreaker;

/// The registry, whichever way the caller holds it (an `Arc`, the `&'static` of
/// [`crate::registry`]).
pub(crate) type Registry = Arc<dyn Deref<Target = GlobalCircuitBreaker> + Send + Sync>;

/// The routes' state: cheap to clone.
#[derive(Clone)]
pub(crate) struct Ops(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("feed", &self.0.feed)
            .field("clients", &self.0.clients)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) registry: Registry,
    pub(crate) feed: Arc<Feed>,
    /// The components whose being open makes `GET /health` degraded; `None`: the fuse.
    pub(crate) critical: Option<Vec<String>>,
    pub(crate) clients: Clients,
    /// `GET /events/recent`'s default and largest `limit`.
    pub(crate) recent: usize,
}

/// The SSE clients' counters.
#[derive(Debug, Default)]
pub(crate) struct Clients {
    pub(crate) cap: usize,
    pub(crate) open: AtomicUsize,
    pub(crate) dropped: AtomicU64,
    pub(crate) refused: AtomicU64,
}

impl Ops {
    pub(crate) fn registry(&self) -> &GlobalCircuitBreaker {
        &self.0.registry
    }

    pub(crate) fn debug(&self) -> RouterDebug {
        let c = &self.0.clients;
        RouterDebug {
            sse_clients: c.open.load(Ordering::Relaxed),
            sse_cap: c.cap,
            sse_dropped: c.dropped.load(Ordering::Relaxed),
            sse_refused: c.refused.load(Ordering::Relaxed),
            feed_missed: self.0.feed.missed.load(Ordering::Relaxed),
        }
    }
}
