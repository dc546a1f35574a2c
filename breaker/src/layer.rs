//! A tower `Layer` that protects a service with a component's breaker.
