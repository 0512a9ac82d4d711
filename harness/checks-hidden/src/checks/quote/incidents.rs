//! Generated histories (hidden): long pricing incidents, one of each kind the brief
//! counts as pricing failing, with quotes arriving throughout and on after pricing
//! recovers. The flaw checks test a breaker with a burst of quotes and a probe or
//! two; these histories give the standing judges of the breaker's two promises —
//! stop calling a pricing that keeps failing, succeed again within 10 s of it
//! healing — sustained traffic to rule on, the way production meets an incident.

use std::time::{Duration, Instant};

use crate::checks::quote::world::{
    QuoteWorld, Timed, overlong_cool_down, piling_on, probes_flood, short_cool_downs,
    unhealthy_or_paused, unrecovered,
};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, verdict};
use crate::fakes::PricingFault;
use crate::seed::SeedRng;

/// Pricing is healthy this long before the incident, so the service has prices.
const BEFORE: Duration = Duration::from_secs(1);
/// How long the incident lasts: long enough for [`KEEPS_FAILING`] failed calls, the
/// drain of the quotes in flight, and seconds of traffic after both — also from a
/// service whose breaker opens and then lets every quote through again (a failed probe
/// that starts no new cool-down), which reaches that many failures only some seconds
/// in — and for cool-downs to be seen that grow past the brief's 5 s.
///
/// [`KEEPS_FAILING`]: crate::checks::quote::world::KEEPS_FAILING
const OUTAGE: Duration = Duration::from_secs(20);
/// How long quotes go on after pricing heals: the 10 s recovery budget, the judge's
/// second, and two more seconds of quotes that must all be priced.
const AFTER: Duration = Duration::from_secs(13);
/// A quote this often before and during the incident: a product page's traffic.
const PACE: Duration = Duration::from_millis(100);
/// A quote this often after it.
const PACE_AFTER: Duration = Duration::from_millis(200);
/// A product page or a health probe (in turn) this often, throughout.
const PAGE_PACE: Duration = Duration::from_millis(250);

/// The kinds every grade runs, each on a service of its own: a hang and a body that
/// stalls, the failures a breaker that counts only error answers misses.
const ALWAYS: [PricingFault; 2] = [PricingFault::Hang, PricingFault::SlowBody];
/// One more kind, picked by the seed: the brief's other ways of failing.
const PICKED: [PricingFault; 5] = [
    PricingFault::Status(503),
    PricingFault::Status(500),
    PricingFault::Garbage,
    PricingFault::Truncated,
    PricingFault::Reset,
];

/// Services whose cool-downs are counted beside the incidents, each quoting one SKU, so
/// that a per-SKU breaker and a shared one probe alike.
const COOL_DOWN_SERVICES: usize = 6;
/// How long pricing fails them: about 14 cool-downs each at the brief's usual 2 s, some
/// 85 in all — enough to see a cool-down that falls under 1 s one time in twenty (a
/// jittered one) with a chance of about 99 %.
const COOL_DOWN_OUTAGE: Duration = Duration::from_secs(30);
/// A quote this often on them: a probe waits at most this long after its cool-down.
const COOL_DOWN_PACE: Duration = Duration::from_millis(40);
/// The failures they meet, each answered at once, so that a probe's start and its
/// failure are one moment and every reading of where a cool-down starts agrees.
const AT_ONCE: [PricingFault; 5] = [
    PricingFault::Status(503),
    PricingFault::Status(500),
    PricingFault::Garbage,
    PricingFault::Truncated,
    PricingFault::Reset,
];

/// Three incidents at once, each on its own service and pricing: healthy for 1 s, one
/// kind of failure on every call for 20 s, then healthy for 13 s, with quotes every
/// 100 ms (every 200 ms after) and a product page or health probe every 250 ms (the
/// standing judge of pages rules on those). Judged on pricing's log: no piling on once pricing
/// has kept failing, and quotes priced again within 10 s of it healing.
pub async fn long_incidents(env: CheckEnv) -> CheckResult {
    let mut rng = SeedRng::new(crate::seed::for_check(env.seed, "quote.long-incidents"));
    let picked = PICKED[rng.below(PICKED.len() as u64) as usize];
    let mut tasks = Vec::new();
    for (i, fault) in ALWAYS.into_iter().chain([picked]).enumerate() {
        let env = env.clone();
        let seed = rng.next_u64();
        tasks.push(tokio::spawn(async move {
            incident(&env, &format!("incident-{i}"), fault, seed).await
        }));
    }
    let first = rng.below(AT_ONCE.len() as u64) as usize;
    for i in 0..COOL_DOWN_SERVICES {
        let env = env.clone();
        let fault = AT_ONCE[(first + i) % AT_ONCE.len()];
        tasks.push(tokio::spawn(async move {
            cool_downs(&env, &format!("cool-downs-{i}"), fault).await
        }));
    }
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    for task in tasks {
        let (lines, found) = task
            .await
            .map_err(|e| Problem::Harness(format!("incident task failed: {e}")))??;
        for line in lines.into_lines() {
            story.push(line);
        }
        broken.extend(found);
    }
    Ok(verdict(story, broken))
}

/// One incident of `fault` on a fresh service; returns its story and what broke. The
/// judges rule on steady traffic, and a service may rightly act on a lull in it (a
/// breaker that probes after a quiet spell): when the harness itself paused for longer
/// than [`STEADY`] the traffic was not what the check promises, so the incident is
/// played again on a fresh service, up to [`ATTEMPTS`] times in all; the last one is
/// judged as it went (its judges leave out what overlaps a pause).
async fn incident(
    env: &CheckEnv,
    name: &str,
    fault: PricingFault,
    seed: u64,
) -> Result<(Evidence, Vec<String>), Problem> {
    let mut attempt = 1;
    loop {
        let named = match attempt {
            1 => name.to_owned(),
            n => format!("{name}-attempt-{n}"),
        };
        let (mut story, broken, paused) = play(env, &named, fault, seed).await?;
        if paused <= STEADY || attempt == ATTEMPTS {
            if attempt > 1 {
                story.say(format!(
                    "(Attempt {attempt}: the harness itself paused for over {} ms in the ones before, breaking the steady traffic.)",
                    STEADY.as_millis()
                ));
            }
            return Ok((story, broken));
        }
        attempt += 1;
    }
}

/// The longest pause of the harness an incident's traffic may have: five quotes'
/// worth, far below any cool-down a service may act on.
const STEADY: Duration = Duration::from_millis(500);
/// Incidents played at most, each on a fresh service, while the harness keeps pausing.
const ATTEMPTS: usize = 2;

/// Plays one incident of `fault` on a fresh service; returns its story, what broke,
/// and the harness's longest pause while it played.
async fn play(
    env: &CheckEnv,
    name: &str,
    fault: PricingFault,
    seed: u64,
) -> Result<(Evidence, Vec<String>, Duration), Problem> {
    let w = QuoteWorld::start(env, name).await?;
    let mut rng = SeedRng::new(seed);
    let client = w.client();
    let mut sent = Vec::new();
    let mut next = Instant::now();
    let mut send_until = |until: Instant, pace: Duration, sent: &mut Vec<_>| {
        let mut plan = Vec::new();
        while next < until {
            let sku = w.skus[rng.below(w.skus.len() as u64) as usize].clone();
            let qty = 1 + rng.below(5) as u32;
            plan.push((next, sku, qty));
            next += pace;
        }
        for (at, sku, qty) in plan {
            let c = client.clone();
            sent.push(tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                let t = c.quote(&sku, qty).await;
                (sku, qty, t)
            }));
        }
    };
    let start = Instant::now();
    let pages = {
        let end = start + BEFORE + OUTAGE + AFTER;
        let mut tasks = Vec::new();
        let (mut at, mut i) = (start, 0usize);
        while at < end {
            let path = if i % 2 == 0 {
                "/health".to_owned()
            } else {
                format!("/products/{}", w.skus[i / 2 % w.skus.len()])
            };
            let c = client.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                c.page(&path).await
            }));
            (at, i) = (at + PAGE_PACE, i + 1);
        }
        tasks
    };
    send_until(start + BEFORE, PACE, &mut sent);
    tokio::time::sleep_until((start + BEFORE).into()).await;
    w.pricing.set_standing(Some(fault));
    let failing = Instant::now();
    send_until(failing + OUTAGE, PACE, &mut sent);
    tokio::time::sleep_until((failing + OUTAGE).into()).await;
    w.pricing.heal();
    let healed = Instant::now();
    send_until(healed + AFTER, PACE_AFTER, &mut sent);
    let mut quotes: Vec<(String, u32, Timed)> = Vec::new();
    for task in sent {
        quotes.push(
            task.await
                .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?,
        );
    }

    for task in pages {
        task.await
            .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
    }

    let calls = w.pricing.price_calls();
    let mut broken = piling_on(&calls, &w.pricing.outages());
    let pauses = w.timeline().pauses();
    let started = w.pricing.started();
    let unhealthy = unhealthy_or_paused(&w.pricing, &pauses);
    broken.extend(overlong_cool_down(&quotes, &calls, started, &pauses));
    broken.extend(probes_flood(
        &quotes,
        &calls,
        &w.pricing.outages(),
        started,
        &pauses,
    ));
    broken.extend(
        quotes
            .iter()
            .filter_map(|(_, _, t)| unrecovered(t, &unhealthy, started))
            .take(1),
    );
    let mut story = Evidence::new();
    story.say(tell(fault, &quotes, &calls, failing, healed, started));
    let longest = pauses
        .iter()
        .filter(|p| p.overlaps(start, Instant::now()))
        .map(|p| p.length())
        .max()
        .unwrap_or_default();
    Ok((story, broken, longest))
}

/// One SKU quoted every [`COOL_DOWN_PACE`] on a fresh service, pricing healthy for
/// [`BEFORE`] and then failing every call with `fault` for [`COOL_DOWN_OUTAGE`]: its
/// cool-downs, judged by [`short_cool_downs`] as well as the breaker's other judges.
/// Returns its story and what broke.
async fn cool_downs(
    env: &CheckEnv,
    name: &str,
    fault: PricingFault,
) -> Result<(Evidence, Vec<String>), Problem> {
    let w = QuoteWorld::start(env, name).await?;
    let Some(sku) = w.skus.first().cloned() else {
        return Err(Problem::Harness("the catalogue has no SKU".to_owned()));
    };
    let client = w.client();
    let start = Instant::now();
    let failing = start + BEFORE;
    let end = failing + COOL_DOWN_OUTAGE;
    let mut sent = Vec::new();
    let mut at = start;
    while at < end {
        let (c, sku) = (client.clone(), sku.clone());
        sent.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let t = c.quote(&sku, 1).await;
            (sku, 1, t)
        }));
        at += COOL_DOWN_PACE;
    }
    tokio::time::sleep_until(failing.into()).await;
    w.pricing.set_standing(Some(fault));
    tokio::time::sleep_until(end.into()).await;
    w.pricing.heal();
    let mut quotes: Vec<(String, u32, Timed)> = Vec::new();
    for task in sent {
        quotes.push(
            task.await
                .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?,
        );
    }
    let calls = w.pricing.price_calls();
    let outages = w.pricing.outages();
    let pauses = w.timeline().pauses();
    let started = w.pricing.started();
    let mut broken = piling_on(&calls, &outages);
    broken.extend(overlong_cool_down(&quotes, &calls, started, &pauses));
    broken.extend(probes_flood(&quotes, &calls, &outages, started, &pauses));
    broken.extend(short_cool_downs(
        &quotes, &calls, &outages, started, &pauses,
    ));
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    let during = calls
        .iter()
        .filter(|c| c.is_price() && c.at_ms >= ms(failing))
        .count();
    let mut story = Evidence::new();
    story.say(format!(
        "{name}: {sku} quoted every {} ms; pricing fails every call with {fault:?} for {} s and received {during} calls meanwhile.",
        COOL_DOWN_PACE.as_millis(),
        COOL_DOWN_OUTAGE.as_secs()
    ));
    Ok((story, broken))
}

/// The incident in a few numbers: quotes and calls in each phase, and when quotes
/// were priced again.
fn tell(
    fault: PricingFault,
    quotes: &[(String, u32, Timed)],
    calls: &[crate::fakes::PricingCall],
    failing: Instant,
    healed: Instant,
    started: Instant,
) -> String {
    let ms = |at: Instant| at.saturating_duration_since(started).as_millis();
    let (failing_ms, healed_ms) = (ms(failing), ms(healed));
    let during = calls
        .iter()
        .filter(|c| c.at_ms >= failing_ms && c.at_ms < healed_ms)
        .count();
    let last_five = calls
        .iter()
        .filter(|c| c.at_ms + 5_000 >= healed_ms && c.at_ms < healed_ms)
        .count();
    let first_price = quotes
        .iter()
        .filter(|(_, _, t)| t.sent >= healed && t.x.status == Some(200))
        .map(|(_, _, t)| t.sent.saturating_duration_since(healed))
        .min();
    let failed_after = quotes
        .iter()
        .filter(|(_, _, t)| t.sent >= healed && t.x.status != Some(200))
        .count();
    let recovered = match first_price {
        Some(d) => format!("the first quote priced {:.1} s after", d.as_secs_f64()),
        None => "no quote priced after it".to_owned(),
    };
    format!(
        "Pricing fails every call with {fault:?} for {} s, then heals; {} quotes in all. Pricing received {during} calls during the incident ({last_five} in its last 5 s); {recovered}, {failed_after} quotes after it not priced.",
        OUTAGE.as_secs(),
        quotes.len()
    )
}
