//! `vaxcert`: the one command of the national certificate system, as a library the binary calls.
//!
//! Thin by design: it parses arguments, reads and writes files, fetches documents, and calls the libraries
//! (`hcert`, `keys`, `trust-list`, `verifier`) for everything else.

pub mod citizen_portal;
pub mod commands;
pub mod config;
pub mod fetch;
pub mod intake_node;
pub mod logging;
pub mod node;
pub mod node_health;
mod output;
pub mod serving;
pub mod trust;
pub mod value_sets;
pub mod verifier_service;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// The vaxcert command line.
#[derive(Debug, Parser)]
#[command(
    name = "vaxcert",
    version,
    about = "EU DCC vaccination certificates: issue, verify, trust"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the encrypted keystore: create the CSCA and DSC keys, rotate the DSC, list the keys.
    Keys(commands::keys::KeysArgs),
    /// Publish the signed national trust list, its gateway and anchor views, and the revocation list.
    TrustList(commands::trust_list::TrustListArgs),
    /// Verify certificates: an HC1: string, a PNG/JPEG picture, or `-` for one input per line on stdin.
    Verify(commands::verify::VerifyArgs),
    /// Run the system on this machine: the issuer's internal API, the trust-list documents and the
    /// verifier service.
    Up(commands::up::UpArgs),
    /// Run one service alone, for production: `serve verifier` (the verifier on lists kept fresh from
    /// their URLs), `serve issuer` (the internal API), `serve trust-list` (the published documents).
    Serve(commands::serve::ServeArgs),
    /// Manage bearer tokens of the issuer's internal API.
    Tokens(commands::tokens::TokensArgs),
    /// Intake's operator commands: vaccination sites, and tokens for sites, organisations and the registry.
    Intake(commands::intake::IntakeCommandArgs),
    /// Revoke a certificate: its hashes go on the next revocation list.
    Revoke(commands::revoke::RevokeArgs),
    /// Re-sign certificates that expire soon (new UVCI, the old one superseded).
    Renew(commands::renew::RenewArgs),
    /// Issue certificates in bulk from a JSON-lines file of dose confirmations (resumable).
    Issue(commands::issue::IssueArgs),
}

/// Parses the command line `args` (program name first), with the configuration file of `--config` /
/// `$VAXCERT_CONFIG` applied under the flags and environment variables ([`config`]). A usage error (or
/// `--help`, `--version`) is printed, and its exit code returned as the error.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, ExitCode> {
    let args: Vec<OsString> = args.into_iter().collect();
    let command = Cli::command();
    // Options the file gives may be missing from the command line: a first, lenient parse only finds
    // the subcommand, `--config` and what was given; the final parse reports what is still wrong.
    let parsed = match command.clone().try_get_matches_from(&args) {
        Ok(parsed) => parsed,
        Err(error)
            if matches!(
                error.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            return Err(usage(error));
        }
        Err(_) => command
            .clone()
            .ignore_errors(true)
            .try_get_matches_from(&args)
            .map_err(usage)?,
    };
    let given = args.len();
    let args = config::apply(&command, &parsed, args).map_err(|error| {
        eprintln!("vaxcert: {error:#}");
        ExitCode::from(2)
    })?;
    let from_file = args.len() > given;
    let matches = command.try_get_matches_from(args).map_err(|error| {
        if from_file {
            eprintln!(
                "vaxcert: options were added from the configuration file (--config / ${})",
                config::CONFIG_ENV
            );
        }
        usage(error)
    })?;
    Cli::from_arg_matches(&matches).map_err(usage)
}

/// Prints a clap error (or help) and gives its exit code.
fn usage(error: clap::Error) -> ExitCode {
    let _ = error.print();
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}

/// Runs a parsed command line; errors print to stderr and exit with 2 (usage or I/O). A closed stdout
/// (`vaxcert … | head`) is no error: the command stops there, quietly, with 0.
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Keys(args) => commands::keys::run(args),
        Command::TrustList(args) => commands::trust_list::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Up(args) => commands::up::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Tokens(args) => commands::tokens::run(args),
        Command::Intake(args) => commands::intake::run(args),
        Command::Revoke(args) => commands::revoke::run(args),
        Command::Renew(args) => commands::renew::run(args),
        Command::Issue(args) => commands::issue::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) if output::is_stdout_closed(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("vaxcert: {err:#}");
            ExitCode::from(2)
        }
    }
}
