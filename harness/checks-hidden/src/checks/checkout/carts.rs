//! Bad carts: the brief's cart and address rules, each broken on an otherwise valid
//! cart. Shared by the fixed list of bad carts and the property over random carts.

use serde_json::{Value, json};

use crate::checks::Problem;
use crate::checks::checkout::world::{CheckoutWorld, MAX_TOTAL, lines_json, with_field};
use crate::checks::http::Exchange;

/// One rule of the brief, broken.
pub struct Breaker {
    /// What is wrong with the cart, in the brief's words.
    pub what: &'static str,
    /// Turns a valid cart's JSON into one that breaks the rule.
    pub edit: Box<dyn Fn(&Value) -> Value + Send + Sync>,
}

fn set(what: &'static str, path: &'static str, value: Value) -> Breaker {
    Breaker {
        what,
        edit: Box::new(move |b| with_field(b, path, Some(value.clone()))),
    }
}

fn lines(what: &'static str, lines: Vec<(String, i64)>) -> Breaker {
    Breaker {
        what,
        edit: Box::new(move |b| {
            let refs: Vec<(&str, i64)> = lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
            with_field(b, "lines", Some(lines_json(&refs)))
        }),
    }
}

/// Every rule broken once. `sku` is any stocked product; `pricey` one whose two units
/// exceed the total cap (see [`stock_pricey`]); `near_cap` one priced just under the
/// cap, so only the shipping takes its order over it (see [`stock_near_cap`]).
pub fn breakers(sku: &str, pricey: &str, near_cap: &str) -> Vec<Breaker> {
    vec![
        set("a quantity of 0", "lines.0.quantity", json!(0)),
        set("a negative quantity (-3)", "lines.0.quantity", json!(-3)),
        set("a quantity of 101", "lines.0.quantity", json!(101)),
        set(
            "a quantity of 10^15",
            "lines.0.quantity",
            json!(1_000_000_000_000_000_i64),
        ),
        set("an unknown SKU", "lines.0.sku", json!("SKU-NOPE-404")),
        lines(
            "an unknown SKU next to a known one",
            vec![(sku.to_owned(), 1), ("SKU-NOPE-405".to_owned(), 1)],
        ),
        set("no lines", "lines", json!([])),
        lines("51 lines", vec![(sku.to_owned(), 1); 51]),
        lines("a total over 500000 cents", vec![(pricey.to_owned(), 2)]),
        lines(
            "items under 500000 cents whose shipping takes the total over it",
            vec![(near_cap.to_owned(), 1)],
        ),
        set("an empty customer_id", "customer_id", json!("")),
        Breaker {
            what: "a 65-character customer_id",
            edit: Box::new(|b| {
                let id = b["customer_id"].as_str().unwrap_or("c");
                let long = format!("{id}{}", "x".repeat(65usize.saturating_sub(id.len())));
                with_field(b, "customer_id", Some(json!(long)))
            }),
        },
        set(
            "a payment method without pm_",
            "payment_method",
            json!("card_4242"),
        ),
        set(
            "a payment method of only pm_",
            "payment_method",
            json!("pm_"),
        ),
        set("an empty name", "shipping_address.name", json!("")),
        set("a blank name", "shipping_address.name", json!("   ")),
        set(
            "a 101-character name",
            "shipping_address.name",
            json!("n".repeat(101)),
        ),
        set(
            "a 201-character line1",
            "shipping_address.line1",
            json!("l".repeat(201)),
        ),
        set("an empty city", "shipping_address.city", json!("")),
        set(
            "a postal code with forbidden characters",
            "shipping_address.postal_code",
            json!("94107; DROP"),
        ),
        set(
            "a 17-character postal code",
            "shipping_address.postal_code",
            json!("1234567890ABCDEFG"),
        ),
        set(
            "a country we do not ship to (XX)",
            "shipping_address.country",
            json!("XX"),
        ),
        set(
            "a country we do not ship to (BR)",
            "shipping_address.country",
            json!("BR"),
        ),
    ]
}

/// Stocks one product priced 100 cents under the total cap: its items fit, but every
/// destination's shipping rate is several hundred cents, so its order's total does not.
pub fn stock_near_cap(w: &mut CheckoutWorld, stock: i64) -> Result<String, Problem> {
    w.stock_priced(MAX_TOTAL - 100, 100, stock)
}

/// Stocks one product priced so that one unit (with shipping) fits under the total cap
/// and two do not.
pub fn stock_pricey(w: &mut CheckoutWorld, stock: i64) -> Result<String, Problem> {
    w.stock_priced(MAX_TOTAL / 2 + 10_000, 100, stock)
}

/// 400, 404 or 422 with a JSON error: the answers a bad cart may get.
pub fn refused_cleanly(x: &Exchange) -> bool {
    matches!(x.status, Some(400 | 404 | 422)) && x.is_json_error()
}
