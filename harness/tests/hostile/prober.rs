// Hostile submission: probes its sandbox and answers every request with what it
// could see and do. GRADER_ROOT is replaced by the test with the grader's repository.
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    kit: kit::KitArgs,
}

const GRADER_ROOT: &str = "@GRADER_ROOT@";

fn read(path: &str) -> &'static str {
    match std::fs::read(path) {
        Ok(_) => "READ",
        Err(_) => "denied",
    }
}

fn write(path: &str) -> &'static str {
    match std::fs::write(path, b"escaped") {
        Ok(()) => "WROTE",
        Err(_) => "denied",
    }
}

async fn probe() -> axum::Json<serde_json::Value> {
    let ifaces: Vec<String> = std::fs::read_to_string("/proc/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_owned()))
        .collect();
    let uid = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_default();
    axum::Json(serde_json::json!({
        "ifaces": ifaces.join(","),
        "uid": uid,
        "flaws": read(&format!("{GRADER_ROOT}/exercises/charge/flaws.toml")),
        "checks": read(&format!("{GRADER_ROOT}/harness/checks-hidden/src/checks/charge/flaws.rs")),
        "tmp": write("/tmp/hostile-escape"),
        "vartmp": write("/var/tmp/hostile-escape"),
        "shm": write("/dev/shm/hostile-escape"),
        "grader": write(&format!("{GRADER_ROOT}/hostile-escape")),
    }))
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // The contract table, so the check gets as far as telling what it was answered.
    let db = kit::Db::open(
        &cli.kit.db,
        &["CREATE TABLE charges (id TEXT, idempotency_key TEXT, customer_id TEXT,
            amount INTEGER, currency TEXT, status TEXT, provider_charge_id TEXT)"],
    )
    .expect("db");
    let app = axum::Router::new().fallback(probe);
    kit::serve(&cli.kit, db, app).await.expect("serve");
}
