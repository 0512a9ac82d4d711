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

    /// The cursor a walk goes on with after this page: its `next_cursor`, when the page
    /// answered 200 with orders; `None` ends the walk.
    pub fn continues(&self) -> Option<String> {
        if self.exchange.status != Some(200) || self.orders().is_empty() {
            return None;
        }
        self.next_cursor()
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
    journal: crate::checks::Journal,
    /// How many times the harness has changed the database (a dataset, a line, a
    /// rename, a `PUT`): a page is judged against the database only if no change began
    /// between its request and its answer, and none since.
    generation: AtomicU64,
    /// Every GET this world sent, for the standing requirement.
    fetched: Mutex<Vec<Fetched>>,
}

/// A GET the world sent, with the database's generation when it left and came back.
struct Fetched {
    path: String,
    exchange: Exchange,
    sent: u64,
    received: u64,
}

/// "Responses do not change: same fields, values, ordering and status codes as above."
pub const RESPONSES_UNCHANGED: &str = "responses-unchanged";
/// Every standing requirement this world judges when its check ends.
pub const STANDING: &[&str] = &[RESPONSES_UNCHANGED];

/// The brief's default page size.
const DEFAULT_LIMIT: usize = 20;

/// The page a path asks for, when it is a listing the brief answers with a page:
/// `(customer, limit, whether it carries a cursor)`. `None` for other paths and for a
/// limit the brief refuses.
fn listing(path: &str) -> Option<(i64, usize, bool)> {
    let rest = path.strip_prefix("/customers/")?;
    let (id, query) = match rest.split_once('?') {
        Some((head, query)) => (head.strip_suffix("/orders")?, query),
        None => (rest.strip_suffix("/orders")?, ""),
    };
    let customer = id.parse().ok()?;
    let mut limit = DEFAULT_LIMIT;
    let mut cursor = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("limit", v)) => {
                limit = v.parse().ok().filter(|l| (1..=100).contains(l))?;
            }
            Some(("cursor", _)) => cursor = true,
            _ => return None,
        }
    }
    Some((customer, limit, cursor))
}

/// What is wrong with a page answered `200` for `customer` at `limit` (after a cursor
/// or not), against `expected`: the customer's whole list as the database holds it,
/// in the contract's order. The page must be the run of that list that starts where
/// its cursor left off (the top without one), `limit` long or up to the end, with a
/// `next_cursor` exactly when more follow. Pure: from the answer and the list.
pub fn page_differs(
    customer: i64,
    limit: usize,
    after_cursor: bool,
    body: &Value,
    expected: &[Value],
) -> Option<String> {
    if body.get("customer_id").and_then(Value::as_i64) != Some(customer) {
        return Some(format!(
            "A page of customer {customer}'s orders must say `customer_id` {customer}: {}",
            clip(&body.to_string())
        ));
    }
    let Some(orders) = body.get("orders").and_then(Value::as_array) else {
        return Some(format!(
            "A page must carry an `orders` array: {}",
            clip(&body.to_string())
        ));
    };
    let got: Vec<Value> = orders.iter().map(contract_view).collect();
    let want: Vec<Value> = expected.iter().map(contract_view).collect();
    let start = if !after_cursor {
        0
    } else {
        let Some(first) = got.first() else {
            return Some(format!(
                "A page reached through a `next_cursor` is never empty (a cursor is given only when more orders follow), for customer {customer}."
            ));
        };
        match want.iter().position(|o| o["id"] == first["id"]) {
            Some(i) => i,
            None => {
                return Some(format!(
                    "A page of customer {customer}'s orders begins with order {}, which is not one of theirs in the database.",
                    first["id"]
                ));
            }
        }
    };
    if let Some(i) = (0..got.len()).find(|&i| want.get(start + i) != Some(&got[i])) {
        return Some(match want.get(start + i) {
            Some(w) => format!(
                "Customer {customer}'s order #{} (newest first) differs from the database. Expected {} — got {}",
                start + i + 1,
                clip(&w.to_string()),
                clip(&got[i].to_string())
            ),
            None => format!(
                "A page of customer {customer}'s orders goes past their last order (#{}): {}",
                want.len(),
                clip(&got[i].to_string())
            ),
        });
    }
    let left = want.len() - start;
    if got.len() != limit.min(left) {
        return Some(format!(
            "A page of customer {customer}'s orders at limit={limit} has {} order(s); from where it starts the customer has {left}, so it must have {}.",
            got.len(),
            limit.min(left)
        ));
    }
    let more = start + got.len() < want.len();
    let cursor = body.get("next_cursor").map(|c| c.is_string());
    if cursor != Some(more) {
        return Some(format!(
            "`next_cursor` must be a string when more orders follow a page and null on the last page: customer {customer}'s page ending at order #{} of {} has next_cursor {}.",
            start + got.len(),
            want.len(),
            body.get("next_cursor")
                .map_or("(missing)".to_owned(), Value::to_string)
        ));
    }
    None
}

impl Drop for OrdersWorld {
    /// Holds every page this world fetched to the standing requirement, whatever the
    /// check was about: each page answered `200` while the database stood still is
    /// compared with what the database holds.
    fn drop(&mut self) {
        let fetched =
            std::mem::take(&mut *self.fetched.lock().unwrap_or_else(PoisonError::into_inner));
        let now = self.generation.load(Ordering::SeqCst);
        let pages: Vec<(i64, usize, bool, &Value)> = fetched
            .iter()
            .filter(|f| f.sent == now && f.received == now && f.exchange.status == Some(200))
            .filter_map(|f| {
                let (customer, limit, cursor) = listing(&f.path)?;
                Some((customer, limit, cursor, f.exchange.body.as_ref()?))
            })
            .collect();
        if pages.is_empty() {
            return;
        }
        crate::checks::journal::blocking(|| {
            let mut lists: std::collections::BTreeMap<i64, Vec<Value>> = Default::default();
            let mut broken = Vec::new();
            for (customer, limit, cursor, body) in pages {
                let expected = match lists.entry(customer) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        // A database the harness cannot read judges nothing.
                        let Ok(list) = expected_orders(self.svc.db(), customer) else {
                            return;
                        };
                        e.insert(list)
                    }
                };
                broken.extend(page_differs(customer, limit, cursor, body, expected));
            }
            self.journal.judged(RESPONSES_UNCHANGED, broken);
        });
    }
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
            journal: env.journal.clone(),
            generation: AtomicU64::new(0),
            fetched: Mutex::new(Vec::new()),
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

    /// Marks the database as changing: pages in flight, and every page before, are no
    /// longer judged against it. A check that writes through a connection of its own
    /// marks it before and after.
    pub fn changing(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Writes `data` into the service's database.
    pub fn write(&self, data: &Dataset) -> Result<(), Problem> {
        self.changing();
        // Tens of thousands of rows for the scale checks: off the worker's queue, so no
        // other check's clock waits on this write.
        crate::checks::journal::blocking(|| data.write(self.svc.db())).map_err(|e| {
            let mut ev = Evidence::new();
            ev.say(format!(
                "Could not write orders into the contract tables (customers, products, orders, order_lines): {e}"
            ));
            Problem::Service(ev)
        })
    }

    /// Adds a line to `customer`'s latest order straight in the database, as checkout
    /// does when an order grows after it was first shown.
    pub fn add_line_in_db(
        &self,
        customer: i64,
        line: &crate::checks::orders::dataset::Line,
    ) -> Result<(), Problem> {
        self.in_db("Adding a line in the `order_lines` table failed", |conn| {
            conn.execute(
                "INSERT INTO order_lines (order_id, product_id, quantity, unit_price)
                 VALUES ((SELECT max(id) FROM orders WHERE customer_id = ?1), ?2, ?3, ?4)",
                rusqlite::params![customer, line.product_id, line.quantity, line.unit_price],
            )
            .map(|_| ())
        })
    }

    /// Runs `sql` straight in the database, as checkout, the back office or test
    /// tooling may (the brief: they "read and write these tables directly"); `what`
    /// names the write for the error.
    pub fn write_in_db(&self, what: &str, sql: &str) -> Result<(), Problem> {
        self.in_db(&format!("{what} failed in the database"), |conn| {
            conn.execute_batch(sql)
        })
    }

    /// Renames a product directly in the database, as the back office does.
    pub fn rename_in_db(&self, product: i64, name: &str) -> Result<(), Problem> {
        self.in_db(
            "Renaming a product in the `products` table failed",
            |conn| {
                conn.execute(
                    "UPDATE products SET name = ?1 WHERE id = ?2",
                    rusqlite::params![name, product],
                )
                .map(|_| ())
            },
        )
    }

    /// One write of the harness's own, counted as a change; a write the database
    /// refuses is the service's finding (`failed`: what to say before the error).
    fn in_db(
        &self,
        failed: &str,
        write: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<()>,
    ) -> Result<(), Problem> {
        self.changing();
        let conn = rusqlite::Connection::open(self.svc.db())
            .map_err(|e| Problem::Harness(format!("opening the database: {e}")))?;
        crate::checks::journal::blocking(|| {
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .and_then(|()| write(&conn))
        })
        .map_err(|e| {
            let mut ev = Evidence::new();
            ev.say(format!("{failed}: {e}"));
            Problem::Service(ev)
        })
    }

    /// What the harness computes the full answer to be for `customer`.
    pub fn expected(&self, customer: i64) -> Result<Vec<Value>, Problem> {
        crate::checks::journal::blocking(|| expected_orders(self.svc.db(), customer))
            .map_err(|e| Problem::Harness(format!("reading the database: {e}")))
    }

    /// `GET /customers/{id}/orders` with optional limit and cursor.
    pub async fn page(&self, customer: i64, limit: Option<&str>, cursor: Option<&str>) -> Page {
        self.page_at(&self.svc.url(), customer, limit, cursor).await
    }

    /// [`Self::page`], sent to the instance at `base` (another instance on the same
    /// database, behind the brief's load balancer).
    pub async fn page_at(
        &self,
        base: &str,
        customer: i64,
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Page {
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
        self.get_at(base, &path).await
    }

    /// A GET request the kit records under a fresh id (see [`OrdersWorld::accounts`]).
    pub async fn get(&self, path: &str) -> Page {
        self.get_at(&self.svc.url(), path).await
    }

    /// [`Self::get`], sent to the instance at `base`.
    async fn get_at(&self, base: &str, path: &str) -> Page {
        let generation = self.generation.load(Ordering::SeqCst);
        let id = format!("h{}", self.requests.fetch_add(1, Ordering::SeqCst));
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id.clone());
        let exchange = send(
            &self.timeline,
            &self.http,
            reqwest::Method::GET,
            base,
            path,
            &[("x-kit-request-id", &id)],
            None,
        )
        .await;
        self.fetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Fetched {
                path: path.to_owned(),
                exchange: exchange.clone(),
                sent: generation,
                received: self.generation.load(Ordering::SeqCst),
            });
        Page {
            exchange,
            request_id: id,
        }
    }

    /// `PUT /products/{id}` with a JSON body.
    pub async fn put_product(&self, id: i64, body: &Value) -> Exchange {
        // The service writes while it answers: pages around it are not judged.
        self.changing();
        let x = send(
            &self.timeline,
            &self.http,
            reqwest::Method::PUT,
            &self.svc.url(),
            &format!("/products/{id}"),
            &[("content-type", "application/json")],
            Some(body.to_string()),
        )
        .await;
        self.changing();
        x
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
            cursor = page.continues();
            pages.push(page);
            if cursor.is_none() {
                break;
            }
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

#[cfg(test)]
mod standing_tests {
    use super::*;
    use serde_json::json;

    /// Customer 7's orders as the database holds them, newest first: ids 5 down to 1.
    fn list() -> Vec<Value> {
        (1..=5)
            .rev()
            .map(|id| {
                json!({
                    "id": id,
                    "placed_at": format!("2026-11-0{id}T10:00:00.000Z"),
                    "lines": [{"product_id": 3, "product_name": "Teapot", "unit_price": 100,
                               "quantity": id, "line_total": 100 * id}],
                    "total": 100 * id,
                })
            })
            .collect()
    }

    fn page(orders: &[Value], next: Option<&str>) -> Value {
        json!({"customer_id": 7, "orders": orders, "next_cursor": next})
    }

    #[test]
    fn listings_are_recognised_with_their_limit_and_cursor() {
        assert_eq!(listing("/customers/7/orders"), Some((7, 20, false)));
        assert_eq!(
            listing("/customers/7/orders?limit=2&cursor=abc"),
            Some((7, 2, true))
        );
        // A limit the brief refuses, or another path, is not a page to judge.
        assert_eq!(listing("/customers/7/orders?limit=0"), None);
        assert_eq!(listing("/customers/7/orders?limit=101"), None);
        assert_eq!(listing("/customers/7"), None);
        assert_eq!(listing("/customers/x/orders"), None);
    }

    #[test]
    fn the_pages_of_a_walk_agree_with_the_database() {
        let all = list();
        assert_eq!(
            page_differs(7, 2, false, &page(&all[..2], Some("c")), &all),
            None
        );
        assert_eq!(
            page_differs(7, 2, true, &page(&all[2..4], Some("c")), &all),
            None
        );
        assert_eq!(page_differs(7, 2, true, &page(&all[4..], None), &all), None);
        // An exactly full last page has no cursor.
        assert_eq!(page_differs(7, 5, false, &page(&all, None), &all), None);
        assert_eq!(page_differs(7, 20, false, &page(&[], None), &[]), None);
    }

    #[test]
    fn a_dropped_stale_short_or_misflagged_page_does_not() {
        let all = list();
        // An order left out of the run (say, one without lines).
        let skipped = [all[0].clone(), all[2].clone()];
        assert!(page_differs(7, 2, false, &page(&skipped, Some("c")), &all).is_some());
        // A product's old name.
        let mut stale = all[0].clone();
        stale["lines"][0]["product_name"] = json!("Old teapot");
        assert!(
            page_differs(7, 1, false, &page(&[stale], Some("c")), &all)
                .is_some_and(|b| b.contains("differs from the database"))
        );
        // Short although more follow; a cursor on the last page; none before the end.
        assert!(page_differs(7, 3, false, &page(&all[..2], Some("c")), &all).is_some());
        assert!(page_differs(7, 5, false, &page(&all, Some("c")), &all).is_some());
        assert!(page_differs(7, 2, false, &page(&all[..2], None), &all).is_some());
        // An empty page after a cursor; another customer's id.
        assert!(page_differs(7, 2, true, &page(&[], None), &all).is_some());
        let other = json!({"customer_id": 8, "orders": [], "next_cursor": null});
        assert!(page_differs(7, 2, false, &other, &[]).is_some());
    }
}
