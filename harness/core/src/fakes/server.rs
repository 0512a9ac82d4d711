//! A loopback HTTP server for fakes, with a per-connection "drop it now" switch.
//!
//! Real outages include the response that never arrives after the work was done. A
//! handler cannot close its own TCP connection in axum, so each connection gets a
//! [`DropConnection`] extension: triggering it drops the hyper connection, closing the
//! socket without a response.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Closes the connection the current request arrived on, without answering.
#[derive(Clone)]
pub struct DropConnection(Arc<Notify>);

impl DropConnection {
    /// Drops the connection; the client sees it closed before any response.
    pub fn now(&self) {
        self.0.notify_one();
    }
}

/// A running fake server; stops (and drops every open connection) when dropped.
pub struct FakeServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl FakeServer {
    /// Serves `router` on a fresh loopback port.
    pub async fn start(router: Router) -> std::io::Result<FakeServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        tokio::spawn(accept_loop(listener, router, shutdown.clone()));
        Ok(FakeServer { addr, shutdown })
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn accept_loop(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "fake server accept failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let service = router
            .clone()
            .layer(Extension(DropConnection(Arc::clone(&kill))));
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            // Dropping the connection future closes the socket mid-exchange.
            tokio::select! {
                _ = connection => {},
                () = kill.notified() => {},
                () = shutdown.cancelled() => {},
            }
        });
    }
}
