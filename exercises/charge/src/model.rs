//! Request and response types for the charges API.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Currencies we are set up to charge in with the provider.
const SUPPORTED_CURRENCIES: &[&str] = &["usd", "eur", "gbp"];

/// The largest single charge we accept, in minor units (1,000,000.00).
const MAX_AMOUNT: i64 = 100_000_000;

/// Body of `POST /charges`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCharge {
    /// Our customer's id, e.g. `cus_123`.
    pub customer_id: String,
    /// Amount in minor units (cents).
    pub amount: i64,
    /// ISO 4217 code, lower case.
    pub currency: String,
}

impl NewCharge {
    /// Rejects requests the provider would refuse anyway, before we call it.
    pub fn validate(&self) -> Result<(), AppError> {
        if self.customer_id.trim().is_empty() || self.customer_id.len() > 64 {
            return Err(AppError::BadRequest(
                "customer_id must be 1 to 64 characters".into(),
            ));
        }
        if self.amount <= 0 || self.amount > MAX_AMOUNT {
            return Err(AppError::BadRequest(format!(
                "amount must be between 1 and {MAX_AMOUNT} minor units"
            )));
        }
        if !SUPPORTED_CURRENCIES.contains(&self.currency.as_str()) {
            return Err(AppError::BadRequest(format!(
                "currency must be one of {}",
                SUPPORTED_CURRENCIES.join(", ")
            )));
        }
        Ok(())
    }
}

/// A charge as stored and returned by the API.
#[derive(Debug, Clone, Serialize)]
pub struct Charge {
    pub id: String,
    pub customer_id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub provider_charge_id: Option<String>,
    pub created_at: String,
}
