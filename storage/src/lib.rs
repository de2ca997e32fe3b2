//! The services' database: SQLite or PostgreSQL through sqlx's `Any` driver, one set of embedded
//! migrations for both.
//!
//! SQLite (the embedded default) runs in WAL mode with `synchronous=FULL`: every write goes through a
//! single-connection pool (SQLite has one writer: queueing in the pool rather than in the database's lock
//! means no `SQLITE_BUSY` under concurrency) and reads through a small pool of their own (WAL readers do
//! not block the writer). PostgreSQL has one pool for both. A SQLite file is created 0600 (its `-wal` and
//! `-shm` follow) in a 0700 directory.
//!
//! Errors never carry a query parameter, a row value or a credential: [`describe`] names the failure,
//! [`redacted_url`] is how a database URL appears in any message.
//!
//! Feature `test-support`: `test_support`, fresh SQLite directories and PostgreSQL schemas for the
//! services' tests.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use sqlx::AnyPool;
use sqlx::Executor as _;
use sqlx::any::AnyPoolOptions;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, MigrationSource, MigrationType, Migrator};

#[cfg(feature = "test-support")]
pub mod test_support;

/// Which database engine a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// One migration compiled into the binary: `NNNN_description.sql` of a crate's `migrations/` folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// `NNNN`.
    pub version: i64,
    /// The file name's description, underscores as spaces.
    pub description: &'static str,
    /// The SQL (portable: TEXT and BIGINT columns, `$N` placeholders).
    pub sql: &'static str,
}

/// Why the database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL is neither `sqlite:PATH` nor `postgres://…`, or names an in-memory SQLite database.
    #[error("unsupported database URL (use sqlite:PATH or postgres://…)")]
    UnsupportedUrl,
    /// The database cannot be reached or failed: the caller answers 503.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A stored value does not decode (corruption or a newer schema).
    #[error("a stored row is malformed: {0}")]
    Corrupt(&'static str),
}

/// An open, migrated database: a writer pool and a reader pool (the same pool on PostgreSQL).
#[derive(Clone)]
pub struct Database {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// The engine.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool every writing transaction takes: a single connection on SQLite.
    pub fn write(&self) -> &AnyPool {
        &self.write
    }

    /// The pool reads take: a few connections on SQLite beside the writer.
    pub fn read(&self) -> &AnyPool {
        &self.read
    }

    /// Closes both pools, waiting for connections to finish.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    /// SQLite's `PRAGMA integrity_check` and `PRAGMA foreign_key_check`; on PostgreSQL, `SELECT 1`.
    ///
    /// # Errors
    /// [`StorageError::Corrupt`] when SQLite finds a problem; [`StorageError::Unavailable`].
    pub async fn integrity_check(&self) -> Result<(), StorageError> {
        match self.backend {
            Backend::Sqlite => {
                let answer: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_all(&self.read)
                    .await
                    .map_err(db)?;
                if answer != ["ok"] {
                    return Err(StorageError::Corrupt("PRAGMA integrity_check"));
                }
                let violations = sqlx::query("PRAGMA foreign_key_check")
                    .fetch_all(&self.read)
                    .await
                    .map_err(db)?;
                if !violations.is_empty() {
                    return Err(StorageError::Corrupt("PRAGMA foreign_key_check"));
                }
                Ok(())
            }
            Backend::Postgres => {
                sqlx::query("SELECT 1")
                    .fetch_one(&self.read)
                    .await
                    .map_err(db)?;
                Ok(())
            }
        }
    }
}

/// The migrations `NNNN_description.sql` in `dir`, as (version, description, SQL), sorted: what a
/// crate's test compares its embedded list with, so the list stays in step with the folder.
pub fn folder_migrations(dir: &Path) -> Vec<(i64, String, String)> {
    let mut files: Vec<(i64, String, String)> = std::fs::read_dir(dir)
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
    files
}

/// `migrations` as (version, description, SQL), for comparing with [`folder_migrations`].
pub fn listed_migrations(migrations: &[Migration]) -> Vec<(i64, String, String)> {
    migrations
        .iter()
        .map(|m| (m.version, m.description.to_owned(), m.sql.to_owned()))
        .collect()
}

/// Run on every SQLite connection. WAL is persistent (set once, a no-op after); the others are per
/// connection. `busy_timeout` only matters when another process writes the same file. `cache_size`:
/// up to 16 MiB of pages a connection (SQLite's default, 2 MiB, made a busy writer read most index pages
/// back from the file on every insert).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA cache_size=-16384;";

/// How long a SQLite caller waits for its connection (the writes queue for the one writer) before the
/// database answers `Unavailable`.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a PostgreSQL caller waits for a connection before the database answers `Unavailable`. sqlx
/// retries a refused connection until then, so this is also how long an outage takes to be reported:
/// well under the API's request timeout, so that the answer is a 503 and not a 408.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite read connections (WAL readers run beside the one writer).
const SQLITE_READERS: u32 = 4;

/// PostgreSQL connections, reads and writes together.
const POSTGRES_CONNECTIONS: u32 = 10;

/// The mode of a directory this crate creates: the owner's only.
#[cfg(unix)]
const PRIVATE_DIRECTORY_MODE: u32 = 0o700;

/// The mode of a SQLite database file this crate creates (and so of its `-wal` and `-shm`).
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

/// Opens the database at `url` (`sqlite:PATH` or `postgres://…`) and applies `migrations` not yet
/// applied. A SQLite database gets its directory (0700) and file (0600) created, WAL mode and
/// `synchronous=FULL`, one writer connection and a few readers; PostgreSQL one pool for both.
///
/// # Errors
/// [`StorageError::UnsupportedUrl`] (an in-memory SQLite database is refused too: each connection would
/// be a database of its own), [`StorageError::Unavailable`], [`StorageError::Migration`].
pub async fn open(url: &str, migrations: &'static [Migration]) -> Result<Database, StorageError> {
    // Idempotent (a `Once` inside).
    sqlx::any::install_default_drivers();
    if let Some(rest) = url.strip_prefix("sqlite:") {
        open_sqlite(url, rest, migrations).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        open_postgres(url, migrations).await
    } else {
        Err(StorageError::UnsupportedUrl)
    }
}

/// `url` is `sqlite:` + `rest`.
async fn open_sqlite(
    url: &str,
    rest: &str,
    migrations: &'static [Migration],
) -> Result<Database, StorageError> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, params) = match rest.split_once('?') {
        Some((path, params)) => (path, Some(params)),
        None => (rest, None),
    };
    let path = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| StorageError::UnsupportedUrl)?;
    let params: Vec<&str> = params
        .map(|params| params.split('&').collect())
        .unwrap_or_default();
    // Every connection of an in-memory database would be a database of its own.
    if path.is_empty() || path == ":memory:" || params.contains(&"mode=memory") {
        return Err(StorageError::UnsupportedUrl);
    }
    if let Some(parent) = Path::new(path.as_ref()).parent()
        && !parent.as_os_str().is_empty()
    {
        create_private_directory(parent).map_err(|error| {
            StorageError::Unavailable(format!("cannot create the database directory: {error}"))
        })?;
    }
    let explicit_mode = params.iter().find_map(|param| param.strip_prefix("mode="));
    if explicit_mode.is_none_or(|mode| mode == "rwc") {
        create_private_file(Path::new(path.as_ref())).map_err(|error| {
            StorageError::Unavailable(format!("cannot create the database file: {error}"))
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
        return Err(StorageError::Unavailable(format!(
            "SQLite refused WAL mode (journal_mode is {mode})"
        )));
    }
    if let Err(error) = migrate(&write, migrations).await {
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
    Ok(Database {
        backend: Backend::Sqlite,
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

async fn open_postgres(
    url: &str,
    migrations: &'static [Migration],
) -> Result<Database, StorageError> {
    let pool = AnyPoolOptions::new()
        .max_connections(POSTGRES_CONNECTIONS)
        .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .map_err(db)?;
    if let Err(error) = migrate(&pool, migrations).await {
        pool.close().await;
        return Err(error);
    }
    Ok(Database {
        backend: Backend::Postgres,
        write: pool.clone(),
        read: pool,
    })
}

/// A list of [`Migration`]s as sqlx's migration source.
#[derive(Debug)]
struct Embedded(&'static [Migration]);

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<Vec<sqlx::migrate::Migration>, BoxDynError>>
                + Send
                + 'static,
        >,
    > {
        let migrations = self.0;
        Box::pin(async move {
            Ok(migrations
                .iter()
                .map(|migration| {
                    sqlx::migrate::Migration::new(
                        migration.version,
                        Cow::Borrowed(migration.description),
                        MigrationType::Simple,
                        Cow::Borrowed(migration.sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// Applies the migrations not yet applied (each in a transaction; on PostgreSQL under sqlx's advisory
/// lock, so concurrent opens do not race).
async fn migrate(pool: &AnyPool, migrations: &'static [Migration]) -> Result<(), StorageError> {
    let migrator = Migrator::new(Embedded(migrations))
        .await
        .map_err(|error| StorageError::Migration(error.to_string()))?;
    migrator.run(pool).await.map_err(|error| match error {
        MigrateError::Execute(error) => StorageError::Migration(describe(&error)),
        MigrateError::ExecuteMigration(error, version) => {
            StorageError::Migration(format!("migration {version}: {}", describe(&error)))
        }
        other => StorageError::Migration(other.to_string()),
    })
}

/// A sqlx error as a [`StorageError`]: values that do not decode are corruption, everything else means
/// the database is unavailable. The message names the failure (SQLSTATE, constraint, I/O error) and
/// never a query parameter or a row value.
pub fn db(error: sqlx::Error) -> StorageError {
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StorageError::Corrupt("a column does not decode"),
        other => StorageError::Unavailable(describe(&other)),
    }
}

/// What went wrong, without data: see [`db`].
pub fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(database) => {
            let code = database.code().map(|code| code.into_owned());
            let code = code.as_deref().unwrap_or("?");
            if let Some(sqlite) = database.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                // sqlite3_errmsg: a fixed text, or one naming tables and columns, never values.
                use sqlx::error::DatabaseError as _;
                return format!("SQLite error {code}: {}", sqlite.message());
            }
            // PostgreSQL's message may quote a value (e.g. `invalid input syntax … "…"`): only the
            // classes about reaching the server, where the message is about the server, are shown.
            let reachability = ["08", "28", "3D", "53", "57", "58"];
            let mut out = format!("PostgreSQL error {code}");
            if reachability.iter().any(|class| code.starts_with(class)) {
                let _ = write!(out, ": {}", database.message());
            }
            if let Some(constraint) = database.constraint() {
                let _ = write!(out, " (constraint {constraint})");
            }
            out
        }
        sqlx::Error::Io(io) => format!("I/O error: {io}"),
        sqlx::Error::Tls(_) => "TLS error".to_owned(),
        sqlx::Error::Protocol(_) => "protocol error".to_owned(),
        sqlx::Error::Configuration(_) => "invalid database configuration".to_owned(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".to_owned(),
        sqlx::Error::PoolClosed => "the database is closed".to_owned(),
        sqlx::Error::WorkerCrashed => "the database worker crashed".to_owned(),
        sqlx::Error::RowNotFound => "an expected row is missing".to_owned(),
        sqlx::Error::AnyDriverError(_) => "unsupported by the Any driver".to_owned(),
        _ => "database error".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{StorageError, open, redacted_url};

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
        let Err(error) = open("postgres://u:hunter2@127.0.0.1:1/x?password=hunter2", &[]).await
        else {
            panic!("nothing listens on port 1");
        };
        assert!(matches!(error, StorageError::Unavailable(_)), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }

    /// The directory a SQLite database is created in is 0700; the database, its `-wal` and `-shm` 0600.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_database_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let root = std::env::temp_dir().join(format!("storage-modes-{}", hex::encode(random)));
        let data = root.join("data");
        let file = data.join("ledger.sqlite");
        let database = open(&format!("sqlite:{}", file.display()), &[])
            .await
            .unwrap();
        database.integrity_check().await.unwrap();
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for suffix in ["", "-wal", "-shm"] {
            let path = data.join(format!("ledger.sqlite{suffix}"));
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        database.close().await;
        std::fs::remove_dir_all(&root).unwrap();
    }
}
