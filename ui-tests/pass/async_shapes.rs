//! Every async shape `#[circuit_breaker]` supports; each future must stay `Send`.
use std::future::Future;
use std::io;
use std::pin::Pin;

use breaker::circuit_breaker;

breaker::breakers! { venue }

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[circuit_breaker(component = "venue")]
async fn free(x: u32) -> io::Result<u32> {
    if x == 0 {
        return Err(io::Error::other("zero"));
    }
    let parsed: u32 = "2".parse().map_err(io::Error::other)?;
    Ok(x * parsed)
}

#[circuit_breaker(component = "venue")]
async fn borrow_of_mut_arg(v: &mut Vec<u8>) -> Result<&mut u8, io::Error> {
    v.push(1);
    v.last_mut().ok_or_else(|| io::Error::other("empty"))
}

#[circuit_breaker(component = "venue")]
fn returns_impl_future(x: u32) -> impl Future<Output = Result<u32, io::Error>> + Send {
    let doubled = x * 2; // statements before the tail are left alone
    async move { Ok(doubled) }
}

#[circuit_breaker(component = "venue")]
fn returns_boxed_future(x: u32) -> Pin<Box<dyn Future<Output = Result<u32, io::Error>> + Send>> {
    Box::pin(async move { Ok(x + 1) })
}

struct Client;

impl Client {
    #[circuit_breaker(component = "venue")]
    async fn method(&self, x: u32) -> Result<u32, io::Error> {
        Ok(x)
    }
}

trait NativeAsync {
    async fn ticker(&self) -> Result<u32, io::Error>;
}

impl NativeAsync for Client {
    #[circuit_breaker(component = "venue")]
    async fn ticker(&self) -> Result<u32, io::Error> {
        Ok(7)
    }
}

#[async_trait::async_trait]
trait Exchange {
    async fn depth(&self, levels: u32) -> Result<u32, io::Error>;
}

#[async_trait::async_trait]
impl Exchange for Client {
    #[circuit_breaker(component = "venue")]
    async fn depth(&self, levels: u32) -> Result<u32, io::Error> {
        if levels == 0 {
            return Err(io::Error::other("no levels"));
        }
        Ok(levels)
    }
}

#[tracing::instrument]
#[circuit_breaker(component = "venue")]
async fn instrumented_outside(x: u32) -> Result<u32, io::Error> {
    Ok(x)
}

#[circuit_breaker(component = "venue")]
#[tracing::instrument]
async fn instrumented_inside(x: u32) -> Result<u32, io::Error> {
    Ok(x)
}

fn main() {
    futures::executor::block_on(async {
        assert_eq!(assert_send(free(3)).await.unwrap(), 6);
        assert!(free(0).await.is_err());
        let mut v = Vec::new();
        *borrow_of_mut_arg(&mut v).await.unwrap() = 9;
        assert_eq!(v, [9]);
        assert_eq!(assert_send(returns_impl_future(2)).await.unwrap(), 4);
        assert_eq!(assert_send(returns_boxed_future(2)).await.unwrap(), 3);
        assert_eq!(assert_send(Client.method(5)).await.unwrap(), 5);
        assert_eq!(Client.ticker().await.unwrap(), 7);
        assert_eq!(assert_send(Client.depth(3)).await.unwrap(), 3);
        assert!(Client.depth(0).await.is_err());
        assert_eq!(assert_send(instrumented_outside(1)).await.unwrap(), 1);
        assert_eq!(assert_send(instrumented_inside(2)).await.unwrap(), 2);
    });
    let snapshot = breakers::venue.snapshot();
    assert_eq!(snapshot.failures, 2);
    assert_eq!(snapshot.successes, 9);
}
