//! Databases for the services' tests, on every backend (feature `test-support`): a fresh directory for
//! a SQLite file, always, and — when `DATABASE_URL` (postgres://…) is set — a fresh PostgreSQL schema of
//! the test's own, made the `search_path` of every connection. Each call gives new, empty places, so
//! tests running in parallel never share one; what earlier runs left behind is removed once it is old.
//! `CI=true` without `DATABASE_URL` is an error: CI must run both backends.
//!
//! Every function returns a `Result`: the test decides how to fail.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Connection as _;

use crate::{StorageError, db};

/// Test directories and schemas older than this are left over from earlier runs: removed.
const LEFTOVER_AGE: Duration = Duration::from_secs(6 * 3600);

/// The prefix of every schema [`create_schema`] makes, and of the leftovers it drops.
const SCHEMA_PREFIX: &str = "vaxcert_test_";

/// Why a test database or directory cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestSupportError {
    /// The system's random number generator failed.
    #[error("no randomness from the system: {0}")]
    Randomness(getrandom::Error),
    /// The test directory cannot be created.
    #[error("cannot create the test directory: {0}")]
    Directory(#[from] std::io::Error),
    /// `CI=true` and `DATABASE_URL` is unset: CI must run the PostgreSQL tests too.
    #[error(
        "DATABASE_URL must be set in CI (postgres://…): the database tests run on SQLite and PostgreSQL"
    )]
    MissingDatabaseUrl,
    /// The PostgreSQL server at `DATABASE_URL` cannot be reached or refused to create the schema.
    #[error("the test PostgreSQL server: {0}")]
    Postgres(#[from] StorageError),
}

/// `n` random bytes as lowercase hex.
///
/// # Errors
/// [`TestSupportError::Randomness`].
pub fn random_hex(n: usize) -> Result<String, TestSupportError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(TestSupportError::Randomness)?;
    Ok(hex::encode(bytes))
}

/// A new, empty directory `vaxcert-tests/<label>-<pid>-<random>` under the system's temporary
/// directory, unique to this call. Directories that earlier runs left there are removed once they are
/// old.
///
/// # Errors
/// [`TestSupportError::Directory`], [`TestSupportError::Randomness`].
pub fn temp_dir(label: &str) -> Result<PathBuf, TestSupportError> {
    let root = std::env::temp_dir().join("vaxcert-tests");
    prune_old_dirs(&root);
    let dir = root.join(format!("{label}-{}-{}", std::process::id(), random_hex(8)?));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Removes the entries of `root` older than [`LEFTOVER_AGE`]; what cannot be read or removed stays.
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

/// The PostgreSQL server to test against, from `DATABASE_URL`; `None` when it is unset or empty.
///
/// # Errors
/// [`TestSupportError::MissingDatabaseUrl`] when it is unset and `CI=true`.
pub fn database_url() -> Result<Option<String>, TestSupportError> {
    database_url_from(
        std::env::var("DATABASE_URL").ok(),
        std::env::var("CI").ok().as_deref(),
    )
}

/// [`database_url`] given the values of `DATABASE_URL` and `CI`.
fn database_url_from(
    database_url: Option<String>,
    ci: Option<&str>,
) -> Result<Option<String>, TestSupportError> {
    match database_url {
        Some(url) if !url.is_empty() => Ok(Some(url)),
        _ if ci == Some("true") => Err(TestSupportError::MissingDatabaseUrl),
        _ => Ok(None),
    }
}

/// `database_url` with `schema` as the search path of every connection (libpq's `options` parameter,
/// `-c search_path=…`, which sqlx's PostgreSQL URL parser passes on).
pub fn with_search_path(database_url: &str, schema: &str) -> String {
    let separator = if database_url.contains('?') { '&' } else { '?' };
    format!("{database_url}{separator}options=-c%20search_path%3D{schema}")
}

/// Creates a new, empty schema `vaxcert_test_<unix time>_<random hex>` on the server at
/// `database_url` and returns its name. Schemas of that form that earlier runs left behind are dropped
/// once they are old.
///
/// # Errors
/// [`TestSupportError::Postgres`] when the server cannot be reached or the schema cannot be created;
/// [`TestSupportError::Randomness`].
pub async fn create_schema(database_url: &str) -> Result<String, TestSupportError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let schema = format!("{SCHEMA_PREFIX}{now}_{}", random_hex(8)?);
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .map_err(db)?;
    let existing: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, 'vaxcert_test_')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    for old in existing {
        if is_leftover(&old, now) {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {old} CASCADE"))
                .execute(&mut conn)
                .await;
        }
    }
    let created = sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .map_err(db);
    let _ = conn.close().await;
    created?;
    Ok(schema)
}

/// Whether `schema` is one [`create_schema`] made more than [`LEFTOVER_AGE`] before `now` (unix seconds).
fn is_leftover(schema: &str, now: u64) -> bool {
    schema
        .strip_prefix(SCHEMA_PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|time| time.parse::<u64>().ok())
        .is_some_and(|created| now.saturating_sub(created) > LEFTOVER_AGE.as_secs())
}

/// The URL of a fresh PostgreSQL database (a new schema as the search path) on the server at
/// `DATABASE_URL`; `None` when it is unset.
///
/// # Errors
/// As [`database_url`] and [`create_schema`].
pub async fn postgres_url() -> Result<Option<String>, TestSupportError> {
    let Some(database_url) = database_url()? else {
        return Ok(None);
    };
    let schema = create_schema(&database_url).await?;
    Ok(Some(with_search_path(&database_url, &schema)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{
        LEFTOVER_AGE, TestSupportError, database_url_from, is_leftover, postgres_url, temp_dir,
        with_search_path,
    };

    #[test]
    fn the_search_path_joins_the_url_s_own_parameters() {
        let check = |url: &str, expected: &str| assert_eq!(with_search_path(url, "s1"), expected);
        check(
            "postgres://u@h/db",
            "postgres://u@h/db?options=-c%20search_path%3Ds1",
        );
        check(
            "postgres://u@h/db?sslmode=disable",
            "postgres://u@h/db?sslmode=disable&options=-c%20search_path%3Ds1",
        );
    }

    #[test]
    fn ci_without_a_postgres_server_is_an_error() {
        let url = || Some(String::from("postgres://u@h/db"));
        assert_eq!(
            database_url_from(url(), Some("true")).unwrap(),
            url(),
            "set and in CI"
        );
        assert_eq!(database_url_from(url(), None).unwrap(), url());
        assert_eq!(database_url_from(None, None).unwrap(), None);
        assert_eq!(
            database_url_from(Some(String::new()), Some("false")).unwrap(),
            None
        );
        assert!(matches!(
            database_url_from(None, Some("true")),
            Err(TestSupportError::MissingDatabaseUrl)
        ));
        assert!(matches!(
            database_url_from(Some(String::new()), Some("true")),
            Err(TestSupportError::MissingDatabaseUrl)
        ));
    }

    #[test]
    fn only_old_test_schemas_are_leftovers() {
        let now = 2_000_000_000;
        let old = now - LEFTOVER_AGE.as_secs() - 1;
        assert!(is_leftover(&format!("vaxcert_test_{old}_ab12"), now));
        assert!(!is_leftover(&format!("vaxcert_test_{now}_ab12"), now));
        assert!(!is_leftover(&format!("other_{old}_ab12"), now));
        assert!(!is_leftover("vaxcert_test_x_ab12", now));
    }

    #[test]
    fn each_temp_dir_is_new_and_empty() {
        let first = temp_dir("storage-support").unwrap();
        let second = temp_dir("storage-support").unwrap();
        assert_ne!(first, second);
        for dir in [&first, &second] {
            assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    /// With `DATABASE_URL` set, each URL opens a schema of its own: a table made through one is not
    /// seen through the other.
    #[tokio::test]
    async fn each_postgres_url_is_a_schema_of_its_own() {
        let Some(first) = postgres_url().await.unwrap() else {
            return;
        };
        let second = postgres_url().await.unwrap().unwrap();
        let migrations: &'static [crate::Migration] = &[crate::Migration {
            version: 1,
            description: "a table",
            sql: "CREATE TABLE t (x BIGINT)",
        }];
        let one = crate::open(&first, migrations).await.unwrap();
        let other = crate::open(&second, &[]).await.unwrap();
        sqlx::query("INSERT INTO t (x) VALUES (1)")
            .execute(one.write())
            .await
            .unwrap();
        assert!(
            sqlx::query("SELECT x FROM t")
                .fetch_all(other.read())
                .await
                .is_err()
        );
        one.close().await;
        other.close().await;
    }
}
