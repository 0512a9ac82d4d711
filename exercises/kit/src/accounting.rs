//! SQL statement accounting, per process and per HTTP request.
//!
//! Every statement on every connection of the process is counted: [`crate::hook`]
//! traces each connection from the moment it opens and feeds this module's ledger,
//! whichever thread or task runs the statement. For each statement the ledger keeps its
//! text and how many full-table-scan steps and VM steps it took (SQLite's own statement
//! counters, so scans are measured by work done, never by a stopwatch).
//!
//! A request is a [`Window`]: it opens when the middleware sees the request and closes
//! once the response body has been produced in full (the body is buffered, so work a
//! handler defers into its body stream still happens inside the window). Its count is
//! every statement the process started meanwhile — exact when requests come one at a
//! time, which is how the harness measures, and an upper bound when they overlap
//! (`overlapped` in the record). Statements finishing while no request is in flight are
//! not lost: the next record carries them as `background`, and each record has the
//! process's running statement total at its start and end (`stmt_start`, `stmt_end`),
//! so a reader can attribute everything between two of its requests.
//!
//! The outermost layer reports the count in the [`SQL_STATEMENTS_HEADER`] and the
//! accounting's state in the [`ACCOUNTING_HEADER`] response headers, after the
//! exercise's handlers ran, so a handler cannot set them. With `--stats-file` it also
//! appends one JSON line per request with every statement, a per-process sequence
//! number and, when the grader passed a key in [`crate::hook::KEY_VARIABLE`], a MAC
//! over the line (SipHash-2-4, two keys): a line the kit did not write cannot carry a
//! valid one, so forged, edited, removed or replayed lines are detectable. The key is
//! taken and wiped from the environment before `main`.
//!
//! What is tampering ([`tampered`], sticky for the process): a connection's trace hook
//! replaced or cleared, the kit's auto-extension removed, SQLite used before the kit
//! could trace it. Every later record and header says so.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

/// Response header carrying the number of SQL statements the request executed.
pub const SQL_STATEMENTS_HEADER: &str = "x-kit-sql-statements";

/// Response header saying whether the process's statement accounting is `intact` or
/// `tampered: <reasons>`.
pub const ACCOUNTING_HEADER: &str = "x-kit-accounting";

/// Request header a client may set to find its request in the stats file.
pub const REQUEST_ID_HEADER: &str = "x-kit-request-id";

/// Path of the canary route, which executes exactly [`CANARY_STATEMENTS`] statements.
pub const CANARY_PATH: &str = "/__kit/canary";

/// How many statements a canary request executes; a different count in the header means
/// the accounting was removed or bypassed.
pub const CANARY_STATEMENTS: u64 = 3;

/// Most statements recorded in detail per request (and as background); counting goes
/// on past it.
const MAX_DETAILED: usize = 2_000;

/// Largest response body the middleware buffers; a larger one becomes a 500.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Most distinct tampering reasons kept.
const MAX_REASONS: usize = 8;

/// One executed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRecord {
    /// The SQL text as prepared.
    pub sql: String,
    /// Rows stepped through by full table scans (`SQLITE_STMTSTATUS_FULLSCAN_STEP`).
    pub fullscan_steps: i64,
    /// Virtual machine steps (`SQLITE_STMTSTATUS_VM_STEP`), a proxy for total work.
    pub vm_steps: i64,
}

/// What the process did to its databases while one window was open.
#[derive(Debug, Clone, Default)]
pub struct WindowReport {
    /// Position of this record in the process (1, 2, …), in stats-file order.
    pub seq: u64,
    /// Statements the process started while the window was open.
    pub statements: u64,
    /// The process's statement total when the window opened.
    pub stmt_start: u64,
    /// The process's statement total when it closed.
    pub stmt_end: u64,
    /// Another window was open at some point, so the count may include its work.
    pub overlapped: bool,
    /// The statements that finished while the window was open (at most a few thousand).
    pub detail: Vec<StatementRecord>,
    /// Statements left out of `detail` past the cap.
    pub detail_dropped: u64,
    /// Statements that finished while no window was open, since the previous report.
    pub background: Vec<StatementRecord>,
    /// Background statements left out past the cap.
    pub background_dropped: u64,
    /// Why the process's accounting cannot be trusted; empty when intact.
    pub tampered: Vec<String>,
}

struct OpenWindow {
    id: u64,
    start: u64,
    overlapped: bool,
    detail: Vec<StatementRecord>,
    dropped: u64,
}

/// The process-wide ledger every traced connection feeds.
struct Ledger {
    started: u64,
    next_window: u64,
    open: Vec<OpenWindow>,
    background: Vec<StatementRecord>,
    background_dropped: u64,
    seq: u64,
    tampered: Vec<String>,
}

static LEDGER: Mutex<Ledger> = Mutex::new(Ledger {
    started: 0,
    next_window: 0,
    open: Vec::new(),
    background: Vec::new(),
    background_dropped: 0,
    seq: 0,
    tampered: Vec::new(),
});

static KEY: OnceLock<[u64; 4]> = OnceLock::new();

fn ledger() -> std::sync::MutexGuard<'static, Ledger> {
    LEDGER.lock().unwrap_or_else(PoisonError::into_inner)
}

fn push_capped(list: &mut Vec<StatementRecord>, dropped: &mut u64, record: StatementRecord) {
    if list.len() < MAX_DETAILED {
        list.push(record);
    } else {
        *dropped += 1;
    }
}

/// A statement started somewhere in the process.
pub(crate) fn statement_started() {
    ledger().started += 1;
}

/// A statement finished: its detail goes to every open window, or to the background.
pub(crate) fn statement_finished(record: StatementRecord) {
    let mut ledger = ledger();
    let ledger = &mut *ledger;
    match ledger.open.as_mut_slice() {
        [] => push_capped(
            &mut ledger.background,
            &mut ledger.background_dropped,
            record,
        ),
        [only] => push_capped(&mut only.detail, &mut only.dropped, record),
        many => {
            for w in many {
                push_capped(&mut w.detail, &mut w.dropped, record.clone());
            }
        }
    }
}

/// Records why the accounting can no longer be trusted (sticky for the process).
pub(crate) fn mark_tampered(reason: &str) {
    tracing::warn!(reason, "statement accounting tampered with");
    let mut ledger = ledger();
    if ledger.tampered.len() < MAX_REASONS && !ledger.tampered.iter().any(|r| r == reason) {
        ledger.tampered.push(reason.to_owned());
    }
}

/// Why the process's statement accounting cannot be trusted; empty when it is intact.
pub fn tampered() -> Vec<String> {
    ledger().tampered.clone()
}

/// Statements started in the process so far, on every connection.
pub fn statements_started() -> u64 {
    ledger().started
}

/// Whether the accounting was set up before `main` ran (see [`crate::hook`]).
pub fn started_before_main() -> bool {
    crate::hook::started_before_main()
}

/// Whether stats lines carry a MAC (the grader passed a key).
pub fn keyed() -> bool {
    KEY.get().is_some()
}

pub(crate) fn install_key(key: Option<[u64; 4]>) {
    if let Some(key) = key {
        let _ = KEY.set(key);
    }
}

/// The MAC of a stats line's text: two SipHash-2-4 tags under the grader's key, as 32
/// hex digits.
fn mac(text: &str) -> Option<String> {
    let key = KEY.get()?;
    #[allow(deprecated)] // SipHash-2-4 exactly, keyed; the replacement is not keyable.
    let tag = |k0: u64, k1: u64| {
        use std::hash::Hasher;
        let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
        h.write(text.as_bytes());
        h.finish()
    };
    Some(format!(
        "{:016x}{:016x}",
        tag(key[0], key[1]),
        tag(key[2], key[3])
    ))
}

/// One request's accounting window; see the module documentation.
///
/// Dropping a window without closing it (a request cancelled mid-way) keeps its
/// statements: they go to the background of the next report.
pub struct Window {
    id: u64,
    closed: bool,
}

impl Window {
    /// Opens a window now.
    pub fn open() -> Window {
        crate::hook::ensure_started();
        let mut ledger = ledger();
        ledger.next_window += 1;
        let id = ledger.next_window;
        let overlapped = !ledger.open.is_empty();
        for w in &mut ledger.open {
            w.overlapped = true;
        }
        let start = ledger.started;
        ledger.open.push(OpenWindow {
            id,
            start,
            overlapped,
            detail: Vec::new(),
            dropped: 0,
        });
        Window { id, closed: false }
    }

    /// Closes the window and reports what the process did while it was open, plus the
    /// background since the previous report. Each report takes the next sequence number.
    pub fn close(mut self) -> WindowReport {
        self.closed = true;
        crate::hook::probe_extension();
        let mut ledger = ledger();
        let ledger = &mut *ledger;
        let mut report = WindowReport {
            stmt_end: ledger.started,
            background: std::mem::take(&mut ledger.background),
            background_dropped: std::mem::take(&mut ledger.background_dropped),
            tampered: ledger.tampered.clone(),
            ..WindowReport::default()
        };
        if let Some(at) = ledger.open.iter().position(|w| w.id == self.id) {
            let w = ledger.open.remove(at);
            report.stmt_start = w.start;
            report.overlapped = w.overlapped;
            report.detail = w.detail;
            report.detail_dropped = w.dropped;
        } else {
            report.stmt_start = report.stmt_end;
        }
        report.statements = report.stmt_end - report.stmt_start;
        ledger.seq += 1;
        report.seq = ledger.seq;
        report
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let mut ledger = ledger();
        let ledger = &mut *ledger;
        if let Some(at) = ledger.open.iter().position(|w| w.id == self.id) {
            let w = ledger.open.remove(at);
            for record in w.detail {
                push_capped(
                    &mut ledger.background,
                    &mut ledger.background_dropped,
                    record,
                );
            }
            ledger.background_dropped += w.dropped;
        }
    }
}

/// Where per-request JSON lines go, when configured.
#[derive(Clone, Default)]
pub struct StatsSink(Option<Arc<Mutex<File>>>);

impl StatsSink {
    /// Appends to `path` (created if missing); `None` records nothing.
    pub fn open(path: Option<&Path>) -> std::io::Result<StatsSink> {
        match path {
            None => Ok(StatsSink(None)),
            Some(p) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?;
                Ok(StatsSink(Some(Arc::new(Mutex::new(file)))))
            }
        }
    }

    /// Closes `window` and appends its line, built by `describe` from the report; the
    /// file stays locked from numbering to writing, so lines appear in sequence order.
    pub fn record(
        &self,
        window: Window,
        describe: impl FnOnce(&WindowReport) -> serde_json::Map<String, serde_json::Value>,
    ) -> WindowReport {
        let Some(file) = &self.0 else {
            return window.close();
        };
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        let report = window.close();
        let line = stats_line(&report, describe(&report));
        if let Err(e) = writeln!(file, "{line}") {
            tracing::warn!(error = %e, "cannot write the stats file");
        }
        report
    }
}

fn statements_json(list: &[StatementRecord]) -> serde_json::Value {
    list.iter()
        .map(|s| {
            serde_json::json!({
                "sql": s.sql,
                "fullscan_steps": s.fullscan_steps,
                "vm_steps": s.vm_steps,
            })
        })
        .collect()
}

/// The JSON line for `report` with the caller's fields, ending in `"mac"`: the MAC of
/// the line's text up to that field with a closing brace in its place (`null` when the
/// process has no key).
pub fn stats_line(
    report: &WindowReport,
    mut fields: serde_json::Map<String, serde_json::Value>,
) -> String {
    use serde_json::json;
    fields.insert("seq".into(), json!(report.seq));
    fields.insert("pid".into(), json!(std::process::id()));
    fields.insert("statements".into(), json!(report.statements));
    fields.insert("stmt_start".into(), json!(report.stmt_start));
    fields.insert("stmt_end".into(), json!(report.stmt_end));
    fields.insert("overlapped".into(), json!(report.overlapped));
    fields.insert("detail".into(), statements_json(&report.detail));
    fields.insert("detail_dropped".into(), json!(report.detail_dropped));
    fields.insert("background".into(), statements_json(&report.background));
    fields.insert(
        "background_dropped".into(),
        json!(report.background_dropped),
    );
    fields.insert("tampered".into(), json!(report.tampered));
    fields.remove("mac");
    let body = serde_json::Value::Object(fields).to_string();
    let open = body.strip_suffix('}').unwrap_or(&body);
    match mac(&body) {
        Some(tag) => format!("{open},\"mac\":\"{tag}\"}}"),
        None => format!("{open},\"mac\":null}}"),
    }
}

/// The value of [`ACCOUNTING_HEADER`] for a report.
fn accounting_header(report: &WindowReport) -> HeaderValue {
    if report.tampered.is_empty() {
        return HeaderValue::from_static("intact");
    }
    HeaderValue::from_str(&format!("tampered: {}", report.tampered.join("; ")))
        .unwrap_or_else(|_| HeaderValue::from_static("tampered"))
}

/// Middleware: records the statements a request executes and reports them.
pub async fn count_statements(
    State(sink): State<StatsSink>,
    request: Request,
    next: Next,
) -> Response {
    let window = Window::open();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    // The body is produced inside the window: statements a handler defers into its
    // body stream are still this request's.
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "the response body failed or was too large");
            parts.status = StatusCode::INTERNAL_SERVER_ERROR;
            parts.headers.remove(header::CONTENT_LENGTH);
            axum::body::Bytes::new()
        }
    };
    let status = parts.status.as_u16();
    // Written before the response leaves, so a client that got the response can read
    // its line.
    let report = sink.record(window, |_| {
        let mut fields = serde_json::Map::new();
        fields.insert("request_id".into(), serde_json::json!(request_id));
        fields.insert("method".into(), serde_json::json!(method));
        fields.insert("path".into(), serde_json::json!(path));
        fields.insert("status".into(), serde_json::json!(status));
        fields.insert(
            "elapsed_ms".into(),
            serde_json::json!(started.elapsed().as_millis() as u64),
        );
        fields
    });
    parts
        .headers
        .insert(SQL_STATEMENTS_HEADER, HeaderValue::from(report.statements));
    parts
        .headers
        .insert(ACCOUNTING_HEADER, accounting_header(&report));
    Response::from_parts(parts, Body::from(body))
}
