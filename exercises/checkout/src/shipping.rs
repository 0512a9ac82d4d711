//! HTTP client for the shipping-rates service.
//!
//! `POST /v1/rates` prices a parcel of a given weight to a destination and answers with
//! the rate of the service we ship with, e.g. `{"service": "ground", "amount": 699}`.

use serde::{Deserialize, Serialize};

use crate::model::Address;

/// Sent with every request so shipping-rates can tell its callers apart in its logs.
const USER_AGENT: &str = concat!("checkout/", env!("CARGO_PKG_VERSION"));

/// A shipping rate we could not get.
#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    /// The request or the decoding of its answer failed.
    #[error("shipping-rates request failed: {0}")]
    Request(#[from] reqwest::Error),
}

/// The price of shipping one parcel.
#[derive(Debug, Clone, Deserialize)]
pub struct ShippingRate {
    /// Carrier service, e.g. `ground`.
    pub service: String,
    /// Price in cents.
    pub amount: i64,
}

#[derive(Debug, Serialize)]
struct RateRequest<'a> {
    country: &'a str,
    postal_code: &'a str,
    weight_grams: i64,
}

/// A thin, cloneable client for the shipping-rates API.
#[derive(Clone)]
pub struct ShippingClient {
    http: reqwest::Client,
    base_url: String,
}

impl ShippingClient {
    /// Builds a client for shipping-rates at `base_url`.
    ///
    /// One client serves every request, so connections are pooled and reused; rates
    /// normally come back in about 40 ms.
    pub fn new(base_url: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().user_agent(USER_AGENT).build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The rate for shipping `weight_grams` to `address`.
    pub async fn quote(
        &self,
        address: &Address,
        weight_grams: i64,
    ) -> Result<ShippingRate, ShippingError> {
        let rate = self
            .http
            .post(format!("{}/v1/rates", self.base_url))
            .json(&RateRequest {
                country: &address.country,
                postal_code: &address.postal_code,
                weight_grams,
            })
            .send()
            .await?
            .json()
            .await?;
        Ok(rate)
    }
}
