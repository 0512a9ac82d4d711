//! The equivalence property: random datasets (orders without lines, equal timestamps,
//! unicode names, large quantities and prices, renames through the API, many pages)
//! read page by page must equal what the harness computes from the database itself.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use tokio::sync::Mutex;

use crate::checks::orders::dataset::{Dataset, Line, Order, Product, timestamp};
use crate::checks::orders::world::{OrdersWorld, judge_walk};
use crate::checks::property::{Found, search, shrunk_verdict};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict};
use crate::seed::SeedRng;

const NAMES: [&str; 8] = [
    "Teapot",
    "Crème brûlée set",
    "東京 mug",
    "🚀 rocket lamp",
    "quote \" and \\ backslash",
    "  spaced  out  ",
    "x",
    "Ünïcödé tea towel",
];
const PRODUCTS: usize = 5;

/// One generated order.
#[derive(Debug, Clone)]
struct GenOrder {
    /// Few distinct minutes, so equal timestamps are common.
    minute: i64,
    /// (product index, quantity, unit price).
    lines: Vec<(usize, i64, i64)>,
}

/// One generated case.
#[derive(Debug, Clone)]
struct GenCase {
    orders: Vec<GenOrder>,
    /// (product index, name index) renames applied through the API before reading.
    renames: Vec<(usize, usize)>,
    limit: usize,
}

fn case_strategy() -> impl Strategy<Value = GenCase> {
    let line = (0..PRODUCTS, 1i64..=1_000_000, 0i64..=1_000_000_000);
    let order = (0i64..6, proptest::collection::vec(line, 0..4))
        .prop_map(|(minute, lines)| GenOrder { minute, lines });
    (
        proptest::collection::vec(order, 0..30),
        proptest::collection::vec((0..PRODUCTS, 0..NAMES.len()), 0..3),
        1usize..=10,
    )
        .prop_map(|(orders, renames, limit)| GenCase {
            orders,
            renames,
            limit,
        })
}

/// Runs `cases` random datasets.
pub async fn equivalence(env: CheckEnv, cases: u32) -> CheckResult {
    let replay = env.replay.clone();
    let seed_bytes = SeedRng::new(env.seed).bytes32();
    let world = Arc::new(Mutex::new(OrdersWorld::start(env).await?));
    let runner_world = Arc::clone(&world);
    let found = search(case_strategy(), cases, 64, seed_bytes, move |_, case| {
        let world = Arc::clone(&runner_world);
        async move {
            let mut w = world.lock().await;
            Ok(run_case(&mut w, &case).await?.0)
        }
    })
    .await?;
    match found {
        None => {
            let mut story = Evidence::new();
            story.say(format!(
                "{cases} random datasets read page by page matched the database."
            ));
            Ok(Verdict::Pass(story))
        }
        Some(Found {
            input: minimal,
            broke,
        }) => {
            let mut w = world.lock().await;
            let mut story = Evidence::new();
            story.say(format!(
                "Shrunk failing dataset: {} order(s), page size {}, renames {:?}:",
                minimal.orders.len(),
                minimal.limit,
                minimal
                    .renames
                    .iter()
                    .map(|(p, n)| format!("product {p} → {:?}", NAMES[*n]))
                    .collect::<Vec<_>>()
            ));
            for (n, o) in minimal.orders.iter().enumerate() {
                story.say(format!(
                    "  order {}: placed at {}, lines {:?} (product, quantity, unit price)",
                    n + 1,
                    timestamp(o.minute),
                    o.lines
                ));
            }
            shrunk_verdict(
                story,
                "dataset",
                &replay,
                &broke,
                run_case(&mut w, &minimal).await,
            )
        }
    }
}

async fn run_case(w: &mut OrdersWorld, case: &GenCase) -> Result<(Vec<String>, Evidence), Problem> {
    let mut story = Evidence::new();
    let customer = w.fresh_id();
    let products: Vec<Product> = (0..PRODUCTS)
        .map(|k| Product {
            id: w.fresh_id(),
            name: NAMES[k].to_owned(),
            price: 1_000 + k as i64,
        })
        .collect();
    let orders = case
        .orders
        .iter()
        .map(|o| Order {
            customer_id: customer,
            placed_at: timestamp(o.minute),
            lines: o
                .lines
                .iter()
                .map(|(p, quantity, unit_price)| Line {
                    product_id: products[*p].id,
                    quantity: *quantity,
                    unit_price: *unit_price,
                })
                .collect(),
        })
        .collect();
    w.write(&Dataset {
        customers: vec![customer],
        products: products.clone(),
        orders,
    })?;
    let mut broken = Vec::new();
    for (p, n) in &case.renames {
        let x = w
            .put_product(products[*p].id, &json!({ "name": NAMES[*n] }))
            .await;
        story.exchange(&x);
        if x.status != Some(200) {
            broken.push(format!("Renaming a product failed: {x}"));
        }
    }
    let expected = w.expected(customer)?;
    let max_pages = case.orders.len() / case.limit + 3;
    let pages = w.walk(customer, case.limit, max_pages).await;
    broken.extend(judge_walk(
        &pages, &expected, case.limit, max_pages, &mut story,
    ));
    Ok((broken, story))
}
