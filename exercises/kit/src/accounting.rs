//! SQL statement accounting per HTTP request.
//!
//! The middleware gives each request a counter and scopes it as a task-local; [`crate::db::Db`]
//! carries that counter onto the blocking thread that runs the SQL, where the connection's
//! `sqlite3_trace_v2` callback increments it. The count is written to the
//! [`SQL_STATEMENTS_HEADER`] response header by the outermost layer, after the exercise's
//! own handlers ran, so a handler cannot set it. Work a handler moves to a detached
//! `tokio::spawn` task is not attributed to the request; exercises do not do that.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// Response header carrying the number of SQL statements the request executed.
pub const SQL_STATEMENTS_HEADER: &str = "x-kit-sql-statements";

/// Path of the canary route, which executes exactly [`CANARY_STATEMENTS`] statements.
pub const CANARY_PATH: &str = "/__kit/canary";

/// How many statements a canary request executes; a different count in the header means
/// the accounting was removed or bypassed.
pub const CANARY_STATEMENTS: u64 = 3;

tokio::task_local! {
    static REQUEST_STATEMENTS: Arc<AtomicU64>;
}

/// The statement counter of the request the current task serves, if any.
pub(crate) fn current_counter() -> Option<Arc<AtomicU64>> {
    REQUEST_STATEMENTS.try_with(Arc::clone).ok()
}

/// Middleware: counts the statements a request executes and reports them in a header.
pub async fn count_statements(request: Request, next: Next) -> Response {
    let counter = Arc::new(AtomicU64::new(0));
    let mut response = REQUEST_STATEMENTS
        .scope(Arc::clone(&counter), next.run(request))
        .await;
    let count = counter.load(Ordering::SeqCst);
    response
        .headers_mut()
        .insert(SQL_STATEMENTS_HEADER, HeaderValue::from(count));
    response
}

/// Runs `fut` with `counter` as the current request's statement counter.
///
/// The middleware uses this; it is public so the kit's own tests and tools can
/// attribute statements without an HTTP round trip.
pub async fn count_scope<F: std::future::Future>(counter: Arc<AtomicU64>, fut: F) -> F::Output {
    REQUEST_STATEMENTS.scope(counter, fut).await
}
