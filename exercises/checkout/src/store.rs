//! Persistence for products, orders and order lines.
//!
//! The inventory system owns the catalogue: it inserts products and restocks them by
//! writing `products` directly. Checkout takes stock out as orders are placed.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::error::AppError;
use crate::model::{Address, NewOrder, Order, OrderLine, Product};
use crate::payments::CURRENCY;

/// Schema migrations, applied in order by the kit on start.
pub const MIGRATIONS: &[&str] = &["
    CREATE TABLE products (
        sku          TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        price        INTEGER NOT NULL,   -- unit price in cents (usd)
        weight_grams INTEGER NOT NULL,
        stock        INTEGER NOT NULL    -- units we can still sell
    );
    CREATE TABLE orders (
        id                 TEXT PRIMARY KEY,
        idempotency_key    TEXT NOT NULL,
        customer_id        TEXT NOT NULL,
        status             TEXT NOT NULL,
        subtotal           INTEGER NOT NULL,
        shipping           INTEGER NOT NULL,
        total              INTEGER NOT NULL,
        currency           TEXT NOT NULL,
        provider_charge_id TEXT,
        ship_name TEXT NOT NULL, ship_line1 TEXT NOT NULL, ship_line2 TEXT,
        ship_city TEXT NOT NULL, ship_postal_code TEXT NOT NULL, ship_country TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    -- Retries look orders up by their idempotency key.
    CREATE INDEX orders_by_idempotency_key ON orders (idempotency_key);
    CREATE TABLE order_lines (
        order_id   TEXT NOT NULL REFERENCES orders (id),
        sku        TEXT NOT NULL,
        quantity   INTEGER NOT NULL,
        unit_price INTEGER NOT NULL
    );
    CREATE INDEX order_lines_by_order ON order_lines (order_id);
"];

/// Status of an order whose charge has gone through.
const STATUS_PAID: &str = "paid";

const ORDER_COLUMNS: &str = "id, customer_id, status, currency, subtotal, shipping, total,
     ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country,
     provider_charge_id, created_at";

/// Reads and writes the `products`, `orders` and `order_lines` tables.
#[derive(Clone)]
pub struct OrderStore {
    db: kit::Db,
}

impl OrderStore {
    /// Wraps the service's database.
    pub fn new(db: kit::Db) -> Self {
        Self { db }
    }

    /// The catalogue products among `skus`, by SKU; SKUs we do not sell are absent.
    pub async fn load_products(
        &self,
        skus: &[String],
    ) -> Result<HashMap<String, Product>, AppError> {
        if skus.is_empty() {
            return Ok(HashMap::new());
        }
        let skus = skus.to_vec();
        self.db
            .call(move |conn| {
                // One query for the whole cart, however many lines it has.
                let placeholders = vec!["?"; skus.len()].join(", ");
                let sql = format!(
                    "SELECT sku, price, weight_grams FROM products WHERE sku IN ({placeholders})"
                );
                let mut stmt = conn.prepare(&sql)?;
                let products = stmt
                    .query_map(params_from_iter(&skus), product_from_row)?
                    .map(|p| p.map(|p| (p.sku.clone(), p)))
                    .collect::<Result<HashMap<_, _>, _>>()?;
                Ok(products)
            })
            .await
    }

    /// Takes `quantity` units of `sku` out of stock; `false` if fewer are left.
    pub async fn reserve_stock(&self, sku: &str, quantity: i64) -> Result<bool, AppError> {
        let sku = sku.to_owned();
        self.db
            .call(move |conn| {
                let updated = conn.execute(
                    "UPDATE products SET stock = stock - ?1 WHERE sku = ?2 AND stock >= ?1",
                    params![quantity, sku],
                )?;
                Ok(updated == 1)
            })
            .await
    }

    /// Records a paid order under the key it was requested with. The returned order has
    /// no lines yet; add them with [`OrderStore::insert_line`].
    pub async fn insert_order(&self, key: &str, order: &NewOrder) -> Result<Order, AppError> {
        let id = format!("ord_{}", uuid::Uuid::new_v4().simple());
        let key = key.to_owned();
        let order = order.clone();
        self.db
            .call(move |conn| {
                let sql = format!(
                    "INSERT INTO orders
                         (id, idempotency_key, customer_id, status, subtotal, shipping, total,
                          currency, provider_charge_id, ship_name, ship_line1, ship_line2,
                          ship_city, ship_postal_code, ship_country)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                     RETURNING {ORDER_COLUMNS}"
                );
                let address = &order.shipping_address;
                let params = params![
                    id,
                    key,
                    order.customer_id,
                    STATUS_PAID,
                    order.subtotal,
                    order.shipping,
                    order.total,
                    CURRENCY,
                    order.provider_charge_id,
                    address.name,
                    address.line1,
                    address.line2,
                    address.city,
                    address.postal_code,
                    address.country
                ];
                Ok(conn.query_row(&sql, params, order_from_row)?)
            })
            .await
    }

    /// Adds one line to an order.
    pub async fn insert_line(&self, order_id: &str, line: &OrderLine) -> Result<(), AppError> {
        let order_id = order_id.to_owned();
        let line = line.clone();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO order_lines (order_id, sku, quantity, unit_price)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![order_id, line.sku, line.quantity, line.unit_price],
                )?;
                Ok(())
            })
            .await
    }

    /// The order placed with idempotency key `key`, if any, with its lines.
    pub async fn find_by_idempotency_key(&self, key: &str) -> Result<Option<Order>, AppError> {
        let key = key.to_owned();
        self.db
            .call(move |conn| {
                let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE idempotency_key = ?1");
                read_order(conn, &sql, &key)
            })
            .await
    }

    /// The order with this id, if any, with its lines.
    pub async fn get(&self, id: &str) -> Result<Option<Order>, AppError> {
        let id = id.to_owned();
        self.db
            .call(move |conn| {
                let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
                read_order(conn, &sql, &id)
            })
            .await
    }

    /// Adds `count` demo products, `SKU-DEMO-1` to `SKU-DEMO-{count}`, with 100 units
    /// each, the way the inventory system would.
    ///
    /// Products that already exist are left alone, so restarting with the flag is
    /// harmless.
    pub async fn seed_demo(&self, count: u64) -> Result<(), AppError> {
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                for n in 1..=count {
                    tx.execute(
                        "INSERT OR IGNORE INTO products (sku, name, price, weight_grams, stock)
                         VALUES (?1, ?2, ?3, ?4, 100)",
                        params![
                            format!("SKU-DEMO-{n}"),
                            format!("Demo product {n}"),
                            500 + (n as i64 % 20) * 100,
                            250 * (1 + n as i64 % 4)
                        ],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

/// Runs `sql` (an order query with one parameter) and reads the order's lines.
///
/// Both reads run in one transaction, so they see the same snapshot of the database.
fn read_order(conn: &mut Connection, sql: &str, param: &str) -> Result<Option<Order>, AppError> {
    let tx = conn.transaction()?;
    let Some(mut order) = tx.query_row(sql, [param], order_from_row).optional()? else {
        return Ok(None);
    };
    order.lines = tx
        .prepare(
            "SELECT sku, quantity, unit_price FROM order_lines
             WHERE order_id = ?1
             ORDER BY rowid",
        )?
        .query_map([&order.id], |row| {
            Ok(OrderLine {
                sku: row.get(0)?,
                quantity: row.get(1)?,
                unit_price: row.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    tx.commit()?;
    Ok(Some(order))
}

fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        sku: row.get(0)?,
        price: row.get(1)?,
        weight_grams: row.get(2)?,
    })
}

/// An order row; its lines are read separately.
fn order_from_row(row: &Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        status: row.get(2)?,
        currency: row.get(3)?,
        subtotal: row.get(4)?,
        shipping: row.get(5)?,
        total: row.get(6)?,
        shipping_address: Address {
            name: row.get(7)?,
            line1: row.get(8)?,
            line2: row.get(9)?,
            city: row.get(10)?,
            postal_code: row.get(11)?,
            country: row.get(12)?,
        },
        provider_charge_id: row.get(13)?,
        created_at: row.get(14)?,
        lines: Vec::new(),
    })
}
