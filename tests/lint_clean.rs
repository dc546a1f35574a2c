//! crate docs: a crate as strict as a user's can be, to prove that the code `breakers!` and
//! `#[circuit_breaker]` generate triggers no lint. Nothing here is allowed: if a lint fires,
//! the macro's output is at fault.
#![deny(warnings, unused_qualifications, missing_docs, clippy::pedantic)]

use std::fmt;
use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use breaker::{circuit_breaker, CircuitConfig, CircuitError, GlobalCircuitBreaker};

breaker::breakers! {
    /// The venue's REST API.
    venue_rest { min_calls: 5, open_cooldown: Duration::from_secs(5) },
    /// The venue's market-data websocket.
    venue_ws,
}

/// A registry of its own, for the functions that name one.
pub static REGISTRY: LazyLock<GlobalCircuitBreaker> =
    LazyLock::new(|| match GlobalCircuitBreaker::new(CircuitConfig::DEFAULT) {
        Ok(registry) => registry,
        Err(e) => unreachable!("the default config is valid: {e}"),
    });

/// What the venue's client can fail with.
#[derive(Debug, PartialEq, Eq)]
pub enum ApiError {
    /// An HTTP status.
    Status(u16),
    /// The breaker refused the call.
    Refused(&'static str),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(code) => write!(f, "HTTP {code}"),
            Self::Refused(reason) => write!(f, "refused: {reason}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<CircuitError> for ApiError {
    fn from(e: CircuitError) -> Self {
        Self::Refused(e.reason())
    }
}

/// Whether `e` says the venue is unhealthy.
#[must_use]
pub fn is_server_error(e: &ApiError) -> bool {
    matches!(e, ApiError::Status(500..=599))
}

/// Whether `e` is a missing resource (says nothing about the venue's health).
#[must_use]
pub fn is_not_found(e: &ApiError) -> bool {
    matches!(e, ApiError::Status(404))
}

/// The last known price of `symbol`, served when the venue's breaker refuses.
///
/// # Errors
///
/// `ApiError::Status(404)` for an unknown symbol.
pub fn cached_price(symbol: &str) -> Result<u64, ApiError> {
    if symbol.is_empty() {
        Err(ApiError::Status(404))
    } else {
        Ok(1)
    }
}

/// The price of `symbol`.
///
/// # Errors
///
/// The venue's error, or the cache's when the breaker refuses.
#[circuit_breaker(component = "venue_rest", failure_if = is_server_error, ignore_if = is_not_found, fallback = cached_price)]
pub fn price(symbol: &str) -> Result<u64, ApiError> {
    if symbol.is_empty() {
        return Err(ApiError::Status(404));
    }
    let len = u64::try_from(symbol.len()).map_err(|_| ApiError::Status(400))?;
    Ok(len * 10)
}

/// The order book depth of `symbol`.
///
/// # Errors
///
/// The venue's error, or [`ApiError::Refused`] when the breaker refuses.
#[circuit_breaker(component = "venue_ws", registry = REGISTRY)]
pub async fn depth(symbol: &str) -> Result<usize, ApiError> {
    let symbol = futures::future::ready(symbol).await;
    if symbol.is_empty() {
        return Err(ApiError::Status(400));
    }
    Ok(symbol.len())
}

/// A client for the venue.
#[derive(Debug, Default)]
pub struct Client {
    requests: u32,
}

impl Client {
    /// Requests sent so far.
    ///
    /// # Errors
    ///
    /// [`ApiError::Refused`] when the breaker refuses.
    #[circuit_breaker(component = venue_rest, registry = REGISTRY, ignore_if = is_not_found)]
    pub fn requests(&self) -> Result<u32, ApiError> {
        Ok(self.requests)
    }

    /// The server time, counting the request.
    ///
    /// # Errors
    ///
    /// The venue's error, or [`ApiError::Refused`] when the breaker refuses.
    #[circuit_breaker(component = "venue_ws", failure_if = is_server_error)]
    pub async fn server_time(&mut self) -> Result<u64, ApiError> {
        self.requests += 1;
        let time = futures::future::ready(1_700_000_000).await;
        Ok(time)
    }

    /// The cached server time, served when the breaker refuses.
    ///
    /// # Errors
    ///
    /// Never, but it must return the same type as [`Client::ticker`].
    pub async fn cached_ticker(&self, symbol: &str) -> Result<u64, ApiError> {
        futures::future::ready(u64::from(self.requests) + u64::from(symbol.is_empty())).await;
        Ok(0)
    }

    /// The ticker of `symbol`.
    ///
    /// # Errors
    ///
    /// The venue's error.
    #[circuit_breaker(component = "venue_ws", fallback = Self::cached_ticker)]
    pub async fn ticker(&self, symbol: &str) -> Result<u64, ApiError> {
        let symbol = futures::future::ready(symbol).await;
        Ok(u64::from(symbol.is_empty()))
    }
}

/// How many of `items` display as something.
///
/// # Errors
///
/// [`ApiError::Status`] 400 when none does.
#[circuit_breaker(component = "venue_rest", registry = REGISTRY)]
pub fn count<T, I>(items: I) -> Result<usize, ApiError>
where
    T: fmt::Display,
    I: IntoIterator<Item = T>,
{
    match items
        .into_iter()
        .filter(|item| !item.to_string().is_empty())
        .count()
    {
        0 => Err(ApiError::Status(400)),
        n => Ok(n),
    }
}

/// A future for the spread of `symbol`; only its tail `async move` block is protected.
///
/// # Errors
///
/// [`ApiError::Refused`] when the breaker refuses.
#[circuit_breaker(component = "venue_ws", registry = REGISTRY)]
pub fn spread(symbol: &str) -> impl Future<Output = Result<usize, ApiError>> + Send + '_ {
    let len = symbol.len();
    async move {
        futures::future::ready(()).await;
        Ok(len + symbol.len())
    }
}

/// Functions in a module below the manifest's.
pub mod nested {
    use breaker::circuit_breaker;

    use super::{ApiError, REGISTRY};

    /// Whether the websocket answers.
    ///
    /// # Errors
    ///
    /// [`ApiError::Refused`] when the breaker refuses.
    #[circuit_breaker(component = "venue_ws", registry = REGISTRY)]
    pub fn ping() -> Result<bool, ApiError> {
        Ok(true)
    }

    /// Waits for the websocket's next heartbeat.
    ///
    /// # Errors
    ///
    /// [`ApiError::Refused`] when the breaker refuses.
    #[circuit_breaker(component = "venue_ws")]
    pub async fn heartbeat() -> Result<u32, ApiError> {
        Ok(futures::future::ready(1).await)
    }
}

#[test]
fn the_strictly_linted_functions_work() {
    assert_eq!(price("BTC"), Ok(30));
    assert_eq!(price(""), Err(ApiError::Status(404)));
    let mut client = Client::default();
    futures::executor::block_on(async {
        assert_eq!(depth("ETH").await, Ok(3));
        assert_eq!(client.server_time().await, Ok(1_700_000_000));
        assert_eq!(client.ticker("BTC").await, Ok(0));
    });
    assert_eq!(client.requests(), Ok(1));
    assert_eq!(count(["a", "", "b"]), Ok(2));
    assert_eq!(count(Vec::<u8>::new()), Err(ApiError::Status(400)));
    assert_eq!(futures::executor::block_on(spread("BTC")), Ok(6));
    assert_eq!(nested::ping(), Ok(true));
    assert_eq!(futures::executor::block_on(nested::heartbeat()), Ok(1));
    assert_eq!(breakers::ALL.len(), 2);
}
