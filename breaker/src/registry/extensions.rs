//! Values that the layers above the registry keep on it (the `on_metrics` hooks of
//! `observe`), type-erased so that the registry knows nothing of their types. Read and
//! written off the call path only.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;

/// One value kept for a layer above; that layer downcasts it.
pub(crate) type Extension = Arc<dyn Any + Send + Sync>;

/// The values, in the order they were added.
#[derive(Default)]
pub(crate) struct Extensions {
    items: ArcSwap<Vec<Extension>>,
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extensions")
            .field("count", &self.items.load().len())
            .finish()
    }
}

impl Extensions {
    pub(crate) fn add(&self, item: Extension) {
        self.items.rcu(|current| {
            let mut next = Vec::with_capacity(current.len() + 1);
            next.extend(current.iter().cloned());
            next.push(Arc::clone(&item));
            next
        });
    }

    /// Every value, as of now (values added meanwhile are not in it).
    pub(crate) fn all(&self) -> Arc<Vec<Extension>> {
        self.items.load_full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(items: &[Extension]) -> Vec<u32> {
        items
            .iter()
            .filter_map(|e| e.downcast_ref::<u32>().copied())
            .collect()
    }

    #[test]
    fn values_keep_their_order_and_a_snapshot_keeps_its_moment() {
        let extensions = Extensions::default();
        assert!(extensions.all().is_empty());
        extensions.add(Arc::new(1_u32));
        extensions.add(Arc::new("not a number"));
        extensions.add(Arc::new(2_u32));
        let before = extensions.all();
        extensions.add(Arc::new(3_u32));
        assert_eq!(numbers(&before), [1, 2]);
        assert_eq!(before.len(), 3);
        assert_eq!(numbers(&extensions.all()), [1, 2, 3]);
        assert_eq!(format!("{extensions:?}"), "Extensions { count: 4 }");
    }

    #[test]
    fn concurrent_adds_all_land() {
        let extensions = Extensions::default();
        std::thread::scope(|s| {
            for t in 0..4_u32 {
                let extensions = &extensions;
                s.spawn(move || {
                    for i in 0..50 {
                        extensions.add(Arc::new(t * 100 + i));
                    }
                });
            }
        });
        let mut all = numbers(&extensions.all());
        assert_eq!(all.len(), 200);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 200);
    }
}
