//! One error type for every handler, rendered as a JSON body with a matching status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::pricing::PricingError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or fails validation.
    #[error("{0}")]
    BadRequest(String),
    /// The SKU is not in the catalogue.
    #[error("unknown sku {0}")]
    UnknownSku(String),
    /// The pricing service could not give us a price.
    #[error("{0}")]
    Pricing(#[from] PricingError),
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
            AppError::UnknownSku(_) => (StatusCode::NOT_FOUND, "unknown_sku"),
            AppError::Pricing(_) => (StatusCode::BAD_GATEWAY, "pricing_unavailable"),
            AppError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        (status, Json(body)).into_response()
    }
}
