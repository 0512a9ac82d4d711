//! `orders` live: no downstream, so no faults; the requests and their SQL counts are
//! the show.

use std::path::Path;

use super::truth::{self, Table};
use super::{Mode, OneOff, Probe, Wiring};

/// An `orders` session: the service alone.
pub struct Orders;

/// Nothing to start.
pub async fn start() -> Result<Box<dyn Wiring>, String> {
    Ok(Box::new(Orders))
}

impl Wiring for Orders {
    fn modes(&self) -> &'static [Mode] {
        &[]
    }

    fn downstreams(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn curl_lines(&self, url: &str) -> Vec<String> {
        vec![format!(
            "curl -s '{url}/customers/CUSTOMER_ID/orders?limit=20'"
        )]
    }

    fn apply(&self, _target: &str, mode: &str) -> Result<(), String> {
        Err(super::not_wired(mode))
    }

    fn downstream_calls(&self) -> usize {
        0
    }

    fn probe(&self) -> Option<Probe> {
        Some(Probe {
            method: reqwest::Method::GET,
            path: "/customers/1/orders?limit=20".to_owned(),
            body: None,
            keyed: false,
        })
    }

    fn offers(&self, _fault: OneOff) -> Option<&'static str> {
        None
    }

    fn arm(&self, _fault: OneOff) -> Result<(), String> {
        Err("orders has no downstream to fault".to_owned())
    }

    fn held(&self) -> usize {
        0
    }

    fn release_held(&self) {}

    fn truth(&self, db: &Path) -> Vec<Table> {
        vec![truth::query(
            db,
            "Rows in the shop (what every page reads from)",
            "SELECT (SELECT COUNT(*) FROM customers) AS customers, (SELECT COUNT(*) FROM orders) AS orders, (SELECT COUNT(*) FROM order_lines) AS order_lines",
            |_| false,
        )]
    }

    fn effects(&self) -> Option<(usize, &'static str)> {
        None
    }

    fn record_into(&self, timeline: &crate::checks::Timeline) {
        // No downstream: the service runner and the scenarios record what there is.
        let _ = timeline;
    }
}
