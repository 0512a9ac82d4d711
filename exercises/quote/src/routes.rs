//! The HTTP API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::AppError;
use crate::model::{LastQuoted, ProductPage, Quote, QuoteParams};
use crate::pricing::PricingClient;
use crate::store::ProductStore;

/// The last price quoted for each SKU, shown on its product page.
///
/// Quotes go through it one at a time, which also keeps a burst of identical lookups
/// from stampeding pricing.
pub type PriceCache = Arc<Mutex<HashMap<String, LastQuoted>>>;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    pub store: ProductStore,
    pub pricing: PricingClient,
    pub last_quoted: PriceCache,
}

/// All routes of the service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/quotes/{sku}", get(get_quote))
        .route("/products/{sku}", get(get_product))
        .route("/health", get(health))
        .with_state(state)
}

/// `GET /quotes/{sku}?qty=N`: the current price of `qty` units of a catalogue product.
///
/// Every quote is priced by pricing itself; we only add up the total.
async fn get_quote(
    State(state): State<AppState>,
    Path(sku): Path<String>,
    params: Result<Query<QuoteParams>, QueryRejection>,
) -> Result<Json<Quote>, AppError> {
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let qty = params.qty()?;
    if state.store.product(&sku).await?.is_none() {
        return Err(AppError::UnknownSku(sku));
    }

    // Update the product page's price as part of the same lookup, so the page never
    // shows an older price than the one we just quoted.
    let mut last_quoted = state.last_quoted.lock().await;
    let price = state.pricing.price(&sku, qty).await?;
    last_quoted.insert(sku.clone(), LastQuoted::from(&price));
    drop(last_quoted);

    tracing::info!(%sku, qty, unit_price = price.unit_price, "quoted");
    Ok(Json(Quote::new(sku, qty, price)))
}

/// `GET /products/{sku}`: the catalogue entry and the last price quoted for it.
async fn get_product(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<ProductPage>, AppError> {
    let product = state
        .store
        .product(&sku)
        .await?
        .ok_or_else(|| AppError::UnknownSku(sku.clone()))?;
    let last_quoted = state.last_quoted.lock().await.get(&sku).cloned();
    Ok(Json(ProductPage::new(product, last_quoted)))
}

/// `GET /health`: the load balancer's probe.
///
/// A quote service that cannot reach pricing cannot quote, so pricing's health is part
/// of ours.
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.pricing.health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "pricing": "up" })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "pricing health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "degraded", "pricing": "down" })),
            )
        }
    }
}
