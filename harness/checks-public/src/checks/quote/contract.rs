//! Contract checks (public): the quote service prices products while pricing is healthy.

use crate::checks::quote::world::{QuoteWorld, judge_quote};
use crate::checks::{CheckEnv, CheckResult, Evidence, kit_canary, verdict};

/// A healthy quote carries pricing's price; the product page and health answer.
pub async fn healthy_quote(env: CheckEnv) -> CheckResult {
    let mut w = QuoteWorld::start(&env, "world").await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let sku = w.skus[0].clone();
    let qty = 1 + w.rng().below(20) as u32;
    let page = w.get(&format!("/products/{sku}")).await;
    story.say(page.to_string());
    if page.x.status != Some(200)
        || page.x.str_field("sku") != Some(sku.as_str())
        || page.x.body.as_ref().and_then(|b| b.get("last_quoted")) != Some(&serde_json::Value::Null)
    {
        broken.push(format!(
            "GET /products/{sku} must answer 200 with the product and `last_quoted: null` before any quote."
        ));
    }
    let quote = w.quote(&sku, qty).await;
    story.say(quote.to_string());
    let unit = quote.x.i64_field("unit_price").unwrap_or_default();
    if quote.x.status != Some(200) || quote.x.str_field("valid_until").is_none() {
        broken.push(format!(
            "GET /quotes/{sku}?qty={qty} must answer 200 with pricing's price, the total and `valid_until`."
        ));
    } else {
        broken.extend(judge_quote(&quote, &sku, qty, &w.pricing));
    }
    let page = w.get(&format!("/products/{sku}")).await;
    story.say(page.to_string());
    let last = page
        .x
        .body
        .as_ref()
        .and_then(|b| b.get("last_quoted"))
        .and_then(|l| l.get("unit_price"))
        .and_then(|p| p.as_i64());
    if last != Some(unit) {
        broken.push(
            "After a quote, the product page's `last_quoted` must show its unit price.".to_owned(),
        );
    }
    let health = w.get("/health").await;
    story.say(health.to_string());
    if health.x.status != Some(200) || health.x.str_field("status") != Some("ok") {
        broken.push("GET /health must answer 200 with `status: ok`.".to_owned());
    }
    let calls = w.pricing.price_calls().len();
    story.say(format!("Pricing received {calls} price call(s)."));
    if calls != 1 {
        broken.push(format!(
            "One healthy quote must make exactly one call to pricing, made {calls}."
        ));
    }
    Ok(verdict(story, broken))
}

/// The largest quantity one quote may cover.
const MAX_QTY: u32 = 1000;

/// A quantity at each end of the brief's range (1 and 1000) is priced by pricing for
/// exactly that quantity: one call each, and a 200 carrying the price pricing served
/// for that SKU and quantity, with its total.
pub async fn quantity_limits(env: CheckEnv) -> CheckResult {
    let w = QuoteWorld::start(&env, "world").await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    for (sku, qty) in [(&w.skus[0], 1), (&w.skus[1], MAX_QTY)] {
        let before = w.pricing.price_calls().len();
        let t = w.quote(sku, qty).await;
        story.say(t.x.to_string());
        let calls: Vec<_> = w.pricing.price_calls().into_iter().skip(before).collect();
        let served: Vec<i64> = calls
            .iter()
            .filter(|c| c.sku.as_deref() == Some(sku.as_str()) && c.qty == Some(qty))
            .filter_map(|c| c.served_price)
            .collect();
        story.say(format!(
            "Pricing received {} price call(s) for it; unit prices served for {sku} × {qty}: {served:?}.",
            calls.len()
        ));
        let unit = t.x.i64_field("unit_price");
        let honest = t.x.status == Some(200)
            && unit.is_some_and(|u| served.contains(&u))
            && t.x.str_field("sku") == Some(sku.as_str())
            && t.x.i64_field("qty") == Some(i64::from(qty))
            && t.x.i64_field("total") == unit.map(|u| u * i64::from(qty))
            && t.x.str_field("currency").is_some()
            && t.x.str_field("valid_until").is_some();
        if !honest {
            broken.push(format!(
                "qty={qty} is within 1–{MAX_QTY}: GET /quotes/{sku}?qty={qty} must answer 200 with the unit price pricing gave for {sku} × {qty}, the total, `currency` and `valid_until`."
            ));
        }
        if calls.len() != 1 || served.len() != 1 {
            broken.push(format!(
                "A healthy quote for qty={qty} must make exactly one call to pricing, for {sku} × {qty}; it made {} call(s), {} of them for that quantity.",
                calls.len(),
                served.len()
            ));
        }
    }
    Ok(verdict(story, broken))
}

/// Unknown SKUs and quantities outside 1–1000 or not integers are refused, with the
/// status and error code the brief gives, without bothering pricing.
pub async fn rejects_invalid_requests(env: CheckEnv) -> CheckResult {
    let w = QuoteWorld::start(&env, "world").await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let sku = &w.skus[0];
    let unknown = (404, "unknown_sku");
    let invalid = (400, "invalid_request");
    let mut cases: Vec<(String, (u16, &str))> = vec![
        ("/quotes/SKU-NOT-IN-CATALOGUE?qty=1".to_owned(), unknown),
        ("/products/SKU-NOT-IN-CATALOGUE".to_owned(), unknown),
        (format!("/quotes/{sku}"), invalid),
    ];
    for qty in [
        "0",
        "-1",
        "1001",
        "1.5",
        "abc",
        "",
        // 2^32 + 1: an integer far outside the range, whatever a quantity is stored in.
        "4294967297",
        "99999999999999999999",
    ] {
        cases.push((format!("/quotes/{sku}?qty={qty}"), invalid));
    }
    for (path, (status, code)) in &cases {
        let t = w.get(path).await;
        story.say(t.to_string());
        let got_code =
            t.x.body
                .as_ref()
                .and_then(|b| b.get("error"))
                .and_then(|e| e.get("code"))
                .and_then(|c| c.as_str());
        if t.x.status != Some(*status) || !t.x.is_json_error() || got_code != Some(code) {
            broken.push(format!(
                "GET {path} must answer {status} with a JSON error of code `{code}`."
            ));
        }
    }
    let calls = w.pricing.price_calls().len();
    if calls != 0 {
        broken.push(format!(
            "Requests refused before pricing is needed must not call it; it received {calls} call(s)."
        ));
    }
    Ok(verdict(story, broken))
}

/// The kit's statement accounting is intact.
pub async fn statement_accounting(env: CheckEnv) -> CheckResult {
    let w = QuoteWorld::start(&env, "world").await?;
    Ok(kit_canary(&w.svc.url()).await)
}
