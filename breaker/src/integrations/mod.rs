//! Breakers in other frameworks' clothes: a tower layer (feature `tower`) and a read-only axum
//! router (feature `http`). Each is reached at its own public path (`breaker::layer`,
//! `breaker::http`), re-exported from the crate root.

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
