//! HTTP client for the pricing service.
//!
//! Pricing owns every price in the shop: `GET /v1/prices/{sku}?qty=N` answers with the
//! unit price for that quantity (volume discounts included) and until when it holds.

use serde::Deserialize;

/// Sent with every request so pricing can tell its callers apart in its logs.
const USER_AGENT: &str = concat!("quote/", env!("CARGO_PKG_VERSION"));

/// A failed pricing call.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The request never got a usable answer (connection refused, reset, error status).
    #[error("pricing unreachable: {0}")]
    Unreachable(#[from] reqwest::Error),
    /// Pricing answered, but not with a price we can put in front of a customer.
    #[error("pricing returned an unusable price: {0}")]
    InvalidPrice(String),
}

/// Pricing's answer to a price lookup.
#[derive(Debug, Deserialize)]
struct PriceResponse {
    sku: String,
    qty: u32,
    unit_price: i64,
    currency: String,
    valid_until: String,
}

impl PriceResponse {
    /// Checks that the answer is the price of exactly what we asked for.
    fn into_price(self, sku: &str, qty: u32) -> Result<Price, PricingError> {
        if self.sku != sku || self.qty != qty {
            return Err(PricingError::InvalidPrice(format!(
                "asked for {qty} x {sku}, got {} x {}",
                self.qty, self.sku
            )));
        }
        if self.unit_price < 0 || self.currency.is_empty() {
            return Err(PricingError::InvalidPrice(format!(
                "unit price {} {:?}",
                self.unit_price, self.currency
            )));
        }
        let total = self
            .unit_price
            .checked_mul(i64::from(qty))
            .ok_or_else(|| PricingError::InvalidPrice("total out of range".into()))?;
        Ok(Price {
            unit_price: self.unit_price,
            total,
            currency: self.currency,
            valid_until: self.valid_until,
        })
    }
}

/// A price pricing gave us for one SKU and quantity, checked and ready to quote.
#[derive(Debug, Clone)]
pub struct Price {
    /// Price of one unit at the requested quantity, in minor units.
    pub unit_price: i64,
    /// `unit_price * qty`, in minor units.
    pub total: i64,
    pub currency: String,
    pub valid_until: String,
}

/// A thin, cloneable client for the pricing API.
#[derive(Clone)]
pub struct PricingClient {
    http: reqwest::Client,
    base_url: String,
}

impl PricingClient {
    /// Builds a client for pricing at `base_url`.
    ///
    /// One client serves every request, so connections to pricing are pooled and reused.
    pub fn new(base_url: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().user_agent(USER_AGENT).build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The current price of `qty` units of `sku`.
    pub async fn price(&self, sku: &str, qty: u32) -> Result<Price, PricingError> {
        let url = format!("{}/v1/prices/{sku}?qty={qty}", self.base_url);
        // Pricing is occasionally flaky under load; keep trying until it answers.
        loop {
            match self.http.get(&url).send().await {
                Ok(response) if response.status().is_success() => {
                    let body: PriceResponse =
                        response.json().await.expect("pricing returned a price");
                    return body.into_price(sku, qty);
                }
                Ok(response) => {
                    let status = response.status();
                    tracing::warn!(%sku, %status, "pricing answered with an error, retrying");
                }
                Err(e) => {
                    tracing::warn!(%sku, error = %e, "pricing request failed, retrying");
                }
            }
        }
    }

    /// Asks pricing's own health endpoint whether it is serving.
    pub async fn health(&self) -> Result<(), PricingError> {
        self.http
            .get(format!("{}/health", self.base_url))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}
