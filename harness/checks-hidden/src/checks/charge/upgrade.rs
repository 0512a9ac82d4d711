//! A retry that straddles a deploy: a charge made by the version production runs today,
//! retried under its key once the fix is deployed on the same database, replays that
//! charge — the customer is not charged again for a key the old version recorded.
//!
//! Production's data is what the old version wrote, its mistakes included: a
//! double-submit it let through left two charges under one key, both real provider
//! charges finance reconciles. The fix must start on that database and keep both rows
//! (the brief: "no existing row may be lost").

use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::checks::charge::world::{
    ChargeBody, PROVIDER_CHARGES_IN_TABLE, judge_one_key_on, judge_standing_on,
};
use crate::checks::http::send;
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, start_service, verdict};
use crate::fakes::{PaymentProvider, ProviderFault};
use crate::service::ServiceSpec;

/// The charge under one key, made by production's build, then retried under the fix.
pub async fn retry_across_upgrade(env: CheckEnv) -> CheckResult {
    let Some(pristine) = env.pristine.clone() else {
        return Err(Problem::Harness(
            "production's build was not handed to this check".to_owned(),
        ));
    };
    let provider = PaymentProvider::start().await?;
    provider.record_into(env.journal.timeline());
    let db = env.workdir.join("production.db");
    let spec = |binary: &std::path::Path, log: &str| ServiceSpec {
        binary: binary.to_path_buf(),
        db: db.clone(),
        downstreams: vec![("payments".to_owned(), provider.url())],
        env: Vec::new(),
        log: env.workdir.join(log),
        stats: None,
        policy: env.policy.clone(),
        timeline: env.journal.timeline().clone(),
    };
    let mut story = Evidence::new();
    let body = ChargeBody {
        customer_id: format!("cus_upgrade_{:x}", env.seed & 0xffff),
        amount: 4_250,
        currency: "eur".to_owned(),
    };
    let key = format!("key-before-deploy-{:x}", env.seed & 0xffff_ffff);
    let mut old = start_service(&spec(&pristine, "production.log")).await?;
    let first = post(env.journal.timeline(), &old.url(), &key, &body).await;
    story.say(format!("The version production runs today: {first}"));
    if !first.is_success() {
        return Err(Problem::Harness(format!(
            "production's own build did not charge a plain request: {first}"
        )));
    }
    let (doubled, double_body) = double_submit(&env, &provider, &old.url(), &mut story).await?;
    old.stop().await;
    let before = read_rows(&db).map_err(Problem::Harness)?;
    story.say("It is stopped for the deploy; the fixed service starts on the same database.");
    let new = start_service(&spec(&env.binary, "fixed.log"))
        .await
        .map_err(|p| match p {
            Problem::Service(mut ev) => {
                ev.violation(format!(
                    "The fixed service must start on production's database, which holds two charges under key {doubled} written by the version production runs today."
                ));
                Problem::Service(ev)
            }
            other => other,
        })?;
    let retry = post(env.journal.timeline(), &new.url(), &key, &body).await;
    story.say(format!("The client's retry, after the deploy: {retry}"));
    let mut broken = Vec::new();
    // The brief's 200: "a retry of a request that already succeeded (same key, same
    // body); body is the original charge" — also when the old version made it.
    if !retry.is_success() || retry.str_field("id") != first.str_field("id") {
        broken.push(format!(
            "A retry of a key the old version recorded, with the same body, must replay its charge {} with a 2xx; it answered: {retry}",
            first.str_field("id").unwrap_or("?")
        ));
    }
    broken.extend(judge_one_key_on(
        &provider,
        new.db(),
        &body,
        &[first, retry],
        &mut story,
    )?);
    let after = read_rows(new.db()).map_err(|e| {
        let mut ev = Evidence::new();
        ev.violation(format!(
            "The `charges` table could not be read after the deploy: {e}"
        ));
        Problem::Service(ev)
    })?;
    broken.extend(rows_lost(&before, &after));
    // The standing requirements, on this history: the retried key's customer in full;
    // the double-submit's only as far as finding its charges in the table goes (charging
    // it twice was the old version's doing).
    let judge = |sent: &[(Option<String>, String)]| {
        judge_standing_on(new.db(), &provider, sent)
            .map_err(|e| Problem::Harness(format!("the `charges` table could not be read: {e}")))
    };
    for (requirement, lost) in judge(&[(Some(key.clone()), body.json())])? {
        env.journal.judged(requirement, lost);
    }
    for (requirement, lost) in judge(&[(Some(doubled.clone()), double_body.json())])? {
        if requirement == PROVIDER_CHARGES_IN_TABLE {
            env.journal.judged(requirement, lost);
        }
    }
    Ok(verdict(story, broken))
}

/// How long the old version's two concurrent requests may take to reach the provider.
const BOTH_AT_PROVIDER: Duration = Duration::from_secs(5);

/// Plays a mobile double-submit against production's build: two requests under one key,
/// both held at the provider until both are there, then released. The old version
/// charges both and records both rows under the key; returns the key and the body. Not
/// a verdict on the fix: the harness makes sure production's data holds the pair.
async fn double_submit(
    env: &CheckEnv,
    provider: &PaymentProvider,
    base: &str,
    story: &mut Evidence,
) -> Result<(String, ChargeBody), Problem> {
    let key = format!("key-double-submit-{:x}", env.seed & 0xffff_ffff);
    let body = ChargeBody {
        customer_id: format!("cus_double_{:x}", env.seed & 0xffff),
        amount: 1_999,
        currency: "eur".to_owned(),
    };
    provider.set_standing(Some(ProviderFault::HoldUntilReleased));
    let send_one = || {
        let (timeline, base, key, body) = (
            env.journal.timeline().clone(),
            base.to_owned(),
            key.clone(),
            body.clone(),
        );
        tokio::spawn(async move { post(&timeline, &base, &key, &body).await })
    };
    let (a, b) = (send_one(), send_one());
    let both = provider.wait_for_held(2, BOTH_AT_PROVIDER).await;
    provider.heal();
    provider.release_held();
    let (a, b) = (join_post(a).await?, join_post(b).await?);
    if !both {
        return Err(Problem::Harness(format!(
            "production's build did not take both requests of a double-submit to the provider: {a}; {b}"
        )));
    }
    let rows = read_rows(&env.workdir.join("production.db")).map_err(Problem::Harness)?;
    let pair = rows.iter().filter(|r| r.key == key).count();
    if pair != 2 {
        return Err(Problem::Harness(format!(
            "a double-submit to production's build left {pair} row(s) under its key, not the two the old version writes"
        )));
    }
    story.say(format!(
        "A mobile double-submit to the version production runs today (both requests held at the provider until both arrived): {a}; {b} — two provider charges and two rows under key {key}."
    ));
    Ok((key, body))
}

async fn join_post(
    task: tokio::task::JoinHandle<crate::checks::http::Exchange>,
) -> Result<crate::checks::http::Exchange, Problem> {
    task.await
        .map_err(|e| Problem::Harness(format!("a request task failed: {e}")))
}

/// One row of `charges`, as far as finance's reconciliation goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    id: String,
    key: String,
    customer: String,
    amount: i64,
    provider_charge_id: Option<String>,
}

/// Every row of `charges`, read without following a link the service may have planted.
fn read_rows(db: &std::path::Path) -> Result<Vec<Row>, String> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(|e| format!("{}: {e}", db.display()))?;
    let mut stmt = conn
        .prepare(
            "SELECT id, idempotency_key, customer_id, amount, provider_charge_id
               FROM charges ORDER BY rowid",
        )
        .map_err(|e| e.to_string())?;
    stmt.query_map([], |r| {
        Ok(Row {
            id: r.get(0)?,
            key: r.get(1)?,
            customer: r.get(2)?,
            amount: r.get(3)?,
            provider_charge_id: r.get(4)?,
        })
    })
    .and_then(|rows| rows.collect())
    .map_err(|e| e.to_string())
}

/// Production rows missing, or changed beyond recognition, after the deploy.
fn rows_lost(before: &[Row], after: &[Row]) -> Vec<String> {
    before
        .iter()
        .filter(|b| {
            !after.iter().any(|a| {
                a.id == b.id
                    && a.customer == b.customer
                    && a.amount == b.amount
                    && a.provider_charge_id == b.provider_charge_id
            })
        })
        .map(|b| {
            format!(
                "Production's row {} (key {}, {} charged {}, provider charge {}) is gone after the fixed service started on the database: no existing row may be lost, and finance can no longer find that provider charge.",
                b.id,
                b.key,
                b.customer,
                b.amount,
                b.provider_charge_id.as_deref().unwrap_or("none")
            )
        })
        .collect()
}

async fn post(
    timeline: &crate::checks::Timeline,
    base: &str,
    key: &str,
    body: &ChargeBody,
) -> crate::checks::http::Exchange {
    send(
        timeline,
        &reqwest::Client::new(),
        reqwest::Method::POST,
        base,
        "/charges",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body.json()),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, key: &str, pch: &str) -> Row {
        Row {
            id: id.into(),
            key: key.into(),
            customer: "cus_1".into(),
            amount: 100,
            provider_charge_id: Some(pch.into()),
        }
    }

    #[test]
    fn a_dropped_duplicate_is_a_lost_row() {
        let before = vec![row("ch_a", "k", "pch_1"), row("ch_b", "k", "pch_2")];
        let after = vec![row("ch_a", "k", "pch_1")];
        let lost = rows_lost(&before, &after);
        assert_eq!(lost.len(), 1);
        assert!(
            lost[0].contains("ch_b") && lost[0].contains("pch_2"),
            "{lost:?}"
        );
    }

    #[test]
    fn rows_kept_with_a_new_key_or_more_rows_are_not_lost() {
        let before = vec![row("ch_a", "k", "pch_1"), row("ch_b", "k", "pch_2")];
        let mut renamed = row("ch_b", "k#legacy", "pch_2");
        renamed.key = "k#legacy".into();
        let after = vec![
            row("ch_a", "k", "pch_1"),
            renamed,
            row("ch_c", "j", "pch_3"),
        ];
        assert!(rows_lost(&before, &after).is_empty());
    }

    #[test]
    fn a_row_whose_provider_charge_changed_is_lost() {
        let before = vec![row("ch_a", "k", "pch_1")];
        let after = vec![row("ch_a", "k", "pch_9")];
        assert_eq!(rows_lost(&before, &after).len(), 1);
    }
}
