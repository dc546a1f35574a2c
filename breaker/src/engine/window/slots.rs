//! The per-stripe slot array both windows keep at each level: [`MAX_STRIPES`] slots, each
//! allocated (cache-padded) on its first use and never freed, so a breaker that one thread
//! drives pays for one stripe, not for one per core.

use crossbeam_utils::CachePadded;
use once_cell::sync::Lazy;

use crate::engine::loom_shim::OnceBox;

/// The most stripes any window grows to: the machine's parallelism rounded up to a power of
/// two, at most 64.
pub(super) static MAX_STRIPES: Lazy<usize> = Lazy::new(|| {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .next_power_of_two()
        .min(64)
});

/// What a slot holds: built on first use from its level's capacity.
pub(super) trait Slot {
    /// A fresh, empty value for a level of `capacity`.
    fn with_capacity(capacity: u32) -> Self;
}

/// A level's lazily allocated stripes; see the module docs.
pub(super) struct Slots<T> {
    capacity: u32,
    slots: Box<[OnceBox<CachePadded<T>>]>,
}

impl<T: Slot> Slots<T> {
    pub(super) fn new(capacity: u32) -> Self {
        Self {
            capacity,
            slots: (0..*MAX_STRIPES).map(|_| OnceBox::new()).collect(),
        }
    }

    /// The capacity every slot of this level is built with.
    pub(super) fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The slot for `index` (taken modulo the slot count), allocated on first use. This is
    /// the hot path: the allocation stays out of line.
    #[inline(always)]
    pub(super) fn get(&self, index: usize) -> &T {
        // `slots` holds MAX_STRIPES (a power of two) slots.
        let slot = &self.slots[index & (self.slots.len() - 1)];
        match slot.get() {
            Some(value) => value,
            None => self.init(slot),
        }
    }

    /// A slot's first use allocates it (once per slot, ever).
    #[cold]
    #[inline(never)]
    fn init<'a>(&self, slot: &'a OnceBox<CachePadded<T>>) -> &'a T {
        slot.get_or_init(|| Box::new(CachePadded::new(T::with_capacity(self.capacity))))
    }

    /// The allocated slots.
    pub(super) fn live(&self) -> impl Iterator<Item = &T> {
        self.live_below(self.slots.len())
    }

    /// The allocated slots among the first `count`.
    pub(super) fn live_below(&self, count: usize) -> impl Iterator<Item = &T> {
        self.slots
            .iter()
            .take(count)
            .filter_map(|s| s.get().map(|v| &**v))
    }

    /// The first slot, if allocated.
    pub(super) fn first(&self) -> Option<&T> {
        self.slots.first().and_then(OnceBox::get).map(|v| &**v)
    }
}
