//! The HTTP API: one axum router, served by the checkout function through `lambda_http` and by the
//! local runner through `axum::serve`.

pub mod auth;
pub mod error;
pub mod json;
