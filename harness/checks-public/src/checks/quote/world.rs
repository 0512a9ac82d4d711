//! `QuoteWorld`: a quote service wired to a fake pricing service, the products the
//! harness wrote into its catalogue table, and timed requests.
//!
//! Timing is judged against the brief's budgets with a margin for a loaded machine
//! ([`QUOTE_LIMIT`], [`PAGE_LIMIT`]); the flaws these checks target make a request hang
//! for good, far beyond any margin, so the margins cost the checks nothing.

use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};

use crate::checks::http::{Exchange, send_within};
use crate::checks::pauses::{Pause, resumed_before, service_time};
use crate::checks::{CheckEnv, Evidence, Problem};
use crate::fakes::PricingService;
use crate::seed::SeedRng;
use crate::service::{RunningService, ServiceSpec};

/// The brief's budget for a quote: the storefront gives up after 2 s.
pub const QUOTE_BUDGET: Duration = Duration::from_secs(2);
/// What the checks accept for a quote: the budget plus a margin for a loaded machine.
pub const QUOTE_LIMIT: Duration = Duration::from_millis(2_500);
/// The brief's budget for product pages and health during an incident.
pub const PAGE_BUDGET: Duration = Duration::from_millis(200);
/// What the checks accept for them.
pub const PAGE_LIMIT: Duration = Duration::from_millis(500);
/// How long the harness waits for any answer before calling it a hang.
pub const GIVE_UP: Duration = Duration::from_millis(4_000);

/// An exchange and how long it took.
#[derive(Debug, Clone)]
pub struct Timed {
    /// What was sent and what came back.
    pub x: Exchange,
    /// From sending to the end of the body (or giving up).
    pub took: Duration,
    /// When it was sent.
    pub sent: Instant,
}

impl Timed {
    /// This exchange timed as the service certainly took it: the harness's `pauses`
    /// while it was in flight taken out ([`service_time`], a lower bound of the
    /// service's own time); `None` when the harness gave up too soon after a pause to
    /// tell whether an answer had come.
    pub fn as_served(&self, pauses: &[Pause]) -> Option<Timed> {
        let took = service_time(pauses, self.sent, self.took, self.x.status.is_some())?;
        Some(Timed {
            took,
            ..self.clone()
        })
    }
}

/// The pages and probes as the service served them ([`Timed::as_served`]), leaving out
/// those the harness's pauses left undecided.
pub fn unpaused(pages: Vec<(String, Timed)>, pauses: &[Pause]) -> Vec<(String, Timed)> {
    pages
        .into_iter()
        .filter_map(|(path, t)| Some((path, t.as_served(pauses)?)))
        .collect()
}

/// When pricing was unhealthy as the service saw it: when the fake failed calls, and
/// whenever the harness was paused while the service had a call to pricing in flight
/// or began one (its fake answered nothing then), on pricing's clock.
pub fn unhealthy_or_paused(
    pricing: &PricingService,
    pauses: &[Pause],
) -> Vec<crate::fakes::Unhealthy> {
    let mut unhealthy = pricing.unhealthy();
    unhealthy.extend(paused_calls(
        &pricing.price_calls(),
        pauses,
        pricing.started(),
    ));
    unhealthy
}

/// The pauses of the harness that met a call to pricing, on pricing's clock. A call
/// begun during a pause is accepted when the harness runs again, so the fake logs it
/// at most [`HEARD_AFTER`] after the pause. A pause that met no call failed nothing the
/// service could count: a breaker that never closes again cannot hide behind one.
/// Pure: from pricing's log and the pauses.
///
/// [`HEARD_AFTER`]: crate::checks::pauses::HEARD_AFTER
pub fn paused_calls(
    calls: &[crate::fakes::PricingCall],
    pauses: &[Pause],
    started: Instant,
) -> Vec<crate::fakes::Unhealthy> {
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    pauses
        .iter()
        .map(|p| crate::fakes::Unhealthy {
            from_ms: ms(p.from),
            until_ms: ms(p.until),
        })
        .filter(|p| {
            let heard_by = p.until_ms + crate::checks::pauses::HEARD_AFTER.as_millis();
            calls
                .iter()
                .any(|c| c.at_ms <= heard_by && c.ended_ms.is_none_or(|e| e >= p.from_ms))
        })
        .collect()
}

impl std::fmt::Display for Timed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} ms)", self.x, self.took.as_millis())
    }
}

/// A quote service instance, its fake pricing service and its catalogue.
pub struct QuoteWorld {
    /// The fake pricing service.
    pub pricing: PricingService,
    /// The service under test.
    pub svc: RunningService,
    /// SKUs in the catalogue (and known to pricing).
    pub skus: Vec<String>,
    http: reqwest::Client,
    rng: SeedRng,
    journal: crate::checks::Journal,
    quotes: Quotes,
    pages: Pages,
}

/// Every quote any client of a world sent, with its SKU, quantity and what came back.
type Quotes = std::sync::Arc<std::sync::Mutex<Vec<(String, u32, Timed)>>>;
/// Every product page and health probe a client sent with [`Client::page`]: its
/// path and what came back.
type Pages = std::sync::Arc<std::sync::Mutex<Vec<(String, Timed)>>>;

impl QuoteWorld {
    /// Starts a healthy pricing service and one service instance whose catalogue holds
    /// a few products.
    pub async fn start(env: &CheckEnv, name: &str) -> Result<QuoteWorld, Problem> {
        let pricing = PricingService::start().await?;
        pricing.record_into(env.journal.timeline());
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| Problem::Harness(format!("http client: {e}")))?;
        let mut rng = SeedRng::new(crate::seed::for_check(env.seed, name));
        let dir = env.workdir.join(name);
        std::fs::create_dir_all(&dir)?;
        let spec = ServiceSpec {
            binary: env.binary.clone(),
            db: dir.join("quote.db"),
            downstreams: vec![("pricing".to_owned(), pricing.url())],
            env: Vec::new(),
            log: dir.join("service.log"),
            stats: None,
            policy: env.policy.clone(),
            timeline: env.journal.timeline().clone(),
        };
        let svc = RunningService::start(&spec).await.map_err(|e| {
            let mut ev = Evidence::new();
            ev.say(format!("The service did not start: {e}."));
            let tail = crate::service::log_tail(&spec.log, 15);
            if !tail.is_empty() {
                ev.say(format!("Its log ends with:\n{tail}"));
            }
            Problem::Service(ev)
        })?;
        let tag = rng.next_u64() as u16;
        let skus: Vec<String> = (1..=6).map(|i| format!("SKU-{tag:04X}-{i}")).collect();
        write_products(svc.db(), &skus).map_err(|e| {
            let mut ev = Evidence::new();
            ev.say(format!(
                "The contract table `products` could not be written: {e}"
            ));
            Problem::Service(ev)
        })?;
        Ok(QuoteWorld {
            pricing,
            svc,
            skus,
            http,
            rng,
            journal: env.journal.clone(),
            quotes: Quotes::default(),
            pages: Pages::default(),
        })
    }

    /// The check's timeline, for requests a check sends without a world's client.
    pub fn timeline(&self) -> &crate::checks::Timeline {
        self.journal.timeline()
    }

    /// The check's seed-derived random source.
    pub fn rng(&mut self) -> &mut SeedRng {
        &mut self.rng
    }

    /// A client for spawned requests.
    pub fn client(&self) -> Client {
        Client {
            http: self.http.clone(),
            base: self.svc.url(),
            quotes: self.quotes.clone(),
            pages: self.pages.clone(),
            timeline: self.journal.timeline().clone(),
        }
    }

    /// `GET /quotes/{sku}?qty={qty}`, timed.
    pub async fn quote(&self, sku: &str, qty: u32) -> Timed {
        self.client().quote(sku, qty).await
    }

    /// A GET request, timed.
    pub async fn get(&self, path: &str) -> Timed {
        self.client().get(path).await
    }

    /// `GET /products/{sku}` of a catalogue product, or `GET /health`, timed and held
    /// to the standing requirement on pages.
    pub async fn page(&self, path: &str) -> Timed {
        self.client().page(path).await
    }
}

/// A cloneable client bound to one service, for spawned requests.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    quotes: Quotes,
    pages: Pages,
    timeline: crate::checks::Timeline,
}

impl Client {
    /// `GET /products/{sku}` of a catalogue product, or `GET /health`, timed and held
    /// to the standing requirement on pages ([`pages_down`]).
    pub async fn page(&self, path: &str) -> Timed {
        let t = self.get(path).await;
        self.pages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((path.to_owned(), t.clone()));
        t
    }

    /// `GET /quotes/{sku}?qty={qty}`, timed.
    pub async fn quote(&self, sku: &str, qty: u32) -> Timed {
        let t = self.get(&format!("/quotes/{sku}?qty={qty}")).await;
        self.quotes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((sku.to_owned(), qty, t.clone()));
        t
    }

    /// A GET request, timed; gives up after [`GIVE_UP`].
    pub async fn get(&self, path: &str) -> Timed {
        let started = Instant::now();
        let x = send_within(
            &self.timeline,
            &self.http,
            reqwest::Method::GET,
            &self.base,
            path,
            &[],
            None,
            GIVE_UP,
        )
        .await;
        Timed {
            x,
            took: started.elapsed(),
            sent: started,
        }
    }
}

/// Whether a quote came later than [`QUOTE_LIMIT`] (or not at all): the one rule a loaded
/// machine can break for a right fix, so callers that judge on one sample can tell it
/// from the others.
pub fn is_late(t: &Timed) -> bool {
    t.took > QUOTE_LIMIT
}

/// Judges a quote against the brief: answered within the limit, and either a 200
/// carrying exactly a price pricing served for that SKU and quantity while the request
/// was in flight (never a remembered or made-up one), or a 502/503/504 with a JSON
/// error. Returns each broken rule. A quote in flight across a pause of the harness is
/// timed as the service served it ([`Timed::as_served`]), and not judged when the pause
/// leaves that undecided.
pub fn judge_quote(t: &Timed, sku: &str, qty: u32, pricing: &PricingService) -> Vec<String> {
    judge_quote_in(
        t,
        sku,
        qty,
        &pricing.price_calls(),
        pricing.started(),
        &pricing.harness_pauses(),
    )
}

/// [`judge_quote`] on pricing's log (`calls`, on the clock that began at `started`) and
/// the harness's `pauses`. Pure.
pub fn judge_quote_in(
    t: &Timed,
    sku: &str,
    qty: u32,
    calls: &[crate::fakes::PricingCall],
    started: Instant,
    pauses: &[Pause],
) -> Vec<String> {
    let mut broken = Vec::new();
    let Some(served) = t.as_served(pauses) else {
        return broken;
    };
    if served.took > QUOTE_LIMIT || served.x.status.is_none() {
        broken.push(format!(
            "A quote must be answered within {} s (the storefront's timeout; {} s allowed here), with a price or a JSON error: {served}",
            QUOTE_BUDGET.as_secs(),
            QUOTE_LIMIT.as_secs_f64()
        ));
        return broken;
    }
    match t.x.status {
        // The price is judged on the exchange as the harness saw it: a pause shortens
        // the time the service is charged with, not the window in which it may call
        // pricing (a call begun after the pause is part of this quote).
        Some(200) => broken.extend(dishonest(t, sku, qty, calls, started)),
        Some(502..=504) if t.x.is_json_error() => {}
        _ => broken.push(format!(
            "When pricing cannot price a quote, the answer must be 502, 503 or 504 with a JSON error: {served}"
        )),
    }
    broken
}

/// "A `200` from `/quotes` carries exactly the price pricing gave us for that request
/// (that SKU and quantity): never a made-up, default or previously cached price."
pub const HONEST_PRICE: &str = "honest-price";
/// "Every `GET /quotes/{sku}` is answered within 2 s, whatever pricing does: a `200`
/// with a correct price, or a JSON error with `502`, `503` or `504` — never a hang and
/// never a dropped connection. `400` and `404` as in the contract."
pub const ANSWERED_IN_TIME: &str = "answered-in-time";
/// "quotes succeed again within 10 s of pricing becoming healthy"
pub const RECOVERS: &str = "recovers-within-10s";
/// "When pricing keeps failing, stop sending it traffic: fail quotes fast without
/// calling it, and probe it again after a cool-down of at least 1 s and at most 5 s (a
/// probe is a single call, and quotes that arrive while it is in flight still fail
/// fast; a probe that fails starts another cool-down)"
pub const STOPS_CALLING: &str = "stops-calling-failing-pricing";
/// "While pricing is hanging, slow or failing, `GET /products/{sku}` and `GET /health`
/// keep answering within 200 ms. `GET /health` does not depend on pricing."
pub const PAGES_UP: &str = "pages-answer-during-incidents";
/// Every standing requirement this world judges when its check ends.
pub const STANDING: &[&str] = &[
    HONEST_PRICE,
    ANSWERED_IN_TIME,
    RECOVERS,
    STOPS_CALLING,
    PAGES_UP,
];

/// How late a page may be before the standing judge counts it, in any history: five
/// times the 200 ms budget. A page held behind a pricing call waits for that call's
/// timeout, seconds; a right page reads one row.
pub const PAGE_STANDING_LIMIT: Duration = Duration::from_secs(1);
/// Late pages in one history before the judge calls the budget broken: one late page
/// may be the harness starved of CPU, two are the service.
const LATE_PAGES: usize = 2;

/// Failed calls in one outage after which pricing "keeps failing" by any reading:
/// the circuit-breaker check's 20 quotes at three attempts each.
pub const KEEPS_FAILING: usize = 60;
/// How long after that the quotes already in flight may go on calling: every quote
/// is answered within the 2 s budget, and half a second for a loaded machine.
pub const IN_FLIGHT_DRAIN: Duration = Duration::from_millis(2_500);
/// Calls a second to a pricing that keeps failing beyond which a service is piling
/// on: probes after cool-downs of at least 1 s make one a second, five even with a
/// breaker per SKU of the six a world's catalogue holds.
pub const PILING_ON_RATE: f64 = 5.0;
/// The least stretch after the drain over which the rate is judged, and the least
/// number of calls in it: a rate over fewer is noise.
const PILING_ON_SPAN: Duration = Duration::from_secs(2);
const PILING_ON_CALLS: usize = 10;

/// The brief: quotes succeed again within this long of pricing becoming healthy.
pub const RECOVERY_BUDGET: Duration = Duration::from_secs(10);
/// What the standing judge allows for it: the budget and a second, for a machine
/// loaded by many checks at once and for a probe's own round trip.
pub const RECOVERY_STANDING_LIMIT: Duration = Duration::from_secs(11);

/// How late a quote may be answered before the standing requirement counts it as
/// broken, in any history: the 2 s budget and a second for a machine loaded by many
/// checks at once. What it catches is a quote left to hang or dropped; a budget broken
/// by a few hundred milliseconds by design is `budget-as-stated`'s to judge, on the
/// fastest of several trials.
pub const STANDING_LIMIT: Duration = Duration::from_millis(3_000);

/// How late the harness's own give-up may fire before its measurement is void.
const STARVED: Duration = Duration::from_secs(1);

/// What is wrong with how a quote was answered, whatever the check was about: no
/// answer (a hang past [`GIVE_UP`], or a dropped connection), an answer later than
/// [`STANDING_LIMIT`], a status the contract does not list, or an error that is not
/// JSON. Pure: from the answer alone.
pub fn unanswered(t: &Timed) -> Option<String> {
    let Some(status) = t.x.status else {
        // The harness gives up after GIVE_UP: when that took far longer, the harness
        // itself was starved of CPU, and what it measured says nothing of the service.
        if t.took > GIVE_UP + STARVED
            && t.x
                .error
                .as_deref()
                .is_some_and(|e| e.contains("timed out"))
        {
            return None;
        }
        return Some(format!(
            "A quote must be answered, never left to hang or dropped: {t}"
        ));
    };
    if t.took > STANDING_LIMIT {
        return Some(format!(
            "A quote must be answered within {} s ({} s allowed on a loaded machine): {t}",
            QUOTE_BUDGET.as_secs(),
            STANDING_LIMIT.as_secs()
        ));
    }
    match status {
        200 => None,
        400 | 404 | 502..=504 if t.x.is_json_error() => None,
        400 | 404 | 502..=504 => Some(format!("A quote's error must carry a JSON error body: {t}")),
        _ => Some(format!(
            "A quote is answered 200, 400, 404, 502, 503 or 504, never {status}: {t}"
        )),
    }
}

/// What is wrong with a `200` quote's price: it must be a unit price pricing served
/// for that SKU and quantity to a call begun while the request was in flight, with its
/// total. Pure:
/// from the answer and pricing's call log (`started` is when the log's clock began).
pub fn dishonest(
    t: &Timed,
    sku: &str,
    qty: u32,
    calls: &[crate::fakes::PricingCall],
    started: Instant,
) -> Option<String> {
    if t.x.status != Some(200) {
        return None;
    }
    let from = t.sent.saturating_duration_since(started).as_millis();
    let until = from + t.took.as_millis() + 1;
    let served: Vec<i64> = calls
        .iter()
        .filter(|c| c.sku.as_deref() == Some(sku) && c.qty == Some(qty))
        // Begun while the request was in flight. Not "ended" by then: the fake notes a
        // call's end after writing its answer, and on a busy machine that note can come
        // after the service has passed the price on; a price is served only once, so
        // one begun in the window cannot have been known before it.
        .filter(|c| c.at_ms + 1 >= from && c.at_ms <= until)
        .filter_map(|c| c.served_price)
        .collect();
    let unit = t.x.i64_field("unit_price");
    let honest = unit.is_some_and(|u| served.contains(&u))
        && t.x.str_field("sku") == Some(sku)
        && t.x.i64_field("qty") == Some(i64::from(qty))
        && t.x.i64_field("total") == unit.map(|u| u * i64::from(qty))
        && t.x.str_field("currency") == Some("EUR");
    (!honest).then(|| {
        format!(
            "A 200 must carry the price pricing gave for this request ({sku} × {qty}; unit prices served meanwhile: {}), with the total: {t}",
            prices_in_brief(&served, unit)
        )
    })
}

/// What is wrong with a quote that failed for want of pricing (`502`, `503`, `504`)
/// while pricing had been healthy for longer than [`RECOVERY_STANDING_LIMIT`] and
/// stayed so until the quote was answered: no fault would have met a call, and no
/// call was met by one (`unhealthy`, from [`PricingService::unhealthy`]). Time before
/// pricing started counts as healthy: a service that fails quotes although pricing
/// never failed has nothing to recover from. Pure: from the answer and pricing's log.
pub fn unrecovered(
    t: &Timed,
    unhealthy: &[crate::fakes::Unhealthy],
    started: Instant,
) -> Option<String> {
    if !matches!(t.x.status, Some(502..=504)) {
        return None;
    }
    let sent = t.sent.saturating_duration_since(started).as_millis();
    let answered = sent + t.took.as_millis();
    let from = sent.saturating_sub(RECOVERY_STANDING_LIMIT.as_millis());
    let before: Vec<u128> = unhealthy
        .iter()
        .filter(|u| u.from_ms <= answered)
        .map(|u| u.until_ms)
        .collect();
    if before.iter().any(|until| *until >= from) {
        return None;
    }
    let since = match before.iter().max() {
        Some(last) => format!(
            "pricing had been healthy for {:.1} s when it was sent",
            (sent - last) as f64 / 1000.0
        ),
        None => "pricing had not failed once since it started".to_owned(),
    };
    Some(format!(
        "Quotes must succeed again within {} s of pricing becoming healthy ({} s allowed here), but {since}: {t}",
        RECOVERY_BUDGET.as_secs(),
        RECOVERY_STANDING_LIMIT.as_secs()
    ))
}

/// What is wrong with how the service called pricing during its outages (`outages`,
/// from [`PricingService::outages`]; `calls`, every price call): once an outage has
/// failed [`KEEPS_FAILING`] calls and [`IN_FLIGHT_DRAIN`] has passed, calls for the
/// rest of it must come no faster than [`PILING_ON_RATE`] a second — fail fast
/// without calling, and probe after each cool-down. One line per outage that broke
/// it. Pure: from pricing's log.
pub fn piling_on(
    calls: &[crate::fakes::PricingCall],
    outages: &[crate::fakes::Unhealthy],
) -> Vec<String> {
    let mut broken = Vec::new();
    for o in outages {
        let within = |at: u128| at >= o.from_ms && at <= o.until_ms;
        let mut failed: Vec<u128> = calls
            .iter()
            .filter(|c| c.is_price() && within(c.at_ms))
            .filter(|c| c.fault.is_some_and(crate::fakes::PricingFault::breaks))
            .filter_map(|c| c.ended_ms)
            .collect();
        failed.sort_unstable();
        let Some(kept_failing) = failed.get(KEEPS_FAILING - 1) else {
            continue;
        };
        let from = kept_failing + IN_FLIGHT_DRAIN.as_millis();
        if o.until_ms < from + PILING_ON_SPAN.as_millis() {
            continue;
        }
        let n = calls
            .iter()
            .filter(|c| c.is_price() && c.at_ms > from && c.at_ms <= o.until_ms)
            .count();
        let secs = (o.until_ms - from) as f64 / 1000.0;
        let rate = n as f64 / secs;
        if n >= PILING_ON_CALLS && rate > PILING_ON_RATE {
            broken.push(format!(
                "When pricing keeps failing, quotes must fail fast without calling it, with a probe after each cool-down of at least 1 s: pricing failed every call from {:.1} s to {:.1} s (its clock) and had failed {KEEPS_FAILING} by {:.1} s, yet in the last {secs:.1} s of it the service still sent {n} calls ({rate:.1} a second; more than {PILING_ON_RATE} is piling on)",
                o.from_ms as f64 / 1000.0,
                o.until_ms as f64 / 1000.0,
                *kept_failing as f64 / 1000.0,
            ));
        }
    }
    broken
}

/// The brief's longest cool-down: a failing pricing is probed again after at most this.
pub const COOL_DOWN_BUDGET: Duration = Duration::from_secs(5);
/// What the standing judge allows for it: the budget and a second for a loaded machine.
pub const COOL_DOWN_STANDING_LIMIT: Duration = Duration::from_secs(6);

/// What is wrong with how long the service went without trying pricing: a quote
/// failed for want of pricing (`502`, `503`, `504`) without a call, when no call had
/// been in flight for more than [`COOL_DOWN_STANDING_LIMIT`] — the cool-down after
/// which the brief has a failing pricing probed again ran longer. A quote answered
/// while a call was in flight, or before any call, is not judged; nor is a gap that
/// began with a `429` or another `4xx` (a `Retry-After` may ask for a longer pause;
/// a 4xx is not pricing failing). The gap is counted from the end of the harness's
/// last pause before the quote was answered, if that is later (`pauses`, from
/// [`crate::checks::Timeline::pauses`]): while the harness is paused its fake serves
/// nothing and logs nothing, so the service's calls then are not in the log, and its
/// breaker has seen them fail. One line for the history, with how many such quotes.
/// Pure: from the quotes, pricing's log (`started` is when its clock began) and the
/// harness's pauses.
pub fn overlong_cool_down(
    quotes: &[(String, u32, Timed)],
    calls: &[crate::fakes::PricingCall],
    started: Instant,
    pauses: &[Pause],
) -> Vec<String> {
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    let price: Vec<&crate::fakes::PricingCall> = calls.iter().filter(|c| c.is_price()).collect();
    let mut found: Vec<(u128, &Timed)> = Vec::new();
    for (_, _, t) in quotes {
        if !matches!(t.x.status, Some(502..=504)) {
            continue;
        }
        let sent = ms(t.sent);
        let answered = sent + t.took.as_millis();
        // Calls begun before the quote was answered; one begun meanwhile was its own.
        let before: Vec<&&crate::fakes::PricingCall> =
            price.iter().filter(|c| c.at_ms <= answered + 1).collect();
        if before.is_empty() || before.iter().any(|c| c.at_ms + 1 >= sent) {
            continue;
        }
        // A call still in flight when the quote came: no cool-down to judge.
        let Some(ends) = before
            .iter()
            .map(|c| c.ended_ms.map(|e| (e, *c)))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let Some((last_end, last)) = ends.into_iter().max_by_key(|(e, _)| *e) else {
            continue;
        };
        // The fake records the status it answered: a 429 (whose `Retry-After` may ask
        // for a longer pause) or another 4xx (not pricing failing).
        let asked_to_wait = last.status.is_some_and(|s| (400..500).contains(&s));
        if asked_to_wait || last_end + 1 >= sent {
            continue;
        }
        let resumed = resumed_before(pauses, t.sent + t.took).map_or(0, ms);
        let idle = sent.saturating_sub(last_end.max(resumed));
        if idle > COOL_DOWN_STANDING_LIMIT.as_millis() {
            found.push((sent - last_end, t));
        }
    }
    let Some((idle, t)) = found.first() else {
        return Vec::new();
    };
    vec![format!(
        "When pricing keeps failing, probe it again after a cool-down of at most {} s ({} s allowed here): {} quote(s) failed without a call to pricing although none had been made for over that, the first {} ms after the last call ended: {t}",
        COOL_DOWN_BUDGET.as_secs(),
        COOL_DOWN_STANDING_LIMIT.as_secs(),
        found.len(),
        idle
    )]
}

/// A stretch without calls for a SKU, with quotes for it refused meanwhile, that shows
/// the service stopped calling pricing for it: its breaker open.
const OPEN_STRETCH: Duration = Duration::from_secs(1);
/// Quotes for the SKU refused (502/503/504) within that stretch, for it to count.
const OPEN_REFUSALS: usize = 2;
/// How far one call may start before another for its SKU ended and still not be
/// counted as in flight beside it: the fake records an end as it sees it.
const OVERLAP_SLACK_MS: u128 = 50;

/// When the service first showed its breaker open for `sku` (`mine`, its price calls
/// in one outage in the order they began): the end of the calls before a stretch of
/// [`OPEN_STRETCH`] without one, clear of the harness's pauses, in which
/// [`OPEN_REFUSALS`] quotes for it were refused. `ms` puts an instant on pricing's clock.
fn shown_open(
    sku: &str,
    mine: &[&crate::fakes::PricingCall],
    quotes: &[(String, u32, Timed)],
    ms: &dyn Fn(Instant) -> u128,
    clear: &dyn Fn(u128, u128) -> bool,
) -> Option<u128> {
    let mut ended_by: Option<u128> = None;
    for c in mine {
        if let Some(from) = ended_by
            && c.at_ms >= from + OPEN_STRETCH.as_millis()
            && clear(from, c.at_ms)
        {
            let refused = quotes
                .iter()
                .filter(|(s, _, t)| s == sku && matches!(t.x.status, Some(502..=504)))
                .filter(|(_, _, t)| ms(t.sent) >= from && ms(t.sent + t.took) <= c.at_ms)
                .count();
            if refused >= OPEN_REFUSALS {
                return Some(from);
            }
        }
        let end = c.ended_ms?;
        ended_by = Some(ended_by.map_or(end, |e| e.max(end)));
    }
    None
}

/// Whether a stretch on pricing's clock (`started` is when it began) is clear of every
/// pause of the harness, whose fake logs nothing while paused.
fn clear_of_pauses(pauses: &[Pause], started: Instant) -> impl Fn(u128, u128) -> bool {
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    let paused: Vec<(u128, u128)> = pauses.iter().map(|p| (ms(p.from), ms(p.until))).collect();
    move |from: u128, until: u128| !paused.iter().any(|(a, b)| *a < until && from < *b)
}

/// Each SKU's price calls that began within `outage`, in the order they began.
fn calls_per_sku<'a>(
    calls: &'a [crate::fakes::PricingCall],
    outage: &crate::fakes::Unhealthy,
) -> std::collections::BTreeMap<&'a str, Vec<&'a crate::fakes::PricingCall>> {
    let mut per_sku: std::collections::BTreeMap<&str, Vec<&crate::fakes::PricingCall>> =
        Default::default();
    for c in calls
        .iter()
        .filter(|c| c.is_price() && c.at_ms >= outage.from_ms && c.at_ms <= outage.until_ms)
    {
        if let Some(sku) = c.sku.as_deref() {
            per_sku.entry(sku).or_default().push(c);
        }
    }
    for mine in per_sku.values_mut() {
        mine.sort_by_key(|c| c.at_ms);
    }
    per_sku
}

/// The brief's shortest cool-down: "probe it again after a cool-down of at least 1 s".
pub const COOL_DOWN_MIN: Duration = Duration::from_secs(1);
/// How much shorter than [`COOL_DOWN_MIN`] the gap between the starts of two probes may
/// look: a breaker may count its cool-down from when it let the probe through rather
/// than from its failure, and the probe took a moment to reach pricing.
const COOL_DOWN_SLACK_MS: u128 = 50;

/// What is wrong with how soon the service probed a pricing that keeps failing again:
/// once its breaker showed open for a SKU ([`shown_open`]), a call for that SKU that
/// began less than [`COOL_DOWN_MIN`] (less [`COOL_DOWN_SLACK_MS`]) after the start of
/// the failed call before it, and after that call ended. Calls that overlap are
/// [`probes_flood`]'s to judge. A gap is judged only where the harness was not paused
/// from [`HEARD_AFTER`] before the first call (a call begun in a pause is logged late)
/// to the start of the second. Start to start is the shortest reading of the brief:
/// a cool-down counted from the probe's failure gives a longer gap. One line per
/// outage, with how many of its judged gaps were short and the shortest. Pure: from
/// the quotes, pricing's log (`started` is when its clock began) and the pauses.
///
/// [`HEARD_AFTER`]: crate::checks::pauses::HEARD_AFTER
pub fn short_cool_downs(
    quotes: &[(String, u32, Timed)],
    calls: &[crate::fakes::PricingCall],
    outages: &[crate::fakes::Unhealthy],
    started: Instant,
    pauses: &[Pause],
) -> Vec<String> {
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    let clear = clear_of_pauses(pauses, started);
    let heard_after = crate::checks::pauses::HEARD_AFTER.as_millis();
    let mut broken = Vec::new();
    for o in outages {
        let (mut judged, mut short) = (0usize, Vec::new());
        for (sku, mine) in calls_per_sku(calls, o) {
            let Some(open_at) = shown_open(sku, &mine, quotes, &ms, &clear) else {
                continue;
            };
            // After the stretch: every call before it ended by `open_at`, so one that
            // began at that very moment (a failure answered at once) is not a probe.
            let after: Vec<&crate::fakes::PricingCall> =
                mine.into_iter().filter(|c| c.at_ms > open_at).collect();
            for pair in after.windows(2) {
                let (probe, next) = (pair[0], pair[1]);
                let failed = probe.fault.is_some_and(crate::fakes::PricingFault::breaks);
                let ended_first = probe.ended_ms.is_some_and(|e| e <= next.at_ms);
                if !failed
                    || !ended_first
                    || !clear(probe.at_ms.saturating_sub(heard_after), next.at_ms)
                {
                    continue;
                }
                judged += 1;
                let gap = next.at_ms - probe.at_ms;
                if gap + COOL_DOWN_SLACK_MS < COOL_DOWN_MIN.as_millis() {
                    short.push((gap, sku, probe.at_ms));
                }
            }
        }
        let Some((gap, sku, at)) = short.iter().min().copied() else {
            continue;
        };
        broken.push(format!(
            "When pricing keeps failing, probe it again after a cool-down of at least {} s: pricing failed every call from {:.1} s to {:.1} s (its clock), and {} of the {judged} gaps between probes judged were shorter, the shortest {gap} ms ({sku}: a call at {:.3} s failed, the next began {gap} ms after it began)",
            COOL_DOWN_MIN.as_secs(),
            o.from_ms as f64 / 1000.0,
            o.until_ms as f64 / 1000.0,
            short.len(),
            at as f64 / 1000.0,
        ));
    }
    broken
}

/// What is wrong with how the service probed a pricing that keeps failing: once it has
/// shown its breaker open for a SKU — a stretch of [`OPEN_STRETCH`] during an outage
/// with no call for that SKU while [`OPEN_REFUSALS`] quotes for it were refused — a
/// call for that SKU while another for it is in flight, before the outage ends, is
/// traffic let through rather than a probe ("fail quotes fast without calling it, and
/// probe it again"). A breaker per SKU is judged per SKU; a global one probes with one
/// call. Calls or stretches that overlap a pause of the harness (whose fake logs
/// nothing while paused) are not judged. One line per outage that broke it. Pure: from
/// the quotes, pricing's log (`started` is when its clock began) and the pauses.
pub fn probes_flood(
    quotes: &[(String, u32, Timed)],
    calls: &[crate::fakes::PricingCall],
    outages: &[crate::fakes::Unhealthy],
    started: Instant,
    pauses: &[Pause],
) -> Vec<String> {
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    let clear = clear_of_pauses(pauses, started);
    let mut broken = Vec::new();
    for o in outages {
        let mut flooded: Vec<String> = Vec::new();
        for (sku, mine) in calls_per_sku(calls, o) {
            let Some(open_at) = shown_open(sku, &mine, quotes, &ms, &clear) else {
                continue;
            };
            let after: Vec<&&crate::fakes::PricingCall> =
                mine.iter().filter(|c| c.at_ms >= open_at).collect();
            for (i, first) in after.iter().enumerate() {
                let end = first.ended_ms.unwrap_or(o.until_ms).min(o.until_ms);
                let beside = after[i + 1..]
                    .iter()
                    .filter(|c| c.at_ms + OVERLAP_SLACK_MS < end)
                    .filter(|c| clear(first.at_ms, end.max(c.at_ms)))
                    .count();
                if beside > 0 {
                    flooded.push(format!(
                        "{sku}: {beside} more call(s) began while the call of {:.1} s was in flight (until {:.1} s), after the service had stopped calling for it at {:.1} s",
                        first.at_ms as f64 / 1000.0,
                        end as f64 / 1000.0,
                        open_at as f64 / 1000.0
                    ));
                    break;
                }
            }
        }
        if !flooded.is_empty() {
            broken.push(format!(
                "When pricing keeps failing, quotes must fail fast without calling it and pricing be probed again after a cool-down, one call at a time: pricing failed every call from {:.1} s to {:.1} s (its clock), and once the service had stopped calling it, it let quotes through to it side by side — {}",
                o.from_ms as f64 / 1000.0,
                o.until_ms as f64 / 1000.0,
                flooded.join("; ")
            ));
        }
    }
    broken
}

/// What is wrong with the product pages and health probes of one history (`pages`,
/// from [`Client::page`]; `calls`, every call pricing received, price and health):
/// one not answered `200`; [`LATE_PAGES`] or more later than [`PAGE_STANDING_LIMIT`];
/// or `GET /health` calling pricing — more than half of at least three probes each
/// met by a call to pricing's `/health` that began while it was answered (a
/// background poller's call now and then is not a dependency). Pure: from the pages
/// and pricing's log.
pub fn pages_down(
    pages: &[(String, Timed)],
    calls: &[crate::fakes::PricingCall],
    started: Instant,
) -> Vec<String> {
    let mut broken = Vec::new();
    if let Some((_, t)) = pages.iter().find(|(_, t)| t.x.status != Some(200)) {
        broken.push(format!(
            "Product pages and /health must keep answering 200 whatever pricing does: {t}"
        ));
    }
    let late: Vec<&Timed> = pages
        .iter()
        .map(|(_, t)| t)
        .filter(|t| t.x.status == Some(200) && t.took > PAGE_STANDING_LIMIT)
        .collect();
    if late.len() >= LATE_PAGES {
        broken.push(format!(
            "Product pages and /health must answer within {} ms whatever pricing does ({} ms allowed here); {} of {} were later, e.g. {}",
            PAGE_BUDGET.as_millis(),
            PAGE_STANDING_LIMIT.as_millis(),
            late.len(),
            pages.len(),
            late[0]
        ));
    }
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    let probes: Vec<&Timed> = pages
        .iter()
        .filter(|(path, _)| path == "/health")
        .map(|(_, t)| t)
        .collect();
    let asked = probes
        .iter()
        .filter(|t| {
            let (from, until) = (ms(t.sent), ms(t.sent) + t.took.as_millis() + 1);
            calls
                .iter()
                .any(|c| !c.is_price() && c.at_ms + 1 >= from && c.at_ms <= until)
        })
        .count();
    if probes.len() >= 3 && asked * 2 > probes.len() {
        broken.push(format!(
            "GET /health must not depend on pricing: {asked} of {} probes each called pricing's /health while they were answered",
            probes.len()
        ));
    }
    broken
}

impl Drop for QuoteWorld {
    /// Holds every quote and page this world's clients sent to the standing
    /// requirements, whatever the check was about: a world that sent none has nothing
    /// to judge.
    fn drop(&mut self) {
        crate::checks::journal::blocking(|| {
            let quotes = std::mem::take(
                &mut *self
                    .quotes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            let pages = std::mem::take(
                &mut *self
                    .pages
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            let started = self.pricing.started();
            let pauses = self.journal.timeline().pauses();
            if !pages.is_empty() {
                let broken = pages_down(&unpaused(pages, &pauses), &self.pricing.calls(), started);
                self.journal.judged(PAGES_UP, broken);
            }
            if quotes.is_empty() {
                return;
            }
            let calls = self.pricing.price_calls();
            let broken = quotes
                .iter()
                .filter_map(|(sku, qty, t)| dishonest(t, sku, *qty, &calls, started))
                .collect();
            self.journal.judged(HONEST_PRICE, broken);
            let broken = quotes
                .iter()
                .filter_map(|(_, _, t)| unanswered(&t.as_served(&pauses)?))
                .collect();
            self.journal.judged(ANSWERED_IN_TIME, broken);
            let unhealthy = unhealthy_or_paused(&self.pricing, &pauses);
            let broken = quotes
                .iter()
                .filter_map(|(_, _, t)| unrecovered(t, &unhealthy, started))
                .collect();
            self.journal.judged(RECOVERS, broken);
            let outages = self.pricing.outages();
            let mut broken = piling_on(&calls, &outages);
            broken.extend(overlong_cool_down(&quotes, &calls, started, &pauses));
            broken.extend(probes_flood(&quotes, &calls, &outages, started, &pauses));
            broken.extend(short_cool_downs(
                &quotes, &calls, &outages, started, &pauses,
            ));
            self.journal.judged(STOPS_CALLING, broken);
        });
    }
}

/// Unit prices listed one by one up to this many; beyond it, how many and the first.
const PRICES_LISTED: usize = 6;

/// The unit prices pricing served while a quote was in flight, for a broken-rule line:
/// all of them when few, else how many, the first few and whether the quote's own unit
/// price (`unit`) is among them — the fact the list would have shown.
fn prices_in_brief(served: &[i64], unit: Option<i64>) -> String {
    if served.len() <= PRICES_LISTED {
        return format!("{served:?}");
    }
    let first: Vec<String> = served[..PRICES_LISTED].iter().map(i64::to_string).collect();
    let among = match unit {
        Some(u) if served.contains(&u) => format!("; {u} is among them"),
        Some(u) => format!("; {u} is not among them"),
        None => String::new(),
    };
    format!(
        "{} prices, the first {}, …{among}",
        served.len(),
        first.join(", ")
    )
}

/// Judges a product page or health probe during an incident: 200 within the limit,
/// timed as the service served it across the harness's `pauses`.
pub fn judge_page(t: &Timed, pauses: &[Pause]) -> Vec<String> {
    let Some(t) = &t.as_served(pauses) else {
        return Vec::new();
    };
    if t.x.status == Some(200) && t.took <= PAGE_LIMIT {
        Vec::new()
    } else {
        vec![format!(
            "While pricing misbehaves, product pages and /health must answer 200 within {} ms ({} ms allowed here): {t}",
            PAGE_BUDGET.as_millis(),
            PAGE_LIMIT.as_millis()
        )]
    }
}

fn write_products(db: &std::path::Path, skus: &[String]) -> rusqlite::Result<()> {
    let mut conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    for (i, sku) in skus.iter().enumerate() {
        tx.execute(
            "INSERT INTO products (sku, name, description, updated_at)
             VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            params![
                sku,
                format!("Harness product {}", i + 1),
                "Written by the catalogue system."
            ],
        )?;
    }
    tx.commit()
}

/// The standing judge on synthetic call logs: a price is honest only when pricing
/// served it, for that SKU and quantity, while the quote was in flight.
#[cfg(test)]
mod standing_tests {
    use super::*;
    use crate::fakes::{PricingCall, PricingFault};

    fn call(at_ms: u128, ended_ms: u128, qty: u32, price: i64) -> PricingCall {
        PricingCall {
            at_ms,
            path: "/v1/prices/SKU-1".to_owned(),
            sku: Some("SKU-1".to_owned()),
            qty: Some(qty),
            fault: None,
            status: Some(200),
            ended_ms: Some(ended_ms),
            served_price: Some(price),
        }
    }

    /// A quote sent 100 ms after pricing started that took 50 ms, answered `unit`.
    fn quote(started: Instant, unit: i64, qty: i64) -> Timed {
        Timed {
            x: Exchange {
                request_line: "GET /quotes/SKU-1?qty=2".to_owned(),
                shown_headers: Vec::new(),
                body_sent: None,
                status: Some(200),
                body: Some(serde_json::json!({
                    "sku": "SKU-1", "qty": qty, "unit_price": unit,
                    "total": unit * qty, "currency": "EUR"
                })),
                raw_body: None,
                json_content_type: true,
                error: None,
                body_cut: false,
            },
            took: Duration::from_millis(50),
            sent: started + Duration::from_millis(100),
        }
    }

    #[test]
    fn a_price_served_during_the_request_is_honest() {
        let started = Instant::now();
        let calls = [call(110, 130, 2, 1234)];
        assert_eq!(
            dishonest(&quote(started, 1234, 2), "SKU-1", 2, &calls, started),
            None
        );
    }

    #[test]
    fn a_price_whose_call_was_noted_ended_after_the_answer_is_honest() {
        let started = Instant::now();
        // Begun 10 ms into the request, its end noted 20 ms after the answer came.
        let calls = [call(110, 170, 2, 1234)];
        assert_eq!(
            dishonest(&quote(started, 1234, 2), "SKU-1", 2, &calls, started),
            None
        );
        // Begun after the answer: a price the service cannot have had.
        let later = [call(160, 170, 2, 1234)];
        assert!(dishonest(&quote(started, 1234, 2), "SKU-1", 2, &later, started).is_some());
    }

    #[test]
    fn a_cached_a_made_up_or_another_quantitys_price_is_not() {
        let started = Instant::now();
        // Served before this request began: a remembered price.
        let earlier = [call(10, 20, 2, 1234)];
        assert!(dishonest(&quote(started, 1234, 2), "SKU-1", 2, &earlier, started).is_some());
        // Served for another quantity.
        let other = [call(110, 130, 3, 1234)];
        assert!(dishonest(&quote(started, 1234, 2), "SKU-1", 2, &other, started).is_some());
        // Never served at all.
        let served = [call(110, 130, 2, 1234)];
        assert!(dishonest(&quote(started, 999, 2), "SKU-1", 2, &served, started).is_some());
    }

    #[test]
    fn a_price_called_for_after_a_pause_of_the_harness_is_honest() {
        let started = Instant::now();
        // Sent at 100 ms and answered at 400 ms; the harness was paused from 120 to
        // 370 ms, so the service is charged with 50 ms. Its call to pricing began after
        // the pause, at 380 ms: inside the exchange, though later than sent + 50 ms.
        let mut t = quote(started, 1234, 2);
        t.took = Duration::from_millis(300);
        let pauses = [Pause {
            from: started + Duration::from_millis(120),
            until: started + Duration::from_millis(370),
        }];
        let calls = [call(380, 390, 2, 1234)];
        assert_eq!(
            judge_quote_in(&t, "SKU-1", 2, &calls, started, &pauses),
            Vec::<String>::new()
        );
        // A price served before the quote was sent is still a remembered one.
        let earlier = [call(60, 70, 2, 1234)];
        assert_eq!(
            judge_quote_in(&t, "SKU-1", 2, &earlier, started, &pauses).len(),
            1
        );
    }

    /// `quote` answered `status` with `body` after `took_ms`.
    fn answered(status: Option<u16>, body: Option<serde_json::Value>, took_ms: u64) -> Timed {
        let mut t = quote(Instant::now(), 1234, 2);
        t.x.status = status;
        t.x.json_content_type = body.is_some();
        t.x.body = body;
        t.took = Duration::from_millis(took_ms);
        t
    }

    #[test]
    fn a_price_or_a_json_error_in_time_is_an_answer() {
        let error =
            || Some(serde_json::json!({"error": {"code": "pricing_unavailable", "message": "x"}}));
        assert_eq!(unanswered(&quote(Instant::now(), 1234, 2)), None);
        for status in [400, 404, 502, 503, 504] {
            assert_eq!(
                unanswered(&answered(Some(status), error(), 1_900)),
                None,
                "{status}"
            );
        }
        // Late by less than the loaded machine's second: budget-as-stated judges it.
        assert_eq!(unanswered(&answered(Some(504), error(), 2_900)), None);
    }

    #[test]
    fn a_hang_a_drop_a_late_answer_or_another_status_is_not() {
        let error = || Some(serde_json::json!({"error": {"code": "x", "message": "x"}}));
        let mut no_answer = answered(None, None, 4_000);
        no_answer.x.error = Some("timed out after 4.0s".to_owned());
        assert!(unanswered(&no_answer).is_some_and(|b| b.contains("never left to hang")));
        // A dropped connection, however long it took.
        let mut dropped = answered(None, None, 9_000);
        dropped.x.error = Some("connection closed before message completed".to_owned());
        assert!(unanswered(&dropped).is_some());
        // The harness's own 4 s give-up firing 6 s late: a starved harness, no verdict.
        let mut starved = answered(None, None, 10_000);
        starved.x.error = Some("timed out after 4.0s".to_owned());
        assert_eq!(unanswered(&starved), None);
        assert!(unanswered(&answered(Some(504), error(), 3_100)).is_some());
        assert!(unanswered(&answered(Some(500), error(), 100)).is_some());
        assert!(unanswered(&answered(Some(429), error(), 100)).is_some());
        // A 503 with an HTML page is not the contract's JSON error.
        assert!(unanswered(&answered(Some(503), None, 100)).is_some());
    }

    /// A quote sent `sent_ms` after pricing started, answered `status` after 100 ms.
    fn failed_at(started: Instant, sent_ms: u64, status: u16) -> Timed {
        let mut t = quote(started, 1234, 2);
        t.x.status = Some(status);
        t.sent = started + Duration::from_millis(sent_ms);
        t.took = Duration::from_millis(100);
        t
    }

    fn stretch(from_ms: u128, until_ms: u128) -> crate::fakes::Unhealthy {
        crate::fakes::Unhealthy { from_ms, until_ms }
    }

    #[test]
    fn a_failed_quote_within_the_recovery_budget_is_allowed() {
        let started = Instant::now();
        // Pricing failed until 5 s; quotes fail until 15.9 s: within 10 s + the margin.
        let outage = [stretch(1_000, 5_000)];
        for sent in [5_500, 9_000, 15_900] {
            assert_eq!(
                unrecovered(&failed_at(started, sent, 503), &outage, started),
                None,
                "{sent}"
            );
        }
        // Pricing failing again during the quote excuses it, however long ago the outage.
        let again = [stretch(1_000, 5_000), stretch(30_050, 30_060)];
        assert_eq!(
            unrecovered(&failed_at(started, 30_000, 504), &again, started),
            None
        );
        // A price, a 404 or a hang is for the other judges.
        let mut hung = failed_at(started, 30_000, 503);
        hung.x.status = None;
        assert_eq!(unrecovered(&hung, &outage, started), None);
        for status in [200, 404] {
            assert_eq!(
                unrecovered(&failed_at(started, 30_000, status), &outage, started),
                None
            );
        }
    }

    #[test]
    fn a_pause_counts_as_pricing_failing_only_where_it_met_a_call() {
        let started = Instant::now();
        let pause = Pause {
            from: started + Duration::from_millis(1_000),
            until: started + Duration::from_millis(1_400),
        };
        // No call near the pause: it failed nothing the service saw.
        let far = [call(100, 130, 2, 1234), call(5_000, 5_020, 2, 1235)];
        assert!(paused_calls(&far, &[pause], started).is_empty());
        // A call in flight across it, or one the fake accepted just after it.
        for near in [call(900, 1_500, 2, 1234), call(1_600, 1_620, 2, 1234)] {
            let met = paused_calls(std::slice::from_ref(&near), &[pause], started);
            assert_eq!(met.len(), 1, "{near:?}");
            assert_eq!((met[0].from_ms, met[0].until_ms), (1_000, 1_400));
        }
        // A call the fake never finished (a hang) that began before the pause.
        let mut hung = call(800, 0, 2, 1234);
        hung.ended_ms = None;
        assert_eq!(paused_calls(&[hung], &[pause], started).len(), 1);
    }

    #[test]
    fn a_failed_quote_long_after_pricing_healed_or_with_pricing_never_failing_is_broken() {
        let started = Instant::now();
        let outage = [stretch(1_000, 5_000)];
        let late = unrecovered(&failed_at(started, 16_100, 503), &outage, started);
        assert!(
            late.as_deref()
                .is_some_and(|b| b.contains("healthy for 11.1 s")),
            "{late:?}"
        );
        // Never failed: a breaker opened by something other than pricing failing.
        let never = unrecovered(&failed_at(started, 300, 503), &[], started);
        assert!(
            never
                .as_deref()
                .is_some_and(|b| b.contains("not failed once")),
            "{never:?}"
        );
        // An outage that began after the quote was answered does not excuse it.
        let later = [stretch(1_000, 5_000), stretch(40_000, 41_000)];
        assert!(unrecovered(&failed_at(started, 20_000, 502), &later, started).is_some());
    }

    /// A price call at `at_ms` met by `fault`, done 50 ms later.
    fn met(at_ms: u128, fault: Option<PricingFault>) -> PricingCall {
        PricingCall {
            at_ms,
            path: "/v1/prices/SKU-1".to_owned(),
            sku: Some("SKU-1".to_owned()),
            qty: Some(1),
            fault,
            status: None,
            ended_ms: Some(at_ms + 50),
            served_price: None,
        }
    }

    /// Quotes failed with 503 every 500 ms from `from_ms` to `until_ms`.
    fn failing_quotes(started: Instant, from_ms: u64, until_ms: u64) -> Vec<(String, u32, Timed)> {
        (from_ms..until_ms)
            .step_by(500)
            .map(|at| ("SKU-1".to_owned(), 1, failed_at(started, at, 503)))
            .collect()
    }

    #[test]
    fn probes_within_the_cool_down_budget_pass() {
        let started = Instant::now();
        let fault = Some(PricingFault::Status(503));
        // Five failures, then a probe every 3 s (the last 4.9 s after the one before).
        let mut calls: Vec<PricingCall> = (0..5).map(|i| met(1_000 + i * 20, fault)).collect();
        calls.extend([4_100, 7_100, 12_000].map(|at| met(at, fault)));
        let quotes = failing_quotes(started, 1_200, 16_000);
        assert!(overlong_cool_down(&quotes, &calls, started, &[]).is_empty());
        // No call at all, or a call in flight, leaves nothing to judge.
        assert!(overlong_cool_down(&quotes, &[], started, &[]).is_empty());
        let mut held = met(1_000, None);
        held.ended_ms = None;
        assert!(overlong_cool_down(&quotes, &[held], started, &[]).is_empty());
        // A 429 may ask for a longer pause than the cool-down (the fake records its
        // answer's status).
        let mut limited = met(
            1_000,
            Some(PricingFault::RateLimited {
                retry_after_secs: Some(30),
            }),
        );
        limited.status = Some(429);
        assert!(overlong_cool_down(&quotes, &[limited], started, &[]).is_empty());
        // A 503 answered is pricing failing: the same gap after it is judged.
        let mut failed = met(1_000, fault);
        failed.status = Some(503);
        assert_eq!(
            overlong_cool_down(&quotes, &[failed], started, &[]).len(),
            1
        );
        // A quote whose own call began while it was in flight is not failed fast.
        let own = [met(1_000, fault), met(9_020, fault)];
        let one = vec![("SKU-1".to_owned(), 1, failed_at(started, 9_000, 503))];
        assert!(overlong_cool_down(&one, &own, started, &[]).is_empty());
    }

    #[test]
    fn a_cool_down_longer_than_the_budget_is_broken() {
        let started = Instant::now();
        let fault = Some(PricingFault::Hang);
        // A cool-down that doubles: probes 1, 2, 4 and 8 s apart.
        let mut calls: Vec<PricingCall> = (0..5).map(|i| met(1_000 + i * 20, fault)).collect();
        calls.extend([2_100, 4_100, 8_100, 16_100].map(|at| met(at, fault)));
        let quotes = failing_quotes(started, 1_200, 16_000);
        let broken = overlong_cool_down(&quotes, &calls, started, &[]);
        assert_eq!(broken.len(), 1, "{broken:?}");
        // Quotes sent from 14.2 s to 15.7 s came more than 6 s after the call ended at 8.15 s.
        assert!(broken[0].contains("4 quote(s)"), "{broken:?}");
        assert!(broken[0].contains("first 6050 ms after"), "{broken:?}");
    }

    /// A hanging call for SKU-1 from `at_ms`, given up by the service after `hang_ms`.
    fn hung(at_ms: u128, hang_ms: u128) -> PricingCall {
        let mut c = met(at_ms, Some(PricingFault::Hang));
        c.ended_ms = Some(at_ms + hang_ms);
        c
    }

    /// A breaker that, after a cool-down, lets one probe through at a time passes; one
    /// that lets every quote through while the probe hangs does not; before the service
    /// has shown its breaker open, calls side by side are not judged.
    #[test]
    fn a_probe_is_one_call_at_a_time() {
        let started = Instant::now();
        let outage = [stretch(0, 20_000)];
        // Quotes every 500 ms from 0 to 20 s, refused while no call is made.
        let quotes = failing_quotes(started, 0, 20_000);
        // Five calls side by side as the outage begins (the breaker still closed), then a
        // 2 s cool-down and one probe at a time, each hanging 1 s.
        let mut calls: Vec<PricingCall> = (0..5).map(|i| hung(i * 100, 1_000)).collect();
        for probe in [3_400, 6_400, 9_400, 12_400] {
            calls.push(hung(probe, 1_000));
        }
        assert!(probes_flood(&quotes, &calls, &outage, started, &[]).is_empty());
        // The same, but the half-open breaker lets the quotes of the probe's second
        // through: calls at 6.5 s and 6.8 s begin while the 6.4 s probe hangs.
        calls.push(hung(6_500, 1_000));
        calls.push(hung(6_800, 1_000));
        let broken = probes_flood(&quotes, &calls, &outage, started, &[]);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(
            broken[0].contains("2 more call(s) began while the call of 6.4 s"),
            "{broken:?}"
        );
        // A pause of the harness over the overlap leaves it unjudged.
        let pause = Pause {
            from: started + Duration::from_millis(6_300),
            until: started + Duration::from_millis(8_000),
        };
        assert!(probes_flood(&quotes, &calls, &outage, started, &[pause]).is_empty());
        // With no stretch in which the service refused quotes without calling (a call
        // every 500 ms throughout), nothing shows a breaker open: not judged.
        let busy: Vec<PricingCall> = (0..40).map(|i| hung(i * 500, 700)).collect();
        assert!(probes_flood(&quotes, &busy, &outage, started, &[]).is_empty());
    }

    /// A 503 answered at once for SKU-1 from `at_ms`.
    fn refused_by_pricing(at_ms: u128) -> PricingCall {
        let mut c = met(at_ms, Some(PricingFault::Status(503)));
        c.status = Some(503);
        c.ended_ms = Some(at_ms + 5);
        c
    }

    /// Once the breaker has shown open, probes 1 s or more apart pass; one that comes
    /// 800 ms after the failed probe before it is a cool-down under the brief's 1 s,
    /// unless a pause of the harness may have logged the first one late.
    #[test]
    fn a_cool_down_shorter_than_a_second_is_broken() {
        let started = Instant::now();
        let outage = [stretch(0, 20_000)];
        let quotes = failing_quotes(started, 0, 20_000);
        // Five failed calls as the outage begins (the last two begun at the moment the
        // one before was answered, and answered at once), then probes after cool-downs
        // of 2 s, 1 s (to the millisecond, counted from the probe's start) and 3 s.
        let mut calls: Vec<PricingCall> = (0..3).map(|i| refused_by_pricing(i * 100)).collect();
        for at in [300, 300] {
            let mut c = refused_by_pricing(at);
            c.ended_ms = Some(300);
            calls.push(c);
        }
        for probe in [2_400, 3_400, 6_400, 9_400] {
            calls.push(refused_by_pricing(probe));
        }
        assert!(short_cool_downs(&quotes, &calls, &outage, started, &[]).is_empty());
        // A jittered cool-down that came out at 800 ms.
        calls.push(refused_by_pricing(10_200));
        let broken = short_cool_downs(&quotes, &calls, &outage, started, &[]);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(
            broken[0].contains(
                "1 of the 4 gaps between probes judged were shorter, the shortest 800 ms"
            ),
            "{broken:?}"
        );
        // The harness paused just before the 9.4 s probe: it may have been logged late.
        let pause = Pause {
            from: started + Duration::from_millis(8_800),
            until: started + Duration::from_millis(9_300),
        };
        assert!(short_cool_downs(&quotes, &calls, &outage, started, &[pause]).is_empty());
        // Calls before the breaker showed open are not cool-downs: 100 ms apart is fine.
        let closed: Vec<PricingCall> = (0..40).map(|i| refused_by_pricing(i * 500)).collect();
        assert!(short_cool_downs(&quotes, &closed, &outage, started, &[]).is_empty());
    }

    /// The harness paused from 9 s to 11 s (its fake logged nothing then): the gap after
    /// the call at 8.1 s is counted from 11 s, so only quotes from 17 s on are judged.
    #[test]
    fn a_gap_is_counted_from_the_harness_resuming() {
        let started = Instant::now();
        let fault = Some(PricingFault::Hang);
        let mut calls: Vec<PricingCall> = (0..5).map(|i| met(1_000 + i * 20, fault)).collect();
        calls.extend([2_100, 4_100, 8_100].map(|at| met(at, fault)));
        let pause = Pause {
            from: started + Duration::from_millis(9_000),
            until: started + Duration::from_millis(11_000),
        };
        let quotes = failing_quotes(started, 1_200, 16_900);
        assert!(overlong_cool_down(&quotes, &calls, started, &[pause]).is_empty());
        // Without the pause the same history is broken; with it, a longer one still is.
        assert_eq!(overlong_cool_down(&quotes, &calls, started, &[]).len(), 1);
        let longer = failing_quotes(started, 1_200, 18_000);
        let broken = overlong_cool_down(&longer, &calls, started, &[pause]);
        assert_eq!(broken.len(), 1, "{broken:?}");
        // 17.2 s and 17.7 s: more than 6 s after 11 s; the gap shown is from the call.
        assert!(broken[0].contains("2 quote(s)"), "{broken:?}");
        assert!(broken[0].contains("first 9050 ms after"), "{broken:?}");
    }

    /// 60 failed calls 10 ms apart from 1 s (the 60th ends at 1.64 s, the drain ends at
    /// 4.14 s), then one call every `every_ms` until 10 s, all met by `fault`.
    fn outage_with_calls_every(every_ms: u128, fault: PricingFault) -> Vec<PricingCall> {
        let mut calls: Vec<PricingCall> =
            (0..60).map(|i| met(1_000 + i * 10, Some(fault))).collect();
        let mut at = 1_600 + every_ms;
        while at < 10_000 {
            calls.push(met(at, Some(fault)));
            at += every_ms;
        }
        calls
    }

    #[test]
    fn probes_after_cool_downs_are_not_piling_on() {
        let outage = [stretch(1_000, 10_000)];
        let hang = PricingFault::Hang;
        // A probe a second, or six a second for five SKUs' breakers at most.
        assert!(piling_on(&outage_with_calls_every(1_000, hang), &outage).is_empty());
        assert!(piling_on(&outage_with_calls_every(200, hang), &outage).is_empty());
        // Fewer than 60 failed calls: pricing has not kept failing by every reading.
        let few: Vec<PricingCall> = (0..59).map(|i| met(1_000 + i * 10, Some(hang))).collect();
        assert!(piling_on(&few, &outage).is_empty());
        // An outage too short after the drain to judge a rate.
        assert!(piling_on(&outage_with_calls_every(50, hang), &[stretch(1_000, 5_000)]).is_empty());
    }

    #[test]
    fn calling_on_at_the_pace_of_the_quotes_is_piling_on() {
        let outage = [stretch(1_000, 10_000)];
        let broken = piling_on(
            &outage_with_calls_every(100, PricingFault::Status(503)),
            &outage,
        );
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].contains("58 calls (9.9 a second"), "{broken:?}");
        // Two outages, each judged on its own calls.
        let mut calls = outage_with_calls_every(100, PricingFault::SlowBody);
        calls.extend(
            outage_with_calls_every(1_000, PricingFault::SlowBody)
                .into_iter()
                .map(|mut c| {
                    c.at_ms += 20_000;
                    c.ended_ms = c.ended_ms.map(|e| e + 20_000);
                    c
                }),
        );
        let two = [stretch(1_000, 10_000), stretch(21_000, 30_000)];
        assert_eq!(piling_on(&calls, &two).len(), 1);
    }

    /// A page `path` sent `sent_ms` after pricing started, answered `status` after
    /// `took_ms`.
    fn page(
        started: Instant,
        path: &str,
        sent_ms: u64,
        status: u16,
        took_ms: u64,
    ) -> (String, Timed) {
        let mut t = failed_at(started, sent_ms, status);
        t.took = Duration::from_millis(took_ms);
        (path.to_owned(), t)
    }

    /// Three health probes and three product pages, in turn every 250 ms from 0 ms,
    /// each answered 200 in 20 ms.
    fn six_pages(started: Instant) -> Vec<(String, Timed)> {
        (0..6)
            .map(|i| {
                let path = if i % 2 == 0 {
                    "/health"
                } else {
                    "/products/SKU-1"
                };
                page(started, path, i * 250, 200, 20)
            })
            .collect()
    }

    /// A call to pricing's `/health` at `at_ms`.
    fn health_call(at_ms: u128) -> PricingCall {
        PricingCall {
            path: "/health".to_owned(),
            sku: None,
            qty: None,
            ..met(at_ms, None)
        }
    }

    #[test]
    fn pages_answered_fast_without_asking_pricing_are_up() {
        let started = Instant::now();
        let pages = six_pages(started);
        // One late page (a starved harness), and a poller's call to pricing's /health
        // during one probe of three.
        let mut one_late = pages.clone();
        one_late[1].1.took = Duration::from_millis(1_500);
        assert!(pages_down(&one_late, &[health_call(505)], started).is_empty());
    }

    #[test]
    fn an_error_late_pages_or_a_health_that_asks_pricing_are_down() {
        let started = Instant::now();
        let pages = six_pages(started);
        let mut error = pages.clone();
        error[0].1.x.status = Some(503);
        assert_eq!(pages_down(&error, &[], started).len(), 1);
        let mut late = pages.clone();
        late[1].1.took = Duration::from_millis(1_500);
        late[3].1.took = Duration::from_millis(2_000);
        let broken = pages_down(&late, &[], started);
        assert!(
            broken.len() == 1 && broken[0].contains("2 of 6"),
            "{broken:?}"
        );
        // Two of three probes each called pricing's /health.
        let broken = pages_down(&pages, &[health_call(5), health_call(505)], started);
        assert!(
            broken.len() == 1 && broken[0].contains("2 of 3"),
            "{broken:?}"
        );
    }
}
