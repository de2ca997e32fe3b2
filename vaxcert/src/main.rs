//! The `vaxcert` binary: parse the command line, run it.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    vaxcert::run(vaxcert::Cli::parse())
}
