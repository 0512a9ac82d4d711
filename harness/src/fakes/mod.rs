//! Downstream dependencies the harness plays itself.
//!
//! Each fake is a small axum server on `127.0.0.1:0` inside the harness process. Checks
//! set its faults and read its records; those records are ground truth (what the
//! provider really did), never what the service under test claims.

pub mod payment_provider;
pub mod server;

pub use payment_provider::{PaymentProvider, ProviderCharge, ProviderFault};
