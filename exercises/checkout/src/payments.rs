//! HTTP client for the payment provider.
//!
//! The provider exposes `POST /v1/charges`, which charges the card behind a payment
//! method token and answers with the provider's charge object.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long we give the provider to answer before treating the call as failed.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Every order is charged in US dollars.
pub const CURRENCY: &str = "usd";

/// A failed provider call.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The request never got a usable answer (connection refused, reset, timeout).
    #[error("provider unreachable: {0}")]
    Transport(#[from] reqwest::Error),
    /// The provider answered with an error status.
    #[error("provider declined the charge with HTTP {0}")]
    Declined(u16),
}

/// The provider's charge object; only the fields we use.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderCharge {
    pub id: String,
}

#[derive(Debug, Serialize)]
struct CreateChargeRequest<'a> {
    customer: &'a str,
    amount: i64,
    currency: &'a str,
    payment_method: &'a str,
}

/// A thin, cloneable client for the provider's charges API.
#[derive(Clone)]
pub struct PaymentsClient {
    http: reqwest::Client,
    base_url: String,
}

impl PaymentsClient {
    /// Builds a client for the provider at `base_url`.
    pub fn new(base_url: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Charges `amount` cents to the customer's `payment_method`.
    pub async fn create_charge(
        &self,
        customer_id: &str,
        payment_method: &str,
        amount: i64,
    ) -> Result<ProviderCharge, ProviderError> {
        let response = self
            .http
            .post(format!("{}/v1/charges", self.base_url))
            .json(&CreateChargeRequest {
                customer: customer_id,
                amount,
                currency: CURRENCY,
                payment_method,
            })
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(ProviderError::Declined(response.status().as_u16()));
        }
        Ok(response.json().await?)
    }
}
