//! Request and response types for the transfers API.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The largest single transfer we accept, in cents (10,000,000.00 EUR).
pub const MAX_TRANSFER: i64 = 1_000_000_000;

/// Longest reference we accept, in characters; it is printed on both customers'
/// statements, which have room for 140.
const MAX_REFERENCE_LEN: usize = 140;

/// Body of `POST /transfers`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    /// The account the money leaves, e.g. `acc_1`.
    pub from_account: String,
    /// The account the money goes to.
    pub to_account: String,
    /// Amount in euro cents.
    pub amount: i64,
    /// Free text shown to both customers, e.g. `rent march`.
    pub reference: Option<String>,
}

impl NewTransfer {
    /// Rejects requests we would refuse anyway, before we touch an account or ask the
    /// risk service.
    pub fn validate(&self) -> Result<(), AppError> {
        if self.from_account.trim().is_empty() || self.to_account.trim().is_empty() {
            return Err(AppError::BadRequest(
                "from_account and to_account are required".into(),
            ));
        }
        if self.from_account == self.to_account {
            return Err(AppError::BadRequest(
                "from_account and to_account must differ".into(),
            ));
        }
        if self.amount <= 0 || self.amount > MAX_TRANSFER {
            return Err(AppError::BadRequest(format!(
                "amount must be between 1 and {MAX_TRANSFER} cents"
            )));
        }
        if let Some(reference) = &self.reference
            && reference.chars().count() > MAX_REFERENCE_LEN
        {
            return Err(AppError::BadRequest(format!(
                "reference must be at most {MAX_REFERENCE_LEN} characters"
            )));
        }
        Ok(())
    }
}

/// A transfer as stored and returned by the API.
#[derive(Debug, Clone, Serialize)]
pub struct Transfer {
    pub id: String,
    pub from_account: String,
    pub to_account: String,
    pub amount: i64,
    pub reference: Option<String>,
    pub created_at: String,
}

/// A customer account; `balance` is in cents.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub owner: String,
    pub balance: i64,
}

/// One line of an account's ledger: money in (positive) or out (negative). Opening
/// balances have no transfer.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerEntry {
    pub id: i64,
    pub transfer_id: Option<String>,
    pub amount: i64,
    pub created_at: String,
}

/// Body of `GET /accounts/{id}`: the account with its most recent ledger entries.
#[derive(Debug, Clone, Serialize)]
pub struct AccountStatement {
    pub id: String,
    pub owner: String,
    pub balance: i64,
    pub entries: Vec<LedgerEntry>,
}
