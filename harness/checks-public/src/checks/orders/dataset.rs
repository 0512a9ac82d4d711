//! Order datasets the harness writes straight into the service's database (the brief
//! says the checkout pipeline writes these tables directly), and the harness's own
//! model of the answer, computed from the database with no help from the service.

use std::collections::BTreeMap;

use rusqlite::{Connection, OpenFlags, params};
use serde_json::{Value, json};

/// A product row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub price: i64,
}

/// An order line row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: i64,
    pub quantity: i64,
    pub unit_price: i64,
}

/// An order with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub customer_id: i64,
    pub placed_at: String,
    pub lines: Vec<Line>,
}

/// Rows to add to the contract tables. Ids of customers and products are chosen by
/// the caller; order and line ids are assigned by SQLite in insertion order.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub customers: Vec<i64>,
    pub products: Vec<Product>,
    pub orders: Vec<Order>,
}

/// A timestamp `minutes` after a fixed epoch, in the contract's format.
pub fn timestamp(minutes: i64) -> String {
    let secs = 1_700_000_000 + minutes * 60;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl Dataset {
    /// Inserts the rows in one transaction (the service may be running: WAL mode).
    pub fn write(&self, db: &std::path::Path) -> rusqlite::Result<()> {
        let mut conn = Connection::open(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let tx = conn.transaction()?;
        {
            let mut customer =
                tx.prepare("INSERT INTO customers (id, name, email) VALUES (?1, ?2, ?3)")?;
            for id in &self.customers {
                customer.execute(params![
                    id,
                    format!("Customer {id}"),
                    format!("c{id}@example.com")
                ])?;
            }
            let mut product =
                tx.prepare("INSERT INTO products (id, name, price) VALUES (?1, ?2, ?3)")?;
            for p in &self.products {
                product.execute(params![p.id, p.name, p.price])?;
            }
            let mut order =
                tx.prepare("INSERT INTO orders (customer_id, placed_at) VALUES (?1, ?2)")?;
            let mut line = tx.prepare(
                "INSERT INTO order_lines (order_id, product_id, quantity, unit_price)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for o in &self.orders {
                order.execute(params![o.customer_id, o.placed_at])?;
                let order_id = tx.last_insert_rowid();
                for l in &o.lines {
                    line.execute(params![order_id, l.product_id, l.quantity, l.unit_price])?;
                }
            }
        }
        tx.commit()
    }
}

/// A line as read: (line id, product id, product name, unit price, quantity).
type LineRow = (i64, i64, String, i64, i64);

/// The contract's answer for a customer: every order, newest first (ties by higher id
/// first), each with its lines in line-id order, current product names, totals —
/// computed by the harness from the database.
pub fn expected_orders(db: &std::path::Path, customer_id: i64) -> rusqlite::Result<Vec<Value>> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut orders: Vec<(i64, String)> = conn
        .prepare("SELECT id, placed_at FROM orders WHERE customer_id = ?1")?
        .query_map([customer_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    orders.sort_by(|a, b| (&b.1, b.0).cmp(&(&a.1, a.0)));
    // Every line of the customer's orders in one statement: the pristine schema has no
    // index to look each order's lines up by, and a scan per order grows with the shop.
    let mut by_order: BTreeMap<i64, Vec<LineRow>> = BTreeMap::new();
    let mut lines_stmt = conn.prepare(
        "SELECT l.order_id, l.id, l.product_id, p.name, l.unit_price, l.quantity
           FROM order_lines l JOIN products p ON p.id = l.product_id
           JOIN orders o ON o.id = l.order_id
          WHERE o.customer_id = ?1",
    )?;
    let mut rows = lines_stmt.query([customer_id])?;
    while let Some(r) = rows.next()? {
        by_order.entry(r.get(0)?).or_default().push((
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ));
    }
    let mut out = Vec::with_capacity(orders.len());
    for (id, placed_at) in orders {
        let mut lines = by_order.remove(&id).unwrap_or_default();
        lines.sort_by_key(|l| l.0);
        let total: i64 = lines.iter().map(|l| l.3 * l.4).sum();
        let lines: Vec<Value> = lines
            .into_iter()
            .map(|(_, product_id, name, unit_price, quantity)| {
                json!({
                    "product_id": product_id,
                    "product_name": name,
                    "unit_price": unit_price,
                    "quantity": quantity,
                    "line_total": unit_price * quantity,
                })
            })
            .collect();
        out.push(json!({ "id": id, "placed_at": placed_at, "lines": lines, "total": total }));
    }
    Ok(out)
}

/// The contract fields of an order object from the service (extra fields are allowed
/// and ignored), so it can be compared with [`expected_orders`].
pub fn contract_view(order: &Value) -> Value {
    let lines = order.get("lines").and_then(Value::as_array).map(|ls| {
        ls.iter()
            .map(|l| {
                json!({
                    "product_id": l.get("product_id"),
                    "product_name": l.get("product_name"),
                    "unit_price": l.get("unit_price"),
                    "quantity": l.get("quantity"),
                    "line_total": l.get("line_total"),
                })
            })
            .collect::<Vec<_>>()
    });
    json!({
        "id": order.get("id"),
        "placed_at": order.get("placed_at"),
        "lines": lines,
        "total": order.get("total"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_sort_as_text_in_time_order() {
        assert_eq!(timestamp(0), "2023-11-14T22:13:20.000Z");
        assert!(timestamp(59) < timestamp(60));
        assert!(timestamp(60 * 24 * 400) > timestamp(60 * 24 * 399));
    }
}
