//! Flaw checks (hidden): each exhausts a failure mode instead of hoping for it. Write
//! failures and crashes are placed at every write a transfer makes (triggers in the
//! service's own database); races are forced by holding the risk assessment until every
//! competing transfer has read its balance; lock contention is forced by the harness
//! holding the database's write lock itself.
//!
//! Every count of writes and every fault that did not visibly happen is verified from
//! the file ([`WriteFaults::tally`]): a service that drops or switches off the triggers
//! fails the check with that reason instead of ending the "k = 1, 2, …" loop early.

use std::time::Duration;

use crate::checks::http::Exchange;
use crate::checks::transfer::contract::accounts;
use crate::checks::transfer::world::{
    LockHolder, Target, TransferBody, TransferWorld, burst_held, join, join_all, judge_statuses,
    spawn_all,
};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::write_faults::{FaultError, Tally};
use crate::fakes::{WriteFault, WriteFaults};

/// Failure points tried beyond the writes an unarmed transfer makes, for fixes whose
/// write count varies.
const EXTRA_POINTS: u64 = 4;
/// How long the write lock must stay held before the harness calls a writer stalled.
const STALL_HELD_FOR: Duration = Duration::from_millis(300);
/// Upper bound on reaching a stalled write.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Fails the k-th row write of a transfer, and every write after it in that request (as
/// a full disk would), for every k; after each the database must be as
/// if the transfer never happened (or, if the service answered 2xx, as if it happened
/// whole), and the service must still make a normal transfer.
pub async fn every_write_aborted(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let [a, b] = accounts::<2>(&mut w, &[1_000_000, 1_000])?;
    let faults = w.write_faults()?;
    let writes = match count_writes(&mut w, &faults, &a, &b, &mut story).await? {
        Ok(writes) => writes,
        Err(bypass) => return Ok(verdict(story, vec![bypass])),
    };
    let mut broken = Vec::new();
    for k in 1..=writes + EXTRA_POINTS {
        let (x, tally) = match transfer_failing_from_write(&mut w, &faults, &a, &b, k).await? {
            Ok(answered) => answered,
            Err(bypass) => {
                broken.push(bypass);
                break;
            }
        };
        story.say(format!(
            "Write {k} of the next transfer fails (aborted by a trigger): {x}"
        ));
        let counted = match tally {
            Ok(tally) => tally.counted,
            Err(bypass) => {
                broken.push(bypass);
                break;
            }
        };
        let found = judge_then_transfer(&mut w, &a, &b, &mut story).await?;
        if !found.is_empty() {
            broken.push(format!(
                "After write {k} of a transfer failed, the database was left half-done or the service stopped working:"
            ));
            broken.extend(found);
            break;
        }
        if x.is_success() && counted < k {
            story.say(format!(
                "The transfer made fewer than {k} writes: every failure point was tried."
            ));
            break;
        }
    }
    broken.extend(w.judge(&mut story)?);
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

/// For every k, the row writes of a transfer fail from the k-th on, as on a full disk:
/// the brief answers that `500 internal_error`, the one failure that pages on-call. A
/// `503` tells clients to retry quietly, so nobody learns the disk is full. A 4xx is
/// only noted: the harness's aborts reach the service as constraint errors, which a
/// service may fairly map to a refusal that a real full disk would never produce.
pub async fn failed_write_pages_on_call(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let [a, b] = accounts::<2>(&mut w, &[1_000_000, 1_000])?;
    let faults = w.write_faults()?;
    let writes = match count_writes(&mut w, &faults, &a, &b, &mut story).await? {
        Ok(writes) => writes,
        Err(bypass) => return Ok(verdict(story, vec![bypass])),
    };
    let mut broken = Vec::new();
    for k in 1..=writes {
        let (x, tally) = match transfer_failing_from_write(&mut w, &faults, &a, &b, k).await? {
            Ok(answered) => answered,
            Err(bypass) => {
                broken.push(bypass);
                break;
            }
        };
        story.say(format!(
            "Write {k} of the next transfer and every write after it fail (aborted by a trigger, as on a full disk): {x}"
        ));
        if let Err(bypass) = tally {
            broken.push(bypass);
            break;
        }
        match x.status {
            Some(503) => broken.push(format!(
                "A write that fails must be answered 500 `internal_error`, which pages on-call; 503 tells clients to retry quietly, so a full disk goes unnoticed: {x}"
            )),
            Some(s) if (400..500).contains(&s) => story.say(format!(
                "(The brief answers a failed write 500 `internal_error`; this was {s}.)"
            )),
            _ => {}
        }
    }
    // What the failed writes left in the ledger is `transfer.every-write-aborted`'s to
    // judge: this check credits the answer alone.
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

/// Freezes the k-th write of a transfer for every k, kills the service with SIGKILL
/// there and restarts it: the database must hold the transfer whole or not at all.
pub async fn crash_at_every_write(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let [a, b] = accounts::<2>(&mut w, &[1_000_000, 1_000])?;
    let faults = w.write_faults()?;
    let writes = match count_writes(&mut w, &faults, &a, &b, &mut story).await? {
        Ok(writes) => writes,
        Err(bypass) => return Ok(verdict(story, vec![bypass])),
    };
    let mut broken = Vec::new();
    for k in 1..=writes + EXTRA_POINTS {
        if let Err(bypass) = finding(faults.arm(k, WriteFault::Stall))? {
            broken.push(bypass);
            break;
        }
        let amount = 100 + w.rng().below(900) as i64;
        let body = w.body(&a, &b, amount);
        let client = w.client();
        let (url, sent) = (w.svc.url(), body.clone());
        let task = tokio::spawn(async move { client.transfer(&url, &sent).await });
        let stalled = faults
            .wait_for_stall(STALL_HELD_FOR, STALL_TIMEOUT, || task.is_finished())
            .await
            .map_err(harness)?;
        if !stalled {
            let x = join(task).await?;
            // It never froze: believed only if the triggers saw every write it made.
            let tally = finding(faults.tally())?;
            faults.disarm().map_err(harness)?;
            story.say(format!(
                "Transfer with write {k} frozen: it never reached it: {x}"
            ));
            if let Err(bypass) = tally {
                broken.push(bypass);
                break;
            }
            let found = w.judge(&mut Evidence::new())?;
            if !found.is_empty() {
                broken.extend(found);
                break;
            }
            if x.is_success() {
                story.say(format!(
                    "The transfer made fewer than {k} writes: every crash point was tried."
                ));
                break;
            }
            continue;
        }
        w.svc.kill9().await;
        join(task).await?;
        faults.disarm().map_err(harness)?;
        story.say(format!(
            "Write {k} of a transfer ({body}) frozen, service killed with SIGKILL there and restarted."
        ));
        w.restart_after_kill9().await?;
        let found = judge_then_transfer(&mut w, &a, &b, &mut story).await?;
        if !found.is_empty() {
            broken.push(format!(
                "A crash at write {k} of a transfer left the database half-done or the service unusable:"
            ));
            broken.extend(found);
            break;
        }
    }
    broken.extend(w.judge(&mut story)?);
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

/// Concurrent transfers out of one account whose balance covers only one of them, and
/// into one account from several, all held at the risk check until every one has read its
/// balance; on one instance.
pub async fn concurrent_overdraft(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let svc = Target::of(&w.svc);
    concurrency_rounds(&mut w, &[svc], "one instance").await
}

/// The same rounds spread over two instances on one database file.
pub async fn two_instances(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let second = w.start_another_instance().await?;
    let targets = [Target::of(&w.svc), Target::of(&second)];
    let result = concurrency_rounds(&mut w, &targets, "two instances on one database").await;
    drop(second);
    result
}

/// Another process holds the database's write lock while transfers arrive at two
/// instances (started with a 200 ms busy timeout); then many writers compete. Every
/// answer must be a success or a clean 409/503, and nothing accepted may be lost.
pub async fn busy_database(env: CheckEnv) -> CheckResult {
    const LOCK_HOLD_MAX: Duration = Duration::from_secs(3);
    let vars = vec![("KIT_BUSY_TIMEOUT_MS".to_owned(), "200".to_owned())];
    let mut w = TransferWorld::start_with(env, vars).await?;
    let second = w.start_another_instance().await?;
    let targets = [Target::of(&w.svc), Target::of(&second)];
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let payers = w.open_accounts(&[50_000; 6])?;
    let payees = w.open_accounts(&[0; 6])?;

    story.say(
        "Two instances (busy timeout 200 ms); the harness takes the database's write lock, as the nightly audit would, and sends 6 transfers.",
    );
    let Some(locker) = LockHolder::take(w.db(), Duration::from_secs(10))
        .await
        .map_err(harness)?
    else {
        story.say(
            "The harness could not get the write lock within 10 s: something holds it forever.",
        );
        return Err(Problem::Service(story));
    };
    let bodies: Vec<TransferBody> = (0..6)
        .map(|i| {
            let amount = 100 + w.rng().below(900) as i64;
            w.body(&payers[i], &payees[i], amount)
        })
        .collect();
    let tasks = spawn_all(&w, &targets, &bodies);
    let deadline = tokio::time::Instant::now() + LOCK_HOLD_MAX;
    while tokio::time::Instant::now() < deadline && !tasks.iter().all(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    locker.release().map_err(harness)?;
    story.say("The harness wrote and released the lock.");
    let answers = join_all(tasks).await?;
    judge_statuses(&answers, &mut broken, "while the database was locked");

    story.say("Then 12 transfers between the same accounts arrive at both instances at once.");
    let bodies: Vec<TransferBody> = (0..12)
        .map(|_| {
            let from = &payers[w.rng().below(6) as usize];
            let to = &payees[w.rng().below(6) as usize];
            let amount = 100 + w.rng().below(900) as i64;
            w.body(from, to, amount)
        })
        .collect();
    let tasks = spawn_all(&w, &targets, &bodies);
    let answers = join_all(tasks).await?;
    judge_statuses(&answers, &mut broken, "under concurrent writers");
    broken.extend(w.judge(&mut story)?);
    drop(second);
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

/// How long the harness holds the write lock in [`everyday_contention`]: well inside
/// the brief's default busy timeout (5 s), so a service that waits it out, as the brief
/// says, has two seconds to spare; one that gives up at half its timeout does not.
const SHORT_LOCK: Duration = Duration::from_secs(3);

/// Two ordinary situations no flaw check creates. Equal transfers — the same payer,
/// payee, amount and reference, as a savings plan sends — are each a transfer of their
/// own: four one after another, every one answered 201 with its own id and its money
/// moved. And a write lock held by someone else for less than the busy
/// timeout is waited out: a transfer that arrives meanwhile succeeds once it is free.
pub async fn everyday_contention(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let payer = w.open_accounts(&[100_000])?;
    let payee = w.open_accounts(&[0])?;
    let body = w.body(&payer[0], &payee[0], 2_500);
    // One after another: at once, the pristine service's planted lost update would
    // decide this check by a race (the concurrency checks force that one).
    story.say(format!(
        "The same transfer body four times, one after another (a savings plan's payments): {}",
        body.json()
    ));
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(w.transfer(&body).await);
    }
    let targets = [Target::of(&w.svc)];
    let mut ids = std::collections::BTreeSet::new();
    for x in &answers {
        story.exchange(x);
        if x.status != Some(201) {
            broken.push(format!(
                "Each of four equal transfers the payer can cover must go through with 201 (nothing in the brief makes equal bodies one transfer): {x}"
            ));
        } else if let Some(id) = x.str_field("id")
            && !ids.insert(id.to_owned())
        {
            broken.push(format!(
                "Two equal transfers were answered with the same transfer {id}: a 201 means a transfer of its own was recorded."
            ));
        }
    }

    let Some(locker) = LockHolder::take(w.db(), Duration::from_secs(10))
        .await
        .map_err(harness)?
    else {
        story.say(
            "The harness could not get the write lock within 10 s: something holds it forever.",
        );
        return Err(Problem::Service(story));
    };
    let body = w.body(&payer[0], &payee[0], 1_000);
    story.say(format!(
        "The harness holds the database's write lock for {} ms (the busy timeout is 5 s) while a transfer arrives.",
        SHORT_LOCK.as_millis()
    ));
    let mut task = spawn_all(&w, &targets, &[body]);
    let deadline = tokio::time::Instant::now() + SHORT_LOCK;
    while tokio::time::Instant::now() < deadline && !task[0].is_finished() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answered_early = task[0].is_finished();
    locker.release().map_err(harness)?;
    let x = join(task.remove(0)).await?;
    story.exchange(&x);
    if x.status != Some(201) {
        broken.push(format!(
            "A lock held by someone else for {} ms, less than the 5 s busy timeout, must be waited out: the transfer succeeds once it is free{}: {x}",
            SHORT_LOCK.as_millis(),
            if answered_early { " (it was answered while the lock was still held)" } else { "" }
        ));
    }
    broken.extend(w.judge(&mut story)?);
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

/// A load of concurrent transfers; one of them is frozen at a seed-chosen write of the
/// load (so others are caught between statements), the service is killed with SIGKILL
/// and restarted. Every transfer that got a 2xx must be there, every invariant must hold.
pub async fn crash_under_load(env: CheckEnv) -> CheckResult {
    let mut w = TransferWorld::start(env).await?;
    let mut story = Evidence::new();
    let payers = w.open_accounts(&[1_000_000; 4])?;
    let payees = w.open_accounts(&[0; 4])?;
    let faults = w.write_faults()?;
    // Never a multiple of five plus one: a service writing five rows per transfer
    // without a transaction is then always caught mid-transfer.
    let at = [2, 3, 4, 5, 7, 8, 9, 10][w.rng().below(8) as usize];
    let bodies: Vec<TransferBody> = (0..8)
        .map(|i| {
            let amount = 100 + w.rng().below(9_900) as i64;
            w.body(&payers[i % 4], &payees[(i + 1) % 4], amount)
        })
        .collect();
    if let Err(bypass) = finding(faults.arm(at, WriteFault::Stall))? {
        return Ok(verdict(story, vec![bypass]));
    }
    story.say(format!(
        "8 concurrent transfers; the {at}th row write among them is frozen, then the service is killed with SIGKILL."
    ));
    let targets = [Target::of(&w.svc)];
    let tasks = spawn_all(&w, &targets, &bodies);
    let stalled = faults
        .wait_for_stall(STALL_HELD_FOR, STALL_TIMEOUT, || {
            tasks.iter().all(|t| t.is_finished())
        })
        .await
        .map_err(harness)?;
    let mut broken = Vec::new();
    if !stalled {
        story.say("(the load finished before the frozen write; killed anyway)");
        // Believed only if the triggers saw every write the load made.
        if let Err(bypass) = finding(faults.tally())? {
            broken.push(bypass);
        }
    }
    w.svc.kill9().await;
    let answers = join_all(tasks).await?;
    faults.disarm().map_err(harness)?;
    for x in &answers {
        story.exchange(x);
    }
    w.restart_after_kill9().await?;
    story.say("Restarted on the same database.");
    broken.extend(w.judge(&mut story)?);
    if broken.is_empty() {
        broken.extend(still_works(&mut w, &payers[0], &payees[0], &mut story).await);
    }
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

async fn concurrency_rounds(w: &mut TransferWorld, targets: &[Target], how: &str) -> CheckResult {
    let mut story = Evidence::new();
    let mut broken = Vec::new();

    // Round 0: a balance as the last instance left it. A payer that could not cover a
    // transfer at the first instance is paid at the last one; the same transfer at the
    // first must then go through (no balance remembered by an instance).
    let amount = 1_000 + w.rng().below(4_000) as i64;
    let [payer, payee, funder] = accounts::<3>(w, &[0, 0, amount * 2])?;
    let (first, last) = (&targets[0], &targets[targets.len() - 1]);
    let client = w.client();
    let body = w.body(&payer, &payee, amount);
    let refused = client.transfer(first.url(), &body).await;
    let body = w.body(&funder, &payer, amount * 2);
    let paid = client.transfer(last.url(), &body).await;
    let body = w.body(&payer, &payee, amount);
    let covered = client.transfer(first.url(), &body).await;
    story.say(format!(
        "{how}: {payer} (balance 0) sends {amount} at the first instance: {refused}; {funder} pays it {} at the last: {paid}; the same transfer again at the first: {covered}",
        amount * 2
    ));
    if paid.is_success() && covered.status == Some(409) {
        broken.push(format!(
            "409 insufficient_funds only when the balance really does not cover the amount: {payer} had been paid {} by a transfer the other instance accepted, yet a transfer of {amount} was refused: {covered}",
            amount * 2
        ));
    }

    // Round 1: out of one account that covers exactly one of them. Any two transfers
    // that both pass the balance check overdraw it — also when each instance lets only
    // one request at a time through (a process-local lock).
    let amount = 1_000 + w.rng().below(4_000) as i64;
    let balance = amount + w.rng().below(amount as u64) as i64;
    let [payer] = accounts::<1>(w, &[balance])?;
    let payees = w.open_accounts(&[0; 5])?;
    let bodies: Vec<TransferBody> = payees.iter().map(|p| w.body(&payer, p, amount)).collect();
    story.say(format!(
        "{how}: 5 transfers of {amount} out of {payer} (balance {balance}), each held at the risk check until all have arrived."
    ));
    let answers = burst_held(w, targets, &bodies, &mut story).await?;
    judge_statuses(&answers, &mut broken, "in a concurrent burst");
    no_busy_of_our_own(&answers, &mut broken);
    let accepted = answers.iter().filter(|x| x.is_success()).count();
    let left = w.expected_balance(&payer);
    if accepted == 0 {
        broken.push(
            "None of the concurrent transfers went through, although the balance covered one."
                .to_owned(),
        );
    }
    if left >= amount {
        for x in answers.iter().filter(|x| !x.is_success()) {
            broken.push(format!(
                "A transfer was refused although {payer} still holds {left}, enough for it: {x}"
            ));
        }
    }

    // Round 2: into one account from several.
    let amount = 500 + w.rng().below(2_000) as i64;
    let payers = w.open_accounts(&[amount; 4])?;
    let [payee] = accounts::<1>(w, &[0])?;
    let bodies: Vec<TransferBody> = payers.iter().map(|p| w.body(p, &payee, amount)).collect();
    story.say(format!(
        "{how}: 4 transfers of {amount} into {payee}, each from its own account, held at the risk check until all have arrived."
    ));
    let answers = burst_held(w, targets, &bodies, &mut story).await?;
    judge_statuses(&answers, &mut broken, "in a concurrent burst");
    no_busy_of_our_own(&answers, &mut broken);
    for x in answers.iter().filter(|x| !x.is_success()) {
        broken.push(format!(
            "Every payer covered its transfer, yet one was refused: {x}"
        ));
    }

    // Round 3: two transfers out of an account that covers both, and one into it, all
    // read before any commits. Whatever commits first changes the payer's balance under
    // the others: a fix that re-checks "the balance I read" instead of "the balance
    // covers the amount" refuses transfers the payer can pay. The incoming amount
    // differs from the outgoing one, so no order of commits brings the payer's balance
    // back to a value an earlier reader saw.
    let amount = 500 + w.rng().below(2_000) as i64;
    let incoming = amount + 1 + w.rng().below(500) as i64;
    let balance = 2 * amount + w.rng().below(amount as u64) as i64;
    let [payer, other, payee] = accounts::<3>(w, &[balance, incoming, 0])?;
    let bodies = vec![
        w.body(&payer, &payee, amount),
        w.body(&other, &payer, incoming),
        w.body(&payer, &payee, amount),
    ];
    story.say(format!(
        "{how}: 2 transfers of {amount} out of {payer} (balance {balance}, enough for both) and 1 of {incoming} into it from {other}, held at the risk check until all have arrived."
    ));
    let answers = burst_held(w, targets, &bodies, &mut story).await?;
    judge_statuses(&answers, &mut broken, "in a concurrent burst");
    no_busy_of_our_own(&answers, &mut broken);
    for x in answers.iter().filter(|x| !x.is_success()) {
        broken.push(format!(
            "Every payer covered its transfer even after the others committed, yet one was refused (a 409 only when the balance really does not cover the amount, never because of our own concurrent requests): {x}"
        ));
    }
    broken.extend(w.judge(&mut story)?);
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

/// Nobody else holds the database in a burst of the service's own transfers: a `503`
/// there is the brief's "never because of our own concurrent requests" broken (a lost
/// race for the money is a `409`; the risk service answers every assessment).
fn no_busy_of_our_own(answers: &[Exchange], broken: &mut Vec<String>) {
    for x in answers.iter().filter(|x| x.status == Some(503)) {
        broken.push(format!(
            "A transfer in a burst of our own concurrent requests was answered 503, with no one else holding the database and the risk service answering: 503 is for a database locked by someone else past the busy timeout, never for our own concurrent requests (a transfer the balance no longer covers is a 409): {x}"
        ));
    }
}

/// Makes one unarmed transfer while counting row writes; the count bounds the
/// failure points to try. `Ok(Err(_))` when the count cannot be believed (the triggers
/// were bypassed): the check fails with that.
async fn count_writes(
    w: &mut TransferWorld,
    faults: &WriteFaults,
    from: &str,
    to: &str,
    story: &mut Evidence,
) -> Result<Result<u64, String>, Problem> {
    if let Err(bypass) = finding(faults.count_only())? {
        return Ok(Err(bypass));
    }
    let body = w.body(from, to, 250);
    let x = w.transfer(&body).await;
    let tally = finding(faults.tally())?;
    faults.disarm().map_err(harness)?;
    story.exchange(&x);
    let writes = match tally {
        Ok(tally) => tally.counted,
        Err(bypass) => return Ok(Err(bypass)),
    };
    if !x.is_success() {
        story.say("A plain transfer between two funded accounts failed.");
        return Err(Problem::Service(story.clone()));
    }
    story.say(format!("A transfer makes {writes} row writes."));
    Ok(Ok(writes))
}

/// After a fault: the ledger judge, and when it holds, a plain transfer must go through.
async fn judge_then_transfer(
    w: &mut TransferWorld,
    from: &str,
    to: &str,
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let found = w.judge(&mut Evidence::new())?;
    if !found.is_empty() {
        return Ok(found);
    }
    Ok(still_works(w, from, to, story).await)
}

/// After a fault, a plain transfer must go through.
async fn still_works(
    w: &mut TransferWorld,
    from: &str,
    to: &str,
    story: &mut Evidence,
) -> Vec<String> {
    let body = w.body(from, to, 50);
    let x = w.transfer(&body).await;
    if x.is_success() {
        Vec::new()
    } else {
        story.exchange(&x);
        vec![format!("The next plain transfer failed: {x}")]
    }
}

/// Arms the row writes of the next transfer to fail from the `k`-th on (as a full disk
/// would), sends one transfer from `a` to `b` and disarms. The answer, with what the
/// triggers then count (or the bypass they found); `Err` when arming already found one.
async fn transfer_failing_from_write(
    w: &mut TransferWorld,
    faults: &WriteFaults,
    a: &str,
    b: &str,
    k: u64,
) -> Result<Result<(Exchange, Result<Tally, String>), String>, Problem> {
    if let Err(bypass) = finding(faults.arm(k, WriteFault::Abort))? {
        return Ok(Err(bypass));
    }
    let amount = 100 + w.rng().below(900) as i64;
    let body = w.body(a, b, amount);
    let x = w.transfer(&body).await;
    let tally = finding(faults.tally())?;
    faults.disarm().map_err(harness)?;
    Ok(Ok((x, tally)))
}

fn harness(e: rusqlite::Error) -> Problem {
    Problem::Harness(format!("write-fault triggers: {e}"))
}

/// A write-fault result as a check needs it: a bypass is a finding the check fails with
/// (`Ok(Err(reason))`), any other error is the harness's problem.
pub(crate) fn finding<T>(result: Result<T, FaultError>) -> Result<Result<T, String>, Problem> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) => match e.split() {
            Ok(bypass) => Ok(Err(bypass.to_string())),
            Err(e) => Err(Problem::Harness(e.to_string())),
        },
    }
}

fn dedup(broken: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    broken.retain(|b| seen.insert(b.clone()));
}
