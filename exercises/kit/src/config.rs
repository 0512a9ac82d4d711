//! The flags and environment variables every exercise binary accepts.
//!
//! Exercises flatten [`KitArgs`] into their own clap parser, so the harness can start
//! any exercise the same way: `--listen 127.0.0.1:0 --db FILE --downstream NAME=URL`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// The service contract's configuration, shared by every exercise.
#[derive(Debug, Clone, Args)]
pub struct KitArgs {
    /// Address to listen on; port 0 picks a free port (the READY line says which).
    #[arg(long, env = "KIT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// SQLite database file; created and migrated on start.
    #[arg(long, env = "KIT_DB", default_value = "service.db")]
    pub db: PathBuf,

    /// Base URL of a downstream dependency, as NAME=URL (repeatable).
    #[arg(long = "downstream", env = "KIT_DOWNSTREAMS", value_delimiter = ',', value_parser = parse_downstream)]
    pub downstreams: Vec<Downstream>,

    /// Insert this many rows of demo data on start (for trying the service by hand).
    #[arg(long, env = "KIT_SEED_DEMO")]
    pub seed_demo: Option<u64>,

    /// How long a database connection waits on a lock held by another connection or
    /// process before giving up with `SQLITE_BUSY`, in milliseconds.
    #[arg(long, env = "KIT_BUSY_TIMEOUT_MS", default_value_t = 5000)]
    pub busy_timeout_ms: u64,

    /// Append one JSON line per request, with every SQL statement it ran, to this file.
    #[arg(long, env = "KIT_STATS_FILE")]
    pub stats_file: Option<PathBuf>,
}

/// A named downstream dependency and the base URL it is reached at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downstream {
    /// The name the exercise looks it up by, e.g. `payments`.
    pub name: String,
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:9000`.
    pub url: String,
}

/// A downstream the exercise needs was not given on the command line.
#[derive(Debug, thiserror::Error)]
#[error("no URL for downstream `{0}`: pass --downstream {0}=http://HOST:PORT")]
pub struct MissingDownstream(pub String);

impl KitArgs {
    /// Opens the service's database (`--db`) with `--busy-timeout-ms`, applying
    /// `migrations` (see [`crate::Db::open`]).
    pub fn open_db(&self, migrations: &[&str]) -> Result<crate::Db, crate::DbError> {
        crate::Db::open_with_busy_timeout(
            &self.db,
            migrations,
            std::time::Duration::from_millis(self.busy_timeout_ms),
        )
    }

    /// The base URL configured for the downstream called `name`.
    pub fn downstream_url(&self, name: &str) -> Result<&str, MissingDownstream> {
        self.downstreams
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.url.as_str())
            .ok_or_else(|| MissingDownstream(name.to_owned()))
    }
}

fn parse_downstream(raw: &str) -> Result<Downstream, String> {
    let (name, url) = raw
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=URL, got `{raw}`"))?;
    if name.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("expected NAME=http://HOST:PORT, got `{raw}`"));
    }
    Ok(Downstream {
        name: name.to_owned(),
        url: url.trim_end_matches('/').to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downstreams_parse_and_trim() {
        let d = parse_downstream("payments=http://127.0.0.1:9/").unwrap();
        assert_eq!(d.name, "payments");
        assert_eq!(d.url, "http://127.0.0.1:9");
        assert!(parse_downstream("payments").is_err());
        assert!(parse_downstream("=http://x").is_err());
        assert!(parse_downstream("p=ftp://x").is_err());
    }
}
