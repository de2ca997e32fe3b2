//! Opening a ledger: the URL, the pools and their per-connection settings, the embedded migrations, and
//! the integrity check. A SQLite ledger's directory is created 0700 and its file 0600 before SQLite opens
//! it (SQLite gives the `-wal` and `-shm` files the mode of the database file).

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
    (
        3,
        "citizen portal",
        include_str!("../../migrations/0003_citizen_portal.sql"),
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

/// The mode of a directory the ledger creates: the owner's only.
#[cfg(unix)]
const PRIVATE_DIRECTORY_MODE: u32 = 0o700;

/// The mode of a SQLite database file the ledger creates (and so of its `-wal` and `-shm`).
#[cfg(unix)]
const PRIVATE_FILE_MODE: u32 = 0o600;

/// Query parameters whose values [`redacted_url`] shows.
const SHOWN_PARAMETERS: &[&str] = &["sslmode", "mode", "cache", "application_name"];

/// `url` fit for a message or a log line: no user name or password, and the value of every query
/// parameter but a few known harmless ones (`sslmode`, `mode`, …) replaced by `***` — a password may
/// hide in one (`?password=…`). A URL that does not parse is not shown at all.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return String::from("(a database URL that does not parse)");
    };
    let _ = parsed.set_password(None);
    let _ = parsed.set_username("");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(name, value)| {
            let shown = if SHOWN_PARAMETERS.contains(&name.as_ref()) {
                value.into_owned()
            } else {
                String::from("***")
            };
            (name.into_owned(), shown)
        })
        .collect();
    if pairs.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.set_fragment(None);
    parsed.to_string()
}

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
        create_private_directory(parent).map_err(|error| {
            LedgerError::Unavailable(format!("cannot create the database directory: {error}"))
        })?;
    }
    let explicit_mode = params.iter().find_map(|param| param.strip_prefix("mode="));
    if explicit_mode.is_none_or(|mode| mode == "rwc") {
        create_private_file(Path::new(path.as_ref())).map_err(|error| {
            LedgerError::Unavailable(format!("cannot create the database file: {error}"))
        })?;
    }
    let connect_url = if explicit_mode.is_some() {
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

/// Creates `dir` and its missing parents, 0700.
fn create_private_directory(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIRECTORY_MODE);
    builder.create(dir)
}

/// Creates the empty file `path`, 0600, unless it exists (whose mode is left as it is).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE_MODE);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
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
    use super::{MIGRATIONS, open, redacted_url};
    use crate::ledger::LedgerError;

    #[test]
    fn redacted_urls_carry_no_credentials_and_no_parameter_values() {
        let cases = [
            (
                "postgres://u:hunter2@db.example:5432/x?password=hunter2&sslmode=require",
                "postgres://db.example:5432/x?password=***&sslmode=require",
            ),
            (
                "postgresql://issuer@db/ledger?options=-csearch_path%3Dhunter2",
                "postgresql://db/ledger?options=***",
            ),
            ("postgres://db/ledger", "postgres://db/ledger"),
            (
                "sqlite:/var/lib/vaxcert/ledger.sqlite?mode=rwc",
                "sqlite:/var/lib/vaxcert/ledger.sqlite?mode=rwc",
            ),
            (
                "postgres://u:hunter2@[::1",
                "(a database URL that does not parse)",
            ),
        ];
        for (url, redacted) in cases {
            assert_eq!(redacted_url(url), redacted, "{url}");
        }
    }

    /// A refused connection's error names no credential, in `Display` or `Debug`.
    #[tokio::test]
    async fn a_failed_connection_does_not_show_the_password() {
        let Err(error) = open("postgres://u:hunter2@127.0.0.1:1/x?password=hunter2").await else {
            panic!("nothing listens on port 1");
        };
        assert!(matches!(error, LedgerError::Unavailable(_)), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }

    /// The directory SQLite's ledger is created in is 0700; the database, its `-wal` and `-shm` 0600.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_ledger_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let root = std::env::temp_dir().join(format!("issuer-modes-{}", hex::encode(random)));
        let data = root.join("data");
        let file = data.join("ledger.sqlite");
        let ledger = open(&format!("sqlite:{}", file.display())).await.unwrap();
        ledger.revocation_version().await.unwrap();
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let path = data.join(format!("ledger.sqlite{suffix}"));
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        ledger.close().await;
        std::fs::remove_dir_all(&root).unwrap();
    }

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
