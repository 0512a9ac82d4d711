//! Quote service: answers the storefront's price quotes for catalogue products, with the
//! current price from the pricing service, and serves the product pages.
//!
//! - `routes`: the HTTP API (`GET /quotes/{sku}`, `GET /products/{sku}`, `GET /health`).
//! - `pricing`: the pricing service's HTTP client.
//! - `store`: the `products` table.
//! - `model`: request/response types and validation.
//! - `error`: `AppError`, which turns failures into JSON error responses.

mod error;
mod model;
mod pricing;
mod routes;
mod store;

use std::process::ExitCode;

use clap::Parser;

use crate::pricing::PricingClient;
use crate::routes::AppState;
use crate::store::ProductStore;

/// Command-line interface: the kit's standard flags.
#[derive(Debug, Parser)]
#[command(name = "quote", about = "Quote service")]
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
    let store = ProductStore::new(db.clone());
    if let Some(count) = cli.kit.seed_demo {
        store.seed_demo(count).await?;
    }
    let pricing = PricingClient::new(cli.kit.downstream_url("pricing")?)?;
    let app = routes::router(AppState {
        store,
        pricing,
        last_quoted: Default::default(),
    });
    kit::serve(&cli.kit, db, app).await?;
    Ok(())
}
