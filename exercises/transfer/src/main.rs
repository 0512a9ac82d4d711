//! Transfer service: moves money between customer accounts (EUR, in cents) after the risk
//! service has approved it, and keeps every account's ledger.
//!
//! - `routes`: the HTTP API (`POST /transfers`, `GET /transfers/{id}`,
//!   `GET /accounts/{id}`).
//! - `risk`: the risk service's HTTP client.
//! - `store`: the `accounts`, `transfers` and `ledger_entries` tables.
//! - `model`: request/response types and validation.
//! - `error`: `AppError`, which turns failures into JSON error responses.

mod error;
mod model;
mod risk;
mod routes;
mod store;

use std::process::ExitCode;

use clap::Parser;

use crate::risk::RiskClient;
use crate::routes::AppState;
use crate::store::LedgerStore;

/// Command-line interface: the kit's standard flags.
#[derive(Debug, Parser)]
#[command(name = "transfer", about = "Transfer service")]
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
    let store = LedgerStore::new(db.clone());
    if let Some(count) = cli.kit.seed_demo {
        store.seed_demo(count).await?;
    }
    let risk = RiskClient::new(cli.kit.downstream_url("risk")?)?;
    let app = routes::router(AppState { store, risk });
    kit::serve(&cli.kit, db, app).await?;
    Ok(())
}
