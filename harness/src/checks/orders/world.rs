//! `OrdersWorld`: an orders service on a fresh database with a stats file, plus the
//! helpers checks speak in: write a dataset, fetch a page, walk every page, read what
//! SQL a request ran.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use serde_json::Value;

use crate::checks::http::{Exchange, send};
use crate::checks::orders::dataset::{Dataset, contract_view, expected_orders};
use crate::checks::{CheckEnv, Evidence, Problem};
use crate::seed::SeedRng;
use crate::service::{RunningService, ServiceSpec};

/// One statement a request ran, as the kit recorded it.
#[derive(Debug, Clone, Deserialize)]
pub struct StatementStats {
    pub sql: String,
    pub fullscan_steps: i64,
    pub vm_steps: i64,
}

/// What one request did to the database.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestStats {
    pub request_id: Option<String>,
    pub statements: u64,
    pub detail: Vec<StatementStats>,
}

/// A page fetched from the list endpoint, with the SQL it ran.
pub struct Page {
    pub exchange: Exchange,
    pub stats: Option<RequestStats>,
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
    requests: AtomicU64,
    rng: SeedRng,
    next_id: i64,
}

impl OrdersWorld {
    /// Starts the service on a fresh database.
    pub async fn start(env: CheckEnv) -> Result<OrdersWorld, Problem> {
        let stats_path = env.workdir.join("stats.jsonl");
        let spec = ServiceSpec {
            binary: env.binary.clone(),
            db: env.workdir.join("orders.db"),
            downstreams: Vec::new(),
            env: Vec::new(),
            log: env.workdir.join("service.log"),
            stats: Some(stats_path.clone()),
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
            requests: AtomicU64::new(0),
            rng: SeedRng::new(env.seed),
            next_id: 1_000 + (SeedRng::new(env.seed).below(1_000) as i64) * 1_000,
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

    /// A GET request whose SQL is looked up in the stats file.
    pub async fn get(&self, path: &str) -> Page {
        let id = format!("h{}", self.requests.fetch_add(1, Ordering::SeqCst));
        let exchange = send(
            &self.http,
            reqwest::Method::GET,
            &self.svc.url(),
            path,
            &[("x-kit-request-id", &id)],
            None,
        )
        .await;
        let stats = self.stats_of(&id);
        Page { exchange, stats }
    }

    /// `PUT /products/{id}` with a JSON body.
    pub async fn put_product(&self, id: i64, body: &Value) -> Exchange {
        send(
            &self.http,
            reqwest::Method::PUT,
            &self.svc.url(),
            &format!("/products/{id}"),
            &[("content-type", "application/json")],
            Some(body.to_string()),
        )
        .await
    }

    fn stats_of(&self, request_id: &str) -> Option<RequestStats> {
        let text = std::fs::read_to_string(&self.stats_path).ok()?;
        text.lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<RequestStats>(l).ok())
            .find(|s| s.request_id.as_deref() == Some(request_id))
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
