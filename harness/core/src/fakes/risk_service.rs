//! The fake risk service behind the `transfer` exercise.
//!
//! `POST /v1/assessments` with `{"from_account", "to_account", "amount"}` answers
//! `{"decision": "approve"}`, or `decline` for accounts a check marked. Checks hold
//! assessments at a [`Gate`] to force transfers to interleave between the service's
//! balance check and its writes, and inject 5xx, latency, hangs, answers that carry
//! no decision (an HTML page, a decision the brief does not name) and resets.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::gate::Gate;
use super::plan::FaultPlan;
use super::server::{DropConnection, FakeServer};

/// A fault the risk service applies to one assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskFault {
    /// Hold the assessment until [`RiskService::release_held`], then answer normally.
    Hold,
    /// Answer 500.
    ServerError,
    /// Answer normally after this extra delay.
    Latency(Duration),
    /// Answer 503 with a JSON error: overloaded or in maintenance.
    Unavailable,
    /// Answer 429 with a JSON error: too many assessments. A refusal to assess, not a
    /// decline: there is no decision.
    RateLimited,
    /// Answer 200 with an HTML page (a proxy's error page): no decision at all.
    Garbage,
    /// Answer 200 with well-formed JSON carrying a decision the brief does not name.
    UnknownDecision,
    /// Drop the connection without answering.
    Reset,
    /// Send `200` and its headers and the first half of an approval, then stall for
    /// good: no usable answer, however long the service waits.
    SlowBody,
}

/// One assessment the risk service received.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// Milliseconds since the fake started.
    pub at_ms: u128,
    pub from_account: Option<String>,
    pub to_account: Option<String>,
    pub amount: Option<i64>,
    /// What it answered: `approve`, `decline`, or the fault.
    pub outcome: String,
}

#[derive(Default)]
struct Book {
    calls: Vec<Assessment>,
    plan: FaultPlan<RiskFault>,
    declined: HashSet<String>,
}

struct Shared {
    book: Mutex<Book>,
    started: Instant,
    gate: Gate,
    recorder: super::recorder::Recorder,
}

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        f(&mut self.book.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Handle to a running fake risk service.
pub struct RiskService {
    shared: Arc<Shared>,
    server: FakeServer,
}

impl RiskService {
    /// From now on, tells `timeline` what the risk service answers to each call.
    pub fn record_into(&self, timeline: &crate::checks::Timeline) {
        self.shared.recorder.set(timeline, "risk");
    }

    /// Starts a risk service that approves everything, on a fresh loopback port.
    pub async fn start() -> std::io::Result<RiskService> {
        let shared = Arc::new(Shared {
            book: Mutex::new(Book::default()),
            started: Instant::now(),
            gate: Gate::new(),
            recorder: Default::default(),
        });
        let router = Router::new()
            .route("/v1/assessments", post(assess))
            .with_state(Arc::clone(&shared));
        let server = FakeServer::start(router).await?;
        Ok(RiskService { shared, server })
    }

    /// Base URL to give the service as its `risk` downstream.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Applies `fault` to the next assessment that has no earlier queued fault.
    pub fn fail_next(&self, fault: RiskFault) {
        self.shared.with(|b| b.plan.push(fault));
    }

    /// Applies `fault` to every assessment without a queued fault, until `None`.
    pub fn set_standing(&self, fault: Option<RiskFault>) {
        self.shared.with(|b| b.plan.set_standing(fault));
    }

    /// Declines every transfer out of `account` from now on.
    pub fn decline_from(&self, account: &str) {
        self.shared.with(|b| b.declined.insert(account.to_owned()));
    }

    /// Lets every held assessment continue.
    pub fn release_held(&self) {
        self.shared
            .recorder
            .note(|| "lets the held assessments go on".to_owned());
        self.shared.gate.release_all();
    }

    /// Number of assessments held now.
    pub fn held(&self) -> usize {
        self.shared.gate.held()
    }

    /// Waits until `n` assessments are held; false if `timeout` passes first.
    pub async fn wait_for_held(&self, n: usize, timeout: Duration) -> bool {
        self.shared.gate.wait_for_held(n, timeout).await
    }

    /// Waits until at most `n` assessments are held — the others answered, or dropped
    /// by a service that cancelled them; false if `timeout` passes first.
    pub async fn wait_for_at_most_held(&self, n: usize, timeout: Duration) -> bool {
        self.shared.gate.wait_for_at_most(n, timeout).await
    }

    /// Assessments answered so far (held ones count once released and answered).
    pub fn answered(&self) -> usize {
        self.shared
            .with(|b| b.calls.iter().filter(|c| !c.outcome.is_empty()).count())
    }

    /// Every assessment received so far, in arrival order.
    pub fn calls(&self) -> Vec<Assessment> {
        self.shared.with(|b| b.calls.clone())
    }
}

#[derive(Debug, Deserialize)]
struct AssessParams {
    from_account: String,
    to_account: String,
    amount: i64,
}

async fn assess(
    State(shared): State<Arc<Shared>>,
    Extension(drop_connection): Extension<DropConnection>,
    body: Bytes,
) -> Response {
    let params: Option<AssessParams> = serde_json::from_slice(&body).ok();
    let at_ms = shared.started.elapsed().as_millis();
    let (index, fault, declined) = shared.with(|b| {
        let fault = b.plan.take_next();
        let declined = params
            .as_ref()
            .is_some_and(|p| b.declined.contains(&p.from_account));
        b.calls.push(Assessment {
            at_ms,
            from_account: params.as_ref().map(|p| p.from_account.clone()),
            to_account: params.as_ref().map(|p| p.to_account.clone()),
            amount: params.as_ref().map(|p| p.amount),
            outcome: String::new(),
        });
        (b.calls.len() - 1, fault, declined)
    });
    let asked = params.as_ref().map_or_else(
        || "an unreadable assessment".to_owned(),
        |p| {
            format!(
                "assessment {} → {} ({})",
                p.from_account, p.to_account, p.amount
            )
        },
    );
    let outcome = |o: &str| {
        shared.recorder.note(|| format!("{asked}: {o}"));
        shared.with(|b| b.calls[index].outcome = o.to_owned())
    };
    if params.is_none() {
        outcome("invalid request");
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_request" })),
        )
            .into_response();
    }
    match fault {
        Some(RiskFault::ServerError) => {
            outcome("500");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": "internal" })),
            )
                .into_response();
        }
        Some(RiskFault::Unavailable) => {
            outcome("503");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "unavailable" })),
            )
                .into_response();
        }
        Some(RiskFault::RateLimited) => {
            outcome("429");
            return (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({ "error": "rate_limited" })),
            )
                .into_response();
        }
        Some(RiskFault::Garbage) => {
            outcome("garbage");
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Bad Gateway</body></html>",
            )
                .into_response();
        }
        Some(RiskFault::UnknownDecision) => {
            outcome("unknown decision");
            return Json(json!({ "decision": "review", "reason": "manual review queue" }))
                .into_response();
        }
        Some(RiskFault::SlowBody) => {
            outcome("stalled mid-body");
            let mut response = Response::new(axum::body::Body::empty());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            return response.map(|_| {
                axum::body::Body::new(super::body::StalledBody::new(
                    super::body::first_half(r#"{"decision": "approve"}"#),
                    (),
                ))
            });
        }
        Some(RiskFault::Reset) => {
            outcome("reset");
            drop_connection.now();
            return std::future::pending().await;
        }
        Some(RiskFault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(RiskFault::Hold) => {
            shared.recorder.note(|| format!("{asked}: held"));
            shared.gate.hold().await;
        }
        None => {}
    }
    if declined {
        outcome("decline");
        Json(json!({ "decision": "decline", "reason": "velocity limit" })).into_response()
    } else {
        outcome("approve");
        Json(json!({ "decision": "approve" })).into_response()
    }
}
