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
use crate::service::{RunningService, ServiceSpec};

#[cfg(feature = "charge")]
mod charge;
#[cfg(feature = "checkout")]
mod checkout;
#[cfg(any(feature = "transfer", feature = "checkout"))]
mod db;
#[cfg(feature = "orders")]
mod orders;
#[cfg(feature = "quote")]
mod quote;
#[cfg(feature = "transfer")]
mod transfer;

/// A fault a live session offers: (target, mode, what it does).
pub type Mode = (&'static str, &'static str, &'static str);

/// One exercise's live wiring: the fakes it runs, the faults they take and the requests
/// to try. Each exercise's module is compiled only with its feature, so a kit carries
/// only its own exercises' wiring.
pub trait Wiring: Send + Sync {
    /// Every fault the session offers.
    fn modes(&self) -> &'static [Mode];
    /// The service's downstreams: (name, URL of the fake playing it).
    fn downstreams(&self) -> Vec<(String, String)>;
    /// Requests to paste into a terminal, against the service at `url`.
    fn curl_lines(&self, url: &str) -> Vec<String>;
    /// Sets one of [`Wiring::modes`]; `target` and `mode` are known to be listed.
    fn apply(&self, target: &str, mode: &str) -> Result<(), String>;
    /// How many calls the fakes have received so far.
    fn downstream_calls(&self) -> usize;
}

/// A listed fault this exercise's wiring has no arm for.
fn not_wired(mode: &str) -> String {
    format!("`{mode}` is not wired for this exercise")
}

/// Starts the fakes of `exercise`; `db` is where its service keeps its database.
async fn start_wiring(exercise: &str, db: &Path) -> Result<Box<dyn Wiring>, String> {
    let _ = db;
    match exercise {
        #[cfg(feature = "charge")]
        "charge" => charge::start().await,
        #[cfg(feature = "orders")]
        "orders" => orders::start().await,
        #[cfg(feature = "transfer")]
        "transfer" => transfer::start(db).await,
        #[cfg(feature = "quote")]
        "quote" => quote::start().await,
        #[cfg(feature = "checkout")]
        "checkout" => checkout::start(db).await,
        other => Err(format!("`{other}` has no live session in this build")),
    }
}

/// Where a running session leaves its control URL for `fault`.
pub fn state_file(cache: &Path, exercise: &str) -> PathBuf {
    cache.join(format!("serve-{exercise}.url"))
}

struct Control {
    exercise: &'static str,
    wiring: Box<dyn Wiring>,
}

impl Control {
    fn apply(&self, target: &str, mode: &str) -> Result<String, String> {
        let modes = self.wiring.modes();
        let Some((_, _, what)) = modes.iter().find(|(t, m, _)| *t == target && *m == mode) else {
            let known: Vec<String> = modes.iter().map(|(t, m, _)| format!("{t} {m}")).collect();
            return Err(format!(
                "unknown fault `{target} {mode}` for {} (known: {})",
                self.exercise,
                known.join(", ")
            ));
        };
        self.wiring.apply(target, mode)?;
        Ok(format!("{target} {mode}: {what}"))
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
    let db = workdir.join(format!("{}.db", exercise.id));
    let wiring = start_wiring(exercise.id, &db).await?;
    let stats = workdir.join("requests.jsonl");
    let spec = ServiceSpec {
        binary: binary.to_path_buf(),
        db,
        downstreams: wiring.downstreams(),
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
        wiring,
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
    for line in control.wiring.curl_lines(&url) {
        println!("  {line}");
    }
    println!();
    println!("faults:");
    for (target, mode, what) in control.wiring.modes() {
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
    for (target, mode, what) in control.wiring.modes() {
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
    let mut seen_calls = control.wiring.downstream_calls();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                let calls = control.wiring.downstream_calls();
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
