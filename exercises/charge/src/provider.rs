//! HTTP client for the payment provider.
//!
//! The provider exposes `POST /v1/charges`, which charges the customer's card on file
//! and answers with the provider's charge object.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::NewCharge;

/// How long we give the provider to answer before treating the call as failed.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

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
    pub status: String,
}

#[derive(Debug, Serialize)]
struct CreateChargeRequest<'a> {
    customer: &'a str,
    amount: i64,
    currency: &'a str,
}

/// A thin, cloneable client for the provider's charges API.
#[derive(Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
    base_url: String,
}

impl ProviderClient {
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

    /// Charges the customer's card on file.
    pub async fn create_charge(&self, charge: &NewCharge) -> Result<ProviderCharge, ProviderError> {
        let response = self
            .http
            .post(format!("{}/v1/charges", self.base_url))
            .json(&CreateChargeRequest {
                customer: &charge.customer_id,
                amount: charge.amount,
                currency: &charge.currency,
            })
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(ProviderError::Declined(response.status().as_u16()));
        }
        Ok(response.json().await?)
    }
}
