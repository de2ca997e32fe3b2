//! `vaxcert intake`: the operator's commands on intake's database — vaccination sites, and bearer tokens
//! for sites' staff, organisations and the registry.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use intake::store::{Role, Site};

use crate::intake_node::IntakeDatabaseArgs;
use crate::output::outln;
use crate::serving::runtime;

/// Arguments of `vaxcert intake`.
#[derive(Debug, Args)]
pub struct IntakeCommandArgs {
    #[command(subcommand)]
    command: IntakeCommand,
}

#[derive(Debug, Subcommand)]
enum IntakeCommand {
    /// Adds a vaccination site.
    SiteAdd(SiteAddArgs),
    /// Creates a bearer token and prints it on stdout (the only time it is shown; the database keeps
    /// its SHA-256).
    TokenCreate(TokenCreateArgs),
}

/// Where intake's database is.
#[derive(Debug, Args)]
struct Installation {
    /// The data directory.
    #[arg(long, value_name = "DIR", env = "VAXCERT_DATA", default_value = "data")]
    data: std::path::PathBuf,
    #[command(flatten)]
    intake: IntakeDatabaseArgs,
}

#[derive(Debug, Args)]
struct SiteAddArgs {
    /// The site's code, e.g. `HN-0123`.
    code: String,
    /// The site's name.
    #[arg(long)]
    name: String,
    /// The province's administrative code.
    #[arg(long, value_name = "CODE")]
    province: String,
    /// A hospital-grade site, which may take caution cases.
    #[arg(long)]
    hospital_grade: bool,
    #[command(flatten)]
    installation: Installation,
}

#[derive(Debug, Args)]
struct TokenCreateArgs {
    /// What the token may do.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The site code (role `site`) or the organisation's name (role `organisation`); none for
    /// `registry`.
    #[arg(long, required_if_eq_any = [("role", "site"), ("role", "organisation")])]
    subject: Option<String>,
    /// Who holds it (a staff member's handle), recorded with everything it does.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    installation: Installation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RoleArg {
    /// A site's staff: capacity, rounds, check-in, screening, doses — at that site only.
    Site,
    /// An organisation: uploads its staff list.
    Organisation,
    /// The national registry: confirms attested doses.
    Registry,
}

/// Runs `vaxcert intake …`.
pub fn run(args: IntakeCommandArgs) -> Result<ExitCode> {
    runtime()?.block_on(async move {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match args.command {
            IntakeCommand::SiteAdd(site) => {
                let intake = site
                    .installation
                    .intake
                    .open(&site.installation.data)
                    .await?;
                let added = intake
                    .add_site(
                        &Site {
                            site_code: site.code.clone(),
                            name: site.name,
                            province_code: site.province,
                            hospital_grade: site.hospital_grade,
                        },
                        now,
                    )
                    .await;
                intake.close().await;
                added.with_context(|| format!("cannot add site {}", site.code))?;
                outln!("site {} added", site.code)?;
            }
            IntakeCommand::TokenCreate(token) => {
                let intake = token
                    .installation
                    .intake
                    .open(&token.installation.data)
                    .await?;
                let subject = token.subject.as_deref().unwrap_or_default();
                let (role, subject) = match token.role {
                    RoleArg::Site => (Role::Site, subject),
                    RoleArg::Organisation => (Role::Organisation, subject),
                    RoleArg::Registry => (Role::Registry, "registry"),
                };
                if role == Role::Site {
                    intake
                        .site(subject)
                        .await
                        .with_context(|| format!("no site {subject}: add it first"))?;
                }
                let created = intake.create_token(role, subject, &token.name, now).await;
                intake.close().await;
                outln!("{}", created.context("cannot create the token")?)?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
