//! How a keyed family's layer picks the key of a request ([`RequestKey`]): the authority of a
//! client's request ([`Authority`]), a server's tenant or route header ([`Header`]), or any
//! function of the request ([`KeyFn`], what [`for_family`](super::CircuitBreakerLayer::for_family)
//! wraps a closure in).

use std::borrow::Cow;
use std::fmt;

/// Picks the key of a request for a keyed family's layer. Borrowing from the request is the
/// cheap case: a key already live costs no allocation.
pub trait RequestKey<Req> {
    /// The request's key (`None`: the layer guards a plain component, no key is needed).
    fn key<'r>(&self, request: &'r Req) -> Option<Cow<'r, str>>;
}

/// The key picker of a layer for a plain component: none.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unkeyed;

impl<Req> RequestKey<Req> for Unkeyed {
    #[inline(always)]
    fn key<'r>(&self, _request: &'r Req) -> Option<Cow<'r, str>> {
        None
    }
}

/// A closure of the request as the key picker (`for_family` builds it).
#[derive(Clone)]
pub struct KeyFn<F>(pub(crate) F);

impl<F> fmt::Debug for KeyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyFn")
    }
}

impl<Req, F> RequestKey<Req> for KeyFn<F>
where
    F: Fn(&Req) -> Cow<'_, str>,
{
    #[inline]
    fn key<'r>(&self, request: &'r Req) -> Option<Cow<'r, str>> {
        Some((self.0)(request))
    }
}

/// For a client: the request URI's authority (`host:port`), or the `Host` header when the URI
/// has none; an empty key when neither is there (such requests then share one breaker).
#[derive(Debug, Clone, Copy, Default)]
pub struct Authority;

impl<B> RequestKey<http::Request<B>> for Authority {
    fn key<'r>(&self, request: &'r http::Request<B>) -> Option<Cow<'r, str>> {
        let from_uri = request.uri().authority().map(|a| a.as_str());
        let from_host = || {
            request
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        };
        Some(Cow::Borrowed(
            from_uri.or_else(from_host).unwrap_or_default(),
        ))
    }
}

/// For a server: the value of a header naming the tenant or route (`x-tenant-id`); an empty
/// key when the header is missing or not visible ASCII.
#[derive(Debug, Clone)]
pub struct Header(pub http::HeaderName);

impl<B> RequestKey<http::Request<B>> for Header {
    fn key<'r>(&self, request: &'r http::Request<B>) -> Option<Cow<'r, str>> {
        let value = request
            .headers()
            .get(&self.0)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        Some(Cow::Borrowed(value))
    }
}

#[allow(clippy::unwrap_used)]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closure_picker_is_debug_without_the_closure_being_debug() {
        fn path(r: &http::Request<()>) -> Cow<'_, str> {
            Cow::Borrowed(r.uri().path())
        }
        let picker = KeyFn(path);
        assert_eq!(format!("{picker:?}"), "KeyFn");
        let request = http::Request::get("/orders").body(()).unwrap();
        assert_eq!(picker.key(&request).as_deref(), Some("/orders"));
    }
}
