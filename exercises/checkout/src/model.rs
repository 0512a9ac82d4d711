//! Request and response types for the checkout API.

use serde::{Deserialize, Serialize};

/// Body of `POST /checkout`: the customer's cart, as the storefront sends it.
///
/// Prices are not part of the request; they always come from the catalogue.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutRequest {
    /// Our customer's id, e.g. `cus_123`.
    pub customer_id: String,
    /// The provider's token for the card to charge, e.g. `pm_card_visa`.
    pub payment_method: String,
    /// What the customer is buying, one line per product.
    pub lines: Vec<CartLine>,
    /// Where the parcel goes.
    pub shipping_address: Address,
}

/// One line of the cart.
#[derive(Debug, Clone, Deserialize)]
pub struct CartLine {
    /// Catalogue SKU, e.g. `SKU-1`.
    pub sku: String,
    /// Number of units.
    pub quantity: i64,
}

/// A shipping address, stored and returned as the customer entered it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    /// Apartment, suite or floor; `null` or absent when there is none.
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 code, e.g. `US`.
    pub country: String,
}

/// A catalogue product; only the fields checkout needs.
#[derive(Debug, Clone)]
pub struct Product {
    pub sku: String,
    /// Unit price in cents.
    pub price: i64,
    /// Shipping weight of one unit.
    pub weight_grams: i64,
}

/// An order ready to be recorded: its charge has gone through.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub customer_id: String,
    pub subtotal: i64,
    pub shipping: i64,
    pub total: i64,
    pub shipping_address: Address,
    pub provider_charge_id: String,
}

/// An order as stored and returned by the API. Amounts are in cents.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    pub status: String,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    pub subtotal: i64,
    pub shipping: i64,
    pub total: i64,
    pub shipping_address: Address,
    pub provider_charge_id: Option<String>,
    pub created_at: String,
}

/// One line of an order, priced when the order was placed.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    /// Catalogue price of one unit at checkout, in cents.
    pub unit_price: i64,
}
