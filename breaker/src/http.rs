//! A read-only axum router: `GET /breakers` (JSON snapshot) and `GET /metrics`.
