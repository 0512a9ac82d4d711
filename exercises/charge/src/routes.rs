//! The HTTP API.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::error::AppError;
use crate::model::{Charge, NewCharge};
use crate::provider::ProviderClient;
use crate::store::ChargeStore;

/// Header clients use to make `POST /charges` safe to retry.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Longest idempotency key we accept.
const MAX_KEY_LEN: usize = 255;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    pub store: ChargeStore,
    pub provider: ProviderClient,
}

/// All routes of the service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/charges", post(create_charge))
        .route("/charges/{id}", get(get_charge))
        .with_state(state)
}

/// `POST /charges`: charges the customer and records the charge.
///
/// Clients retry with the same `Idempotency-Key`; a key we have already seen returns
/// the original charge instead of charging the customer again.
async fn create_charge(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewCharge>, JsonRejection>,
) -> Result<(StatusCode, Json<Charge>), AppError> {
    let key = idempotency_key(&headers)?;
    let Json(new_charge) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    new_charge.validate()?;

    // Replay: this key was already used, so hand back the charge we created for it.
    if let Some(existing) = state.store.find_by_idempotency_key(&key).await? {
        tracing::info!(%key, charge = %existing.id, "idempotent replay");
        return Ok((StatusCode::OK, Json(existing)));
    }

    let payment = state.provider.create_charge(&new_charge).await?;

    let charge = state.store.insert(&key, &new_charge, &payment).await?;
    tracing::info!(%key, charge = %charge.id, amount = charge.amount, "charge created");
    Ok((StatusCode::CREATED, Json(charge)))
}

/// `GET /charges/{id}`.
async fn get_charge(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Charge>, AppError> {
    state
        .store
        .get(&id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// The request's idempotency key, required on every charge.
fn idempotency_key(headers: &HeaderMap) -> Result<String, AppError> {
    let key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(AppError::BadRequest(format!(
            "an Idempotency-Key header of 1 to {MAX_KEY_LEN} characters is required"
        )));
    }
    Ok(key.to_owned())
}
