//! Ledgers for tests, on every backend: a fresh SQLite file in a directory of its own, always, and —
//! when `DATABASE_URL` (postgres://…) is set — a PostgreSQL ledger in a fresh schema of its own (the
//! `search_path` of its connections), both from `storage::test_support`. Each call gives new, empty
//! ledgers, so tests running in parallel never share one. `CI=true` without `DATABASE_URL` is a failure:
//! CI must run both backends.
//!
//! Use it from an integration test with `mod support;`.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;

use issuer::ledger::{Ledger, LedgerBackend};
use storage::test_support;

/// A new, empty directory unique to this call (`storage::test_support::temp_dir`).
pub fn temp_dir(label: &str) -> PathBuf {
    test_support::temp_dir(label).unwrap_or_else(|error| panic!("{error}"))
}

/// A `sqlite:` URL for a database file that does not exist yet, in a directory that does not exist
/// yet (the ledger creates both).
pub fn sqlite_url() -> String {
    let dir = temp_dir("ledger");
    format!("sqlite:{}", dir.join("data").join("ledger.db").display())
}

/// A fresh SQLite ledger.
pub async fn sqlite_ledger() -> Ledger {
    let url = sqlite_url();
    Ledger::open(&url)
        .await
        .unwrap_or_else(|error| panic!("open {url}: {error}"))
}

/// The PostgreSQL server to test against, from `DATABASE_URL`; `None` when it is unset (a failure when
/// `CI=true`).
pub fn database_url() -> Option<String> {
    test_support::database_url().unwrap_or_else(|error| panic!("{error}"))
}

/// A new, empty schema on the server at `database_url`; its name.
pub async fn create_schema(database_url: &str) -> String {
    test_support::create_schema(database_url)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

/// The URL of a fresh PostgreSQL ledger (a new schema), when `DATABASE_URL` is set.
pub async fn postgres_url() -> Option<String> {
    test_support::postgres_url()
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

/// A fresh PostgreSQL ledger in a schema of its own, when `DATABASE_URL` is set.
pub async fn postgres_ledger() -> Option<Ledger> {
    let url = postgres_url().await?;
    Some(
        Ledger::open(&url)
            .await
            .unwrap_or_else(|error| panic!("open the PostgreSQL ledger: {error}")),
    )
}

/// A fresh SQLite ledger, and a fresh PostgreSQL ledger when `DATABASE_URL` is set.
pub async fn ledgers() -> Vec<(LedgerBackend, Ledger)> {
    let mut out = vec![(LedgerBackend::Sqlite, sqlite_ledger().await)];
    if let Some(ledger) = postgres_ledger().await {
        out.push((LedgerBackend::Postgres, ledger));
    }
    out
}
