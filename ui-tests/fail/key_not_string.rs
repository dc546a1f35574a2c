// A key must be string-like: the error points at the key expression.
breaker::breakers! { tenant[] }

#[breaker::circuit_breaker(component = "tenant", key = tenant_id + 1)]
fn bill(tenant_id: u64) -> Result<u64, breaker::CallError<std::io::Error>> {
    Ok(tenant_id)
}

fn main() {
    let _ = bill(7);
}
