//! Every atomic and lock the engine uses comes through here, so a loom model can swap them
//! for loom's instrumented versions with `RUSTFLAGS="--cfg breaker_loom"` (not plain `loom`, which would also switch tokio into its own loom mode).

#[cfg(breaker_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicU8, Ordering};
#[cfg(breaker_loom)]
pub(crate) use loom::sync::{Mutex, RwLock};

#[cfg(not(breaker_loom))]
pub(crate) use parking_lot::{Mutex, RwLock};
#[cfg(not(breaker_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicU8, Ordering};

// The thread-probe seed (window/mod.rs) and `FakeClock` stay on std atomics on purpose: the
// first is a per-thread hint whose value never affects correctness, the second is a test aid.

/// Lazily allocated stripe slots. `OnceBox` races instead of blocking: two threads may both
/// allocate, one wins, the other frees its box, and nobody waits.
pub(crate) use once_cell::race::OnceBox;

/// Locks a mutex whichever implementation backs it. parking_lot's never poisons; loom's
/// (std-like) one can only be poisoned by a panic that the model would already report.
#[cfg(not(breaker_loom))]
pub(crate) fn lock<T>(m: &Mutex<T>) -> parking_lot::MutexGuard<'_, T> {
    m.lock()
}

#[cfg(breaker_loom)]
pub(crate) fn lock<T>(m: &Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A read lock, whichever implementation backs it (see [`lock`] on poisoning).
#[cfg(not(breaker_loom))]
pub(crate) fn read<T>(m: &RwLock<T>) -> parking_lot::RwLockReadGuard<'_, T> {
    m.read()
}

/// A write lock, whichever implementation backs it.
#[cfg(not(breaker_loom))]
pub(crate) fn write<T>(m: &RwLock<T>) -> parking_lot::RwLockWriteGuard<'_, T> {
    m.write()
}

#[cfg(breaker_loom)]
pub(crate) fn read<T>(m: &RwLock<T>) -> loom::sync::RwLockReadGuard<'_, T> {
    match m.read() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(breaker_loom)]
pub(crate) fn write<T>(m: &RwLock<T>) -> loom::sync::RwLockWriteGuard<'_, T> {
    match m.write() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
