//! `vaxcert`: the one command of the national certificate system.
//!
//! Thin by design: it parses arguments, reads files, and calls the libraries.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The vaxcert command line.
#[derive(Debug, Parser)]
#[command(name = "vaxcert", version, about = "EU DCC vaccination certificates: issue, verify, trust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the encrypted keystore: create the CSCA and DSC keys, rotate the DSC, list the keys.
    Keys(commands::keys::KeysArgs),
    /// Verify certificates: an HC1: string, a PNG/JPEG picture, or `-` for one input per line on stdin.
    Verify(commands::verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Keys(args) => commands::keys::run(args),
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
