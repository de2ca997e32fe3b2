//! Intake databases for tests, on every backend (after `issuer/tests/support/mod.rs`): a fresh SQLite
//! file in a directory of its own, always, and — when `DATABASE_URL` (postgres://…) is set — a fresh
//! PostgreSQL schema of its own (the `search_path` of its connections). Each call gives new, empty
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

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use intake::notify::{SendError, Sender};
use intake::store::Intake;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection as _};

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("randomness");
    hex::encode(bytes)
}

/// Test directories and schemas older than this are left over from earlier runs: removed.
const LEFTOVER_AGE: Duration = Duration::from_secs(6 * 3600);

/// A new, empty directory under the system's temporary directory, unique to this call. Directories
/// that earlier runs left there are removed once they are old.
pub fn temp_dir(label: &str) -> PathBuf {
    let root = std::env::temp_dir().join("vaxcert-tests");
    prune_old_dirs(&root);
    let dir = root.join(format!("{label}-{}-{}", std::process::id(), random_hex(8)));
    std::fs::create_dir_all(&dir).expect("create the test directory");
    dir
}

fn prune_old_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > LEFTOVER_AGE);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A `sqlite:` URL for a database file that does not exist yet, in a directory of its own named after
/// the test binary.
pub fn sqlite_url() -> String {
    let dir = temp_dir(&format!("intake-{}", env!("CARGO_CRATE_NAME")));
    format!("sqlite:{}", dir.join("intake.sqlite").display())
}

/// The PostgreSQL server to test against, from `DATABASE_URL`; `None` when it is unset (a failure when
/// `CI=true`).
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "DATABASE_URL must be set in CI (postgres://…): the intake tests run on SQLite and \
                 PostgreSQL"
            );
            None
        }
    }
}

/// `database_url` with `schema` as the search path of every connection (libpq's `options`
/// parameter, `-c search_path=…`, which sqlx's PostgreSQL URL parser passes on).
pub fn with_search_path(database_url: &str, schema: &str) -> String {
    let separator = if database_url.contains('?') { '&' } else { '?' };
    format!("{database_url}{separator}options=-c%20search_path%3D{schema}")
}

/// A new, empty schema `vaxcert_test_<unix time>_<random hex>` on the server at `database_url`; its
/// name. Schemas that earlier runs left behind are dropped once they are old.
pub async fn create_schema(database_url: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let schema = format!("vaxcert_test_{now}_{}", random_hex(8));
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .unwrap_or_else(|error| panic!("connect to DATABASE_URL: {error}"));
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, 'vaxcert_test_')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    for old in existing {
        let created = old
            .strip_prefix("vaxcert_test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|time| time.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > LEFTOVER_AGE.as_secs()) {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {old} CASCADE"))
                .execute(&mut conn)
                .await;
        }
    }
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|error| panic!("create schema {schema}: {error}"));
    conn.close().await.ok();
    schema
}

/// The URL of a fresh PostgreSQL database (a new schema), when `DATABASE_URL` is set.
pub async fn postgres_url() -> Option<String> {
    let database_url = database_url()?;
    let schema = create_schema(&database_url).await;
    Some(with_search_path(&database_url, &schema))
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
