//! Read access to the product catalogue.
//!
//! The catalogue system owns the `products` table and writes it directly; this service
//! only reads it (and seeds demo rows for trying the service by hand).

use rusqlite::{OptionalExtension, Row, params};

use crate::error::AppError;
use crate::model::Product;

/// Schema migrations, applied in order by the kit on start.
pub const MIGRATIONS: &[&str] = &["
    CREATE TABLE products (
        sku         TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        updated_at  TEXT NOT NULL
    );
"];

/// Names the demo products cycle through.
const DEMO_NAMES: &[&str] = &[
    "Espresso cup",
    "Pour-over kettle",
    "Burr grinder",
    "Milk jug",
    "Coffee scale",
    "Travel mug",
    "Cold brew jar",
    "Paper filters (100)",
];

/// Reads the `products` table.
#[derive(Clone)]
pub struct ProductStore {
    db: kit::Db,
}

impl ProductStore {
    /// Wraps the service's database.
    pub fn new(db: kit::Db) -> Self {
        Self { db }
    }

    /// The product with this SKU, if the catalogue has it.
    pub async fn product(&self, sku: &str) -> Result<Option<Product>, AppError> {
        let sku = sku.to_owned();
        self.db
            .call(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT sku, name, description FROM products WHERE sku = ?1",
                        [sku],
                        product_from_row,
                    )
                    .optional()?)
            })
            .await
    }

    /// Inserts `count` demo products (`SKU-0001`, `SKU-0002`, …) so the API has
    /// something to show. Products that already exist are left alone.
    pub async fn seed_demo(&self, count: u64) -> Result<(), AppError> {
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                for n in 1..=count {
                    let name = DEMO_NAMES[(n as usize - 1) % DEMO_NAMES.len()];
                    tx.execute(
                        "INSERT OR IGNORE INTO products (sku, name, description, updated_at)
                         VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                        params![
                            format!("SKU-{n:04}"),
                            format!("{name} #{n}"),
                            format!("Demo product {n}: {name}.")
                        ],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        sku: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
    })
}
