//! Ground truth for the live page: small tables read from the fakes' records and from
//! the service's SQLite file, never from what the service says about itself.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

/// Rows a table shows at most: the page is for a shared screen, not an export.
const MAX_ROWS: usize = 12;

/// One table of ground truth.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    /// What the table shows, e.g. "Provider charges per Idempotency-Key".
    pub title: String,
    /// Column headings.
    pub columns: Vec<String>,
    /// Cells, as text.
    pub rows: Vec<Vec<String>>,
    /// Indexes of rows that break a requirement (drawn red), e.g. a key charged twice.
    pub alarms: Vec<usize>,
    /// A line under the table: a total, or why it could not be read.
    pub note: Option<String>,
}

impl Table {
    /// An empty table with `title` and `columns`.
    pub fn new(title: &str, columns: &[&str]) -> Table {
        Table {
            title: title.to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            ..Table::default()
        }
    }

    /// Appends a row; `alarm` marks it as breaking a requirement. Rows beyond
    /// [`MAX_ROWS`] are counted in the note instead.
    pub fn push(&mut self, row: Vec<String>, alarm: bool) {
        if self.rows.len() >= MAX_ROWS {
            return;
        }
        if alarm {
            self.alarms.push(self.rows.len());
        }
        self.rows.push(row);
    }
}

impl Table {
    /// Appends a row as [`Table::push`] does, but a full table drops its oldest row
    /// instead: for a log whose newest rows matter.
    pub fn push_latest(&mut self, row: Vec<String>, alarm: bool) {
        if self.rows.len() >= MAX_ROWS {
            self.rows.remove(0);
            self.alarms = self
                .alarms
                .iter()
                .filter(|&&i| i > 0)
                .map(|i| i - 1)
                .collect();
        }
        self.note = None;
        self.push(row, alarm);
    }
}

/// Runs `sql` on the service's database, read-only, as a table titled `title`. The
/// candidate may have changed the schema, so a failing query becomes the table's note,
/// never an error of the session. `alarm` marks rows by their cells.
pub fn query(db: &Path, title: &str, sql: &str, alarm: impl Fn(&[String]) -> bool) -> Table {
    let mut table = Table::new(title, &[]);
    if let Err(e) = read_into(db, sql, &mut table, &alarm) {
        table.note = Some(format!("could not read: {e}"));
    }
    table
}

fn read_into(
    db: &Path,
    sql: &str,
    table: &mut Table,
    alarm: &dyn Fn(&[String]) -> bool,
) -> rusqlite::Result<()> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A read never waits long on a writer: the page polls again in a moment.
    conn.busy_timeout(Duration::from_millis(250))?;
    let mut stmt = conn.prepare(sql)?;
    table.columns = stmt.column_names().map(str::to_owned).collect();
    let width = table.columns.len();
    let mut rows = stmt.query([])?;
    let mut total = 0usize;
    while let Some(row) = rows.next()? {
        total += 1;
        let cells: Vec<String> = (0..width)
            .map(|i| match row.get_ref(i) {
                Ok(v) => cell(v),
                Err(e) => e.to_string(),
            })
            .collect();
        let flagged = alarm(&cells);
        table.push(cells, flagged);
    }
    if total > table.rows.len() {
        table.note = Some(format!("{} more rows not shown", total - table.rows.len()));
    }
    Ok(())
}

/// The provider's charges grouped by the `Idempotency-Key` the service sent: the
/// ground truth for "was the customer charged twice?". A key with more than one
/// charge is an alarm.
#[cfg(any(feature = "charge", feature = "checkout"))]
pub fn provider_charges(provider: &crate::fakes::PaymentProvider) -> Table {
    let charges = provider.charges();
    let mut by_key: Vec<(String, Vec<&crate::fakes::ProviderCharge>)> = Vec::new();
    for charge in &charges {
        let key = charge
            .idempotency_key
            .clone()
            .unwrap_or_else(|| "(no key)".to_owned());
        match by_key.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(charge),
            None => by_key.push((key, vec![charge])),
        }
    }
    let mut table = Table::new(
        "Provider: charges per Idempotency-Key (newest first)",
        &[
            "provider key",
            "charges",
            "customer",
            "amounts",
            "provider ids",
        ],
    );
    // Charges sent without a key are not duplicates of one another by themselves: the
    // scenarios' table counts what one request caused.
    let twice = by_key
        .iter()
        .filter(|(_, list)| list[0].idempotency_key.is_some() && list.len() > 1)
        .count();
    for (key, list) in by_key.iter().rev() {
        let amounts: Vec<String> = list
            .iter()
            .map(|c| format!("{} {}", c.amount, c.currency))
            .collect();
        let ids: Vec<&str> = list.iter().map(|c| c.id.as_str()).collect();
        table.push(
            vec![
                key.clone(),
                list.len().to_string(),
                list[0].customer.clone(),
                amounts.join(", "),
                ids.join(", "),
            ],
            list[0].idempotency_key.is_some() && list.len() > 1,
        );
    }
    table.note = Some(format!(
        "{} charge(s) under {} key(s); {twice} provider key(s) charged more than once",
        charges.len(),
        by_key.len()
    ));
    table
}

fn cell(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).chars().take(80).collect(),
        ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_reads_rows_and_marks_alarms() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (k TEXT, n INTEGER); INSERT INTO t VALUES ('a', 1), ('b', 2);",
        )
        .unwrap();
        let table = query(&db, "t", "SELECT k, n FROM t ORDER BY k", |r| r[1] == "2");
        assert_eq!(table.columns, ["k", "n"]);
        assert_eq!(table.rows, [["a", "1"], ["b", "2"]]);
        assert_eq!(table.alarms, [1]);
        assert_eq!(table.note, None);
    }

    #[test]
    fn a_schema_the_query_does_not_fit_becomes_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        rusqlite::Connection::open(&db).unwrap();
        let table = query(&db, "t", "SELECT * FROM missing", |_| false);
        assert!(table.rows.is_empty());
        assert!(
            table
                .note
                .as_deref()
                .unwrap_or("")
                .contains("no such table"),
            "{:?}",
            table.note
        );
    }

    #[test]
    fn a_log_keeps_its_newest_rows_and_their_alarms() {
        let mut log = Table::new("log", &["n"]);
        log.note = Some("none yet".to_owned());
        for n in 0..MAX_ROWS + 2 {
            log.push_latest(vec![n.to_string()], n % 5 == 0);
        }
        assert_eq!(log.rows.len(), MAX_ROWS);
        assert_eq!(log.rows[0], ["2"]);
        // Rows 5 and 10 (now at 3 and 8) stay alarms; row 0 left with its alarm.
        assert_eq!(log.alarms, [3, 8]);
        assert_eq!(log.note, None);
    }

    #[test]
    fn rows_beyond_the_limit_are_counted_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (n INTEGER);
             WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 20)
             INSERT INTO t SELECT n FROM c;",
        )
        .unwrap();
        let table = query(&db, "t", "SELECT n FROM t", |_| false);
        assert_eq!(table.rows.len(), MAX_ROWS);
        assert_eq!(table.note.as_deref(), Some("8 more rows not shown"));
    }
}
