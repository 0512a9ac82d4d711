//! Flaw checks (hidden), one group per planted flaw. Each check judges only its own
//! requirement ([`Scope`]), so a submission that fixes some flaws is credited exactly
//! those. Faults are placed, never hoped for: the provider loses the response after
//! charging or holds the call after charging while duplicates arrive; write failures
//! and crashes are placed at every row write of a checkout (triggers in the service's
//! own database); shipping-rates hangs, stalls and fails for as long as the check says.
//! A count of writes, or a fault that did not visibly happen, is believed only once
//! verified from the file ([`WriteFaults::tally`]): triggers dropped or switched off fail
//! the check with that reason.

use std::time::{Duration, Instant};

use crate::checks::checkout::carts::{breakers, refused_cleanly, stock_near_cap, stock_pricey};
use crate::checks::checkout::world::{
    BUDGET, BUDGET_ALLOWED, CRASH_RECOVERY, Cart, CheckoutWorld, Line, RECOVERY_MARGIN, Scope, join,
};
use crate::checks::http::Exchange;
use crate::checks::pauses::service_time;
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::write_faults::FaultError;
use crate::fakes::{LockHolder, ProviderFault, ShippingFault, WriteFault, WriteFaults};

/// Units of every product the flaw checks stock: more than any check can sell.
const STOCK: i64 = 10_000;
/// Attempts a client makes with one key before the check calls the checkout stuck.
const ATTEMPTS: usize = 8;
/// Failure points tried beyond the writes an unarmed checkout makes.
const EXTRA_POINTS: u64 = 3;
/// How long a recovered shipping-rates may take to be used again (a breaker's cool-down).
const RECOVERY: Duration = Duration::from_secs(10);
/// Pause between the clients' retries while shipping-rates recovers.
const RECOVERY_PAUSE: Duration = Duration::from_millis(250);
/// Retries that fit in [`RECOVERY`].
const RECOVERY_ATTEMPTS: usize = 40;
/// How long the write lock must stay held before the harness calls a writer stalled.
const STALL_HELD_FOR: Duration = Duration::from_millis(300);
/// Upper bound on reaching a stalled write.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- charge-not-idempotent

/// The provider charges the card and the response is lost; then the provider fails
/// with a 500 before charging. Each time the client retries with the same key until it
/// gets an answer: the checkout must complete, and the customer be charged once.
pub async fn retry_after_lost_response(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(3, STOCK)?;
    for (fault, what) in [
        (
            ProviderFault::LostResponse,
            "charges the card, then the connection drops before the answer",
        ),
        (ProviderFault::ServerError, "answers 500 without charging"),
    ] {
        let cart = w.cart(&[(&skus[0], 2), (&skus[1], 1)]);
        let key = w.new_key();
        w.provider.fail_next(fault);
        story.say(format!(
            "The payment provider {what} on the next call; the client retries with the same key."
        ));
        let x = w
            .checkout_until_done(&key, &cart, ATTEMPTS, &mut story)
            .await;
        if !x.is_success() {
            broken.push(format!(
                "After the provider {what}, {ATTEMPTS} retries with the same key never completed the checkout; the last answer: {x}"
            ));
        }
        broken.extend(w.judge_answer(&cart, &x));
    }
    // A client that does not come back: the charge it caused must still belong to an
    // order that will ship or be paid (the brief: "there is never a charge without an
    // order"), not to one given up on the strength of an answer that never came.
    let cart = w.cart(&[(&skus[2], 1)]);
    let key = w.new_key();
    w.provider.fail_next(ProviderFault::LostResponse);
    let x = w.checkout(&key, &cart).await;
    story.say(format!(
        "The payment provider charges the card, then the connection drops before the answer; this client gives up after its answer and never retries: {x}"
    ));
    if x.is_success() {
        broken.extend(w.judge_answer(&cart, &x));
    }
    broken.extend(w.judge_scope(Scope::Charges)?);
    Ok(verdict(story, broken))
}

/// How long the instance has been taking orders when [`crash_after_charge`] kills it.
/// In production a crashed instance is rarely new: a claim measured on a clock that
/// starts with the process (kept in the shared file, read by the next process) looks
/// valid for as long as the dead one had been up, and only an instance older than the
/// brief's recovery window shows that clear of the edge, whatever the machine's load.
const UP_BEFORE_CRASH: Duration = Duration::from_secs(6);

/// The provider charges the card and holds its answer; the service is killed with
/// SIGKILL there and restarted; the client retries with the same key: the checkout
/// must complete within the brief's [`CRASH_RECOVERY`] (a key whose request died
/// may answer 409 until then, not longer) and charge once. The instance killed has
/// been taking orders for [`UP_BEFORE_CRASH`].
pub async fn crash_after_charge(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(2, STOCK)?;
    let opened = tokio::time::Instant::now();
    let earlier = w.cart(&[(&skus[1], 1)]);
    let key = w.new_key();
    let x = w.checkout(&key, &earlier).await;
    story.exchange(&x);
    broken.extend(w.judge_answer(&earlier, &x));
    tokio::time::sleep_until(opened + UP_BEFORE_CRASH).await;
    story.say(format!(
        "The instance has been taking orders for {} s.",
        UP_BEFORE_CRASH.as_secs()
    ));
    let cart = w.cart(&[(&skus[0], 1), (&skus[1], 3)]);
    let key = w.new_key();
    let task = held_at_provider(&mut w, &key, &cart, ProviderFault::CommitThenHold, &story).await?;
    story.say("The provider charged the card and holds its answer; the service is killed with SIGKILL and restarted.");
    w.svc.kill9().await;
    let x = join(task).await?;
    w.record(&key, Some(&cart), &cart.value(), &x);
    w.provider.release_held();
    w.restart_after_kill9().await?;
    let back = tokio::time::Instant::now();
    let x = w
        .checkout_until_recovered(&key, &cart, ATTEMPTS, back, &mut story)
        .await;
    if !x.is_success() {
        broken.push(format!(
            "After a crash between the charge and the answer, retries with the same key for {} s never completed the checkout (the brief requires a retry to be able to complete it within {} s of a crash); the last answer: {x}",
            CRASH_RECOVERY.as_secs(),
            CRASH_RECOVERY.as_secs()
        ));
    }
    broken.extend(w.judge_answer(&cart, &x));
    broken.extend(w.judge_scope(Scope::Charges)?);
    if !broken.is_empty() {
        return Ok(verdict(story, broken));
    }
    crash_while_provider_charges(&mut w, &skus, &mut story, &mut broken).await?;
    Ok(verdict(story, broken))
}

/// Sends `cart` under `key` with the provider set to hold it in `fault`, and returns the
/// request's task once the provider holds it; a checkout that never reaches the provider
/// fails the check, with `story` and its answer as evidence.
async fn held_at_provider(
    w: &mut CheckoutWorld,
    key: &str,
    cart: &Cart,
    fault: ProviderFault,
    story: &Evidence,
) -> Result<tokio::task::JoinHandle<Exchange>, Problem> {
    w.provider.fail_next(fault);
    let client = w.client();
    let (url, k, body) = (w.svc.url(), key.to_owned(), cart.json());
    let task = tokio::spawn(async move { client.checkout(&url, &k, &body).await });
    if w.provider.wait_for_held(1, Duration::from_secs(10)).await {
        return Ok(task);
    }
    let x = join(task).await?;
    w.record(key, Some(cart), &cart.value(), &x);
    let mut story = story.clone();
    story.exchange(&x);
    story.say("The checkout never reached the payment provider.");
    Err(Problem::Service(story))
}

/// The second round of [`crash_after_charge`]: the service dies while the provider is
/// still processing its charge, which the provider finishes anyway. A retry that asks
/// the provider again under the same key hears `409` (the original is in flight): that
/// is not a decline, so the checkout must neither answer `402` nor give up the order,
/// and once the provider has charged, a retry completes it with that charge.
async fn crash_while_provider_charges(
    w: &mut CheckoutWorld,
    skus: &[String],
    story: &mut Evidence,
    broken: &mut Vec<String>,
) -> Result<(), Problem> {
    let cart = w.cart(&[(&skus[0], 2)]);
    let key = w.new_key();
    let task = held_at_provider(w, &key, &cart, ProviderFault::HoldOutlivingCaller, story).await?;
    story.say("A second checkout: the provider is still processing its charge (and will finish it whatever the caller does) when the service is killed with SIGKILL and restarted.");
    w.svc.kill9().await;
    let x = join(task).await?;
    w.record(&key, Some(&cart), &cart.value(), &x);
    let asked = w.provider.calls().len();
    w.restart_after_kill9().await?;
    // Retry until the service has asked the provider again (it hears 409: the original
    // is still in flight) or the brief's crash window has passed.
    let until = Instant::now() + CRASH_RECOVERY + RECOVERY_MARGIN;
    loop {
        let x = w.checkout(&key, &cart).await;
        let asked_again = w.provider.calls().len() > asked;
        if asked_again || !matches!(x.status, None | Some(409) | Some(500..=599)) {
            story.exchange(&x);
            if asked_again {
                story.say("The service asked the provider about the charge again while the original call was still held (under the same provider key the provider answers 409 idempotency_key_in_use).");
            }
            if x.status == Some(402) || x.is_success() {
                broken.push(format!(
                    "While the provider was still processing the charge (it answers 409 idempotency_key_in_use: nothing is decided), the retry was answered {}; only a retryable 409/502/503/504 is right: the card may yet be charged, and is.",
                    x.status.unwrap_or_default()
                ));
            }
            break;
        }
        if Instant::now() >= until {
            story.exchange(&x);
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    w.provider.release_held();
    let released = tokio::time::Instant::now();
    // The fault is believed only once it happened: the held call ran to its end.
    if !w.provider.wait_idle(Duration::from_secs(5)).await {
        return Err(Problem::Harness(
            "the provider's held call did not finish after its release".to_owned(),
        ));
    }
    story.say("The provider finishes the original call: it charges the card.");
    let x = w
        .checkout_until_recovered(&key, &cart, ATTEMPTS, released, story)
        .await;
    if !x.is_success() {
        broken.push(format!(
            "Once the provider had charged the card, retries with the same key for {} s never completed the checkout with that charge; the last answer: {x}",
            (CRASH_RECOVERY + RECOVERY_MARGIN).as_secs()
        ));
    }
    broken.extend(w.judge_answer(&cart, &x));
    broken.extend(w.judge_scope(Scope::Charges)?);
    Ok(())
}

// ----------------------------------------------------------------- replay-not-guarded

/// Where the duplicates of [`concurrent_duplicates`] find the first request.
#[derive(Debug, Clone, Copy)]
enum HoldAt {
    /// At the provider, in this fault (after or before charging).
    Provider(ProviderFault),
    /// At shipping-rates, before anything is written; released into a database whose
    /// write lock the harness holds, so every copy has looked the key up before any can
    /// write.
    Shipping,
}

/// Duplicates of one checkout (a double submit, a retry at another instance) arrive at
/// two instances on one database. Three rounds: the provider has charged the first and
/// holds its answer; the provider holds the first call before charging (a duplicate
/// that asks it again hears its 409); every copy is held at shipping-rates and then
/// released at once into a database whose write lock the harness holds (so all have
/// looked the key up before any can write: a lock inside one process cannot order
/// them). Each round: one charge, at most one live order, every success the same order,
/// stock held by that order alone, and afterwards the key replays the order.
pub async fn concurrent_duplicates(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let second = w.start_another_instance().await?;
    let urls = [w.svc.url(), second.url()];
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(2, STOCK)?;
    for (hold, when) in [
        (
            HoldAt::Provider(ProviderFault::CommitThenHold),
            "The provider charged the first checkout and holds its answer; meanwhile 3 duplicates with the same key arrive at both instances.",
        ),
        (
            HoldAt::Provider(ProviderFault::HoldUntilReleased),
            "The provider holds the first checkout's call before charging; meanwhile 3 duplicates with the same key arrive at both instances.",
        ),
        (
            HoldAt::Shipping,
            "Shipping-rates holds the first checkout and 3 duplicates (both instances); they are released together while the harness holds the database's write lock.",
        ),
    ] {
        let cart = w.cart(&[(&skus[0], 2), (&skus[1], 2)]);
        let key = w.new_key();
        story.say(when);
        let answers = duplicates_while_held(&mut w, &urls, &key, &cart, hold, &mut story).await?;
        for x in &answers {
            if !x.is_success() && !matches!(x.status, Some(409 | 502 | 503 | 504)) {
                broken.push(format!(
                    "A duplicate was answered with neither the order nor a retryable 409/502/503/504: {x}"
                ));
            }
        }
        let x = w
            .checkout_until_done(&key, &cart, ATTEMPTS, &mut story)
            .await;
        if !x.is_success() {
            broken.push(format!(
                "Once the duplicates were answered, the key never replayed its order: {x}"
            ));
        }
    }
    // No fault is injected here, so stock must be exact too.
    broken.extend(w.judge_scope(Scope::All)?);
    dedup(&mut broken);
    drop(second);
    Ok(verdict(story, broken))
}

/// Sends a checkout held at `hold`, then three duplicates over `urls`; releases once
/// every copy is answered or held too, or nothing moves for a while (a fix may make
/// duplicates wait for the first). Returns every answer, recorded.
async fn duplicates_while_held(
    w: &mut CheckoutWorld,
    urls: &[String],
    key: &str,
    cart: &Cart,
    hold: HoldAt,
    story: &mut Evidence,
) -> Result<Vec<Exchange>, Problem> {
    const DUPLICATES: usize = 3;
    const QUIET: Duration = Duration::from_millis(400);
    const LIMIT: Duration = Duration::from_secs(8);
    /// How long released copies get to reach their first write while the harness
    /// holds the lock.
    const SETTLE: Duration = Duration::from_millis(200);
    let held = |w: &CheckoutWorld| match hold {
        HoldAt::Provider(_) => w.provider.held(),
        HoldAt::Shipping => w.shipping.held(),
    };
    match hold {
        HoldAt::Provider(fault) => w.provider.set_standing(Some(fault)),
        HoldAt::Shipping => w.shipping.set_standing(Some(ShippingFault::Hold)),
    }
    let spawn = |w: &CheckoutWorld, url: &str| {
        let (client, url, k, body) = (w.client(), url.to_owned(), key.to_owned(), cart.json());
        tokio::spawn(async move { client.checkout(&url, &k, &body).await })
    };
    let mut tasks = vec![spawn(w, &urls[0])];
    let reached = match hold {
        HoldAt::Provider(_) => w.provider.wait_for_held(1, Duration::from_secs(10)).await,
        HoldAt::Shipping => w.shipping.wait_for_held(1, Duration::from_secs(10)).await,
    };
    if !reached {
        w.provider.set_standing(None);
        w.provider.release_held();
        w.shipping.heal();
        w.shipping.release_held();
        for task in tasks {
            let x = join(task).await?;
            story.exchange(&x);
        }
        story.say("The first checkout never reached the held downstream call.");
        return Err(Problem::Service(story.clone()));
    }
    for i in 0..DUPLICATES {
        tasks.push(spawn(w, &urls[(i + 1) % urls.len()]));
    }
    let started = tokio::time::Instant::now();
    let mut last = (usize::MAX, usize::MAX);
    let mut since = tokio::time::Instant::now();
    loop {
        let held = held(w);
        let answered = tasks.iter().filter(|t| t.is_finished()).count();
        if held + answered >= tasks.len() || started.elapsed() > LIMIT {
            break;
        }
        if (held, answered) != last {
            last = (held, answered);
            since = tokio::time::Instant::now();
        } else if since.elapsed() > QUIET {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    match hold {
        HoldAt::Provider(_) => {
            w.provider.set_standing(None);
            w.provider.release_held();
        }
        HoldAt::Shipping => {
            let lock = LockHolder::take(w.db(), Duration::from_millis(100))
                .await
                .map_err(|e| Problem::Harness(format!("could not take the write lock: {e}")))?
                .map(|lock| lock.noted_on(w.timeline()));
            w.shipping.heal();
            w.shipping.release_held();
            if let Some(lock) = lock {
                let _ = w.shipping.wait_idle(Duration::from_secs(2)).await;
                tokio::time::sleep(SETTLE).await;
                lock.release().map_err(|e| {
                    Problem::Harness(format!("could not release the write lock: {e}"))
                })?;
            }
        }
    }
    let mut answers = Vec::new();
    for task in tasks {
        let x = join(task).await?;
        w.record(key, Some(cart), &cart.value(), &x);
        story.exchange(&x);
        answers.push(x);
    }
    Ok(answers)
}

/// A key is reused with a different cart: 422 with a JSON error, nothing changes, and
/// the original cart still replays its order.
pub async fn key_reused_with_other_cart(env: CheckEnv) -> CheckResult {
    let mut across_deploy = env.clone();
    across_deploy.workdir = env.workdir.join("across-deploy");
    std::fs::create_dir_all(&across_deploy.workdir)?;
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(2, STOCK)?;
    let cart = w.cart(&[(&skus[0], 1)]);
    let key = w.new_key();
    let first = w.checkout(&key, &cart).await;
    story.exchange(&first);
    if first.status != Some(201) {
        story.say("A plain checkout failed.");
        return Err(Problem::Service(story));
    }
    // Every part of the body counts: the cart, the card, the address.
    let mut other_cart = cart.clone();
    other_cart.lines[0].quantity = 4;
    other_cart.lines.push(Line {
        sku: skus[1].clone(),
        quantity: 1,
    });
    let mut other_card = cart.clone();
    other_card.payment_method = "pm_card_mastercard".to_owned();
    let mut other_address = cart.clone();
    other_address.shipping_address.line1 = format!("{} (back door)", cart.shipping_address.line1);
    for (what, other) in [
        ("another cart", other_cart),
        ("another payment method", other_card),
        ("another shipping address", other_address),
    ] {
        let reused = w.client().checkout(&w.svc.url(), &key, &other.json()).await;
        w.record(&key, None, &other.value(), &reused);
        story.exchange(&reused);
        if reused.status != Some(422) || !reused.is_json_error() {
            broken.push(format!(
                "The key of order {} was reused with {what} and answered {}; the brief requires 422 with a JSON error.",
                first.str_field("id").unwrap_or("?"),
                reused
                    .status
                    .map_or("nothing".to_owned(), |s| s.to_string())
            ));
        }
    }
    let replay = w.checkout(&key, &cart).await;
    story.exchange(&replay);
    if replay.status != Some(200) || replay.str_field("id") != first.str_field("id") {
        broken.push("The original cart no longer replays its order with 200.".to_owned());
    }
    broken.extend(w.judge_scope(Scope::Charges)?);
    if !broken.is_empty() {
        return Ok(verdict(story, broken));
    }
    drop(w);
    reused_across_deploy(across_deploy, &mut story, &mut broken).await?;
    Ok(verdict(story, broken))
}

/// The second round of [`key_reused_with_other_cart`]: the order was made by the version
/// production runs today, which kept no fingerprint of its requests, but its rows keep
/// the customer, the lines and the address. "A different body under a key that already
/// has an order, in any status, gets 422": after the deploy, its key with another cart
/// or another address is refused.
async fn reused_across_deploy(
    env: CheckEnv,
    story: &mut Evidence,
    broken: &mut Vec<String>,
) -> Result<(), Problem> {
    let Some(mut w) = CheckoutWorld::start_as_production(env).await? else {
        return Err(Problem::Harness(
            "production's build was not handed to this check".to_owned(),
        ));
    };
    let skus = w.stock_products(1, STOCK)?;
    let cart = w.cart(&[(&skus[0], 2)]);
    let key = w.new_key();
    let first = w.checkout(&key, &cart).await;
    story.say(format!(
        "Across a deploy: the version production runs today places an order: {first}"
    ));
    if !first.is_success() {
        return Err(Problem::Harness(format!(
            "production's own build did not complete a plain checkout: {first}"
        )));
    }
    w.deploy_fix().await?;
    story.say("It is stopped for the deploy; the fixed service starts on the same database.");
    let mut more = cart.clone();
    more.lines[0].quantity = 3;
    let mut elsewhere = cart.clone();
    elsewhere.shipping_address.line1 = format!("{} (back door)", cart.shipping_address.line1);
    for (other, what, kept) in [
        (more, "another cart (3 units, not 2)", "`order_lines`"),
        (elsewhere, "another shipping address", "`orders`"),
    ] {
        let reused = w.client().checkout(&w.svc.url(), &key, &other.json()).await;
        w.record(&key, None, &other.value(), &reused);
        story.exchange(&reused);
        if reused.status != Some(422) || !reused.is_json_error() {
            broken.push(format!(
                "The key of order {}, placed before the deploy, was reused with {what} and answered {}; the brief requires 422 with a JSON error (the old version kept it in {kept}).",
                first.str_field("id").unwrap_or("?"),
                reused
                    .status
                    .map_or("nothing".to_owned(), |s| s.to_string())
            ));
        }
    }
    broken.extend(w.judge_scope(Scope::Charges)?);
    Ok(())
}

// -------------------------------------------------------------------- order-not-atomic

/// For every k, the row writes of a checkout fail from the k-th on (a trigger aborts
/// them, as a full disk would). After each, every unit of stock is on the shelf or held
/// by a whole order; then the client retries with the same key and the checkout must
/// complete within [`CRASH_RECOVERY`] (the failed request could not record its own
/// failure), leaving the same.
pub async fn every_write_aborted(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let skus = w.stock_products(3, STOCK)?;
    let faults = w.write_faults()?;
    let writes = match count_writes(&mut w, &faults, &skus, &mut story).await? {
        Ok(writes) => writes,
        Err(bypass) => return Ok(verdict(story, vec![bypass])),
    };
    let mut broken = Vec::new();
    for k in 1..=writes + EXTRA_POINTS {
        let cart = three_line_cart(&mut w, &skus);
        let key = w.new_key();
        if let Err(bypass) = finding(faults.arm(k, WriteFault::Abort))? {
            broken.push(bypass);
            break;
        }
        let x = w.checkout(&key, &cart).await;
        let answered = tokio::time::Instant::now();
        let tally = finding(faults.tally())?;
        faults.disarm().map_err(harness)?;
        story.say(format!(
            "Write {k} of the next checkout fails, and every write after it: {x}"
        ));
        let counted = match tally {
            Ok(tally) => tally.counted,
            Err(bypass) => {
                broken.push(bypass);
                break;
            }
        };
        let found = w.judge_scope(Scope::Stock)?;
        if !found.is_empty() {
            broken.push(format!(
                "After write {k} of a checkout failed, stock or orders were left half-done:"
            ));
            broken.extend(found);
            break;
        }
        if x.is_success() && counted < k {
            story.say(format!(
                "The checkout made fewer than {k} writes: every failure point was tried."
            ));
            break;
        }
        let found = retry_completes(&mut w, &key, &cart, k, "failed", answered, &mut story).await?;
        if !found.is_empty() {
            broken.extend(found);
            break;
        }
    }
    Ok(verdict(story, broken))
}

/// For every k, the k-th row write of a checkout is frozen and the service killed with
/// SIGKILL there, then restarted: stock and orders whole; the client's retry with the
/// same key completes the checkout within [`CRASH_RECOVERY`] of the restart.
pub async fn crash_at_every_write(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let skus = w.stock_products(3, STOCK)?;
    let faults = w.write_faults()?;
    let writes = match count_writes(&mut w, &faults, &skus, &mut story).await? {
        Ok(writes) => writes,
        Err(bypass) => return Ok(verdict(story, vec![bypass])),
    };
    let mut broken = Vec::new();
    for k in 1..=writes + EXTRA_POINTS {
        let cart = three_line_cart(&mut w, &skus);
        let key = w.new_key();
        if let Err(bypass) = finding(faults.arm(k, WriteFault::Stall))? {
            broken.push(bypass);
            break;
        }
        let (client, url, kk, body) = (w.client(), w.svc.url(), key.clone(), cart.json());
        let task = tokio::spawn(async move { client.checkout(&url, &kk, &body).await });
        let stalled = faults
            .wait_for_stall(STALL_HELD_FOR, STALL_TIMEOUT, || task.is_finished())
            .await
            .map_err(harness)?;
        if !stalled {
            let x = join(task).await?;
            // It never froze: believed only if the triggers saw every write it made.
            let tally = finding(faults.tally())?;
            faults.disarm().map_err(harness)?;
            w.record(&key, Some(&cart), &cart.value(), &x);
            story.say(format!(
                "Checkout with write {k} frozen: it never reached it: {x}"
            ));
            if let Err(bypass) = tally {
                broken.push(bypass);
                break;
            }
            if x.is_success() {
                story.say(format!(
                    "The checkout made fewer than {k} writes: every crash point was tried."
                ));
                break;
            }
            continue;
        }
        w.svc.kill9().await;
        let x = join(task).await?;
        w.record(&key, Some(&cart), &cart.value(), &x);
        faults.disarm().map_err(harness)?;
        story.say(format!(
            "Write {k} of a checkout ({cart}) frozen, the service killed with SIGKILL there and restarted."
        ));
        w.restart_after_kill9().await?;
        let back = tokio::time::Instant::now();
        let found = w.judge_scope(Scope::Stock)?;
        if !found.is_empty() {
            broken.push(format!(
                "A crash at write {k} of a checkout left stock or orders half-done:"
            ));
            broken.extend(found);
            break;
        }
        let how = "was frozen by a crash";
        let found = retry_completes(&mut w, &key, &cart, k, how, back, &mut story).await?;
        if !found.is_empty() {
            broken.extend(found);
            break;
        }
    }
    Ok(verdict(story, broken))
}

/// A cart whose last line asks for more than the shelf holds is refused with 409 and
/// takes nothing from the other lines' stock; so is a cart whose two lines of one SKU
/// together ask for more than its shelf holds.
pub async fn out_of_stock_midway(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let plenty = w.stock_products(2, STOCK)?;
    let scarce = w.stock_products(1, 1)?;
    let cart = w.cart(&[(&plenty[0], 2), (&plenty[1], 3), (&scarce[0], 2)]);
    let key = w.new_key();
    let x = w.checkout(&key, &cart).await;
    story.exchange(&x);
    if x.status != Some(409) || !x.is_json_error() {
        broken.push(format!(
            "A cart whose last line asks for 2 of {} (1 on the shelf) must be answered 409 with a JSON error.",
            scarce[0]
        ));
    }
    broken.extend(w.judge_scope(Scope::Stock)?);
    let cart = w.cart(&[(&plenty[0], 1), (&scarce[0], 1)]);
    let key = w.new_key();
    let x = w.checkout(&key, &cart).await;
    story.exchange(&x);
    if x.status != Some(201) {
        broken.push(format!(
            "Afterwards the last unit of {} must still be for sale: {x}",
            scarce[0]
        ));
    }
    broken.extend(w.judge_scope(Scope::Stock)?);
    // One SKU on two lines (the brief allows it) asks for more than the shelf holds in
    // all, each line alone less: the lines are one demand on one shelf.
    let twice = w.stock_products(1, 5)?;
    let cart = w.cart(&[(&twice[0], 3), (&plenty[1], 1), (&twice[0], 3)]);
    let key = w.new_key();
    let x = w.checkout(&key, &cart).await;
    story.say(format!(
        "{} has 5 units on the shelf; a cart asks for 3 of it on two lines (6 in all):",
        twice[0]
    ));
    story.exchange(&x);
    if x.status != Some(409) || !x.is_json_error() {
        broken.push(format!(
            "A cart that names {} on two lines of 3 (6 in all, 5 on the shelf) must be answered 409 with a JSON error: {x}",
            twice[0]
        ));
    }
    broken.extend(w.judge_scope(Scope::Stock)?);
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

/// The provider declines the card of a cart that names one SKU on two lines and takes
/// every unit of it (a fix that gives stock back per product, not per line, loses a
/// line's worth). Nothing may be charged, an order recorded for it must be `failed`,
/// and every unit must be back on the shelf, so the same cart from another customer
/// then goes through. A status other than the brief's 402 is noted, not failed: it is
/// the contract's concern, and this check credits the order-not-atomic flaw.
pub async fn declined_card(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let first = 1 + w.rng().below(3) as i64;
    let second = 1 + w.rng().below(3) as i64;
    let scarce = w.stock_products(1, first + second)?;
    let plenty = w.stock_products(1, STOCK)?;
    let lines = [
        (&*scarce[0], first),
        (&*plenty[0], 1),
        (&*scarce[0], second),
    ];
    let mut cart = w.cart(&lines);
    cart.payment_method = "pm_card_chargeDeclined".to_owned();
    w.provider.fail_next(ProviderFault::Decline);
    story.say(format!(
        "{} has exactly {} units on the shelf; the cart takes them all on two lines ({first} + {second}), and the provider declines the card.",
        scarce[0],
        first + second
    ));
    let key = w.new_key();
    let x = w.checkout(&key, &cart).await;
    story.exchange(&x);
    let declined = w
        .provider
        .calls()
        .iter()
        .any(|c| c.fault == Some(ProviderFault::Decline));
    w.provider.heal();
    if !declined {
        broken.push(format!(
            "The service never asked the provider to charge the cart, so the decline never happened: {x}"
        ));
    } else if x.is_success() {
        broken.push(format!(
            "A declined card was answered as a success; nothing was charged: {x}"
        ));
    } else if x.status != Some(402) {
        // The status alone is the contract's, not this flaw's: what a decline must not
        // leave behind is judged below.
        story.say(format!(
            "(The brief answers a declined card 402 `payment_declined`; this was {}.)",
            x.status.map_or("no answer".to_owned(), |s| s.to_string())
        ));
    }
    for o in w.shop()?.orders.values().filter(|o| o.key == key) {
        if o.status != "failed" {
            broken.push(format!(
                "Order {} recorded for the declined card has status {:?}; the brief requires `failed`.",
                o.id, o.status
            ));
        }
    }
    broken.extend(w.left_behind(&key)?);
    broken.extend(w.judge_scope(Scope::Stock)?);
    let again = w.cart(&lines);
    let key = w.new_key();
    let x = w.checkout(&key, &again).await;
    story.exchange(&x);
    if x.status != Some(201) {
        broken.push(format!(
            "Afterwards the same cart for another customer, whose card is accepted, must go through (201): all {} units of {} must be back on the shelf: {x}",
            first + second,
            scarce[0]
        ));
    }
    broken.extend(w.judge_scope(Scope::All)?);
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

/// Counts the row writes of a plain checkout. `Ok(Err(_))` when the count cannot be
/// believed (the triggers were bypassed): the check fails with that.
async fn count_writes(
    w: &mut CheckoutWorld,
    faults: &WriteFaults,
    skus: &[String],
    story: &mut Evidence,
) -> Result<Result<u64, String>, Problem> {
    if let Err(bypass) = finding(faults.count_only())? {
        return Ok(Err(bypass));
    }
    let cart = three_line_cart(w, skus);
    let key = w.new_key();
    let x = w.checkout(&key, &cart).await;
    let tally = finding(faults.tally())?;
    faults.disarm().map_err(harness)?;
    story.exchange(&x);
    let writes = match tally {
        Ok(tally) => tally.counted,
        Err(bypass) => return Ok(Err(bypass)),
    };
    if !x.is_success() {
        story.say("A plain checkout failed.");
        return Err(Problem::Service(story.clone()));
    }
    story.say(format!("A three-line checkout makes {writes} row writes."));
    Ok(Ok(writes))
}

/// After a fault the client retries with the same key: the checkout must complete
/// (within the brief's [`CRASH_RECOVERY`] of `since`, when the fault was over) and stock
/// and orders stay whole.
async fn retry_completes(
    w: &mut CheckoutWorld,
    key: &str,
    cart: &Cart,
    k: u64,
    how: &str,
    since: tokio::time::Instant,
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let mut quiet = Evidence::new();
    let x = w
        .checkout_until_recovered(key, cart, ATTEMPTS, since, &mut quiet)
        .await;
    if !x.is_success() {
        story.say(format!("The retry: {x}"));
        return Ok(vec![format!(
            "After write {k} of a checkout {how}, retries with the same key for {} s never completed it (the brief requires a retry to be able to complete it within {} s); the last answer: {x}",
            CRASH_RECOVERY.as_secs(),
            CRASH_RECOVERY.as_secs()
        )]);
    }
    let found = w.judge_scope(Scope::Stock)?;
    if found.is_empty() {
        return Ok(found);
    }
    let mut broken = vec![format!(
        "After write {k} of a checkout {how}, the retry that completed it left stock or orders wrong:"
    )];
    broken.extend(found);
    Ok(broken)
}

/// Three lines of one to three units over the three products.
fn three_line_cart(w: &mut CheckoutWorld, skus: &[String]) -> Cart {
    let q: Vec<i64> = (0..3).map(|_| 1 + w.rng().below(3) as i64).collect();
    w.cart(&[(&skus[0], q[0]), (&skus[1], q[1]), (&skus[2], q[2])])
}

// ----------------------------------------------------------------- input-not-validated

/// Each of the brief's cart and address rules broken on an otherwise valid cart: 400
/// or 422 (404 for an unknown SKU) with a JSON error — never a 5xx — and nothing
/// charged, reserved or created. Valid carts at the limits still succeed.
pub async fn rejects_bad_carts(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(50, STOCK)?;
    let pricey = stock_pricey(&mut w, STOCK)?;
    let cheap = w.stock_priced(199, 100, STOCK)?;
    let near_cap = stock_near_cap(&mut w, STOCK)?;
    let bad = breakers(&skus[0], &pricey, &near_cap);
    for case in &bad {
        let cart = w.cart(&[(&skus[0], 1)]);
        let key = w.new_key();
        let x = w.checkout_raw(&key, &(case.edit)(&cart.value())).await;
        if !refused_cleanly(&x) {
            story.exchange(&x);
            broken.push(format!(
                "A cart with {} was answered {}; the brief requires 400 or 422 (404 for an unknown SKU) with a JSON error.",
                case.what,
                x.status.map_or("nothing".to_owned(), |s| s.to_string())
            ));
        }
        for left in w.left_behind(&key)? {
            broken.push(format!("A cart with {}: {left}", case.what));
        }
    }
    story.say(format!("{} bad carts sent.", bad.len()));

    // Valid carts at the limits: 50 lines; quantity 100; a total just under the cap;
    // no line2.
    let fifty: Vec<(&str, i64)> = skus.iter().map(|s| (s.as_str(), 1)).collect();
    let mut good = vec![
        ("50 lines", w.cart(&fifty)),
        ("a quantity of 100", w.cart(&[(&cheap, 100)])),
        ("a total near the cap", w.cart(&[(&pricey, 1)])),
    ];
    let mut with_line2 = w.cart(&[(&skus[2], 1)]);
    with_line2.shipping_address.line2 = Some("Apt 4".to_owned());
    good.push(("a line2", with_line2));
    for (what, cart) in &good {
        let key = w.new_key();
        let x = w.checkout(&key, cart).await;
        story.exchange(&x);
        if x.status != Some(201) {
            broken.push(format!(
                "A valid cart with {what} (total {}) must be answered 201: {x}",
                w.price(cart).total
            ));
        }
        broken.extend(w.judge_answer(cart, &x));
    }
    broken.extend(w.judge()?);
    dedup(&mut broken);
    Ok(verdict(story, broken))
}

// ------------------------------------------------------------------ shipping-unguarded

/// Shipping-rates hangs for one checkout and stalls its body after the headers for
/// another, both at once: each must be answered 502/503/504 with a JSON error within
/// the brief's 2 s (2.5 s allowed), charge nothing and reserve nothing; once
/// shipping-rates is back, the same keys complete.
pub async fn shipping_hangs(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let skus = w.stock_products(2, STOCK)?;
    let faults = [ShippingFault::Hang, ShippingFault::SlowBody];
    // Every outage cart weighs something no earlier cart did, so no rate for it can be
    // known: a 201 during the outage carries a made-up rate.
    let carts: Vec<(String, Cart)> = (1..=faults.len() as i64)
        .map(|n| {
            let cart = w.cart(&[(&skus[0], n), (&skus[1], 2)]);
            (w.new_key(), cart)
        })
        .collect();
    story.say(
        "Shipping-rates hangs (one call) and stalls its body after the headers (the other); two checkouts arrive at once.",
    );
    for fault in faults {
        w.shipping.fail_next(fault);
    }
    // Later calls (a fix's retries) hang too: the outage lasts.
    w.shipping.set_standing(Some(ShippingFault::Hang));
    let tasks: Vec<_> = carts
        .iter()
        .map(|(key, cart)| {
            let (client, url, k, body) = (w.client(), w.svc.url(), key.clone(), cart.json());
            tokio::spawn(async move {
                let started = Instant::now();
                let x = client
                    .checkout_within(&url, &k, &body, BUDGET_ALLOWED + Duration::from_secs(1))
                    .await;
                (x, started, started.elapsed())
            })
        })
        .collect();
    let mut broken = Vec::new();
    for ((key, cart), task) in carts.iter().zip(tasks) {
        let (x, started, took) = task
            .await
            .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
        w.record(key, Some(cart), &cart.value(), &x);
        story.say(format!("{x} (after {} ms)", took.as_millis()));
        let served = service_time(&w.timeline().pauses(), started, took, x.status.is_some());
        judge_outage_answer(&x, served, "hung", key, &mut broken);
        for left in w.left_behind(key)? {
            broken.push(format!("While shipping-rates hung: {left}"));
        }
    }
    w.shipping.heal();
    after_recovery(&mut w, &carts, &mut broken, &mut story).await?;
    Ok(verdict(story, broken))
}

/// Shipping-rates fails in each way it has failed in production — 500, 503, an HTML
/// page, truncated JSON, a reset connection, well-formed JSON that is not a rate (a
/// negative amount, another currency) — for as long as each checkout lasts: each
/// is answered 502/503/504 with a JSON error within the budget, charges nothing and
/// reserves nothing, and completes with the same key once shipping-rates is back.
pub async fn shipping_fails(env: CheckEnv) -> CheckResult {
    let mut w = CheckoutWorld::start(env).await?;
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let skus = w.stock_products(2, STOCK)?;
    let faults = [
        (ShippingFault::Status(500), "answers 500"),
        (ShippingFault::Status(503), "answers 503"),
        (ShippingFault::Garbage, "answers 200 with an HTML page"),
        (ShippingFault::Truncated, "answers 200 with truncated JSON"),
        (ShippingFault::Reset, "resets the connection"),
        (
            ShippingFault::NotARate {
                amount: -500,
                currency: "usd",
            },
            "answers 200 with a rate of -500 cents",
        ),
        (
            ShippingFault::NotARate {
                amount: 699,
                currency: "eur",
            },
            "answers 200 with a rate in euros",
        ),
    ];
    // An order completed before the outage, retried during it: its answer is decided
    // and needs no rate (a parcel heavier than any cart below, so no rate it was
    // quoted can stand in for theirs).
    let parcel = w.stock_priced(1_999, 20_011, STOCK)?;
    let done_cart = w.cart(&[(&parcel, 1)]);
    let done_key = w.new_key();
    let done = w.checkout(&done_key, &done_cart).await;
    story.say(format!(
        "Before the outage, checkout {done_key} completes: {done}"
    ));
    if !done.is_success() {
        broken.push(format!(
            "With shipping-rates healthy, checkout {done_key} must succeed: {done}"
        ));
    }
    let mut carts = Vec::new();
    for (n, (fault, what)) in (1..).zip(faults) {
        // A weight no earlier cart had: no rate for it can be known.
        let cart = w.cart(&[(&skus[0], n), (&skus[1], 1)]);
        let key = w.new_key();
        w.shipping.set_standing(Some(fault));
        if n == 1 && done.is_success() {
            let again = w.checkout(&done_key, &done_cart).await;
            story.say(format!(
                "Shipping-rates {what}; the client retries {done_key}, already answered {}: {again}",
                done.status.unwrap_or_default()
            ));
            if again.status != Some(200) || again.str_field("id") != done.str_field("id") {
                broken.push(format!(
                    "Once a 2xx has been sent for a key, its retries answer 200 with the same order, whatever shipping-rates does: checkout {done_key} was answered {} with order {:?} before shipping-rates failed, and {again} while it {what}.",
                    done.status.unwrap_or_default(),
                    done.str_field("id")
                ));
            }
        }
        let started = Instant::now();
        let x = w
            .client()
            .checkout_within(
                &w.svc.url(),
                &key,
                &cart.json(),
                BUDGET_ALLOWED + Duration::from_secs(1),
            )
            .await;
        let took = started.elapsed();
        w.shipping.heal();
        w.record(&key, Some(&cart), &cart.value(), &x);
        story.say(format!(
            "Shipping-rates {what}: {x} (after {} ms)",
            took.as_millis()
        ));
        let served = service_time(&w.timeline().pauses(), started, took, x.status.is_some());
        judge_outage_answer(&x, served, what, &key, &mut broken);
        for left in w.left_behind(&key)? {
            broken.push(format!("While shipping-rates {what}: {left}"));
        }
        carts.push((key, cart));
    }
    after_recovery(&mut w, &carts, &mut broken, &mut story).await?;
    // Free shipping is a rate like any other (the brief: `0` or more), not an answer
    // that is "not a rate": a weightless parcel is quoted 0 and must be ordered. Asked
    // once shipping-rates is back and every outage key completed, so no breaker is open.
    let gift = w.stock_priced(2_500, 0, STOCK)?;
    let cart = w.cart(&[(&gift, 1)]);
    let key = w.new_key();
    let x = w.checkout(&key, &cart).await;
    story.say(format!(
        "Shipping-rates quotes free shipping (0 cents) for a weightless gift card: {x}"
    ));
    if !x.is_success() {
        broken.push(format!(
            "A shipping rate of 0 is a rate (the brief: `0` or more), so checkout {key} for a gift card must succeed with shipping 0: {x}"
        ));
    }
    broken.extend(w.judge_answer(&cart, &x));
    Ok(verdict(story, broken))
}

/// An answer during a shipping outage: a clean 502/503/504 within the budget, timed as
/// the service served it (`served`, from [`service_time`]; `None`: the harness gave
/// up too soon after one of its pauses to tell).
fn judge_outage_answer(
    x: &Exchange,
    served: Option<Duration>,
    what: &str,
    key: &str,
    broken: &mut Vec<String>,
) {
    let Some(took) = served else {
        return;
    };
    if took > BUDGET_ALLOWED || x.status.is_none() {
        broken.push(format!(
            "While shipping-rates {what}, checkout {key} was {} after {} ms; the brief's budget is {} ms ({} ms allowed).",
            if x.status.is_none() { "still unanswered" } else { "answered" },
            took.as_millis(),
            BUDGET.as_millis(),
            BUDGET_ALLOWED.as_millis()
        ));
    } else if x.is_success() {
        broken.push(format!(
            "While shipping-rates {what}, checkout {key} succeeded with shipping {:?}: no rate could be had, so the brief requires 503 (a rate must never be invented).",
            x.i64_field("shipping")
        ));
    } else if !matches!(x.status, Some(502..=504)) || !x.is_json_error() {
        broken.push(format!(
            "While shipping-rates {what}, checkout {key} was answered {}; the brief requires 503 (502/504 accepted) with a JSON error.",
            x.status.unwrap_or_default()
        ));
    }
}

/// Once shipping-rates is back, every key of the outage completes (retried every 250 ms
/// for up to [`RECOVERY`], as a circuit breaker may wait out its cool-down), and
/// everything holds.
async fn after_recovery(
    w: &mut CheckoutWorld,
    carts: &[(String, Cart)],
    broken: &mut Vec<String>,
    story: &mut Evidence,
) -> Result<(), Problem> {
    story.say("Shipping-rates is back; the clients retry with the same keys.");
    for (key, cart) in carts {
        let x = w
            .checkout_retrying(key, cart, RECOVERY_ATTEMPTS, RECOVERY_PAUSE, story)
            .await;
        if !x.is_success() {
            broken.push(format!(
                "Once shipping-rates was back, the checkout under key {key} did not complete within {} s of retries: {x}",
                RECOVERY.as_secs()
            ));
        }
        broken.extend(w.judge_answer(cart, &x));
    }
    broken.extend(w.judge()?);
    dedup(broken);
    Ok(())
}

fn harness(e: rusqlite::Error) -> Problem {
    Problem::Harness(format!("write-fault triggers: {e}"))
}

/// A write-fault result as a check needs it: a bypass is a finding the check fails with
/// (`Ok(Err(reason))`), any other error is the harness's problem.
fn finding<T>(result: Result<T, FaultError>) -> Result<Result<T, String>, Problem> {
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

/// Fresh trials of one outage before the budget counts as broken.
const BUDGET_TRIALS: usize = 3;

/// The 2 s budget judged as the brief states it, with no margin for a loaded machine:
/// for each way shipping-rates can hold a checkout past it — hanging, stalling
/// mid-body, failing slowly and then hanging — a checkout on a fresh service (no
/// breaker open yet, so shipping-rates is really called) is answered within 2 s. A
/// slow machine only ever adds time, so the fastest of up to three trials decides: a
/// fix over the budget by design is over it every time.
pub async fn budget_as_stated(env: CheckEnv) -> CheckResult {
    let outages: [(&[ShippingFault], &str); 3] = [
        (&[ShippingFault::Hang], "hangs"),
        (
            &[ShippingFault::SlowBody, ShippingFault::Hang],
            "stalls mid-body, then hangs",
        ),
        (
            &[
                ShippingFault::SlowStatus {
                    after: Duration::from_millis(900),
                    status: 503,
                },
                ShippingFault::Hang,
            ],
            "answers 503 after 900 ms, then hangs",
        ),
    ];
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    for (i, (faults, what)) in outages.into_iter().enumerate() {
        let mut trials = Vec::new();
        for trial in 0..BUDGET_TRIALS {
            let mut trial_env = env.clone();
            trial_env.workdir = env.workdir.join(format!("budget-{i}-{trial}"));
            std::fs::create_dir_all(&trial_env.workdir)?;
            let mut w = CheckoutWorld::start(trial_env).await?;
            let skus = w.stock_products(1, STOCK)?;
            let cart = w.cart(&[(&skus[0], 1)]);
            let key = w.new_key();
            let (last, first) = faults.split_last().unwrap_or((&ShippingFault::Hang, &[]));
            for fault in first {
                w.shipping.fail_next(*fault);
            }
            w.shipping.set_standing(Some(*last));
            let started = Instant::now();
            let x = w
                .client()
                .checkout_within(
                    &w.svc.url(),
                    &key,
                    &cart.json(),
                    BUDGET_ALLOWED + Duration::from_secs(1),
                )
                .await;
            let took = started.elapsed();
            trials.push(format!("{} ms", took.as_millis()));
            if w.shipping.calls().is_empty() {
                story.say(format!(
                    "Shipping-rates {what}: the checkout never called it: {x}"
                ));
                broken.push(format!(
                    "A checkout on a fresh service must ask shipping-rates for the rate (shipping-rates {what}); this one never called it: {x}"
                ));
                break;
            }
            // As the client counts it: an answer after 2 s arrives after it gave up.
            if took <= BUDGET {
                story.say(format!(
                    "Shipping-rates {what}: answered within the 2 s budget on trial {}: {x} ({} ms)",
                    trial + 1,
                    took.as_millis()
                ));
                break;
            }
            // Even no answer at all gets every trial: a stalled harness looks the same.
            if trial + 1 == BUDGET_TRIALS {
                story.say(format!(
                    "Shipping-rates {what}: trial {}: {x} ({} ms)",
                    trial + 1,
                    took.as_millis()
                ));
                broken.push(format!(
                    "While shipping-rates {what}, a checkout must be answered within the brief's {} s; the fastest of {} trial(s) on fresh services took longer ({}).",
                    BUDGET.as_secs(),
                    trials.len(),
                    trials.join(", ")
                ));
                break;
            }
        }
    }
    Ok(verdict(story, broken))
}
