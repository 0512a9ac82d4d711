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

/// Unknown SKUs and bad quantities are refused without bothering pricing.
pub async fn rejects_invalid_requests(env: CheckEnv) -> CheckResult {
    let w = QuoteWorld::start(&env, "world").await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let sku = &w.skus[0];
    let cases: Vec<(String, u16)> = vec![
        ("/quotes/SKU-NOT-IN-CATALOGUE?qty=1".to_owned(), 404),
        ("/products/SKU-NOT-IN-CATALOGUE".to_owned(), 404),
        (format!("/quotes/{sku}?qty=0"), 400),
        (format!("/quotes/{sku}?qty=-1"), 400),
        (format!("/quotes/{sku}?qty=1001"), 400),
        (format!("/quotes/{sku}?qty=1.5"), 400),
        (format!("/quotes/{sku}?qty=abc"), 400),
        (format!("/quotes/{sku}"), 400),
    ];
    for (path, want) in &cases {
        let t = w.get(path).await;
        story.say(t.to_string());
        if t.x.status != Some(*want) || !t.x.is_json_error() {
            broken.push(format!("GET {path} must answer {want} with a JSON error."));
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
