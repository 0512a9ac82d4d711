//! One error type for every handler, rendered as a JSON body with a matching status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::risk::RiskError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or fails validation.
    #[error("{0}")]
    BadRequest(String),
    /// No such transfer.
    #[error("not found")]
    NotFound,
    /// A request names an account that does not exist.
    #[error("account {0} not found")]
    AccountNotFound(String),
    /// The payer's balance does not cover the amount.
    #[error("account {0} has insufficient funds")]
    InsufficientFunds(String),
    /// The risk service declined the transfer; the reason is safe to show the customer.
    #[error("transfer declined: {0}")]
    Declined(String),
    /// The risk service could not assess the transfer, so nothing was moved.
    #[error("{0}")]
    Risk(#[from] RiskError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Database(e.to_string())
    }
}

impl From<kit::DbError> for AppError {
    fn from(e: kit::DbError) -> Self {
        AppError::Database(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::AccountNotFound(_) => (StatusCode::NOT_FOUND, "account_not_found"),
            AppError::InsufficientFunds(_) => (StatusCode::CONFLICT, "insufficient_funds"),
            AppError::Declined(_) => (StatusCode::UNPROCESSABLE_ENTITY, "transfer_declined"),
            AppError::Risk(_) => (StatusCode::SERVICE_UNAVAILABLE, "risk_unavailable"),
            AppError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        (status, Json(body)).into_response()
    }
}
