//! The intake database: SQLite (embedded default) or PostgreSQL, through the workspace's `storage` crate
//! and the migrations in `intake/migrations/`.
//!
//! One submodule per area, each adding methods to [`Intake`]: [`tokens`] (staff, organisation and
//! registry bearer tokens) and [`sites`] here; registrations, scheduling, the site workflow and the
//! outboxes in theirs. Every method takes the time as an argument (`now`, unix seconds) — the clock is
//! the caller's. Writes that must not interleave (capacity reservation, a dose and its outbox row) each
//! run in one transaction.

mod lots;
pub mod notifications;
mod outbox;
mod phones;
mod registrations;
mod reminders;
mod scheduling;
mod sites;
mod tokens;
mod workflow;

use sqlx::AnyPool;
use storage::{Backend, Database, Migration, StorageError};

pub use lots::Lot;
pub use notifications::OutboxMessage;
pub use outbox::{Confirmed, Dose, OutboxEntry};
pub use phones::{CodeError, LoginError, PhoneSession};
pub use registrations::{BulkError, BulkPerson, GROUP_MAX, NewRegistration, Registration};
pub use scheduling::{Appointment, PublishedCapacity, Round, parse_day};
pub use sites::Site;
pub use tokens::{Role, TokenHolder};
pub use workflow::{Classification, DoseInput, RecordedDose, ScreeningEffect, local_day};

/// The migrations in `intake/migrations/`, compiled in. A unit test keeps the list in step with the
/// folder.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "intake",
        sql: include_str!("../../migrations/0001_intake.sql"),
    },
    Migration {
        version: 2,
        description: "registrations live by phone",
        sql: include_str!("../../migrations/0002_registrations_live_by_phone.sql"),
    },
];

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or failed: the caller answers 503.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// No such row (or not one the caller may see).
    #[error("not found")]
    NotFound,
    /// The change contradicts what is recorded.
    #[error("{0}")]
    Conflict(Conflict),
}

/// What a refused change contradicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// A site of that code exists.
    #[error("a site with that code exists")]
    DuplicateSite,
    /// The appointment's status does not allow the step (cancelled, not checked in, …).
    #[error("the appointment's status does not allow this")]
    AppointmentStatus,
    /// A dose needs a screening that left the person eligible.
    #[error("the appointment has no screening that allows a dose")]
    NotScreened,
    /// The dose number is not the appointment's.
    #[error("the dose number is not the appointment's")]
    DoseNumber,
    /// The appointment, or the person's dose of that number, has a dose recorded.
    #[error("this dose is recorded already")]
    DoseRecorded,
    /// The site holds that lot for another product than the appointment's.
    #[error("the lot is of another product")]
    LotProduct,
    /// The site has a lot of that number already.
    #[error("the site has that lot already")]
    DuplicateLot,
    /// The lot expired before the day of the dose.
    #[error("the lot has expired")]
    LotExpired,
    /// The lot has no dose left.
    #[error("the lot has no dose left")]
    LotEmpty,
    /// The dose is attested already.
    #[error("the dose is attested already")]
    AlreadyAttested,
    /// The registry confirms only attested doses.
    #[error("the dose is not attested")]
    NotAttested,
    /// The dose is confirmed already.
    #[error("the dose is confirmed already")]
    AlreadyConfirmed,
    /// The registration's group changed meanwhile.
    #[error("the registration was re-classified meanwhile")]
    Reclassified,
    /// The identity document has an active registration in the campaign.
    #[error("this identity document is already registered")]
    DuplicateDocument,
    /// The phone manages as many people as it may.
    #[error("this phone already manages the most people it may")]
    PhoneFull,
    /// The registration is vaccinated or already cancelled.
    #[error("the registration can no longer be cancelled")]
    NotCancellable,
    /// The product is not one intake schedules.
    #[error("unknown vaccine product")]
    UnknownProduct,
    /// The session is neither `morning` nor `afternoon`.
    #[error("the session is morning or afternoon")]
    UnknownSession,
    /// The day is not `YYYY-MM-DD`.
    #[error("the day is not YYYY-MM-DD")]
    InvalidDay,
    /// The round has run already (a round runs once).
    #[error("the round has already run")]
    RoundAlreadyRun,
    /// The appointment is not open (invited or confirmed) any more.
    #[error("the appointment is no longer open")]
    AppointmentClosed,
    /// A check-in on another day than the appointment's (the day in Viet Nam).
    #[error("the appointment is for {day}, not today")]
    NotToday {
        /// The appointment's day.
        day: time::Date,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Storage(storage::db(error))
    }
}

/// The intake database.
#[derive(Debug, Clone)]
pub struct Intake {
    database: Database,
    registration_writer: registrations::GroupWriter,
}

impl Intake {
    /// Opens (creating and migrating as needed) the database at `url`: `sqlite:PATH` or `postgres://…`.
    ///
    /// # Errors
    /// [`StorageError`] when the URL is unsupported, the database unreachable or a migration fails.
    pub async fn open(url: &str) -> Result<Intake, StorageError> {
        Ok(Intake {
            database: storage::open(url, MIGRATIONS).await?,
            registration_writer: registrations::GroupWriter::default(),
        })
    }

    /// The engine.
    pub fn backend(&self) -> Backend {
        self.database.backend()
    }

    /// Closes the pools.
    pub async fn close(&self) {
        self.database.close().await;
    }

    /// Whether the database answers (`SELECT 1`), for `/healthz`.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.read()).await?;
        Ok(())
    }

    /// The pool every writing transaction takes (one connection on SQLite).
    pub(crate) fn write(&self) -> &AnyPool {
        self.database.write()
    }

    /// The pool reads take.
    pub(crate) fn read(&self) -> &AnyPool {
        self.database.read()
    }
}

/// A new random id: 16 bytes as lowercase hex.
///
/// # Errors
/// [`StoreError::Storage`] when the system has no randomness.
pub(crate) fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| {
        StoreError::Storage(StorageError::Unavailable(
            "the system's random number generator failed".to_owned(),
        ))
    })?;
    Ok(hex::encode(bytes))
}

/// SHA-256 of `secret`, lowercase hex: how tokens and codes are stored.
pub(crate) fn secret_hash(secret: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A fresh SQLite database per test, in a directory of its own.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::Intake;

    /// A fresh SQLite intake database.
    pub async fn sqlite() -> Intake {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).unwrap();
        let dir = std::env::temp_dir().join("vaxcert-tests").join(format!(
            "intake-{}-{}",
            std::process::id(),
            hex::encode(random)
        ));
        Intake::open(&format!("sqlite:{}", dir.join("intake.sqlite").display()))
            .await
            .expect("open a fresh SQLite intake database")
    }
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    /// Every `NNNN_name.sql` in `intake/migrations/` is compiled in, under its version and name.
    #[test]
    fn embedded_migrations_match_the_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        assert_eq!(
            storage::folder_migrations(&dir),
            storage::listed_migrations(MIGRATIONS)
        );
    }
}
