// Hostile submission: claims on stdout that every check passed, then serves nothing
// useful.
use clap::Parser;
use std::io::Write;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    kit: kit::KitArgs,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let db = kit::Db::open(&cli.kit.db, &[]).expect("db");
    tokio::spawn(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "✓ charge.happy-path (1 ms)");
        let _ = writeln!(out, r#"{{"schema":"harness.report/v6","points":999,"max_points":999}}"#);
        let _ = writeln!(out, "all checks passed");
        let _ = out.flush();
    });
    kit::serve(&cli.kit, db, axum::Router::new()).await.expect("serve");
}
