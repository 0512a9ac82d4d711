//! Downstream dependencies the harness plays itself.
//!
//! Each fake is a small axum server on `127.0.0.1:0` inside the harness process. Checks
//! set its faults and read its records; those records are ground truth (what the
//! provider really did), never what the service under test claims.

pub mod body;
pub mod gate;
pub mod payment_provider;
pub mod plan;
pub mod pricing_service;
pub mod risk_service;
pub mod server;
pub mod shipping_rates;
pub mod write_faults;

pub use payment_provider::{PaymentProvider, ProviderCharge, ProviderFault};
pub use pricing_service::{PricingCall, PricingFault, PricingService};
pub use risk_service::{RiskFault, RiskService};
pub use shipping_rates::{ShippingCall, ShippingFault, ShippingRates};
pub use write_faults::{LockHolder, WriteFault, WriteFaults};

/// Waits until `done()` holds, re-checking on every bump of `changed` (each fake bumps
/// it on every change to its records); false if `timeout` passes first.
pub(crate) async fn wait_until(
    changed: &tokio::sync::watch::Sender<u64>,
    timeout: std::time::Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    let mut seen = changed.subscribe();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Mark the current version seen before looking, so no change is missed.
        seen.borrow_and_update();
        if done() {
            return true;
        }
        match tokio::time::timeout_at(deadline, seen.changed()).await {
            Ok(Ok(())) => {}
            _ => return done(),
        }
    }
}
