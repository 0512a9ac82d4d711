//! `ChargeWorld`: a charge service wired to a fake payment provider, plus the typed
//! helpers checks speak in (`post_charge`, `provider.charges_for`, `db_charges_for`)
//! and the ground-truth judgement they share.

use harness_core::report::designs;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use tokio::time::Instant;

use crate::checks::http::{Exchange, send};
use crate::checks::journal::Ticket;
use crate::checks::{CheckEnv, Evidence, Problem, restart_service, start_service};
use crate::fakes::{PaymentProvider, ProviderFault};
use crate::seed::SeedRng;
use crate::service::{RunningService, ServiceSpec};

/// How soon after a crash the brief requires a retry to be able to complete the charge:
/// a key whose request died with its instance may answer 409 for at most this long.
pub const CRASH_RECOVERY: Duration = Duration::from_secs(5);
/// What the harness allows on top of [`CRASH_RECOVERY`] on a loaded machine.
pub const RECOVERY_MARGIN: Duration = Duration::from_secs(1);

/// The body of `POST /charges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChargeBody {
    pub customer_id: String,
    pub amount: i64,
    pub currency: String,
}

impl ChargeBody {
    /// The body as JSON text.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A row of the contract table `charges`, read straight from the SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbCharge {
    pub id: String,
    pub idempotency_key: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub provider_charge_id: Option<String>,
}

/// A charge service instance, its fake provider and an HTTP client.
pub struct ChargeWorld {
    /// The fake payment provider: its records are ground truth.
    pub provider: PaymentProvider,
    /// The first service instance.
    pub svc: RunningService,
    env: CheckEnv,
    http: reqwest::Client,
    rng: SeedRng,
    instances: usize,
    /// Extra environment every instance starts with.
    env_vars: Vec<(String, String)>,
    sent: crate::checks::journal::Sent,
}

impl ChargeWorld {
    /// The check's timeline, for requests a check sends without a world's client.
    pub fn timeline(&self) -> &crate::checks::Timeline {
        self.env.journal.timeline()
    }

    /// Starts a provider and one service instance on a fresh database.
    pub async fn start(env: CheckEnv) -> Result<ChargeWorld, Problem> {
        ChargeWorld::start_with(env, Vec::new()).await
    }

    /// Like [`ChargeWorld::start`], with extra environment for every instance (the
    /// kit's `KIT_BUSY_TIMEOUT_MS`, say).
    pub async fn start_with(
        env: CheckEnv,
        env_vars: Vec<(String, String)>,
    ) -> Result<ChargeWorld, Problem> {
        let provider = PaymentProvider::start().await?;
        provider.record_into(env.journal.timeline());
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| Problem::Harness(format!("http client: {e}")))?;
        let rng = SeedRng::new(env.seed);
        let spec = spec(&env, &provider, &env_vars, 1);
        let svc = start_service(&spec).await?;
        Ok(ChargeWorld {
            provider,
            svc,
            env,
            http,
            rng,
            instances: 1,
            env_vars,
            sent: Default::default(),
        })
    }

    /// Starts another instance on the same database (scale-out).
    pub async fn start_another_instance(&mut self) -> Result<RunningService, Problem> {
        self.instances += 1;
        start_service(&spec(
            &self.env,
            &self.provider,
            &self.env_vars,
            self.instances,
        ))
        .await
    }

    /// The check's seed-derived random source.
    pub fn rng(&mut self) -> &mut SeedRng {
        &mut self.rng
    }

    /// A customer id unique to this check run.
    pub fn new_customer(&mut self) -> String {
        format!("cus_{:08x}", self.rng.next_u64() as u32)
    }

    /// An idempotency key unique to this check run.
    pub fn new_key(&mut self) -> String {
        format!("key-{:012x}", self.rng.next_u64() & 0xffff_ffff_ffff)
    }

    /// A valid charge body for `customer` with a seed-chosen amount and currency.
    pub fn body_for(&mut self, customer: &str) -> ChargeBody {
        let amount = 100 + (self.rng.below(99_900) as i64);
        let currency = ["usd", "eur", "gbp"][self.rng.below(3) as usize];
        ChargeBody {
            customer_id: customer.to_owned(),
            amount,
            currency: currency.to_owned(),
        }
    }

    /// Kills the first instance with SIGKILL and restarts it on the same database; a
    /// service that does not come back fails the check.
    pub async fn restart_after_kill9(&mut self) -> Result<(), Problem> {
        restart_service(&mut self.svc).await
    }

    /// A client for spawned requests.
    pub fn client(&self) -> Client {
        Client {
            http: self.http.clone(),
            sent: self.sent.clone(),
            timeline: self.env.journal.timeline().clone(),
        }
    }

    /// `POST /charges` to the first instance.
    pub async fn post_charge(&self, key: Option<&str>, body: &ChargeBody) -> Exchange {
        self.client()
            .post_charge(&self.svc.url(), key, &body.json())
            .await
    }

    /// `GET /charges/{id}` on the first instance.
    pub async fn get_charge(&self, id: &str) -> Exchange {
        self.client()
            .get(&self.svc.url(), &format!("/charges/{id}"))
            .await
    }

    /// The `charges` rows for a customer, read from the database file.
    pub fn db_charges_for(&self, customer: &str) -> Result<Vec<DbCharge>, Problem> {
        read_db_charges(self.svc.db(), customer).map_err(|e| {
            let mut ev = Evidence::new();
            ev.say(format!(
                "The contract table `charges` could not be read from the service's database: {e}"
            ));
            Problem::Service(ev)
        })
    }

    /// Sends `body` under `key` until a 2xx, retrying 409, 5xx and lost responses as a
    /// well-behaved client does (up to `attempts`, 100 ms apart). Returns every exchange.
    pub async fn post_until_success(
        &self,
        key: &str,
        body: &ChargeBody,
        attempts: usize,
    ) -> Vec<Exchange> {
        self.post_retrying(key, body, attempts, None).await
    }

    /// Like [`ChargeWorld::post_until_success`] after a crash that cut the key's request
    /// off: the brief lets the key answer 409 for up to [`CRASH_RECOVERY`], so the client keeps retrying until then, counted from `back`
    /// (the instance is up again) plus [`RECOVERY_MARGIN`], at least `attempts` times.
    pub async fn post_until_success_after_crash(
        &self,
        key: &str,
        body: &ChargeBody,
        attempts: usize,
        back: Instant,
    ) -> Vec<Exchange> {
        let until = back + CRASH_RECOVERY + RECOVERY_MARGIN;
        self.post_retrying(key, body, attempts, Some(until)).await
    }

    /// Retries 409, 5xx and lost responses until a 2xx: at least `attempts` times 100 ms
    /// apart, then (with `until`) every 500 ms until that instant has passed.
    async fn post_retrying(
        &self,
        key: &str,
        body: &ChargeBody,
        attempts: usize,
        until: Option<Instant>,
    ) -> Vec<Exchange> {
        let mut exchanges = Vec::new();
        loop {
            let x = self.post_charge(Some(key), body).await;
            let retryable = !x.is_success()
                && (x.status.is_none() || x.status == Some(409) || x.status >= Some(500));
            exchanges.push(x);
            if !retryable {
                break;
            }
            let pause = if exchanges.len() < attempts {
                Duration::from_millis(100)
            } else if until.is_some_and(|u| Instant::now() < u) {
                Duration::from_millis(500)
            } else {
                break;
            };
            tokio::time::sleep(pause).await;
        }
        exchanges
    }

    /// Sends one request to `first`, holds it at the provider (before or after the
    /// provider charges, per `hold`), then sends the others (to their instances) while
    /// it is held; releases once each duplicate has either answered or is itself held
    /// at the provider (or `GRACE` passed, for fixes that make duplicates wait).
    /// Returns the first exchange, then the duplicates'.
    pub async fn burst_while_held(
        &self,
        targets: &[&RunningService],
        key: &str,
        body: &ChargeBody,
        hold: HoldPoint,
        story: &mut Evidence,
    ) -> Result<Vec<Exchange>, Problem> {
        const GRACE: Duration = Duration::from_millis(1500);
        let Some((first, rest)) = targets.split_first() else {
            return Ok(Vec::new());
        };
        self.provider.set_standing(Some(match hold {
            HoldPoint::BeforeCharge => ProviderFault::HoldUntilReleased,
            HoldPoint::AfterCharge => ProviderFault::CommitThenHold,
        }));
        let client = self.client();
        let (url, k, b) = (first.url(), key.to_owned(), body.json());
        let mut first_task =
            tokio::spawn(async move { client.post_charge(&url, Some(&k), &b).await });
        match self.first_held_or_answered(&mut first_task).await {
            HeldOrAnswered::Held => {}
            HeldOrAnswered::Answered(first) => {
                // Served without a provider call (e.g. a replay): nothing to hold, so
                // the duplicates simply follow it.
                self.provider.set_standing(None);
                let mut exchanges = vec![first];
                for target in rest {
                    exchanges.push(
                        self.client()
                            .post_charge(&target.url(), Some(key), &body.json())
                            .await,
                    );
                }
                return Ok(exchanges);
            }
            HeldOrAnswered::Neither => {
                self.provider.set_standing(None);
                self.provider.release_held();
                let x = join(first_task).await?;
                story.exchange(&x);
                story.say("The first request neither reached the payment provider nor was answered within 5 s.");
                return Err(Problem::Service(story.clone()));
            }
        }
        story.say(format!(
            "The provider is holding the first request's charge call ({}); now sending {} duplicate(s) with the same key.",
            match hold {
                HoldPoint::BeforeCharge => "before charging the card",
                HoldPoint::AfterCharge => "after charging the card, before answering",
            },
            rest.len()
        ));
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut dup_tasks = Vec::new();
        for target in rest {
            let client = self.client();
            let (url, k, b) = (target.url(), key.to_owned(), body.json());
            let done = done_tx.clone();
            dup_tasks.push(tokio::spawn(async move {
                let x = client.post_charge(&url, Some(&k), &b).await;
                let _ = done.send(());
                x
            }));
        }
        let deadline = tokio::time::Instant::now() + GRACE;
        let mut answered = 0;
        loop {
            let held_dups = self.provider.held().saturating_sub(1);
            if answered + held_dups >= rest.len() {
                break;
            }
            tokio::select! {
                Some(()) = done_rx.recv() => answered += 1,
                () = tokio::time::sleep_until(deadline) => break,
                // Re-check the held count as calls arrive.
                _ = self.provider.wait_for_held(2 + held_dups, Duration::from_millis(50)) => {}
            }
        }
        self.provider.set_standing(None);
        self.provider.release_held();
        let mut exchanges = vec![join(first_task).await?];
        for task in dup_tasks {
            exchanges.push(join(task).await?);
        }
        Ok(exchanges)
    }
}

/// Where the provider holds the first request of a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldPoint {
    /// Before it charges: duplicates find the original still in flight.
    BeforeCharge,
    /// After it charged, before it answers: duplicates find the charge made but the
    /// service not yet told.
    AfterCharge,
}

/// What a spawned request did first.
pub enum HeldOrAnswered {
    /// Its provider call is being held.
    Held,
    /// It was answered without a held provider call.
    Answered(Exchange),
    /// Neither within the time limit.
    Neither,
}

impl ChargeWorld {
    /// Waits until the provider holds a call or `task` is answered, whichever first.
    pub async fn first_held_or_answered(
        &self,
        task: &mut tokio::task::JoinHandle<Exchange>,
    ) -> HeldOrAnswered {
        tokio::select! {
            held = self.provider.wait_for_held(1, Duration::from_secs(5)) => {
                if held { HeldOrAnswered::Held } else { HeldOrAnswered::Neither }
            }
            answered = task => match answered {
                Ok(x) => HeldOrAnswered::Answered(x),
                Err(_) => HeldOrAnswered::Neither,
            },
        }
    }
}

/// A cheap, cloneable HTTP client for spawned requests.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    sent: crate::checks::journal::Sent,
    timeline: crate::checks::Timeline,
}

impl Client {
    /// `POST /charges` with a raw body.
    pub async fn post_charge(&self, base: &str, key: Option<&str>, body: &str) -> Exchange {
        let ticket = self.file(base, key, body);
        let mut headers = vec![("content-type", "application/json")];
        if let Some(key) = key {
            headers.push(("Idempotency-Key", key));
        }
        let x = send(
            &self.timeline,
            &self.http,
            reqwest::Method::POST,
            base,
            "/charges",
            &headers,
            Some(body.to_owned()),
        )
        .await;
        self.sent.answered(ticket, &x);
        x
    }

    /// `POST /charges` with explicit headers and body (for malformed requests).
    pub async fn post_raw(&self, base: &str, headers: &[(&str, &str)], body: &str) -> Exchange {
        let key = crate::checks::journal::key_header(headers);
        let ticket = self.file(base, key, body);
        let x = send(
            &self.timeline,
            &self.http,
            reqwest::Method::POST,
            base,
            "/charges",
            headers,
            Some(body.to_owned()),
        )
        .await;
        self.sent.answered(ticket, &x);
        x
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

    /// Files a request before it is sent, so the standing judges know every key a
    /// customer was charged under, also for a request whose answer never came. A
    /// request sent without this client (a raw socket) must be filed by hand.
    pub fn file(&self, base: &str, key: Option<&str>, body: &str) -> Ticket {
        self.sent.file(base, key, body)
    }
    /// Files that the client of the hand-sent request `ticket` hung up at `gone`, and
    /// that the harness let go of what the service waited on for it downstream at
    /// `released`.
    pub fn gave_up(
        &self,
        ticket: crate::checks::journal::Ticket,
        gone: impl Into<std::time::Instant>,
        released: impl Into<std::time::Instant>,
    ) {
        self.sent.gave_up(ticket, gone.into(), released.into());
    }
}

async fn join(task: tokio::task::JoinHandle<Exchange>) -> Result<Exchange, Problem> {
    task.await
        .map_err(|e| Problem::Harness(format!("request task failed: {e}")))
}

fn spec(
    env: &CheckEnv,
    provider: &PaymentProvider,
    env_vars: &[(String, String)],
    instance: usize,
) -> ServiceSpec {
    ServiceSpec {
        binary: env.binary.clone(),
        db: env.workdir.join("charge.db"),
        downstreams: vec![("payments".to_owned(), provider.url())],
        env: env_vars.to_vec(),
        log: env.workdir.join(format!("instance-{instance}.log")),
        stats: None,
        policy: env.policy.clone(),
        timeline: env.journal.timeline().clone(),
    }
}

fn read_db_charges(db: &std::path::Path, customer: &str) -> rusqlite::Result<Vec<DbCharge>> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut stmt = conn.prepare(
        "SELECT id, idempotency_key, amount, currency, status, provider_charge_id
           FROM charges WHERE customer_id = ?1 ORDER BY rowid",
    )?;
    let rows = stmt.query_map([customer], |r| {
        Ok(DbCharge {
            id: r.get(0)?,
            idempotency_key: r.get(1)?,
            amount: r.get(2)?,
            currency: r.get(3)?,
            status: r.get(4)?,
            provider_charge_id: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// "A customer must never be charged twice for one `Idempotency-Key`."
pub const NEVER_CHARGED_TWICE: &str = "never-charged-twice";
/// "every provider charge must match exactly one of our charges"
pub const PROVIDER_CHARGES_IN_TABLE: &str = "provider-charges-in-table";
/// "once a retry succeeds, every success for that key returns the same charge."
pub const SAME_CHARGE: &str = "same-charge-per-key";
/// "`409` is for a request that is really still in flight, …"
pub const NO_409_WITHOUT_REQUEST: &str = "409-only-while-in-flight";
/// "A different body under a key that already has a charge recorded, in any status (a
/// request under it succeeded, failed or was cut off), gets `422` and changes nothing"
pub const DIFFERENT_BODY_REFUSED: &str = "different-body-refused";
/// Every standing requirement this world judges when its check ends.
pub const STANDING: &[&str] = &[
    NEVER_CHARGED_TWICE,
    PROVIDER_CHARGES_IN_TABLE,
    SAME_CHARGE,
    NO_409_WITHOUT_REQUEST,
    DIFFERENT_BODY_REFUSED,
];

/// The requirements that hold on any history, whatever became of each request: from
/// every `(key, body)` sent, the provider's charges and the `charges` rows of each
/// customer sent. A customer is charged at most once per key it was sent under (a
/// request without a key counts as a key of its own, so no reading of a refused
/// request can make a right fix fail); every provider charge of such a customer is
/// found in the table — by its provider id, or else by amount and currency on a row
/// not yet settled, as finance matches a cut-off request — and every `succeeded` row
/// names a charge the provider made, no two rows the same one.
pub fn judge_standing(
    sent: &[(Option<String>, String)],
    charges: &[crate::fakes::ProviderCharge],
    rows: &std::collections::BTreeMap<String, Vec<DbCharge>>,
) -> Vec<(&'static str, Vec<String>)> {
    use std::collections::BTreeMap;
    let keys = crate::checks::journal::charges_allowed(sent);
    let mut twice = Vec::new();
    let mut unmatched = Vec::new();
    for (customer, (with_key, allowed)) in &keys {
        let charged: Vec<&crate::fakes::ProviderCharge> =
            charges.iter().filter(|c| &c.customer == customer).collect();
        let allowed = *allowed;
        if charged.len() > allowed {
            twice.push(format!(
                "{customer} was charged {} times ({}) but was sent under {} idempotency key(s) ({}).",
                charged.len(),
                charged
                    .iter()
                    .map(|c| format!("{} for {} {}", c.id, c.amount, c.currency))
                    .collect::<Vec<_>>()
                    .join(", "),
                allowed,
                with_key.join(", ")
            ));
        }
        let mut pool: Vec<&DbCharge> = rows
            .get(customer)
            .map_or(Vec::new(), |r| r.iter().collect());
        let mut left = Vec::new();
        for c in &charged {
            match pool
                .iter()
                .position(|r| r.provider_charge_id.as_deref() == Some(&c.id))
            {
                Some(i) => {
                    pool.remove(i);
                }
                None => left.push(*c),
            }
        }
        for c in left {
            match pool.iter().position(|r| {
                r.provider_charge_id.is_none() && r.amount == c.amount && r.currency == c.currency
            }) {
                Some(i) => {
                    pool.remove(i);
                }
                None => unmatched.push(format!(
                    "Provider charge {} ({} {} for {customer}) matches no row of `charges`: finance cannot find it.",
                    c.id, c.amount, c.currency
                )),
            }
        }
        let mut claimed: BTreeMap<&str, usize> = BTreeMap::new();
        for r in rows.get(customer).into_iter().flatten() {
            if r.status != "succeeded" {
                continue;
            }
            match r.provider_charge_id.as_deref() {
                Some(id) if charged.iter().any(|c| c.id == id) => {
                    *claimed.entry(id).or_default() += 1;
                }
                other => unmatched.push(format!(
                    "Row {} of `charges` ({customer}) is `succeeded` with provider charge {other:?}, which the provider never made for this customer.",
                    r.id
                )),
            }
        }
        for (id, n) in claimed {
            if n > 1 {
                unmatched.push(format!(
                    "{n} `succeeded` rows of `charges` ({customer}) name the one provider charge {id}."
                ));
            }
        }
    }
    vec![
        (NEVER_CHARGED_TWICE, twice),
        (PROVIDER_CHARGES_IN_TABLE, unmatched),
    ]
}

/// [`judge_standing`] on the `charges` rows of `db` for every customer in `sent`; an
/// error if the table cannot be read (the check's own failure to report, not a finding).
pub fn judge_standing_on(
    db: &std::path::Path,
    provider: &PaymentProvider,
    sent: &[(Option<String>, String)],
) -> rusqlite::Result<Vec<(&'static str, Vec<String>)>> {
    let mut rows = std::collections::BTreeMap::new();
    for customer in sent.iter().filter_map(|(_, body)| customer_of(body)) {
        if let std::collections::btree_map::Entry::Vacant(slot) = rows.entry(customer) {
            let found = read_db_charges(db, slot.key())?;
            slot.insert(found);
        }
    }
    Ok(judge_standing(sent, &provider.charges(), &rows))
}

/// The `customer_id` of a request body, when it has one.
fn customer_of(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(value.get("customer_id")?.as_str()?.to_owned())
}

impl Drop for ChargeWorld {
    /// Holds this check's history to the standing requirements, whatever the check
    /// was about. A database the harness cannot read is the check's own failure to
    /// report, not a finding.
    fn drop(&mut self) {
        crate::checks::journal::blocking(|| {
            let sent = self.sent.all();
            if sent.is_empty() {
                return;
            }
            self.env.journal.observed(designs::provider_observations(
                &sent,
                &self.provider.calls(),
            ));
            let Ok(judged) = judge_standing_on(self.svc.db(), &self.provider, &sent) else {
                return;
            };
            for (requirement, broken) in judged {
                self.env.journal.judged(requirement, broken);
            }
            self.env.journal.judged(
                SAME_CHARGE,
                crate::checks::journal::different_successes(&self.sent.successes(), "charge"),
            );
            // A charge is certainly recorded once a request under its key succeeded or
            // failed at the provider (502); one cut off, or failed for the database, may
            // have recorded nothing.
            self.env.journal.judged(
                DIFFERENT_BODY_REFUSED,
                crate::checks::key_reuse::different_body_accepted(
                    &self.sent.attempts(),
                    |e| {
                        e.status
                            .is_some_and(|s| (200..300).contains(&s) || s == 502)
                    },
                    "a charge",
                ),
            );
            self.env.journal.judged(
                NO_409_WITHOUT_REQUEST,
                crate::checks::in_use::answered_in_use_with_none_in_flight(
                    &self.sent.attempts(),
                    &self.env.journal.timeline().ends(),
                    &crate::checks::in_use::Allowance {
                        recovery: CRASH_RECOVERY + RECOVERY_MARGIN,
                        in_flight_downstream: self.provider.in_use_answers(),
                        ..Default::default()
                    },
                ),
            );
        });
    }
}

/// Compares what the client saw for one idempotency key with ground truth — the
/// provider's charges and the service's `charges` rows for the key's customer — and
/// returns each broken invariant in plain words. Tells the story into `story`.
pub fn judge_one_key(
    world: &ChargeWorld,
    body: &ChargeBody,
    answers: &[Exchange],
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    judge_one_key_on(&world.provider, world.svc.db(), body, answers, story)
}

/// [`judge_one_key`] against any provider and database file (e.g. a database two
/// versions of the service have served in turn).
pub fn judge_one_key_on(
    provider: &PaymentProvider,
    db: &std::path::Path,
    body: &ChargeBody,
    answers: &[Exchange],
    story: &mut Evidence,
) -> Result<Vec<String>, Problem> {
    let customer = &body.customer_id;
    let charged = provider.charges_for(customer);
    let rows = match read_db_charges(db, customer).map_err(|e| {
        let mut ev = Evidence::new();
        ev.say(format!(
            "The contract table `charges` could not be read from the service's database: {e}"
        ));
        Problem::Service(ev)
    }) {
        Ok(rows) => rows,
        // Keep what the client saw: it usually says why the table is not there.
        Err(Problem::Service(unreadable)) => {
            let mut ev = Evidence::new();
            for x in answers {
                ev.exchange(x);
            }
            for line in unreadable.into_lines() {
                ev.push(line);
            }
            return Err(Problem::Service(ev));
        }
        Err(other) => return Err(other),
    };
    story.say(format!(
        "The provider holds {} charge(s) for {customer}{}",
        charged.len(),
        list(charged.iter().map(|c| format!(
            "{} ({} {}, provider key {})",
            c.id,
            c.amount,
            c.currency,
            c.idempotency_key.as_deref().unwrap_or("none")
        )))
    ));
    story.say(format!(
        "The service's `charges` table holds {} row(s) for {customer}{}",
        rows.len(),
        list(rows.iter().map(|r| format!(
            "{} status={} provider_charge_id={}",
            r.id,
            r.status,
            r.provider_charge_id.as_deref().unwrap_or("NULL")
        )))
    ));

    let mut broken = Vec::new();
    if charged.len() > 1 {
        broken.push(format!(
            "The customer was charged {} times for one idempotency key.",
            charged.len()
        ));
    }
    let successes: Vec<&Exchange> = answers.iter().filter(|x| x.is_success()).collect();
    let mut ids: Vec<&str> = successes.iter().filter_map(|x| x.str_field("id")).collect();
    ids.dedup();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > 1 {
        broken.push(format!(
            "2xx responses for one key returned {} different charges: {}.",
            ids.len(),
            ids.join(", ")
        ));
    }
    for x in &successes {
        if x.str_field("customer_id") != Some(customer.as_str())
            || x.i64_field("amount") != Some(body.amount)
            || x.str_field("currency") != Some(body.currency.as_str())
        {
            broken.push(format!(
                "A 2xx response does not describe the charge requested ({} {} for {customer}): {}",
                body.amount, body.currency, x
            ));
            break;
        }
    }
    if !successes.is_empty() {
        if charged.is_empty() {
            broken.push("A 2xx was returned but the provider never charged the customer.".into());
        }
        let succeeded: Vec<&DbCharge> = rows.iter().filter(|r| r.status == "succeeded").collect();
        if succeeded.len() != 1 {
            broken.push(format!(
                "After a 2xx the service should hold exactly one succeeded charge for the key; it holds {}.",
                succeeded.len()
            ));
        }
        if let [only] = charged.as_slice() {
            let referenced = succeeded
                .iter()
                .any(|r| r.provider_charge_id.as_deref() == Some(only.id.as_str()));
            if !referenced {
                broken.push(format!(
                    "The provider's charge {} is not the one the service recorded as succeeded.",
                    only.id
                ));
            }
            if let Some(x) = successes
                .iter()
                .find(|x| x.str_field("provider_charge_id") != Some(only.id.as_str()))
            {
                broken.push(format!(
                    "A 2xx response names provider charge {:?}, the provider made {}.",
                    x.str_field("provider_charge_id"),
                    only.id
                ));
            }
        }
    }
    Ok(broken)
}

fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        ".".to_owned()
    } else {
        format!(": {}.", items.join("; "))
    }
}

/// The standing judges on synthetic histories, each the history a kind of wrong fix
/// leaves: judged without a service, since the judge is the product.
#[cfg(test)]
mod standing_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::fakes::ProviderCharge;

    fn sent(key: &str, customer: &str) -> (Option<String>, String) {
        (
            Some(key.to_owned()),
            format!(r#"{{"customer_id":"{customer}","amount":500,"currency":"usd"}}"#),
        )
    }

    fn charge(id: &str, customer: &str) -> ProviderCharge {
        ProviderCharge {
            id: id.to_owned(),
            customer: customer.to_owned(),
            amount: 500,
            currency: "usd".to_owned(),
            idempotency_key: None,
        }
    }

    fn row(id: &str, status: &str, provider: Option<&str>) -> DbCharge {
        DbCharge {
            id: id.to_owned(),
            idempotency_key: "k1".to_owned(),
            amount: 500,
            currency: "usd".to_owned(),
            status: status.to_owned(),
            provider_charge_id: provider.map(str::to_owned),
        }
    }

    fn broken(
        sent: &[(Option<String>, String)],
        charges: &[ProviderCharge],
        rows: &[(&str, Vec<DbCharge>)],
    ) -> BTreeMap<&'static str, Vec<String>> {
        let rows = rows
            .iter()
            .map(|(c, r)| ((*c).to_owned(), r.clone()))
            .collect();
        judge_standing(sent, charges, &rows).into_iter().collect()
    }

    #[test]
    fn a_retried_key_charged_once_and_recorded_breaks_nothing() {
        let b = broken(
            &[sent("k1", "cus_a"), sent("k1", "cus_a")],
            &[charge("pch_1", "cus_a")],
            &[("cus_a", vec![row("ch_1", "succeeded", Some("pch_1"))])],
        );
        assert!(b.values().all(Vec::is_empty), "{b:?}");
    }

    #[test]
    fn a_duplicate_charged_again_breaks_never_charged_twice() {
        // Two instances each charged the retry under a fresh provider key.
        let b = broken(
            &[sent("k1", "cus_a"), sent("k1", "cus_a")],
            &[charge("pch_1", "cus_a"), charge("pch_2", "cus_a")],
            &[(
                "cus_a",
                vec![
                    row("ch_1", "succeeded", Some("pch_1")),
                    row("ch_2", "succeeded", Some("pch_2")),
                ],
            )],
        );
        assert_eq!(b[NEVER_CHARGED_TWICE].len(), 1, "{b:?}");
        assert!(b[NEVER_CHARGED_TWICE][0].contains("charged 2 times"));
        // Two keys for one customer allow two charges.
        let b = broken(
            &[sent("k1", "cus_a"), sent("k2", "cus_a")],
            &[charge("pch_1", "cus_a"), charge("pch_2", "cus_a")],
            &[],
        );
        assert!(b[NEVER_CHARGED_TWICE].is_empty(), "{b:?}");
    }

    #[test]
    fn a_charge_made_before_its_row_is_lost_when_the_request_dies() {
        // Charge first, insert after: killed in between, the charge has no row.
        let b = broken(
            &[sent("k1", "cus_a")],
            &[charge("pch_1", "cus_a")],
            &[("cus_a", vec![])],
        );
        assert!(
            b[PROVIDER_CHARGES_IN_TABLE][0].contains("matches no row"),
            "{b:?}"
        );
        // A pending row written before the call is what finance matches it by.
        let b = broken(
            &[sent("k1", "cus_a")],
            &[charge("pch_1", "cus_a")],
            &[("cus_a", vec![row("ch_1", "pending", None)])],
        );
        assert!(b[PROVIDER_CHARGES_IN_TABLE].is_empty(), "{b:?}");
    }

    #[test]
    fn a_succeeded_row_must_name_a_charge_the_provider_made_and_only_once() {
        let b = broken(
            &[sent("k1", "cus_a")],
            &[charge("pch_1", "cus_a")],
            &[(
                "cus_a",
                vec![
                    row("ch_1", "succeeded", Some("pch_1")),
                    row("ch_2", "succeeded", Some("pch_1")),
                    row("ch_3", "succeeded", Some("pch_9")),
                ],
            )],
        );
        let lines = &b[PROVIDER_CHARGES_IN_TABLE];
        assert!(lines.iter().any(|l| l.contains("never made")), "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("name the one provider charge pch_1")),
            "{lines:?}"
        );
    }
}
