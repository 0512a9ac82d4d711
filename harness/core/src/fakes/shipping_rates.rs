//! The fake shipping-rates service behind the `checkout` exercise.
//!
//! `POST /v1/rates` with `{"country", "postal_code", "weight_grams"}` answers the ground
//! rate for that parcel: a public function of country and weight
//! ([`ShippingRates::rate`]), so a check knows the one right shipping cost of a cart and
//! an invented or flat-rate fallback never passes for it. Destinations outside
//! [`ShippingRates::COUNTRIES`] get `400`.
//!
//! Its incidents are what the exercise's shipping requirement is about: hangs, a body
//! that stalls after the headers, 5xx, garbage and truncated `200`s, resets. Every call
//! is recorded with its arrival and end, so a check can tell whether the service gave
//! up on a hung call.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use super::body::{StalledBody, first_half, json_error, status_error};
use super::gate::Gate;
use super::plan::FaultPlan;
use super::server::{DropConnection, FakeServer};

/// A fault the shipping-rates service applies to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShippingFault {
    /// Answer normally after this extra delay.
    Latency(Duration),
    /// Hold the call until [`ShippingRates::release_held`], then answer normally.
    Hold,
    /// Accept the call and never answer (until the client drops the connection).
    Hang,
    /// Send `200` and its headers, then half the body, then stall forever.
    SlowBody,
    /// Answer this status with a JSON error body.
    Status(u16),
    /// Answer `status` with a JSON error body after `after`: a failure that costs time
    /// before a retry can even start.
    SlowStatus {
        /// How long before the answer.
        after: Duration,
        /// The status answered.
        status: u16,
    },
    /// Answer `200` with an HTML error page instead of JSON.
    Garbage,
    /// Answer `200` JSON cut in half (complete per its content length, invalid as JSON).
    Truncated,
    /// Close the connection without answering.
    Reset,
    /// Answer `200` with well-formed JSON that is not a rate anyone may charge: this
    /// amount (negative, say) in this currency.
    NotARate {
        /// The amount, in the currency's minor unit.
        amount: i64,
        /// The currency code.
        currency: &'static str,
    },
}

/// One call the shipping-rates service received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShippingCall {
    /// Milliseconds since the fake started.
    pub at_ms: u128,
    /// The destination country asked for, if the body parsed.
    pub country: Option<String>,
    /// The parcel weight asked for, if the body parsed.
    pub weight_grams: Option<i64>,
    /// The fault applied to it, if any.
    pub fault: Option<ShippingFault>,
    /// The status answered; `None` if it never answered (hang, reset, held, or the
    /// client went away first). A stalled body counts as answered `200`.
    pub status: Option<u16>,
    /// Milliseconds since the fake started at which the call ended (answered, or its
    /// connection dropped); `None` while it is in flight.
    pub ended_ms: Option<u128>,
}

#[derive(Debug, Deserialize)]
struct RateRequest {
    country: String,
    #[allow(dead_code)]
    postal_code: String,
    weight_grams: i64,
}

#[derive(Default)]
struct Book {
    calls: Vec<ShippingCall>,
    plan: FaultPlan<ShippingFault>,
    in_flight: usize,
}

struct Shared {
    book: Mutex<Book>,
    started: Instant,
    /// Bumped on every book change so waiters can re-check their condition.
    changed: watch::Sender<u64>,
    gate: Gate,
    recorder: super::recorder::Recorder,
}

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let r = f(&mut self.book.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.send_modify(|v| *v += 1);
        r
    }
}

/// Handle to a running fake shipping-rates service.
pub struct ShippingRates {
    shared: Arc<Shared>,
    server: FakeServer,
}

impl ShippingRates {
    /// From now on, tells `timeline` about each call and the fault applied to it.
    pub fn record_into(&self, timeline: &crate::checks::Timeline) {
        self.shared.recorder.set(timeline, "shipping");
    }

    /// The destinations shipping-rates serves (the exercise's brief lists the same).
    pub const COUNTRIES: &'static [&'static str] = &["US", "CA", "GB", "DE", "FR", "NL"];

    /// Starts a healthy shipping-rates service on a fresh loopback port.
    pub async fn start() -> std::io::Result<ShippingRates> {
        let shared = Arc::new(Shared {
            book: Mutex::new(Book::default()),
            started: Instant::now(),
            changed: watch::channel(0).0,
            gate: Gate::new(),
            recorder: Default::default(),
        });
        let router = Router::new()
            .route("/v1/rates", post(rates))
            .with_state(Arc::clone(&shared));
        let server = FakeServer::start(router).await?;
        Ok(ShippingRates { shared, server })
    }

    /// Base URL to give the service as its `shipping` downstream.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The ground rate in cents for a parcel of `weight_grams` to `country`: a base per
    /// country plus 25 cents per started 500 g, and nothing for a parcel that weighs
    /// nothing (gift cards: free shipping, a rate of 0 like any other). `None` for a
    /// destination not served.
    pub fn rate(country: &str, weight_grams: i64) -> Option<i64> {
        let base = match country {
            "US" => 499,
            "CA" => 899,
            "GB" | "DE" | "FR" | "NL" => 1299,
            _ => return None,
        };
        if weight_grams <= 0 {
            return Some(0);
        }
        Some(base + 25 * ((weight_grams + 499) / 500))
    }

    /// Applies `fault` to the next call that has no earlier queued fault.
    pub fn fail_next(&self, fault: ShippingFault) {
        self.shared.with(|b| b.plan.push(fault));
    }

    /// Applies `fault` to every call without a queued fault, until cleared with `None`.
    pub fn set_standing(&self, fault: Option<ShippingFault>) {
        self.shared.with(|b| b.plan.set_standing(fault));
    }

    /// Drops queued and standing faults (held calls stay held until released).
    pub fn heal(&self) {
        self.shared.with(|b| b.plan.clear());
    }

    /// Lets every held call continue.
    pub fn release_held(&self) {
        self.shared.gate.release_all();
    }

    /// Number of calls held now.
    pub fn held(&self) -> usize {
        self.shared.gate.held()
    }

    /// Waits until `n` calls are held; false if `timeout` passes first.
    pub async fn wait_for_held(&self, n: usize, timeout: Duration) -> bool {
        self.shared.gate.wait_for_held(n, timeout).await
    }

    /// Every call received so far, in arrival order.
    pub fn calls(&self) -> Vec<ShippingCall> {
        self.shared.with(|b| b.calls.clone())
    }

    /// Number of calls being processed now (waiting out a fault, held, hanging or
    /// stalling their body).
    pub fn in_flight(&self) -> usize {
        self.shared.with(|b| b.in_flight)
    }

    /// Waits until no call is in flight; false if `timeout` passes first.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        super::wait_until(&self.shared.changed, timeout, || self.in_flight() == 0).await
    }
}

/// Counts a call in flight and stamps when it ended, however it ends.
struct CallGuard {
    shared: Arc<Shared>,
    index: usize,
}

impl CallGuard {
    /// Records `response`'s status as the answer, and returns it.
    fn answer(&self, response: Response) -> Response {
        let status = response.status().as_u16();
        self.shared
            .with(|b| b.calls[self.index].status = Some(status));
        response
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let ended = self.shared.started.elapsed().as_millis();
        self.shared.with(|b| {
            b.in_flight = b.in_flight.saturating_sub(1);
            b.calls[self.index].ended_ms = Some(ended);
        });
    }
}

async fn rates(
    State(shared): State<Arc<Shared>>,
    Extension(drop_connection): Extension<DropConnection>,
    body: Bytes,
) -> Response {
    let request: Option<RateRequest> = serde_json::from_slice(&body).ok();
    let at_ms = shared.started.elapsed().as_millis();
    let (fault, index) = shared.with(|b| {
        let fault = b.plan.take_next();
        b.calls.push(ShippingCall {
            at_ms,
            country: request.as_ref().map(|r| r.country.clone()),
            weight_grams: request.as_ref().map(|r| r.weight_grams),
            fault,
            status: None,
            ended_ms: None,
        });
        b.in_flight += 1;
        (fault, b.calls.len() - 1)
    });
    let guard = CallGuard {
        shared: Arc::clone(&shared),
        index,
    };
    shared.recorder.note(|| {
        let what = match &request {
            Some(r) => format!("rate call {} {} g", r.country, r.weight_grams),
            None => "an unreadable rate call".to_owned(),
        };
        match fault {
            Some(f) => format!("{what} (fault: {f:?})"),
            None => what,
        }
    });

    match fault {
        Some(ShippingFault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(ShippingFault::Hold) => shared.gate.hold().await,
        Some(ShippingFault::Hang) => std::future::pending::<()>().await,
        Some(ShippingFault::Reset) => {
            drop_connection.now();
            std::future::pending::<()>().await;
        }
        Some(ShippingFault::Status(code)) => return guard.answer(status_error(code)),
        Some(ShippingFault::SlowStatus { after, status }) => {
            tokio::time::sleep(after).await;
            return guard.answer(status_error(status));
        }
        Some(ShippingFault::Garbage) => {
            let page = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>502 Bad Gateway</body></html>",
            );
            return guard.answer(page.into_response());
        }
        _ => {}
    }

    let Some(request) = request else {
        return guard.answer(json_error(StatusCode::BAD_REQUEST, "invalid_request"));
    };
    if request.weight_grams < 0 {
        return guard.answer(json_error(StatusCode::BAD_REQUEST, "invalid_weight"));
    }
    let Some(amount) = ShippingRates::rate(&request.country, request.weight_grams) else {
        return guard.answer(json_error(
            StatusCode::BAD_REQUEST,
            "unsupported_destination",
        ));
    };
    let body = match fault {
        Some(ShippingFault::NotARate { amount, currency }) => {
            json!({ "service": "ground", "amount": amount, "currency": currency })
        }
        _ => json!({ "service": "ground", "amount": amount, "currency": "usd" }),
    }
    .to_string();
    let json_type = [(header::CONTENT_TYPE, "application/json")];
    match fault {
        Some(ShippingFault::Truncated) => {
            guard.answer((StatusCode::OK, json_type, first_half(&body)).into_response())
        }
        Some(ShippingFault::SlowBody) => {
            let headers = guard.answer((StatusCode::OK, json_type).into_response());
            // The guard rides in the body: the call stays in flight until the client
            // gives up on the stalled body and its connection drops.
            headers.map(|_| Body::new(StalledBody::new(first_half(&body), guard)))
        }
        _ => guard.answer((StatusCode::OK, json_type, body).into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(
        rates: &ShippingRates,
        body: serde_json::Value,
    ) -> reqwest::Result<reqwest::Response> {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(500))
            .build()?
            .post(format!("{}/v1/rates", rates.url()))
            .json(&body)
            .send()
            .await
    }

    fn parcel(country: &str, grams: i64) -> serde_json::Value {
        json!({ "country": country, "postal_code": "94107", "weight_grams": grams })
    }

    #[test]
    fn rate_depends_on_country_and_started_half_kilos() {
        assert_eq!(ShippingRates::rate("US", 1), Some(524));
        assert_eq!(ShippingRates::rate("US", 500), Some(524));
        assert_eq!(ShippingRates::rate("US", 501), Some(549));
        assert_eq!(ShippingRates::rate("GB", 1000), Some(1349));
        assert_eq!(ShippingRates::rate("XX", 1000), None);
    }

    #[tokio::test]
    async fn answers_the_rate_and_refuses_unserved_destinations() {
        let rates = ShippingRates::start().await.unwrap();
        let ok = post(&rates, parcel("CA", 1200)).await.unwrap();
        assert_eq!(ok.status(), 200);
        let body: serde_json::Value = ok.json().await.unwrap();
        assert_eq!(body["amount"], 899 + 75);
        let refused = post(&rates, parcel("XX", 1200)).await.unwrap();
        assert_eq!(refused.status(), 400);
        let calls = rates.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].country.as_deref(), Some("XX"));
        assert!(calls.iter().all(|c| c.ended_ms.is_some()));
    }

    #[tokio::test]
    async fn queued_faults_apply_once_then_the_standing_one() {
        let rates = ShippingRates::start().await.unwrap();
        rates.fail_next(ShippingFault::Status(503));
        rates.fail_next(ShippingFault::Garbage);
        assert_eq!(post(&rates, parcel("US", 10)).await.unwrap().status(), 503);
        let garbage = post(&rates, parcel("US", 10)).await.unwrap();
        assert!(garbage.json::<serde_json::Value>().await.is_err());
        rates.set_standing(Some(ShippingFault::Truncated));
        let truncated = post(&rates, parcel("US", 10)).await.unwrap();
        assert!(truncated.json::<serde_json::Value>().await.is_err());
        rates.heal();
        assert_eq!(post(&rates, parcel("US", 10)).await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn hangs_and_stalls_stay_in_flight_until_the_client_gives_up() {
        let rates = ShippingRates::start().await.unwrap();
        rates.fail_next(ShippingFault::Hang);
        assert!(post(&rates, parcel("US", 10)).await.is_err());
        rates.fail_next(ShippingFault::SlowBody);
        let stalled = post(&rates, parcel("US", 10)).await.unwrap();
        assert_eq!(stalled.status(), 200);
        assert!(
            stalled.bytes().await.is_err(),
            "the body must never complete"
        );
        assert!(rates.wait_idle(Duration::from_secs(2)).await);
        assert_eq!(rates.calls().len(), 2);
        assert!(rates.calls().iter().all(|c| c.ended_ms.is_some()));
    }

    #[tokio::test]
    async fn held_calls_answer_once_released() {
        let rates = ShippingRates::start().await.unwrap();
        rates.fail_next(ShippingFault::Hold);
        let url = rates.url();
        let call = tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{url}/v1/rates"))
                .json(&parcel("US", 10))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        assert!(rates.wait_for_held(1, Duration::from_secs(2)).await);
        rates.release_held();
        assert_eq!(call.await.unwrap().unwrap(), 200);
    }
}
