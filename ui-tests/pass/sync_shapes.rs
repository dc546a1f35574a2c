//! Every sync shape `#[circuit_breaker]` supports.
use std::fmt::Display;
use std::io;
use std::sync::Arc;

use breaker::circuit_breaker;

breaker::breakers! { venue }

#[circuit_breaker(component = "venue")]
fn free(x: u32) -> io::Result<u32> {
    if x == 0 {
        return Err(io::Error::other("zero")); // early return
    }
    let parsed: u32 = "2".parse().map_err(io::Error::other)?; // `?`
    Ok(x * parsed)
}

#[circuit_breaker(component = venue)]
fn generic<T, U>(t: T, u: U) -> Result<String, io::Error>
where
    T: Display,
    U: Into<String>,
{
    Ok(format!("{t}{}", u.into()))
}

#[circuit_breaker(component = "venue")]
fn returns_impl_trait(n: u8) -> Result<impl Display, io::Error> {
    Ok(n)
}

#[circuit_breaker(component = "venue")]
fn borrow_of_mut_arg(v: &mut Vec<u8>) -> Result<&mut u8, io::Error> {
    v.push(1);
    v.last_mut().ok_or_else(|| io::Error::other("empty"))
}

struct Client {
    calls: u32,
}

impl Client {
    #[circuit_breaker(component = "venue")]
    fn new() -> Result<Self, io::Error> {
        Ok(Self { calls: 0 })
    }

    #[circuit_breaker(component = "venue")]
    fn by_ref(&self) -> Result<u32, io::Error> {
        Ok(self.calls)
    }

    #[circuit_breaker(component = "venue")]
    fn by_mut(&mut self) -> Result<u32, io::Error> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[circuit_breaker(component = "venue")]
    fn by_arc(self: Arc<Self>) -> Result<u32, io::Error> {
        Ok(self.calls)
    }

    #[circuit_breaker(component = "venue")]
    fn by_value(self) -> Result<u32, io::Error> {
        Ok(self.calls)
    }
}

#[circuit_breaker(component = "venue")]
fn with_inner_attribute() -> Result<(), io::Error> {
    #![allow(unused_variables)]
    let unused = 1;
    Ok(())
}

#[tracing::instrument]
#[circuit_breaker(component = "venue")]
fn instrumented_outside(x: u32) -> Result<u32, io::Error> {
    Ok(x)
}

#[circuit_breaker(component = "venue")]
#[tracing::instrument]
fn instrumented_inside(x: u32) -> Result<u32, io::Error> {
    Ok(x)
}

fn main() {
    assert_eq!(free(3).unwrap(), 6);
    assert!(free(0).is_err());
    assert_eq!(generic(1, "a").unwrap(), "1a");
    assert_eq!(returns_impl_trait(7).unwrap().to_string(), "7");
    let mut v = Vec::new();
    *borrow_of_mut_arg(&mut v).unwrap() = 9;
    assert_eq!(v, [9]);
    let mut c = Client::new().unwrap();
    assert_eq!(c.by_mut().unwrap(), 1);
    assert_eq!(c.by_ref().unwrap(), 1);
    assert_eq!(Arc::new(Client { calls: 4 }).by_arc().unwrap(), 4);
    assert_eq!(c.by_value().unwrap(), 1);
    with_inner_attribute().unwrap();
    assert_eq!(instrumented_outside(5).unwrap(), 5);
    assert_eq!(instrumented_inside(6).unwrap(), 6);
    let snapshot = breakers::venue.snapshot();
    assert_eq!(snapshot.failures, 1);
    assert!(snapshot.successes >= 12);
}
