//! Contract checks (public): the list endpoint answers correctly.

use serde_json::json;

use crate::checks::orders::dataset::{Dataset, Line, Order, Product, timestamp};
use crate::checks::orders::world::{OrdersWorld, judge_walk};
use crate::checks::{CheckEnv, CheckResult, Evidence, Verdict, verdict};

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

/// An empty customer, an unknown customer, bad limits and a bad cursor.
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
    for limit in ["0", "101", "-1", "abc"] {
        let page = w.page(customer, Some(limit), None).await;
        story.exchange(&page.exchange);
        if page.exchange.status != Some(400) || !page.exchange.is_json_error() {
            broken.push(format!("limit={limit:?} must get 400 with a JSON error."));
        }
    }
    for cursor in ["not a cursor", "%%%", "AAAA"] {
        let page = w.page(customer, Some("5"), Some(cursor)).await;
        story.exchange(&page.exchange);
        if page.exchange.status != Some(400) || !page.exchange.is_json_error() {
            broken.push(format!("cursor={cursor:?} must get 400 with a JSON error."));
        }
    }
    Ok(verdict(story, broken))
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
