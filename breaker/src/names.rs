//! Component names, interned. A registry never forgets a component, so each distinct name is
//! stored once for the life of the process; rejections then carry a `&'static str` and never
//! allocate or touch a shared reference count on the refusal path.

use dashmap::DashSet;
use once_cell::sync::Lazy;

static NAMES: Lazy<DashSet<&'static str>> = Lazy::new(DashSet::new);

/// The key of the derived global fuse.
pub const GLOBAL: &str = "__global__";

/// The interned copy of `name`.
pub(crate) fn intern(name: &str) -> &'static str {
    if let Some(existing) = NAMES.get(name) {
        return *existing;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    // Two threads may race here; both leak once, one wins the set, and both return an equal
    // string, which is all callers rely on.
    NAMES.insert(leaked);
    leaked
}

/// Why a runtime name is refused: empty, too long, reserved, or outside `[A-Za-z0-9_.:-]`.
pub(crate) fn check(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.len() > 128 {
        return Err("must be at most 128 bytes");
    }
    if name.starts_with("__") {
        return Err("names starting with `__` are reserved (`__global__` is the global fuse)");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
    {
        return Err("may only contain ASCII letters, digits, `_`, `-`, `.` and `:`");
    }
    Ok(())
}
