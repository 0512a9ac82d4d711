//! Live sessions: `serve` runs an exercise with its fakes for an interviewer and a
//! candidate to poke at, streams one line per request, and takes faults from `fault`
//! (a second terminal) or its small control page while it runs.
//!
//! Unlike grading, a live session is meant to be reached from the interviewer's own
//! terminal and browser, so it does not move into a network namespace; everything still
//! listens on 127.0.0.1 only, and the service runs under the same process sandbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::response::Html;
use axum::routing::{get, post};
use tokio::io::AsyncBufReadExt;

use crate::catalog::Exercise;
use crate::fakes::server::FakeServer;
use crate::fakes::{
    PaymentProvider, PricingFault, PricingService, ProviderFault, RiskFault, RiskService,
    ShippingFault, ShippingRates, WriteFault, WriteFaults,
};
use crate::service::{RunningService, ServiceSpec};

/// The fakes an exercise's live session runs, and what faults they take.
enum Fakes {
    Charge(PaymentProvider),
    Orders,
    Transfer(RiskService),
    Quote(PricingService),
    Checkout(PaymentProvider, ShippingRates),
}

/// Every fault a live session offers: (target, mode, what it does).
pub fn modes(exercise: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    match exercise {
        "charge" => &[
            ("provider", "healthy", "the provider answers normally"),
            ("provider", "slow", "every charge takes 3 s"),
            (
                "provider",
                "error",
                "every charge fails with 500 (nothing charged)",
            ),
            (
                "provider",
                "lose-response",
                "the next charge is made, then its response is lost",
            ),
            ("provider", "hang", "every charge hangs"),
        ],
        "transfer" => &[
            ("risk", "healthy", "the risk service approves"),
            ("risk", "slow", "every assessment takes 2 s"),
            ("risk", "error", "every assessment fails with 500"),
            (
                "db",
                "fail-next-write",
                "the next transfer's second row write fails (and those after it)",
            ),
            (
                "db",
                "lock",
                "another process holds the database's write lock for 8 s",
            ),
            ("db", "healthy", "no database faults"),
        ],
        "quote" => &[
            ("pricing", "healthy", "pricing answers normally"),
            ("pricing", "slow", "every price takes 1.5 s"),
            ("pricing", "hang", "every call hangs"),
            ("pricing", "stall", "headers, then the body stalls"),
            ("pricing", "503", "every call answers 503"),
            (
                "pricing",
                "429",
                "every call answers 429 with Retry-After: 1",
            ),
            ("pricing", "garbage", "200 with an HTML body"),
            ("pricing", "reset", "connections are reset"),
            ("pricing", "flap", "503 and healthy alternate every 2 s"),
            ("pricing", "outage", "503 for 10 s, then healthy"),
        ],
        "checkout" => &[
            ("provider", "healthy", "the provider answers normally"),
            (
                "provider",
                "lose-response",
                "the next charge is made, then its response is lost",
            ),
            (
                "provider",
                "error",
                "every charge fails with 500 (nothing charged)",
            ),
            (
                "provider",
                "decline",
                "the next charge is declined with 402 (nothing charged)",
            ),
            ("shipping", "healthy", "shipping-rates answers normally"),
            ("shipping", "hang", "every rate request hangs"),
            ("shipping", "stall", "headers, then the body stalls"),
            ("shipping", "503", "every rate request answers 503"),
            ("shipping", "garbage", "200 with an HTML body"),
            (
                "db",
                "fail-next-write",
                "the next checkout's second row write fails (and those after it)",
            ),
            ("db", "healthy", "no database faults"),
        ],
        _ => &[],
    }
}

/// Where a running session leaves its control URL for `fault`.
pub fn state_file(cache: &Path, exercise: &str) -> PathBuf {
    cache.join(format!("serve-{exercise}.url"))
}

struct Control {
    exercise: &'static str,
    fakes: Fakes,
    db: PathBuf,
    write_faults: std::sync::Mutex<Option<WriteFaults>>,
}

impl Control {
    fn apply(&self, target: &str, mode: &str) -> Result<String, String> {
        let Some((_, _, what)) = modes(self.exercise)
            .iter()
            .find(|(t, m, _)| *t == target && *m == mode)
        else {
            let known: Vec<String> = modes(self.exercise)
                .iter()
                .map(|(t, m, _)| format!("{t} {m}"))
                .collect();
            return Err(format!(
                "unknown fault `{target} {mode}` (known: {})",
                known.join(", ")
            ));
        };
        match (&self.fakes, target, mode) {
            (Fakes::Charge(p), _, "healthy") => p.heal(),
            (Fakes::Charge(p), _, "slow") => {
                p.set_standing(Some(ProviderFault::Latency(Duration::from_secs(3))))
            }
            (Fakes::Charge(p), _, "error") => p.set_standing(Some(ProviderFault::ServerError)),
            (Fakes::Charge(p), _, "lose-response") => p.fail_next(ProviderFault::LostResponse),
            (Fakes::Charge(p), _, "hang") => p.set_standing(Some(ProviderFault::Hang)),
            (Fakes::Transfer(r), "risk", "healthy") => r.set_standing(None),
            (Fakes::Transfer(r), "risk", "slow") => {
                r.set_standing(Some(RiskFault::Latency(Duration::from_secs(2))))
            }
            (Fakes::Transfer(r), "risk", "error") => r.set_standing(Some(RiskFault::ServerError)),
            (Fakes::Checkout(p, _), "provider", "healthy") => p.heal(),
            (Fakes::Checkout(p, _), "provider", "lose-response") => {
                p.fail_next(ProviderFault::LostResponse)
            }
            (Fakes::Checkout(p, _), "provider", "error") => {
                p.set_standing(Some(ProviderFault::ServerError))
            }
            (Fakes::Checkout(p, _), "provider", "decline") => p.fail_next(ProviderFault::Decline),
            (Fakes::Checkout(_, s), "shipping", "healthy") => s.heal(),
            (Fakes::Checkout(_, s), "shipping", "hang") => {
                s.set_standing(Some(ShippingFault::Hang))
            }
            (Fakes::Checkout(_, s), "shipping", "stall") => {
                s.set_standing(Some(ShippingFault::SlowBody))
            }
            (Fakes::Checkout(_, s), "shipping", "503") => {
                s.set_standing(Some(ShippingFault::Status(503)))
            }
            (Fakes::Checkout(_, s), "shipping", "garbage") => {
                s.set_standing(Some(ShippingFault::Garbage))
            }
            (Fakes::Transfer(_) | Fakes::Checkout(..), "db", "fail-next-write") => {
                let faults = WriteFaults::install(&self.db).map_err(|e| e.to_string())?;
                faults
                    .arm(2, WriteFault::Abort)
                    .map_err(|e| e.to_string())?;
                *self
                    .write_faults
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(faults);
            }
            (Fakes::Transfer(_) | Fakes::Checkout(..), "db", "healthy") => {
                if let Some(f) = self
                    .write_faults
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .as_ref()
                {
                    f.disarm().map_err(|e| e.to_string())?;
                }
            }
            (Fakes::Transfer(_), "db", "lock") => {
                let db = self.db.clone();
                std::thread::spawn(move || {
                    if let Ok(conn) = rusqlite::Connection::open(&db) {
                        let _ = conn.busy_timeout(Duration::from_secs(10));
                        if conn.execute_batch("BEGIN IMMEDIATE").is_ok() {
                            std::thread::sleep(Duration::from_secs(8));
                            let _ = conn.execute_batch("ROLLBACK");
                        }
                    }
                });
            }
            (Fakes::Quote(p), _, "healthy") => p.heal(),
            (Fakes::Quote(p), _, "slow") => {
                p.set_standing(Some(PricingFault::Latency(Duration::from_millis(1500))))
            }
            (Fakes::Quote(p), _, "hang") => p.set_standing(Some(PricingFault::Hang)),
            (Fakes::Quote(p), _, "stall") => p.set_standing(Some(PricingFault::SlowBody)),
            (Fakes::Quote(p), _, "503") => p.set_standing(Some(PricingFault::Status(503))),
            (Fakes::Quote(p), _, "429") => p.set_standing(Some(PricingFault::RateLimited {
                retry_after_secs: 1,
            })),
            (Fakes::Quote(p), _, "garbage") => p.set_standing(Some(PricingFault::Garbage)),
            (Fakes::Quote(p), _, "reset") => p.set_standing(Some(PricingFault::Reset)),
            (Fakes::Quote(p), _, "flap") => {
                p.set_flapping(Duration::from_secs(2), PricingFault::Status(503))
            }
            (Fakes::Quote(p), _, "outage") => p.set_schedule(vec![
                (Duration::ZERO, Some(PricingFault::Status(503))),
                (Duration::from_secs(10), None),
            ]),
            _ => {
                return Err(format!(
                    "`{target} {mode}` is not wired for {}",
                    self.exercise
                ));
            }
        }
        Ok(format!("{target} {mode}: {what}"))
    }

    /// How many calls the fakes have received so far.
    fn downstream_calls(&self) -> usize {
        match &self.fakes {
            Fakes::Charge(p) => p.calls().len(),
            Fakes::Transfer(r) => r.calls().len(),
            Fakes::Quote(p) => p.call_count(),
            Fakes::Checkout(p, s) => p.calls().len() + s.calls().len(),
            Fakes::Orders => 0,
        }
    }
}

/// Runs a live session until Ctrl-C. `binary` is the built service.
pub async fn serve(
    exercise: &Exercise,
    binary: &Path,
    workdir: &Path,
    ws: &crate::staging::Workspace,
) -> Result<(), String> {
    let cache = ws.cache.as_path();
    let fakes = match exercise.id {
        "charge" => Fakes::Charge(PaymentProvider::start().await.map_err(|e| e.to_string())?),
        "transfer" => Fakes::Transfer(RiskService::start().await.map_err(|e| e.to_string())?),
        "quote" => Fakes::Quote(PricingService::start().await.map_err(|e| e.to_string())?),
        "checkout" => Fakes::Checkout(
            PaymentProvider::start().await.map_err(|e| e.to_string())?,
            ShippingRates::start().await.map_err(|e| e.to_string())?,
        ),
        _ => Fakes::Orders,
    };
    let downstreams = match &fakes {
        Fakes::Charge(p) => vec![("payments".to_owned(), p.url())],
        Fakes::Transfer(r) => vec![("risk".to_owned(), r.url())],
        Fakes::Quote(p) => vec![("pricing".to_owned(), p.url())],
        Fakes::Checkout(p, s) => vec![
            ("payments".to_owned(), p.url()),
            ("shipping".to_owned(), s.url()),
        ],
        Fakes::Orders => Vec::new(),
    };
    let stats = workdir.join("requests.jsonl");
    let spec = ServiceSpec {
        binary: binary.to_path_buf(),
        db: workdir.join(format!("{}.db", exercise.id)),
        downstreams,
        env: vec![("KIT_SEED_DEMO".to_owned(), "20".to_owned())],
        log: workdir.join("service.log"),
        stats: Some(stats.clone()),
        policy: Arc::new(crate::sandbox::Policy::service(&ws.root)),
    };
    let svc = RunningService::start(&spec)
        .await
        .map_err(|e| format!("the service did not start: {e}"))?;
    let control = Arc::new(Control {
        exercise: exercise.id,
        fakes,
        db: spec.db.clone(),
        write_faults: std::sync::Mutex::new(None),
    });
    let router = Router::new()
        .route("/", get(page))
        .route("/fault/{target}/{mode}", post(set_fault))
        .with_state(Arc::clone(&control));
    let server = FakeServer::start(router).await.map_err(|e| e.to_string())?;
    let state = state_file(cache, exercise.id);
    std::fs::create_dir_all(cache).map_err(|e| e.to_string())?;
    std::fs::write(&state, server.url()).map_err(|e| e.to_string())?;

    // Listen for Ctrl-C before saying anything: someone who reads the URLs may stop
    // the session at once, and an interrupt before a listener exists would kill the
    // process without cleaning up.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| format!("listening for Ctrl-C: {e}"))?;
    let url = svc.url();
    println!("{} is running at {url}", exercise.id);
    println!(
        "control page: {}   (or: harness fault {} TARGET MODE)",
        server.url(),
        exercise.id
    );
    println!("service log:  {}", spec.log.display());
    println!();
    for line in curl_lines(exercise.id, &url) {
        println!("  {line}");
    }
    println!();
    println!("faults:");
    for (target, mode, what) in modes(exercise.id) {
        println!("  harness fault {} {target} {mode:<16} {what}", exercise.id);
    }
    println!();
    println!("one line per request (Ctrl-C to stop):");

    let tail = tokio::spawn(stream_requests(stats, Arc::clone(&control)));
    interrupt.recv().await;
    tail.abort();
    let _ = std::fs::remove_file(&state);
    drop(svc);
    Ok(())
}

async fn page(State(control): State<Arc<Control>>) -> Html<String> {
    let mut html = format!(
        "<!doctype html><title>{0} faults</title><h1>{0}: faults</h1><ul>",
        control.exercise
    );
    for (target, mode, what) in modes(control.exercise) {
        html.push_str(&format!(
            "<li><form method=post action=\"/fault/{target}/{mode}\" style=\"display:inline\"><button>{target} {mode}</button></form> {what}</li>"
        ));
    }
    html.push_str("</ul>");
    Html(html)
}

async fn set_fault(
    State(control): State<Arc<Control>>,
    UrlPath((target, mode)): UrlPath<(String, String)>,
) -> (axum::http::StatusCode, String) {
    match control.apply(&target, &mode) {
        Ok(done) => {
            println!("  ⚡ fault set: {done}");
            (axum::http::StatusCode::OK, done)
        }
        Err(e) => (axum::http::StatusCode::BAD_REQUEST, e),
    }
}

/// Prints one line per request from the service's stats file.
async fn stream_requests(stats: PathBuf, control: Arc<Control>) {
    let file = loop {
        match tokio::fs::File::open(&stats).await {
            Ok(f) => break f,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let mut lines = tokio::io::BufReader::new(file).lines();
    let mut seen_calls = control.downstream_calls();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                let calls = control.downstream_calls();
                println!(
                    "  {} {} → {} · {} ms · {} SQL · {} downstream call(s)",
                    v["method"].as_str().unwrap_or("?"),
                    v["path"].as_str().unwrap_or("?"),
                    v["status"],
                    v["elapsed_ms"],
                    v["statements"],
                    calls - seen_calls
                );
                seen_calls = calls;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn curl_lines(exercise: &str, url: &str) -> Vec<String> {
    match exercise {
        "charge" => vec![
            format!(
                "curl -s -X POST {url}/charges -H 'content-type: application/json' -H 'Idempotency-Key: demo-1' -d '{{\"customer_id\":\"cus_1\",\"amount\":1999,\"currency\":\"usd\"}}'"
            ),
            format!("curl -s {url}/charges/CHARGE_ID"),
        ],
        "orders" => vec![format!(
            "curl -s '{url}/customers/CUSTOMER_ID/orders?limit=20'"
        )],
        "transfer" => vec![
            format!(
                "curl -s -X POST {url}/transfers -H 'content-type: application/json' -d '{{\"from_account\":\"acc_demo_2\",\"to_account\":\"acc_demo_1\",\"amount\":1500}}'"
            ),
            format!("curl -s {url}/accounts/acc_demo_2"),
        ],
        "quote" => vec![
            format!("curl -s '{url}/quotes/SKU-0001?qty=3'"),
            format!("curl -s {url}/products/SKU-0001"),
            format!("curl -s {url}/health"),
        ],
        "checkout" => vec![
            format!(
                "curl -s -X POST {url}/checkout -H 'content-type: application/json' -H 'Idempotency-Key: demo-1' -d '{{\"customer_id\":\"cus_1\",\"payment_method\":\"pm_card_visa\",\"lines\":[{{\"sku\":\"SKU-DEMO-1\",\"quantity\":2}}],\"shipping_address\":{{\"name\":\"Ada Lovelace\",\"line1\":\"1 Main St\",\"city\":\"Springfield\",\"postal_code\":\"94107\",\"country\":\"US\"}}}}'"
            ),
            format!("curl -s {url}/orders/ORDER_ID"),
        ],
        _ => Vec::new(),
    }
}

/// Sends a fault to the running session of `exercise`.
pub async fn send_fault(
    cache: &Path,
    exercise: &str,
    target: &str,
    mode: &str,
) -> Result<String, String> {
    let url = std::fs::read_to_string(state_file(cache, exercise)).map_err(|_| {
        format!(
            "no live session of `{exercise}` is running (start one with: harness serve {exercise})"
        )
    })?;
    let response = reqwest::Client::new()
        .post(format!("{}/fault/{target}/{mode}", url.trim()))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| format!("the live session did not answer: {e}"))?;
    let ok = response.status().is_success();
    let text = response.text().await.unwrap_or_default();
    if ok { Ok(text) } else { Err(text) }
}
