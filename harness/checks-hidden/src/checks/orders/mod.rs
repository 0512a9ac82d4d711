//! The hidden checks of the `orders` exercise: grading only, never in a candidate's kit.

// The exercise's public modules (world, contract, …), which the hidden checks build on.
pub use checks_public::checks::orders::*;

pub mod direct_writes;
pub mod flaws;

use crate::checks::{Check, Visibility, settle};
use flaws::ScanTarget;

/// The flaw and property checks, in report order after the contract checks.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "orders.equivalence-property",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 2,
            description: "Twenty-four random datasets — orders without lines, equal timestamps, unicode names, large quantities and prices, renames through the API, page sizes 1 to 10 — read page by page equal what the harness computes from the database. Guards against fixes that change the answer.",
            soak: false,
            run: |env| Box::pin(async move { settle(property::equivalence(env, 24).await) }),
        },
        Check {
            id: "orders.pages-during-direct-writes",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 2,
            description: "The other writers the brief names write while pages are read: with the back office's write transaction held open up to 6 s, a customer's first page is answered 200 before the app's 5 s (a read waits for no writer); then for 3 s checkout inserts new orders for the customer, one transaction each, while the first page and the page after it are read again and again: every page answers 200 and shows each order with the lines and total the database holds. Last, the back office renames a product in a transaction it commits 1 s after a `PUT` setting the product's price was sent: the PUT answers 200 with both changes, and the database keeps both.",
            soak: false,
            run: |env| {
                Box::pin(
                    async move { settle(direct_writes::pages_during_direct_writes(env).await) },
                )
            },
        },
        Check {
            id: "orders.page-cost-independent-of-history",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 2,
            description: "The first page (limit 20) for a customer with 4,000 orders may cost at most 3× (plus a small constant) the SQLite VM steps of the same page for a customer with 100 orders in the same database: the cost of a page must not grow with the customer's history (defeats fixes that load the whole history and page in memory); nor may the 100-order customer's page, whose orders lie among ~2,000 of other customers', cost more than 3× (plus the constant) the other's: nor with the size of the shop; nor may the 4,000-order history's page 3,920 orders deep, reached by walking it 100 at a time, cost more than 3× (plus the constant) its first page: nor with how deep the page lies (an offset, a seek the index cannot serve).",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(flaws::page_cost_independent_of_history(env).await) })
            },
        },
        Check {
            id: "orders.counts-follow-direct-writes",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 1,
            description: "Checkout, the back office and test tooling write the tables directly: an order moved to another customer, an order written again with INSERT OR REPLACE, an order and its lines deleted. After each, both customers' `order_count` and first page are what the database holds.",
            soak: false,
            run: |env| {
                Box::pin(async move { settle(flaws::counts_follow_direct_writes(env).await) })
            },
        },
        Check {
            id: "orders.cursor-across-instances",
            flaw: None,
            visibility: Visibility::Hidden,
            points: 1,
            description: "Two instances on one database, behind the brief's load balancer: a customer's 23 orders (two at each timestamp) read five at a time, each page from the other instance, the first killed and restarted after page 2. Every page answers 200 and together they are the history, each order once, in order: a cursor handed out by one instance pages on any other, and after a restart.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::cursor_across_instances(env).await) }),
        },
        Check {
            id: "orders.statements-per-order",
            flaw: Some("n-plus-one-lines"),
            visibility: Visibility::Hidden,
            points: 3,
            description: "Pages of 1, 10 and 100 orders: the number of SQL statements a request runs must not grow with the orders returned (at most 2 apart) and must stay within 10.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::statements_per_order(env).await) }),
        },
        Check {
            id: "orders.statements-per-line",
            flaw: Some("n-plus-one-products"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "One order with 1, 10 and 100 lines of different products: the number of SQL statements must not grow with the lines returned (at most 2 apart) and must stay within 10.",
            soak: false,
            run: |env| Box::pin(async move { settle(flaws::statements_per_line(env).await) }),
        },
        Check {
            id: "orders.no-scan-of-orders",
            flaw: Some("missing-index-orders-customer"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "With 20,000 orders in the database, no statement of a page request (first and second page) steps through more than 1,000 rows by full scan of `orders` (SQLite's full-scan step counter, the plan names the table).",
            soak: false,
            run: |env| {
                Box::pin(
                    async move { settle(flaws::no_large_scans(env, ScanTarget::Orders).await) },
                )
            },
        },
        Check {
            id: "orders.no-scan-of-order-lines",
            flaw: Some("missing-index-lines-order"),
            visibility: Visibility::Hidden,
            points: 2,
            description: "With ~50,000 order lines in the database, no statement of a page request steps through more than 1,000 rows by full scan of `order_lines`.",
            soak: false,
            run: |env| {
                Box::pin(
                    async move { settle(flaws::no_large_scans(env, ScanTarget::OrderLines).await) },
                )
            },
        },
        crate::checks::upgrade::production::registration("orders.upgrade-from-production", |env| {
            Box::pin(crate::checks::upgrade::production::run(env, &[]))
        }),
    ]
}
