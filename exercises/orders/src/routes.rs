//! The HTTP API.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};

use crate::cursor::Cursor;
use crate::error::AppError;
use crate::model::{Customer, HistoryParams, Order, OrderLine, OrderPage, Product, ProductUpdate};
use crate::store::Store;

/// All routes of the service.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/customers/{id}", get(get_customer))
        .route("/customers/{id}/orders", get(customer_orders))
        .route("/products/{id}", get(get_product).put(update_product))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(store)
}

/// `GET /customers/{id}`.
async fn get_customer(
    State(store): State<Store>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Customer>, AppError> {
    let id = path_id(id)?;
    store
        .customer(id)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// `GET /customers/{id}/orders`: the customer's orders, newest first, a page at a time.
async fn customer_orders(
    State(store): State<Store>,
    id: Result<Path<i64>, PathRejection>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Json<OrderPage>, AppError> {
    let customer_id = path_id(id)?;
    let Query(params) = params.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let limit = params.page_size()?;
    let after = params.after()?;

    if !store.customer_exists(customer_id).await? {
        return Err(AppError::NotFound);
    }

    // Ask for one order more than the page holds: if it comes back, another page follows.
    let mut rows = store.orders_page(customer_id, after, limit + 1).await?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = match rows.last() {
        Some(last) if has_more => Some(Cursor::after(last).encode()),
        _ => None,
    };

    let mut orders = Vec::with_capacity(rows.len());
    for row in rows {
        let mut lines = Vec::new();
        for line in store.order_lines(row.id).await? {
            // Show the product under its current name; the price is what was paid.
            let product = store.product(line.product_id).await?.ok_or_else(|| {
                AppError::Database(format!(
                    "order line refers to missing product {}",
                    line.product_id
                ))
            })?;
            lines.push(OrderLine::new(line, product.name));
        }
        orders.push(Order::new(row, lines));
    }

    Ok(Json(OrderPage {
        customer_id,
        orders,
        next_cursor,
    }))
}

/// `GET /products/{id}`.
async fn get_product(
    State(store): State<Store>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Product>, AppError> {
    let id = path_id(id)?;
    store.product(id).await?.map(Json).ok_or(AppError::NotFound)
}

/// `PUT /products/{id}`: renames and/or reprices a product.
async fn update_product(
    State(store): State<Store>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<ProductUpdate>, JsonRejection>,
) -> Result<Json<Product>, AppError> {
    let id = path_id(id)?;
    let Json(update) = body.map_err(|e| AppError::BadRequest(e.body_text()))?;
    update.validate()?;
    let product = store
        .update_product(id, update)
        .await?
        .ok_or(AppError::NotFound)?;
    tracing::info!(product = product.id, name = %product.name, price = product.price, "product updated");
    Ok(Json(product))
}

/// Unknown paths get the same JSON error body as everything else.
async fn not_found() -> AppError {
    AppError::NotFound
}

/// A known path with a method it does not support.
async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// The numeric id from the path, or a 400 for anything else.
fn path_id(id: Result<Path<i64>, PathRejection>) -> Result<i64, AppError> {
    id.map(|Path(id)| id)
        .map_err(|_| AppError::BadRequest("id must be an integer".into()))
}
