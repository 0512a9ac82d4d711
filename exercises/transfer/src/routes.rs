//! The HTTP API.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::error::AppError;
use crate::model::{AccountStatement, NewTransfer, Transfer};
use crate::risk::{Decision, RiskClient};
use crate::store::LedgerStore;

/// How many ledger entries `GET /accounts/{id}` shows.
const STATEMENT_ENTRIES: usize = 20;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    pub store: LedgerStore,
    pub risk: RiskClient,
}

/// All routes of the service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/transfers", post(create_transfer))
        .route("/transfers/{id}", get(get_transfer))
        .route("/accounts/{id}", get(get_account))
        .with_state(state)
}

/// `POST /transfers`: moves money from one customer's account to another's.
///
/// Cheap checks come first (validation, both accounts exist, the payer can cover the
/// amount) so the risk service only sees transfers we would otherwise carry out. Once it
/// approves, both balances are updated and the transfer is recorded with its two ledger
/// entries: `-amount` for the payer, `+amount` for the payee.
async fn create_transfer(
    State(state): State<AppState>,
    body: Result<Json<NewTransfer>, JsonRejection>,
) -> Result<(StatusCode, Json<Transfer>), AppError> {
    let Json(request) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    request.validate()?;

    let from = state
        .store
        .account(&request.from_account)
        .await?
        .ok_or_else(|| AppError::AccountNotFound(request.from_account.clone()))?;
    let to = state
        .store
        .account(&request.to_account)
        .await?
        .ok_or_else(|| AppError::AccountNotFound(request.to_account.clone()))?;
    if from.balance < request.amount {
        return Err(AppError::InsufficientFunds(from.id));
    }

    if let Decision::Decline { reason } = state.risk.assess(&request).await? {
        tracing::info!(from = %from.id, to = %to.id, %reason, "transfer declined");
        return Err(AppError::Declined(reason));
    }

    let amount = request.amount;
    state
        .store
        .set_balance(&from.id, from.balance - amount)
        .await?;
    state.store.set_balance(&to.id, to.balance + amount).await?;
    let transfer = state.store.insert_transfer(&request).await?;
    state
        .store
        .insert_entry(&from.id, &transfer.id, -amount)
        .await?;
    state
        .store
        .insert_entry(&to.id, &transfer.id, amount)
        .await?;

    tracing::info!(transfer = %transfer.id, from = %from.id, amount, "transfer completed");
    Ok((StatusCode::CREATED, Json(transfer)))
}

/// `GET /transfers/{id}`.
async fn get_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Transfer>, AppError> {
    state
        .store
        .transfer(&id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// `GET /accounts/{id}`: the balance and the latest ledger entries, newest first.
async fn get_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AccountStatement>, AppError> {
    state
        .store
        .statement(&id, STATEMENT_ENTRIES)
        .await?
        .map(Json)
        .ok_or(AppError::AccountNotFound(id))
}
