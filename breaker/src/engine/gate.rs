//! Gates: verdicts held over a breaker from above.
//!
//! A breaker's own state says how *it* is. A gate says what its owner concluded from
//! elsewhere: the registry's global fuse (too many components are unhealthy), and later a
//! keyed family's roll-up or the fleet quorum. Each owner holds one bit of the breaker's gate
//! word; admission in `Closed` loads the word once (it sits beside the state word, in the
//! same cache line) and, only when some bit is held, asks the breaker's owner
//! ([`Owner::refusal`](super::events::Owner::refusal)) for the refusal: the reason, the retry
//! hint and whatever detail the owner keeps. A new owner therefore needs a bit and an answer
//! in its owner's `refusal`, and no change here.
//!
//! Orderings are relaxed. An owner holds a gate *before* it makes its verdict observable (the
//! fuse holds every member's gate under its own transition lock, before it publishes its
//! `Open` state with a release store; a member registered while the fuse is open has its gate
//! held before the registry makes it visible), so a caller that has seen the verdict loads
//! the gate word after the hold in happens-before order and sees it. An owner releases a gate
//! after its verdict is observably over, so nobody is let through while it still shows.

use super::loom_shim::{AtomicU64, Ordering};

/// One owner's bit of a gate word. Owners pick their bit in a `const` item, where a bit past
/// 63 does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GateKey(u64);

impl GateKey {
    pub(crate) const fn new(bit: u32) -> Self {
        Self(1 << bit)
    }
}

/// The gates held over a breaker at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held(u64);

impl Held {
    /// No gate is held: nothing above refuses this breaker's calls.
    #[inline]
    pub(crate) const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `key`'s owner holds its gate: an owner of several bits (the registry, for the
    /// fuse and the fleet) tells its verdicts apart with it.
    #[inline]
    pub(crate) const fn contains(self, key: GateKey) -> bool {
        self.0 & key.0 != 0
    }
}

/// A breaker's gate word: one bit per owner holding its gate.
#[derive(Debug)]
pub(crate) struct Gate(AtomicU64);

impl Gate {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// The gates held now: one relaxed load (see the module docs for why it suffices).
    #[inline]
    pub(crate) fn held(&self) -> Held {
        Held(self.0.load(Ordering::Relaxed))
    }

    /// Holds `key`'s gate: from now on a `Closed` breaker refuses with its owner's verdict.
    pub(crate) fn hold(&self, key: GateKey) {
        self.0.fetch_or(key.0, Ordering::Relaxed);
    }

    /// Releases `key`'s gate.
    pub(crate) fn release(&self, key: GateKey) {
        self.0.fetch_and(!key.0, Ordering::Relaxed);
    }
}

// Not in the loom build (`--cfg breaker_loom`), which runs only the models.
#[cfg(not(breaker_loom))]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_owner_holds_and_releases_its_own_bit() {
        const FUSE: GateKey = GateKey::new(0);
        const FLEET: GateKey = GateKey::new(63);
        let gate = Gate::new();
        assert!(gate.held().is_empty());
        gate.hold(FUSE);
        gate.hold(FLEET);
        gate.hold(FUSE);
        assert_eq!(gate.held(), Held(1 | 1 << 63));
        gate.release(FUSE);
        assert_eq!(gate.held(), Held(1 << 63), "the other owner's bit stays");
        gate.release(FUSE);
        assert_eq!(
            gate.held(),
            Held(1 << 63),
            "releasing twice changes nothing"
        );
        gate.release(FLEET);
        assert!(gate.held().is_empty());
    }
}
