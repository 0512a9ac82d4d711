//! `CheckoutWorld`: a checkout service wired to the fake payment provider and the fake
//! shipping-rates service, the catalogue the harness stocked itself, and the judge every
//! checkout check shares.
//!
//! The brief lets the inventory system write `products` directly, so the harness stocks
//! the catalogue itself and knows how much of every SKU exists. Every request goes
//! through [`CheckoutWorld::record`], filed under its idempotency key; each key has its
//! own customer, so the provider's records say exactly what was charged for it. The
//! judge holds the database and the provider to what the answers claimed: a key with a
//! 2xx has one paid order, whole, matching the cart, charged once for its total; a key
//! refused with a 4xx left nothing; a key whose outcome is unknown (5xx, no answer) has
//! its order whole or nothing at all; no charge lacks its order; and every unit of stock
//! is on a shelf or held by a live order.

use harness_core::report::designs;
use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;
use serde_json::{Value, json};

use crate::checks::http::{Exchange, send, send_within};
use crate::checks::{CheckEnv, Evidence, Problem, restart_service, start_service};
use crate::fakes::{ArmedLog, PaymentProvider, ProviderCharge, ShippingRates, WriteFaults};
use crate::seed::SeedRng;
use crate::service::{RunningService, ServiceSpec};
use tokio::time::Instant;

/// The brief's budget for `POST /checkout` whatever shipping-rates does.
pub const BUDGET: Duration = Duration::from_secs(2);
/// What the harness allows on a loaded machine before calling the budget missed.
pub const BUDGET_ALLOWED: Duration = Duration::from_millis(2500);
/// How soon after a crash, or a failure the service could not record (its writes
/// failed), the brief requires a retry to be able to complete the checkout: a key whose
/// request died may answer 409 for at most this long.
pub const CRASH_RECOVERY: Duration = Duration::from_secs(5);
/// What the harness allows on top of [`CRASH_RECOVERY`] on a loaded machine.
pub const RECOVERY_MARGIN: Duration = Duration::from_secs(1);
/// The brief's cap on an order's total, in cents.
pub const MAX_TOTAL: i64 = 500_000;
/// Statuses of an order that will never be paid and holds no stock.
const DEAD_STATUSES: &[&str] = &["failed", "cancelled"];

/// A product the harness put in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub sku: String,
    pub price: i64,
    pub weight_grams: i64,
    /// Units the inventory system put in.
    pub stock: i64,
}

/// One line of a cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub sku: String,
    pub quantity: i64,
}

/// A shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// A valid cart: the body of `POST /checkout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cart {
    pub customer_id: String,
    pub payment_method: String,
    pub lines: Vec<Line>,
    pub shipping_address: Address,
}

impl Cart {
    /// The body as a JSON value (for checks that break one field of it).
    pub fn value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The body as JSON text.
    pub fn json(&self) -> String {
        self.value().to_string()
    }
}

impl std::fmt::Display for Cart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| format!("{}×{}", l.quantity, l.sku))
            .collect();
        write!(
            f,
            "{} for {} to {}",
            lines.join(" + "),
            self.customer_id,
            self.shipping_address.country
        )
    }
}

/// What the harness computes a valid cart must cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub subtotal: i64,
    pub shipping: i64,
    pub total: i64,
}

/// An `orders` row with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbOrder {
    pub id: String,
    pub key: String,
    pub customer_id: String,
    pub status: String,
    pub subtotal: i64,
    pub shipping: i64,
    pub total: i64,
    pub provider_charge_id: Option<String>,
    /// `(sku, quantity, unit_price)`, sorted.
    pub lines: Vec<(String, i64, i64)>,
}

impl DbOrder {
    /// Whether the order holds its stock (anything but failed or cancelled).
    pub fn is_live(&self) -> bool {
        !DEAD_STATUSES.contains(&self.status.as_str())
    }
}

/// The contract tables, read in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Shop {
    /// Stock on the shelf per SKU.
    pub stock: BTreeMap<String, i64>,
    /// Orders by id.
    pub orders: BTreeMap<String, DbOrder>,
    /// Lines naming an order that does not exist: `(order id, sku)`.
    pub orphan_lines: Vec<(String, String)>,
}

/// Everything sent under one idempotency key.
#[derive(Debug, Clone)]
struct KeyRecord {
    /// The cart the key was first used with (a valid cart, or a bad one by design).
    body: Value,
    /// Whether the harness built the first body as a valid cart it expects to succeed.
    cart: Option<Cart>,
    /// Every answer: `(body sent was the key's first body, status or None)`.
    answers: Vec<(bool, Option<u16>, Option<String>)>,
}

/// A checkout service instance, its fakes, and the harness's records.
pub struct CheckoutWorld {
    /// The fake payment provider.
    pub provider: PaymentProvider,
    /// The fake shipping-rates service.
    pub shipping: ShippingRates,
    /// The first service instance.
    pub svc: RunningService,
    env: CheckEnv,
    http: reqwest::Client,
    rng: SeedRng,
    instances: usize,
    catalogue: BTreeMap<String, Product>,
    keys: BTreeMap<String, KeyRecord>,
    counter: u64,
    sent: crate::checks::journal::Sent,
    /// When the check made the service's writes fail (see [`ArmedLog`]).
    armed: ArmedLog,
    /// The fix's build while the world runs production's ([`CheckoutWorld::deploy_fix`]).
    fix: Option<std::path::PathBuf>,
    /// Production's build served part of this history: its calls say nothing about the
    /// fix's design.
    ran_production: bool,
    /// Keys production's build wrote outside the world's records (its double-submit).
    production_keys: std::collections::BTreeSet<String>,
}

impl CheckoutWorld {
    /// The check's timeline, for requests a check sends without a world's client.
    pub fn timeline(&self) -> &crate::checks::Timeline {
        self.env.journal.timeline()
    }

    /// Starts the fakes and one service instance on a fresh database.
    pub async fn start(env: CheckEnv) -> Result<CheckoutWorld, Problem> {
        let provider = PaymentProvider::start().await?;
        let shipping = ShippingRates::start().await?;
        provider.record_into(env.journal.timeline());
        shipping.record_into(env.journal.timeline());
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| Problem::Harness(format!("http client: {e}")))?;
        let rng = SeedRng::new(env.seed);
        let svc = start_service(&spec(&env, &provider, &shipping, 1)).await?;
        Ok(CheckoutWorld {
            provider,
            shipping,
            svc,
            env,
            http,
            rng,
            instances: 1,
            catalogue: BTreeMap::new(),
            keys: BTreeMap::new(),
            counter: 0,
            sent: Default::default(),
            armed: ArmedLog::default(),
            fix: None,
            ran_production: false,
            production_keys: Default::default(),
        })
    }

    /// Starts a world whose service is production's build (`env.pristine`) instead of
    /// the fix: the version the database was created and filled by. `None` when the
    /// grade handed no production build to this check.
    pub async fn start_as_production(env: CheckEnv) -> Result<Option<CheckoutWorld>, Problem> {
        let Some(pristine) = env.pristine.clone() else {
            return Ok(None);
        };
        let fix = env.binary.clone();
        let mut production = env;
        production.binary = pristine;
        let mut w = CheckoutWorld::start(production).await?;
        w.fix = Some(fix);
        w.ran_production = true;
        Ok(Some(w))
    }

    /// Files `key` as one production's build wrote from requests sent outside the
    /// world's records: its orders are not the fix's, and not judged as unknown keys.
    pub fn production_wrote(&mut self, key: &str) {
        self.production_keys.insert(key.to_owned());
    }

    /// Deploys the fix: stops production's build (SIGTERM) and starts the fix on the
    /// same database, as a rolling deploy's last step does.
    pub async fn deploy_fix(&mut self) -> Result<(), Problem> {
        let Some(fix) = self.fix.take() else {
            return Err(Problem::Harness(
                "no production build to deploy over".to_owned(),
            ));
        };
        self.svc.stop().await;
        self.env.binary = fix;
        self.instances += 1;
        self.svc = start_service(&spec(
            &self.env,
            &self.provider,
            &self.shipping,
            self.instances,
        ))
        .await?;
        Ok(())
    }

    /// Starts another instance on the same database (scale-out).
    pub async fn start_another_instance(&mut self) -> Result<RunningService, Problem> {
        self.instances += 1;
        start_service(&spec(
            &self.env,
            &self.provider,
            &self.shipping,
            self.instances,
        ))
        .await
    }

    /// The check's seed-derived random source.
    pub fn rng(&mut self) -> &mut SeedRng {
        &mut self.rng
    }

    /// The service's database file.
    pub fn db(&self) -> &std::path::Path {
        self.svc.db()
    }

    /// A fresh number, unique within this check run.
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Stocks `n` new products the way the inventory system does (straight into
    /// `products`), each with `stock` units at a seed-chosen price (199 to 4,999 cents)
    /// and weight (50 to 2,000 g). Returns their SKUs.
    pub fn stock_products(&mut self, n: usize, stock: i64) -> Result<Vec<String>, Problem> {
        let products: Vec<(i64, i64)> = (0..n)
            .map(|_| {
                (
                    199 + self.rng.below(4_801) as i64,
                    50 + self.rng.below(1_951) as i64,
                )
            })
            .collect();
        self.insert_products(&products, stock)
    }

    /// Stocks one product at this price and weight; returns its SKU.
    pub fn stock_priced(
        &mut self,
        price: i64,
        weight_grams: i64,
        stock: i64,
    ) -> Result<String, Problem> {
        let mut skus = self.insert_products(&[(price, weight_grams)], stock)?;
        skus.pop()
            .ok_or_else(|| Problem::Harness("no product was stocked".to_owned()))
    }

    /// Inserts `(price, weight)` products with `stock` units each, in one transaction.
    fn insert_products(
        &mut self,
        specs: &[(i64, i64)],
        stock: i64,
    ) -> Result<Vec<String>, Problem> {
        let tag = self.rng.next_u64() as u16;
        let products: Vec<Product> = specs
            .iter()
            .map(|&(price, weight_grams)| Product {
                sku: format!("SKU-{tag:04x}-{}", self.next()),
                price,
                weight_grams,
                stock,
            })
            .collect();
        let write = || -> rusqlite::Result<()> {
            let mut conn = open(self.db(), false)?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for p in &products {
                tx.execute(
                    "INSERT INTO products (sku, name, price, weight_grams, stock)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        p.sku,
                        format!("Product {}", p.sku),
                        p.price,
                        p.weight_grams,
                        p.stock
                    ],
                )?;
            }
            tx.commit()
        };
        write().map_err(|e| contract_tables(&format!("could not stock products: {e}")))?;
        let skus = products.iter().map(|p| p.sku.clone()).collect();
        for p in products {
            self.catalogue.insert(p.sku.clone(), p);
        }
        Ok(skus)
    }

    /// A product the harness stocked.
    pub fn product(&self, sku: &str) -> Option<&Product> {
        self.catalogue.get(sku)
    }

    /// A fresh idempotency key.
    pub fn new_key(&mut self) -> String {
        let n = self.next();
        format!("chk-{:06x}-{n}", self.env.seed & 0xff_ff_ff)
    }

    /// A valid cart for a fresh customer: `lines` of `(sku, quantity)`, shipped to a
    /// seed-chosen country the service must serve.
    pub fn cart(&mut self, lines: &[(&str, i64)]) -> Cart {
        let n = self.next();
        let country = ShippingRates::COUNTRIES
            [self.rng.below(ShippingRates::COUNTRIES.len() as u64) as usize];
        Cart {
            customer_id: format!("cus_{:06x}_{n}", self.env.seed & 0xff_ff_ff),
            payment_method: "pm_card_visa".to_owned(),
            lines: lines
                .iter()
                .map(|(sku, quantity)| Line {
                    sku: (*sku).to_owned(),
                    quantity: *quantity,
                })
                .collect(),
            shipping_address: Address {
                name: "Ada Lovelace".to_owned(),
                line1: format!("{n} Analytical Row"),
                line2: None,
                city: "Springfield".to_owned(),
                postal_code: "94107".to_owned(),
                country: country.to_owned(),
            },
        }
    }

    /// What a valid cart costs: items at the catalogue's prices plus the shipping rate for
    /// its weight and destination.
    pub fn price(&self, cart: &Cart) -> Price {
        let mut subtotal = 0i64;
        let mut weight = 0i64;
        for line in &cart.lines {
            if let Some(p) = self.catalogue.get(&line.sku) {
                subtotal = subtotal.saturating_add(p.price.saturating_mul(line.quantity));
                weight = weight.saturating_add(p.weight_grams.saturating_mul(line.quantity));
            }
        }
        let shipping = ShippingRates::rate(&cart.shipping_address.country, weight).unwrap_or(0);
        Price {
            subtotal,
            shipping,
            total: subtotal.saturating_add(shipping),
        }
    }

    /// A client for spawned requests.
    pub fn client(&self) -> Client {
        Client {
            http: self.http.clone(),
            sent: self.sent.clone(),
            timeline: self.env.journal.timeline().clone(),
        }
    }

    /// `POST /checkout` of a valid cart to the first instance, recorded.
    pub async fn checkout(&mut self, key: &str, cart: &Cart) -> Exchange {
        let x = self
            .client()
            .checkout(&self.svc.url(), key, &cart.json())
            .await;
        self.record(key, Some(cart), &cart.value(), &x);
        x
    }

    /// `POST /checkout` of any JSON body (a bad cart, by design) to the first instance,
    /// recorded; refused answers must leave nothing behind.
    pub async fn checkout_raw(&mut self, key: &str, body: &Value) -> Exchange {
        let x = self
            .client()
            .checkout(&self.svc.url(), key, &body.to_string())
            .await;
        self.record(key, None, body, &x);
        x
    }

    /// Retries a valid cart under `key` until it is answered 2xx, as the brief's
    /// clients do (409 and 5xx and no answer are retried), at most `attempts` times
    /// 150 ms apart.
    pub async fn checkout_until_done(
        &mut self,
        key: &str,
        cart: &Cart,
        attempts: usize,
        story: &mut Evidence,
    ) -> Exchange {
        self.checkout_retrying(key, cart, attempts, Duration::from_millis(150), story)
            .await
    }

    /// Like [`CheckoutWorld::checkout_until_done`] after a crash or a failure the
    /// service could not record: the brief lets the key answer 409 for up to
    /// [`CRASH_RECOVERY`], so the client keeps retrying (every 500 ms
    /// once `attempts` are used up) until then, counted from `since` (the instance is up
    /// again, or the failed request was answered) plus [`RECOVERY_MARGIN`].
    pub async fn checkout_until_recovered(
        &mut self,
        key: &str,
        cart: &Cart,
        attempts: usize,
        since: Instant,
        story: &mut Evidence,
    ) -> Exchange {
        let until = since + CRASH_RECOVERY + RECOVERY_MARGIN;
        self.checkout_retrying_until(
            key,
            cart,
            attempts,
            Duration::from_millis(150),
            Some(until),
            story,
        )
        .await
    }

    /// Like [`CheckoutWorld::checkout_until_done`], `pause` apart.
    pub async fn checkout_retrying(
        &mut self,
        key: &str,
        cart: &Cart,
        attempts: usize,
        pause: Duration,
        story: &mut Evidence,
    ) -> Exchange {
        self.checkout_retrying_until(key, cart, attempts, pause, None, story)
            .await
    }

    /// Retries while the answer is 409, 5xx or none: at least `attempts` times `pause`
    /// apart, then (with `until`) every 500 ms until that instant has passed.
    async fn checkout_retrying_until(
        &mut self,
        key: &str,
        cart: &Cart,
        attempts: usize,
        pause: Duration,
        until: Option<Instant>,
        story: &mut Evidence,
    ) -> Exchange {
        let mut x = self.checkout(key, cart).await;
        story.exchange(&x);
        let mut sent = 1;
        while matches!(x.status, None | Some(409) | Some(500..=599)) {
            let wait = if sent < attempts {
                pause
            } else if until.is_some_and(|u| Instant::now() < u) {
                pause.max(Duration::from_millis(500))
            } else {
                break;
            };
            tokio::time::sleep(wait).await;
            x = self.checkout(key, cart).await;
            story.exchange(&x);
            sent += 1;
        }
        x
    }

    /// Files an answer under its key for the judge. `cart` is the valid cart sent, if
    /// the body was one.
    pub fn record(&mut self, key: &str, cart: Option<&Cart>, body: &Value, x: &Exchange) {
        let order_id = x
            .is_success()
            .then(|| x.str_field("id").unwrap_or_default().to_owned());
        let record = self
            .keys
            .entry(key.to_owned())
            .or_insert_with(|| KeyRecord {
                body: body.clone(),
                cart: cart.cloned(),
                answers: Vec::new(),
            });
        let first_body = record.body == *body;
        record.answers.push((first_body, x.status, order_id));
    }

    /// A GET request to the first instance.
    pub async fn get(&self, path: &str) -> Exchange {
        self.client().get(&self.svc.url(), path).await
    }

    /// Reads the contract tables in one snapshot.
    pub fn shop(&self) -> Result<Shop, Problem> {
        read_shop(self.db()).map_err(|e| contract_tables(&e.to_string()))
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

    /// Kills the first instance with SIGKILL and restarts it on the same database; a
    /// service that does not come back fails the check.
    pub async fn restart_after_kill9(&mut self) -> Result<(), Problem> {
        restart_service(&mut self.svc).await
    }

    /// Judges the database and the provider against everything sent so far; returns
    /// each broken requirement in plain words.
    pub fn judge(&self) -> Result<Vec<String>, Problem> {
        self.judge_scope(Scope::All)
    }

    /// Checks a 2xx answer's body against the cart: the order's id, status, lines and
    /// money as the brief's order JSON gives them.
    pub fn judge_answer(&self, cart: &Cart, x: &Exchange) -> Vec<String> {
        let mut broken = Vec::new();
        if !x.is_success() {
            return broken;
        }
        let want = self.price(cart);
        let got = (
            x.i64_field("subtotal"),
            x.i64_field("shipping"),
            x.i64_field("total"),
        );
        if got != (Some(want.subtotal), Some(want.shipping), Some(want.total)) {
            broken.push(format!(
                "The order for {cart} was answered with subtotal/shipping/total {:?}/{:?}/{:?}; the catalogue prices and the shipping rate make {}/{}/{}.",
                got.0, got.1, got.2, want.subtotal, want.shipping, want.total
            ));
        }
        if x.str_field("status") != Some("paid") {
            broken.push(format!(
                "A successful checkout answered status {:?}; the brief's order is `paid` once created.",
                x.str_field("status")
            ));
        }
        if x.str_field("id").is_none_or(str::is_empty) {
            broken.push("A successful checkout answered no order `id`.".to_owned());
        }
        broken
    }
}

/// Which requirements a judgement covers. Each check judges only the requirement it
/// tests, so a submission that meets some of the brief's requirements and not others is
/// credited exactly for those it meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Charges and orders per key: at most one charge and one live order per key, every
    /// success the same paid order charged for its total, a reused key refused, a
    /// refused key uncharged, no charge without an order.
    Charges,
    /// Stock and order wholeness: every unit on the shelf or held by a live order, live
    /// orders whole and matching their carts, refused keys holding nothing, every order
    /// answered 2xx present. (Every scope also requires a cut-off request's charge to
    /// belong to a live order.)
    Stock,
    /// Both.
    All,
}

impl Scope {
    fn charges(self) -> bool {
        matches!(self, Scope::Charges | Scope::All)
    }

    fn stock(self) -> bool {
        matches!(self, Scope::Stock | Scope::All)
    }
}

impl CheckoutWorld {
    /// Judges the database and the provider against everything sent so far, within
    /// `scope`; returns each broken requirement in plain words.
    pub fn judge_scope(&self, scope: Scope) -> Result<Vec<String>, Problem> {
        let shop = self.shop()?;
        let charges = self.provider.charges();
        let mut broken = Vec::new();
        if scope.stock() {
            judge_stock(self, &shop, &mut broken);
        }
        for (key, record) in &self.keys {
            let k = KeyView::new(self, &shop, &charges, key, record);
            if scope.charges() {
                k.judge_charges(&mut broken);
            }
            if scope.stock() {
                k.judge_orders(self, &mut broken);
            }
            k.judge_orphan_charge(&mut broken);
        }
        Ok(broken)
    }

    /// Judges only `keys` (their charges and orders, within `scope`), not the shared
    /// stock: a property case judges its own cart, whatever earlier cases left.
    pub fn judge_keys(&self, scope: Scope, keys: &[&str]) -> Result<Vec<String>, Problem> {
        let shop = self.shop()?;
        let charges = self.provider.charges();
        let mut broken = Vec::new();
        for key in keys {
            let Some(record) = self.keys.get(*key) else {
                continue;
            };
            let k = KeyView::new(self, &shop, &charges, key, record);
            if scope.charges() {
                k.judge_charges(&mut broken);
            }
            if scope.stock() {
                k.judge_orders(self, &mut broken);
            }
            k.judge_orphan_charge(&mut broken);
        }
        Ok(broken)
    }

    /// Per SKU the harness stocked: `(on the shelf, held by live orders)`.
    pub fn stock_ledger(&self) -> Result<BTreeMap<String, (i64, i64)>, Problem> {
        let shop = self.shop()?;
        let mut ledger: BTreeMap<String, (i64, i64)> = self
            .catalogue
            .keys()
            .map(|sku| (sku.clone(), (shop.stock.get(sku).copied().unwrap_or(0), 0)))
            .collect();
        for order in shop.orders.values().filter(|o| o.is_live()) {
            for (sku, quantity, _) in &order.lines {
                if let Some(entry) = ledger.get_mut(sku) {
                    entry.1 += quantity;
                }
            }
        }
        Ok(ledger)
    }

    /// What is left of `key` in the database and at the provider: its live orders and
    /// its customer's charges, each as a broken requirement (for keys that must have
    /// left nothing, whatever their answers were).
    pub fn left_behind(&self, key: &str) -> Result<Vec<String>, Problem> {
        let shop = self.shop()?;
        let charges = self.provider.charges();
        let Some(record) = self.keys.get(key) else {
            return Ok(Vec::new());
        };
        let k = KeyView::new(self, &shop, &charges, key, record);
        let mut left = Vec::new();
        if !k.charged.is_empty() {
            left.push(format!(
                "{} was charged ({}).",
                k.what,
                k.charged
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for o in &k.live {
            left.push(format!(
                "{} left order {} (status {}) holding stock.",
                k.what, o.id, o.status
            ));
        }
        Ok(left)
    }
}

/// "A customer is charged at most once per `Idempotency-Key`."
pub const CHARGED_AT_MOST_ONCE: &str = "charged-at-most-once";
/// "At all times, `products.stock` plus the stock held by orders equals what the
/// inventory system put in."
pub const STOCK_ACCOUNTED: &str = "stock-accounted";
/// "Every provider charge belongs to exactly one order; finance must find it."
pub const CHARGE_HAS_ORDER: &str = "charge-has-order";
/// "once a request succeeds, every success for that key returns the same order."
pub const SAME_ORDER: &str = "same-order-per-key";
/// "`409` for a key is for a request that is really still in flight, …"
pub const NO_409_WITHOUT_REQUEST: &str = "409-only-while-in-flight";
/// "A different body under a key that already has an order, in any status, gets `422`
/// and changes nothing"
pub const DIFFERENT_BODY_REFUSED: &str = "different-body-refused";
/// "once a `2xx` has been sent for a key, later retries answer `200`."
pub const RETRY_AFTER_SUCCESS: &str = "retry-after-success-answers-200";
/// Every standing requirement this world judges when its check ends.
pub const STANDING: &[&str] = &[
    CHARGED_AT_MOST_ONCE,
    STOCK_ACCOUNTED,
    CHARGE_HAS_ORDER,
    SAME_ORDER,
    NO_409_WITHOUT_REQUEST,
    DIFFERENT_BODY_REFUSED,
    RETRY_AFTER_SUCCESS,
];

/// The requirements that hold on any history, whatever became of each request: from
/// every `(key, body)` sent, the products the harness stocked, the database and the
/// provider's charges. A customer is charged at most once per key it was sent under;
/// every unit put in is on the shelf or held by an order that is not `failed` or
/// `cancelled`; every provider charge belongs to one order — the order naming it, or
/// else a live order of its customer that names no charge yet (a cut-off request, which
/// finance matches by customer) — and no two orders name the same charge.
pub fn judge_standing(
    sent: &[(Option<String>, String)],
    catalogue: &BTreeMap<String, Product>,
    shop: &Shop,
    charges: &[ProviderCharge],
) -> Vec<(&'static str, Vec<String>)> {
    let mut twice = Vec::new();
    for (customer, (keys, allowed)) in crate::checks::journal::charges_allowed(sent) {
        let charged: Vec<&ProviderCharge> =
            charges.iter().filter(|c| c.customer == customer).collect();
        if charged.len() > allowed {
            twice.push(format!(
                "{customer} was charged {} times ({}) but was sent under {allowed} idempotency key(s) ({}).",
                charged.len(),
                charged
                    .iter()
                    .map(|c| format!("{} for {}", c.id, c.amount))
                    .collect::<Vec<_>>()
                    .join(", "),
                keys.join(", ")
            ));
        }
    }

    let stock = stock_unaccounted(catalogue, shop);

    let mut orphans = Vec::new();
    let mut named: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for o in shop.orders.values() {
        if let Some(charge) = o.provider_charge_id.as_deref() {
            named.entry(charge).or_default().push(o.id.as_str());
        }
    }
    let mut unclaimed: Vec<&DbOrder> = shop
        .orders
        .values()
        .filter(|o| o.is_live() && o.provider_charge_id.is_none())
        .collect();
    for c in charges {
        match named.get(c.id.as_str()) {
            Some(orders) if orders.len() > 1 => orphans.push(format!(
                "Provider charge {} ({} for {}) is named by {} orders ({}); it belongs to exactly one.",
                c.id,
                c.amount,
                c.customer,
                orders.len(),
                orders.join(", ")
            )),
            Some(_) => {}
            None => match unclaimed.iter().position(|o| o.customer_id == c.customer) {
                Some(i) => {
                    unclaimed.remove(i);
                }
                None => orphans.push(format!(
                    "Provider charge {} ({} for {}) belongs to no order: no order names it and no live order of that customer waits for a charge.",
                    c.id, c.amount, c.customer
                )),
            },
        }
    }
    vec![
        (CHARGED_AT_MOST_ONCE, twice),
        (STOCK_ACCOUNTED, stock),
        (CHARGE_HAS_ORDER, orphans),
    ]
}

/// Every unit put in is on the shelf or held by a live order: what is not, per SKU.
fn stock_unaccounted(catalogue: &BTreeMap<String, Product>, shop: &Shop) -> Vec<String> {
    let mut stock = Vec::new();
    let mut held: BTreeMap<&str, i64> = BTreeMap::new();
    for order in shop.orders.values().filter(|o| o.is_live()) {
        for (sku, quantity, _) in &order.lines {
            *held.entry(sku.as_str()).or_default() += quantity;
        }
    }
    for p in catalogue.values() {
        let Some(shelf) = shop.stock.get(&p.sku).copied() else {
            stock.push(format!("{} is missing from the `products` table.", p.sku));
            continue;
        };
        let by_orders = held.get(p.sku.as_str()).copied().unwrap_or(0);
        if shelf + by_orders != p.stock {
            stock.push(format!(
                "{}: {shelf} on the shelf + {by_orders} held by live orders ≠ the {} units put in: stock was {}.",
                p.sku,
                p.stock,
                if shelf + by_orders < p.stock {
                    "lost (taken by nothing that will ship)"
                } else {
                    "created"
                }
            ));
        }
    }
    stock
}

impl Drop for CheckoutWorld {
    /// Holds this check's history to the standing requirements, whatever the check
    /// was about. A world that stocked nothing and sent nothing has nothing to judge;
    /// a database the harness cannot read is the check's own failure to report.
    fn drop(&mut self) {
        crate::checks::journal::blocking(|| {
            let sent = self.sent.all();
            if sent.is_empty() && self.catalogue.is_empty() {
                return;
            }
            if !self.ran_production {
                self.env.journal.observed(designs::provider_observations(
                    &sent,
                    &self.provider.calls(),
                ));
            }
            let Ok(shop) = self.shop() else { return };
            let charges = self.provider.charges();
            for (requirement, broken) in judge_standing(&sent, &self.catalogue, &shop, &charges) {
                self.env.journal.judged(requirement, broken);
            }
            self.env.journal.judged(
                SAME_ORDER,
                crate::checks::journal::different_successes(&self.sent.successes(), "order"),
            );
            // An order is certainly recorded once a 2xx has been sent for its key; a
            // declined card's order "if recorded" is not certain.
            self.env.journal.judged(
                DIFFERENT_BODY_REFUSED,
                crate::checks::key_reuse::different_body_accepted(
                    &self.sent.attempts(),
                    |e| e.status.is_some_and(|s| (200..300).contains(&s)),
                    "an order",
                ),
            );
            let writes_failing = self
                .armed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let mut excused = writes_failing.clone();
            excused.extend(self.env.journal.timeline().locks());
            self.env.journal.judged(
                RETRY_AFTER_SUCCESS,
                crate::checks::key_reuse::replays_refused(&self.sent.attempts(), &excused),
            );
            self.env.journal.judged(
                NO_409_WITHOUT_REQUEST,
                crate::checks::in_use::answered_in_use_with_none_in_flight(
                    &self.sent.attempts(),
                    &self.env.journal.timeline().ends(),
                    &crate::checks::in_use::Allowance {
                        recovery: CRASH_RECOVERY + RECOVERY_MARGIN,
                        writes_failing,
                        other_409s: vec!["out_of_stock"],
                        in_flight_downstream: self.provider.in_use_answers(),
                    },
                ),
            );
        });
    }
}

/// Every unit of stock the harness put in is on the shelf or held by a live order.
fn judge_stock(w: &CheckoutWorld, shop: &Shop, broken: &mut Vec<String>) {
    broken.extend(stock_unaccounted(&w.catalogue, shop));
    for p in w.catalogue.values() {
        if let Some(shelf) = shop.stock.get(&p.sku).copied()
            && shelf < 0
        {
            broken.push(format!("{} was oversold: stock {shelf}.", p.sku));
        }
    }
    for (order, sku) in &shop.orphan_lines {
        broken.push(format!(
            "An order line for {sku} names order {order}, which is not in `orders`."
        ));
    }
    for o in shop.orders.values() {
        if !w.keys.contains_key(&o.key) && !w.production_keys.contains(&o.key) {
            broken.push(format!(
                "Order {} carries idempotency key {:?}, which no request of the check sent (the `idempotency_key` column must hold the client's key).",
                o.id, o.key
            ));
        }
    }
}

/// One key's requests, orders and charges.
struct KeyView<'a> {
    record: &'a KeyRecord,
    what: String,
    live: Vec<&'a DbOrder>,
    /// The customer's charges no other key's order names: a customer may buy under
    /// several keys, and each charge belongs to the one order that names it.
    charged: Vec<&'a ProviderCharge>,
    /// Orders of other keys, by the provider charge they name.
    named_elsewhere: BTreeMap<&'a str, Vec<&'a DbOrder>>,
    /// Order ids answered 2xx.
    successes: Vec<&'a str>,
    /// Whether some answer was a 5xx or never came.
    unknown: bool,
}

impl<'a> KeyView<'a> {
    fn new(
        _w: &CheckoutWorld,
        shop: &'a Shop,
        charges: &'a [ProviderCharge],
        key: &str,
        record: &'a KeyRecord,
    ) -> KeyView<'a> {
        let customer = record
            .body
            .get("customer_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut named_elsewhere: BTreeMap<&str, Vec<&DbOrder>> = BTreeMap::new();
        for o in shop.orders.values().filter(|o| o.key != key) {
            if let Some(charge) = o.provider_charge_id.as_deref() {
                named_elsewhere.entry(charge).or_default().push(o);
            }
        }
        KeyView {
            record,
            what: match &record.cart {
                Some(cart) => format!("Key {key} ({cart})"),
                None => format!("Key {key} (a bad cart)"),
            },
            live: shop
                .orders
                .values()
                .filter(|o| o.key == key && o.is_live())
                .collect(),
            charged: charges
                .iter()
                .filter(|c| !customer.is_empty() && c.customer == customer)
                .filter(|c| !named_elsewhere.contains_key(c.id.as_str()))
                .collect(),
            named_elsewhere,
            successes: record
                .answers
                .iter()
                .filter_map(|(_, _, id)| id.as_deref())
                .collect(),
            unknown: record
                .answers
                .iter()
                .any(|(_, s, _)| matches!(s, None | Some(500..=599))),
        }
    }

    fn charge_ids(&self) -> String {
        self.charged
            .iter()
            .map(|c| format!("{} for {}", c.id, c.amount))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// At most one charge and one live order; successes agree and are paid for; a
    /// reused key refused; refused keys uncharged; no charge without an order.
    fn judge_charges(&self, broken: &mut Vec<String>) {
        let what = &self.what;
        if self.charged.len() > 1 {
            broken.push(format!(
                "{what}: the customer was charged {} times ({}) for one idempotency key.",
                self.charged.len(),
                self.charge_ids()
            ));
        }
        if self.live.len() > 1 {
            broken.push(format!(
                "{what} has {} live orders ({}); one key makes at most one order.",
                self.live.len(),
                self.live
                    .iter()
                    .map(|o| o.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (first_body, status, id) in &self.record.answers {
            if !first_body && status.is_some_and(|s| (200..300).contains(&s)) {
                broken.push(format!(
                    "{what} was reused with a different cart and answered {} with order {}; the brief requires 422 and no change.",
                    status.unwrap_or_default(),
                    id.as_deref().unwrap_or("?")
                ));
            }
        }
        if let Some(id) = self.successes.first() {
            let distinct: std::collections::BTreeSet<&str> =
                self.successes.iter().copied().collect();
            if distinct.len() > 1 {
                broken.push(format!(
                    "{what} was answered 2xx with different orders: {}.",
                    distinct.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            if let Some(o) = self.live.iter().find(|o| o.id == *id) {
                let shared = o
                    .provider_charge_id
                    .as_deref()
                    .and_then(|c| self.named_elsewhere.get(c));
                if let Some(others) = shared {
                    broken.push(format!(
                        "{what} was answered 2xx with order {id}, paid with provider charge {}, which {} also name(s): every provider charge belongs to exactly one order, so one of them was never charged for.",
                        o.provider_charge_id.as_deref().unwrap_or_default(),
                        others
                            .iter()
                            .map(|o| format!("order {} (key {})", o.id, o.key))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    return;
                }
                if o.status != "paid" {
                    broken.push(format!(
                        "{what} was answered 2xx with order {id}, but its status is {:?}, not paid.",
                        o.status
                    ));
                }
                match self
                    .charged
                    .iter()
                    .find(|c| Some(&c.id) == o.provider_charge_id.as_ref())
                {
                    None => broken.push(format!(
                        "Order {id} is paid with provider charge {:?}, which the provider never made for this customer.",
                        o.provider_charge_id
                    )),
                    Some(c) if c.amount != o.total => broken.push(format!(
                        "Order {id} totals {} but its provider charge {} is for {}.",
                        o.total, c.id, c.amount
                    )),
                    Some(_) => {}
                }
            }
            return;
        }
        if !self.unknown && !self.charged.is_empty() {
            broken.push(format!(
                "{what} was refused ({}), yet its customer was charged ({}).",
                statuses(self.record),
                self.charge_ids()
            ));
        }
    }

    /// A charge whose request was cut off (5xx, no answer) belongs to a live order
    /// finance can find: the brief allows it any status, never no order at all. Judged
    /// in every scope: an order written only after the charge is exactly what leaves one.
    fn judge_orphan_charge(&self, broken: &mut Vec<String>) {
        if self.unknown
            && self.successes.is_empty()
            && !self.charged.is_empty()
            && self.live.is_empty()
        {
            broken.push(format!(
                "{} ended with {} and no live order, yet its customer was charged ({}): a charge finance cannot match to any order.",
                self.what,
                statuses(self.record),
                self.charge_ids()
            ));
        }
    }

    /// Live orders are whole and match the cart; a 2xx order is there; refused keys
    /// hold nothing.
    fn judge_orders(&self, w: &CheckoutWorld, broken: &mut Vec<String>) {
        let what = &self.what;
        for o in &self.live {
            match &self.record.cart {
                Some(cart) => judge_order(w, cart, o, what, broken),
                None => broken.push(format!(
                    "Order {} (status {}) was created for a bad cart under {what}; bad carts must create nothing.",
                    o.id, o.status
                )),
            }
        }
        if let Some(id) = self.successes.first() {
            if !self.live.iter().any(|o| o.id == *id) {
                broken.push(format!(
                    "{what} was answered 2xx with order {id}, but no live order {id} is in `orders`."
                ));
            }
        } else if !self.unknown
            && let Some(o) = self.live.first()
        {
            broken.push(format!(
                "{what} was refused ({}), yet order {} (status {}) holds stock for it.",
                statuses(self.record),
                o.id,
                o.status
            ));
        }
    }
}

/// A live order is whole: the cart's lines at catalogue prices, the right subtotal, and
/// once paid the right shipping and total.
fn judge_order(w: &CheckoutWorld, cart: &Cart, o: &DbOrder, what: &str, broken: &mut Vec<String>) {
    let mut want: Vec<(String, i64, i64)> = cart
        .lines
        .iter()
        .map(|l| {
            let price = w.catalogue.get(&l.sku).map_or(0, |p| p.price);
            (l.sku.clone(), l.quantity, price)
        })
        .collect();
    want.sort();
    if o.lines != want {
        broken.push(format!(
            "Order {} (status {}) of {what} has lines {:?}; the cart needs {:?} (sku, quantity, unit price).",
            o.id, o.status, o.lines, want
        ));
    }
    let price = w.price(cart);
    // An order not paid yet may be waiting for its shipping quote (a design that holds
    // stock first and quotes after); once paid, every amount is final.
    let amounts_wrong = if o.status == "paid" {
        (o.subtotal, o.shipping, o.total) != (price.subtotal, price.shipping, price.total)
    } else {
        o.subtotal != price.subtotal
    };
    if amounts_wrong {
        broken.push(format!(
            "Order {} of {what} stores subtotal/shipping/total {}/{}/{}; the cart costs {}/{}/{}.",
            o.id, o.subtotal, o.shipping, o.total, price.subtotal, price.shipping, price.total
        ));
    }
    if o.customer_id != cart.customer_id {
        broken.push(format!(
            "Order {} of {what} belongs to {:?}, not {:?}.",
            o.id, o.customer_id, cart.customer_id
        ));
    }
}

fn statuses(record: &KeyRecord) -> String {
    record
        .answers
        .iter()
        .map(|(_, s, _)| s.map_or("no answer".to_owned(), |s| s.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A cheap, cloneable HTTP client for spawned requests.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    sent: crate::checks::journal::Sent,
    timeline: crate::checks::Timeline,
}

impl Client {
    /// `POST /checkout` with an idempotency key and a raw body.
    pub async fn checkout(&self, base: &str, key: &str, body: &str) -> Exchange {
        let ticket = self.file(base, Some(key), body);
        let x = send(
            &self.timeline,
            &self.http,
            reqwest::Method::POST,
            base,
            "/checkout",
            &[
                ("content-type", "application/json"),
                ("idempotency-key", key),
            ],
            Some(body.to_owned()),
        )
        .await;
        self.sent.answered(ticket, &x);
        x
    }

    /// `POST /checkout`, giving up after `timeout`.
    pub async fn checkout_within(
        &self,
        base: &str,
        key: &str,
        body: &str,
        timeout: Duration,
    ) -> Exchange {
        let ticket = self.file(base, Some(key), body);
        let x = send_within(
            &self.timeline,
            &self.http,
            reqwest::Method::POST,
            base,
            "/checkout",
            &[
                ("content-type", "application/json"),
                ("idempotency-key", key),
            ],
            Some(body.to_owned()),
            timeout,
        )
        .await;
        self.sent.answered(ticket, &x);
        x
    }

    /// `POST /checkout` with exactly these headers (for requests missing the key).
    pub async fn post_with(&self, base: &str, headers: &[(&str, &str)], body: &str) -> Exchange {
        let key = crate::checks::journal::key_header(headers);
        let ticket = self.file(base, key, body);
        let x = send(
            &self.timeline,
            &self.http,
            reqwest::Method::POST,
            base,
            "/checkout",
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

    /// Files a checkout before it is sent, so the standing judges know every key a
    /// customer was sent under, also for a request whose answer never came. A request
    /// sent without this client (a raw socket) must be filed by hand.
    pub fn file(
        &self,
        base: &str,
        key: Option<&str>,
        body: &str,
    ) -> crate::checks::journal::Ticket {
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

/// Awaits a spawned request.
pub async fn join(task: tokio::task::JoinHandle<Exchange>) -> Result<Exchange, Problem> {
    task.await
        .map_err(|e| Problem::Harness(format!("request task failed: {e}")))
}

/// A JSON body with one field replaced (a dotted path into objects, `lines.0.quantity`
/// into arrays), or removed when `value` is `None`.
pub fn with_field(body: &Value, path: &str, value: Option<Value>) -> Value {
    let mut body = body.clone();
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return body };
    let mut at = &mut body;
    for part in parts {
        at = match part.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[part],
        };
    }
    match (at, value) {
        (Value::Object(map), Some(v)) => {
            map.insert(last.to_owned(), v);
        }
        (Value::Object(map), None) => {
            map.remove(last);
        }
        (Value::Array(items), Some(v)) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = v;
            }
        }
        _ => {}
    }
    body
}

/// `n` copies of a line, as JSON (for oversized carts).
pub fn lines_json(lines: &[(&str, i64)]) -> Value {
    json!(
        lines
            .iter()
            .map(|(sku, q)| json!({ "sku": sku, "quantity": q }))
            .collect::<Vec<_>>()
    )
}

fn spec(
    env: &CheckEnv,
    provider: &PaymentProvider,
    shipping: &ShippingRates,
    instance: usize,
) -> ServiceSpec {
    ServiceSpec {
        binary: env.binary.clone(),
        db: env.workdir.join("checkout.db"),
        downstreams: vec![
            ("payments".to_owned(), provider.url()),
            ("shipping".to_owned(), shipping.url()),
        ],
        env: Vec::new(),
        log: env.workdir.join(format!("instance-{instance}.log")),
        stats: None,
        policy: env.policy.clone(),
        timeline: env.journal.timeline().clone(),
    }
}

fn contract_tables(detail: &str) -> Problem {
    let mut ev = Evidence::new();
    ev.say(format!(
        "The contract tables (`products`, `orders`, `order_lines`) could not be used: {detail}"
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

fn read_shop(db: &std::path::Path) -> rusqlite::Result<Shop> {
    let mut conn = open(db, true)?;
    // One read transaction: a consistent snapshot even while the service writes.
    let tx = conn.transaction()?;
    let mut shop = Shop::default();
    {
        let mut stmt = tx.prepare("SELECT sku, stock FROM products")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (sku, stock) = row?;
            shop.stock.insert(sku, stock);
        }
        let mut stmt = tx.prepare(
            "SELECT id, idempotency_key, customer_id, status, subtotal, shipping, total,
                    provider_charge_id
               FROM orders",
        )?;
        for row in stmt.query_map([], |r| {
            Ok(DbOrder {
                id: r.get(0)?,
                key: r.get(1)?,
                customer_id: r.get(2)?,
                status: r.get(3)?,
                subtotal: r.get(4)?,
                shipping: r.get(5)?,
                total: r.get(6)?,
                provider_charge_id: r.get(7)?,
                lines: Vec::new(),
            })
        })? {
            let order = row?;
            shop.orders.insert(order.id.clone(), order);
        }
        let mut stmt = tx.prepare("SELECT order_id, sku, quantity, unit_price FROM order_lines")?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })? {
            let (order, sku, quantity, price) = row?;
            match shop.orders.get_mut(&order) {
                Some(o) => o.lines.push((sku, quantity, price)),
                None => shop.orphan_lines.push((order, sku)),
            }
        }
    }
    tx.commit()?;
    for o in shop.orders.values_mut() {
        o.lines.sort();
    }
    Ok(shop)
}

/// The standing judges on synthetic shops, each the state a kind of wrong fix leaves:
/// judged without a service, since the judge is the product.
#[cfg(test)]
mod standing_tests {
    use super::*;

    fn catalogue() -> BTreeMap<String, Product> {
        BTreeMap::from([(
            "SKU-1".to_owned(),
            Product {
                sku: "SKU-1".to_owned(),
                price: 1000,
                weight_grams: 100,
                stock: 5,
            },
        )])
    }

    fn order(id: &str, status: &str, charge: Option<&str>, quantity: i64) -> DbOrder {
        DbOrder {
            id: id.to_owned(),
            key: format!("key-{id}"),
            customer_id: "cus_a".to_owned(),
            status: status.to_owned(),
            subtotal: 1000 * quantity,
            shipping: 500,
            total: 1000 * quantity + 500,
            provider_charge_id: charge.map(str::to_owned),
            lines: vec![("SKU-1".to_owned(), quantity, 1000)],
        }
    }

    fn shop(shelf: i64, orders: Vec<DbOrder>) -> Shop {
        Shop {
            stock: BTreeMap::from([("SKU-1".to_owned(), shelf)]),
            orders: orders.into_iter().map(|o| (o.id.clone(), o)).collect(),
            orphan_lines: Vec::new(),
        }
    }

    fn charge(id: &str) -> ProviderCharge {
        ProviderCharge {
            id: id.to_owned(),
            customer: "cus_a".to_owned(),
            amount: 2500,
            currency: "usd".to_owned(),
            idempotency_key: None,
        }
    }

    fn sent(key: &str) -> (Option<String>, String) {
        (
            Some(key.to_owned()),
            r#"{"customer_id":"cus_a"}"#.to_owned(),
        )
    }

    fn broken(
        sent: &[(Option<String>, String)],
        shop: &Shop,
        charges: &[ProviderCharge],
    ) -> BTreeMap<&'static str, Vec<String>> {
        judge_standing(sent, &catalogue(), shop, charges)
            .into_iter()
            .collect()
    }

    #[test]
    fn a_paid_order_holding_its_stock_keeps_every_standing_requirement() {
        let b = broken(
            &[sent("k1"), sent("k1")],
            &shop(3, vec![order("o1", "paid", Some("pch_1"), 2)]),
            &[charge("pch_1")],
        );
        let judged: Vec<&str> = b.keys().copied().collect();
        assert_eq!(
            judged,
            [CHARGE_HAS_ORDER, CHARGED_AT_MOST_ONCE, STOCK_ACCOUNTED]
        );
        assert!(b.values().all(Vec::is_empty), "{b:?}");
    }

    #[test]
    fn a_failed_order_that_kept_its_stock_loses_it() {
        // Marked failed after a decline without giving its units back.
        let b = broken(
            &[sent("k1")],
            &shop(3, vec![order("o1", "failed", None, 2)]),
            &[],
        );
        assert!(b[STOCK_ACCOUNTED][0].contains("lost"), "{b:?}");
    }

    #[test]
    fn a_charge_with_no_order_or_two_orders_is_broken() {
        // Charged, then the order insert failed and nothing was kept.
        let b = broken(&[sent("k1")], &shop(5, vec![]), &[charge("pch_1")]);
        assert!(
            b[CHARGE_HAS_ORDER][0].contains("belongs to no order"),
            "{b:?}"
        );
        // A cut-off request's pending order is where finance finds the charge.
        let b = broken(
            &[sent("k1")],
            &shop(3, vec![order("o1", "pending", None, 2)]),
            &[charge("pch_1")],
        );
        assert!(b[CHARGE_HAS_ORDER].is_empty(), "{b:?}");
        let b = broken(
            &[sent("k1")],
            &shop(
                1,
                vec![
                    order("o1", "paid", Some("pch_1"), 2),
                    order("o2", "paid", Some("pch_1"), 2),
                ],
            ),
            &[charge("pch_1")],
        );
        assert!(
            b[CHARGE_HAS_ORDER][0].contains("named by 2 orders"),
            "{b:?}"
        );
    }

    #[test]
    fn one_key_charged_twice_is_broken() {
        let b = broken(
            &[sent("k1"), sent("k1")],
            &shop(
                1,
                vec![
                    order("o1", "paid", Some("pch_1"), 2),
                    order("o2", "paid", Some("pch_2"), 2),
                ],
            ),
            &[charge("pch_1"), charge("pch_2")],
        );
        assert!(
            b[CHARGED_AT_MOST_ONCE][0].contains("charged 2 times"),
            "{b:?}"
        );
    }
}
