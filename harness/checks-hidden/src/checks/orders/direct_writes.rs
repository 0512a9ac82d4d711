//! Pages and PUTs while the other writers the brief names write (hidden): the back
//! office holding a write transaction open, checkout inserting orders while a customer
//! scrolls, and the back office renaming a product while a PUT reprices it.
//! The pristine service reads each statement on its own snapshot in WAL mode and is
//! never blocked by a writer; a fix must keep that, and its page — however many
//! statements it runs — must show every order as the database holds it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::checks::orders::dataset::{
    Dataset, Line, Order, Product, contract_view, expected_orders, timestamp,
};
use crate::checks::orders::world::{OrdersWorld, Page};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::LockHolder;

/// Longest the back office keeps its write transaction open: past the app's 5 s.
const LOCK_HOLD: Duration = Duration::from_secs(6);
/// The mobile app gives up after this long (the brief).
const APP_GIVES_UP: Duration = Duration::from_secs(5);
/// Most orders checkout inserts: plenty of commits between a page's statements, and
/// a history the pristine service still pages through quickly.
const MAX_INSERTED: usize = 3_000;
/// Fewest orders checkout must commit while the pages are read for them to be judged.
const MIN_INSERTED: usize = 100;
/// How long checkout inserts orders while the customer's pages are read.
const INSERTING: Duration = Duration::from_secs(3);

/// A customer with 60 orders; the back office holds a write transaction open while
/// the customer's first page is asked for; then checkout inserts new orders for that
/// customer, one transaction each, while first and second pages are read.
pub async fn pages_during_direct_writes(env: CheckEnv) -> CheckResult {
    let journal = env.journal.clone();
    let mut w = OrdersWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let mut data = Dataset::default();
    for k in 0..20 {
        data.products.push(Product {
            id: w.fresh_id(),
            name: format!("Item {k}"),
            price: 150 + k,
        });
    }
    let customer = w.fresh_id();
    data.customers.push(customer);
    for k in 0..60 {
        let lines = (0..1 + w.rng().below(3))
            .map(|_| {
                let p = &data.products[w.rng().below(20) as usize];
                Line {
                    product_id: p.id,
                    quantity: 1 + w.rng().below(3) as i64,
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

    // 1. The back office holds a write transaction open.
    story.say(format!(
        "Customer {customer} has 60 orders. The back office opens a write transaction (as a batch repricing would) and keeps it open up to {} s while the customer's first page is asked for.",
        LOCK_HOLD.as_secs()
    ));
    let lock = back_office_lock(w.svc.db(), &mut story).await?;
    let started = Instant::now();
    let page = tokio::time::timeout(LOCK_HOLD, w.page(customer, Some("20"), None)).await;
    let took = started.elapsed();
    lock.release()
        .map_err(|e| Problem::Harness(format!("releasing the write lock: {e}")))?;
    // What a page answered otherwise than the brief's table (`200` and the orders as
    // held): the standing requirement "responses do not change", judged here too.
    let mut changed = Vec::new();
    match page {
        Ok(page) => {
            story.say(format!(
                "While the transaction was open, after {} ms: {}",
                took.as_millis(),
                page.exchange
            ));
            if page.exchange.status.is_some_and(|s| s != 200) {
                changed.push(format!(
                    "With the back office's transaction open, a first page was answered {}: {}",
                    page.exchange.status.unwrap_or_default(),
                    page.exchange
                ));
            }
            if page.exchange.status != Some(200) || took >= APP_GIVES_UP {
                broken.push(format!(
                    "A page must not wait for another writer's transaction (the brief: checkout and the back office write these tables directly; the app gives up after {} s): with the back office's transaction open it was answered {} after {} ms.",
                    APP_GIVES_UP.as_secs(),
                    page.exchange.status.map_or("nothing".to_owned(), |s| s.to_string()),
                    took.as_millis()
                ));
            }
        }
        Err(_) => broken.push(format!(
            "A page must not wait for another writer's transaction (the brief: checkout and the back office write these tables directly; the app gives up after {} s): with the back office's transaction open it had no answer after {} s.",
            APP_GIVES_UP.as_secs(),
            LOCK_HOLD.as_secs()
        )),
    }

    // 2. Checkout inserts new orders while the customer scrolls.
    story.say(format!(
        "Checkout inserts new orders for customer {customer}, one transaction each (the order and its lines), for {} s while the customer's first page and the one after it are read again and again.",
        INSERTING.as_secs()
    ));
    w.changing();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = w.svc.db().to_path_buf();
        let stop = Arc::clone(&stop);
        let products: Vec<(i64, i64)> = data.products.iter().map(|p| (p.id, p.price)).collect();
        tokio::task::spawn_blocking(move || insert_until(&db, customer, &products, &stop))
    };
    let mut pages: Vec<Page> = Vec::new();
    let reading = Instant::now();
    while reading.elapsed() < INSERTING {
        let first = w.page(customer, Some("20"), None).await;
        // Every fourth time the page after it too: a cursor read across new orders.
        let next = match first.next_cursor() {
            Some(c) if pages.len().is_multiple_of(4) => {
                Some(w.page(customer, Some("20"), Some(&c)).await)
            }
            _ => None,
        };
        pages.extend([Some(first), next].into_iter().flatten());
    }
    stop.store(true, Ordering::SeqCst);
    let inserted = writer
        .await
        .map_err(|e| Problem::Harness(format!("checkout's writer failed: {e}")))?
        .map_err(|e| Problem::Harness(format!("checkout's writer: {e}")))?;
    w.changing();
    // The race is only judged if it was run: checkout must have committed between the
    // pages, as it does thousands of times beside the pristine service.
    if inserted < MIN_INSERTED {
        broken.push(format!(
            "Checkout could commit only {inserted} orders in {} s beside the page reads (it commits thousands beside the pristine service): pages must not hold off the writers the brief says write these tables directly, and too few commits landed between pages to judge what they show.",
            INSERTING.as_secs()
        ));
    }
    let db = w.svc.db().to_path_buf();
    let held = tokio::task::spawn_blocking(move || orders_as_held(&db, customer))
        .await
        .map_err(|e| Problem::Harness(format!("reading the database failed: {e}")))?
        .map_err(|e| Problem::Harness(format!("reading the database: {e}")))?;
    let mut wrong_pages = 0;
    let mut first_wrong = None;
    let mut refused = pages.iter().filter(|p| p.exchange.status != Some(200));
    if let Some(p) = refused.next() {
        let line = format!(
            "While checkout inserted orders, {} page(s) were not answered 200; the first: {}",
            1 + refused.count(),
            p.exchange
        );
        changed.push(line.clone());
        broken.push(line);
    }
    for p in pages.iter().filter(|p| p.exchange.status == Some(200)) {
        let wrong = shown_wrong(&held, p);
        if !wrong.is_empty() {
            wrong_pages += 1;
            first_wrong.get_or_insert((wrong, p.exchange.to_string()));
        }
    }
    story.say(format!(
        "Checkout inserted {inserted} orders; {} pages were read, {wrong_pages} of them showing an order otherwise than the database holds it.",
        pages.len()
    ));
    if let Some((wrong, page)) = first_wrong {
        changed.push(format!(
            "{wrong_pages} of {} pages read while checkout inserted orders showed an order otherwise than the database holds it — {}; the first: {page}",
            pages.len(),
            wrong.join("; ")
        ));
        broken.push(format!(
            "A page shows each order as the database holds it, whatever checkout commits meanwhile (the brief: orders and lines that checkout inserts show up; `total` is the sum of the order's lines): {wrong_pages} of {} pages read while checkout inserted orders did not — {}; the first: {page}",
            pages.len(),
            wrong.join("; ")
        ));
    }
    // 3. The back office renames a product in its own transaction while a PUT
    // reprices it: both changes must land.
    let product = &data.products[0];
    let renamed = format!("{} (renamed by the back office)", product.name);
    let repriced = product.price + 1_000;
    story.say(format!(
        "The back office opens a write transaction and renames product {} to {renamed:?}; meanwhile `PUT /products/{}` sets its price to {repriced}. The back office commits {} ms after the PUT was sent.",
        product.id,
        product.id,
        PUT_WAITS.as_millis()
    ));
    w.changing();
    let lock = back_office_lock(w.svc.db(), &mut story).await?;
    let body = serde_json::json!({ "price": repriced });
    let put = w.put_product(product.id, &body);
    tokio::pin!(put);
    let early = tokio::time::timeout(PUT_WAITS, &mut put).await;
    let id = product.id;
    let name = renamed.clone();
    let committed = tokio::task::spawn_blocking(move || {
        lock.execute(
            "UPDATE products SET name = ?1 WHERE id = ?2",
            rusqlite::params![name, id],
        )?;
        lock.release()
    })
    .await
    .map_err(|e| Problem::Harness(format!("the back office's write failed: {e}")))?;
    committed.map_err(|e| Problem::Harness(format!("the back office's write: {e}")))?;
    let x = match early {
        Ok(x) => x,
        Err(_) => tokio::time::timeout(APP_GIVES_UP + Duration::from_secs(1), put)
            .await
            .map_err(|_| {
                Problem::Harness("the PUT had no answer 6 s after the back office committed".into())
            })?,
    };
    w.changing();
    story.exchange(&x);
    let db = w.svc.db().to_path_buf();
    let held = tokio::task::spawn_blocking(move || product_as_held(&db, id))
        .await
        .map_err(|e| Problem::Harness(format!("reading the database failed: {e}")))?
        .map_err(|e| Problem::Harness(format!("reading the database: {e}")))?;
    story.say(format!("The database then holds: {held:?}"));
    let answered = x.body.as_ref().map(|b| {
        (
            b.get("name").and_then(Value::as_str).map(str::to_owned),
            b.get("price").and_then(Value::as_i64),
        )
    });
    let want = (Some(renamed.clone()), Some(repriced));
    if x.status != Some(200) || answered.as_ref() != Some(&want) {
        changed.push(format!(
            "A PUT that met the back office's rename was answered otherwise than `200` with the product as both changes left it ({renamed:?}, {repriced}): {x}"
        ));
    }
    if x.status != Some(200) || held != Some((renamed.clone(), repriced)) {
        broken.push(format!(
            "A PUT that meets another writer's change must keep it and answer `200` (the brief: checkout and the back office write these tables directly; a field left out keeps its value): with the back office renaming product {id} to {renamed:?} while the PUT set its price to {repriced}, the PUT was answered {} and the database holds {held:?}.",
            x.status.map_or("nothing".to_owned(), |s| s.to_string())
        ));
    }
    journal.judged(crate::checks::orders::world::RESPONSES_UNCHANGED, changed);
    Ok(verdict(story, broken))
}

/// The back office's write lock on `db`, as another process takes it; a lock the
/// harness cannot get within 10 s is the service's failure, told in `story`.
async fn back_office_lock(
    db: &std::path::Path,
    story: &mut Evidence,
) -> Result<LockHolder, Problem> {
    let Some(lock) = LockHolder::take(db, Duration::from_secs(10))
        .await
        .map_err(|e| Problem::Harness(format!("taking the write lock: {e}")))?
    else {
        story.say("The harness could not get the write lock within 10 s: something holds it.");
        return Err(Problem::Service(std::mem::replace(story, Evidence::new())));
    };
    Ok(lock)
}

/// How long a PUT waits on the back office's transaction before it commits: time for
/// the service to have read the product, well within the app's 5 s.
const PUT_WAITS: Duration = Duration::from_secs(1);

/// Product `id`'s name and price as the database holds them.
fn product_as_held(db: &std::path::Path, id: i64) -> rusqlite::Result<Option<(String, i64)>> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    match conn.query_row(
        "SELECT name, price FROM products WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ) {
        Ok(row) => Ok(Some(row)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e),
    }
}

/// How `page` shows an order otherwise than `held` (the database's orders by id, read
/// after the writes: orders and their lines are only ever inserted here, whole, so what
/// is there now is what was there when the page was read).
fn shown_wrong(held: &BTreeMap<i64, Value>, page: &Page) -> Vec<String> {
    let mut wrong = Vec::new();
    for shown in page.orders() {
        let id = shown.get("id").and_then(Value::as_i64);
        let Some(want) = id.and_then(|id| held.get(&id)) else {
            wrong.push(format!("order {id:?} is not in the database"));
            continue;
        };
        let got = contract_view(&shown);
        if &got != want {
            let lines = |v: &Value| v.get("lines").and_then(Value::as_array).map_or(0, Vec::len);
            wrong.push(format!(
                "order {} shown with {} line(s) and total {}, the database holds {} line(s) totalling {}",
                id.unwrap_or_default(),
                lines(&got),
                got.get("total").unwrap_or(&Value::Null),
                lines(want),
                want.get("total").unwrap_or(&Value::Null)
            ));
        }
    }
    wrong
}

/// The customer's orders as the database holds them, by id, in the contract's shape.
fn orders_as_held(db: &std::path::Path, customer: i64) -> rusqlite::Result<BTreeMap<i64, Value>> {
    Ok(expected_orders(db, customer)?
        .iter()
        .filter_map(|o| Some((o.get("id")?.as_i64()?, contract_view(o))))
        .collect())
}

/// Checkout's writer: inserts an order (newer than every other) and one or two lines
/// in a transaction of its own, over and over until `stop`; returns how many.
fn insert_until(
    db: &std::path::Path,
    customer: i64,
    products: &[(i64, i64)],
    stop: &AtomicBool,
) -> rusqlite::Result<usize> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // The harness's own commits need not reach the disk: only their order matters.
    conn.pragma_update(None, "synchronous", "OFF")?;
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) && n < MAX_INSERTED {
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO orders (customer_id, placed_at) VALUES (?1, ?2)",
            rusqlite::params![customer, timestamp(100_000 + n as i64)],
        )?;
        let order = tx.last_insert_rowid();
        for k in 0..1 + n % 2 {
            let (product, price) = products[(n + k) % products.len()];
            tx.execute(
                "INSERT INTO order_lines (order_id, product_id, quantity, unit_price) VALUES (?1, ?2, 1, ?3)",
                rusqlite::params![order, product, price],
            )?;
        }
        tx.commit()?;
        n += 1;
        // Spread over the reading: a commit lands between some page's statements
        // throughout, not all in the first second.
        std::thread::sleep(Duration::from_micros(500));
    }
    Ok(n)
}
