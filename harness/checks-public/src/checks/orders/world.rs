//! `OrdersWorld`: an orders service on a fresh database with a stats file, plus the
//! helpers checks speak in: write a dataset, fetch a page, walk every page, read what
//! SQL a request ran — from the kit's records only once every line of them checks out
//! (`Accounts`): a MAC under a key this world gave the kit, one record per request in
//! the kit's sequence, no tampering the kit noticed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;
use serde_json::Value;

use crate::checks::http::{Exchange, send};
use crate::checks::orders::dataset::{Dataset, contract_view, expected_orders};
use crate::checks::{CheckEnv, Evidence, Problem};
use crate::seed::SeedRng;
use crate::service::{RunningService, ServiceSpec};

/// Most bytes of a stats file read: thousands of requests' records fit many times over.
const STATS_CAP: u64 = 64 << 20;

/// The kit's canary route (a known three statements), used to close the accounting.
const CANARY_PATH: &str = "/__kit/canary";

/// One statement a request ran, as the kit recorded it.
#[derive(Debug, Clone, Deserialize)]
pub struct StatementStats {
    pub sql: String,
    pub fullscan_steps: i64,
    pub vm_steps: i64,
}

/// What one request did to the database: every statement the service's process ran
/// from the moment the kit saw the request until it saw the harness's next one.
#[derive(Debug, Clone)]
pub struct RequestStats {
    pub statements: u64,
    pub detail: Vec<StatementStats>,
}

/// One line of the stats file, as the kit writes it (see the kit's `accounting`).
#[derive(Debug, Clone, Deserialize)]
struct Record {
    seq: u64,
    pid: u64,
    request_id: Option<String>,
    stmt_start: u64,
    stmt_end: u64,
    detail: Vec<StatementStats>,
    background: Vec<StatementStats>,
    tampered: Vec<String>,
}

/// The kit's records of one service process, every line checked: written by the kit
/// (its MAC under this world's key), in sequence, one per request, and the kit not
/// reporting tampering. Counts come from nothing else.
pub struct Accounts {
    records: Vec<Record>,
    /// The request ids the harness sent, in order.
    sent: Vec<String>,
}

impl Accounts {
    /// Checks the stats file's `text` against `key`; `Err` says why no count from it can
    /// be trusted.
    fn verify(text: &str, key: &[u64; 4], sent: Vec<String>) -> Result<Accounts, String> {
        let mut records = Vec::new();
        let mut forged = None;
        for (n, line) in text.lines().enumerate() {
            match verify_line(line, key) {
                Ok(record) => records.push(record),
                Err(why) => {
                    forged.get_or_insert(format!(
                        "line {} of the stats file was not written by the kit: {why}",
                        n + 1
                    ));
                }
            }
        }
        // What the kit itself noticed is the most precise account of what happened.
        if let Some(r) = records.iter().find(|r| !r.tampered.is_empty()) {
            return Err(format!("the kit reports: {}", r.tampered.join("; ")));
        }
        if let Some(why) = forged {
            return Err(why);
        }
        let mut last: Vec<(u64, u64)> = Vec::new();
        for r in &records {
            let expected = match last.iter_mut().find(|(pid, _)| *pid == r.pid) {
                Some((_, seq)) => {
                    *seq += 1;
                    *seq
                }
                None => {
                    last.push((r.pid, 1));
                    1
                }
            };
            if r.seq != expected {
                return Err(format!(
                    "the kit's record {} stands where record {expected} should: records were removed or reordered",
                    r.seq
                ));
            }
        }
        for id in &sent {
            let n = records
                .iter()
                .filter(|r| r.request_id.as_deref() == Some(id))
                .count();
            if n > 1 {
                return Err(format!("{n} records for one request ({id})"));
            }
        }
        Ok(Accounts { records, sent })
    }

    /// What request `id` cost: every statement the process started from the moment
    /// the kit saw it until the kit saw the harness's next request (so work left
    /// running after the response is counted too), with the detail of those that
    /// finished meanwhile.
    pub fn of(&self, id: &str) -> Result<RequestStats, String> {
        let position = |id: &str| {
            self.records
                .iter()
                .position(|r| r.request_id.as_deref() == Some(id))
                .ok_or_else(|| {
                    format!("the kit has no record of a request the harness sent ({id}): the kit's accounting was bypassed")
                })
        };
        let at = position(id)?;
        let this = &self.records[at];
        let mut detail = this.detail.clone();
        let next = self
            .sent
            .iter()
            .skip_while(|s| *s != id)
            .nth(1)
            .map(|next| position(next))
            .transpose()?;
        let Some(next) = next else {
            return Ok(RequestStats {
                statements: this.stmt_end - this.stmt_start,
                detail,
            });
        };
        if next <= at || self.records[next].pid != this.pid {
            return Err(format!(
                "the kit's records of requests {id} and its successor are out of order"
            ));
        }
        for (k, r) in self.records.iter().enumerate().take(next + 1).skip(at + 1) {
            detail.extend(r.background.iter().cloned());
            if k < next {
                detail.extend(r.detail.iter().cloned());
            }
        }
        Ok(RequestStats {
            statements: self.records[next]
                .stmt_start
                .saturating_sub(this.stmt_start),
            detail,
        })
    }
}

/// A stats line whose MAC is the kit's under `key`, parsed.
fn verify_line(line: &str, key: &[u64; 4]) -> Result<Record, &'static str> {
    const FIELD: &str = ",\"mac\":\"";
    let at = line.rfind(FIELD).ok_or("it carries no MAC")?;
    let claimed = line[at + FIELD.len()..]
        .strip_suffix("\"}")
        .ok_or("it carries no MAC")?;
    if claimed != mac(&format!("{}}}", &line[..at]), key) {
        return Err("its MAC does not match");
    }
    serde_json::from_str(line).map_err(|_| "it is not a kit record")
}

/// The kit's MAC of a line's text: two SipHash-2-4 tags, as 32 hex digits.
fn mac(text: &str, key: &[u64; 4]) -> String {
    #[allow(deprecated)] // SipHash-2-4 exactly, keyed; the replacement is not keyable.
    let tag = |k0: u64, k1: u64| {
        use std::hash::Hasher;
        let mut h = std::hash::SipHasher::new_with_keys(k0, k1);
        h.write(text.as_bytes());
        h.finish()
    };
    format!("{:016x}{:016x}", tag(key[0], key[1]), tag(key[2], key[3]))
}

/// A fresh key for one service process, from the OS (not from the seed: a candidate
/// can know the seed, and the key decides nothing about the verdict).
fn fresh_key() -> std::io::Result<[u64; 4]> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let mut key = [0u64; 4];
    for (word, chunk) in key.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(chunk);
        *word = u64::from_le_bytes(eight);
    }
    Ok(key)
}

/// A page fetched from the list endpoint, with the id the kit records it under.
pub struct Page {
    pub exchange: Exchange,
    pub request_id: String,
}

impl Page {
    /// The page's orders (empty when the body is not as the contract says).
    pub fn orders(&self) -> Vec<Value> {
        self.exchange
            .body
            .as_ref()
            .and_then(|b| b.get("orders"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// The `next_cursor`, if a string.
    pub fn next_cursor(&self) -> Option<String> {
        self.exchange
            .body
            .as_ref()?
            .get("next_cursor")?
            .as_str()
            .map(str::to_owned)
    }
}

/// An orders service and an HTTP client.
pub struct OrdersWorld {
    pub svc: RunningService,
    http: reqwest::Client,
    stats_path: PathBuf,
    key: [u64; 4],
    requests: AtomicU64,
    sent: Mutex<Vec<String>>,
    rng: SeedRng,
    next_id: i64,
    timeline: crate::checks::Timeline,
}

impl OrdersWorld {
    /// The check's timeline, for requests a check sends with its own client.
    pub fn timeline(&self) -> &crate::checks::Timeline {
        &self.timeline
    }

    /// Starts the service on a fresh database.
    pub async fn start(env: CheckEnv) -> Result<OrdersWorld, Problem> {
        let stats_path = env.workdir.join("stats.jsonl");
        let key =
            fresh_key().map_err(|e| Problem::Harness(format!("reading /dev/urandom: {e}")))?;
        let spec = ServiceSpec {
            binary: env.binary.clone(),
            db: env.workdir.join("orders.db"),
            downstreams: Vec::new(),
            // The key for the kit's stats-line MACs; the kit wipes it before `main`.
            env: vec![(
                "KIT_STATS_KEY".to_owned(),
                key.iter().map(|w| format!("{w:016x}")).collect(),
            )],
            log: env.workdir.join("service.log"),
            stats: Some(stats_path.clone()),
            policy: env.policy.clone(),
            timeline: env.journal.timeline().clone(),
        };
        let svc = RunningService::start(&spec).await.map_err(|e| {
            let mut ev = Evidence::new();
            ev.say(format!("The service did not start: {e}."));
            ev.say(format!(
                "Its log ends with:\n{}",
                crate::service::log_tail(&spec.log, 15)
            ));
            Problem::Service(ev)
        })?;
        Ok(OrdersWorld {
            svc,
            http: reqwest::Client::new(),
            stats_path,
            key,
            requests: AtomicU64::new(0),
            sent: Mutex::new(Vec::new()),
            rng: SeedRng::new(env.seed),
            next_id: 1_000 + (SeedRng::new(env.seed).below(1_000) as i64) * 1_000,
            timeline: env.journal.timeline().clone(),
        })
    }

    /// The check's seed-derived random source.
    pub fn rng(&mut self) -> &mut SeedRng {
        &mut self.rng
    }

    /// A fresh id for a customer or product, unique in this world.
    pub fn fresh_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Writes `data` into the service's database.
    pub fn write(&self, data: &Dataset) -> Result<(), Problem> {
        data.write(self.svc.db()).map_err(|e| {
            let mut ev = Evidence::new();
            ev.say(format!(
                "Could not write orders into the contract tables (customers, products, orders, order_lines): {e}"
            ));
            Problem::Service(ev)
        })
    }

    /// Renames a product directly in the database, as the back office does.
    /// Adds a line to `customer`'s latest order straight in the database, as checkout
    /// does when an order grows after it was first shown.
    pub fn add_line_in_db(
        &self,
        customer: i64,
        line: &crate::checks::orders::dataset::Line,
    ) -> Result<(), Problem> {
        let conn = rusqlite::Connection::open(self.svc.db())
            .map_err(|e| Problem::Harness(format!("opening the database: {e}")))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .and_then(|()| {
                conn.execute(
                    "INSERT INTO order_lines (order_id, product_id, quantity, unit_price)
                     VALUES ((SELECT max(id) FROM orders WHERE customer_id = ?1), ?2, ?3, ?4)",
                    rusqlite::params![customer, line.product_id, line.quantity, line.unit_price],
                )
            })
            .map(|_| ())
            .map_err(|e| {
                let mut ev = Evidence::new();
                ev.say(format!(
                    "Adding a line in the `order_lines` table failed: {e}"
                ));
                Problem::Service(ev)
            })
    }

    pub fn rename_in_db(&self, product: i64, name: &str) -> Result<(), Problem> {
        let conn = rusqlite::Connection::open(self.svc.db())
            .map_err(|e| Problem::Harness(format!("opening the database: {e}")))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .and_then(|()| {
                conn.execute(
                    "UPDATE products SET name = ?1 WHERE id = ?2",
                    rusqlite::params![name, product],
                )
            })
            .map_err(|e| {
                let mut ev = Evidence::new();
                ev.say(format!(
                    "Renaming a product in the `products` table failed: {e}"
                ));
                Problem::Service(ev)
            })?;
        Ok(())
    }

    /// What the harness computes the full answer to be for `customer`.
    pub fn expected(&self, customer: i64) -> Result<Vec<Value>, Problem> {
        expected_orders(self.svc.db(), customer)
            .map_err(|e| Problem::Harness(format!("reading the database: {e}")))
    }

    /// `GET /customers/{id}/orders` with optional limit and cursor.
    pub async fn page(&self, customer: i64, limit: Option<&str>, cursor: Option<&str>) -> Page {
        let mut query = Vec::new();
        if let Some(l) = limit {
            query.push(format!("limit={}", encode(l)));
        }
        if let Some(c) = cursor {
            query.push(format!("cursor={}", encode(c)));
        }
        let path = if query.is_empty() {
            format!("/customers/{customer}/orders")
        } else {
            format!("/customers/{customer}/orders?{}", query.join("&"))
        };
        self.get(&path).await
    }

    /// A GET request the kit records under a fresh id (see [`OrdersWorld::accounts`]).
    pub async fn get(&self, path: &str) -> Page {
        let id = format!("h{}", self.requests.fetch_add(1, Ordering::SeqCst));
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id.clone());
        let exchange = send(
            &self.timeline,
            &self.http,
            reqwest::Method::GET,
            &self.svc.url(),
            path,
            &[("x-kit-request-id", &id)],
            None,
        )
        .await;
        Page {
            exchange,
            request_id: id,
        }
    }

    /// `PUT /products/{id}` with a JSON body.
    pub async fn put_product(&self, id: i64, body: &Value) -> Exchange {
        send(
            &self.timeline,
            &self.http,
            reqwest::Method::PUT,
            &self.svc.url(),
            &format!("/products/{id}"),
            &[("content-type", "application/json")],
            Some(body.to_string()),
        )
        .await
    }

    /// The kit's checked records of every request so far. A last request (the kit's
    /// canary) closes the accounting of the one before it, so work still running after
    /// a response is counted against the request that left it. `Err` says why the
    /// accounting cannot be trusted.
    pub async fn accounts(&self) -> Result<Accounts, String> {
        let _fence = self.get(CANARY_PATH).await;
        let sent = self
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // The service can write its own directory: the stats file may have been
        // replaced by a link or a device, and is read only as a regular file.
        let text = crate::service::read_service_file(&self.stats_path, STATS_CAP)
            .map_err(|e| format!("the stats file cannot be read: {e}"))?;
        Accounts::verify(&text, &self.key, sent)
    }

    /// Follows `next_cursor` from the first page to the end with page size `limit`.
    /// Returns every page, or stops after `max_pages`.
    pub async fn walk(&self, customer: i64, limit: usize, max_pages: usize) -> Vec<Page> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        let limit = limit.to_string();
        while pages.len() < max_pages {
            let page = self.page(customer, Some(&limit), cursor.as_deref()).await;
            let next = page.next_cursor();
            let done =
                page.exchange.status != Some(200) || next.is_none() || page.orders().is_empty();
            pages.push(page);
            if done {
                break;
            }
            cursor = next;
        }
        pages
    }
}

/// Compares every page's orders, concatenated, with the expected list; returns the
/// broken invariants and adds a short story.
pub fn judge_walk(
    pages: &[Page],
    expected: &[Value],
    limit: usize,
    max_pages: usize,
    story: &mut Evidence,
) -> Vec<String> {
    let mut broken = Vec::new();
    let mut got = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        let orders = page.orders();
        story.say(format!(
            "page {}: {} → {} order(s), next_cursor {}",
            n + 1,
            page.exchange.request_line,
            orders.len(),
            page.next_cursor()
                .map_or("null".to_owned(), |c| format!("{c:?}"))
        ));
        if page.exchange.status != Some(200) {
            broken.push(format!("A page request failed: {}", page.exchange));
            return broken;
        }
        if orders.len() > limit {
            broken.push(format!(
                "Page {} has {} orders, more than limit={limit}.",
                n + 1,
                orders.len()
            ));
        }
        got.extend(orders.iter().map(contract_view));
    }
    if pages.len() >= max_pages && pages.last().is_some_and(|p| p.next_cursor().is_some()) {
        broken.push(format!("Pagination did not end after {max_pages} pages."));
    }
    let expected: Vec<Value> = expected.iter().map(contract_view).collect();
    if got != expected {
        let ids = |v: &[Value]| {
            v.iter()
                .map(|o| o["id"].to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        story.say(format!("expected order ids: [{}]", ids(&expected)));
        story.say(format!("returned order ids: [{}]", ids(&got)));
        match got.iter().zip(&expected).position(|(g, e)| g != e) {
            Some(i) => broken.push(format!(
                "Order #{} across the pages differs from the database. Expected {} — got {}",
                i + 1,
                clip(&expected[i].to_string()),
                clip(&got[i].to_string())
            )),
            None => broken.push(format!(
                "The pages hold {} orders in all; the customer has {}.",
                got.len(),
                expected.len()
            )),
        }
    }
    broken
}

fn clip(s: &str) -> String {
    if s.chars().count() > 400 {
        format!("{}…", s.chars().take(400).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
