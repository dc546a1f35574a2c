//! [`CircuitState`] and the packed state word the hot path reads.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a breaker is in its state machine. Stored as a `u8` inside one atomic word (see the
/// crate docs for the transition table).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls flow; outcomes are counted and the trip rules are evaluated on failures.
    Closed = 0,
    /// Calls are rejected until `open_cooldown` (grown by the backoff) has passed.
    Open = 1,
    /// Up to `half_open_max_concurrent` probes are let through to decide between closing and
    /// re-opening.
    HalfOpen = 2,
    /// Manually isolated: every call is rejected until [`reset`](crate::ComponentBreaker::reset).
    ForcedOpen = 3,
    /// Manually disabled: every call is let through and counted, nothing ever trips, until
    /// [`reset`](crate::ComponentBreaker::reset).
    Disabled = 4,
}

impl CircuitState {
    /// Every state, in `repr` order (for metrics that export one series per state).
    pub const ALL: [CircuitState; 5] = [
        Self::Closed,
        Self::Open,
        Self::HalfOpen,
        Self::ForcedOpen,
        Self::Disabled,
    ];

    /// The snake_case name used in logs, metrics and config files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
            Self::ForcedOpen => "forced_open",
            Self::Disabled => "disabled",
        }
    }

    /// `Open` or `HalfOpen`: the states that count toward the global fuse's ratio. Manual
    /// isolation does not, so an operator taking components out for maintenance cannot trip it.
    pub const fn is_unhealthy(self) -> bool {
        matches!(self, Self::Open | Self::HalfOpen)
    }

    const fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Open,
            2 => Self::HalfOpen,
            3 => Self::ForcedOpen,
            4 => Self::Disabled,
            _ => Self::Closed,
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State and generation in one `u64`: the low byte is the state, the rest counts transitions.
/// A guard remembers the generation it was admitted under, so an outcome that arrives after
/// the breaker moved on cannot count toward the new episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateWord(pub(crate) u64);

impl StateWord {
    pub(crate) const INITIAL: Self = Self(0);

    /// The word as the atomic stores it.
    pub(crate) const fn bits(self) -> u64 {
        self.0
    }

    #[inline]
    pub(crate) const fn state(self) -> CircuitState {
        CircuitState::from_u8((self.0 & 0xff) as u8)
    }

    #[inline]
    pub(crate) const fn generation(self) -> u64 {
        self.0 >> 8
    }

    /// The word after a transition to `to`: the next generation, wrapping after 2^56.
    pub(crate) const fn next(self, to: CircuitState) -> Self {
        let generation = (self.generation().wrapping_add(1)) & ((1 << 56) - 1);
        Self((generation << 8) | to as u64)
    }
}

/// The low 32 bits of a generation: the episode tag of the half-open probe word and of the
/// failure run, which share their `u64` with counts. Two episodes share a tag only 2^32
/// transitions apart, long after anything counted in the older one has been decided.
pub(crate) const fn episode_tag(generation: u64) -> u32 {
    generation as u32
}
