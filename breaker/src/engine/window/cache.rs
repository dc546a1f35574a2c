//! The trip check's cache: the fold of the buckets before the current one, valid while the
//! current bucket, the episode, the geometry and the stripe count stay what they were (its
//! key: the current bucket's tag and the geometry word). Written as a seqlock by whichever
//! failure first misses it; a reader that meets a write in progress folds in full instead.

use crate::engine::loom_shim::{fence, AtomicU64, Ordering};

/// See the module docs: `[calls, failures, slow]` of the earlier buckets under their key.
/// 48 bytes, in the padding of the breaker's failure line.
#[derive(Debug, Default)]
pub(crate) struct FoldCache {
    /// Even: stable; odd: being written.
    seq: AtomicU64,
    key: [AtomicU64; 2],
    parts: [AtomicU64; 3],
}

impl FoldCache {
    /// The cached parts for `key`, if they are there and were read whole.
    #[inline]
    pub(crate) fn get(&self, key: [u64; 2]) -> Option<[u64; 3]> {
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        let found = self.key.each_ref().map(|k| k.load(Ordering::Relaxed));
        let parts = self.parts.each_ref().map(|p| p.load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        (found == key && self.seq.load(Ordering::Relaxed) == before).then_some(parts)
    }

    /// Leaves `parts` under `key`, unless another writer is at it (then it is theirs).
    pub(crate) fn put(&self, key: [u64; 2], parts: [u64; 3]) {
        let before = self.seq.load(Ordering::Relaxed);
        if before & 1 == 1
            || self
                .seq
                .compare_exchange(before, before + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        fence(Ordering::Release);
        for (k, v) in self.key.iter().zip(key) {
            k.store(v, Ordering::Relaxed);
        }
        for (p, v) in self.parts.iter().zip(parts) {
            p.store(v, Ordering::Relaxed);
        }
        self.seq.store(before + 2, Ordering::Release);
    }
}
