//! Opening a ledger: the embedded migrations over the workspace's `storage` crate (SQLite or PostgreSQL,
//! the pools, the per-connection settings, private file modes).

use storage::Migration;

use super::rows::db;
use super::{Ledger, LedgerBackend, LedgerError};

/// The migrations in `issuer/migrations/`, compiled in. A unit test keeps the list in step with the
/// folder.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "ledger",
        sql: include_str!("../../migrations/0001_ledger.sql"),
    },
    Migration {
        version: 2,
        description: "corrections",
        sql: include_str!("../../migrations/0002_corrections.sql"),
    },
    Migration {
        version: 3,
        description: "citizen portal",
        sql: include_str!("../../migrations/0003_citizen_portal.sql"),
    },
];

impl From<storage::StorageError> for LedgerError {
    fn from(error: storage::StorageError) -> Self {
        match error {
            storage::StorageError::UnsupportedUrl => LedgerError::UnsupportedUrl,
            storage::StorageError::Unavailable(why) => LedgerError::Unavailable(why),
            storage::StorageError::Migration(why) => LedgerError::Migration(why),
            storage::StorageError::Corrupt(what) => LedgerError::Corrupt(what),
        }
    }
}

/// See [`Ledger::open`].
pub(super) async fn open(url: &str) -> Result<Ledger, LedgerError> {
    let database = storage::open(url, MIGRATIONS).await?;
    Ok(Ledger {
        backend: database.backend(),
        write: database.write().clone(),
        read: database.read().clone(),
    })
}

/// See [`Ledger::integrity_check`]: on PostgreSQL, the ledger's own counter row must be there.
pub(super) async fn integrity_check(ledger: &Ledger) -> Result<(), LedgerError> {
    match ledger.backend {
        LedgerBackend::Sqlite => {
            let answer: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&ledger.read)
                .await
                .map_err(db)?;
            if answer != ["ok"] {
                return Err(LedgerError::Corrupt("PRAGMA integrity_check"));
            }
            let violations = sqlx::query("PRAGMA foreign_key_check")
                .fetch_all(&ledger.read)
                .await
                .map_err(db)?;
            if !violations.is_empty() {
                return Err(LedgerError::Corrupt("PRAGMA foreign_key_check"));
            }
            Ok(())
        }
        LedgerBackend::Postgres => {
            sqlx::query("SELECT value FROM counters WHERE name = 'audit_seq'")
                .fetch_one(&ledger.read)
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
        assert_eq!(
            storage::folder_migrations(&dir),
            storage::listed_migrations(MIGRATIONS)
        );
    }
}
