//! Request and response types for the quote API.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::pricing::Price;

/// The most units one quote may cover; larger orders go through the sales team.
const MAX_QTY: u32 = 1000;

/// Query string of `GET /quotes/{sku}`.
#[derive(Debug, Deserialize)]
pub struct QuoteParams {
    /// Number of units to price.
    pub qty: Option<i64>,
}

impl QuoteParams {
    /// The requested quantity, checked before anything is looked up.
    pub fn qty(&self) -> Result<u32, AppError> {
        self.qty
            .and_then(|qty| u32::try_from(qty).ok())
            .filter(|qty| (1..=MAX_QTY).contains(qty))
            .ok_or_else(|| {
                AppError::BadRequest(format!("qty must be an integer from 1 to {MAX_QTY}"))
            })
    }
}

/// A price quote, as returned by `GET /quotes/{sku}`.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub sku: String,
    pub qty: u32,
    /// Price of one unit at this quantity, in minor units.
    pub unit_price: i64,
    /// `unit_price * qty`, in minor units.
    pub total: i64,
    /// ISO 4217 code, as pricing gave it.
    pub currency: String,
    /// Until when pricing guarantees this price (RFC 3339).
    pub valid_until: String,
}

impl Quote {
    /// The quote for `qty` units of `sku` at the price pricing gave us.
    pub fn new(sku: String, qty: u32, price: Price) -> Self {
        Self {
            sku,
            qty,
            unit_price: price.unit_price,
            total: price.total,
            currency: price.currency,
            valid_until: price.valid_until,
        }
    }
}

/// The most recent price quoted for a product, shown on its product page.
#[derive(Debug, Clone, Serialize)]
pub struct LastQuoted {
    pub unit_price: i64,
    pub currency: String,
    pub valid_until: String,
}

impl From<&Price> for LastQuoted {
    fn from(price: &Price) -> Self {
        Self {
            unit_price: price.unit_price,
            currency: price.currency.clone(),
            valid_until: price.valid_until.clone(),
        }
    }
}

/// A catalogue product as stored in the `products` table.
#[derive(Debug, Clone)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub description: String,
}

/// A product page, as returned by `GET /products/{sku}`.
#[derive(Debug, Clone, Serialize)]
pub struct ProductPage {
    pub sku: String,
    pub name: String,
    pub description: String,
    /// `null` until the product has been quoted since the service started.
    pub last_quoted: Option<LastQuoted>,
}

impl ProductPage {
    /// The page for `product`, with the last price quoted for it, if any.
    pub fn new(product: Product, last_quoted: Option<LastQuoted>) -> Self {
        Self {
            sku: product.sku,
            name: product.name,
            description: product.description,
            last_quoted,
        }
    }
}
