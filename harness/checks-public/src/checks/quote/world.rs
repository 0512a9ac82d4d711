//! `QuoteWorld`: a quote service wired to a fake pricing service, the products the
//! harness wrote into its catalogue table, and timed requests.
//!
//! Timing is judged against the brief's budgets with a margin for a loaded machine
//! ([`QUOTE_LIMIT`], [`PAGE_LIMIT`]); the flaws these checks target make a request hang
//! for good, far beyond any margin, so the margins cost the checks nothing.

use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};

use crate::checks::http::{Exchange, send_within};
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
}

/// Every quote any client of a world sent, with its SKU, quantity and what came back.
type Quotes = std::sync::Arc<std::sync::Mutex<Vec<(String, u32, Timed)>>>;

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
}

/// A cloneable client bound to one service, for spawned requests.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    quotes: Quotes,
    timeline: crate::checks::Timeline,
}

impl Client {
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
/// error. Returns each broken rule.
pub fn judge_quote(t: &Timed, sku: &str, qty: u32, pricing: &PricingService) -> Vec<String> {
    let mut broken = Vec::new();
    if t.took > QUOTE_LIMIT || t.x.status.is_none() {
        broken.push(format!(
            "A quote must be answered within {} s (the storefront's timeout; {} s allowed here), with a price or a JSON error: {t}",
            QUOTE_BUDGET.as_secs(),
            QUOTE_LIMIT.as_secs_f64()
        ));
        return broken;
    }
    match t.x.status {
        Some(200) => broken.extend(dishonest(t, sku, qty, &pricing.price_calls(), pricing.started())),
        Some(502..=504) if t.x.is_json_error() => {}
        _ => broken.push(format!(
            "When pricing cannot price a quote, the answer must be 502, 503 or 504 with a JSON error: {t}"
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
/// Every standing requirement this world judges when its check ends.
pub const STANDING: &[&str] = &[HONEST_PRICE, ANSWERED_IN_TIME];

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
/// for that SKU and quantity while the request was in flight, with its total. Pure:
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
        .filter(|c| c.at_ms + 1 >= from && c.ended_ms.is_some_and(|e| e <= until))
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

impl Drop for QuoteWorld {
    /// Holds every quote this world's clients sent to the standing requirement,
    /// whatever the check was about: a world that sent none has nothing to judge.
    fn drop(&mut self) {
        crate::checks::journal::blocking(|| {
            let quotes = std::mem::take(
                &mut *self
                    .quotes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            if quotes.is_empty() {
                return;
            }
            let calls = self.pricing.price_calls();
            let started = self.pricing.started();
            let broken = quotes
                .iter()
                .filter_map(|(sku, qty, t)| dishonest(t, sku, *qty, &calls, started))
                .collect();
            self.journal.judged(HONEST_PRICE, broken);
            let broken = quotes
                .iter()
                .filter_map(|(_, _, t)| unanswered(t))
                .collect();
            self.journal.judged(ANSWERED_IN_TIME, broken);
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

/// Judges a product page or health probe during an incident: 200 within the limit.
pub fn judge_page(t: &Timed) -> Vec<String> {
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
    use crate::fakes::PricingCall;

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
}
