//! The property check: random histories of valid and invalid transfers, concurrent
//! bursts and failing writes, spread over two instances on one database, judged against
//! the harness's own model of every balance.
//!
//! Invariant after every step, for the accounts a history opened: each balance equals
//! its ledger and the model (opening balances plus the transfers answered 2xx), no
//! balance is negative, no money is created or destroyed, every transfer is whole, and
//! every answer told the truth: a transfer the payer could cover succeeded when nothing
//! competed with it, one it could not cover got 409/422, invalid requests got a 4xx.
//! Every history carries one burst out of an account that cannot cover it all, so no
//! seed can skip the race. A failing-writes step whose fault could not fire (triggers
//! dropped or switched off, see [`crate::fakes::write_faults`]) breaks the invariant
//! too. A failing history is shrunk and replayed as evidence.

use std::fmt;
use std::sync::Arc;

use proptest::prelude::*;
use tokio::sync::Mutex;

use crate::checks::property::{Found, search, shrunk_verdict};
use crate::checks::transfer::flaws::finding;
use crate::checks::transfer::world::{
    Target, TransferBody, TransferWorld, burst_held, judge_statuses,
};
use crate::checks::{CheckEnv, CheckResult, Evidence, Problem, Verdict};
use crate::fakes::{WriteFault, WriteFaults};
use crate::seed::SeedRng;
use crate::service::RunningService;

/// Random histories tried before concluding the invariant holds.
const CASES: u32 = 10;
/// Bound on shrinking work, so a failing grade stays fast.
const MAX_SHRINK_ITERS: u32 = 16;
/// Accounts random steps move money out of.
const PAYERS: u8 = 4;
/// The account only the guaranteed burst draws from.
const BURST_PAYER: u8 = PAYERS;

/// An invalid transfer request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// From and to are the same account.
    SameAccount,
    /// Amount 0.
    Zero,
    /// A negative amount.
    Negative,
    /// A payee that does not exist.
    UnknownPayee,
}

/// One step of a history. Amounts are percentages of the payer's balance in the model
/// when the step runs, so histories stay meaningful as balances move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// One transfer; above 100 % the payer cannot cover it.
    Send { from: u8, to: u8, percent: u8 },
    /// One invalid request.
    Invalid { from: u8, kind: Invalid },
    /// `copies` concurrent transfers of `percent` each out of one account, to the other
    /// accounts, alternating between the instances, held at the risk check until all
    /// have arrived.
    Burst { from: u8, copies: u8, percent: u8 },
    /// One transfer of 10 % whose row writes fail from the `k`-th on.
    FailingWrites { from: u8, to: u8, k: u8 },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Send { from, to, percent } => {
                write!(
                    f,
                    "transfer {percent}% of a{from}'s balance to a{}",
                    payee(*from, *to)
                )
            }
            Step::Invalid { from, kind } => write!(f, "invalid transfer from a{from}: {kind:?}"),
            Step::Burst {
                from,
                copies,
                percent,
            } => write!(
                f,
                "{copies} concurrent transfers of {percent}% each out of a{from}, held at the risk check until all arrive"
            ),
            Step::FailingWrites { from, to, k } => write!(
                f,
                "transfer 10% of a{from}'s balance to a{}; its row writes fail from the {k}th on",
                payee(*from, *to)
            ),
        }
    }
}

/// A payee distinct from the payer.
fn payee(from: u8, to: u8) -> u8 {
    (from + 1 + to % PAYERS) % (PAYERS + 1)
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let from = 0..PAYERS;
    prop_oneof![
        4 => (from.clone(), 0..PAYERS, 1u8..=130)
            .prop_map(|(from, to, percent)| Step::Send { from, to, percent }),
        1 => (from.clone(), prop_oneof![
                Just(Invalid::SameAccount),
                Just(Invalid::Zero),
                Just(Invalid::Negative),
                Just(Invalid::UnknownPayee),
            ])
            .prop_map(|(from, kind)| Step::Invalid { from, kind }),
        2 => (from.clone(), 2u8..=4, 20u8..=60)
            .prop_map(|(from, copies, percent)| Step::Burst { from, copies, percent }),
        2 => (from, 0..PAYERS, 1u8..=6)
            .prop_map(|(from, to, k)| Step::FailingWrites { from, to, k }),
    ]
}

/// Random steps, plus the burst every history carries: three transfers of 45 % each
/// out of an account random steps never debit. Its position is random.
fn history_strategy() -> impl Strategy<Value = Vec<Step>> {
    (
        proptest::collection::vec(step_strategy(), 0..=6),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut steps, at)| {
            let at = at.index(steps.len() + 1);
            steps.insert(
                at,
                Step::Burst {
                    from: BURST_PAYER,
                    copies: 3,
                    percent: 45,
                },
            );
            steps
        })
}

/// The service pair and fault triggers every case shares; each case opens its own
/// accounts, so cases do not see each other's money.
struct Shared {
    w: TransferWorld,
    second: RunningService,
    faults: WriteFaults,
}

/// Runs the property over seeded random histories.
pub async fn histories(env: CheckEnv) -> CheckResult {
    let replay = env.replay.clone();
    let mut rng = SeedRng::new(env.seed);
    let mut w = TransferWorld::start(env).await?;
    let second = w.start_another_instance().await?;
    let faults = w.write_faults()?;
    let shared = Arc::new(Mutex::new(Shared { w, second, faults }));
    let runner = Arc::clone(&shared);
    let found = search(
        history_strategy(),
        CASES,
        MAX_SHRINK_ITERS,
        rng.bytes32(),
        move |_, history| {
            let shared = Arc::clone(&runner);
            async move {
                let mut s = shared.lock().await;
                Ok(run_history(&mut s, &history).await?.0)
            }
        },
    )
    .await?;

    match found {
        None => {
            let mut story = Evidence::new();
            story.say(format!(
                "{CASES} random histories of transfers, invalid requests, concurrent bursts and failing writes over two instances kept every invariant."
            ));
            Ok(Verdict::Pass(story))
        }
        Some(Found {
            input: minimal,
            broke,
        }) => {
            let mut s = shared.lock().await;
            let mut story = Evidence::new();
            story.say(format!(
                "Shrunk failing history ({} step(s)) over accounts a0..a{BURST_PAYER}, two instances on one database:",
                minimal.len()
            ));
            for (n, step) in minimal.iter().enumerate() {
                story.say(format!("  {}. {step}", n + 1));
            }
            shrunk_verdict(
                story,
                "history",
                &replay,
                &broke,
                run_history(&mut s, &minimal).await,
            )
        }
    }
}

/// Runs one history on fresh accounts; returns the broken invariants (empty when it
/// held) and the exchanges as evidence. Stops at the first step that breaks one.
async fn run_history(s: &mut Shared, history: &[Step]) -> Result<(Vec<String>, Evidence), Problem> {
    let Shared { w, second, faults } = s;
    let mut story = Evidence::new();
    let opening: Vec<i64> = (0..=BURST_PAYER)
        .map(|i| 10_000 + 2_500 * i64::from(i))
        .collect();
    let accounts = w.open_accounts(&opening)?;
    let targets = [Target::of(&w.svc), Target::of(second)];
    let mut broken = Vec::new();
    for (n, step) in history.iter().enumerate() {
        story.say(format!("Step {}: {step}", n + 1));
        match *step {
            Step::Send { from, to, percent } => {
                let (payer, payee) = (
                    &accounts[from as usize],
                    &accounts[payee(from, to) as usize],
                );
                let balance = w.expected_balance(payer);
                let amount = (balance * i64::from(percent) / 100).max(1);
                let body = w.body(payer, payee, amount);
                let x = w.transfer(&body).await;
                story.exchange(&x);
                if amount <= balance && !x.is_success() {
                    broken.push(format!(
                        "A transfer of {amount} out of {payer}, which holds {balance}, with nothing competing, was refused: {x}"
                    ));
                }
                if amount > balance && (!matches!(x.status, Some(409 | 422)) || !x.is_json_error())
                {
                    broken.push(format!(
                        "A transfer of {amount} out of {payer}, which holds only {balance}, must get 409/422 with a JSON error: {x}"
                    ));
                }
            }
            Step::Invalid { from, kind } => {
                let payer = &accounts[from as usize];
                let other = &accounts[payee(from, 0) as usize];
                let body = match kind {
                    Invalid::SameAccount => w.body(payer, payer, 100),
                    Invalid::Zero => w.body(payer, other, 0),
                    Invalid::Negative => w.body(payer, other, -100),
                    Invalid::UnknownPayee => w.body(payer, "acc_nobody", 100),
                };
                let x = w.transfer(&body).await;
                story.exchange(&x);
                if !x.status.is_some_and(|s| (400..500).contains(&s)) || !x.is_json_error() {
                    broken.push(format!(
                        "An invalid transfer must get a 4xx with a JSON error: {x}"
                    ));
                }
            }
            Step::Burst {
                from,
                copies,
                percent,
            } => {
                let payer = &accounts[from as usize];
                let amount = (w.expected_balance(payer) * i64::from(percent) / 100).max(1);
                let bodies: Vec<TransferBody> = (0..copies)
                    .map(|c| w.body(payer, &accounts[payee(from, c) as usize], amount))
                    .collect();
                let answers = burst_held(w, &targets, &bodies, &mut story).await?;
                judge_statuses(&answers, &mut broken, "in a concurrent burst");
                let left = w.expected_balance(payer);
                if left >= amount {
                    for x in answers.iter().filter(|x| !x.is_success()) {
                        broken.push(format!(
                            "A transfer was refused although {payer} still holds {left}, enough for it: {x}"
                        ));
                    }
                }
            }
            Step::FailingWrites { from, to, k } => {
                let (payer, payee) = (
                    &accounts[from as usize],
                    &accounts[payee(from, to) as usize],
                );
                let amount = (w.expected_balance(payer) / 10).max(1);
                let body = w.body(payer, payee, amount);
                if let Err(bypass) = finding(faults.arm(u64::from(k), WriteFault::Abort))? {
                    broken.push(bypass);
                    break;
                }
                let x = w.transfer(&body).await;
                // A fault that could not fire proves nothing: the triggers must have
                // seen every write the transfer made.
                let tally = finding(faults.tally())?;
                faults.disarm().map_err(harness)?;
                story.exchange(&x);
                if let Err(bypass) = tally {
                    broken.push(bypass);
                }
            }
        }
        broken.extend(w.judge_accounts(Some(&accounts), &mut Evidence::new())?);
        if !broken.is_empty() {
            break;
        }
    }
    w.judge_accounts(Some(&accounts), &mut story)?;
    Ok((broken, story))
}

fn harness(e: rusqlite::Error) -> Problem {
    Problem::Harness(format!("write-fault triggers: {e}"))
}
