//! `vaxcert`: the one command of the national certificate system, as a library the binary calls.
//!
//! Thin by design: it parses arguments, reads and writes files, fetches documents, and calls the libraries
//! (`hcert`, `keys`, `trust-list`, `verifier`) for everything else.

pub mod commands;
pub mod fetch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

/// Runs a parsed command line; errors print to stderr and exit with 2 (usage or I/O).
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Keys(args) => commands::keys::run(args),
        Command::TrustList(args) => commands::trust_list::run(args),
        Command::Verify(args) => commands::verify::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vaxcert: {err:#}");
            ExitCode::from(2)
        }
    }
}
