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
