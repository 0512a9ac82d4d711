//! Persistence for accounts, transfers and the ledger.
//!
//! Accounts are opened by the onboarding system, which writes the account row and its
//! opening ledger entry itself; this service only moves money between them.

use rusqlite::{OptionalExtension, Row, params};

use crate::error::AppError;
use crate::model::{Account, AccountStatement, LedgerEntry, NewTransfer, Transfer};

/// Schema migrations, applied in order by the kit on start.
pub const MIGRATIONS: &[&str] = &["
    CREATE TABLE accounts (
        id         TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        balance    INTEGER NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE transfers (
        id           TEXT PRIMARY KEY,
        from_account TEXT NOT NULL,
        to_account   TEXT NOT NULL,
        amount       INTEGER NOT NULL,
        reference    TEXT,
        created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    -- Signed movements per account: the opening balance (no transfer), then -amount on
    -- the payer's and +amount on the payee's ledger for every transfer.
    CREATE TABLE ledger_entries (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id  TEXT NOT NULL,
        transfer_id TEXT,
        amount      INTEGER NOT NULL,
        created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    -- Statements read an account's latest entries.
    CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);
"];

const ACCOUNT_COLUMNS: &str = "id, owner, balance";

const TRANSFER_COLUMNS: &str = "id, from_account, to_account, amount, reference, created_at";

/// Reads and writes the `accounts`, `transfers` and `ledger_entries` tables.
#[derive(Clone)]
pub struct LedgerStore {
    db: kit::Db,
}

impl LedgerStore {
    /// Wraps the service's database.
    pub fn new(db: kit::Db) -> Self {
        Self { db }
    }

    /// The account with this id, if any.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, AppError> {
        let id = id.to_owned();
        self.db
            .call(move |conn| {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1");
                let account = conn.query_row(&sql, [id], account_from_row).optional()?;
                Ok(account)
            })
            .await
    }

    /// Sets an account's balance, in cents.
    pub async fn set_balance(&self, id: &str, balance: i64) -> Result<(), AppError> {
        let id = id.to_owned();
        self.db
            .call(move |conn| {
                conn.execute(
                    "UPDATE accounts SET balance = ?1 WHERE id = ?2",
                    params![balance, id],
                )?;
                Ok(())
            })
            .await
    }

    /// Records a transfer under a fresh id.
    pub async fn insert_transfer(&self, transfer: &NewTransfer) -> Result<Transfer, AppError> {
        let id = format!("tr_{}", uuid::Uuid::new_v4().simple());
        let transfer = transfer.clone();
        self.db
            .call(move |conn| {
                let sql = format!(
                    "INSERT INTO transfers (id, from_account, to_account, amount, reference)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     RETURNING {TRANSFER_COLUMNS}"
                );
                let params = params![
                    id,
                    transfer.from_account,
                    transfer.to_account,
                    transfer.amount,
                    transfer.reference
                ];
                Ok(conn.query_row(&sql, params, transfer_from_row)?)
            })
            .await
    }

    /// Appends a signed ledger entry for `transfer_id` to an account's ledger.
    pub async fn insert_entry(
        &self,
        account_id: &str,
        transfer_id: &str,
        amount: i64,
    ) -> Result<(), AppError> {
        let account_id = account_id.to_owned();
        let transfer_id = transfer_id.to_owned();
        self.db
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO ledger_entries (account_id, transfer_id, amount)
                     VALUES (?1, ?2, ?3)",
                    params![account_id, transfer_id, amount],
                )?;
                Ok(())
            })
            .await
    }

    /// The transfer with this id, if any.
    pub async fn transfer(&self, id: &str) -> Result<Option<Transfer>, AppError> {
        let id = id.to_owned();
        self.db
            .call(move |conn| {
                let sql = format!("SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id = ?1");
                Ok(conn.query_row(&sql, [id], transfer_from_row).optional()?)
            })
            .await
    }

    /// The account with its `limit` most recent ledger entries, newest first.
    ///
    /// Both reads run in one transaction, so they see the same snapshot of the database.
    pub async fn statement(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<Option<AccountStatement>, AppError> {
        let id = id.to_owned();
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1");
                let Some(account) = tx.query_row(&sql, [&id], account_from_row).optional()? else {
                    return Ok(None);
                };
                let entries = tx
                    .prepare(
                        "SELECT id, transfer_id, amount, created_at FROM ledger_entries
                         WHERE account_id = ?1
                         ORDER BY id DESC
                         LIMIT ?2",
                    )?
                    .query_map(params![id, limit as i64], |row| {
                        Ok(LedgerEntry {
                            id: row.get(0)?,
                            transfer_id: row.get(1)?,
                            amount: row.get(2)?,
                            created_at: row.get(3)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                tx.commit()?;
                Ok(Some(AccountStatement {
                    id: account.id,
                    owner: account.owner,
                    balance: account.balance,
                    entries,
                }))
            })
            .await
    }

    /// Opens `count` demo accounts, `acc_demo_1` to `acc_demo_{count}`, the way
    /// onboarding does: the account and its opening ledger entry together.
    ///
    /// Accounts that already exist are left alone, so restarting with the same flag is
    /// harmless.
    pub async fn seed_demo(&self, count: u64) -> Result<(), AppError> {
        self.db
            .call(move |conn| {
                let tx = conn.transaction()?;
                for n in 1..=count {
                    let id = format!("acc_demo_{n}");
                    let balance = 100_000 * n as i64;
                    let opened = tx.execute(
                        "INSERT OR IGNORE INTO accounts (id, owner, balance) VALUES (?1, ?2, ?3)",
                        params![id, format!("Demo customer {n}"), balance],
                    )?;
                    if opened == 1 {
                        tx.execute(
                            "INSERT INTO ledger_entries (account_id, transfer_id, amount)
                             VALUES (?1, NULL, ?2)",
                            params![id, balance],
                        )?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        owner: row.get(1)?,
        balance: row.get(2)?,
    })
}

fn transfer_from_row(row: &Row<'_>) -> rusqlite::Result<Transfer> {
    Ok(Transfer {
        id: row.get(0)?,
        from_account: row.get(1)?,
        to_account: row.get(2)?,
        amount: row.get(3)?,
        reference: row.get(4)?,
        created_at: row.get(5)?,
    })
}
