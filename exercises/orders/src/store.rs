//! Persistence: customers, the product catalogue and order history.

use rusqlite::{OptionalExtension, Row, params};

use crate::cursor::Cursor;
use crate::error::AppError;
use crate::model::{Customer, LineRow, OrderRow, Product, ProductUpdate};

/// Schema migrations, applied in order by the kit on start.
pub const MIGRATIONS: &[&str] = &["
    CREATE TABLE customers (
        id    INTEGER PRIMARY KEY,
        name  TEXT NOT NULL,
        email TEXT NOT NULL
    );
    CREATE TABLE products (
        id    INTEGER PRIMARY KEY,
        name  TEXT NOT NULL,
        -- Current list price in minor units.
        price INTEGER NOT NULL
    );
    CREATE TABLE orders (
        id          INTEGER PRIMARY KEY,
        customer_id INTEGER NOT NULL REFERENCES customers (id),
        -- RFC 3339 UTC with milliseconds (2026-11-29T10:00:00.000Z): text order is time order.
        placed_at   TEXT NOT NULL
    );
    CREATE TABLE order_lines (
        id         INTEGER PRIMARY KEY,
        order_id   INTEGER NOT NULL REFERENCES orders (id),
        product_id INTEGER NOT NULL REFERENCES products (id),
        quantity   INTEGER NOT NULL,
        -- Price paid per unit when the order was placed; repricing does not change it.
        unit_price INTEGER NOT NULL
    );
"];

/// Reads and writes the shop's tables.
#[derive(Clone)]
pub struct Store {
    db: kit::Db,
}

impl Store {
    /// Wraps the service's database.
    pub fn new(db: kit::Db) -> Self {
        Self { db }
    }

    /// The customer with this id and how many orders they have placed, if any.
    pub async fn customer(&self, id: i64) -> Result<Option<Customer>, AppError> {
        self.db
            .call(move |conn| {
                let sql = "SELECT id, name, email,
                                  (SELECT COUNT(*) FROM orders WHERE customer_id = customers.id)
                           FROM customers
                           WHERE id = ?1";
                Ok(conn.query_row(sql, [id], customer_from_row).optional()?)
            })
            .await
    }

    /// Whether a customer with this id exists.
    pub async fn customer_exists(&self, id: i64) -> Result<bool, AppError> {
        self.db
            .call(move |conn| {
                let sql = "SELECT EXISTS (SELECT 1 FROM customers WHERE id = ?1)";
                Ok(conn.query_row(sql, [id], |row| row.get(0))?)
            })
            .await
    }

    /// Up to `limit` of the customer's orders, newest first, starting after `after`.
    ///
    /// Orders placed at the same instant are ordered by id, highest first, so every
    /// order has a fixed position and paging never skips or repeats one.
    pub async fn orders_page(
        &self,
        customer_id: i64,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<OrderRow>, AppError> {
        let limit = limit as i64;
        self.db
            .call(move |conn| {
                let rows = match after {
                    None => {
                        let mut stmt = conn.prepare_cached(
                            "SELECT id, placed_at FROM orders
                             WHERE customer_id = ?1
                             ORDER BY placed_at DESC, id DESC
                             LIMIT ?2",
                        )?;
                        stmt.query_map(params![customer_id, limit], order_from_row)?
                            .collect::<Result<Vec<_>, _>>()?
                    }
                    Some(cursor) => {
                        let mut stmt = conn.prepare_cached(
                            "SELECT id, placed_at FROM orders
                             WHERE customer_id = ?1 AND (placed_at, id) < (?2, ?3)
                             ORDER BY placed_at DESC, id DESC
                             LIMIT ?4",
                        )?;
                        let params = params![customer_id, cursor.placed_at, cursor.id, limit];
                        stmt.query_map(params, order_from_row)?
                            .collect::<Result<Vec<_>, _>>()?
                    }
                };
                Ok(rows)
            })
            .await
    }

    /// The lines of an order, in the order they were added.
    pub async fn order_lines(&self, order_id: i64) -> Result<Vec<LineRow>, AppError> {
        self.db
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT product_id, quantity, unit_price FROM order_lines
                     WHERE order_id = ?1
                     ORDER BY id",
                )?;
                let lines = stmt
                    .query_map([order_id], |row| {
                        Ok(LineRow {
                            product_id: row.get(0)?,
                            quantity: row.get(1)?,
                            unit_price: row.get(2)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(lines)
            })
            .await
    }

    /// The product with this id, if any.
    pub async fn product(&self, id: i64) -> Result<Option<Product>, AppError> {
        self.db
            .call(move |conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT id, name, price FROM products WHERE id = ?1")?;
                Ok(stmt.query_row([id], product_from_row).optional()?)
            })
            .await
    }

    /// Applies `update` to the product and returns it as stored, or `None` if there is
    /// no such product. Fields left out of the update keep their value.
    pub async fn update_product(
        &self,
        id: i64,
        update: ProductUpdate,
    ) -> Result<Option<Product>, AppError> {
        self.db
            .call(move |conn| {
                let sql = "UPDATE products
                           SET name = COALESCE(?2, name), price = COALESCE(?3, price)
                           WHERE id = ?1
                           RETURNING id, name, price";
                let params = params![id, update.name, update.price];
                Ok(conn.query_row(sql, params, product_from_row).optional()?)
            })
            .await
    }
}

fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        order_count: row.get(3)?,
    })
}

fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: row.get(0)?,
        name: row.get(1)?,
        price: row.get(2)?,
    })
}

fn order_from_row(row: &Row<'_>) -> rusqlite::Result<OrderRow> {
    Ok(OrderRow {
        id: row.get(0)?,
        placed_at: row.get(1)?,
    })
}
