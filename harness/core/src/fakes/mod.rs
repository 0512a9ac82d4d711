//! Downstream dependencies the harness plays itself.
//!
//! Each fake is a small axum server on `127.0.0.1:0` inside the harness process. Checks
//! set its faults and read its records; those records are ground truth (what the
//! provider really did), never what the service under test claims.
//!
//! Each exercise's fakes are compiled with its feature only, so a candidate's kit
//! carries its own exercises' fakes and no others'.

pub mod body;
pub mod gate;
#[cfg(any(feature = "charge", feature = "checkout"))]
pub mod payment_provider;
pub mod plan;
#[cfg(feature = "quote")]
pub mod pricing_service;
pub mod recorder;
#[cfg(feature = "transfer")]
pub mod risk_service;
pub mod server;
#[cfg(feature = "checkout")]
pub mod shipping_rates;
#[cfg(any(feature = "transfer", feature = "checkout"))]
pub mod write_faults;

#[cfg(any(feature = "charge", feature = "checkout"))]
pub use payment_provider::{PaymentProvider, ProviderCharge, ProviderFault};
#[cfg(feature = "quote")]
pub use pricing_service::{PricingCall, PricingFault, PricingService, Unhealthy};
#[cfg(feature = "transfer")]
pub use risk_service::{RiskFault, RiskService};
#[cfg(feature = "checkout")]
pub use shipping_rates::{ShippingCall, ShippingFault, ShippingRates};
#[cfg(any(feature = "transfer", feature = "checkout"))]
pub use write_faults::{ArmedLog, LockHolder, WriteFault, WriteFaults};

/// Waits until `done()` holds, re-checking on every bump of `changed` (each fake bumps
/// it on every change to its records); false if `timeout` passes first.
#[cfg(any(feature = "charge", feature = "checkout", feature = "quote"))]
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
