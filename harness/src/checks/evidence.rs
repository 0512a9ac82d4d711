//! Evidence: the short story a failed (or passed) check tells an interviewer.

use serde::Serialize;

use super::http::Exchange;

/// Lines of evidence in the order things happened.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Evidence(Vec<String>);

impl Evidence {
    /// An empty story.
    pub fn new() -> Evidence {
        Evidence::default()
    }

    /// Adds one line.
    pub fn say(&mut self, line: impl Into<String>) {
        self.0.push(line.into());
    }

    /// Adds a request and what came back.
    pub fn exchange(&mut self, exchange: &Exchange) {
        self.0.push(exchange.to_string());
    }

    /// The lines so far.
    pub fn lines(&self) -> &[String] {
        &self.0
    }

    /// Consumes the story into its lines.
    pub fn into_lines(self) -> Vec<String> {
        self.0
    }
}
