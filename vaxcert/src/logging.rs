//! Log output of the long-running commands: `RUST_LOG` filters (default `info`), lines to stderr —
//! human-readable (colour only on a terminal) or one JSON object a line (`--log-format json` /
//! `VAXCERT_LOG_FORMAT=json`) for a log collector. Either way no line carries a name, a date of birth,
//! a UVCI or a token: the events themselves never hold one.

use clap::{Args, ValueEnum};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, `fields` (with `message`).
    Json,
}

/// The logging options of the long-running commands.
#[derive(Debug, Clone, Copy, Args)]
pub struct LogArgs {
    /// The format of the log lines on stderr.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        env = "VAXCERT_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

/// Installs the log subscriber writing `format` once; later calls do nothing.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}
