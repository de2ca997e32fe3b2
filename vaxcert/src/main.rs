//! The `vaxcert` binary: parse the command line (and the configuration file), run it.

use std::process::ExitCode;

fn main() -> ExitCode {
    match vaxcert::parse(std::env::args_os()) {
        Ok(cli) => vaxcert::run(cli),
        Err(code) => code,
    }
}
