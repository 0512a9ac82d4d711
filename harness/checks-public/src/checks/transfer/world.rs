//! `TransferWorld`: a transfer service wired to a fake risk service, the accounts the
//! harness opened itself, and the ground truth checks share: the harness's own model of
//! every balance and a judge that reads the service's SQLite file.
//!
//! The brief lets other systems write the contract tables (onboarding opens accounts
//! with an opening ledger entry), so the harness opens accounts straight in the file and
//! knows exactly how much money exists. Every request a check sends goes through
//! [`TransferWorld::record`], which sorts it into accepted (2xx), refused (an answer
//! other than 2xx) or unknown (no answer: the service died or hung), and the judge holds
//! the database to exactly that: accepted transfers applied once and whole, refused ones
//! absent, unknown ones whole or absent, every balance equal to its ledger and to the
//! model, no balance below zero, no money created or destroyed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;

use crate::checks::http::{Exchange, send};
use crate::checks::{CheckEnv, Evidence, Problem, restart_service, start_service};
pub use crate::fakes::LockHolder;
use crate::fakes::{ArmedLog, RiskFault, RiskService, WriteFaults};
use crate::seed::SeedRng;
use crate::service::{RunningService, ServiceSpec};

/// The body of `POST /transfers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferBody {
    pub from_account: String,
    pub to_account: String,
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl TransferBody {
    /// The body as JSON text.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl std::fmt::Display for TransferBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} from {} to {}",
            self.amount, self.from_account, self.to_account
        )?;
        if let Some(r) = &self.reference {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
}

/// A `transfers` row with the ledger entries that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTransfer {
    pub from_account: String,
    pub to_account: String,
    pub amount: i64,
    pub reference: Option<String>,
    /// `(account_id, amount)` of every ledger entry carrying this transfer's id.
    pub entries: Vec<(String, i64)>,
}

impl DbTransfer {
    /// Whether this row is what `body` asked for: payer, payee, amount and reference
    /// (how a stored transfer is matched to a request whose answer never came).
    fn describes(&self, body: &TransferBody) -> bool {
        (
            body.from_account.as_str(),
            body.to_account.as_str(),
            body.amount,
            body.reference.as_deref(),
        ) == (
            self.from_account.as_str(),
            self.to_account.as_str(),
            self.amount,
            self.reference.as_deref(),
        )
    }
}

/// The contract tables, read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ledger {
    /// Balance per account.
    pub balances: BTreeMap<String, i64>,
    /// Sum of ledger entries per account.
    pub entry_sums: BTreeMap<String, i64>,
    /// Transfers by id.
    pub transfers: BTreeMap<String, DbTransfer>,
    /// Ledger entries naming a transfer that does not exist: `(entry id, transfer id)`.
    pub orphan_entries: Vec<(i64, String)>,
}

/// Every transfer any client of a world sent, with what became of it: filed as
/// unknown before it is sent and settled when its answer comes, so a judge at any
/// moment — also when the check ends with requests still in flight — knows every
/// request that may have moved money.
type Fates = std::sync::Arc<std::sync::Mutex<Vec<(TransferBody, Fate)>>>;

/// When each filed request was sent and answered, in the order of [`Fates`]: pushed
/// while the fates' lock is held, so the two lists stay aligned.
type Windows = std::sync::Arc<std::sync::Mutex<Vec<Window>>>;

/// When a request left the harness and, if it did, when its answer came.
#[derive(Debug, Clone, Copy)]
struct Window {
    sent: Instant,
    answered: Option<Instant>,
}

fn windows(w: &Windows) -> std::sync::MutexGuard<'_, Vec<Window>> {
    w.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock(fates: &Fates) -> std::sync::MutexGuard<'_, Vec<(TransferBody, Fate)>> {
    fates
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Fate {
    /// What an exchange says became of its request.
    fn of(x: &Exchange) -> Fate {
        match (x.is_success(), x.status) {
            (true, _) => Fate::Accepted(x.str_field("id").unwrap_or_default().to_owned()),
            (false, Some(status)) => Fate::Refused(status),
            (false, None) => Fate::Unknown,
        }
    }
}

/// What became of a request the harness sent.
#[derive(Debug, Clone)]
enum Fate {
    /// 2xx: the transfer with this id must be applied, once, whole.
    Accepted(String),
    /// An answer other than 2xx (its status): nothing may have changed.
    Refused(u16),
    /// No answer: it may be applied (whole) or not at all.
    Unknown,
}

/// A transfer service instance, its fake risk service, and the harness's model.
pub struct TransferWorld {
    /// The fake risk service.
    pub risk: RiskService,
    /// The first service instance.
    pub svc: RunningService,
    env: CheckEnv,
    env_vars: Vec<(String, String)>,
    http: reqwest::Client,
    rng: SeedRng,
    instances: usize,
    /// Opening balance of every account the harness opened.
    opened: BTreeMap<String, i64>,
    sent: Fates,
    windows: Windows,
    /// When the check armed write faults (see [`ArmedLog`]).
    armed: ArmedLog,
    references: u64,
}

impl TransferWorld {
    /// The check's timeline, for requests a check sends without a world's client.
    pub fn timeline(&self) -> &crate::checks::Timeline {
        self.env.journal.timeline()
    }

    /// Starts a risk service and one service instance on a fresh database.
    pub async fn start(env: CheckEnv) -> Result<TransferWorld, Problem> {
        TransferWorld::start_with(env, Vec::new()).await
    }

    /// Like [`TransferWorld::start`], with extra environment for every instance.
    pub async fn start_with(
        env: CheckEnv,
        env_vars: Vec<(String, String)>,
    ) -> Result<TransferWorld, Problem> {
        let risk = RiskService::start().await?;
        risk.record_into(env.journal.timeline());
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| Problem::Harness(format!("http client: {e}")))?;
        let rng = SeedRng::new(env.seed);
        let svc = start_service(&spec(&env, &risk, &env_vars, 1)).await?;
        Ok(TransferWorld {
            risk,
            svc,
            env,
            env_vars,
            http,
            rng,
            instances: 1,
            opened: BTreeMap::new(),
            sent: Fates::default(),
            windows: Windows::default(),
            armed: ArmedLog::default(),
            references: 0,
        })
    }

    /// Starts another instance on the same database (scale-out).
    pub async fn start_another_instance(&mut self) -> Result<RunningService, Problem> {
        self.instances += 1;
        start_service(&spec(&self.env, &self.risk, &self.env_vars, self.instances)).await
    }

    /// The check's seed-derived random source.
    pub fn rng(&mut self) -> &mut SeedRng {
        &mut self.rng
    }

    /// The service's database file.
    pub fn db(&self) -> &std::path::Path {
        self.svc.db()
    }

    /// Opens accounts with these opening balances the way onboarding does: the account
    /// row and its opening ledger entry, in one transaction. Returns their ids.
    pub fn open_accounts(&mut self, balances: &[i64]) -> Result<Vec<String>, Problem> {
        let tag = self.rng.next_u64() as u32;
        let ids: Vec<String> = (0..balances.len())
            .map(|i| format!("acc_{tag:08x}_{}", self.opened.len() + i + 1))
            .collect();
        let write = || -> rusqlite::Result<()> {
            let mut conn = open(self.db(), false)?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for (id, balance) in ids.iter().zip(balances) {
                tx.execute(
                    "INSERT INTO accounts (id, owner, balance, created_at)
                     VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    params![id, format!("Owner of {id}"), balance],
                )?;
                tx.execute(
                    "INSERT INTO ledger_entries (account_id, transfer_id, amount, created_at)
                     VALUES (?1, NULL, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    params![id, balance],
                )?;
            }
            tx.commit()
        };
        write().map_err(|e| contract_tables(&format!("could not open accounts: {e}")))?;
        for (id, balance) in ids.iter().zip(balances) {
            self.opened.insert(id.clone(), *balance);
        }
        Ok(ids)
    }

    /// A reference unique to this check run, so every request can be told apart.
    pub fn new_reference(&mut self) -> String {
        self.references += 1;
        format!("chk-{:06x}-{}", self.env.seed & 0xff_ffff, self.references)
    }

    /// A valid transfer body with a fresh reference.
    pub fn body(&mut self, from: &str, to: &str, amount: i64) -> TransferBody {
        TransferBody {
            from_account: from.to_owned(),
            to_account: to.to_owned(),
            amount,
            reference: Some(self.new_reference()),
        }
    }

    /// A client for spawned requests.
    pub fn client(&self) -> Client {
        Client {
            http: self.http.clone(),
            fates: self.sent.clone(),
            windows: self.windows.clone(),
            timeline: self.env.journal.timeline().clone(),
        }
    }

    /// `POST /transfers` to the first instance (filed, as every client's request is).
    pub async fn transfer(&mut self, body: &TransferBody) -> Exchange {
        self.client().transfer(&self.svc.url(), body).await
    }

    /// Files a request sent at `sent` without this world's clients (a raw socket) whose
    /// client gave up before any answer: it may be applied whole or not at all.
    pub fn record_unanswered(&mut self, body: &TransferBody, sent: Instant) {
        let mut fates = lock(&self.sent);
        fates.push((body.clone(), Fate::Unknown));
        windows(&self.windows).push(Window {
            sent,
            answered: None,
        });
    }

    /// A GET request to the first instance.
    pub async fn get(&self, path: &str) -> Exchange {
        self.client().get(&self.svc.url(), path).await
    }

    /// Reads the contract tables in one snapshot.
    pub fn ledger(&self) -> Result<Ledger, Problem> {
        read_ledger(self.db()).map_err(|e| contract_tables(&e.to_string()))
    }

    /// Installs the write-fault triggers in the service's database.
    pub fn write_faults(&self) -> Result<WriteFaults, Problem> {
        WriteFaults::install(self.db())
            .map(|faults| {
                faults
                    .record_into(self.timeline())
                    .log_arming_into(self.armed.clone())
            })
            .map_err(|e| Problem::Harness(format!("could not install write faults: {e}")))
    }

    /// Holds every risk assessment until released.
    pub fn hold_assessments(&self, on: bool) {
        self.risk.set_standing(on.then_some(RiskFault::Hold));
    }

    /// Kills the first instance with SIGKILL and restarts it on the same database; a
    /// service that does not come back fails the check.
    pub async fn restart_after_kill9(&mut self) -> Result<(), Problem> {
        restart_service(&mut self.svc).await
    }

    /// Judges the database against everything sent so far; returns each broken
    /// invariant in plain words and tells the balances into `story`.
    pub fn judge(&self, story: &mut Evidence) -> Result<Vec<String>, Problem> {
        self.judge_accounts(None, story)
    }

    /// Like [`TransferWorld::judge`], limited to `accounts` and the transfers out of
    /// them (a property case judges only the accounts it opened).
    pub fn judge_accounts(
        &self,
        accounts: Option<&[String]>,
        story: &mut Evidence,
    ) -> Result<Vec<String>, Problem> {
        let ledger = self.ledger()?;
        let in_scope = |a: &String| accounts.is_none_or(|set| set.contains(a));
        let opened: BTreeMap<String, i64> = self
            .opened
            .iter()
            .filter(|(a, _)| in_scope(a))
            .map(|(a, b)| (a.clone(), *b))
            .collect();
        let sent: Vec<(TransferBody, Fate)> = lock(&self.sent)
            .iter()
            .filter(|(b, _)| in_scope(&b.from_account))
            .cloned()
            .collect();
        let broken = judge(&opened, &sent, &ledger);
        story.say(format!(
            "Balances now: {}.",
            ledger
                .balances
                .iter()
                .filter(|(id, _)| opened.contains_key(*id))
                .map(|(id, b)| format!("{id}={b}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(broken)
    }

    /// The balance the model expects for `account`, counting only accepted transfers.
    pub fn expected_balance(&self, account: &str) -> i64 {
        let mut balance = self.opened.get(account).copied().unwrap_or(0);
        for (body, fate) in lock(&self.sent).iter() {
            if matches!(fate, Fate::Accepted(_)) {
                if body.from_account == account {
                    balance -= body.amount;
                }
                if body.to_account == account {
                    balance += body.amount;
                }
            }
        }
        balance
    }
}

/// "`409 insufficient_funds` only when the balance really does not cover the amount":
/// a 409 is false when the payer's balance covered the amount at every moment its
/// request was in flight, whatever order the service committed the others in. The
/// balance is bounded from below: the opening balance, plus the stored transfers into
/// the payer answered 2xx before the refused request was sent, minus every stored
/// transfer out of it that may have committed before the refusal (its request sent
/// before the refusal came, or not sent by this check's clients at all). Only payers
/// whose balance equals the opening balance moved by the stored transfers are judged:
/// where it does not, the audit requirement has already found the service out, and
/// no bound on the balance holds.
fn judge_covered(
    opened: &BTreeMap<String, i64>,
    sent: &[(TransferBody, Fate)],
    when: &[Window],
    db: &Ledger,
) -> Vec<String> {
    let mut broken = Vec::new();
    // The request that made each stored transfer, if a client of this check sent it.
    let made_by = |id: &str, t: &DbTransfer| {
        sent.iter().position(|(b, f)| match f {
            Fate::Accepted(accepted) => accepted == id,
            Fate::Unknown => t.describes(b),
            Fate::Refused(_) => false,
        })
    };
    for (i, (body, fate)) in sent.iter().enumerate() {
        let (Fate::Refused(409), Some(window)) = (fate, when.get(i)) else {
            continue;
        };
        let (Some(refused_at), Some(&opening)) = (window.answered, opened.get(&body.from_account))
        else {
            continue;
        };
        let payer = body.from_account.as_str();
        let moved: i64 = db
            .transfers
            .values()
            .map(|t| {
                i64::from(t.to_account == payer) * t.amount
                    - i64::from(t.from_account == payer) * t.amount
            })
            .sum();
        if db.balances.get(payer) != Some(&(opening + moved)) {
            continue;
        }
        let mut lowest = opening;
        for (id, t) in &db.transfers {
            let by = made_by(id, t).and_then(|k| when.get(k).map(|w| (k, w)));
            if t.from_account == payer && by.is_none_or(|(_, w)| w.sent < refused_at) {
                lowest -= t.amount;
            }
            if t.to_account == payer
                && let Some((k, w)) = by
                && matches!(sent[k].1, Fate::Accepted(_))
                && w.answered.is_some_and(|a| a < window.sent)
            {
                lowest += t.amount;
            }
        }
        if lowest >= body.amount {
            broken.push(format!(
                "{body} was refused with 409 although {payer} held at least {lowest} the whole time the request was in flight, whatever order the other transfers committed in."
            ));
        }
    }
    broken
}

/// Holds the database to the requests' fates and the ledger invariants.
fn judge(
    opened: &BTreeMap<String, i64>,
    sent: &[(TransferBody, Fate)],
    db: &Ledger,
) -> Vec<String> {
    let mut broken = judge_fates(opened, sent, db);
    // Money conserved (the balances summed) last, after the accounts it sums.
    let (conserved, standing): (Vec<_>, Vec<_>) = judge_standing(opened, db)
        .into_iter()
        .partition(|(requirement, _)| *requirement == MONEY_CONSERVED);
    broken.extend(standing.into_iter().flat_map(|(_, lines)| lines));
    broken.extend(conserved.into_iter().flat_map(|(_, lines)| lines));
    broken
}

/// Holds the database to what became of every request: an accepted transfer stored
/// once, as requested, and applied to the balances; a refused one absent; an
/// unanswered one whole or absent; nothing stored that no request made.
fn judge_fates(
    opened: &BTreeMap<String, i64>,
    sent: &[(TransferBody, Fate)],
    db: &Ledger,
) -> Vec<String> {
    let mut broken = Vec::new();
    let mut expected: BTreeMap<String, i128> = opened
        .iter()
        .map(|(id, b)| (id.clone(), *b as i128))
        .collect();
    let mut apply = |t: &TransferBody| {
        *expected.entry(t.from_account.clone()).or_default() -= t.amount as i128;
        *expected.entry(t.to_account.clone()).or_default() += t.amount as i128;
    };

    // Accepted requests: present, describing the request.
    let mut claimed: Vec<&str> = Vec::new();
    for (body, fate) in sent {
        let Fate::Accepted(id) = fate else { continue };
        match db.transfers.get(id) {
            None => broken.push(format!(
                "Transfer {id} ({body}) was answered 2xx but is not in the `transfers` table."
            )),
            Some(t)
                if (t.from_account.as_str(), t.to_account.as_str(), t.amount)
                    != (
                        body.from_account.as_str(),
                        body.to_account.as_str(),
                        body.amount,
                    ) =>
            {
                broken.push(format!(
                    "Transfer {id} was requested as {body} but is stored as {} from {} to {}.",
                    t.amount, t.from_account, t.to_account
                ));
            }
            Some(_) => {}
        }
        claimed.push(id);
        apply(body);
    }
    // Every other stored transfer must be a request whose answer never came.
    let mut unknown: Vec<&TransferBody> = sent
        .iter()
        .filter(|(_, f)| matches!(f, Fate::Unknown))
        .map(|(b, _)| b)
        .collect();
    for (id, t) in &db.transfers {
        if claimed.contains(&id.as_str()) || !opened.contains_key(&t.from_account) {
            continue;
        }
        let matches = |b: &&TransferBody| t.describes(b);
        if let Some(pos) = unknown.iter().position(matches) {
            apply(unknown.remove(pos));
            continue;
        }
        let refused = sent
            .iter()
            .any(|(b, f)| matches!(f, Fate::Refused(_)) && matches(&b));
        broken.push(if refused {
            format!(
                "Transfer {id} ({} from {} to {}) is in the `transfers` table although its request was answered with an error.",
                t.amount, t.from_account, t.to_account
            )
        } else {
            format!(
                "Transfer {id} ({} from {} to {}) is in the `transfers` table but no request of the check made it (or it was applied twice).",
                t.amount, t.from_account, t.to_account
            )
        });
    }

    // Balances: what the accepted transfers leave.
    for (account, opening) in opened {
        let Some(balance) = db.balances.get(account).copied() else {
            continue;
        };
        let want = expected.get(account).copied().unwrap_or(*opening as i128);
        if balance as i128 != want {
            broken.push(format!(
                "Account {account} has balance {balance}; the transfers the service accepted leave it at {want}."
            ));
        }
    }
    broken
}

/// The brief's standing requirement that the audit reconciles: "every account's
/// balance must equal the sum of its ledger entries, and every transfer must have
/// exactly its two entries".
pub const RECONCILES: &str = "audit-reconciles";
/// "An account never goes below zero".
pub const NEVER_BELOW_ZERO: &str = "never-below-zero";
/// "money is never created or destroyed".
pub const MONEY_CONSERVED: &str = "money-conserved";
/// "A `201` means the transfer is durably recorded; any other answer means nothing was
/// moved or recorded."
pub const ANSWER_MEANS_OUTCOME: &str = "answer-means-outcome";
/// "`409 insufficient_funds` only when the balance really does not cover the amount".
pub const COVERED_GOES_THROUGH: &str = "covered-goes-through";
/// Every standing requirement this world judges when its check ends.
pub const STANDING: &[&str] = &[
    RECONCILES,
    NEVER_BELOW_ZERO,
    MONEY_CONSERVED,
    ANSWER_MEANS_OUTCOME,
    COVERED_GOES_THROUGH,
];

/// The requirements that hold on any history, whatever the requests were and whatever
/// became of them: judged from the accounts the harness opened and the database alone,
/// so every check's history can be held to them. Each requirement with what broke it.
pub fn judge_standing(
    opened: &BTreeMap<String, i64>,
    db: &Ledger,
) -> Vec<(&'static str, Vec<String>)> {
    let mut reconciles = Vec::new();
    let mut below_zero = Vec::new();
    // Each transfer is whole: exactly a debit and a credit of its amount.
    for (id, t) in &db.transfers {
        let mut entries = t.entries.clone();
        entries.sort();
        let mut want = vec![
            (t.from_account.clone(), -t.amount),
            (t.to_account.clone(), t.amount),
        ];
        want.sort();
        if entries != want {
            reconciles.push(format!(
                "Transfer {id} ({} from {} to {}) has ledger entries {:?}; it needs exactly a debit of -{} on {} and a credit of {} on {}.",
                t.amount, t.from_account, t.to_account, entries, t.amount, t.from_account, t.amount, t.to_account
            ));
        }
    }
    for (entry, transfer) in &db.orphan_entries {
        reconciles.push(format!(
            "Ledger entry {entry} names transfer {transfer}, which is not in the `transfers` table."
        ));
    }
    for account in opened.keys() {
        let Some(balance) = db.balances.get(account).copied() else {
            reconciles.push(format!(
                "Account {account} is missing from the `accounts` table."
            ));
            continue;
        };
        let entries = db.entry_sums.get(account).copied().unwrap_or(0);
        if balance != entries {
            reconciles.push(format!(
                "Account {account} has balance {balance} but its ledger entries sum to {entries}: the audit does not reconcile."
            ));
        }
        if balance < 0 {
            below_zero.push(format!(
                "Account {account} is overdrawn: balance {balance}."
            ));
        } else if entries < 0 {
            // The balance column may have lost the updates that overdrew it; the
            // ledger has every one.
            below_zero.push(format!(
                "Account {account} is overdrawn in its ledger: its entries sum to {entries}."
            ));
        }
    }
    let total_opened: i128 = opened.values().map(|b| *b as i128).sum();
    let total_now: i128 = opened
        .keys()
        .filter_map(|a| db.balances.get(a))
        .map(|b| *b as i128)
        .sum();
    let conserved = if total_now != total_opened {
        vec![format!(
            "Money was {} by transfers: the accounts held {total_opened} in total and now hold {total_now}.",
            if total_now > total_opened {
                "created"
            } else {
                "destroyed"
            }
        )]
    } else {
        Vec::new()
    };
    vec![
        (RECONCILES, reconciles),
        (NEVER_BELOW_ZERO, below_zero),
        (MONEY_CONSERVED, conserved),
    ]
}

impl Drop for TransferWorld {
    /// Holds this check's history to the standing requirements, whatever the check
    /// was about. A world that opened no account has nothing to judge; a database the
    /// harness cannot read is the check's own failure to report, not a finding.
    fn drop(&mut self) {
        crate::checks::journal::blocking(|| {
            if self.opened.is_empty() {
                return;
            }
            let Ok(ledger) = self.ledger() else { return };
            for (requirement, broken) in judge_standing(&self.opened, &ledger) {
                self.env.journal.judged(requirement, broken);
            }
            let (sent, when) = {
                let fates = lock(&self.sent);
                (fates.clone(), windows(&self.windows).clone())
            };
            self.env.journal.judged(
                ANSWER_MEANS_OUTCOME,
                judge_fates(&self.opened, &sent, &ledger),
            );
            let armed = self
                .armed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            // Requests in flight while a write fault was armed are left out: see
            // `ArmedLog`.
            let when: Vec<Window> = when
                .into_iter()
                .map(|w| {
                    let overlaps = armed.iter().any(|(from, until)| {
                        w.answered.is_none_or(|a| *from <= a) && until.is_none_or(|u| w.sent <= u)
                    });
                    Window {
                        answered: w.answered.filter(|_| !overlaps),
                        ..w
                    }
                })
                .collect();
            self.env.journal.judged(
                COVERED_GOES_THROUGH,
                judge_covered(&self.opened, &sent, &when, &ledger),
            );
            // The payer's only request in the history: a risk call names it, and its 409
            // was due before any risk call (no other transfer of the payer's could have
            // drained the account meanwhile).
            let once = |b: &TransferBody| {
                sent.iter()
                    .filter(|(o, _)| o.from_account == b.from_account)
                    .count()
                    == 1
            };
            let refused: Vec<(String, String, i64)> = sent
                .iter()
                .filter(|(b, f)| matches!(f, Fate::Refused(409)) && once(b))
                .map(|(b, _)| (b.from_account.clone(), b.to_account.clone(), b.amount))
                .collect();
            let assessed: Vec<(Option<String>, Option<String>, Option<i64>)> = self
                .risk
                .calls()
                .into_iter()
                .map(|c| (c.from_account, c.to_account, c.amount))
                .collect();
            self.env
                .journal
                .observed(harness_core::report::designs::risk_order(
                    &refused, &assessed,
                ));
        });
    }
}

/// A base URL a request can be spawned against.
#[derive(Clone)]
pub struct Target {
    url: String,
}

impl Target {
    /// The instance's URL.
    pub fn of(svc: &RunningService) -> Target {
        Target { url: svc.url() }
    }

    /// The instance's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Sends every body at once (round-robin over `targets`), each held at the risk check;
/// releases once every request is either held or answered, or nothing has moved for a
/// while (a fix may make later transfers wait for the first).
pub async fn burst_held(
    w: &mut TransferWorld,
    targets: &[Target],
    bodies: &[TransferBody],
    story: &mut Evidence,
) -> Result<Vec<Exchange>, Problem> {
    const QUIET: Duration = Duration::from_millis(400);
    const LIMIT: Duration = Duration::from_secs(10);
    w.hold_assessments(true);
    let tasks = spawn_all(w, targets, bodies);
    let started = tokio::time::Instant::now();
    let mut last = (usize::MAX, usize::MAX);
    let mut since = tokio::time::Instant::now();
    loop {
        let held = w.risk.held();
        let answered = tasks.iter().filter(|t| t.is_finished()).count();
        if held + answered >= bodies.len() || started.elapsed() > LIMIT {
            break;
        }
        if (held, answered) != last {
            last = (held, answered);
            since = tokio::time::Instant::now();
        } else if since.elapsed() > QUIET {
            break;
        }
        let _ = w
            .risk
            .wait_for_held(held + 1, Duration::from_millis(20))
            .await;
    }
    // Release them into a database whose write lock the harness holds, and let go only
    // once every released request has had its answer from the risk service and time to
    // reach its first write: whatever each read before then is stale when they write,
    // so the transfers overlap in the database however the scheduler runs them.
    const SETTLE: Duration = Duration::from_millis(200);
    let held = w.risk.held();
    story.say(format!(
        "{held} held at the risk check at once; releasing them while the harness holds the database's write lock."
    ));
    // A fix that holds the write lock across the risk call already serialises the
    // burst; then there is no lock to take, and no need for it.
    let lock = LockHolder::take(w.db(), Duration::from_millis(100))
        .await
        .map_err(|e| Problem::Harness(format!("could not take the write lock: {e}")))?;
    let answered_before = w.risk.answered();
    w.hold_assessments(false);
    w.risk.release_held();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while w.risk.answered() < answered_before + held && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some(lock) = lock {
        tokio::time::sleep(SETTLE).await;
        lock.release()
            .map_err(|e| Problem::Harness(format!("could not release the write lock: {e}")))?;
    }
    let answers = join_all(tasks).await?;
    for x in &answers {
        story.exchange(x);
    }
    Ok(answers)
}

pub fn spawn_all(
    w: &TransferWorld,
    targets: &[Target],
    bodies: &[TransferBody],
) -> Vec<tokio::task::JoinHandle<Exchange>> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let client = w.client();
            let url = targets[i % targets.len()].url.clone();
            let body = body.clone();
            tokio::spawn(async move { client.transfer(&url, &body).await })
        })
        .collect()
}

/// Awaits every spawned request, in order (each already filed by its client).
pub async fn join_all(
    tasks: Vec<tokio::task::JoinHandle<Exchange>>,
) -> Result<Vec<Exchange>, Problem> {
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(join(task).await?);
    }
    Ok(answers)
}

/// Every answer must be a success or a clean refusal a client can act on.
pub fn judge_statuses(answers: &[Exchange], broken: &mut Vec<String>, when: &str) {
    for x in answers {
        if !x.is_success() && !clean_refusal(x) {
            broken.push(format!(
                "A transfer {when} was answered with neither a success nor a clean 409/422/503 with a JSON error (clients retry those; anything else pages on-call): {x}"
            ));
        }
    }
}

/// True for the answers a client may get when a transfer is refused cleanly and can be
/// retried or reported: 409, 422 and 503, each with a JSON error.
pub fn clean_refusal(x: &Exchange) -> bool {
    matches!(x.status, Some(409 | 422 | 503)) && x.is_json_error()
}

/// A cheap, cloneable HTTP client for spawned requests.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    fates: Fates,
    windows: Windows,
    timeline: crate::checks::Timeline,
}

impl Client {
    /// `POST /transfers`, filed with the world: unknown until its answer settles it.
    pub async fn transfer(&self, base: &str, body: &TransferBody) -> Exchange {
        let index = {
            let mut fates = lock(&self.fates);
            fates.push((body.clone(), Fate::Unknown));
            windows(&self.windows).push(Window {
                sent: Instant::now(),
                answered: None,
            });
            fates.len() - 1
        };
        let x = self.post_raw(base, &body.json()).await;
        let answered = Instant::now();
        if let Some(filed) = lock(&self.fates).get_mut(index) {
            filed.1 = Fate::of(&x);
        }
        if x.status.is_some()
            && let Some(window) = windows(&self.windows).get_mut(index)
        {
            window.answered = Some(answered);
        }
        x
    }

    /// `POST /transfers` with a raw body (for malformed requests).
    pub async fn post_raw(&self, base: &str, body: &str) -> Exchange {
        send(
            &self.timeline,
            &self.http,
            reqwest::Method::POST,
            base,
            "/transfers",
            &[("content-type", "application/json")],
            Some(body.to_owned()),
        )
        .await
    }

    /// A GET request.
    pub async fn get(&self, base: &str, path: &str) -> Exchange {
        send(
            &self.timeline,
            &self.http,
            reqwest::Method::GET,
            base,
            path,
            &[],
            None,
        )
        .await
    }
}

/// Awaits a spawned request.
pub async fn join(task: tokio::task::JoinHandle<Exchange>) -> Result<Exchange, Problem> {
    task.await
        .map_err(|e| Problem::Harness(format!("request task failed: {e}")))
}

fn spec(
    env: &CheckEnv,
    risk: &RiskService,
    env_vars: &[(String, String)],
    instance: usize,
) -> ServiceSpec {
    ServiceSpec {
        binary: env.binary.clone(),
        db: env.workdir.join("transfer.db"),
        downstreams: vec![("risk".to_owned(), risk.url())],
        env: env_vars.to_vec(),
        log: env.workdir.join(format!("instance-{instance}.log")),
        stats: None,
        policy: env.policy.clone(),
        timeline: env.journal.timeline().clone(),
    }
}

fn contract_tables(detail: &str) -> Problem {
    let mut ev = Evidence::new();
    ev.say(format!(
        "The contract tables (`accounts`, `transfers`, `ledger_entries`) could not be used: {detail}"
    ));
    Problem::Service(ev)
}

fn open(db: &std::path::Path, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    };
    let conn = Connection::open_with_flags(db, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

fn read_ledger(db: &std::path::Path) -> rusqlite::Result<Ledger> {
    let mut conn = open(db, true)?;
    // One read transaction: a consistent snapshot even while the service writes.
    let tx = conn.transaction()?;
    let mut ledger = Ledger::default();
    {
        let mut stmt = tx.prepare("SELECT id, balance FROM accounts")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (id, balance) = row?;
            ledger.balances.insert(id, balance);
        }
        let mut stmt =
            tx.prepare("SELECT account_id, SUM(amount) FROM ledger_entries GROUP BY account_id")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (id, sum) = row?;
            ledger.entry_sums.insert(id, sum);
        }
        let mut stmt =
            tx.prepare("SELECT id, from_account, to_account, amount, reference FROM transfers")?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                DbTransfer {
                    from_account: r.get(1)?,
                    to_account: r.get(2)?,
                    amount: r.get(3)?,
                    reference: r.get(4)?,
                    entries: Vec::new(),
                },
            ))
        })? {
            let (id, t) = row?;
            ledger.transfers.insert(id, t);
        }
        let mut stmt = tx.prepare(
            "SELECT id, transfer_id, account_id, amount FROM ledger_entries
              WHERE transfer_id IS NOT NULL ORDER BY id",
        )?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })? {
            let (entry, transfer, account, amount) = row?;
            match ledger.transfers.get_mut(&transfer) {
                Some(t) => t.entries.push((account, amount)),
                None => ledger.orphan_entries.push((entry, transfer)),
            }
        }
    }
    tx.commit()?;
    Ok(ledger)
}

/// The ledger judge on synthetic histories: each the history a kind of wrong fix
/// leaves, judged without a service — the judge is the product, so it is tested like one.
#[cfg(test)]
mod judge_tests {
    use super::*;

    const A: &str = "acc_a";
    const B: &str = "acc_b";

    fn opened() -> BTreeMap<String, i64> {
        BTreeMap::from([(A.to_owned(), 100), (B.to_owned(), 0)])
    }

    fn body(amount: i64, reference: &str) -> TransferBody {
        TransferBody {
            from_account: A.to_owned(),
            to_account: B.to_owned(),
            amount,
            reference: Some(reference.to_owned()),
        }
    }

    /// The database after `applied` transfers, each whole, under ids `t1`, `t2`, …
    fn ledger(applied: &[&TransferBody]) -> Ledger {
        let mut db = Ledger::default();
        let mut balances = opened();
        for (i, t) in applied.iter().enumerate() {
            *balances.entry(t.from_account.clone()).or_default() -= t.amount;
            *balances.entry(t.to_account.clone()).or_default() += t.amount;
            db.transfers.insert(
                format!("t{}", i + 1),
                DbTransfer {
                    from_account: t.from_account.clone(),
                    to_account: t.to_account.clone(),
                    amount: t.amount,
                    reference: t.reference.clone(),
                    entries: vec![
                        (t.from_account.clone(), -t.amount),
                        (t.to_account.clone(), t.amount),
                    ],
                },
            );
        }
        // Opening balances are ledger entries too (onboarding writes them).
        db.entry_sums = balances.clone();
        db.balances = balances;
        db
    }

    fn says(broken: &[String], words: &str) -> bool {
        broken.iter().any(|b| b.contains(words))
    }

    #[test]
    fn a_whole_accepted_transfer_breaks_nothing() {
        let t = body(30, "r1");
        let broken = judge(
            &opened(),
            &[(t.clone(), Fate::Accepted("t1".into()))],
            &ledger(&[&t]),
        );
        assert!(broken.is_empty(), "{broken:?}");
    }

    #[test]
    fn an_unanswered_transfer_may_be_whole_or_absent_but_nothing_between() {
        let t = body(30, "r1");
        let sent = [(t.clone(), Fate::Unknown)];
        assert!(judge(&opened(), &sent, &ledger(&[&t])).is_empty());
        assert!(judge(&opened(), &sent, &ledger(&[])).is_empty());
        // Reserve, then assess: the client went away during the risk call and the payer
        // stays debited with no transfer and no ledger entry.
        let mut reserved = ledger(&[]);
        reserved.balances.insert(A.to_owned(), 70);
        let broken = judge(&opened(), &sent, &reserved);
        assert!(says(&broken, "ledger entries sum to 100"), "{broken:?}");
        assert!(says(&broken, "Money was destroyed"), "{broken:?}");
    }

    #[test]
    fn a_success_whose_transfer_is_not_stored_is_broken() {
        // An answer sent while its write goes on, and the write then lost.
        let t = body(30, "r1");
        let broken = judge(
            &opened(),
            &[(t.clone(), Fate::Accepted("t1".into()))],
            &ledger(&[]),
        );
        assert!(says(&broken, "not in the `transfers` table"), "{broken:?}");
        assert!(says(
            &broken,
            "the transfers the service accepted leave it at 70"
        ));
    }

    #[test]
    fn a_refused_transfer_that_is_stored_is_broken() {
        // Answered 500 after its writes committed.
        let t = body(30, "r1");
        let broken = judge(
            &opened(),
            &[(t.clone(), Fate::Refused(503))],
            &ledger(&[&t]),
        );
        assert!(says(&broken, "answered with an error"), "{broken:?}");
    }

    #[test]
    fn half_a_transfer_is_broken() {
        // The process died between the debit and the credit (five autocommit writes).
        let t = body(30, "r1");
        let mut db = ledger(&[&t]);
        if let Some(stored) = db.transfers.get_mut("t1") {
            stored.entries.retain(|(account, _)| account == A);
        }
        db.entry_sums.insert(B.to_owned(), 0);
        let broken = judge(&opened(), &[(t, Fate::Unknown)], &db);
        assert!(says(&broken, "it needs exactly a debit"), "{broken:?}");
        assert!(says(&broken, "ledger entries sum to 0"), "{broken:?}");
    }

    #[test]
    fn two_accepted_transfers_that_overdraw_are_broken() {
        // A lock inside one process, two instances: both read 100, both spend 70.
        let (t1, t2) = (body(70, "r1"), body(70, "r2"));
        let broken = judge(
            &opened(),
            &[
                (t1.clone(), Fate::Accepted("t1".into())),
                (t2.clone(), Fate::Accepted("t2".into())),
            ],
            &ledger(&[&t1, &t2]),
        );
        assert!(says(&broken, "overdrawn: balance -40"), "{broken:?}");
    }

    #[test]
    fn a_transfer_applied_twice_is_broken() {
        // A retry that applied the same request again.
        let t = body(30, "r1");
        let broken = judge(
            &opened(),
            &[(t.clone(), Fate::Accepted("t1".into()))],
            &ledger(&[&t, &t]),
        );
        assert!(says(
            &broken,
            "no request of the check made it (or it was applied twice)"
        ));
        assert!(says(&broken, "leave it at 70"), "{broken:?}");
    }

    /// A window `sent`..`answered` ms after a common start.
    fn at(start: Instant, sent: u64, answered: Option<u64>) -> Window {
        Window {
            sent: start + Duration::from_millis(sent),
            answered: answered.map(|a| start + Duration::from_millis(a)),
        }
    }

    fn reverse(t: &TransferBody) -> TransferBody {
        TransferBody {
            from_account: t.to_account.clone(),
            to_account: t.from_account.clone(),
            amount: t.amount,
            reference: t.reference.clone(),
        }
    }

    #[test]
    fn a_409_for_a_balance_that_covered_the_amount_all_along_is_false() {
        let start = Instant::now();
        let t = body(60, "r1");
        let broken = judge_covered(
            &opened(),
            &[(t.clone(), Fate::Refused(409))],
            &[at(start, 0, Some(10))],
            &ledger(&[]),
        );
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].contains("at least 100"), "{broken:?}");
    }

    #[test]
    fn a_409_after_a_concurrent_transfer_drained_the_account_is_true() {
        let start = Instant::now();
        let (first, second) = (body(60, "r1"), body(60, "r2"));
        // The first was sent while the second was in flight and went through: whatever
        // the order, the second may have met a balance of 40.
        let sent = [
            (first.clone(), Fate::Accepted("t1".into())),
            (second.clone(), Fate::Refused(409)),
        ];
        let when = [at(start, 5, Some(20)), at(start, 0, Some(10))];
        assert!(judge_covered(&opened(), &sent, &when, &ledger(&[&first])).is_empty());
    }

    #[test]
    fn a_transfer_sent_after_the_refusal_does_not_excuse_it() {
        let start = Instant::now();
        let (refused, later) = (body(60, "r1"), body(60, "r2"));
        let sent = [
            (refused.clone(), Fate::Refused(409)),
            (later.clone(), Fate::Accepted("t1".into())),
        ];
        let when = [at(start, 0, Some(10)), at(start, 20, Some(30))];
        assert_eq!(
            judge_covered(&opened(), &sent, &when, &ledger(&[&later])).len(),
            1
        );
    }

    #[test]
    fn money_that_arrived_before_the_request_counts_and_money_in_flight_does_not() {
        let start = Instant::now();
        let incoming = reverse(&body(50, "in"));
        let refused = body(120, "out");
        let sent = [
            (incoming.clone(), Fate::Accepted("t1".into())),
            (refused.clone(), Fate::Refused(409)),
        ];
        // Answered before the 120 was sent: 150 covered it.
        let before = [at(start, 0, Some(10)), at(start, 20, Some(30))];
        assert_eq!(
            judge_covered(&opened(), &sent, &before, &ledger(&[&incoming])).len(),
            1
        );
        // Still in flight when the 120 was sent: the service may have seen 100.
        let during = [at(start, 0, Some(25)), at(start, 20, Some(30))];
        assert!(judge_covered(&opened(), &sent, &during, &ledger(&[&incoming])).is_empty());
    }

    #[test]
    fn a_transfer_no_client_of_the_check_sent_may_have_drained_the_account() {
        let start = Instant::now();
        let (refused, unknown) = (body(60, "r1"), body(60, "raw"));
        let sent = [(refused.clone(), Fate::Refused(409))];
        let when = [at(start, 0, Some(10))];
        assert!(judge_covered(&opened(), &sent, &when, &ledger(&[&unknown])).is_empty());
    }

    #[test]
    fn a_payer_whose_balance_does_not_follow_its_transfers_is_left_to_the_audit() {
        let start = Instant::now();
        let t = body(60, "r1");
        let mut db = ledger(&[]);
        db.balances.insert(A.to_owned(), 40);
        let sent = [(t, Fate::Refused(409))];
        assert!(judge_covered(&opened(), &sent, &[at(start, 0, Some(10))], &db).is_empty());
    }
}

/// The standing judge on synthetic ledgers: what it holds every history to, with no
/// request's fate needed.
#[cfg(test)]
mod standing_tests {
    use super::*;

    fn opened() -> BTreeMap<String, i64> {
        BTreeMap::from([("acc_a".to_owned(), 100), ("acc_b".to_owned(), 0)])
    }

    fn ledger(a: i64, b: i64) -> Ledger {
        let balances = BTreeMap::from([("acc_a".to_owned(), a), ("acc_b".to_owned(), b)]);
        Ledger {
            entry_sums: balances.clone(),
            balances,
            ..Ledger::default()
        }
    }

    fn broken(db: &Ledger) -> BTreeMap<&'static str, Vec<String>> {
        judge_standing(&opened(), db).into_iter().collect()
    }

    #[test]
    fn an_untouched_ledger_keeps_every_standing_requirement() {
        let b = broken(&ledger(100, 0));
        let judged: Vec<&str> = b.keys().copied().collect();
        assert_eq!(judged, [RECONCILES, MONEY_CONSERVED, NEVER_BELOW_ZERO]);
        assert!(b.values().all(Vec::is_empty), "{b:?}");
    }

    #[test]
    fn each_requirement_is_broken_by_its_own_kind_of_history() {
        // Debit written, credit lost: the audit does not reconcile, money destroyed.
        let mut half = ledger(70, 0);
        half.entry_sums.insert("acc_a".to_owned(), 100);
        let b = broken(&half);
        assert!(
            !b[RECONCILES].is_empty() && !b[MONEY_CONSERVED].is_empty(),
            "{b:?}"
        );
        assert!(b[NEVER_BELOW_ZERO].is_empty());
        // Two instances each spent the same 100: overdrawn, still conserved.
        let b = broken(&ledger(-40, 140));
        assert!(
            b[NEVER_BELOW_ZERO][0].contains("overdrawn: balance -40"),
            "{b:?}"
        );
        assert!(
            b[RECONCILES].is_empty() && b[MONEY_CONSERVED].is_empty(),
            "{b:?}"
        );
        // Lost updates: the balance column stayed positive, the ledger overdrew.
        let mut lost = ledger(20, 140);
        lost.entry_sums.insert("acc_a".to_owned(), -40);
        let b = broken(&lost);
        assert!(
            b[NEVER_BELOW_ZERO][0].contains("overdrawn in its ledger"),
            "{b:?}"
        );
        // An entry naming a transfer that was rolled back.
        let mut orphan = ledger(100, 0);
        orphan.orphan_entries.push((7, "tr_gone".to_owned()));
        assert!(broken(&orphan)[RECONCILES][0].contains("tr_gone"));
    }

    #[test]
    fn the_answer_requirement_needs_every_request_and_its_fate() {
        let t = TransferBody {
            from_account: "acc_a".to_owned(),
            to_account: "acc_b".to_owned(),
            amount: 30,
            reference: None,
        };
        let mut applied = ledger(70, 30);
        applied.transfers.insert(
            "tr_1".to_owned(),
            DbTransfer {
                from_account: t.from_account.clone(),
                to_account: t.to_account.clone(),
                amount: 30,
                reference: None,
                entries: vec![("acc_a".to_owned(), -30), ("acc_b".to_owned(), 30)],
            },
        );
        // Still in flight when the check ended: whole or absent, both fine.
        assert!(judge_fates(&opened(), &[(t.clone(), Fate::Unknown)], &applied).is_empty());
        assert!(judge_fates(&opened(), &[(t.clone(), Fate::Unknown)], &ledger(100, 0)).is_empty());
        // Answered 503 after its writes committed: the standing ledger rules all hold,
        // only the answer's meaning is broken.
        let refused = judge_fates(&opened(), &[(t.clone(), Fate::Refused(503))], &applied);
        assert!(
            refused.iter().any(|l| l.contains("answered with an error")),
            "{refused:?}"
        );
        assert!(broken(&applied).values().all(Vec::is_empty));
        // Answered 201 and never written.
        let lost = judge_fates(
            &opened(),
            &[(t, Fate::Accepted("tr_1".into()))],
            &ledger(100, 0),
        );
        assert!(
            lost.iter()
                .any(|l| l.contains("not in the `transfers` table")),
            "{lost:?}"
        );
    }
}
