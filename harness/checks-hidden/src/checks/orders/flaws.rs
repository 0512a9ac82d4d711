//! Flaw checks (hidden): statement counts that must not grow with the data returned,
//! and no full scans of large tables — measured by SQLite's own counters per statement,
//! never by a stopwatch. The counts are the kit's, per process and checked line by line
//! (`world::Accounts`); accounting that was tampered with fails the check.

use std::collections::BTreeSet;

use regex::Regex;
use rusqlite::{Connection, OpenFlags};

use crate::checks::orders::dataset::{Dataset, Line, Order, Product, timestamp};
use crate::checks::orders::world::OrdersWorld;
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict, verdict};

/// Most statements one page request may run, whatever it returns.
const STATEMENT_BUDGET: u64 = 10;
/// How much the count may vary between a small and a large page.
const STATEMENT_SLACK: u64 = 2;
/// Rows a single statement may step through by full scans before it counts as a scan
/// of a large table (the scale dataset's large tables hold tens of thousands of rows).
const SCAN_LIMIT: i64 = 1_000;

/// Statement counts at 1, 10 and 100 orders (orders without lines, so only the
/// per-order work shows).
pub async fn statements_per_order(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let mut data = Dataset::default();
    let mut customers = Vec::new();
    for n in [1i64, 10, 100] {
        let c = w.fresh_id();
        data.customers.push(c);
        for k in 0..n {
            data.orders.push(Order {
                customer_id: c,
                placed_at: timestamp(k * 7),
                lines: Vec::new(),
            });
        }
        customers.push((n, c));
    }
    w.write(&data)?;
    judge_counts(&w, &customers, "order(s)").await
}

/// Statement counts at 1, 10 and 100 lines in one order, each line a different product.
pub async fn statements_per_line(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let mut data = Dataset::default();
    let mut customers = Vec::new();
    for n in [1i64, 10, 100] {
        let c = w.fresh_id();
        data.customers.push(c);
        let mut lines = Vec::new();
        for k in 0..n {
            let p = Product {
                id: w.fresh_id(),
                name: format!("Product {k}"),
                price: 100 + k,
            };
            lines.push(Line {
                product_id: p.id,
                quantity: 1,
                unit_price: p.price,
            });
            data.products.push(p);
        }
        data.orders.push(Order {
            customer_id: c,
            placed_at: timestamp(0),
            lines,
        });
        customers.push((n, c));
    }
    w.write(&data)?;
    judge_counts(&w, &customers, "line(s) in one order").await
}

async fn judge_counts(w: &OrdersWorld, customers: &[(i64, i64)], unit: &str) -> CheckResult {
    let mut story = Evidence::new();
    let mut pages = Vec::new();
    for (n, customer) in customers {
        let page = w.page(*customer, Some("100"), None).await;
        if page.exchange.status != Some(200) {
            story.exchange(&page.exchange);
            return Err(Problem::Service(story));
        }
        pages.push((*n, page.request_id));
    }
    let accounts = match w.accounts().await {
        Ok(a) => a,
        Err(reason) => return Ok(tampered(story, &reason)),
    };
    let mut counts = Vec::new();
    for (n, id) in &pages {
        match accounts.of(id) {
            Ok(stats) => counts.push((*n, stats.statements)),
            Err(reason) => return Ok(tampered(story, &reason)),
        }
    }
    story.say(format!(
        "SQL statements per request: {}",
        counts
            .iter()
            .map(|(n, c)| format!("{n} {unit} → {c}"))
            .collect::<Vec<_>>()
            .join(" · ")
    ));
    let min = counts.iter().map(|c| c.1).min().unwrap_or(0);
    let max = counts.iter().map(|c| c.1).max().unwrap_or(0);
    let mut broken = Vec::new();
    if max > min + STATEMENT_SLACK {
        broken.push(format!(
            "The number of SQL statements grows with the number of {unit} returned ({min} → {max}); it must stay constant."
        ));
    }
    if max > STATEMENT_BUDGET {
        broken.push(format!(
            "A page request ran {max} statements; the budget is {STATEMENT_BUDGET}."
        ));
    }
    Ok(verdict(story, broken))
}

/// Which large table a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanTarget {
    /// `orders` (and any large scan not attributed to `order_lines`).
    Orders,
    /// `order_lines`.
    OrderLines,
}

/// At a realistic scale (20,000 orders, ~50,000 lines), every statement of a page
/// request is checked with SQLite's full-scan step counter and its query plan.
pub async fn no_large_scans(env: CheckEnv, target: ScanTarget) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let (customer, data) = scale_dataset(&mut w);
    w.write(&data)?;
    let mut story = Evidence::new();
    story.say(format!(
        "The database holds {} customers, {} products, {} orders and {} order lines; customer {customer} has 100 orders.",
        data.customers.len(),
        data.products.len(),
        data.orders.len(),
        data.orders.iter().map(|o| o.lines.len()).sum::<usize>()
    ));
    let first = w.page(customer, Some("20"), None).await;
    let cursor = first.next_cursor();
    let mut pages = vec![first];
    if let Some(c) = cursor {
        pages.push(w.page(customer, Some("20"), Some(&c)).await);
    }
    let conn = Connection::open_with_flags(w.svc.db(), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| Problem::Harness(format!("opening the database: {e}")))?;
    let accounts = w.accounts().await;
    let mut broken = Vec::new();
    let mut reported = BTreeSet::new();
    for page in &pages {
        story.say(format!(
            "{} → {}",
            page.exchange.request_line,
            page.exchange
                .status
                .map_or("no response".to_owned(), |s| s.to_string())
        ));
        let stats = match accounts
            .as_ref()
            .map_err(String::clone)
            .and_then(|a| a.of(&page.request_id))
        {
            Ok(stats) => stats,
            Err(reason) => return Ok(tampered(story, &reason)),
        };
        for s in &stats.detail {
            if s.fullscan_steps <= SCAN_LIMIT {
                continue;
            }
            let tables = scanned_tables(&conn, &s.sql);
            let about_lines = tables.iter().any(|t| t == "order_lines");
            let mine = match target {
                ScanTarget::OrderLines => about_lines,
                ScanTarget::Orders => !about_lines || tables.iter().any(|t| t != "order_lines"),
            };
            if mine && reported.insert(s.sql.clone()) {
                broken.push(format!(
                    "A statement stepped through {} rows by full scan{}: {}",
                    s.fullscan_steps,
                    if tables.is_empty() {
                        String::new()
                    } else {
                        format!(" (its plan scans {})", tables.join(", "))
                    },
                    one_line(&s.sql)
                ));
            }
        }
    }
    if broken.is_empty() {
        story.say(format!(
            "No statement of these requests stepped through more than {SCAN_LIMIT} rows by full scan{}.",
            match target {
                ScanTarget::Orders => " of orders",
                ScanTarget::OrderLines => " of order_lines",
            }
        ));
    }
    Ok(verdict(story, broken))
}

fn scale_dataset(w: &mut OrdersWorld) -> (i64, Dataset) {
    let mut data = Dataset::default();
    for _ in 0..200 {
        data.customers.push(w.fresh_id());
    }
    for k in 0..2_000 {
        data.products.push(Product {
            id: w.fresh_id(),
            name: format!("Product {k}"),
            price: 100 + k,
        });
    }
    let target = data.customers[0];
    for k in 0..20_000i64 {
        let customer = if k % 200 == 0 {
            target
        } else {
            data.customers[1 + w.rng().below(199) as usize]
        };
        let lines = (0..w.rng().below(6))
            .map(|_| {
                let p = &data.products[w.rng().below(2_000) as usize];
                Line {
                    product_id: p.id,
                    quantity: 1 + w.rng().below(5) as i64,
                    unit_price: p.price,
                }
            })
            .collect();
        data.orders.push(Order {
            customer_id: customer,
            placed_at: timestamp(k * 3),
            lines,
        });
    }
    (target, data)
}

/// Tables a statement's query plan scans, resolved from aliases via the SQL text.
fn scanned_tables(conn: &Connection, sql: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")) else {
        return Vec::new();
    };
    let mut rows = stmt.raw_query();
    let mut scanned = Vec::new();
    while let Ok(Some(row)) = rows.next() {
        let detail: String = row.get(3).unwrap_or_default();
        let Some(rest) = detail.strip_prefix("SCAN ") else {
            continue;
        };
        let name = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        if let Some(table) = resolve_alias(sql, &name) {
            scanned.push(table);
        }
    }
    scanned.sort();
    scanned.dedup();
    scanned
}

fn resolve_alias(sql: &str, name: &str) -> Option<String> {
    const TABLES: [&str; 4] = ["orders", "order_lines", "products", "customers"];
    if TABLES.contains(&name) {
        return Some(name.to_owned());
    }
    let pattern = format!(
        r"(?i)\b({})\s+(?:AS\s+)?{}\b",
        TABLES.join("|"),
        regex::escape(name)
    );
    let re = Regex::new(&pattern).ok()?;
    re.captures(sql)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_lowercase())
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The verdict when the kit's records cannot be trusted: a fail, whatever they say.
fn tampered(story: Evidence, reason: &str) -> Verdict {
    verdict(
        story,
        vec![format!(
            "Statement accounting was tampered with ({reason}): no statement count from this service can be trusted."
        )],
    )
}

/// The work of one page must not grow with the customer's history: the first page
/// (limit 20) of a customer with 4,000 orders may cost at most a small multiple of the
/// same page for a customer with 100 orders, in SQLite VM steps (work done, not time).
pub async fn page_cost_independent_of_history(env: CheckEnv) -> CheckResult {
    const RATIO: i64 = 3;
    const SLACK: i64 = 5_000;
    let mut w = OrdersWorld::start(env).await?;
    let mut data = Dataset::default();
    for k in 0..200 {
        data.products.push(Product {
            id: w.fresh_id(),
            name: format!("Product {k}"),
            price: 100 + k,
        });
    }
    let (short, long) = (w.fresh_id(), w.fresh_id());
    let others: Vec<i64> = (0..50).map(|_| w.fresh_id()).collect();
    data.customers = [vec![short, long], others.clone()].concat();
    for k in 0..10_100i64 {
        let customer = match k % 101 {
            0 => short,
            n if n <= 40 => long,
            _ => others[w.rng().below(50) as usize],
        };
        let lines = (0..w.rng().below(4))
            .map(|_| {
                let p = &data.products[w.rng().below(200) as usize];
                Line {
                    product_id: p.id,
                    quantity: 1,
                    unit_price: p.price,
                }
            })
            .collect();
        data.orders.push(Order {
            customer_id: customer,
            placed_at: timestamp(k),
            lines,
        });
    }
    w.write(&data)?;
    let count = |c: i64| data.orders.iter().filter(|o| o.customer_id == c).count();
    let mut story = Evidence::new();
    let mut pages = Vec::new();
    let mut cursor = None;
    for customer in [short, long] {
        let page = w.page(customer, Some("20"), None).await;
        if page.exchange.status != Some(200) {
            story.exchange(&page.exchange);
            return Err(Problem::Service(story));
        }
        if customer == long {
            cursor = page.next_cursor();
        }
        pages.push((customer, page.request_id));
    }
    // The long history's last page, reached by walking it as the app does: a page
    // that costs more the deeper it lies (an offset, a seek the index cannot serve)
    // grows with the history as much as one that loads it all.
    let mut walked = 20;
    while let Some(c) = cursor.take() {
        if walked + DEEP_STRIDE >= count(long) {
            cursor = Some(c);
            break;
        }
        let page = w.page(long, Some(&DEEP_STRIDE.to_string()), Some(&c)).await;
        if page.exchange.status != Some(200) {
            story.exchange(&page.exchange);
            return Err(Problem::Service(story));
        }
        walked += DEEP_STRIDE;
        cursor = page.next_cursor();
    }
    match cursor {
        Some(deep_cursor) => {
            let deep = w.page(long, Some("20"), Some(&deep_cursor)).await;
            if deep.exchange.status != Some(200) {
                story.exchange(&deep.exchange);
                return Err(Problem::Service(story));
            }
            pages.push((long, deep.request_id));
        }
        // Whether a walk lists every order is the equivalence checks' to judge; this
        // one measures cost, and has no deep page to measure.
        None => story.say(format!(
            "Walking customer {long}'s {} orders {DEEP_STRIDE} at a time, the pages ran out after {walked}: no deep page to measure.",
            count(long)
        )),
    }
    let accounts = match w.accounts().await {
        Ok(a) => a,
        Err(reason) => return Ok(tampered(story, &reason)),
    };
    let mut cost = Vec::new();
    for (i, (customer, id)) in pages.into_iter().enumerate() {
        let stats = match accounts.of(&id) {
            Ok(stats) => stats,
            Err(reason) => return Ok(tampered(story, &reason)),
        };
        let steps: i64 = stats.detail.iter().map(|s| s.vm_steps).sum();
        let which = if i < 2 {
            "First page".to_owned()
        } else {
            format!("The page after order #{walked}")
        };
        story.say(format!(
            "{which} (limit 20) of customer {customer} with {} orders: {} statement(s), {steps} SQLite VM steps.",
            count(customer),
            stats.statements
        ));
        cost.push(steps);
    }
    let mut broken = Vec::new();
    if cost[1] > RATIO * cost[0] + SLACK {
        broken.push(format!(
            "A page costs {}× more for a customer with {} orders than for one with {}: the work per page grows with the customer's history.",
            cost[1] / cost[0].max(1),
            count(long),
            count(short)
        ));
    }
    if let Some(&deep) = cost.get(2)
        && deep > RATIO * cost[1] + SLACK
    {
        broken.push(format!(
            "A page {walked} orders deep costs {}× the first page of the same history ({deep} against {} VM steps): the work per page grows with how deep in the history it lies.",
            deep / cost[1].max(1),
            cost[1]
        ));
    }
    // The short history's 20 newest orders lie among about 2,000 of other customers',
    // the long one's among about 30: a page that costs more for the first grows with
    // the shop around the customer, which the brief rules out as much as history.
    if cost[0] > RATIO * cost[1] + SLACK {
        broken.push(format!(
            "A page costs {}× more for a customer whose orders lie among ~2,000 of other customers' than for one whose lie among ~30: the work per page grows with the size of the shop.",
            cost[0] / cost[1].max(1)
        ));
    }
    Ok(verdict(story, broken))
}

/// Orders per page when walking to a deep page: few requests, each a full page.
const DEEP_STRIDE: usize = 100;

/// `order_count` is "all of the customer's orders" whoever wrote them: the harness
/// writes `orders` directly as checkout, the back office and test tooling may — an
/// order moved to another customer, an order written again with `INSERT OR REPLACE`,
/// an order and its lines deleted — and after each, both customers' `order_count` and
/// first page must be what the database holds. A count kept beside the table (a
/// column, a cache) must follow every kind of write, not only the inserts checkout
/// makes.
pub async fn counts_follow_direct_writes(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let (a, b) = (w.fresh_id(), w.fresh_id());
    let product = Product {
        id: w.fresh_id(),
        name: "Desk lamp".to_owned(),
        price: 2_499,
    };
    let mut data = Dataset {
        customers: vec![a, b],
        ..Dataset::default()
    };
    for (k, customer) in [a, a, a, a, b].into_iter().enumerate() {
        data.orders.push(Order {
            customer_id: customer,
            placed_at: timestamp(k as i64 * 5),
            lines: vec![Line {
                product_id: product.id,
                quantity: 1 + k as i64,
                unit_price: product.price,
            }],
        });
    }
    data.products.push(product);
    w.write(&data)?;
    story.say(format!(
        "Customer {a} has 4 orders, customer {b} has 1, written as checkout writes them."
    ));
    broken.extend(judge_counts_now(&w, &[a, b], "after checkout's inserts", &mut story).await?);
    let newest_of_a = format!("(SELECT max(id) FROM orders WHERE customer_id = {a})");
    let oldest_of_a = format!("(SELECT min(id) FROM orders WHERE customer_id = {a})");
    let writes = [
        (
            "the back office moves an order to another customer",
            format!("UPDATE orders SET customer_id = {b} WHERE id = {newest_of_a};"),
        ),
        (
            "test tooling writes an existing order again with INSERT OR REPLACE",
            format!(
                "INSERT OR REPLACE INTO orders (id, customer_id, placed_at)
                 SELECT id, customer_id, placed_at FROM orders WHERE id = {oldest_of_a};"
            ),
        ),
        (
            "test tooling deletes an order and its lines",
            format!(
                "BEGIN;
                 DELETE FROM order_lines WHERE order_id = {oldest_of_a};
                 DELETE FROM orders WHERE id = {oldest_of_a};
                 COMMIT;"
            ),
        ),
    ];
    for (what, sql) in writes {
        if !broken.is_empty() {
            break;
        }
        w.write_in_db(what, &sql)?;
        story.say(format!("Then {what}, directly in the database."));
        broken.extend(judge_counts_now(&w, &[a, b], &format!("after {what}"), &mut story).await?);
    }
    Ok(verdict(story, broken))
}

/// Each customer's `order_count` and first page (limit 100) against the database.
async fn judge_counts_now(
    w: &OrdersWorld,
    customers: &[i64],
    when: &str,
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let mut broken = Vec::new();
    for &customer in customers {
        let expected = w.expected(customer)?;
        let x = w.get(&format!("/customers/{customer}")).await.exchange;
        story.exchange(&x);
        if x.status != Some(200) || x.i64_field("order_count") != i64::try_from(expected.len()).ok()
        {
            broken.push(format!(
                "{when}, customer {customer} has {} order(s) in the database, so GET /customers/{customer} must answer 200 with `order_count` {} (\"all of the customer's orders\"): {x}",
                expected.len(),
                expected.len()
            ));
        }
        let page = w.page(customer, Some("100"), None).await;
        let ids = |orders: &[serde_json::Value]| -> Vec<Option<i64>> {
            orders
                .iter()
                .map(|o| o.get("id").and_then(|v| v.as_i64()))
                .collect()
        };
        if page.exchange.status != Some(200) || ids(&page.orders()) != ids(&expected) {
            story.exchange(&page.exchange);
            broken.push(format!(
                "{when}, customer {customer}'s first page must list the orders the database holds, {:?}; got {:?}.",
                ids(&expected),
                ids(&page.orders())
            ));
        }
    }
    Ok(broken)
}

/// Orders in the history [`cursor_across_instances`] pages through, five a page.
const ACROSS_ORDERS: usize = 23;
/// Its page size.
const ACROSS_LIMIT: usize = 5;

/// "We run several instances of the service behind a load balancer, all on one
/// database, and restart them at any moment": a cursor one instance handed out must
/// page on any other, and on the same one after a restart. A customer with 23 orders is
/// read five at a time, each page from the other of two instances on one database,
/// and the first instance is killed and restarted after the second page; every page
/// must be `200` and together they must be the customer's history, each order once,
/// in order.
pub async fn cursor_across_instances(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env.clone()).await?;
    let mut story = Evidence::new();
    let customer = w.fresh_id();
    let product = Product {
        id: w.fresh_id(),
        name: "Notebook".to_owned(),
        price: 1_299,
    };
    let mut data = Dataset {
        customers: vec![customer],
        ..Dataset::default()
    };
    for k in 0..ACROSS_ORDERS {
        data.orders.push(Order {
            customer_id: customer,
            // Two orders share each timestamp: the order between them is the id's.
            placed_at: timestamp((k / 2) as i64 * 7),
            lines: vec![Line {
                product_id: product.id,
                quantity: 1 + k as i64 % 3,
                unit_price: product.price,
            }],
        });
    }
    data.products.push(product);
    w.write(&data)?;
    let other = crate::service::ServiceSpec {
        binary: env.binary.clone(),
        db: w.svc.db().to_path_buf(),
        downstreams: Vec::new(),
        env: Vec::new(),
        log: env.workdir.join("instance-2.log"),
        stats: None,
        policy: env.policy.clone(),
        timeline: env.journal.timeline().clone(),
    };
    let b = crate::service::RunningService::start(&other)
        .await
        .map_err(|e| {
            let mut ev = Evidence::new();
            ev.say(format!(
                "A second instance on the same database did not start: {e}."
            ));
            Problem::Service(ev)
        })?;
    story.say(format!(
        "Customer {customer} has {ACROSS_ORDERS} orders (two at each timestamp); two instances, A and B, serve one database. Pages of {ACROSS_LIMIT}, each from the other instance; A is killed and restarted after page 2."
    ));
    let limit = ACROSS_LIMIT.to_string();
    let max_pages = ACROSS_ORDERS / ACROSS_LIMIT + 2;
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    while pages.len() < max_pages {
        if pages.len() == 2 {
            w.svc.kill9().await;
            w.svc.restart_after_kill9().await.map_err(|e| {
                let mut ev = story.clone();
                ev.say(format!("Instance A did not restart: {e}."));
                Problem::Service(ev)
            })?;
            story.say("Instance A killed (SIGKILL) and restarted on the same database.");
        }
        let base = if pages.len() % 2 == 0 {
            w.svc.url()
        } else {
            b.url()
        };
        let page = w
            .page_at(&base, customer, Some(&limit), cursor.as_deref())
            .await;
        cursor = page.continues();
        pages.push(page);
        if cursor.is_none() {
            break;
        }
    }
    let expected = w.expected(customer)?;
    let broken = crate::checks::orders::world::judge_walk(
        &pages,
        &expected,
        ACROSS_LIMIT,
        max_pages,
        &mut story,
    );
    Ok(verdict(story, broken))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_to_contract_tables() {
        let sql = "SELECT l.id FROM order_lines AS l JOIN products p ON p.id = l.product_id";
        assert_eq!(resolve_alias(sql, "l").as_deref(), Some("order_lines"));
        assert_eq!(resolve_alias(sql, "p").as_deref(), Some("products"));
        assert_eq!(resolve_alias(sql, "orders").as_deref(), Some("orders"));
        assert_eq!(resolve_alias(sql, "x"), None);
    }
}
