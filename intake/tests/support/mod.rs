//! Intake databases for tests, on every backend (from `storage::test_support`, as the issuer's): a fresh
//! SQLite file in a directory of its own, always, and — when `DATABASE_URL` (postgres://…) is set — a
//! fresh PostgreSQL schema of its own (the `search_path` of its connections). Each call gives new, empty
//! databases, so tests running in parallel never share one. `CI=true` without `DATABASE_URL` is a
//! failure: CI must run both backends.
//!
//! Use it from an integration test with `mod support;`.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use intake::notify::{SendError, Sender};
use intake::store::Intake;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use storage::test_support;

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    test_support::random_hex(n).unwrap_or_else(|error| panic!("{error}"))
}

/// A `sqlite:` URL for a database file that does not exist yet, in a directory of its own named after
/// the test binary.
pub fn sqlite_url() -> String {
    let dir = test_support::temp_dir(&format!("intake-{}", env!("CARGO_CRATE_NAME")))
        .unwrap_or_else(|error| panic!("{error}"));
    format!("sqlite:{}", dir.join("intake.sqlite").display())
}

/// The URL of a fresh PostgreSQL database (a new schema), when `DATABASE_URL` is set (a failure when
/// it is not and `CI=true`).
pub async fn postgres_url() -> Option<String> {
    test_support::postgres_url()
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

/// The URLs of a fresh SQLite database and, when `DATABASE_URL` is set, a fresh PostgreSQL one, each
/// with the name of its backend (`"sqlite"`, `"postgres"`) for assertion messages.
pub async fn database_urls() -> Vec<(&'static str, String)> {
    let mut urls = vec![("sqlite", sqlite_url())];
    if let Some(url) = postgres_url().await {
        urls.push(("postgres", url));
    }
    urls
}

/// The intake database at `url`, migrated.
pub async fn open_intake(url: &str) -> Intake {
    Intake::open(url)
        .await
        .unwrap_or_else(|error| panic!("open the intake database: {error}"))
}

/// A fresh SQLite intake database and, when `DATABASE_URL` is set, a fresh PostgreSQL one.
pub async fn databases() -> Vec<Intake> {
    let mut out = Vec::new();
    for (_, url) in database_urls().await {
        out.push(open_intake(&url).await);
    }
    out
}

/// A pool of one connection of the test's own to the database at `url`, for writing fixtures straight
/// into the tables and reading them back (open the `Intake` first: it installs the drivers and
/// creates the tables).
pub async fn raw_pool(url: &str) -> AnyPool {
    AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap_or_else(|error| panic!("open a second pool: {error}"))
}

/// A sender that drops every message.
pub struct NoSms;

impl Sender for NoSms {
    fn send(&self, _phone: &str, _kind: &str, _text: &str) -> Result<(), SendError> {
        Ok(())
    }
}
