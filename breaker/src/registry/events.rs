//! The registry's event bus: [`Event`], the hooks that hear them, and their `tracing` output.
//! Everything here runs on transitions and reloads only, never per call; counters for export
//! are read from the engine's own atomics at snapshot time.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::ConfigError;
use crate::engine::{events, Transition};
use crate::names::ComponentName;

/// Everything the hooks registered with [`on_event`](crate::GlobalCircuitBreaker::on_event)
/// are told.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A breaker changed state.
    StateChanged(Transition),
    /// A new config was validated and is now in force.
    ConfigReloaded {
        /// The component, or `None` for the registry's defaults.
        component: Option<ComponentName>,
    },
    /// A config was refused; the previous one stays in force. Also emitted, with the
    /// operation accepted, when the layering of a `breakers!` entry's component broke a rule
    /// between one of the entry's fields and another layer's, and the other field took its
    /// built-in value (the manifest conflict rule, see [Config files](crate#config-files)); `error`
    /// then names the rule, both fields, their values and layers. Reported once per conflict.
    ConfigRefused {
        /// The component the refused config was for (registered or not yet: a file's
        /// section can name one that registers later), as [`ConfigError::component`] names
        /// it; `None` for the registry's defaults.
        component: Option<ComponentName>,
        /// What was wrong with it, and where each value involved came from.
        error: ConfigError,
    },
    /// A `breakers!` entry was declared for a component that already has its own whole
    /// config in code ([`register_with`](crate::GlobalCircuitBreaker::register_with) or
    /// [`reload_component`](crate::GlobalCircuitBreaker::reload_component)): that config
    /// wins over the entry, whichever came first, and the entry's fields do not apply.
    /// Emitted once per component.
    ManifestEntryIgnored {
        /// The component.
        component: ComponentName,
    },
    /// A config file was put in force.
    FileReloaded {
        /// The file (`None` for [`reload_from_str`](crate::GlobalCircuitBreaker::reload_from_str)).
        path: Option<std::path::PathBuf>,
        /// `[components.<name>]` sections naming no registered component.
        unknown_components: Vec<String>,
    },
    /// A config file was refused; the running config stays in force.
    FileRefused {
        /// The file.
        path: Option<std::path::PathBuf>,
        /// The [`FileError`](crate::FileError), rendered: file, line, field and rule.
        error: String,
    },
    /// A keyed family's overflow episode started (`active: true`: the family is full, no key
    /// could be evicted, and new keys now share its one overflow breaker) or ended (`active:
    /// false`: a new key got a breaker of its own again). Once per change, not per call.
    FamilyOverflow {
        /// The family.
        family: ComponentName,
        /// Whether new keys go to the overflow breaker from now on.
        active: bool,
        /// Calls sent to the overflow breaker so far (over the family's lifetime).
        calls: u64,
    },
    /// A keyed family's ejection cap (`max_open_ratio`) kept a key `Closed` whose trip rule
    /// fired: once per capped episode (until the share of unhealthy keys falls below the cap
    /// again); every capped trip is counted in the family's snapshot.
    FamilyCapped {
        /// The key's breaker that stayed closed (its name knows family and key).
        component: ComponentName,
        /// Keys `Open` or `HalfOpen`.
        unhealthy: u32,
        /// Live keys.
        live: u32,
    },
    /// The fleet quorum (feature `fleet`) saw something: Redis lost or regained, a quorum
    /// verdict reached or lifted, an operator's fleet-wide force or release.
    Fleet(FleetEvent),
}

/// What the fleet quorum tells the hooks (feature `fleet`; see [`Event::Fleet`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FleetEvent {
    /// Redis is reachable again (or for the first time): reports flow, verdicts are fresh.
    Connected {
        /// This replica's id.
        replica: String,
    },
    /// Redis is unreachable, slow or refused this replica (auth, say): the replica serves on
    /// its local breakers; verdicts older than `stale_after` refuse nothing. Emitted once per
    /// loss, including a start that could not read the fleet.
    Disconnected {
        /// This replica's id.
        replica: String,
        /// Why, as the client says it (`WRONGPASS ...`, `connection refused`, a timeout).
        error: String,
    },
    /// A quorum of live replicas reports the component open: this replica's `Closed` breaker
    /// refuses with [`CircuitError::FleetOpen`](crate::CircuitError::FleetOpen).
    QuorumOpen {
        /// The component.
        component: ComponentName,
        /// Live replicas reporting it open, this one included.
        open_replicas: u32,
        /// Live replicas, this one included.
        live_replicas: u32,
    },
    /// The quorum verdict no longer holds (replicas recovered, expired, or the verdict went
    /// stale without Redis): calls are let through again.
    QuorumLifted {
        /// The component.
        component: ComponentName,
    },
    /// An operator forced the component open fleet-wide; this replica's breaker is forced
    /// open.
    ForcedOpen {
        /// The component.
        component: ComponentName,
        /// Who set it, as the operator named themselves.
        by: String,
    },
    /// An operator released a fleet-wide force; this replica's breaker is reset.
    Released {
        /// The component.
        component: ComponentName,
        /// Who released it.
        by: String,
    },
}

pub(crate) type Hook = Arc<dyn Fn(&Event) + Send + Sync>;

/// The registered hooks. Read with one `ArcSwap` load per event; a hook that panics is caught
/// and logged, so it cannot poison the breaker or stop the other hooks.
#[derive(Default)]
pub(crate) struct Hooks {
    hooks: ArcSwap<Vec<Hook>>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("count", &self.hooks.load().len())
            .finish()
    }
}

impl Hooks {
    pub(crate) fn add(&self, hook: Hook) {
        self.hooks.rcu(|current| {
            let mut next = Vec::with_capacity(current.len() + 1);
            next.extend(current.iter().cloned());
            next.push(hook.clone());
            next
        });
    }

    pub(crate) fn emit(&self, event: &Event) {
        trace(event);
        for hook in self.hooks.load().iter() {
            if catch_unwind(AssertUnwindSafe(|| hook(event))).is_err() {
                tracing::error!(target: "breaker", "a breaker event hook panicked; the breaker is unaffected");
            }
        }
    }
}

/// Structured logs: a transition as the engine logs it, `warn` for a refused config or a kept
/// manifest entry, `info` for the rest.
fn trace(event: &Event) {
    match event {
        Event::StateChanged(t) => events::trace(t),
        Event::ConfigReloaded { component } => {
            tracing::info!(target: "breaker", component = component.as_deref().unwrap_or("*"), "breaker config reloaded")
        }
        Event::FileReloaded {
            path,
            unknown_components,
        } => {
            tracing::info!(target: "breaker", file = ?path, unknown = ?unknown_components, "breaker config file reloaded")
        }
        Event::FileRefused { path, error } => {
            tracing::warn!(target: "breaker", file = ?path, %error, "breaker config file refused; the running config stays in force")
        }
        Event::ManifestEntryIgnored { component } => {
            tracing::warn!(target: "breaker", component = component.as_str(), "a breakers! entry was declared for a component with its own config in code, which is kept; the entry's fields do not apply")
        }
        Event::FamilyOverflow {
            family,
            active: true,
            calls,
        } => {
            tracing::warn!(target: "breaker", family = family.as_str(), calls, "keyed family full with nothing evictable: new keys share the overflow breaker")
        }
        Event::FamilyOverflow {
            family,
            active: false,
            calls,
        } => {
            tracing::info!(target: "breaker", family = family.as_str(), calls, "keyed family overflow over: new keys get their own breaker")
        }
        Event::FamilyCapped {
            component,
            unhealthy,
            live,
        } => {
            tracing::warn!(target: "breaker", component = component.as_str(), unhealthy, live, "keyed family ejection cap reached: the key stays closed")
        }
        Event::Fleet(event) => trace_fleet(event),
        Event::ConfigRefused { component, error } => {
            tracing::warn!(target: "breaker", component = component.as_deref().unwrap_or("*"), %error, "breaker config refused; the running config stays in force")
        }
    }
}

fn trace_fleet(event: &FleetEvent) {
    match event {
        FleetEvent::Connected { replica } => {
            tracing::info!(target: "breaker", replica = replica.as_str(), "fleet connected to Redis")
        }
        FleetEvent::Disconnected { replica, error } => {
            tracing::warn!(target: "breaker", replica = replica.as_str(), %error, "fleet disconnected from Redis; serving on local breakers")
        }
        FleetEvent::QuorumOpen {
            component,
            open_replicas,
            live_replicas,
        } => {
            tracing::warn!(target: "breaker", component = component.as_str(), open_replicas, live_replicas, "fleet quorum open")
        }
        FleetEvent::QuorumLifted { component } => {
            tracing::info!(target: "breaker", component = component.as_str(), "fleet quorum lifted")
        }
        FleetEvent::ForcedOpen { component, by } => {
            tracing::warn!(target: "breaker", component = component.as_str(), by = by.as_str(), "forced open fleet-wide")
        }
        FleetEvent::Released { component, by } => {
            tracing::info!(target: "breaker", component = component.as_str(), by = by.as_str(), "fleet-wide force released")
        }
    }
}
