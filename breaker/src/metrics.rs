//! Prometheus exposition, collected at scrape time from the engine's own counters.
