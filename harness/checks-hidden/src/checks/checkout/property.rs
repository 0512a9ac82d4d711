//! The validation property: random carts — mostly valid, some with a bad quantity, an
//! unknown SKU or one of the brief's rules broken — each sent with a fresh key. Valid
//! carts must become paid orders at the right price; every bad one must be refused with
//! 400/404/422 and leave nothing behind; after every cart, all stock is accounted for.

use std::sync::Arc;

use proptest::prelude::*;
use tokio::sync::Mutex;

use crate::checks::checkout::carts::{
    Breaker, breakers, refused_cleanly, stock_near_cap, stock_pricey,
};
use crate::checks::checkout::world::{CheckoutWorld, Scope};
use crate::checks::property::{Found, search, shrunk_verdict};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict};
use crate::seed::SeedRng;

/// Products a generated cart picks from; index `PRODUCTS` stands for an unknown SKU.
const PRODUCTS: usize = 4;
/// Random carts per run.
const CASES: u32 = 40;

/// One generated cart.
#[derive(Debug, Clone)]
struct GenCart {
    /// (product index, quantity); product index `PRODUCTS` is an unknown SKU.
    lines: Vec<(usize, i64)>,
    /// One of the brief's rules broken ([`breakers`] index), or none.
    broken_rule: Option<usize>,
    /// The same cart bought again under a new key, as a customer who orders the same
    /// thing twice does: a second order, charged again.
    again: bool,
}

fn cart_strategy(rules: usize) -> impl Strategy<Value = GenCart> {
    let quantity = prop_oneof![
        12 => 1i64..=5,
        1 => Just(0i64),
        1 => -100i64..=-1,
        1 => 101i64..=1_000_000,
    ];
    let product = prop_oneof![12 => 0..PRODUCTS, 1 => Just(PRODUCTS)];
    let rule = prop_oneof![5 => Just(None), 1 => (0..rules).prop_map(Some)];
    let again = prop_oneof![4 => Just(false), 1 => Just(true)];
    (
        proptest::collection::vec((product, quantity), 1..=4),
        rule,
        again,
    )
        .prop_map(|(lines, broken_rule, again)| GenCart {
            lines,
            broken_rule,
            again,
        })
}

impl GenCart {
    fn valid(&self) -> bool {
        self.broken_rule.is_none()
            && self
                .lines
                .iter()
                .all(|(p, q)| *p < PRODUCTS && (1..=100).contains(q))
    }
}

/// Runs [`CASES`] random carts.
pub async fn random_carts(env: CheckEnv) -> CheckResult {
    let replay = env.replay.clone();
    let seed_bytes = SeedRng::new(env.seed).bytes32();
    let mut w = CheckoutWorld::start(env).await?;
    let skus = w.stock_products(PRODUCTS, 1_000_000)?;
    let pricey = stock_pricey(&mut w, 1_000_000)?;
    let near_cap = stock_near_cap(&mut w, 1_000_000)?;
    let rules = Arc::new(breakers(&skus[0], &pricey, &near_cap));
    let world = Arc::new(Mutex::new((w, skus)));
    let (runner_world, runner_rules) = (Arc::clone(&world), Arc::clone(&rules));
    let found = search(
        cart_strategy(rules.len()),
        CASES,
        64,
        seed_bytes,
        move |_, cart| {
            let (world, rules) = (Arc::clone(&runner_world), Arc::clone(&runner_rules));
            async move {
                let mut guard = world.lock().await;
                let (w, skus) = &mut *guard;
                Ok(run_case(w, skus, &rules, &cart).await?.0)
            }
        },
    )
    .await?;
    let Some(Found {
        input: minimal,
        broke,
    }) = found
    else {
        let mut story = Evidence::new();
        story.say(format!(
            "{CASES} random carts (valid, bad quantities, unknown SKUs, broken rules): every valid one paid at the right price, every bad one refused with nothing left behind."
        ));
        return Ok(Verdict::Pass(story));
    };
    let mut guard = world.lock().await;
    let (w, skus) = &mut *guard;
    let mut story = Evidence::new();
    story.say(format!(
        "Shrunk failing cart: lines {:?} (product, quantity; product {PRODUCTS} is unknown){}{}.",
        minimal.lines,
        minimal
            .broken_rule
            .map_or(String::new(), |r| format!(", with {}", rules[r].what)),
        if minimal.again {
            ", bought twice under two keys"
        } else {
            ""
        }
    ));
    shrunk_verdict(
        story,
        "cart",
        &replay,
        &broke,
        run_case(w, skus, &rules, &minimal).await,
    )
}

async fn run_case(
    w: &mut CheckoutWorld,
    skus: &[String],
    rules: &[Breaker],
    case: &GenCart,
) -> Result<(Vec<String>, Evidence), Problem> {
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let lines: Vec<(String, i64)> = case
        .lines
        .iter()
        .map(|(p, q)| {
            let sku = skus
                .get(*p)
                .cloned()
                .unwrap_or_else(|| "SKU-UNKNOWN-1".to_owned());
            (sku, *q)
        })
        .collect();
    let refs: Vec<(&str, i64)> = lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
    let cart = w.cart(&refs);
    let key = w.new_key();
    let mut keys = vec![key.clone()];
    let before = w.stock_ledger()?;
    if case.valid() {
        let x = w.checkout(&key, &cart).await;
        story.exchange(&x);
        if x.status != Some(201) {
            broken.push(format!("A valid cart ({cart}) must be answered 201: {x}"));
        }
        broken.extend(w.judge_answer(&cart, &x));
        if case.again {
            let key2 = w.new_key();
            let y = w.checkout(&key2, &cart).await;
            story.exchange(&y);
            if y.status != Some(201) {
                broken.push(format!(
                    "The same cart bought again under a new key ({key2}) is a new order and must be answered 201: {y}"
                ));
            } else if y.str_field("id").is_some() && y.str_field("id") == x.str_field("id") {
                broken.push(format!(
                    "The same cart bought again under a new key ({key2}) must be a new order, not the first one again: {y}"
                ));
            }
            broken.extend(w.judge_answer(&cart, &y));
            keys.push(key2);
        }
    } else {
        let mut body = cart.value();
        if let Some(rule) = case.broken_rule.and_then(|r| rules.get(r)) {
            body = (rule.edit)(&body);
        }
        let x = w.checkout_raw(&key, &body).await;
        story.exchange(&x);
        if !refused_cleanly(&x) {
            broken.push(format!(
                "A bad cart was answered {}; the brief requires 400 or 422 (404 for an unknown SKU) with a JSON error.",
                x.status.map_or("nothing".to_owned(), |s| s.to_string())
            ));
        }
        broken.extend(w.left_behind(&key)?);
    }
    // This cart's effect on stock alone: a valid one takes its quantities off the
    // shelf into its order, a bad one leaves the shelf as it was.
    let after = w.stock_ledger()?;
    for (sku, (shelf, held)) in &after {
        let (shelf0, held0) = before.get(sku).copied().unwrap_or_default();
        let taken: i64 = if case.valid() {
            cart.lines
                .iter()
                .filter(|l| &l.sku == sku)
                .map(|l| l.quantity)
                .sum::<i64>()
                * keys.len() as i64
        } else {
            0
        };
        if shelf + held != shelf0 + held0 || shelf0 - shelf != taken {
            broken.push(format!(
                "{sku}: the cart moved its stock from {shelf0} on the shelf and {held0} held by orders to {shelf} and {held}; it should have taken {taken} off the shelf into its order."
            ));
        }
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    broken.extend(w.judge_keys(Scope::All, &keys)?);
    Ok((broken, story))
}
