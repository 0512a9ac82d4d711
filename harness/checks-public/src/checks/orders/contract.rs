//! Contract checks (public): the list endpoint answers correctly.

use serde_json::{Value, json};

use crate::checks::http::send;
use crate::checks::orders::dataset::{Dataset, Line, Order, Product, timestamp};
use crate::checks::orders::world::{OrdersWorld, Page, judge_walk};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict, verdict};

/// The largest page the brief allows.
const MAX_LIMIT: usize = 100;
/// The page size when the client asks for none.
const DEFAULT_LIMIT: usize = 20;
/// The longest product name the brief allows, in characters.
const MAX_NAME_CHARS: usize = 200;

/// A customer with 25 orders (equal timestamps, orders without lines, unicode names)
/// read in pages of 7: every order once, in order, with correct lines and totals.
pub async fn pages_match_the_database(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.fresh_id();
    let products: Vec<Product> = ["Teapot", "Crème brûlée set", "東京 mug", "Tea towel"]
        .iter()
        .enumerate()
        .map(|(n, name)| Product {
            id: w.fresh_id(),
            name: (*name).to_owned(),
            price: 500 + n as i64 * 1_250,
        })
        .collect();
    let mut data = Dataset {
        customers: vec![customer],
        products: products.clone(),
        orders: Vec::new(),
    };
    for n in 0..25i64 {
        // Every third order shares its timestamp with the previous one.
        let minute = if n % 3 == 2 { (n - 1) * 90 } else { n * 90 };
        let lines = (0..(n % 4))
            .map(|k| {
                let p = &products[((n + k) % 4) as usize];
                Line {
                    product_id: p.id,
                    quantity: 1 + k * 3,
                    unit_price: p.price + n,
                }
            })
            .collect();
        data.orders.push(Order {
            customer_id: customer,
            placed_at: timestamp(minute),
            lines,
        });
    }
    w.write(&data)?;
    let expected = w.expected(customer)?;
    story.say(format!(
        "Customer {customer} has 25 orders (some with equal timestamps, some without lines); reading them 7 per page."
    ));
    let pages = w.walk(customer, 7, 10).await;
    let mut broken = judge_walk(&pages, &expected, 7, 10, &mut story);
    if let Some(first) = pages.first() {
        let body = first.exchange.body.as_ref();
        if body.and_then(|b| b.get("customer_id")) != Some(&json!(customer)) {
            broken.push(
                "The response has no `customer_id` equal to the requested customer.".to_owned(),
            );
        }
    }
    // Checkout keeps writing while a customer scrolls: a new order placed after the
    // first page must not shift the later pages (no repeats, no gaps).
    let first = w.page(customer, Some("7"), None).await;
    w.write(&Dataset {
        orders: vec![Order {
            customer_id: customer,
            placed_at: timestamp(100_000),
            lines: Vec::new(),
        }],
        ..Dataset::default()
    })?;
    story.say(
        "A new order was placed after the first page was read; paging continues from its cursor.",
    );
    let mut pages = vec![first];
    while let Some(cursor) = pages.last().and_then(|p| p.next_cursor()) {
        if pages.len() >= 10 {
            break;
        }
        pages.push(w.page(customer, Some("7"), Some(&cursor)).await);
    }
    broken.extend(judge_walk(&pages, &expected, 7, 10, &mut story));

    let default = w.page(customer, None, None).await;
    story.exchange(&default.exchange);
    if default.orders().len() != 20 {
        broken.push(format!(
            "Without `limit` the first page must hold 20 orders; it held {}.",
            default.orders().len()
        ));
    }
    Ok(verdict(story, broken))
}

/// An empty customer, an unknown customer, every kind of bad limit and cursor the
/// brief names, non-integer path ids, unknown paths and unsupported methods.
pub async fn empty_and_invalid_requests(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.fresh_id();
    w.write(&Dataset {
        customers: vec![customer],
        ..Dataset::default()
    })?;
    let mut broken = Vec::new();
    let empty = w.page(customer, None, None).await;
    story.exchange(&empty.exchange);
    let body = empty.exchange.body.clone().unwrap_or_default();
    if empty.exchange.status != Some(200)
        || body.get("orders") != Some(&json!([]))
        || body.get("next_cursor") != Some(&serde_json::Value::Null)
    {
        broken.push(
            "A customer without orders must get 200 with `orders: []` and `next_cursor: null`."
                .to_owned(),
        );
    }
    let unknown = w.page(customer + 1_000_000, None, None).await;
    story.exchange(&unknown.exchange);
    if unknown.exchange.status != Some(404) || !unknown.exchange.is_json_error() {
        broken.push("An unknown customer must get 404 with a JSON error.".to_owned());
    }
    for limit in ["0", "101", "-1", "abc", "", "1.5", "99999999999999999999"] {
        let page = w.page(customer, Some(limit), None).await;
        story.exchange(&page.exchange);
        if page.exchange.status != Some(400) || !page.exchange.is_json_error() {
            broken.push(format!("limit={limit:?} must get 400 with a JSON error."));
        }
    }
    let no_id = base64url(b"2026-11-29T10:00:00.000Z");
    let not_a_time = base64url(b"yesterday|42");
    let text = base64url(b"hello");
    // A time of the right length but the wrong shape, and a well-formed position with
    // one character more (no base64 text has a length of 4k + 1).
    let almost_a_time = base64url(b"2026-11-29 10:00:00.000Z|42");
    let one_char_more = format!("{}A", base64url(b"2026-11-29T10:00:00.000Z|42"));
    for cursor in [
        "not a cursor",
        "%%%",
        "AAAA",
        "",
        &no_id,
        &not_a_time,
        &text,
        &almost_a_time,
        &one_char_more,
    ] {
        let page = w.page(customer, Some("5"), Some(cursor)).await;
        story.exchange(&page.exchange);
        if page.exchange.status != Some(400) || !page.exchange.is_json_error() {
            broken.push(format!("cursor={cursor:?} must get 400 with a JSON error."));
        }
    }

    // Path ids, unknown paths and methods, as the brief's preamble says.
    let http = reqwest::Client::new();
    let url = w.svc.url();
    let unknown = customer + 1_000_000;
    let product_body = json!({ "price": 100 }).to_string();
    let cases: Vec<(reqwest::Method, String, Option<String>, u16)> = vec![
        (
            reqwest::Method::GET,
            "/customers/abc/orders".to_owned(),
            None,
            400,
        ),
        (reqwest::Method::GET, "/customers/1.5".to_owned(), None, 400),
        (reqwest::Method::GET, "/customers/abc".to_owned(), None, 400),
        (reqwest::Method::GET, "/products/x1".to_owned(), None, 400),
        (
            reqwest::Method::PUT,
            "/products/abc".to_owned(),
            Some(product_body.clone()),
            400,
        ),
        (
            reqwest::Method::GET,
            format!("/customers/{unknown}"),
            None,
            404,
        ),
        (
            reqwest::Method::GET,
            format!("/products/{unknown}"),
            None,
            404,
        ),
        (
            reqwest::Method::PUT,
            format!("/products/{unknown}"),
            Some(product_body),
            404,
        ),
        (reqwest::Method::GET, "/no-such-path".to_owned(), None, 404),
        (
            reqwest::Method::GET,
            format!("/customers/{customer}/orders/all"),
            None,
            404,
        ),
        (
            reqwest::Method::POST,
            format!("/customers/{customer}/orders"),
            None,
            405,
        ),
        (
            reqwest::Method::DELETE,
            format!("/products/{unknown}"),
            None,
            405,
        ),
    ];
    for (method, path, body, want) in cases {
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("content-type", "application/json")]
        } else {
            &[]
        };
        let x = send(
            w.timeline(),
            &http,
            method.clone(),
            &url,
            &path,
            headers,
            body,
        )
        .await;
        story.exchange(&x);
        if x.status != Some(want) || !x.is_json_error() {
            broken.push(format!(
                "{method} {path} must get {want} with a JSON error."
            ));
        }
    }
    Ok(verdict(story, broken))
}

/// The brief's page boundaries: `limit` 1 and 100 accepted; first, middle and last
/// pages; a last page exactly full (its `next_cursor` null, as no more orders follow)
/// and one order over; an empty history at both limits; `order_count` of the customers.
/// Every order has one line and its own instant, so only paging is judged here.
pub async fn page_boundaries(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let product = Product {
        id: w.fresh_id(),
        name: "Tea tin".to_owned(),
        price: 1_250,
    };
    // Customers with 101, 100, 3 and no orders.
    let sizes = [MAX_LIMIT + 1, MAX_LIMIT, 3, 0];
    let customers: Vec<i64> = sizes.iter().map(|_| w.fresh_id()).collect();
    let mut data = Dataset {
        customers: customers.clone(),
        products: vec![product.clone()],
        orders: Vec::new(),
    };
    let mut minute = 0;
    for (customer, size) in customers.iter().zip(sizes) {
        for n in 0..size {
            minute += 7;
            data.orders.push(Order {
                customer_id: *customer,
                placed_at: timestamp(minute),
                lines: vec![Line {
                    product_id: product.id,
                    quantity: 1 + (n as i64 % 5),
                    unit_price: product.price + n as i64,
                }],
            });
        }
    }
    w.write(&data)?;
    story.say(format!(
        "Customers {} have {} orders, one line each, each placed at its own instant.",
        customers
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        sizes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // (customer index, limit, the page sizes the brief implies).
    let walks: [(usize, Option<usize>, &[usize]); 10] = [
        (0, Some(MAX_LIMIT), &[100, 1]),
        (1, Some(MAX_LIMIT), &[100]),
        (1, None, &[20, 20, 20, 20, 20]),
        (1, Some(99), &[99, 1]),
        (2, Some(1), &[1, 1, 1]),
        (2, Some(2), &[2, 1]),
        (2, Some(3), &[3]),
        (2, Some(4), &[3]),
        (3, Some(1), &[0]),
        (3, Some(MAX_LIMIT), &[0]),
    ];
    for (who, limit, sizes) in walks {
        let customer = customers[who];
        let expected = w.expected(customer)?;
        let shown = limit.map_or("default".to_owned(), |l| l.to_string());
        story.say(format!(
            "Customer {customer} ({} orders), limit {shown}:",
            expected.len()
        ));
        let pages = walk_pages(&w, customer, limit, sizes.len() + 2).await;
        let size = limit.unwrap_or(DEFAULT_LIMIT);
        broken.extend(judge_walk(
            &pages,
            &expected,
            size,
            sizes.len() + 2,
            &mut story,
        ));
        let got: Vec<usize> = pages.iter().map(|p| p.orders().len()).collect();
        let cursors: Vec<bool> = pages.iter().map(|p| p.next_cursor().is_some()).collect();
        let want_cursors: Vec<bool> = (0..sizes.len()).map(|k| k + 1 < sizes.len()).collect();
        if got != sizes || cursors != want_cursors {
            broken.push(format!(
                "Customer {customer} with {} orders at limit {shown} must read as pages of {sizes:?} orders, `next_cursor` a string on every page but the last and null on the last; got pages of {got:?}, cursors {}.",
                expected.len(),
                cursors
                    .iter()
                    .map(|c| if *c { "string" } else { "null" })
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }

    for (customer, size) in customers.iter().zip(sizes) {
        let x = w.get(&format!("/customers/{customer}")).await.exchange;
        story.exchange(&x);
        if x.status != Some(200)
            || x.i64_field("id") != Some(*customer)
            || x.i64_field("order_count") != i64::try_from(size).ok()
        {
            broken.push(format!(
                "GET /customers/{customer} must answer 200 with `order_count` {size}."
            ));
        }
    }
    Ok(verdict(story, broken))
}

/// Walks a customer's pages like [`OrdersWorld::walk`], with the default page size
/// when `limit` is `None`.
async fn walk_pages(
    w: &OrdersWorld,
    customer: i64,
    limit: Option<usize>,
    max_pages: usize,
) -> Vec<Page> {
    let limit = limit.map(|l| l.to_string());
    let mut pages: Vec<Page> = Vec::new();
    let mut cursor: Option<String> = None;
    while pages.len() < max_pages {
        let page = w.page(customer, limit.as_deref(), cursor.as_deref()).await;
        cursor = page.continues();
        pages.push(page);
        if cursor.is_none() {
            break;
        }
    }
    pages
}

/// `PUT /products/{id}` at the brief's limits: a name of 1 and 200 characters (also
/// 200 multi-byte ones), a price of 0, fields left out or `null` kept — each applied
/// as asked; an empty or 201-character name, a negative, fractional or string price, a
/// name that is not a string, an unknown field, malformed and non-object JSON refused
/// with 400 (or 422) and a JSON error, the product unchanged.
pub async fn product_update_limits(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let id = w.fresh_id();
    let mut current = Product {
        id,
        name: "Teapot".to_owned(),
        price: 1_999,
    };
    w.write(&Dataset {
        products: vec![current.clone()],
        ..Dataset::default()
    })?;
    let http = reqwest::Client::new();
    let url = w.svc.url();
    let path = format!("/products/{id}");
    let json_header = [("content-type", "application/json")];

    let long_name = "n".repeat(MAX_NAME_CHARS);
    let wide_name = "é".repeat(MAX_NAME_CHARS);
    let accepted: Vec<(Value, Option<&str>, Option<i64>)> = vec![
        (json!({ "name": "A" }), Some("A"), None),
        (json!({ "name": long_name }), Some(&long_name), None),
        (json!({ "name": wide_name }), Some(&wide_name), None),
        (json!({ "price": 0 }), None, Some(0)),
        (
            json!({ "name": "Teapot, 1 l", "price": 2_199 }),
            Some("Teapot, 1 l"),
            Some(2_199),
        ),
        (json!({}), None, None),
        (json!({ "name": null, "price": null }), None, None),
        (json!({ "price": 2_500 }), None, Some(2_500)),
    ];
    for (body, name, price) in accepted {
        if let Some(name) = name {
            name.clone_into(&mut current.name);
        }
        if let Some(price) = price {
            current.price = price;
        }
        let x = w.put_product(id, &body).await;
        story.exchange(&x);
        let answered = x.status == Some(200)
            && x.i64_field("id") == Some(id)
            && x.str_field("name") == Some(current.name.as_str())
            && x.i64_field("price") == Some(current.price);
        if !answered {
            broken.push(format!(
                "PUT {path} with {body} is within the brief's limits and must answer 200 with the product as updated (name {:?}, price {}).",
                clip(&current.name),
                current.price
            ));
        }
        broken.extend(product_is(&w, &http, &url, &current, &mut story).await?);
    }

    let too_long = "n".repeat(MAX_NAME_CHARS + 1);
    let too_wide = "é".repeat(MAX_NAME_CHARS + 1);
    let refused: Vec<String> = vec![
        json!({ "name": "" }).to_string(),
        json!({ "name": too_long }).to_string(),
        json!({ "name": too_wide }).to_string(),
        json!({ "price": -1 }).to_string(),
        json!({ "name": "Kettle", "price": -1 }).to_string(),
        json!({ "price": 1.5 }).to_string(),
        json!({ "price": "100" }).to_string(),
        json!({ "name": 12 }).to_string(),
        json!({ "name": "Kettle", "colour": "red" }).to_string(),
        r#"{"name":"#.to_owned(),
        "[]".to_owned(),
        String::new(),
    ];
    for body in refused {
        let x = send(
            w.timeline(),
            &http,
            reqwest::Method::PUT,
            &url,
            &path,
            &json_header,
            Some(body.clone()),
        )
        .await;
        story.exchange(&x);
        if !matches!(x.status, Some(400 | 422)) || !x.is_json_error() {
            broken.push(format!(
                "PUT {path} with {} must get 400 (or 422) with a JSON error.",
                clip(&body)
            ));
        }
        broken.extend(product_is(&w, &http, &url, &current, &mut story).await?);
    }
    broken.dedup();
    Ok(verdict(story, broken))
}

/// The product as `GET /products/{id}` shows it and as the `products` table holds it
/// must both be `want`; returns what differs.
async fn product_is(
    w: &OrdersWorld,
    http: &reqwest::Client,
    url: &str,
    want: &Product,
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let mut broken = Vec::new();
    let path = format!("/products/{}", want.id);
    let x = send(
        w.timeline(),
        http,
        reqwest::Method::GET,
        url,
        &path,
        &[],
        None,
    )
    .await;
    if x.status != Some(200)
        || x.str_field("name") != Some(want.name.as_str())
        || x.i64_field("price") != Some(want.price)
    {
        story.exchange(&x);
        broken.push(format!(
            "GET {path} must show the product as last updated (name {:?}, price {}).",
            clip(&want.name),
            want.price
        ));
    }
    let row = read_product(w.svc.db(), want.id).map_err(|e| {
        let mut ev = Evidence::new();
        ev.say(format!(
            "The contract table `products` could not be read from the service's database: {e}"
        ));
        Problem::Service(ev)
    })?;
    if row.as_ref() != Some(&(want.name.clone(), want.price)) {
        story.say(format!(
            "The `products` row of {} holds {:?}.",
            want.id,
            row.map(|(n, p)| (clip(&n), p))
        ));
        broken.push(format!(
            "The `products` table must hold the product as last updated (name {:?}, price {}); a refused update changes nothing.",
            clip(&want.name),
            want.price
        ));
    }
    Ok(broken)
}

/// A product's name and price, read straight from the service's database.
fn read_product(db: &std::path::Path, id: i64) -> rusqlite::Result<Option<(String, i64)>> {
    use rusqlite::OptionalExtension;
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.query_row(
        "SELECT name, price FROM products WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// The first characters of a long value, for evidence.
fn clip(s: &str) -> String {
    let chars = s.chars().count();
    if chars > 24 {
        format!(
            "{}… ({chars} characters)",
            s.chars().take(12).collect::<String>()
        )
    } else {
        s.to_owned()
    }
}

/// URL-safe base64 without padding, as the service's cursors are written: for
/// cursors that are valid base64 but not a position the service issued.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

/// A product renamed through the API shows its new name on the very next request.
pub async fn rename_shows_on_next_request(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let mut story = Evidence::new();
    let customer = w.fresh_id();
    let product = Product {
        id: w.fresh_id(),
        name: "Kettle".to_owned(),
        price: 4_200,
    };
    let orders = (0..3)
        .map(|n| Order {
            customer_id: customer,
            placed_at: timestamp(n * 60),
            lines: vec![Line {
                product_id: product.id,
                quantity: 1 + n,
                unit_price: 4_000,
            }],
        })
        .collect();
    w.write(&Dataset {
        customers: vec![customer],
        products: vec![product.clone()],
        orders,
    })?;
    let mut broken = Vec::new();
    let before = w.page(customer, None, None).await;
    story.exchange(&before.exchange);
    let renamed = w
        .put_product(
            product.id,
            &json!({ "name": "Kettle (2 l, steel)", "price": 4_500 }),
        )
        .await;
    story.exchange(&renamed);
    if renamed.status != Some(200) {
        broken.push("PUT /products/{id} with a new name and price must answer 200.".to_owned());
    }
    let after = w.page(customer, None, None).await;
    story.exchange(&after.exchange);
    let expected = w.expected(customer)?;
    broken.extend(judge_walk(&[after], &expected, 20, 1, &mut story));

    // The back office renames products straight in the database (see the brief).
    w.rename_in_db(product.id, "Kettle, back-office name")?;
    story.say(format!(
        "The back office renamed product {} directly in the database.",
        product.id
    ));
    let direct = w.page(customer, None, None).await;
    story.exchange(&direct.exchange);
    let expected = w.expected(customer)?;
    broken.extend(judge_walk(&[direct], &expected, 20, 1, &mut story));

    // Checkout writes straight into the tables too: a line added to an order already
    // shown, and a new order of many lines, show up on the next request, whole.
    let extra = Line {
        product_id: product.id,
        quantity: 2,
        unit_price: 4_100,
    };
    w.add_line_in_db(customer, &extra)?;
    let big = Order {
        customer_id: customer,
        placed_at: timestamp(10 * 60),
        lines: (0..25)
            .map(|n| Line {
                product_id: product.id,
                quantity: 1 + n % 3,
                unit_price: 4_000 + n,
            })
            .collect(),
    };
    w.write(&Dataset {
        customers: Vec::new(),
        products: Vec::new(),
        orders: vec![big],
    })?;
    story.say(
        "Checkout added a line to the latest order already shown, and placed an order of 25 lines, straight in the database.",
    );
    let grown = w.page(customer, None, None).await;
    story.exchange(&grown.exchange);
    let expected = w.expected(customer)?;
    broken.extend(judge_walk(&[grown], &expected, 20, 1, &mut story));
    // The large order alone on a page of one: every one of its lines, and its total.
    let single = w.page(customer, Some("1"), None).await;
    story.exchange(&single.exchange);
    match (single.orders().first(), expected.first()) {
        (Some(got), Some(want)) if got != want => broken.push(format!(
            "With limit=1 the newest order (25 lines) must be shown whole; it differs from the database (expected {} lines, got {}).",
            want.get("lines").and_then(Value::as_array).map_or(0, Vec::len),
            got.get("lines").and_then(Value::as_array).map_or(0, Vec::len)
        )),
        (None, Some(_)) => broken.push(format!(
            "With limit=1 the first page must hold the newest order: {}",
            single.exchange
        )),
        _ => {}
    }
    Ok(verdict(story, broken))
}

/// The kit's statement accounting is intact after real traffic: a page request, then
/// the canary with its known count, and every line of the stats file the kit's own, in
/// sequence, with no tampering noticed.
pub async fn statement_accounting(env: CheckEnv) -> CheckResult {
    let mut w = OrdersWorld::start(env).await?;
    let customer = w.fresh_id();
    let product = Product {
        id: w.fresh_id(),
        name: "Teapot".to_owned(),
        price: 1_500,
    };
    let orders = (0..3)
        .map(|n| Order {
            customer_id: customer,
            placed_at: timestamp(n * 60),
            lines: vec![Line {
                product_id: product.id,
                quantity: 1 + n,
                unit_price: 1_500,
            }],
        })
        .collect();
    w.write(&Dataset {
        customers: vec![customer],
        products: vec![product],
        orders,
    })?;
    let page = w.page(customer, None, None).await;
    let canary = crate::checks::kit_canary(&w.svc.url()).await;
    let Verdict::Pass(mut story) = canary else {
        return Ok(canary);
    };
    story.say(format!(
        "{} → {}",
        page.exchange.request_line,
        page.exchange
            .status
            .map_or("no response".to_owned(), |s| s.to_string())
    ));
    let broken = match w.accounts().await.and_then(|a| a.of(&page.request_id)) {
        Ok(_) => Vec::new(),
        Err(reason) => vec![format!(
            "Statement accounting was tampered with ({reason})."
        )],
    };
    Ok(verdict(story, broken))
}
