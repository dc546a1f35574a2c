//! Strict mode: whether a config file may name a component that is neither registered nor
//! declared (see [`RegistryBuilder::strict`](super::RegistryBuilder::strict)).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Unset: strict mode follows whether a manifest was declared.
const AUTO: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;

/// Strict mode as set, and whether a `breakers!` manifest was declared (which turns an unset
/// strict mode on).
#[derive(Debug)]
pub(super) struct Strictness {
    set: AtomicU8,
    declared: AtomicBool,
}

impl Strictness {
    pub(super) const fn new() -> Self {
        Self {
            set: AtomicU8::new(AUTO),
            declared: AtomicBool::new(false),
        }
    }

    /// `None`: follow the manifest.
    pub(super) fn set(&self, strict: Option<bool>) {
        let value = match strict {
            None => AUTO,
            Some(true) => ON,
            Some(false) => OFF,
        };
        self.set.store(value, Ordering::Relaxed);
    }

    pub(super) fn manifest_declared(&self) {
        self.declared.store(true, Ordering::Relaxed);
    }

    pub(super) fn is_strict(&self) -> bool {
        match self.set.load(Ordering::Relaxed) {
            ON => true,
            OFF => false,
            _ => self.declared.load(Ordering::Relaxed),
        }
    }
}
