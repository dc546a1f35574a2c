//! Helpers shared by the workspace's integration tests, benches and examples.

use std::sync::{Arc, Mutex, PoisonError};

use breaker::{CircuitState, Event, GlobalCircuitBreaker, Transition};

/// Records every event a registry emits, for assertions.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    events: Arc<Mutex<Vec<Event>>>,
}

impl EventLog {
    /// A log attached to `registry`.
    pub fn attach(registry: &GlobalCircuitBreaker) -> Self {
        let log = Self::default();
        let sink = log.clone();
        registry.on_event(move |e| sink.push(e.clone()));
        log
    }

    /// A hook that appends to this log, for builders.
    pub fn hook(&self) -> impl Fn(&Event) + Send + Sync + 'static {
        let sink = self.clone();
        move |e| sink.push(e.clone())
    }

    fn push(&self, e: Event) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(e);
    }

    /// Everything so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The state changes so far.
    pub fn transitions(&self) -> Vec<Transition> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::StateChanged(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    /// `(component, from, to)` of each state change, in order.
    pub fn moves(&self) -> Vec<(&'static str, CircuitState, CircuitState)> {
        self.transitions()
            .into_iter()
            .map(|t| (t.component, t.from, t.to))
            .collect()
    }
}
