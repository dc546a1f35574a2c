//! Every shape `key = ..` supports: sync, async, a future tail, a method keyed by `&self`,
//! a key from a `String` argument (still usable in the body), a borrowed `&str`, a fallback.
use std::future::Future;
use std::io;

use breaker::{circuit_breaker, CallError};

breaker::breakers! {
    /// A breaker per upstream host.
    upstream_host[] { max_keys: 100, error_rate_threshold: 0.3 },
    tenant[],
    venue,
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[circuit_breaker(component = "upstream_host", key = host)]
fn sync_borrowed(host: &str) -> Result<usize, CallError<io::Error>> {
    Ok(host.len())
}

#[circuit_breaker(component = "tenant", key = tenant)]
fn from_string(tenant: String) -> Result<String, CallError<io::Error>> {
    Ok(tenant)
}

#[circuit_breaker(component = "tenant", key = format!("t-{id}"))]
async fn async_formatted(id: u32) -> Result<u32, CallError<io::Error>> {
    Ok(id)
}

#[circuit_breaker(component = "upstream_host", key = url.split('/').next().unwrap_or_default())]
fn returns_impl_future(url: String) -> impl Future<Output = Result<String, CallError<io::Error>>> + Send {
    async move { Ok(url) }
}

struct Client {
    host: String,
}

impl Client {
    #[circuit_breaker(component = "upstream_host", key = self.host)]
    async fn get(&self, path: &str) -> Result<String, CallError<io::Error>> {
        Ok(format!("{}{path}", self.host))
    }

    #[circuit_breaker(component = "upstream_host", key = &self.host, fallback = Self::cached)]
    fn get_or_cached(&self, path: String) -> Result<String, io::Error> {
        Ok(path)
    }

    fn cached(&self, path: String) -> Result<String, io::Error> {
        Ok(format!("cached {path}"))
    }
}

#[circuit_breaker(component = "venue")]
fn plain() -> Result<(), CallError<io::Error>> {
    Ok(())
}

fn main() {
    assert_eq!(sync_borrowed("a.example").ok(), Some(9));
    assert_eq!(from_string("acme".to_owned()).ok().as_deref(), Some("acme"));
    let client = Client {
        host: "b.example".to_owned(),
    };
    let _ = assert_send(async_formatted(1));
    let _ = assert_send(returns_impl_future("c.example/x".to_owned()));
    let _ = assert_send(client.get("/x"));
    assert_eq!(client.get_or_cached("/y".to_owned()).ok().as_deref(), Some("/y"));
    assert!(plain().is_ok());
    assert_eq!(breakers::FAMILIES.len(), 2);
    assert!(breakers::upstream_host.family().get("a.example").is_some());
    assert!(breakers::tenant.family().get("acme").is_some());
}
