// Hostile submission: a kit service whose every handler panics.
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    kit: kit::KitArgs,
}

async fn boom() -> &'static str {
    panic!("hostile: every request panics")
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let db = kit::Db::open(&cli.kit.db, &[]).expect("db");
    let app = axum::Router::new().fallback(boom);
    kit::serve(&cli.kit, db, app).await.expect("serve");
}
