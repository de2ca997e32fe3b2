//! Intake in an installation: its database, its settings and its background workers, shared by
//! `vaxcert up`, `vaxcert serve intake` and the operator commands of `vaxcert intake`.
//!
//! ```text
//! <data>/intake.sqlite (-wal, -shm)   0600; intake's database, unless --intake-database-url / INTAKE_DATABASE_URL
//! ```
//!
//! Intake has its own database (its migrations are not the ledger's): on PostgreSQL a database or a
//! schema of its own (`…?options=-c%20search_path%3Dintake`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use intake::api::{IntakeConfig, IntakeState, system_clock};
use intake::notify::Sender;
use intake::policy::PolicyBook;
use intake::store::Intake;
use issuer::ledger::redacted_url;
use tokio::task::JoinHandle;

/// Intake's SQLite database under the data directory.
pub const INTAKE_DATABASE_FILE: &str = "intake.sqlite";

/// How often the notification outbox is emptied.
const NOTIFY_INTERVAL: Duration = Duration::from_secs(1);

/// Intake's options, for every command that opens it. `Debug` leaves out the database URL.
#[derive(Args)]
pub struct IntakeArgs {
    /// The intake database: `postgres://…` or `sqlite:PATH` (default: `<data>/intake.sqlite`).
    #[arg(
        long,
        value_name = "URL",
        env = "INTAKE_DATABASE_URL",
        hide_env_values = true
    )]
    pub intake_database_url: Option<String>,
    /// People one phone may register (themselves and relatives).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_people_per_phone: u8,
    /// Where people download their certificates, for the "certificate available" message (default:
    /// this node's `/citizen/`).
    #[arg(long, value_name = "URL")]
    pub portal_link: Option<String>,
}

impl std::fmt::Debug for IntakeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeArgs")
            .field("max_people_per_phone", &self.max_people_per_phone)
            .field("portal_link", &self.portal_link)
            .finish_non_exhaustive()
    }
}

impl IntakeArgs {
    /// The database URL: the option, else the SQLite file in `data`.
    pub fn url(&self, data: &Path) -> String {
        match self
            .intake_database_url
            .as_deref()
            .filter(|url| !url.is_empty())
        {
            Some(url) => url.to_owned(),
            None => format!("sqlite:{}", data.join(INTAKE_DATABASE_FILE).display()),
        }
    }

    /// Where the database is, for messages: no credentials.
    pub fn description(&self, data: &Path) -> String {
        match self
            .intake_database_url
            .as_deref()
            .filter(|url| !url.is_empty())
        {
            Some(url) => redacted_url(url),
            None => format!("SQLite {}", data.join(INTAKE_DATABASE_FILE).display()),
        }
    }

    /// Opens (creating and migrating as needed) the database.
    pub async fn open(&self, data: &Path) -> Result<Intake> {
        Intake::open(&self.url(data)).await.with_context(|| {
            format!(
                "cannot open the intake database ({})",
                self.description(data)
            )
        })
    }

    /// The handlers' state over `intake`, with `sender` for one-time codes; `base` is this node's URL
    /// (for the default portal link).
    pub fn state(
        &self,
        intake: Intake,
        sender: Arc<dyn Sender>,
        base: &str,
    ) -> Result<IntakeState> {
        let policies = PolicyBook::builtin().context("the built-in priority policies")?;
        Ok(IntakeState {
            intake,
            clock: system_clock(),
            sms: sender,
            policies: Arc::new(policies),
            config: Arc::new(IntakeConfig {
                max_people_per_phone: self.max_people_per_phone,
                portal_link: self
                    .portal_link
                    .clone()
                    .unwrap_or_else(|| format!("{base}/citizen/")),
                ..IntakeConfig::default()
            }),
        })
    }
}

/// Intake's background tasks; aborted when dropped.
#[derive(Debug, Default)]
pub struct Workers(Vec<JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts intake's background tasks: the notification outbox's sender.
pub fn start_workers(intake: &Intake, sender: Arc<dyn Sender>) -> Workers {
    Workers(vec![tokio::spawn(intake::notify::run(
        intake.clone(),
        sender,
        NOTIFY_INTERVAL,
    ))])
}
