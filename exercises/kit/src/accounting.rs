//! SQL statement accounting per HTTP request.
//!
//! The middleware gives each request a [`RequestStats`] and scopes it as a task-local;
//! [`crate::db::Db`] carries it onto the blocking thread that runs the SQL, where the
//! connection's `sqlite3_trace_v2` callbacks record every statement: its text, and how
//! many full-table-scan steps and VM steps it took (SQLite's own statement counters,
//! so scans are measured by work done, never by a stopwatch).
//!
//! The outermost layer reports the count in the [`SQL_STATEMENTS_HEADER`] response
//! header, after the exercise's handlers ran, so a handler cannot set it; with
//! `--stats-file` it also appends one JSON line per request with every statement. Work a
//! handler moves to a detached `tokio::spawn` task is not attributed to the request.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// Response header carrying the number of SQL statements the request executed.
pub const SQL_STATEMENTS_HEADER: &str = "x-kit-sql-statements";

/// Request header a client may set to find its request in the stats file.
pub const REQUEST_ID_HEADER: &str = "x-kit-request-id";

/// Path of the canary route, which executes exactly [`CANARY_STATEMENTS`] statements.
pub const CANARY_PATH: &str = "/__kit/canary";

/// How many statements a canary request executes; a different count in the header means
/// the accounting was removed or bypassed.
pub const CANARY_STATEMENTS: u64 = 3;

/// Most statements recorded in detail per request; counting goes on past it.
const MAX_DETAILED: usize = 2_000;

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

/// What one request did to the database.
#[derive(Debug, Default)]
pub struct RequestStats {
    statements: AtomicU64,
    detail: Mutex<Vec<StatementRecord>>,
}

impl RequestStats {
    /// Number of statements started.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::SeqCst)
    }

    /// The statements that finished, in order (at most a few thousand).
    pub fn detail(&self) -> Vec<StatementRecord> {
        self.detail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn started(&self) {
        self.statements.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn finished(&self, record: StatementRecord) {
        let mut detail = self.detail.lock().unwrap_or_else(PoisonError::into_inner);
        if detail.len() < MAX_DETAILED {
            detail.push(record);
        }
    }
}

tokio::task_local! {
    static REQUEST_STATS: Arc<RequestStats>;
}

/// The stats of the request the current task serves, if any.
pub(crate) fn current() -> Option<Arc<RequestStats>> {
    REQUEST_STATS.try_with(Arc::clone).ok()
}

/// Runs `fut` with `stats` as the current request's stats.
///
/// The middleware uses this; it is public so tests and tools can attribute statements
/// without an HTTP round trip.
pub async fn count_scope<F: std::future::Future>(stats: Arc<RequestStats>, fut: F) -> F::Output {
    REQUEST_STATS.scope(stats, fut).await
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
}

/// Middleware: records the statements a request executes and reports them.
pub async fn count_statements(
    State(sink): State<StatsSink>,
    request: Request,
    next: Next,
) -> Response {
    let stats = Arc::new(RequestStats::default());
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut response = REQUEST_STATS
        .scope(Arc::clone(&stats), next.run(request))
        .await;
    response
        .headers_mut()
        .insert(SQL_STATEMENTS_HEADER, HeaderValue::from(stats.statements()));
    if let Some(file) = &sink.0 {
        let line = serde_json::json!({
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": response.status().as_u16(),
            "elapsed_ms": started.elapsed().as_millis() as u64,
            "statements": stats.statements(),
            "detail": stats.detail().iter().map(|s| serde_json::json!({
                "sql": s.sql,
                "fullscan_steps": s.fullscan_steps,
                "vm_steps": s.vm_steps,
            })).collect::<Vec<_>>(),
        });
        // Written before the response leaves, so a client that got the response can
        // read its line.
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = writeln!(file, "{line}") {
            tracing::warn!(error = %e, "cannot write the stats file");
        }
    }
    response
}
