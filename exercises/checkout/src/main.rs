//! Checkout service: turns a customer's cart into a paid order. It prices the cart from
//! the catalogue, reserves the stock, quotes shipping, charges the customer through the
//! payment provider and records the order for the warehouse and finance.
//!
//! - `routes`: the HTTP API (`POST /checkout`, `GET /orders/{id}`).
//! - `payments`: the payment provider's HTTP client.
//! - `shipping`: the shipping-rates service's HTTP client.
//! - `store`: the `products`, `orders` and `order_lines` tables.
//! - `model`: request/response types.
//! - `error`: `AppError`, which turns failures into JSON error responses.

mod error;
mod model;
mod payments;
mod routes;
mod shipping;
mod store;

use std::process::ExitCode;

use clap::Parser;

use crate::payments::PaymentsClient;
use crate::routes::AppState;
use crate::shipping::ShippingClient;
use crate::store::OrderStore;

/// Command-line interface: the kit's standard flags.
#[derive(Debug, Parser)]
#[command(name = "checkout", about = "Checkout service")]
struct Cli {
    #[command(flatten)]
    kit: kit::KitArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    kit::telemetry::init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let db = cli.kit.open_db(store::MIGRATIONS)?;
    let store = OrderStore::new(db.clone());
    if let Some(count) = cli.kit.seed_demo {
        store.seed_demo(count).await?;
    }
    let payments = PaymentsClient::new(cli.kit.downstream_url("payments")?)?;
    let shipping = ShippingClient::new(cli.kit.downstream_url("shipping")?)?;
    let app = routes::router(AppState {
        store,
        payments,
        shipping,
    });
    kit::serve(&cli.kit, db, app).await?;
    Ok(())
}
