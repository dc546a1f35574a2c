//! What the macros need at run time: `__private` (what their generated code calls) and the
//! macros' own documentation (the code lives in `breaker-macros`).

pub(crate) mod docs;
pub mod private;
