//! One error type for every handler, rendered as a JSON body with a matching status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::payments::ProviderError;
use crate::shipping::ShippingError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// No such order.
    #[error("not found")]
    NotFound,
    /// There is not enough stock left of this SKU for the cart.
    #[error("not enough stock for {0}")]
    OutOfStock(String),
    /// The payment provider could not complete the charge.
    #[error("payment provider error: {0}")]
    Provider(#[from] ProviderError),
    /// We could not get a shipping rate for the parcel.
    #[error("{0}")]
    Shipping(#[from] ShippingError),
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
            AppError::OutOfStock(_) => (StatusCode::CONFLICT, "out_of_stock"),
            AppError::Provider(_) => (StatusCode::BAD_GATEWAY, "provider_error"),
            AppError::Shipping(_) | AppError::Database(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        (status, Json(body)).into_response()
    }
}
