// `breakers::declare` is the function that registers the manifest, so no component may take
// its name.
breaker::breakers! {
    orders_api,
    declare,
}

fn main() {}
