//! Live sessions: `serve` runs an exercise with its fakes for an interviewer and a
//! candidate to poke at, streams one line per request, and takes faults from `fault`
//! (a second terminal) or its control page while it runs. The page shows the fault in
//! force per downstream, the request feed, the ground truth as it changes (the fakes'
//! records and the service's database, never what the service says) and plays the
//! scenarios that matter (the same request twice at once, a lost answer and a retry,
//! kill -9 mid-request and a restart) by holding calls at the fakes, as checks do.
//!
//! Unlike grading, a live session is meant to be reached from the interviewer's own
//! terminal and browser, so it does not move into a network namespace; everything still
//! listens on 127.0.0.1 only, and the service runs under the same process sandbox.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::response::{Html, Json};
use axum::routing::{get, post};
use serde::Serialize;
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
mod front;
#[cfg(feature = "orders")]
mod orders;
mod page;
#[cfg(feature = "quote")]
mod quote;
mod scenarios;
#[cfg(feature = "transfer")]
mod transfer;
pub mod truth;

pub use scenarios::Scenario;
use truth::Table;

/// A fault a live session offers: (target, mode, what it does).
pub type Mode = (&'static str, &'static str, &'static str);

/// Events the page keeps: enough for a few minutes of poking at it.
const FEED_LEN: usize = 200;

/// The request the scenario buttons replay.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Its method.
    pub method: reqwest::Method,
    /// Path and query, e.g. `/charges`.
    pub path: String,
    /// A JSON body, if it has one.
    pub body: Option<serde_json::Value>,
    /// Whether it carries an `Idempotency-Key` (a fresh one per scenario run).
    pub keyed: bool,
}

impl Probe {
    /// `POST /charges`, in the page's words.
    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A one-off fault the scenarios arm on the downstream that matters most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneOff {
    /// The downstream acts on the next call (charges, say), then its answer is lost.
    LoseAnswer,
    /// The downstream takes the next call (acting on it where it acts) and holds its
    /// answer until [`Wiring::release_held`].
    HoldAnswer,
}

/// One exercise's live wiring: the fakes it runs, the faults they take, the requests
/// to try and the ground truth to show. Each exercise's module is compiled only with
/// its feature, so a kit carries only its own exercises' wiring. No method has a
/// default: an exercise that lacks a piece says so in its own code.
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
    /// The request the scenario buttons replay; `None` offers no scenarios.
    fn probe(&self) -> Option<Probe>;
    /// What `fault` does in this exercise, in a few words; `None` where it has no
    /// downstream for it (the scenario that needs it is not offered).
    fn offers(&self, fault: OneOff) -> Option<&'static str>;
    /// Arms `fault` for the next call.
    fn arm(&self, fault: OneOff) -> Result<(), String>;
    /// Calls the downstream holds now.
    fn held(&self) -> usize;
    /// Lets every held call answer.
    fn release_held(&self);
    /// Ground truth now, from the fakes' records and the database at `db`.
    fn truth(&self, db: &Path) -> Vec<Table>;
    /// The downstream's lasting effects so far, counted, and what they are (e.g.
    /// `(3, "provider charge(s)")`); `None` where the downstream changes nothing.
    fn effects(&self) -> Option<(usize, &'static str)>;
    /// Points the fakes' records at `timeline`, as a check's world does.
    fn record_into(&self, timeline: &crate::checks::Timeline);
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

/// One line of the page's feed.
#[derive(Debug, Clone, Serialize)]
struct Event {
    seq: u64,
    /// Seconds since the session started.
    at: f64,
    /// `request`, `fault`, `scenario` or `service`.
    kind: &'static str,
    text: String,
    /// The answer's status, for requests.
    status: Option<u16>,
}

/// A fault in force on one target, as last set.
#[derive(Debug, Clone, Serialize)]
struct InForce {
    target: &'static str,
    mode: &'static str,
    what: &'static str,
    /// Seconds since the session started; `None` for the state the session began in.
    since: Option<f64>,
}

/// Everything the page shows, in one poll.
#[derive(Serialize)]
struct PageState {
    exercise: &'static str,
    service: String,
    in_force: Vec<InForce>,
    feed: Vec<Event>,
    truth: Vec<Table>,
    scenarios: Vec<scenarios::Offered>,
    /// The last scenario's timeline: its requests, the fakes' calls, kills and restarts.
    last_timeline: Option<crate::checks::timeline::Recorded>,
}

/// The running session: its service, its fakes and what the page shows.
pub(crate) struct Control {
    exercise: &'static str,
    wiring: Box<dyn Wiring>,
    db: PathBuf,
    started: Instant,
    front: front::Front,
    service: tokio::sync::Mutex<RunningService>,
    http: reqwest::Client,
    in_force: Mutex<BTreeMap<&'static str, InForce>>,
    feed: Mutex<VecDeque<Event>>,
    /// Every scenario played, with what the downstream did during it.
    runs: Mutex<Table>,
    /// What the service, its fakes and the scenarios' client do, on one clock; taken
    /// at the start and end of each scenario.
    timeline: crate::checks::Timeline,
    /// The last scenario's timeline, for the page.
    last_timeline: Mutex<Option<crate::checks::timeline::Recorded>>,
    /// One scenario at a time: two would arm each other's one-off faults.
    playing: tokio::sync::Mutex<()>,
    seq: AtomicU64,
    keys: AtomicU64,
}

impl Control {
    fn apply(&self, target: &str, mode: &str) -> Result<String, String> {
        let modes = self.wiring.modes();
        let Some(&(target, mode, what)) = modes.iter().find(|(t, m, _)| *t == target && *m == mode)
        else {
            let known: Vec<String> = modes.iter().map(|(t, m, _)| format!("{t} {m}")).collect();
            return Err(format!(
                "unknown fault `{target} {mode}` for {} (known: {})",
                self.exercise,
                known.join(", ")
            ));
        };
        self.wiring.apply(target, mode)?;
        let since = Some(self.started.elapsed().as_secs_f64());
        lock(&self.in_force).insert(
            target,
            InForce {
                target,
                mode,
                what,
                since,
            },
        );
        let done = format!("{target} {mode}: {what}");
        self.note("fault", format!("fault set: {done}"));
        Ok(done)
    }

    /// Adds a line to the feed.
    fn note(&self, kind: &'static str, text: String) {
        self.push(kind, text, None);
    }

    fn push(&self, kind: &'static str, text: String, status: Option<u16>) {
        let event = Event {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            at: self.started.elapsed().as_secs_f64(),
            kind,
            text,
            status,
        };
        let mut feed = lock(&self.feed);
        if feed.len() == FEED_LEN {
            feed.pop_front();
        }
        feed.push_back(event);
    }

    /// A key no earlier scenario of this session used.
    fn next_key(&self) -> String {
        format!("live-{}", self.keys.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Kills the service with SIGKILL and starts it again on its database, behind the
    /// same front address.
    async fn restart_service(&self) -> Result<(), String> {
        let mut service = self.service.lock().await;
        service
            .restart_after_kill9()
            .await
            .map_err(|e| format!("the service did not come back after kill -9: {e}"))?;
        self.front.retarget(service.addr());
        self.note(
            "service",
            "service killed with SIGKILL and restarted on the same database".to_owned(),
        );
        Ok(())
    }

    async fn state(self: &Arc<Self>) -> PageState {
        // SQLite reads block: keep them off the runtime's workers.
        let reader = Arc::clone(self);
        let mut truth = vec![lock(&self.runs).clone()];
        let read = tokio::task::spawn_blocking(move || reader.wiring.truth(&reader.db))
            .await
            .unwrap_or_else(|e| {
                let mut failed = Table::new("ground truth", &[]);
                failed.note = Some(format!("could not be read: {e}"));
                vec![failed]
            });
        truth.extend(read);
        PageState {
            exercise: self.exercise,
            service: self.front.url(),
            in_force: lock(&self.in_force).values().cloned().collect(),
            feed: lock(&self.feed).iter().cloned().collect(),
            truth,
            scenarios: scenarios::offered(self),
            last_timeline: lock(&self.last_timeline).clone(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The state each target starts in: its `healthy` mode where it has one.
fn initial_faults(modes: &'static [Mode]) -> BTreeMap<&'static str, InForce> {
    let mut in_force = BTreeMap::new();
    for &(target, mode, what) in modes {
        if mode == "healthy" {
            in_force.insert(
                target,
                InForce {
                    target,
                    mode,
                    what,
                    since: None,
                },
            );
        }
    }
    in_force
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
    let timeline = crate::checks::Timeline::new();
    wiring.record_into(&timeline);
    let stats = workdir.join("requests.jsonl");
    let spec = ServiceSpec {
        binary: binary.to_path_buf(),
        db: db.clone(),
        downstreams: wiring.downstreams(),
        env: vec![("KIT_SEED_DEMO".to_owned(), "20".to_owned())],
        log: workdir.join("service.log"),
        stats: Some(stats.clone()),
        policy: Arc::new(crate::sandbox::Policy::service(&ws.root)),
        timeline: timeline.clone(),
    };
    let svc = RunningService::start(&spec)
        .await
        .map_err(|e| format!("the service did not start: {e}"))?;
    let front = front::Front::start(svc.addr())
        .await
        .map_err(|e| format!("opening the session's address: {e}"))?;
    let control = Arc::new(Control {
        exercise: exercise.id,
        in_force: Mutex::new(initial_faults(wiring.modes())),
        wiring,
        db,
        started: Instant::now(),
        front,
        service: tokio::sync::Mutex::new(svc),
        http: reqwest::Client::new(),
        feed: Mutex::new(VecDeque::new()),
        runs: Mutex::new(scenarios::runs_table()),
        timeline,
        last_timeline: Mutex::new(None),
        playing: tokio::sync::Mutex::new(()),
        seq: AtomicU64::new(0),
        keys: AtomicU64::new(0),
    });
    let router = Router::new()
        .route("/", get(page))
        .route("/state", get(state))
        .route("/fault/{target}/{mode}", post(set_fault))
        .route("/scenario/{id}", post(play_scenario))
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
    let url = control.front.url();
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
    drop(server);
    // The last handle may be held by a scenario still running; its service goes with it.
    drop(control);
    Ok(())
}

async fn page(State(control): State<Arc<Control>>) -> Html<String> {
    Html(page::render(
        control.exercise,
        control.wiring.modes(),
        &scenarios::offered(&control),
    ))
}

async fn state(State(control): State<Arc<Control>>) -> Json<PageState> {
    Json(control.state().await)
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

async fn play_scenario(
    State(control): State<Arc<Control>>,
    UrlPath(id): UrlPath<String>,
) -> (axum::http::StatusCode, String) {
    let Some(scenario) = Scenario::from_id(&id) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            format!("unknown scenario `{id}`"),
        );
    };
    println!("  ▶ scenario: {id}");
    match scenarios::play(control, scenario).await {
        Ok(done) => (axum::http::StatusCode::OK, done),
        Err(e) => (axum::http::StatusCode::CONFLICT, e),
    }
}

/// Prints one line per request from the service's stats file, and feeds the page.
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
                let status = v["status"].as_u64().and_then(|s| u16::try_from(s).ok());
                let text = format!(
                    "{} {} → {} · {} ms · {} SQL · {} downstream call(s)",
                    v["method"].as_str().unwrap_or("?"),
                    v["path"].as_str().unwrap_or("?"),
                    v["status"],
                    v["elapsed_ms"],
                    v["statements"],
                    calls.saturating_sub(seen_calls)
                );
                println!("  {text}");
                control.push("request", text, status);
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
