//! The fake payment provider behind the `charge` exercise.
//!
//! It behaves like a real card processor: `POST /v1/charges` charges the customer and
//! returns the charge; an `Idempotency-Key` header makes a repeat return the original
//! charge (409 while the original is still processing, 422 if the parameters differ;
//! a key over 255 characters is refused with 400).
//! Checks inject faults to recreate production incidents deterministically: a response
//! lost after the charge was made, a call held until the check releases it (to force a
//! race), a hang, a 500, a declined card, added latency. Its charge list is the ground
//! truth for "was the customer charged twice?".

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use super::gate::Gate;
use super::plan::FaultPlan;
use super::server::{DropConnection, FakeServer};

/// The longest `Idempotency-Key` the provider accepts.
pub const MAX_KEY_CHARS: usize = 255;

/// A fault the provider applies to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderFault {
    /// Answer normally after this extra delay.
    Latency(Duration),
    /// Answer 500 without charging.
    ServerError,
    /// Charge the customer, then close the connection without answering.
    LostResponse,
    /// Hold the call before charging until [`PaymentProvider::release_held`].
    HoldUntilReleased,
    /// Charge the customer, then hold the response until [`PaymentProvider::release_held`].
    CommitThenHold,
    /// Hold the call before charging until [`PaymentProvider::release_held`], and go on
    /// with it even when the caller hangs up or dies, as a real provider does: its key
    /// stays in use (a repeat hears `409`) and the card is charged on release.
    HoldOutlivingCaller,
    /// Accept the call and never answer.
    Hang,
    /// Decline the card: `402` (`card_declined`), nothing charged.
    Decline,
}

/// A charge the provider made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderCharge {
    /// Provider charge id, `pch_1`, `pch_2`, ... in the order they were made.
    pub id: String,
    pub customer: String,
    pub amount: i64,
    pub currency: String,
    /// The `Idempotency-Key` the service sent, if any.
    pub idempotency_key: Option<String>,
}

/// One call the provider received.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderCall {
    /// Milliseconds since the fake started.
    pub at_ms: u128,
    pub customer: Option<String>,
    pub idempotency_key: Option<String>,
    /// The fault applied to it, if any.
    pub fault: Option<ProviderFault>,
}

#[derive(Debug, Clone)]
enum KeyState {
    InFlight,
    Done(ProviderCharge),
}

#[derive(Default)]
struct Ledger {
    charges: Vec<ProviderCharge>,
    calls: Vec<ProviderCall>,
    keys: HashMap<String, KeyState>,
    /// When the provider answered `409 idempotency_key_in_use`.
    in_use_answers: Vec<Instant>,
    plan: FaultPlan<ProviderFault>,
    in_progress: usize,
}

struct Shared {
    ledger: Mutex<Ledger>,
    started: Instant,
    /// Bumped on every ledger change so waiters can re-check their condition.
    changed: watch::Sender<u64>,
    gate: Gate,
    recorder: super::recorder::Recorder,
}

impl Shared {
    fn read<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(&self.ledger.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Ledger) -> R) -> R {
        let r = f(&mut self.ledger.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.send_modify(|v| *v += 1);
        r
    }
}

/// Handle to a running fake payment provider.
pub struct PaymentProvider {
    shared: Arc<Shared>,
    server: FakeServer,
}

impl PaymentProvider {
    /// From now on, tells `timeline` what the provider does with each call.
    pub fn record_into(&self, timeline: &crate::checks::Timeline) {
        self.shared.recorder.set(timeline, "provider");
    }

    /// Starts a healthy provider on a fresh loopback port.
    pub async fn start() -> std::io::Result<PaymentProvider> {
        let shared = Arc::new(Shared {
            ledger: Mutex::new(Ledger::default()),
            started: Instant::now(),
            changed: watch::channel(0).0,
            gate: Gate::new(),
            recorder: Default::default(),
        });
        let router = Router::new()
            .route("/v1/charges", post(create_charge).get(list_charges))
            .with_state(Arc::clone(&shared));
        let server = FakeServer::start(router).await?;
        Ok(PaymentProvider { shared, server })
    }

    /// Base URL to give the service as its `payments` downstream.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Applies `fault` to the next call that has no earlier queued fault.
    pub fn fail_next(&self, fault: ProviderFault) {
        self.shared.with(|l| l.plan.push(fault));
    }

    /// Applies `fault` to every call without a queued fault, until cleared with `None`.
    pub fn set_standing(&self, fault: Option<ProviderFault>) {
        self.shared.with(|l| l.plan.set_standing(fault));
    }

    /// Drops queued and standing faults.
    pub fn heal(&self) {
        self.shared.with(|l| l.plan.clear());
    }

    /// Lets every held call continue.
    pub fn release_held(&self) {
        self.shared
            .recorder
            .note(|| "lets the held calls go on".to_owned());
        self.shared.gate.release_all();
    }

    /// Number of calls currently held.
    pub fn held(&self) -> usize {
        self.shared.gate.held()
    }

    /// Every charge made so far, in order.
    pub fn charges(&self) -> Vec<ProviderCharge> {
        self.shared.read(|l| l.charges.clone())
    }

    /// The charges made for one customer.
    pub fn charges_for(&self, customer: &str) -> Vec<ProviderCharge> {
        self.shared.read(|l| {
            l.charges
                .iter()
                .filter(|c| c.customer == customer)
                .cloned()
                .collect()
        })
    }

    /// Every call received so far, in arrival order.
    pub fn calls(&self) -> Vec<ProviderCall> {
        self.shared.read(|l| l.calls.clone())
    }

    /// When the provider answered `409 idempotency_key_in_use` (a call under a key
    /// whose first call it was still processing): a service passing that on says
    /// something true.
    pub fn in_use_answers(&self) -> Vec<Instant> {
        self.shared.read(|l| l.in_use_answers.clone())
    }

    /// Waits until `held` calls are held; false if `timeout` passes first.
    pub async fn wait_for_held(&self, held: usize, timeout: Duration) -> bool {
        self.shared.gate.wait_for_held(held, timeout).await
    }

    /// Waits until at most `held` calls are held — the others answered, or dropped by a
    /// service that cancelled them; false if `timeout` passes first.
    pub async fn wait_for_at_most_held(&self, held: usize, timeout: Duration) -> bool {
        self.shared.gate.wait_for_at_most(held, timeout).await
    }

    /// Waits until no call is being processed; false if `timeout` passes first.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        self.wait_until(|l| l.in_progress == 0, timeout).await
    }

    async fn wait_until(&self, mut done: impl FnMut(&Ledger) -> bool, timeout: Duration) -> bool {
        super::wait_until(&self.shared.changed, timeout, || {
            self.shared.read(&mut done)
        })
        .await
    }
}

#[derive(Debug, Deserialize)]
struct ChargeParams {
    customer: String,
    amount: i64,
    currency: String,
}

/// Marks a call finished (and a key no longer in flight) however the call ends,
/// including when its connection is dropped mid-hold.
struct CallGuard {
    shared: Arc<Shared>,
    key: Option<String>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let key = self.key.take();
        self.shared.with(|l| {
            l.in_progress -= 1;
            if let Some(key) = key
                && matches!(l.keys.get(&key), Some(KeyState::InFlight))
            {
                l.keys.remove(&key);
            }
        });
    }
}

async fn create_charge(
    State(shared): State<Arc<Shared>>,
    Extension(drop_connection): Extension<DropConnection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params: Result<ChargeParams, _> = serde_json::from_slice(&body);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let at_ms = shared.started.elapsed().as_millis();

    // Record the call, pick its fault and settle idempotency in one step.
    // The early answer is boxed: a `Response` is large and this is the uncommon path.
    let decision = shared.with(|l| -> Result<Option<ProviderFault>, Box<Response>> {
        let fault = l.plan.take_next();
        l.calls.push(ProviderCall {
            at_ms,
            customer: params.as_ref().ok().map(|p| p.customer.clone()),
            idempotency_key: key.clone(),
            fault,
        });
        let Ok(p) = &params else {
            return Err(Box::new(error(StatusCode::BAD_REQUEST, "invalid_request")));
        };
        if p.amount <= 0 || p.customer.is_empty() {
            return Err(Box::new(error(StatusCode::BAD_REQUEST, "invalid_request")));
        }
        // The briefs' provider takes keys of up to 255 characters, as real ones do: a
        // scheme that prefixes the client's key must still fit.
        if key
            .as_ref()
            .is_some_and(|k| k.chars().count() > MAX_KEY_CHARS)
        {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "idempotency_key_too_long",
            )));
        }
        if let Some(key) = &key {
            match l.keys.get(key) {
                Some(KeyState::InFlight) => {
                    l.in_use_answers.push(Instant::now());
                    return Err(Box::new(error(
                        StatusCode::CONFLICT,
                        "idempotency_key_in_use",
                    )));
                }
                Some(KeyState::Done(c)) => {
                    return if (c.customer.as_str(), c.amount, c.currency.as_str())
                        == (p.customer.as_str(), p.amount, p.currency.as_str())
                    {
                        Err(Box::new(
                            (StatusCode::OK, Json(charge_json(c))).into_response(),
                        ))
                    } else {
                        Err(Box::new(error(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "idempotency_key_reused_with_different_parameters",
                        )))
                    };
                }
                None => {
                    l.keys.insert(key.clone(), KeyState::InFlight);
                }
            }
        }
        l.in_progress += 1;
        Ok(fault)
    });
    let asked = || {
        let who = params
            .as_ref()
            .map(|p| format!(" for {} {} {}", p.customer, p.amount, p.currency))
            .unwrap_or_default();
        let key = key
            .as_ref()
            .map(|k| format!(" [key {k}]"))
            .unwrap_or_else(|| " [no key]".to_owned());
        format!("charge call{key}{who}")
    };
    let fault = match decision {
        Ok(fault) => {
            shared.recorder.note(|| match fault {
                Some(f) => format!("{} (fault: {})", asked(), fault_name(f)),
                None => asked(),
            });
            fault
        }
        Err(response) => {
            shared.recorder.note(|| {
                format!(
                    "{} → {} (never charged)",
                    asked(),
                    response.status().as_u16()
                )
            });
            return *response;
        }
    };
    let guard = CallGuard {
        shared: Arc::clone(&shared),
        key: key.clone(),
    };
    let Ok(params) = params else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if fault == Some(ProviderFault::HoldOutlivingCaller) {
        // Its own task, so a caller that goes away (dropping this handler) does not
        // end the call: the provider still owns the request and finishes it.
        let call = tokio::spawn(async move {
            shared.gate.hold().await;
            let response = charge_and_answer(&shared, key, params, fault, drop_connection).await;
            drop(guard);
            response
        });
        return call
            .await
            .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "processing_error"));
    }
    let response = charge_and_answer(&shared, key, params, fault, drop_connection).await;
    drop(guard);
    response
}

/// Makes the charge a call asked for (after the faults that come before it) and
/// answers it, applying the faults that come after it.
async fn charge_and_answer(
    shared: &Arc<Shared>,
    key: Option<String>,
    params: ChargeParams,
    fault: Option<ProviderFault>,
    drop_connection: DropConnection,
) -> Response {
    match fault {
        Some(ProviderFault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(ProviderFault::ServerError) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "processing_error");
        }
        Some(ProviderFault::HoldUntilReleased) => shared.gate.hold().await,
        Some(ProviderFault::Hang) => std::future::pending::<()>().await,
        Some(ProviderFault::Decline) => {
            return error(StatusCode::PAYMENT_REQUIRED, "card_declined");
        }
        _ => {}
    }

    let charge = shared.with(|l| {
        let charge = ProviderCharge {
            id: format!("pch_{}", l.charges.len() + 1),
            customer: params.customer,
            amount: params.amount,
            currency: params.currency,
            idempotency_key: key.clone(),
        };
        l.charges.push(charge.clone());
        if let Some(key) = &key {
            l.keys.insert(key.clone(), KeyState::Done(charge.clone()));
        }
        charge
    });
    shared.recorder.note(|| {
        format!(
            "charged {} ({} {} {})",
            charge.id, charge.customer, charge.amount, charge.currency
        )
    });

    match fault {
        Some(ProviderFault::LostResponse) => {
            shared.recorder.note(|| {
                format!(
                    "dropped the connection: the answer for {} is lost",
                    charge.id
                )
            });
            drop_connection.now();
            std::future::pending::<()>().await;
        }
        Some(ProviderFault::CommitThenHold) => {
            shared
                .recorder
                .note(|| format!("holding the answer for {}", charge.id));
            shared.gate.hold().await;
        }
        _ => {}
    }
    (StatusCode::OK, Json(charge_json(&charge))).into_response()
}

/// `GET /v1/charges?customer=ID`: the provider's dashboard view, for reconciliation.
async fn list_charges(
    State(shared): State<Arc<Shared>>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let customer = query.get("customer").cloned();
    let data: Vec<_> = shared.read(|l| {
        l.charges
            .iter()
            .filter(|c| customer.as_ref().is_none_or(|cu| &c.customer == cu))
            .map(charge_json)
            .collect()
    });
    Json(json!({ "data": data })).into_response()
}

/// A fault in a timeline's words.
fn fault_name(fault: ProviderFault) -> String {
    match fault {
        ProviderFault::Latency(d) => format!("answers after {} ms", d.as_millis()),
        ProviderFault::ServerError => "answers 500, charges nothing".to_owned(),
        ProviderFault::LostResponse => "charges, then loses the answer".to_owned(),
        ProviderFault::HoldUntilReleased => "held before charging".to_owned(),
        ProviderFault::CommitThenHold => "charges, then holds the answer".to_owned(),
        ProviderFault::HoldOutlivingCaller => {
            "held before charging, and goes on if its caller leaves".to_owned()
        }
        ProviderFault::Hang => "never answers".to_owned(),
        ProviderFault::Decline => "declines the card (402)".to_owned(),
    }
}

fn charge_json(c: &ProviderCharge) -> serde_json::Value {
    json!({
        "id": c.id,
        "object": "charge",
        "customer": c.customer,
        "amount": c.amount,
        "currency": c.currency,
        "status": "succeeded",
    })
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": { "code": code } }))).into_response()
}
