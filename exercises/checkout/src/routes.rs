//! The HTTP API.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::error::AppError;
use crate::model::{CheckoutRequest, NewOrder, Order, OrderLine};
use crate::payments::PaymentsClient;
use crate::shipping::ShippingClient;
use crate::store::OrderStore;

/// Header clients use to make `POST /checkout` safe to retry.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Longest idempotency key we accept.
const MAX_KEY_LEN: usize = 255;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    pub store: OrderStore,
    pub payments: PaymentsClient,
    pub shipping: ShippingClient,
}

/// All routes of the service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/checkout", post(checkout))
        .route("/orders/{id}", get(get_order))
        .with_state(state)
}

/// `POST /checkout`: turns the customer's cart into a paid order.
///
/// The cart is priced from the catalogue and its stock reserved, shipping is quoted for
/// the parcel, the customer is charged items plus shipping, and the order is recorded
/// with its lines. Clients retry with the same `Idempotency-Key`; a key we have already
/// seen returns the original order instead of charging the customer again.
async fn checkout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CheckoutRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Order>), AppError> {
    let key = idempotency_key(&headers)?;
    let Json(request) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;

    // Replay: this key already placed an order, so hand back the order we created for it.
    if let Some(existing) = state.store.find_by_idempotency_key(&key).await? {
        tracing::info!(%key, order = %existing.id, "idempotent replay");
        return Ok((StatusCode::OK, Json(existing)));
    }

    // Price the cart from the catalogue and weigh the parcel.
    let skus: Vec<String> = request.lines.iter().map(|l| l.sku.clone()).collect();
    let products = state.store.load_products(&skus).await?;
    let mut lines = Vec::with_capacity(request.lines.len());
    let mut subtotal = 0;
    let mut weight_grams = 0;
    for line in &request.lines {
        // Skip items that were delisted since the cart was built; the customer still
        // gets the rest of the order.
        let Some(product) = products.get(&line.sku) else {
            continue;
        };
        subtotal += product.price * line.quantity;
        weight_grams += product.weight_grams * line.quantity;
        lines.push(OrderLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price: product.price,
        });
    }

    // Hold the stock before taking any money, so we never charge for goods we cannot
    // ship.
    for line in &lines {
        if !state.store.reserve_stock(&line.sku, line.quantity).await? {
            return Err(AppError::OutOfStock(line.sku.clone()));
        }
    }

    let rate = state
        .shipping
        .quote(&request.shipping_address, weight_grams)
        .await?;
    tracing::debug!(
        service = %rate.service,
        amount = rate.amount,
        weight_grams,
        "shipping quoted"
    );
    let total = subtotal + rate.amount;

    let charge = state
        .payments
        .create_charge(&request.customer_id, &request.payment_method, total)
        .await?;

    let new_order = NewOrder {
        customer_id: request.customer_id.clone(),
        subtotal,
        shipping: rate.amount,
        total,
        shipping_address: request.shipping_address.clone(),
        provider_charge_id: charge.id,
    };
    let mut order = state.store.insert_order(&key, &new_order).await?;
    for line in &lines {
        state.store.insert_line(&order.id, line).await?;
    }
    order.lines = lines;

    // One summary line per order, which support searches when a customer calls in.
    tracing::info!(
        %key,
        order = %order.id,
        customer = %order.customer_id,
        total = order.total,
        payment_method = %redact(&request.payment_method),
        "order placed"
    );
    Ok((StatusCode::CREATED, Json(order)))
}

/// `GET /orders/{id}`: the order with its lines.
async fn get_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Order>, AppError> {
    state
        .store
        .get(&id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// The request's idempotency key, required on every checkout.
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

/// A payment method token fit for the logs: only its last four characters.
fn redact(payment_method: &str) -> String {
    let chars: Vec<char> = payment_method.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("…{tail}")
}
