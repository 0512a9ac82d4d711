//! The upgrade check every exercise shares.
//!
//! Production is not a fresh file: the database already stands at the original
//! service's schema, full of data, when the fixed service first starts on it. So the
//! check creates that database with the grader's own pristine build (its migrations,
//! its `--seed-demo` data), stops it, starts the candidate's build on the same file, and
//! compares the schema there with the schema the candidate's build creates on a fresh
//! file. Every table, column, index (by table, columns, uniqueness and partial clause,
//! not by name: a unique constraint and a unique index are the same guarantee) and
//! trigger the fix creates on a fresh file must also be on the production file, and no
//! production row may be lost. A fix whose schema change only reaches new files (an
//! index added to the first migration, say) fails, naming what is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::checks::{
    Check, CheckEnv, CheckFuture, CheckResult, Evidence, Problem, Verdict, Visibility, settle,
    start_service, verdict,
};
use crate::service::ServiceSpec;

/// Demo rows the pristine service writes into the production file.
const SEED_ROWS: &str = "25";

/// A loopback port nothing listens on: downstreams the service must be given but that
/// neither start-up nor seeding calls.
const UNUSED_DOWNSTREAM: &str = "http://127.0.0.1:9";

/// What the check must know of an exercise: the downstreams its service requires.
#[derive(Debug, Clone, Copy)]
pub struct Upgrade {
    /// Names passed as `--downstream NAME=URL`.
    pub downstreams: &'static [&'static str],
}

/// The shape of a database, as far as a fix's guarantees go.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// "table t", "column t.c", "unique index on t(a, b)", "trigger x", one per item.
    pub items: BTreeSet<String>,
    /// Rows per table.
    pub rows: BTreeMap<String, i64>,
}

/// What every exercise's upgrade check says, in the report.
const DESCRIPTION: &str = "Production's database already exists: the original service creates it and fills it with demo data, then the fixed service starts on it. Every table, column, index and trigger the fix creates on a fresh database must be on the production one too, and no production row may be lost.";

/// The upgrade check as an exercise registers it: `run` is
/// `|env| Box::pin(upgrade::production::run(env, &["downstream", …]))`.
pub fn registration(id: &'static str, run: fn(CheckEnv) -> CheckFuture) -> Check {
    Check {
        id,
        flaw: None,
        visibility: Visibility::Hidden,
        points: 2,
        description: DESCRIPTION,
        soak: false,
        run,
    }
}

/// Runs the check for a service that requires `downstreams`, and settles its verdict.
pub async fn run(env: CheckEnv, downstreams: &'static [&'static str]) -> Verdict {
    settle(check(env, Upgrade { downstreams }).await)
}

/// Runs the upgrade check.
pub async fn check(env: CheckEnv, upgrade: Upgrade) -> CheckResult {
    let Some(pristine) = env.pristine.clone() else {
        return Err(Problem::Harness(
            "no pristine build of the exercise to create the production database with".into(),
        ));
    };
    let mut story = Evidence::new();
    let production = env.workdir.join("production.db");
    let fresh = env.workdir.join("fresh.db");
    let spec = |binary: &Path, db: &Path, log: &str, seed: bool| ServiceSpec {
        binary: binary.to_path_buf(),
        db: db.to_path_buf(),
        downstreams: upgrade
            .downstreams
            .iter()
            .map(|d| ((*d).to_owned(), UNUSED_DOWNSTREAM.to_owned()))
            .collect(),
        env: if seed {
            vec![("KIT_SEED_DEMO".to_owned(), SEED_ROWS.to_owned())]
        } else {
            Vec::new()
        },
        log: env.workdir.join(log),
        stats: None,
        policy: env.policy.clone(),
        timeline: env.journal.timeline().clone(),
    };

    // Production as it stands: the original service's schema and data.
    let seeded = spec(&pristine, &production, "pristine.log", true);
    let mut original = crate::service::RunningService::start(&seeded)
        .await
        .map_err(|e| {
            Problem::Harness(format!(
                "the pristine service did not start to create the production database: {e}"
            ))
        })?;
    original.stop().await;
    let before = read_shape(&production).map_err(Problem::Harness)?;
    let total: i64 = before.rows.values().sum();
    if total == 0 {
        return Err(Problem::Harness(
            "the pristine service wrote no demo rows into the production database".into(),
        ));
    }
    story.say(format!(
        "The original service created the production database and filled it: {}.",
        describe_rows(&before.rows)
    ));
    let timeline = env.journal.timeline();
    timeline.record(
        "database",
        format!(
            "production: {} schema items; {}",
            before.items.len(),
            describe_rows(&before.rows)
        ),
    );

    // The candidate's build on it, then on a fresh file.
    let mut upgraded = start_service(&spec(&env.binary, &production, "upgrade.log", false))
        .await
        .map_err(|p| match p {
            Problem::Service(mut ev) => {
                ev.violation("The fixed service must start on the production database (the original service's schema, with data).");
                Problem::Service(ev)
            }
            other => other,
        })?;
    upgraded.stop().await;
    let mut new = start_service(&spec(&env.binary, &fresh, "fresh.log", false)).await?;
    new.stop().await;
    let after = read_shape(&production).map_err(Problem::Harness)?;
    let wanted = read_shape(&fresh).map_err(Problem::Harness)?;
    timeline.record(
        "database",
        format!(
            "production after the upgrade: {} schema items, {} of them missing that a fresh file gets; {}",
            after.items.len(),
            wanted.items.difference(&after.items).count(),
            describe_rows(&after.rows)
        ),
    );
    story.say(format!(
        "The fixed service started on it, and on a fresh file; the fresh file has {} tables, columns, indexes and triggers.",
        wanted.items.len()
    ));
    Ok(verdict(story, judge(&before, &after, &wanted)))
}

/// What an upgrade broke: everything the fix creates on a fresh file that the
/// production file lacks after the fix started on it, and rows production lost.
pub fn judge(before: &Shape, after: &Shape, fresh: &Shape) -> Vec<String> {
    let mut broken = Vec::new();
    let missing: Vec<&String> = fresh.items.difference(&after.items).collect();
    if !missing.is_empty() {
        broken.push(format!(
            "The fix's schema does not reach the production database: after the fixed service started on it, it still lacks {} that a fresh database gets — {}.",
            missing.len(),
            missing
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    for (table, rows) in &before.rows {
        let now = after.rows.get(table).copied().unwrap_or(0);
        if now < *rows {
            broken.push(format!(
                "Production data was lost: `{table}` held {rows} rows before the fixed service started and {now} after."
            ));
        }
    }
    broken
}

fn describe_rows(rows: &BTreeMap<String, i64>) -> String {
    rows.iter()
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| format!("{n} rows in `{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a database's shape without following a link a service may have planted.
pub fn read_shape(db: &Path) -> Result<Shape, String> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(|e| format!("reading {}: {e}", db.display()))?;
    shape_of(&conn).map_err(|e| format!("reading the schema of {}: {e}", db.display()))
}

fn shape_of(conn: &Connection) -> rusqlite::Result<Shape> {
    let mut shape = Shape::default();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for table in &tables {
        shape.items.insert(format!("table `{table}`"));
        let quoted = table.replace('"', "\"\"");
        let columns: Vec<(String, String, bool, Option<String>)> = conn
            .prepare(&format!("PRAGMA table_info(\"{quoted}\")"))?
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)? != 0,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        for (column, kind, not_null, default) in columns {
            shape.items.insert(format!("column `{table}.{column}`"));
            // What a column promises, beyond existing: a constraint written only into a
            // shipped migration never reaches production's table.
            shape.items.insert(format!(
                "column `{table}.{column}` {}{}{}",
                kind.to_lowercase(),
                if not_null { " not null" } else { "" },
                default.map_or_else(String::new, |d| format!(" default {}", normalise(&d)))
            ));
        }
        let sql: Option<String> = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .ok()
            .flatten();
        for check in check_clauses(&sql.unwrap_or_default()) {
            shape.items.insert(format!("check on `{table}`: {check}"));
        }
        let indexes: Vec<(String, bool, bool)> = conn
            .prepare(&format!("PRAGMA index_list(\"{quoted}\")"))?
            .query_map([], |r| {
                Ok((
                    r.get(1)?,
                    r.get::<_, i64>(2)? != 0,
                    r.get::<_, i64>(4)? != 0,
                ))
            })?
            .collect::<Result<_, _>>()?;
        for (index, unique, partial) in indexes {
            let iq = index.replace('"', "\"\"");
            let columns: Vec<String> = conn
                .prepare(&format!("PRAGMA index_info(\"{iq}\")"))?
                .query_map([], |r| {
                    Ok(r.get::<_, Option<String>>(2)?
                        .unwrap_or_else(|| "<expression>".to_owned()))
                })?
                .collect::<Result<_, _>>()?;
            let clause = if partial {
                let sql: Option<String> = conn
                    .query_row(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                        [&index],
                        |r| r.get(0),
                    )
                    .ok()
                    .flatten();
                sql.and_then(|s| {
                    let lower = s.to_lowercase();
                    lower
                        .rfind(" where ")
                        .map(|at| format!(" where {}", normalise(&lower[at + 7..])))
                })
                .unwrap_or_default()
            } else {
                String::new()
            };
            shape.items.insert(format!(
                "{}index on `{table}`({}){clause}",
                if unique { "unique " } else { "" },
                columns.join(", ")
            ));
        }
        let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM \"{quoted}\""), [], |r| {
            r.get(0)
        })?;
        shape.rows.insert(table.clone(), rows);
    }
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for trigger in triggers {
        shape.items.insert(format!("trigger `{trigger}`"));
    }
    Ok(shape)
}

/// Every `CHECK (…)` clause of a `CREATE TABLE` statement, lower-cased with its
/// whitespace normalised.
fn check_clauses(sql: &str) -> Vec<String> {
    let lower = sql.to_lowercase();
    let bytes = lower.as_bytes();
    let mut clauses = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("check") {
        let start = from + at;
        from = start + "check".len();
        let word_before =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let rest = lower[from..].trim_start();
        if word_before || !rest.starts_with('(') {
            continue;
        }
        let open = lower.len() - rest.len();
        let mut depth = 0usize;
        for (i, c) in lower[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        clauses.push(
                            normalise(&lower[open..=open + i])
                                .replace("( ", "(")
                                .replace(" )", ")"),
                        );
                        from = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    clauses
}

fn normalise(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A path for tests: the shape of a database built by `sql`.
#[cfg(test)]
fn shape_from(sql: &str) -> Shape {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(sql).unwrap();
    shape_of(&conn).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRISTINE: &str =
        "CREATE TABLE charges (id TEXT PRIMARY KEY, key TEXT NOT NULL, amount INTEGER);
        CREATE INDEX charges_by_key ON charges (key);
        INSERT INTO charges VALUES ('a', 'k1', 1), ('b', 'k2', 2);";

    #[test]
    fn an_index_only_in_the_first_migration_is_missing_from_production() {
        let before = shape_from(PRISTINE);
        // The fix edited migration 1: production, already past it, never runs it.
        let fresh = shape_from(
            "CREATE TABLE charges (id TEXT PRIMARY KEY, key TEXT NOT NULL, amount INTEGER);
             CREATE UNIQUE INDEX charges_by_key ON charges (key);",
        );
        let broken = judge(&before, &before, &fresh);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(
            broken[0].contains("unique index on `charges`(key)"),
            "{broken:?}"
        );
    }

    #[test]
    fn a_new_migration_reaches_production_and_names_do_not_matter() {
        let before = shape_from(PRISTINE);
        let after = shape_from(&format!(
            "{PRISTINE} DROP INDEX charges_by_key; CREATE UNIQUE INDEX charges_key_unique ON charges (key);"
        ));
        // On a fresh file the same guarantee comes from a constraint in the table.
        let fresh = shape_from(
            "CREATE TABLE charges (id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, amount INTEGER);",
        );
        assert_eq!(judge(&before, &after, &fresh), Vec::<String>::new());
    }

    #[test]
    fn columns_tables_triggers_and_lost_rows_are_named() {
        let before = shape_from(PRISTINE);
        let after = shape_from(
            "CREATE TABLE charges (id TEXT PRIMARY KEY, key TEXT NOT NULL, amount INTEGER);",
        );
        let fresh = shape_from(
            "CREATE TABLE charges (id TEXT PRIMARY KEY, key TEXT NOT NULL, amount INTEGER, fingerprint TEXT);
             CREATE TABLE keys (key TEXT PRIMARY KEY);
             CREATE TRIGGER no_negative BEFORE INSERT ON charges BEGIN SELECT 1; END;
             CREATE INDEX live ON charges (key) WHERE amount > 0;",
        );
        let broken = judge(&before, &after, &fresh).join("\n");
        for missing in [
            "column `charges.fingerprint`",
            "table `keys`",
            "trigger `no_negative`",
            "index on `charges`(key) where amount > 0",
            "`charges` held 2 rows before the fixed service started and 0 after",
        ] {
            assert!(broken.contains(missing), "{missing}: {broken}");
        }
    }

    #[test]
    fn a_constraint_only_a_fresh_file_gets_is_named() {
        // The guard edited into the first migration: production's table never gets it.
        let production =
            shape_from("CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER);");
        let fresh = shape_from(
            "CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0));",
        );
        let broken = judge(&production, &production, &fresh).join("\n");
        assert!(
            broken.contains("check on `accounts`: (balance >= 0)"),
            "{broken}"
        );
        assert!(
            broken.contains("column `accounts.balance` integer not null"),
            "{broken}"
        );
        // The same constraints written alike, whatever the spacing, are the same.
        let spaced = shape_from(
            "CREATE TABLE accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK(  balance >=   0 ));",
        );
        assert!(judge(&spaced, &spaced, &fresh).is_empty());
    }
}
