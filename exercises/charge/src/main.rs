//! Payments service: accepts charge requests from the checkout, charges the customer
//! through the payment provider and keeps a record of every charge.
//!
//! - `routes`: the HTTP API (`POST /charges`, `GET /charges/{id}`).
//! - `provider`: the payment provider's HTTP client.
//! - `store`: the `charges` table.
//! - `model`: request/response types and validation.
//! - `error`: `AppError`, which turns failures into JSON error responses.

mod error;
mod model;
mod provider;
mod routes;
mod store;

use std::process::ExitCode;

use clap::Parser;

use crate::provider::ProviderClient;
use crate::routes::AppState;
use crate::store::ChargeStore;

/// Command-line interface: the kit's standard flags.
#[derive(Debug, Parser)]
#[command(name = "charge", about = "Payments service")]
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
    let db = kit::Db::open(&cli.kit.db, store::MIGRATIONS)?;
    let store = ChargeStore::new(db.clone());
    if let Some(count) = cli.kit.seed_demo {
        store.seed_demo(count).await?;
    }
    let provider = ProviderClient::new(cli.kit.downstream_url("payments")?)?;
    let app = routes::router(AppState { store, provider });
    kit::serve(&cli.kit, db, app).await?;
    Ok(())
}
