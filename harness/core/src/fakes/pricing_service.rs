//! The fake pricing service behind the `quote` exercise.
//!
//! `GET /v1/prices/{sku}?qty=N` answers the unit price of a SKU, and `GET /health` says
//! whether pricing is serving. Every clean answer carries a new price (a public
//! function of the SKU plus a counter), recorded with the call, so a check knows exactly
//! which prices pricing gave while a quote was in flight — and a price the service
//! remembered from an earlier call, or made up, never matches.
//!
//! Pricing's real incidents are what the exercise is about, so every one of them can be
//! recreated on demand: hangs, a body that stalls after the headers, 5xx storms, `429`
//! with `Retry-After`, garbage or truncated `200`s, an answer for the wrong request,
//! connection resets, and outages that end (a schedule) or come and go (flapping). The
//! call records are the ground truth for "how hard did the service hit pricing while it
//! was down?", and the in-flight count for "did it abandon calls that hung?".

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use super::body::{StalledBody, first_half, json_error, status_error};
use super::gate::Gate;
use super::plan::FaultPlan;
use super::server::{DropConnection, FakeServer};

/// How long a healthy price is valid for (`valid_until` is now plus this).
const PRICE_VALIDITY: Duration = Duration::from_secs(5 * 60);

/// A fault the pricing service applies to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PricingFault {
    /// Answer normally after this extra delay.
    Latency(Duration),
    /// Hold the call until [`PricingService::release_held`], then answer normally.
    Hold,
    /// Accept the call and never answer (until the client drops the connection).
    Hang,
    /// Send `200` and its headers (chunked, no content length) and the first half of the
    /// body, then stall forever.
    SlowBody,
    /// Answer this status with a JSON error body.
    Status(u16),
    /// Answer `429` with `Retry-After: retry_after_secs`.
    RateLimited {
        /// The `Retry-After` header value, in seconds; `None` sends no header.
        retry_after_secs: Option<u64>,
    },
    /// Answer `200` with an HTML error page instead of JSON.
    Garbage,
    /// Answer `200` JSON cut in half (complete per its content length, invalid as JSON).
    Truncated,
    /// Answer `200` with a valid price for another quantity (`qty + 1`) at another price
    /// ([`PricingService::wrong_unit_price`]). Health calls answer normally.
    WrongPrice,
    /// Answer `200` with a well-formed price for the SKU and quantity asked whose unit
    /// price is negative: what the service has always refused as no usable answer.
    NegativePrice,
    /// Answer `200` with a unit price of `0` for the SKU and quantity asked: a free
    /// item, which the brief says is a price like any other (not a fault of pricing's,
    /// but a case the service must not refuse).
    FreeItem,
    /// Close the connection without answering.
    Reset,
}

impl PricingFault {
    /// Whether a call met by this fault gets no usable answer in any time: what the
    /// brief calls pricing failing (hangs, stalls, 5xx, garbage, cut or reset
    /// answers). Not added latency, a hold, a `4xx` or `429` (answers the brief gives
    /// rules of their own), or an answer a service might misread as a price.
    pub fn breaks(self) -> bool {
        match self {
            PricingFault::Hang
            | PricingFault::SlowBody
            | PricingFault::Garbage
            | PricingFault::Truncated
            | PricingFault::Reset => true,
            PricingFault::Status(code) => code >= 500,
            PricingFault::Latency(_)
            | PricingFault::Hold
            | PricingFault::RateLimited { .. }
            | PricingFault::WrongPrice
            | PricingFault::NegativePrice
            | PricingFault::FreeItem => false,
        }
    }
}

/// One call the pricing service received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricingCall {
    /// Milliseconds since the fake started.
    pub at_ms: u128,
    /// The request path, e.g. `/v1/prices/SKU-0001` or `/health`.
    pub path: String,
    /// The SKU asked for; `None` for health calls.
    pub sku: Option<String>,
    /// The `qty` parameter, if it was an unsigned integer; `None` for health calls.
    pub qty: Option<u32>,
    /// The fault applied to it, if any.
    pub fault: Option<PricingFault>,
    /// The status the fake answered with; `None` if it never answered (hang, reset, still
    /// held, or the client went away first). A stalled body counts as answered `200`.
    pub status: Option<u16>,
    /// Milliseconds since the fake started at which it was done with the call (answered,
    /// or its connection dropped); `None` while the call is in flight.
    pub ended_ms: Option<u128>,
    /// The unit price a clean `200` carried. Every clean answer carries a new price
    /// ([`PricingService::unit_price`] plus the number of prices served before it), so a
    /// price remembered from an earlier call never passes for the answer to this one.
    pub served_price: Option<i64>,
}

impl PricingCall {
    /// Whether this was a price call (`/v1/prices/...`) rather than a health call.
    pub fn is_price(&self) -> bool {
        self.sku.is_some()
    }
}

/// Faults that follow the clock: a schedule of standing faults, or flapping.
#[derive(Debug, Default, Clone)]
enum Timeline {
    #[default]
    Off,
    Schedule {
        from: Instant,
        /// Sorted by offset.
        steps: Vec<(Duration, Option<PricingFault>)>,
    },
    Flapping {
        from: Instant,
        period: Duration,
        fault: PricingFault,
    },
}

impl Timeline {
    /// `Some(fault or healthy)` when the timeline decides the call at `now`, `None` when
    /// it has nothing to say (off, or before the schedule's first step).
    fn at(&self, now: Instant) -> Option<Option<PricingFault>> {
        match self {
            Timeline::Off => None,
            Timeline::Schedule { from, steps } => {
                let elapsed = now.saturating_duration_since(*from);
                steps
                    .iter()
                    .rev()
                    .find(|(offset, _)| *offset <= elapsed)
                    .map(|(_, fault)| *fault)
            }
            Timeline::Flapping {
                from,
                period,
                fault,
            } => {
                let elapsed = now.saturating_duration_since(*from).as_nanos();
                let phase = elapsed / period.as_nanos().max(1);
                Some(phase.is_multiple_of(2).then_some(*fault))
            }
        }
    }
}

struct Entry {
    at: Instant,
    call: PricingCall,
}

#[derive(Default)]
struct Book {
    calls: Vec<Entry>,
    /// Only its queue is used: the standing fault ranks below the timeline, so it is
    /// kept apart in `standing`.
    queued: FaultPlan<PricingFault>,
    timeline: Timeline,
    standing: Option<PricingFault>,
    forgotten: HashSet<String>,
    in_flight: usize,
    /// Clean prices served so far; each one moves the next price on.
    served: i64,
    /// Every change of the standing fault or the timeline, with when it was made: what
    /// pricing would have done to a call at any moment, called or not.
    changes: Vec<(Instant, Option<PricingFault>, Timeline)>,
}

impl Book {
    /// Notes the standing fault and timeline as they are from now on.
    fn note_change(&mut self) {
        let (standing, timeline) = (self.standing, self.timeline.clone());
        self.changes.push((Instant::now(), standing, timeline));
    }
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
    fn read<R>(&self, f: impl FnOnce(&Book) -> R) -> R {
        f(&self.book.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let r = f(&mut self.book.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.send_modify(|v| *v += 1);
        r
    }
}

/// Handle to a running fake pricing service.
pub struct PricingService {
    shared: Arc<Shared>,
    server: FakeServer,
}

impl PricingService {
    /// From now on, tells `timeline` about each call and the fault applied to it.
    pub fn record_into(&self, timeline: &crate::checks::Timeline) {
        self.shared.recorder.set(timeline, "pricing");
    }

    /// The harness's pauses on the timeline this fake records into (none before
    /// [`Self::record_into`]): the fake served and logged nothing during them.
    pub fn harness_pauses(&self) -> Vec<crate::checks::pauses::Pause> {
        self.shared.recorder.pauses()
    }

    /// Starts a healthy pricing service that knows every SKU, on a fresh loopback port.
    pub async fn start() -> std::io::Result<PricingService> {
        let shared = Arc::new(Shared {
            book: Mutex::new(Book::default()),
            started: Instant::now(),
            changed: watch::channel(0).0,
            gate: Gate::new(),
            recorder: Default::default(),
        });
        let router = Router::new()
            .route("/v1/prices/{sku}", get(price))
            .route("/health", get(health))
            .with_state(Arc::clone(&shared));
        let server = FakeServer::start(router).await?;
        Ok(PricingService { shared, server })
    }

    /// Base URL to give the service as its `pricing` downstream.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// When the fake started; every `at_ms` and `ended_ms` counts from here.
    pub fn started(&self) -> Instant {
        self.shared.started
    }

    /// The unit price pricing answers for `sku` at any quantity, in minor units
    /// (100 to 9999): a fixed FNV-1a hash of the SKU.
    pub fn unit_price(sku: &str) -> i64 {
        let hash = sku.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        // The remainder is below 9900, so the conversion cannot fail.
        100 + i64::try_from(hash % 9900).unwrap_or(0)
    }

    /// The unit price a [`PricingFault::WrongPrice`] answer carries for `sku`: twice the
    /// right one, so it never equals [`PricingService::unit_price`].
    pub fn wrong_unit_price(sku: &str) -> i64 {
        Self::unit_price(sku) * 2
    }

    /// Applies `fault` to the next price call that has no earlier queued fault.
    ///
    /// Queued faults wait for a price call: a health probe never takes one, so a check
    /// knows which quote meets it.
    pub fn fail_next(&self, fault: PricingFault) {
        self.shared.with(|b| b.queued.push(fault));
    }

    /// Applies `fault` to every call (price and health) that neither a queued fault nor
    /// the schedule or flapping decides, until cleared with `None`.
    pub fn set_standing(&self, fault: Option<PricingFault>) {
        self.shared.with(|b| {
            b.standing = fault;
            b.note_change();
        });
    }

    /// Follows a timetable from now: each `(offset, fault)` step says that from `offset`
    /// after this call, every call (price and health) without a queued fault gets
    /// `fault` (`None`: healthy), whatever the standing fault. The last step lasts until
    /// changed; before the first step the standing fault applies. Replaces any earlier
    /// schedule or flapping; an empty list turns the schedule off.
    ///
    /// `[(0 s, Some(Status(503))), (3 s, None)]` is a 3-second outage, then recovery.
    pub fn set_schedule(&self, mut steps: Vec<(Duration, Option<PricingFault>)>) {
        let from = Instant::now();
        steps.sort_by_key(|(offset, _)| *offset);
        self.shared.with(|b| {
            b.timeline = if steps.is_empty() {
                Timeline::Off
            } else {
                Timeline::Schedule { from, steps }
            };
            b.note_change();
        });
    }

    /// From now on alternates `fault` and healthy every `period`, starting with `fault`,
    /// for every call (price and health) without a queued fault, whatever the standing
    /// fault. Replaces any schedule or earlier flapping.
    pub fn set_flapping(&self, period: Duration, fault: PricingFault) {
        let from = Instant::now();
        self.shared.with(|b| {
            b.timeline = Timeline::Flapping {
                from,
                period,
                fault,
            };
            b.note_change();
        });
    }

    /// Drops queued and standing faults, the schedule and flapping (held calls stay held
    /// until [`PricingService::release_held`]).
    pub fn heal(&self) {
        self.shared.with(|b| {
            b.queued.clear();
            b.standing = None;
            b.timeline = Timeline::Off;
            b.note_change();
        });
    }

    /// Answers `404 {"error": "unknown_sku"}` for `sku` from now on.
    pub fn forget_sku(&self, sku: &str) {
        self.shared.with(|b| b.forgotten.insert(sku.to_owned()));
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

    /// Every call received so far (price and health), in arrival order.
    pub fn calls(&self) -> Vec<PricingCall> {
        self.shared
            .read(|b| b.calls.iter().map(|e| e.call.clone()).collect())
    }

    /// The price calls (`/v1/prices/...`) received so far, in arrival order.
    pub fn price_calls(&self) -> Vec<PricingCall> {
        self.shared.read(|b| {
            b.calls
                .iter()
                .filter(|e| e.call.is_price())
                .map(|e| e.call.clone())
                .collect()
        })
    }

    /// The calls (price and health) that arrived at or after `since`, in arrival order.
    pub fn calls_since(&self, since: Instant) -> Vec<PricingCall> {
        self.shared.read(|b| {
            b.calls
                .iter()
                .filter(|e| e.at >= since)
                .map(|e| e.call.clone())
                .collect()
        })
    }

    /// Number of calls (price and health) received so far.
    pub fn call_count(&self) -> usize {
        self.shared.read(|b| b.calls.len())
    }

    /// Number of calls being processed now: waiting out a fault, held, hanging, or
    /// stalling their body. A call leaves when it is answered in full or its connection
    /// drops.
    pub fn in_flight(&self) -> usize {
        self.shared.read(|b| b.in_flight)
    }

    /// Every stretch in which pricing was not healthy, in milliseconds since it started
    /// (overlapping, unsorted): while a standing, scheduled or flapping fault would
    /// have met a call, whether or not one came, and while a call it received was met
    /// by a fault. Any fault counts, even added latency or a one-off, so a judge that
    /// asks "had pricing been healthy for a while?" errs towards the service. A stretch
    /// that still lasts ends now.
    pub fn unhealthy(&self) -> Vec<Unhealthy> {
        let now = Instant::now();
        let started = self.shared.started;
        let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
        self.shared.read(|b| {
            let mut out: Vec<Unhealthy> = faulty_stretches(&b.changes, now, fails)
                .into_iter()
                .map(|(from, until)| Unhealthy {
                    from_ms: ms(from),
                    until_ms: ms(until),
                })
                .collect();
            let now_ms = ms(now);
            out.extend(
                b.calls
                    .iter()
                    .filter(|e| e.call.fault.is_some_and(fails))
                    .map(|e| Unhealthy {
                        from_ms: e.call.at_ms,
                        until_ms: e.call.ended_ms.unwrap_or(now_ms),
                    }),
            );
            out
        })
    }

    /// The outages so far, in order, in milliseconds since pricing started: each
    /// unbroken stretch in which a standing, scheduled or flapping fault that
    /// [`PricingFault::breaks`] met every call, whether or not one came. One-off
    /// faults make no outage. One that still lasts ends now.
    pub fn outages(&self) -> Vec<Unhealthy> {
        let now = Instant::now();
        let started = self.shared.started;
        let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
        let mut stretches = self
            .shared
            .read(|b| faulty_stretches(&b.changes, now, PricingFault::breaks));
        stretches.sort();
        let mut out: Vec<Unhealthy> = Vec::new();
        for (from, until) in stretches {
            let (from_ms, until_ms) = (ms(from), ms(until));
            match out.last_mut() {
                Some(last) if from_ms <= last.until_ms => {
                    last.until_ms = last.until_ms.max(until_ms);
                }
                _ => out.push(Unhealthy { from_ms, until_ms }),
            }
        }
        out
    }

    /// Waits until no call is in flight; false if `timeout` passes first.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        super::wait_until(&self.shared.changed, timeout, || self.in_flight() == 0).await
    }
}

/// A stretch of time in which pricing was not healthy ([`PricingService::unhealthy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unhealthy {
    /// Milliseconds since the fake started at which it began.
    pub from_ms: u128,
    /// Milliseconds since the fake started at which it ended (or now, if it lasts).
    pub until_ms: u128,
}

/// Whether `fault` keeps a call from a clean, prompt answer: every fault but a free
/// item, which is a price like any other.
fn fails(fault: PricingFault) -> bool {
    fault != PricingFault::FreeItem
}

/// Most flapping phases [`faulty_stretches`] lists for one stretch of changes: far
/// more than any check's world lives through, a bound on a runaway loop.
const MAX_PHASES: u128 = 100_000;

/// The stretches, up to `now`, in which the standing fault or the timeline (as
/// `changes` set them, in order) would have met a call with a fault that `counts`.
fn faulty_stretches(
    changes: &[(Instant, Option<PricingFault>, Timeline)],
    now: Instant,
    counts: fn(PricingFault) -> bool,
) -> Vec<(Instant, Instant)> {
    let mut out = Vec::new();
    let failing = |f: Option<PricingFault>| f.is_some_and(counts);
    for (i, (from, standing, timeline)) in changes.iter().enumerate() {
        let until = changes.get(i + 1).map_or(now, |c| c.0).max(*from);
        let mut push = |a: Instant, b: Instant| {
            let (a, b) = (a.max(*from), b.min(until));
            if a < b {
                out.push((a, b));
            }
        };
        match timeline {
            Timeline::Off => {
                if failing(*standing) {
                    push(*from, until);
                }
            }
            Timeline::Schedule { from: t0, steps } => {
                // Before the first step, the standing fault; then each step until the next.
                let first = steps.first().map_or(until, |(o, _)| *t0 + *o);
                if failing(*standing) {
                    push(*from, first);
                }
                for (k, (offset, fault)) in steps.iter().enumerate() {
                    let end = steps.get(k + 1).map_or(until, |(o, _)| *t0 + *o);
                    if failing(*fault) {
                        push(*t0 + *offset, end);
                    }
                }
            }
            Timeline::Flapping {
                from: t0,
                period,
                fault,
            } => {
                if !failing(Some(*fault)) || period.is_zero() {
                    continue;
                }
                // Even phases carry the fault.
                let first = from.saturating_duration_since(*t0).as_nanos() / period.as_nanos();
                let last = until.saturating_duration_since(*t0).as_nanos() / period.as_nanos();
                let mut n = first - first % 2;
                while n <= last && n - first < MAX_PHASES {
                    let Ok(k) = u32::try_from(n) else { break };
                    let start = *t0 + period.saturating_mul(k);
                    push(start, start + *period);
                    n += 2;
                }
            }
        }
    }
    out
}

/// What a call asks for.
enum Ask {
    Health,
    Price { sku: String, qty: Option<u32> },
}

/// Counts a call in flight and stamps when it ended, however it ends: answered, or
/// dropped with its connection mid-fault (the guard may live on inside a stalled body).
struct CallGuard {
    shared: Arc<Shared>,
    index: usize,
}

impl CallGuard {
    /// Records `response`'s status as the answer, and returns it.
    fn answer(&self, response: Response) -> Response {
        let status = response.status().as_u16();
        self.shared
            .with(|b| b.calls[self.index].call.status = Some(status));
        response
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let ended = self.shared.started.elapsed().as_millis();
        self.shared.with(|b| {
            b.in_flight = b.in_flight.saturating_sub(1);
            b.calls[self.index].call.ended_ms = Some(ended);
        });
    }
}

async fn price(
    State(shared): State<Arc<Shared>>,
    Extension(drop_connection): Extension<DropConnection>,
    OriginalUri(uri): OriginalUri,
    Path(sku): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let qty = query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("qty="))
            .and_then(|v| v.parse::<u32>().ok())
    });
    serve(
        shared,
        drop_connection,
        uri.path().to_owned(),
        Ask::Price { sku, qty },
    )
    .await
}

async fn health(
    State(shared): State<Arc<Shared>>,
    Extension(drop_connection): Extension<DropConnection>,
) -> Response {
    serve(shared, drop_connection, "/health".to_owned(), Ask::Health).await
}

async fn serve(
    shared: Arc<Shared>,
    drop_connection: DropConnection,
    path: String,
    ask: Ask,
) -> Response {
    let at = Instant::now();
    let at_ms = at.saturating_duration_since(shared.started).as_millis();

    // Record the call and pick its fault in one step: queued (price calls only), then
    // the timeline, then the standing fault.
    let (fault, index) = shared.with(|b| {
        let queued = match ask {
            Ask::Price { .. } => b.queued.take_next(),
            Ask::Health => None,
        };
        let fault = queued.or_else(|| b.timeline.at(at).unwrap_or(b.standing));
        let (sku, qty) = match &ask {
            Ask::Price { sku, qty } => (Some(sku.clone()), *qty),
            Ask::Health => (None, None),
        };
        b.calls.push(Entry {
            at,
            call: PricingCall {
                at_ms,
                path,
                sku,
                qty,
                fault,
                status: None,
                ended_ms: None,
                served_price: None,
            },
        });
        b.in_flight += 1;
        (fault, b.calls.len() - 1)
    });
    let guard = CallGuard {
        shared: Arc::clone(&shared),
        index,
    };
    shared.recorder.note(|| {
        let what = match &ask {
            Ask::Price { sku, qty } => format!(
                "price call {sku} qty {}",
                qty.map_or("?".to_owned(), |q| q.to_string())
            ),
            Ask::Health => "health call".to_owned(),
        };
        match fault {
            Some(f) => format!("{what} (fault: {f:?})"),
            None => what,
        }
    });

    match fault {
        Some(PricingFault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(PricingFault::Hold) => shared.gate.hold().await,
        Some(PricingFault::Hang) => std::future::pending::<()>().await,
        Some(PricingFault::Reset) => {
            drop_connection.now();
            std::future::pending::<()>().await;
        }
        Some(PricingFault::Status(code)) => return guard.answer(status_error(code)),
        Some(PricingFault::RateLimited { retry_after_secs }) => {
            let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            if let Some(secs) = retry_after_secs {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, secs.into());
            }
            return guard.answer(response);
        }
        Some(PricingFault::Garbage) => {
            let response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Bad Gateway</body></html>",
            )
                .into_response();
            return guard.answer(response);
        }
        _ => {}
    }

    let body = match ask {
        Ask::Health => json!({ "status": "ok" }).to_string(),
        Ask::Price { sku, qty } => {
            let Some(qty) = qty.filter(|q| *q >= 1) else {
                return guard.answer(json_error(StatusCode::BAD_REQUEST, "invalid_qty"));
            };
            if shared.read(|b| b.forgotten.contains(&sku)) {
                return guard.answer(json_error(StatusCode::NOT_FOUND, "unknown_sku"));
            }
            if fault == Some(PricingFault::WrongPrice) {
                price_json(
                    &sku,
                    qty.saturating_add(1),
                    PricingService::wrong_unit_price(&sku),
                )
            } else if fault == Some(PricingFault::NegativePrice) {
                price_json(&sku, qty, -PricingService::unit_price(&sku))
            } else if matches!(
                fault,
                Some(PricingFault::Truncated | PricingFault::SlowBody)
            ) {
                price_json(&sku, qty, PricingService::unit_price(&sku))
            } else {
                let index = guard.index;
                let free = fault == Some(PricingFault::FreeItem);
                let price = shared.with(|b| {
                    let price = if free {
                        0
                    } else {
                        let price = PricingService::unit_price(&sku) + b.served;
                        b.served += 1;
                        price
                    };
                    b.calls[index].call.served_price = Some(price);
                    price
                });
                price_json(&sku, qty, price)
            }
        }
    };

    match fault {
        Some(PricingFault::Truncated) => {
            let response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                first_half(&body),
            )
                .into_response();
            guard.answer(response)
        }
        Some(PricingFault::SlowBody) => {
            let mut response = Response::new(Body::empty());
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            let response = guard.answer(response);
            // The guard rides in the body: the call stays in flight until the client
            // gives up on the stalled body and its connection drops.
            response.map(|_| Body::new(StalledBody::new(first_half(&body), guard)))
        }
        _ => {
            let response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            guard.answer(response)
        }
    }
}

/// A price answer, its fields in the order of pricing's documentation.
#[derive(Serialize)]
struct Price<'a> {
    sku: &'a str,
    qty: u32,
    unit_price: i64,
    currency: &'a str,
    valid_until: String,
}

/// The JSON text of a price answer valid for [`PRICE_VALIDITY`] from now.
fn price_json(sku: &str, qty: u32, unit_price: i64) -> String {
    let price = Price {
        sku,
        qty,
        unit_price,
        currency: "EUR",
        valid_until: rfc3339_utc(SystemTime::now() + PRICE_VALIDITY),
    };
    // Serialising a struct of strings and integers cannot fail.
    serde_json::to_string(&price).unwrap_or_default()
}

/// `time` as RFC 3339 UTC to the second, e.g. `2026-11-29T10:05:00Z`.
fn rfc3339_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKU: &str = "SKU-0001";

    fn client(timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .unwrap()
    }

    async fn get(pricing: &PricingService, path: &str) -> reqwest::Response {
        client(Duration::from_secs(5))
            .get(format!("{}{path}", pricing.url()))
            .send()
            .await
            .unwrap()
    }

    async fn status_of(pricing: &PricingService, path: &str) -> u16 {
        get(pricing, path).await.status().as_u16()
    }

    fn quote_path(qty: u32) -> String {
        format!("/v1/prices/{SKU}?qty={qty}")
    }

    #[test]
    fn unit_price_is_a_stable_function_of_the_sku() {
        let a = PricingService::unit_price("SKU-0001");
        assert_eq!(a, PricingService::unit_price("SKU-0001"));
        assert!((100..10_000).contains(&a));
        assert_ne!(a, PricingService::unit_price("SKU-0002"));
        assert_ne!(a, PricingService::wrong_unit_price("SKU-0001"));
    }

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723);
        assert_eq!(rfc3339_utc(leap_day), "2000-02-29T01:02:03Z");
    }

    #[tokio::test]
    async fn answers_prices_health_and_errors_and_records_them() {
        let pricing = PricingService::start().await.unwrap();
        let before = rfc3339_utc(SystemTime::now() + Duration::from_secs(4 * 60));

        let response = get(&pricing, &quote_path(3)).await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["sku"], SKU);
        assert_eq!(body["qty"], 3);
        assert_eq!(body["unit_price"], PricingService::unit_price(SKU));
        assert_eq!(body["currency"], "EUR");
        let valid_until = body["valid_until"].as_str().unwrap();
        assert_eq!(valid_until.len(), "2026-11-29T10:05:00Z".len());
        assert!(valid_until.ends_with('Z'));
        assert!(valid_until > before.as_str(), "{valid_until} vs {before}");

        let response = get(&pricing, "/health").await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "status": "ok" }));

        pricing.forget_sku("SKU-0404");
        let response = get(&pricing, "/v1/prices/SKU-0404?qty=1").await;
        assert_eq!(response.status(), 404);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "error": "unknown_sku" }));

        for bad in ["", "?qty=", "?qty=abc", "?qty=0", "?qty=-1"] {
            let path = format!("/v1/prices/{SKU}{bad}");
            assert_eq!(status_of(&pricing, &path).await, 400, "{path}");
        }

        let calls = pricing.calls();
        assert_eq!(calls.len(), 8);
        assert_eq!(pricing.call_count(), 8);
        assert_eq!(calls[0].path, "/v1/prices/SKU-0001");
        assert_eq!(calls[0].sku.as_deref(), Some(SKU));
        assert_eq!(calls[0].qty, Some(3));
        assert_eq!(calls[0].fault, None);
        assert_eq!(calls[0].status, Some(200));
        assert!(calls[0].ended_ms.is_some());
        assert_eq!(calls[1].path, "/health");
        assert_eq!((calls[1].sku.as_ref(), calls[1].qty), (None, None));
        assert_eq!(calls[2].status, Some(404));
        assert_eq!(pricing.price_calls().len(), 7);
        assert!(pricing.price_calls().iter().all(PricingCall::is_price));
        assert!(calls.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));

        let mark = Instant::now();
        assert!(pricing.calls_since(mark).is_empty());
        get(&pricing, "/health").await;
        assert_eq!(pricing.calls_since(mark).len(), 1);
        assert!(pricing.started() <= mark);
        assert_eq!(pricing.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_hang_times_the_client_out_and_leaves_when_it_gives_up() {
        let pricing = PricingService::start().await.unwrap();
        pricing.set_standing(Some(PricingFault::Hang));
        let result = client(Duration::from_millis(300))
            .get(format!("{}{}", pricing.url(), quote_path(1)))
            .send()
            .await;
        assert!(result.unwrap_err().is_timeout());
        assert!(pricing.wait_idle(Duration::from_secs(5)).await);
        assert_eq!(pricing.in_flight(), 0);
        let call = &pricing.calls()[0];
        assert_eq!(call.fault, Some(PricingFault::Hang));
        assert_eq!(call.status, None);
        assert!(call.ended_ms.unwrap() >= call.at_ms + 250);

        // Health hangs with it.
        let result = client(Duration::from_millis(300))
            .get(format!("{}/health", pricing.url()))
            .send()
            .await;
        assert!(result.unwrap_err().is_timeout());
        assert!(pricing.wait_idle(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn a_slow_body_sends_headers_then_stalls() {
        let pricing = PricingService::start().await.unwrap();
        pricing.fail_next(PricingFault::SlowBody);
        let response = get(&pricing, &quote_path(2)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert!(response.headers().get("content-length").is_none());
        assert_eq!(response.headers()["transfer-encoding"], "chunked");
        assert_eq!(pricing.in_flight(), 1);
        let mut response = response;
        let first = response.chunk().await.unwrap().unwrap();
        assert!(first.starts_with(b"{\"sku\":\""), "{first:?}");
        let rest = tokio::time::timeout(Duration::from_millis(300), response.chunk()).await;
        assert!(rest.is_err(), "the body should stall");
        drop(response);
        // Dropping the response dropped its connection.
        assert!(pricing.wait_idle(Duration::from_secs(5)).await);
        let call = &pricing.calls()[0];
        assert_eq!(
            (call.fault, call.status),
            (Some(PricingFault::SlowBody), Some(200))
        );
        assert!(call.ended_ms.is_some());
    }

    #[tokio::test]
    async fn status_and_rate_limit_faults_come_in_queue_order() {
        let pricing = PricingService::start().await.unwrap();
        pricing.fail_next(PricingFault::Status(503));
        pricing.fail_next(PricingFault::RateLimited {
            retry_after_secs: Some(2),
        });
        pricing.fail_next(PricingFault::Status(500));

        let response = get(&pricing, &quote_path(1)).await;
        assert_eq!(response.status(), 503);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "error": "service_unavailable" }));

        let response = get(&pricing, &quote_path(1)).await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "2");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "error": "rate_limited" }));

        // A health probe does not take a queued fault.
        assert_eq!(status_of(&pricing, "/health").await, 200);
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 500);
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 200);

        let faults: Vec<_> = pricing.calls().iter().map(|c| c.fault).collect();
        assert_eq!(
            faults,
            [
                Some(PricingFault::Status(503)),
                Some(PricingFault::RateLimited {
                    retry_after_secs: Some(2)
                }),
                None,
                Some(PricingFault::Status(500)),
                None,
            ]
        );

        // A standing fault applies to health too, until healed.
        pricing.set_standing(Some(PricingFault::Status(502)));
        assert_eq!(status_of(&pricing, "/health").await, 502);
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 502);
        pricing.heal();
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 200);
    }

    #[tokio::test]
    async fn garbage_and_truncated_bodies_do_not_parse() {
        let pricing = PricingService::start().await.unwrap();
        pricing.fail_next(PricingFault::Garbage);
        pricing.fail_next(PricingFault::Truncated);

        let response = get(&pricing, &quote_path(1)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/html");
        let body = response.bytes().await.unwrap();
        assert_eq!(&body[..], b"<html><body>Bad Gateway</body></html>");
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());

        let response = get(&pricing, &quote_path(1)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let length: usize = response.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = response.bytes().await.unwrap();
        assert_eq!(body.len(), length);
        assert!(body.starts_with(b"{\""));
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    }

    #[tokio::test]
    async fn a_wrong_price_answers_for_another_quantity() {
        let pricing = PricingService::start().await.unwrap();
        pricing.fail_next(PricingFault::WrongPrice);
        let response = get(&pricing, &quote_path(3)).await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["sku"], SKU);
        assert_eq!(body["qty"], 4);
        assert_eq!(body["unit_price"], PricingService::wrong_unit_price(SKU));
        assert_ne!(body["unit_price"], PricingService::unit_price(SKU));
        assert_eq!(pricing.calls()[0].qty, Some(3));
    }

    #[tokio::test]
    async fn a_reset_closes_the_connection_without_a_status() {
        let pricing = PricingService::start().await.unwrap();
        pricing.fail_next(PricingFault::Reset);
        let err = client(Duration::from_secs(5))
            .get(format!("{}{}", pricing.url(), quote_path(1)))
            .send()
            .await
            .unwrap_err();
        assert!(err.status().is_none());
        assert!(!err.is_timeout());
        assert!(pricing.wait_idle(Duration::from_secs(5)).await);
        let call = &pricing.calls()[0];
        assert_eq!((call.fault, call.status), (Some(PricingFault::Reset), None));
    }

    #[tokio::test]
    async fn held_calls_wait_for_release_and_latency_delays() {
        let pricing = PricingService::start().await.unwrap();
        pricing.fail_next(PricingFault::Hold);
        let url = format!("{}{}", pricing.url(), quote_path(1));
        let pending = tokio::spawn(async move {
            client(Duration::from_secs(5))
                .get(url)
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(pricing.wait_for_held(1, Duration::from_secs(5)).await);
        assert_eq!((pricing.held(), pricing.in_flight()), (1, 1));
        pricing.release_held();
        assert_eq!(pending.await.unwrap(), 200);
        assert_eq!(pricing.held(), 0);

        pricing.fail_next(PricingFault::Latency(Duration::from_millis(150)));
        let start = Instant::now();
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 200);
        assert!(start.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn a_schedule_runs_an_outage_then_recovery() {
        let pricing = PricingService::start().await.unwrap();
        // The schedule outranks the standing fault, during the outage and after it.
        pricing.set_standing(Some(PricingFault::Status(500)));
        pricing.set_schedule(vec![
            (Duration::from_millis(150), None),
            (Duration::ZERO, Some(PricingFault::Status(503))),
        ]);
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 503);
        assert_eq!(status_of(&pricing, "/health").await, 503);
        // A queued fault outranks the schedule.
        pricing.fail_next(PricingFault::Status(502));
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 502);

        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 200);
        assert_eq!(status_of(&pricing, "/health").await, 200);

        // Before the first step, the standing fault applies.
        pricing.set_schedule(vec![(Duration::from_secs(60), None)]);
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 500);
        pricing.set_schedule(Vec::new());
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 500);
    }

    #[tokio::test]
    async fn flapping_alternates_faulty_and_healthy() {
        let pricing = PricingService::start().await.unwrap();
        let start = Instant::now();
        pricing.set_flapping(Duration::from_millis(200), PricingFault::Status(503));
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 503);
        tokio::time::sleep_until((start + Duration::from_millis(300)).into()).await;
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 200);
        tokio::time::sleep_until((start + Duration::from_millis(500)).into()).await;
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 503);
        pricing.heal();
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 200);
    }

    /// `ms` milliseconds after `t0`.
    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// The stretches as milliseconds after `t0`.
    fn in_ms(t0: Instant, stretches: &[(Instant, Instant)]) -> Vec<(u128, u128)> {
        let ms = |i: &Instant| i.saturating_duration_since(t0).as_millis();
        stretches.iter().map(|(a, b)| (ms(a), ms(b))).collect()
    }

    #[test]
    fn a_standing_fault_is_unhealthy_until_healed_and_a_free_item_never() {
        let t0 = Instant::now();
        let changes = [
            (at(t0, 0), Some(PricingFault::FreeItem), Timeline::Off),
            (at(t0, 100), Some(PricingFault::Hang), Timeline::Off),
            (at(t0, 700), None, Timeline::Off),
            (at(t0, 900), Some(PricingFault::Status(503)), Timeline::Off),
        ];
        let got = faulty_stretches(&changes, at(t0, 1_000), fails);
        assert_eq!(in_ms(t0, &got), [(100, 700), (900, 1_000)]);
    }

    #[test]
    fn a_schedule_is_unhealthy_in_its_faulty_steps_and_before_them_by_the_standing_fault() {
        let t0 = Instant::now();
        let schedule = Timeline::Schedule {
            from: at(t0, 200),
            steps: vec![
                (Duration::from_millis(100), Some(PricingFault::Status(503))),
                (Duration::from_millis(400), None),
                (Duration::from_millis(600), Some(PricingFault::Reset)),
            ],
        };
        let changes = [(at(t0, 200), Some(PricingFault::Hang), schedule)];
        let got = faulty_stretches(&changes, at(t0, 1_000), fails);
        assert_eq!(in_ms(t0, &got), [(200, 300), (300, 600), (800, 1_000)]);
        // Healed at 500: the schedule's later steps never happen.
        let mut healed = changes.to_vec();
        healed.push((at(t0, 500), None, Timeline::Off));
        let got = faulty_stretches(&healed, at(t0, 1_000), fails);
        assert_eq!(in_ms(t0, &got), [(200, 300), (300, 500)]);
    }

    #[tokio::test]
    async fn outages_are_unbroken_stretches_of_a_fault_that_breaks_calls() {
        let pricing = PricingService::start().await.unwrap();
        pricing.set_standing(Some(PricingFault::Latency(Duration::from_millis(5))));
        pricing.fail_next(PricingFault::Status(503));
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 503);
        assert!(pricing.outages().is_empty(), "{:?}", pricing.outages());
        // 503 then a hang, back to back: one outage.
        pricing.set_standing(Some(PricingFault::Status(503)));
        tokio::time::sleep(Duration::from_millis(30)).await;
        pricing.set_standing(Some(PricingFault::Hang));
        tokio::time::sleep(Duration::from_millis(30)).await;
        pricing.set_standing(Some(PricingFault::RateLimited {
            retry_after_secs: Some(1),
        }));
        tokio::time::sleep(Duration::from_millis(30)).await;
        pricing.set_standing(Some(PricingFault::Reset));
        let outages = pricing.outages();
        assert_eq!(outages.len(), 2, "{outages:?}");
        assert!(
            outages[0].until_ms >= outages[0].from_ms + 60,
            "{outages:?}"
        );
        assert!(
            outages[1].from_ms >= outages[0].until_ms + 30,
            "{outages:?}"
        );
    }

    #[test]
    fn flapping_is_unhealthy_in_every_other_period() {
        let t0 = Instant::now();
        let flapping = Timeline::Flapping {
            from: t0,
            period: Duration::from_millis(100),
            fault: PricingFault::Status(503),
        };
        // Flapping set at 0, healed at 450: faulty 0–100, 200–300, 400–450.
        let changes = [(t0, None, flapping), (at(t0, 450), None, Timeline::Off)];
        let got = faulty_stretches(&changes, at(t0, 1_000), fails);
        assert_eq!(in_ms(t0, &got), [(0, 100), (200, 300), (400, 450)]);
    }

    #[tokio::test]
    async fn unhealthy_lists_faulty_calls_and_faulty_stretches() {
        let pricing = PricingService::start().await.unwrap();
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 200);
        assert!(pricing.unhealthy().is_empty(), "{:?}", pricing.unhealthy());
        // A one-off fault: only its call.
        pricing.fail_next(PricingFault::Status(500));
        assert_eq!(status_of(&pricing, &quote_path(1)).await, 500);
        let calls = pricing.calls();
        let failed = &calls[1];
        assert_eq!(
            pricing.unhealthy(),
            [Unhealthy {
                from_ms: failed.at_ms,
                until_ms: failed.ended_ms.unwrap()
            }]
        );
        // A standing fault: unhealthy from when it was set, called or not.
        pricing.set_standing(Some(PricingFault::Status(503)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        pricing.heal();
        let stretches = pricing.unhealthy();
        assert_eq!(stretches.len(), 2, "{stretches:?}");
        let standing = stretches[0];
        assert!(standing.until_ms >= standing.from_ms + 50, "{standing:?}");
        assert!(standing.from_ms >= failed.ended_ms.unwrap(), "{standing:?}");
    }
}
