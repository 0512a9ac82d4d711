//! Contract checks (public): the service does the job the brief describes when nothing
//! goes wrong. The pristine exercise passes all of them.

use crate::checks::checkout::world::{CheckoutWorld, with_field};
use crate::checks::{CheckEnv, CheckResult, Evidence, kit_canary, verdict};
use crate::fakes::payment_provider::MAX_KEY_CHARS;

/// Units of every product the contract checks stock.
const STOCK: i64 = 50;

/// A two-line cart is checked out: 201 with the order, the order readable, the stock
/// taken, the card charged once for the total, shipping asked for the cart's weight, and
/// a replay with the same key answers 200 with the same order.
pub async fn happy_path(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(3, STOCK)?;
    let cart = w.cart(&[(&skus[0], 2), (&skus[1], 1)]);
    let key = w.new_key();
    let x = w.checkout(&key, &cart).await;
    story.exchange(&x);
    if x.status != Some(201) {
        broken.push(format!(
            "A valid checkout ({cart}) must be answered 201 with the order."
        ));
        return Ok(verdict(story, broken));
    }
    broken.extend(w.judge_answer(&cart, &x));
    let id = x.str_field("id").unwrap_or_default().to_owned();

    let got = w.get(&format!("/orders/{id}")).await;
    story.exchange(&got);
    if got.status != Some(200) || got.str_field("id") != Some(id.as_str()) {
        broken.push(format!("GET /orders/{id} must answer 200 with the order."));
    }
    let missing = w.get("/orders/ord_does_not_exist").await;
    story.exchange(&missing);
    if missing.status != Some(404) || !missing.is_json_error() {
        broken.push("GET /orders/{unknown id} must answer 404 with a JSON error.".to_owned());
    }

    let replay = w.checkout(&key, &cart).await;
    story.exchange(&replay);
    if replay.status != Some(200) || replay.str_field("id") != Some(id.as_str()) {
        broken.push(
            "A retry with the same key and cart must answer 200 with the original order."
                .to_owned(),
        );
    }

    let charges = w.provider.charges_for(&cart.customer_id);
    let price = w.price(&cart);
    story.say(format!(
        "Provider charges for {}: {:?}; the cart costs {} + {} shipping.",
        cart.customer_id,
        charges.iter().map(|c| c.amount).collect::<Vec<_>>(),
        price.subtotal,
        price.shipping
    ));
    let weight: i64 = cart
        .lines
        .iter()
        .filter_map(|l| w.product(&l.sku).map(|p| p.weight_grams * l.quantity))
        .sum();
    let asked = w.shipping.calls();
    if !asked.iter().any(|c| {
        c.weight_grams == Some(weight)
            && c.country.as_deref() == Some(cart.shipping_address.country.as_str())
    }) {
        broken.push(format!(
            "Shipping-rates was never asked for the cart's {weight} g to {}: {asked:?}.",
            cart.shipping_address.country
        ));
    }

    // The longest key the brief allows: whatever key the service sends the provider
    // must fit the provider's own 255 characters.
    let mut long = w.new_key();
    long.extend(std::iter::repeat_n(
        'k',
        255usize.saturating_sub(long.len()),
    ));
    let cart = w.cart(&[(&skus[2], 1)]);
    let x = w.checkout(&long, &cart).await;
    story.exchange(&x);
    if x.status != Some(201) {
        broken.push(format!(
            "A valid checkout under a 255-character Idempotency-Key (the longest the brief allows) must be answered 201: {x}"
        ));
        let longest = w
            .provider
            .calls()
            .iter()
            .filter_map(|c| c.idempotency_key.as_ref().map(|k| k.chars().count()))
            .max()
            .unwrap_or(0);
        if longest > MAX_KEY_CHARS {
            story.say(format!(
                "The service sent the provider an Idempotency-Key of {longest} characters; the provider refuses keys over {MAX_KEY_CHARS}."
            ));
        }
    }
    broken.extend(w.judge()?);
    Ok(verdict(story, broken))
}

/// Requests that are not a checkout at all — no or an over-long Idempotency-Key,
/// malformed JSON, missing fields — get 400 (422 for a body that parses) with a JSON
/// error, charge nothing and change nothing.
pub async fn rejects_malformed_requests(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(1, STOCK)?;
    let cart = w.cart(&[(&skus[0], 1)]);
    let client = w.client();
    let url = w.svc.url();

    let no_key = client
        .post_with(&url, &[("content-type", "application/json")], &cart.json())
        .await;
    let long_key = "k".repeat(256);
    let too_long = client.checkout(&url, &long_key, &cart.json()).await;
    for (what, x) in [
        ("without an Idempotency-Key", &no_key),
        ("with a 256-character Idempotency-Key", &too_long),
    ] {
        story.exchange(x);
        if x.status != Some(400) || !x.is_json_error() {
            broken.push(format!(
                "A checkout {what} must be answered 400 with a JSON error."
            ));
        }
    }
    let malformed = [
        ("malformed JSON", "{\"customer_id\": ".to_owned()),
        (
            "no lines",
            with_field(&cart.value(), "lines", None).to_string(),
        ),
        (
            "no shipping address",
            with_field(&cart.value(), "shipping_address", None).to_string(),
        ),
        (
            "a string quantity",
            with_field(&cart.value(), "lines.0.quantity", Some("two".into())).to_string(),
        ),
    ];
    for (what, body) in malformed {
        let key = w.new_key();
        let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
        let x = w.client().checkout(&url, &key, &body).await;
        w.record(&key, None, &value, &x);
        story.exchange(&x);
        if !matches!(x.status, Some(400 | 422)) || !x.is_json_error() {
            broken.push(format!(
                "A checkout with {what} must be answered 400 (or 422) with a JSON error."
            ));
        }
    }
    if !w.provider.calls().is_empty() {
        broken.push(format!(
            "The payment provider was called {} time(s) for requests that were not checkouts.",
            w.provider.calls().len()
        ));
    }
    broken.extend(w.judge()?);
    Ok(verdict(story, broken))
}

/// A line asking for more than the shelf holds gets 409 with a JSON error and changes
/// nothing; the whole stock can be sold; then one more unit is refused.
pub async fn out_of_stock(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(1, 5)?;
    // (units on the shelf, units asked for, the answer the brief gives)
    let steps = [(5, 6, 409), (5, 5, 201), (0, 1, 409)];
    for (shelf, quantity, want) in steps {
        let cart = w.cart(&[(&skus[0], quantity)]);
        let key = w.new_key();
        let x = w.checkout(&key, &cart).await;
        story.exchange(&x);
        if x.status != Some(want) || (want == 409 && !x.is_json_error()) {
            broken.push(format!(
                "With {shelf} on the shelf, a checkout of {quantity} must be answered {want}{}.",
                if want == 409 {
                    " with a JSON error"
                } else {
                    ""
                }
            ));
        }
        broken.extend(w.judge_answer(&cart, &x));
    }
    broken.extend(w.judge()?);
    Ok(verdict(story, broken))
}

/// The kit's SQL statement accounting is intact.
pub async fn statement_accounting(env: CheckEnv) -> CheckResult {
    let w = CheckoutWorld::start(env).await?;
    Ok(kit_canary(&w.svc.url()).await)
}
