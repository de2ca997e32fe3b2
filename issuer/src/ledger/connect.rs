//! Opening a ledger: the URL, the pools and their per-connection settings, the embedded migrations, and
//! the integrity check.

use std::borrow::Cow;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use sqlx::AnyPool;
use sqlx::Executor as _;
use sqlx::any::AnyPoolOptions;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

use super::rows::{db, describe};
use super::{Ledger, LedgerBackend, LedgerError};

/// The migrations in `issuer/migrations/`, compiled in: (version, description, SQL). The same list
/// `sqlx::migrate!("./migrations")` would build (same checksums); a unit test keeps it in step with the
/// folder.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "ledger",
        include_str!("../../migrations/0001_ledger.sql"),
    ),
    (
        2,
        "corrections",
        include_str!("../../migrations/0002_corrections.sql"),
    ),
];

/// Run on every SQLite connection. WAL is persistent (set once, a no-op after); the others are per
/// connection. `busy_timeout` only matters when another process writes the same file.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";

/// How long a SQLite caller waits for its connection (the writes queue for the one writer) before the
/// ledger answers `Unavailable`.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a PostgreSQL caller waits for a connection before the ledger answers `Unavailable`. sqlx
/// retries a refused connection until then, so this is also how long an outage takes to be reported:
/// well under the API's request timeout, so that the answer is a 503 and not a 408.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite read connections (WAL readers run beside the one writer).
const SQLITE_READERS: u32 = 4;

/// PostgreSQL connections, reads and writes together.
const POSTGRES_CONNECTIONS: u32 = 10;

/// See [`Ledger::open`].
pub(super) async fn open(url: &str) -> Result<Ledger, LedgerError> {
    // Idempotent (a `Once` inside).
    sqlx::any::install_default_drivers();
    if let Some(rest) = url.strip_prefix("sqlite:") {
        open_sqlite(url, rest).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        open_postgres(url).await
    } else {
        Err(LedgerError::UnsupportedUrl)
    }
}

/// `url` is `sqlite:` + `rest`.
async fn open_sqlite(url: &str, rest: &str) -> Result<Ledger, LedgerError> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, params) = match rest.split_once('?') {
        Some((path, params)) => (path, Some(params)),
        None => (rest, None),
    };
    let path = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| LedgerError::UnsupportedUrl)?;
    let params: Vec<&str> = params
        .map(|params| params.split('&').collect())
        .unwrap_or_default();
    // Every connection of an in-memory database would be a database of its own.
    if path.is_empty() || path == ":memory:" || params.contains(&"mode=memory") {
        return Err(LedgerError::UnsupportedUrl);
    }
    if let Some(parent) = Path::new(path.as_ref()).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|error| {
            LedgerError::Unavailable(format!("cannot create the database directory: {error}"))
        })?;
    }
    let connect_url = if params.iter().any(|param| param.starts_with("mode=")) {
        url.to_owned()
    } else if params.is_empty() {
        format!("{url}?mode=rwc")
    } else {
        format!("{url}&mode=rwc")
    };

    // The writer first, alone: it creates the file, switches it to WAL and migrates it.
    let write = sqlite_pool(1).connect(&connect_url).await.map_err(db)?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&write)
        .await
        .map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        write.close().await;
        return Err(LedgerError::Unavailable(format!(
            "SQLite refused WAL mode (journal_mode is {mode})"
        )));
    }
    if let Err(error) = migrate(&write).await {
        write.close().await;
        return Err(error);
    }
    let read = match sqlite_pool(SQLITE_READERS).connect(&connect_url).await {
        Ok(read) => read,
        Err(error) => {
            write.close().await;
            return Err(db(error));
        }
    };
    Ok(Ledger {
        backend: LedgerBackend::Sqlite,
        write,
        read,
    })
}

/// A SQLite pool of `max` connections, each set up with [`SQLITE_PRAGMAS`].
fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(SQLITE_ACQUIRE_TIMEOUT)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        })
}

async fn open_postgres(url: &str) -> Result<Ledger, LedgerError> {
    let pool = AnyPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .map_err(db)?;
    if let Err(error) = migrate(&pool).await {
        pool.close().await;
        return Err(error);
    }
    Ok(Ledger {
        backend: LedgerBackend::Postgres,
        write: pool.clone(),
        read: pool,
    })
}

/// [`MIGRATIONS`] as a migration source.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Applies the migrations not yet applied (each in a transaction; on PostgreSQL under sqlx's advisory
/// lock, so concurrent opens do not race).
async fn migrate(pool: &AnyPool) -> Result<(), LedgerError> {
    let migrator = Migrator::new(Embedded)
        .await
        .map_err(|error| LedgerError::Migration(error.to_string()))?;
    migrator.run(pool).await.map_err(|error| match error {
        MigrateError::Execute(error) => LedgerError::Migration(describe(&error)),
        MigrateError::ExecuteMigration(error, version) => {
            LedgerError::Migration(format!("migration {version}: {}", describe(&error)))
        }
        other => LedgerError::Migration(other.to_string()),
    })
}

/// See [`Ledger::integrity_check`].
pub(super) async fn integrity_check(
    backend: LedgerBackend,
    pool: &AnyPool,
) -> Result<(), LedgerError> {
    match backend {
        LedgerBackend::Sqlite => {
            let answer: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(pool)
                .await
                .map_err(db)?;
            if answer != ["ok"] {
                return Err(LedgerError::Corrupt("PRAGMA integrity_check"));
            }
            let violations = sqlx::query("PRAGMA foreign_key_check")
                .fetch_all(pool)
                .await
                .map_err(db)?;
            if !violations.is_empty() {
                return Err(LedgerError::Corrupt("PRAGMA foreign_key_check"));
            }
            Ok(())
        }
        LedgerBackend::Postgres => {
            sqlx::query("SELECT value FROM counters WHERE name = 'audit_seq'")
                .fetch_one(pool)
                .await
                .map_err(db)?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    /// Every `NNNN_name.sql` in `issuer/migrations/` is compiled in, under its version and name.
    #[test]
    fn embedded_migrations_match_the_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String, String)> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".sql")?;
                let (version, description) = stem.split_once('_')?;
                let sql = std::fs::read_to_string(entry.path()).ok()?;
                Some((version.parse().ok()?, description.replace('_', " "), sql))
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String, String)> = MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| (version, description.to_owned(), sql.to_owned()))
            .collect();
        assert_eq!(files, embedded);
    }
}
