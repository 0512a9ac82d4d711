//! Persistence for charges.

use rusqlite::{OptionalExtension, Row, params};

use crate::error::AppError;
use crate::model::{Charge, NewCharge};
use crate::provider::ProviderCharge;

/// Schema migrations, applied in order by the kit on start.
pub const MIGRATIONS: &[&str] = &["
    CREATE TABLE charges (
        id                 TEXT PRIMARY KEY,
        idempotency_key    TEXT NOT NULL,
        customer_id        TEXT NOT NULL,
        amount             INTEGER NOT NULL,
        currency           TEXT NOT NULL,
        status             TEXT NOT NULL,
        provider_charge_id TEXT,
        created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    -- Retries look charges up by their idempotency key.
    CREATE INDEX charges_by_idempotency_key ON charges (idempotency_key);
"];

const COLUMNS: &str = "id, customer_id, amount, currency, status, provider_charge_id, created_at";

/// Reads and writes the `charges` table.
#[derive(Clone)]
pub struct ChargeStore {
    db: kit::Db,
}

impl ChargeStore {
    /// Wraps the service's database.
    pub fn new(db: kit::Db) -> Self {
        Self { db }
    }

    /// The charge created for `key`, if any.
    pub async fn find_by_idempotency_key(&self, key: &str) -> Result<Option<Charge>, AppError> {
        let key = key.to_owned();
        self.db
            .call(move |conn| {
                let sql = format!("SELECT {COLUMNS} FROM charges WHERE idempotency_key = ?1");
                Ok(conn.query_row(&sql, [key], charge_from_row).optional()?)
            })
            .await
    }

    /// The charge with this id, if any.
    pub async fn get(&self, id: &str) -> Result<Option<Charge>, AppError> {
        let id = id.to_owned();
        self.db
            .call(move |conn| {
                let sql = format!("SELECT {COLUMNS} FROM charges WHERE id = ?1");
                Ok(conn.query_row(&sql, [id], charge_from_row).optional()?)
            })
            .await
    }

    /// Records a charge the provider has made, under the key it was requested with.
    pub async fn insert(
        &self,
        key: &str,
        new_charge: &NewCharge,
        payment: &ProviderCharge,
    ) -> Result<Charge, AppError> {
        let id = format!("ch_{}", uuid::Uuid::new_v4().simple());
        let key = key.to_owned();
        let new_charge = new_charge.clone();
        let payment = payment.clone();
        self.db
            .call(move |conn| {
                let sql = format!(
                    "INSERT INTO charges
                         (id, idempotency_key, customer_id, amount, currency, status,
                          provider_charge_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     RETURNING {COLUMNS}"
                );
                let params = params![
                    id,
                    key,
                    new_charge.customer_id,
                    new_charge.amount,
                    new_charge.currency,
                    payment.status,
                    payment.id
                ];
                Ok(conn.query_row(&sql, params, charge_from_row)?)
            })
            .await
    }

    /// Inserts `count` settled demo charges so the API has something to show.
    pub async fn seed_demo(&self, count: u64) -> Result<(), AppError> {
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                for n in 0..count {
                    tx.execute(
                        "INSERT OR IGNORE INTO charges
                             (id, idempotency_key, customer_id, amount, currency, status,
                              provider_charge_id)
                         VALUES (?1, ?2, ?3, ?4, 'usd', 'succeeded', ?5)",
                        params![
                            format!("ch_demo_{n}"),
                            format!("demo-{n}"),
                            format!("cus_demo_{}", n % 10),
                            1_000 + (n as i64 % 50) * 100,
                            format!("pch_demo_{n}")
                        ],
                    )?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

fn charge_from_row(row: &Row<'_>) -> rusqlite::Result<Charge> {
    Ok(Charge {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        amount: row.get(2)?,
        currency: row.get(3)?,
        status: row.get(4)?,
        provider_charge_id: row.get(5)?,
        created_at: row.get(6)?,
    })
}
