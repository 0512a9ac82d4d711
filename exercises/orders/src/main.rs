//! Order-history service: lists a customer's past orders, with their lines and totals,
//! for the web shop and the mobile app, and serves the product catalogue.
//!
//! - `routes`: the HTTP API (`GET /customers/{id}`, `GET /customers/{id}/orders`,
//!   `GET /products/{id}`, `PUT /products/{id}`).
//! - `store`: the `customers`, `products`, `orders` and `order_lines` tables.
//! - `model`: request/response types and validation.
//! - `cursor`: the opaque pagination cursor of the order history.
//! - `seed`: demo data for trying the service by hand.
//! - `error`: `AppError`, which turns failures into JSON error responses.

mod cursor;
mod error;
mod model;
mod routes;
mod seed;
mod store;

use std::process::ExitCode;

use clap::Parser;

use crate::store::Store;

/// Command-line interface: the kit's standard flags plus demo seeding.
#[derive(Debug, Parser)]
#[command(name = "orders", about = "Order-history service")]
struct Cli {
    #[command(flatten)]
    kit: kit::KitArgs,

    /// On start, fill an empty shop with this many demo orders (plus customers and
    /// products). `--seed-demo N` does the same.
    #[arg(long, env = "ORDERS_SEED_ORDERS")]
    seed_orders: Option<u64>,
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
    if let Some(orders) = cli.seed_orders.or(cli.kit.seed_demo) {
        seed::demo_shop(&db, orders).await?;
    }
    let app = routes::router(Store::new(db.clone()));
    kit::serve(&cli.kit, db, app).await?;
    Ok(())
}
