//! Request and response types of the order-history API.

use serde::{Deserialize, Serialize};

use crate::cursor::Cursor;
use crate::error::AppError;

/// Orders per page when the client does not ask for a size.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

/// The longest product name we accept, in characters.
const MAX_NAME_CHARS: usize = 200;

/// A customer with the number of orders they have placed.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub order_count: i64,
}

/// A catalogue product; `price` is the current list price in minor units.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub price: i64,
}

/// Body of `PUT /products/{id}`: the fields to change, all optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductUpdate {
    pub name: Option<String>,
    pub price: Option<i64>,
}

impl ProductUpdate {
    /// Rejects names and prices the catalogue cannot show.
    pub fn validate(&self) -> Result<(), AppError> {
        if let Some(name) = &self.name {
            let chars = name.chars().count();
            if chars == 0 || chars > MAX_NAME_CHARS {
                return Err(AppError::BadRequest(format!(
                    "name must be 1 to {MAX_NAME_CHARS} characters"
                )));
            }
        }
        if self.price.is_some_and(|price| price < 0) {
            return Err(AppError::BadRequest(
                "price must be a non-negative integer".into(),
            ));
        }
        Ok(())
    }
}

/// Query string of `GET /customers/{id}/orders`.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryParams {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl HistoryParams {
    /// The requested page size, checked against the allowed range.
    pub fn page_size(&self) -> Result<usize, AppError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(limit) => usize::try_from(limit)
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| {
                    AppError::BadRequest(format!("limit must be between 1 and {MAX_PAGE_SIZE}"))
                }),
        }
    }

    /// Where the page starts: after the cursor's order, or at the newest order.
    pub fn after(&self) -> Result<Option<Cursor>, AppError> {
        self.cursor.as_deref().map(Cursor::decode).transpose()
    }
}

/// An order as stored, before its lines are attached.
#[derive(Debug, Clone)]
pub struct OrderRow {
    pub id: i64,
    pub placed_at: String,
}

/// An order line as stored.
#[derive(Debug, Clone)]
pub struct LineRow {
    pub product_id: i64,
    pub quantity: i64,
    pub unit_price: i64,
}

/// One page of a customer's order history.
#[derive(Debug, Clone, Serialize)]
pub struct OrderPage {
    pub customer_id: i64,
    pub orders: Vec<Order>,
    /// Pass back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// An order with its lines and total, as the apps show it.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: i64,
    pub placed_at: String,
    pub lines: Vec<OrderLine>,
    pub total: i64,
}

impl Order {
    /// Attaches `lines` to `row` and adds them up.
    pub fn new(row: OrderRow, lines: Vec<OrderLine>) -> Self {
        let total = lines.iter().map(|line| line.line_total).sum();
        Order {
            id: row.id,
            placed_at: row.placed_at,
            lines,
            total,
        }
    }
}

/// One line of an order: what was bought, at the price paid then.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    pub product_id: i64,
    /// The product's current name, so renamed products read the same everywhere.
    pub product_name: String,
    pub unit_price: i64,
    pub quantity: i64,
    pub line_total: i64,
}

impl OrderLine {
    /// A stored line, shown under the product's current name.
    pub fn new(row: LineRow, product_name: String) -> Self {
        OrderLine {
            product_id: row.product_id,
            product_name,
            unit_price: row.unit_price,
            quantity: row.quantity,
            line_total: row.unit_price * row.quantity,
        }
    }
}
