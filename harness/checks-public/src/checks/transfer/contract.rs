//! Contract checks (public): the transfer service does its job and refuses what it must.

use crate::checks::transfer::world::TransferWorld;
use crate::checks::{CheckEnv, CheckResult, Evidence, kit_canary, verdict};
use crate::fakes::RiskFault;

/// A transfer moves money, is recorded with its two entries, and can be read back.
pub async fn happy_path(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let opening = 10_000 + w.rng().below(5_000) as i64;
    let [a, b] = accounts::<2>(&mut w, &[opening, 500])?;
    let amount = 1 + w.rng().below(opening as u64 / 2) as i64;
    let body = w.body(&a, &b, amount);
    let created = w.transfer(&body).await;
    story.exchange(&created);
    if created.status != Some(201) {
        broken.push("A transfer must be answered with 201 Created.".to_owned());
    }
    if created.str_field("from_account") != Some(a.as_str())
        || created.str_field("to_account") != Some(b.as_str())
        || created.i64_field("amount") != Some(amount)
        || created.str_field("reference") != body.reference.as_deref()
    {
        broken.push("The created transfer does not describe the request.".to_owned());
    }
    if let Some(id) = created.str_field("id") {
        let read = w.get(&format!("/transfers/{id}")).await;
        story.exchange(&read);
        if read.status != Some(200)
            || read.str_field("id") != Some(id)
            || read.i64_field("amount") != Some(amount)
        {
            broken.push("GET /transfers/{id} does not return the transfer just made.".to_owned());
        }
        for (account, signed) in [(&a, -amount), (&b, amount)] {
            let read = w.get(&format!("/accounts/{account}")).await;
            story.exchange(&read);
            let want = w.expected_balance(account);
            let has_entry = read
                .body
                .as_ref()
                .and_then(|v| v.get("entries"))
                .and_then(|e| e.as_array())
                .is_some_and(|entries| {
                    entries.iter().any(|e| {
                        e.get("transfer_id").and_then(|t| t.as_str()) == Some(id)
                            && e.get("amount").and_then(|x| x.as_i64()) == Some(signed)
                    })
                });
            if read.status != Some(200) || read.i64_field("balance") != Some(want) || !has_entry {
                broken.push(format!(
                    "GET /accounts/{account} must show balance {want} and an entry of {signed} for transfer {id}."
                ));
            }
        }
    } else {
        broken.push("The created transfer has no string `id`.".to_owned());
    }
    let bare = crate::checks::transfer::world::TransferBody {
        reference: None,
        ..w.body(&b, &a, 100)
    };
    let x = w.transfer(&bare).await;
    story.exchange(&x);
    if !x.is_success()
        || x.body.as_ref().and_then(|v| v.get("reference")) != Some(&serde_json::Value::Null)
    {
        broken.push(
            "A transfer without a reference must succeed, with `reference: null`.".to_owned(),
        );
    }
    for path in [
        "/transfers/tr_does_not_exist",
        "/accounts/acc_does_not_exist",
    ] {
        let missing = w.get(path).await;
        story.exchange(&missing);
        if missing.status != Some(404) || !missing.is_json_error() {
            broken.push(format!("GET {path} must give 404 with a JSON error."));
        }
    }
    let assessed = w
        .risk
        .calls()
        .iter()
        .any(|c| c.from_account.as_deref() == Some(a.as_str()) && c.amount == Some(amount));
    if !assessed {
        broken.push("The transfer was made without asking the risk service.".to_owned());
    }
    broken.extend(w.judge(&mut story)?);
    Ok(verdict(story, broken))
}

/// Malformed and invalid transfers get a 4xx with a JSON error and change nothing.
pub async fn rejects_invalid_requests(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let [a, b] = accounts::<2>(&mut w, &[50_000, 100])?;
    let before = w.ledger()?;
    let long = "r".repeat(141);
    // Each with the status the brief's table gives it: when more than one of 400, 404,
    // 409 and 422 applies, the first in the table wins (an invalid request that names a
    // missing account is 400).
    let bodies = [
        (
            format!(r#"{{"from_account":"{a}","to_account":"{a}","amount":100}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"acc_missing","to_account":"{b}","amount":100}}"#),
            404,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"acc_missing","amount":100}}"#),
            404,
        ),
        (
            format!(r#"{{"from_account":"","to_account":"{b}","amount":100}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"","amount":100}}"#),
            400,
        ),
        (
            r#"{"from_account":"","to_account":"acc_missing","amount":100}"#.to_owned(),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}","amount":0}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}","amount":-100}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}","amount":1.5}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}","amount":"100"}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}","amount":1000000001}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}","amount":9223372036854775807}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}","amount":9223372036854775808}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}","amount":1e30}}"#),
            400,
        ),
        (
            format!(r#"{{"from_account":"{a}","to_account":"{b}"}}"#),
            400,
        ),
        (format!(r#"{{"from_account":"{a}","amount":100}}"#), 400),
        (
            format!(
                r#"{{"from_account":"{a}","to_account":"{b}","amount":100,"reference":"{long}"}}"#
            ),
            400,
        ),
        ("{".to_owned(), 400),
        (String::new(), 400),
    ];
    let client = w.client();
    for (body, want) in &bodies {
        let x = client.post_raw(&w.svc.url(), body).await;
        story.exchange(&x);
        if x.status != Some(*want) || !x.is_json_error() {
            broken.push(format!(
                "This transfer must get {want} with a JSON error (the brief's table; the first status that applies wins): {x}"
            ));
        }
    }
    if w.ledger()? != before {
        broken.push("Refused transfers changed the accounts, transfers or ledger.".to_owned());
    }
    // Just inside the limit: a reference of exactly 140 characters (not bytes) is valid.
    let at_limit = "é".repeat(140);
    let mut body = w.body(&a, &b, 100);
    body.reference = Some(at_limit.clone());
    let x = w.transfer(&body).await;
    story.exchange(&x);
    if x.status != Some(201) || x.str_field("reference") != Some(at_limit.as_str()) {
        broken.push(format!(
            "A reference of exactly 140 characters is within the brief's limit and must be accepted as sent: {x}"
        ));
    }
    broken.extend(w.judge(&mut story)?);
    Ok(verdict(story, broken))
}

/// A transfer larger than the balance is refused cleanly; the whole balance can move.
pub async fn insufficient_funds(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let balance = 1_000 + w.rng().below(9_000) as i64;
    let [a, b] = accounts::<2>(&mut w, &[balance, 0])?;
    for (amount, must_succeed) in [(balance + 1, false), (balance, true), (1, false)] {
        let before = w.ledger()?;
        let body = w.body(&a, &b, amount);
        let x = w.transfer(&body).await;
        story.exchange(&x);
        if must_succeed {
            if !x.is_success() {
                broken.push(format!(
                    "Moving the whole balance ({balance}) must succeed: {x}"
                ));
            }
        } else if !matches!(x.status, Some(409 | 422)) || !x.is_json_error() {
            broken.push(format!(
                "A transfer above the balance must get 409 (or 422) with a JSON error: {x}"
            ));
        } else if w.ledger()? != before {
            broken.push("A refused transfer changed the accounts, transfers or ledger.".to_owned());
        }
    }
    // The brief's largest amount is a transfer like any other when the payer covers it.
    const MAX_AMOUNT: i64 = 1_000_000_000;
    let [rich, payee] = accounts::<2>(&mut w, &[MAX_AMOUNT, 0])?;
    let body = w.body(&rich, &payee, MAX_AMOUNT);
    let x = w.transfer(&body).await;
    story.exchange(&x);
    if !x.is_success() {
        broken.push(format!(
            "A transfer of exactly {MAX_AMOUNT} (the brief's largest amount) that the payer covers must succeed: {x}"
        ));
    }
    // A transfer the payer cannot cover is 409 whatever the risk service would say.
    let [poor, other] = accounts::<2>(&mut w, &[500, 0])?;
    w.risk.decline_from(&poor);
    let body = w.body(&poor, &other, 501);
    let x = w.transfer(&body).await;
    story.say(format!("The risk service would decline this payer: {x}"));
    if x.status != Some(409) {
        broken.push(format!(
            "A transfer the payer cannot cover is 409 whatever the risk service would say (here it would decline): {x}"
        ));
    }
    w.risk.set_standing(Some(RiskFault::ServerError));
    let body = w.body(&poor, &other, 502);
    let x = w.transfer(&body).await;
    w.risk.set_standing(None);
    story.say(format!("The risk service is failing: {x}"));
    if x.status != Some(409) {
        broken.push(format!(
            "A transfer the payer cannot cover is 409 whatever the risk service would say (here it is failing): {x}"
        ));
    }
    broken.extend(w.judge(&mut story)?);
    Ok(verdict(story, broken))
}

/// A declined assessment and a risk service that gives no usable answer (5xx, an answer
/// that is not a decision, a dropped connection) all refuse the transfer cleanly.
pub async fn risk_decline_and_outage(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let [a, b, c, d] = accounts::<4>(&mut w, &[20_000, 0, 20_000, 20_000])?;
    // Every transfer is assessed: the same transfer again, once the risk service has
    // started to decline its payer, is declined, not approved from memory.
    let body = w.body(&d, &b, 700);
    let approved = w.transfer(&body).await;
    story.exchange(&approved);
    w.risk.decline_from(&d);
    let body = w.body(&d, &b, 700);
    let again = w.transfer(&body).await;
    story.exchange(&again);
    story.say("(the same transfer under a new reference, after the risk service started declining its payer)");
    if approved.status == Some(201) && again.status != Some(422) {
        broken.push(format!(
            "Each transfer is assessed by the risk service: the same payer, payee and amount sent again under a new reference after the risk service started declining the payer must get 422, not {}.",
            again.status.map_or("no answer".to_owned(), |s| s.to_string())
        ));
    }
    w.risk.decline_from(&c);
    let body = w.body(&c, &b, 700);
    let declined = w.transfer(&body).await;
    story.exchange(&declined);
    if declined.status != Some(422) || !declined.is_json_error() {
        broken.push(
            "A transfer the risk service declines must get 422 with a JSON error.".to_owned(),
        );
    }
    w.risk.set_standing(Some(RiskFault::ServerError));
    let body = w.body(&a, &b, 800);
    let outage = w.transfer(&body).await;
    story.exchange(&outage);
    story.say("(the risk service answers 500 to every assessment)");
    if !matches!(outage.status, Some(502..=504)) || !outage.is_json_error() {
        broken.push(
            "While the risk service fails, a transfer must get 502, 503 or 504 with a JSON error."
                .to_owned(),
        );
    }
    w.risk.set_standing(None);
    // The brief's whole vocabulary of a risk service that gives no usable answer: not
    // only a 500, but a 503, a page that is not JSON, a decision it does not name, a
    // connection dropped without an answer. Each is a refusal with nothing moved.
    for (n, (fault, outcome, what)) in [
        (RiskFault::Unavailable, "503", "answers 503"),
        (
            RiskFault::RateLimited,
            "429",
            "answers 429 Too Many Requests (it did not assess; no decline)",
        ),
        (
            RiskFault::Garbage,
            "garbage",
            "answers 200 with an HTML page",
        ),
        (
            RiskFault::UnknownDecision,
            "unknown decision",
            "answers 200 with the decision \"review\", which the brief does not name",
        ),
        (
            RiskFault::Reset,
            "reset",
            "drops the connection without answering",
        ),
        (
            RiskFault::SlowBody,
            "stalled mid-body",
            "sends its headers and half an approval, then stalls for good",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        w.risk.fail_next(fault);
        let body = w.body(&a, &b, 810 + n as i64);
        let x = w.transfer(&body).await;
        story.say(format!("The risk service {what}: {x}"));
        if !w.risk.calls().iter().any(|c| c.outcome == outcome) {
            broken.push(format!(
                "The service must ask the risk service before moving money; it never did while the risk service {what}: {x}"
            ));
        } else if !matches!(x.status, Some(502..=504)) || !x.is_json_error() {
            broken.push(format!(
                "When the risk service {what}, there is no decision: the transfer must get 502, 503 or 504 with a JSON error, and nothing moves: {x}"
            ));
        }
    }
    let body = w.body(&a, &b, 900);
    let healed = w.transfer(&body).await;
    story.exchange(&healed);
    story.say("(the risk service is healthy again)");
    if !healed.is_success() {
        broken.push("Once the risk service recovers, transfers must go through again.".to_owned());
    }
    broken.extend(w.judge(&mut story)?);
    Ok(verdict(story, broken))
}

/// The kit's statement accounting is intact.
pub async fn statement_accounting(env: CheckEnv) -> CheckResult {
    let w = TransferWorld::start(env).await?;
    Ok(kit_canary(&w.svc.url()).await)
}

/// Opens `N` accounts and returns their ids as an array.
pub fn accounts<const N: usize>(
    w: &mut TransferWorld,
    balances: &[i64; N],
) -> Result<[String; N], crate::checks::Problem> {
    let ids = w.open_accounts(balances)?;
    ids.try_into()
        .map_err(|_| crate::checks::Problem::Harness("opened a wrong number of accounts".into()))
}
