//! Intake in an installation: its database, its settings and its background workers, shared by
//! `vaxcert up`, `vaxcert serve intake` and the operator commands of `vaxcert intake`.
//!
//! ```text
//! <data>/intake.sqlite (-wal, -shm)   0600; intake's database, unless --intake-database-url / INTAKE_DATABASE_URL
//! ```
//!
//! Intake has its own database (its migrations are not the ledger's): on PostgreSQL a database or a
//! schema of its own (`…?options=-c%20search_path%3Dintake`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use intake::api::{CodeRate, IntakeConfig, IntakeState, system_clock};
use intake::delivery::IssuerClient;
use intake::notify::Sender;
use intake::policy::PolicyBook;
use intake::store::{Intake, Role, Site};
use issuer::ledger::redacted_url;
use tokio::task::JoinHandle;

use crate::commands::keys::{SECRET_MODE, write_atomically};

/// Intake's SQLite database under the data directory.
pub const INTAKE_DATABASE_FILE: &str = "intake.sqlite";

/// The development site `vaxcert up` creates on first run (hospital-grade, province 01).
pub const DEV_SITE: &str = "DEV-0001";

/// The development site's staff token, created with it (0600).
pub const DEV_SITE_TOKEN_FILE: &str = "intake-site-staff.token";

/// The development registry token, created with the development site (0600).
pub const DEV_REGISTRY_TOKEN_FILE: &str = "intake-registry.token";

/// How often the notification outbox is emptied, the issuer outbox looked at for due deliveries and,
/// with `--registry-auto-confirm`, attested doses confirmed.
const WORKER_INTERVAL: Duration = Duration::from_secs(1);

/// How often tomorrow's appointments are looked at for reminders not yet written.
const REMINDER_INTERVAL: Duration = Duration::from_secs(60);

/// Where intake's database is, for every command that opens it. `Debug` leaves out the URL.
#[derive(Args)]
pub struct IntakeDatabaseArgs {
    /// The intake database: `postgres://…` or `sqlite:PATH` (default: `<data>/intake.sqlite`).
    #[arg(
        long,
        value_name = "URL",
        env = "INTAKE_DATABASE_URL",
        hide_env_values = true
    )]
    pub intake_database_url: Option<String>,
}

impl std::fmt::Debug for IntakeDatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeDatabaseArgs").finish_non_exhaustive()
    }
}

impl IntakeDatabaseArgs {
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
}

/// Intake's service options (`vaxcert up`, `vaxcert serve intake`).
#[derive(Args)]
pub struct IntakeArgs {
    /// Where intake's database is.
    #[command(flatten)]
    pub database: IntakeDatabaseArgs,
    /// People one phone may register (themselves and relatives).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_people_per_phone: u8,
    /// Where people download their certificates, for the "certificate available" message (default:
    /// this node's `/citizen/`).
    #[arg(long, value_name = "URL")]
    pub portal_link: Option<String>,
    /// A file holding the issuer API token intake delivers confirmed doses with (scope `issue`; default
    /// for `vaxcert up`: the development token `<data>/internal-api.token`).
    #[arg(long, value_name = "FILE", env = "VAXCERT_ISSUER_TOKEN_FILE")]
    pub issuer_token_file: Option<PathBuf>,
    /// One-time-code requests allowed per client address and minute (IPv6 by /64); 0 turns the limit off.
    #[arg(long, value_name = "N", default_value_t = CodeRate::default().per_minute)]
    pub intake_code_rate_limit: u32,
    /// One-time-code requests a client address may make at once.
    #[arg(long, value_name = "N", default_value_t = CodeRate::default().burst)]
    pub intake_code_rate_burst: u32,
    /// Confirm every attested dose automatically, as the registry would (one machine, demonstrations);
    /// otherwise the registry confirms through `POST /registry/v1/doses/{id}/confirmation`.
    #[arg(long)]
    pub registry_auto_confirm: bool,
}

impl std::fmt::Debug for IntakeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeArgs")
            .field("max_people_per_phone", &self.max_people_per_phone)
            .field("portal_link", &self.portal_link)
            .field("issuer_token_file", &self.issuer_token_file)
            .field("intake_code_rate_limit", &self.intake_code_rate_limit)
            .field("intake_code_rate_burst", &self.intake_code_rate_burst)
            .field("registry_auto_confirm", &self.registry_auto_confirm)
            .finish_non_exhaustive()
    }
}

impl IntakeArgs {
    /// The database URL ([`IntakeDatabaseArgs::url`]).
    pub fn url(&self, data: &Path) -> String {
        self.database.url(data)
    }

    /// Where the database is, for messages: no credentials.
    pub fn description(&self, data: &Path) -> String {
        self.database.description(data)
    }

    /// The client delivering confirmed doses to the issuer at `issuer_url`, with the token of
    /// `--issuer-token-file`, else of `default_token_file`.
    pub fn issuer_client(
        &self,
        issuer_url: &str,
        default_token_file: &Path,
    ) -> Result<IssuerClient> {
        let path = self
            .issuer_token_file
            .as_deref()
            .unwrap_or(default_token_file);
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the issuer API token {}", path.display()))?;
        if token.trim().is_empty() {
            bail!("{} is empty", path.display());
        }
        Ok(IssuerClient::new(issuer_url, token.trim()))
    }

    /// Opens (creating and migrating as needed) the database.
    pub async fn open(&self, data: &Path) -> Result<Intake> {
        self.database.open(data).await
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
                code_rate: CodeRate {
                    per_minute: self.intake_code_rate_limit,
                    burst: self.intake_code_rate_burst,
                },
                ..IntakeConfig::default()
            }),
        })
    }
}

/// Creates the development site [`DEV_SITE`] with a staff token and a registry token in their files,
/// unless intake has a site already; whether it did. For `vaxcert up` in development mode only: a
/// production installation adds its sites and tokens with `vaxcert intake`.
pub async fn bootstrap_dev_site(intake: &Intake, data: &Path, now: i64) -> Result<bool> {
    if !intake
        .sites()
        .await
        .context("cannot read the sites")?
        .is_empty()
    {
        return Ok(false);
    }
    let site = Site {
        site_code: DEV_SITE.to_owned(),
        name: "Điểm tiêm phát triển (development site)".to_owned(),
        province_code: "01".to_owned(),
        hospital_grade: true,
    };
    intake
        .add_site(&site, now)
        .await
        .context("cannot add the development site")?;
    for (role, subject, name, file) in [
        (
            Role::Site,
            DEV_SITE,
            "development-staff",
            DEV_SITE_TOKEN_FILE,
        ),
        (
            Role::Registry,
            "registry",
            "development-registry",
            DEV_REGISTRY_TOKEN_FILE,
        ),
    ] {
        let token = intake
            .create_token(role, subject, name, now)
            .await
            .context("cannot create a development token")?;
        write_atomically(data, file, token.as_bytes(), SECRET_MODE)
            .with_context(|| format!("cannot write {file}"))?;
    }
    Ok(true)
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

/// Starts intake's background tasks: the notification outbox's sender, the day-before reminders, the
/// issuer outbox's delivery
/// (over HTTP, with `issuer`; confirmed doses wait in the outbox without one) and, with `--registry-auto-confirm`, the registry's confirmer.
pub fn start_workers(
    args: &IntakeArgs,
    state: &IntakeState,
    sender: Arc<dyn Sender>,
    issuer: Option<IssuerClient>,
) -> Workers {
    let intake = &state.intake;
    let mut tasks = vec![
        tokio::spawn(intake::notify::run(intake.clone(), sender, WORKER_INTERVAL)),
        tokio::spawn(intake::notify::run_reminders(
            intake.clone(),
            REMINDER_INTERVAL,
        )),
    ];
    if let Some(issuer) = issuer {
        tasks.push(tokio::spawn(intake::delivery::run(
            intake.clone(),
            issuer,
            state.config.portal_link.clone(),
            WORKER_INTERVAL,
        )));
    }
    if args.registry_auto_confirm {
        tasks.push(tokio::spawn(intake::delivery::run_confirmer(
            intake.clone(),
            WORKER_INTERVAL,
        )));
    }
    Workers(tasks)
}
