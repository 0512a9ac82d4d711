//! Starting and stopping a service the way the harness expects.

use std::io::Write;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::accounting::{CANARY_PATH, StatsSink, count_statements};
use crate::{Db, DbError, KitArgs};

/// Why a service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from the configuration.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing the READY line or serving failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves `app` until SIGTERM or Ctrl-C.
///
/// Adds the canary route and the statement-accounting layer (outermost, so its headers
/// are the last word), binds `args.listen`, and prints exactly one `READY <addr>` line
/// on stdout once the socket accepts connections.
pub async fn serve(args: &KitArgs, db: Db, app: Router) -> Result<(), ServeError> {
    crate::hook::ensure_started();
    let canary = Router::new().route(CANARY_PATH, get(canary)).with_state(db);
    let sink = StatsSink::open(args.stats_file.as_deref())?;
    let app = app
        .merge(canary)
        .layer(axum::middleware::from_fn_with_state(sink, count_statements));

    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: args.listen,
            source,
        })?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {addr}")?;
        out.flush()?;
    }
    tracing::info!(%addr, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Executes exactly [`crate::accounting::CANARY_STATEMENTS`] statements.
async fn canary(State(db): State<Db>) -> Result<&'static str, axum::http::StatusCode> {
    db.call(|c| {
        for n in 1..=crate::accounting::CANARY_STATEMENTS {
            c.query_row("SELECT ?1", [n as i64], |r| r.get::<_, i64>(0))?;
        }
        Ok::<_, DbError>("ok")
    })
    .await
    .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
