//! The property check: random schedules of pricing behaviour over time, with quotes
//! arriving throughout, judged on every answer and on pricing's own call records.
//!
//! Invariant: every quote is answered within the budget (with the machine margin) with
//! pricing's correct price for that SKU and quantity or a 502/503/504 JSON error, and
//! pricing never receives more than three calls per quote plus two probes. Every
//! schedule holds a healthy stretch followed by a hang, so no seed can skip the incident
//! every timeout must survive, or a chance to answer from a remembered price. A failing schedule is shrunk and replayed as evidence.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::Mutex;

use crate::checks::property::{search, shrunk_verdict};
use crate::checks::quote::world::{QuoteWorld, judge_quote};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict};
use crate::fakes::PricingFault;
use crate::seed::SeedRng;

/// Random schedules tried before concluding the invariant holds.
const CASES: u32 = 3;
/// Bound on shrinking work: each case takes seconds of real time.
const MAX_SHRINK_ITERS: u32 = 2;
/// Time between two quotes of a schedule.
const QUOTE_EVERY: Duration = Duration::from_millis(120);

/// How pricing behaves during one stretch of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    Slow,
    Hang,
    StallMidBody,
    Fail503,
    Fail500,
    RateLimited,
    Garbage,
    Reset,
}

impl Behaviour {
    fn fault(self) -> Option<PricingFault> {
        match self {
            Behaviour::Healthy => None,
            Behaviour::Slow => Some(PricingFault::Latency(Duration::from_millis(150))),
            Behaviour::Hang => Some(PricingFault::Hang),
            Behaviour::StallMidBody => Some(PricingFault::SlowBody),
            Behaviour::Fail503 => Some(PricingFault::Status(503)),
            Behaviour::Fail500 => Some(PricingFault::Status(500)),
            Behaviour::RateLimited => Some(PricingFault::RateLimited {
                retry_after_secs: 1,
            }),
            Behaviour::Garbage => Some(PricingFault::Garbage),
            Behaviour::Reset => Some(PricingFault::Reset),
        }
    }
}

/// One stretch of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stretch {
    pub behaviour: Behaviour,
    pub ms: u64,
}

impl fmt::Display for Stretch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} for {} ms", self.behaviour, self.ms)
    }
}

fn stretch_strategy() -> impl Strategy<Value = Stretch> {
    let behaviour = prop_oneof![
        3 => Just(Behaviour::Healthy),
        1 => Just(Behaviour::Slow),
        1 => Just(Behaviour::Hang),
        1 => Just(Behaviour::StallMidBody),
        2 => Just(Behaviour::Fail503),
        1 => Just(Behaviour::Fail500),
        1 => Just(Behaviour::RateLimited),
        1 => Just(Behaviour::Garbage),
        1 => Just(Behaviour::Reset),
    ];
    (behaviour, 200u64..=600).prop_map(|(behaviour, ms)| Stretch { behaviour, ms })
}

/// Random stretches plus what every schedule carries, at a random position: a healthy
/// stretch and then a hang, so no seed skips the incident every timeout must survive, and
/// a service that answers from a remembered price has one to answer from.
fn schedule_strategy() -> impl Strategy<Value = Vec<Stretch>> {
    (
        proptest::collection::vec(stretch_strategy(), 1..=3),
        any::<prop::sample::Index>(),
        300u64..=600,
        300u64..=600,
    )
        .prop_map(|(mut stretches, at, healthy_ms, hang_ms)| {
            let at = at.index(stretches.len() + 1);
            let incident = [
                Stretch {
                    behaviour: Behaviour::Healthy,
                    ms: healthy_ms,
                },
                Stretch {
                    behaviour: Behaviour::Hang,
                    ms: hang_ms,
                },
            ];
            stretches.splice(at..at, incident);
            stretches
        })
}

/// Runs the property over seeded random schedules, each on a fresh service.
pub async fn fault_schedules(env: CheckEnv) -> CheckResult {
    let replay = env.replay.clone();
    let mut rng = SeedRng::new(env.seed);
    let env = Arc::new(env);
    let quotes_rng = Arc::new(Mutex::new(SeedRng::new(rng.next_u64())));
    let runner_env = Arc::clone(&env);
    let runner_rng = Arc::clone(&quotes_rng);
    let found = search(
        schedule_strategy(),
        CASES,
        MAX_SHRINK_ITERS,
        rng.bytes32(),
        move |case, schedule| {
            let env = Arc::clone(&runner_env);
            let rng = Arc::clone(&runner_rng);
            async move {
                let seed = rng.lock().await.next_u64();
                Ok(run_schedule(&env, &format!("case-{case}"), seed, &schedule)
                    .await?
                    .0)
            }
        },
    )
    .await?;
    match found {
        None => {
            let mut story = Evidence::new();
            story.say(format!(
                "{CASES} random schedules of pricing incidents kept every quote in time, honest and polite."
            ));
            Ok(Verdict::Pass(story))
        }
        Some(minimal) => {
            let mut story = Evidence::new();
            story.say(format!(
                "Shrunk failing schedule: {}; a quote every {} ms throughout.",
                minimal
                    .iter()
                    .map(Stretch::to_string)
                    .collect::<Vec<_>>()
                    .join(", then "),
                QUOTE_EVERY.as_millis()
            ));
            shrunk_verdict(
                story,
                "schedule",
                &replay,
                run_schedule(&env, "replay", 1, &minimal).await,
            )
        }
    }
}

/// Plays one schedule on a fresh service, a quote every [`QUOTE_EVERY`]; returns the
/// broken invariants and the answers as evidence.
async fn run_schedule(
    env: &CheckEnv,
    name: &str,
    seed: u64,
    schedule: &[Stretch],
) -> Result<(Vec<String>, Evidence), Problem> {
    let w = QuoteWorld::start(env, name).await?;
    let mut rng = SeedRng::new(seed);
    let mut offset = Duration::ZERO;
    let mut plan = Vec::new();
    for s in schedule {
        plan.push((offset, s.behaviour.fault()));
        offset += Duration::from_millis(s.ms);
    }
    plan.push((offset, None));
    w.pricing.set_schedule(plan);
    let client = w.client();
    let mut tasks = Vec::new();
    let started = tokio::time::Instant::now();
    while started.elapsed() < offset {
        // Two products in turn: each is quoted in every stretch of 240 ms or more.
        let sku = w.skus[tasks.len() % 2].clone();
        let qty = 1 + rng.below(50) as u32;
        let c = client.clone();
        let at = started.elapsed();
        tasks.push(tokio::spawn(async move {
            let t = c.quote(&sku, qty).await;
            (at, sku, qty, t)
        }));
        tokio::time::sleep(QUOTE_EVERY).await;
    }
    let mut story = Evidence::new();
    let mut broken = Vec::new();
    let quotes = tasks.len();
    for task in tasks {
        let (at, sku, qty, t) = task
            .await
            .map_err(|e| Problem::Harness(format!("request task failed: {e}")))?;
        let found = judge_quote(&t, &sku, qty, &w.pricing);
        if !found.is_empty() || story.lines().len() < 12 {
            story.say(format!("at {} ms: {t}", at.as_millis()));
        }
        broken.extend(found);
    }
    let calls = w.pricing.price_calls().len();
    story.say(format!(
        "{quotes} quotes; pricing received {calls} price call(s)."
    ));
    if calls > 3 * quotes + 2 {
        broken.push(format!(
            "{quotes} quotes made {calls} calls to pricing: more than 3 per quote plus 2 probes."
        ));
    }
    broken.sort();
    broken.dedup();
    Ok((broken, story))
}
