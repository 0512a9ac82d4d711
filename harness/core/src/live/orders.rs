//! `orders` live: no downstream, so no faults; the requests and their SQL counts are
//! the show.

use super::{Mode, Wiring};

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
}
