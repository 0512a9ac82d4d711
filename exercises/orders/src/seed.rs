//! Demo data: a small shop with three years of order history, for trying the service by
//! hand (`--seed-orders N`).
//!
//! Deterministic: the same N always produces the same shop.

use std::time::Instant;

use rusqlite::{Connection, params};

use crate::error::AppError;

/// Products in the demo catalogue.
const PRODUCTS: usize = 500;

/// Orders per customer on average; every shop gets at least [`MIN_CUSTOMERS`].
const ORDERS_PER_CUSTOMER: u64 = 50;
const MIN_CUSTOMERS: u64 = 10;

/// The history starts on 2023-12-01T00:00:00Z and covers about three years.
const HISTORY_START_MS: i64 = 1_701_388_800_000;
const HISTORY_SPAN_MS: i64 = 3 * 365 * 24 * 60 * 60 * 1000;

/// Orders from the last year were placed at today's prices; older ones a bit cheaper.
const CURRENT_PRICES_FROM_MS: i64 = HISTORY_START_MS + 2 * 365 * 24 * 60 * 60 * 1000;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Bruno", "Chloé", "Dmitri", "Elena", "Farah", "Gustav", "Hana", "Iñigo", "Jonas",
    "Kiri", "Léa", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Søren", "Tomás", "Uma",
    "Viktor", "Wen", "Yusuf", "Zoë",
];

const LAST_NAMES: &[&str] = &[
    "Almeida",
    "Becker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hoffmann",
    "Ito",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "O'Brien",
    "Petrović",
    "Rossi",
    "Schmidt",
    "Takahashi",
    "Van Dijk",
    "Weiß",
    "Yilmaz",
];

/// Catalogue entries with names worth seeing in a response.
const FEATURED_PRODUCTS: &[&str] = &[
    "Crème brûlée set",
    "東京 mug",
    "Teapot",
    "Café au lait bowl",
    "Smörgåsbord board",
    "Jalapeño hot sauce",
    "Ätherisches Öl, lavender",
    "Kyoto 抹茶 whisk",
    "Piñata (large)",
    "Señorita apron",
    "Déjà vu puzzle, 1000 pieces",
    "Çay glasses, set of 6",
];

const PRODUCT_ADJECTIVES: &[&str] = &[
    "Ceramic",
    "Oak",
    "Linen",
    "Enamel",
    "Copper",
    "Bamboo",
    "Walnut",
    "Glass",
    "Stoneware",
    "Cast-iron",
    "Wool",
    "Marble",
    "Rattan",
    "Porcelain",
    "Brass",
    "Cotton",
    "Slate",
    "Cork",
    "Terracotta",
    "Steel",
];

const PRODUCT_NOUNS: &[&str] = &[
    "mug",
    "teapot",
    "serving bowl",
    "cutting board",
    "napkin set",
    "candle holder",
    "pepper mill",
    "salad servers",
    "bread bin",
    "tea towel",
    "coaster set",
    "vase",
    "butter dish",
    "trivet",
    "jug",
    "egg cup",
    "spice rack",
    "fruit bowl",
    "tray",
    "storage jar",
    "colander",
    "ladle",
    "dinner plate",
    "espresso cup",
    "cake stand",
];

/// Fills an empty shop with `orders` demo orders, their customers and a catalogue, in
/// one transaction. Does nothing if the shop already has orders.
pub async fn demo_shop(db: &kit::Db, orders: u64) -> Result<(), AppError> {
    if orders == 0 {
        return Ok(());
    }
    db.call(move |conn| {
        let has_orders: bool =
            conn.query_row("SELECT EXISTS (SELECT 1 FROM orders)", [], |row| row.get(0))?;
        if has_orders {
            tracing::info!("the shop already has orders; not seeding demo data");
            return Ok(());
        }
        let started = Instant::now();
        let lines = insert_demo_shop(conn, orders)?;
        tracing::info!(
            orders,
            lines,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "seeded demo shop"
        );
        Ok(())
    })
    .await
}

fn insert_demo_shop(conn: &mut Connection, orders: u64) -> Result<u64, AppError> {
    let mut rng = SplitMix64(orders ^ 0x5eed_0bd3);
    let tx = conn.transaction()?;

    let mut customer_ids = Vec::new();
    {
        let mut insert = tx.prepare("INSERT INTO customers (name, email) VALUES (?1, ?2)")?;
        for n in 0..(orders / ORDERS_PER_CUSTOMER).max(MIN_CUSTOMERS) {
            let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
            let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
            let email = format!(
                "{}.{}{}@example.com",
                email_part(first),
                email_part(last),
                n + 1
            );
            customer_ids.push(insert.insert(params![format!("{first} {last}"), email])?);
        }
    }

    let mut products = Vec::with_capacity(PRODUCTS);
    {
        let mut insert = tx.prepare("INSERT INTO products (name, price) VALUES (?1, ?2)")?;
        let generated = (0..).map(|n: usize| {
            let adjective = PRODUCT_ADJECTIVES[n % PRODUCT_ADJECTIVES.len()];
            let noun = PRODUCT_NOUNS[n / PRODUCT_ADJECTIVES.len() % PRODUCT_NOUNS.len()];
            format!("{adjective} {noun}")
        });
        let names = FEATURED_PRODUCTS
            .iter()
            .map(|name| name.to_string())
            .chain(generated)
            .take(PRODUCTS);
        for name in names {
            // Prices end in .99, from 2.99 to 249.99.
            let price = (rng.below(248) as i64 + 3) * 100 - 1;
            products.push((insert.insert(params![name, price])?, price));
        }
    }

    let mut line_count = 0;
    {
        let mut insert_order =
            tx.prepare("INSERT INTO orders (customer_id, placed_at) VALUES (?1, ?2)")?;
        let mut insert_line = tx.prepare(
            "INSERT INTO order_lines (order_id, product_id, quantity, unit_price)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let step = (HISTORY_SPAN_MS / orders.max(1) as i64).max(1);
        let mut placed_at = HISTORY_START_MS;
        for n in 0..orders {
            // Orders arrive in time order, a few at the very same millisecond; now and
            // then one imported from the old shop lands early in the history.
            if rng.below(50) == 0 {
                placed_at = HISTORY_START_MS + rng.below((HISTORY_SPAN_MS / 3) as u64) as i64;
            } else if n == 0 || rng.below(16) != 0 {
                placed_at = HISTORY_START_MS + n as i64 * step + rng.below(step as u64) as i64;
            }
            // Loyal customers (low ids) have far longer histories than most.
            let u = rng.unit();
            let customer = customer_ids[(u * u * customer_ids.len() as f64) as usize];
            let order_id = insert_order.insert(params![customer, format_timestamp(placed_at)])?;

            let lines = if rng.below(12) == 0 {
                0
            } else {
                1 + rng.below(5)
            };
            for _ in 0..lines {
                let (product_id, price) = products[rng.below(products.len() as u64) as usize];
                let unit_price = if placed_at < CURRENT_PRICES_FROM_MS {
                    price - price / 10
                } else {
                    price
                };
                let quantity = if rng.below(10) == 0 {
                    2 + rng.below(9)
                } else {
                    1 + rng.below(2)
                };
                insert_line.execute(params![order_id, product_id, quantity as i64, unit_price])?;
                line_count += 1;
            }
        }
    }

    tx.commit()?;
    Ok(line_count)
}

/// `name` folded to lower-case ASCII letters for an e-mail address.
fn email_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.to_lowercase().chars() {
        match c {
            'a'..='z' => out.push(c),
            'á' | 'à' | 'å' | 'ä' => out.push('a'),
            'é' | 'è' | 'ë' => out.push('e'),
            'í' => out.push('i'),
            'ó' | 'ö' | 'ø' => out.push('o'),
            'ú' | 'ü' => out.push('u'),
            'ñ' => out.push('n'),
            'ć' => out.push('c'),
            'ß' => out.push_str("ss"),
            _ => {}
        }
    }
    out
}

/// Milliseconds since the Unix epoch as `2026-11-29T10:00:00.000Z`.
fn format_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let ms_of_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    )
}

/// Gregorian date of a day number counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A tiny deterministic PRNG (SplitMix64): plenty for demo data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (near enough for demo data); `n` must be positive.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_timestamp(HISTORY_START_MS),
            "2023-12-01T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(1_764_410_400_123),
            "2025-11-29T10:00:00.123Z"
        );
        assert_eq!(
            format_timestamp(1_709_164_799_999),
            "2024-02-28T23:59:59.999Z"
        );
        assert_eq!(
            format_timestamp(1_709_164_800_000),
            "2024-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn email_parts_are_ascii() {
        assert_eq!(email_part("Zoë"), "zoe");
        assert_eq!(email_part("O'Brien"), "obrien");
        assert_eq!(email_part("Van Dijk"), "vandijk");
        assert_eq!(email_part("Weiß"), "weiss");
        assert_eq!(email_part("Petrović"), "petrovic");
    }
}
