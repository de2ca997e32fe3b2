//! The configuration file of the long-running commands (`vaxcert up`, `vaxcert serve …`): `--config FILE`
//! or `$VAXCERT_CONFIG`, TOML whose keys are the command's long flags with `_` for `-`:
//!
//! ```toml
//! listen = "127.0.0.1:8081"
//! trust_list = "https://issuer.example/trust-list"
//! trust_list_key = "/etc/vaxcert/trust-list-signer.pub.pem"
//! dsc_list = ["/var/lib/vaxcert/de-dscs.json"]
//! refresh_every = "5m"
//! log_format = "json"
//! ```
//!
//! A flag wins over its environment variable, which wins over the file, which wins over the default. The
//! mapping is generic: whatever the command's `clap` definition says is its flags is what the file may
//! set — a new flag gets its key for free — and every value goes through the same parser as the flag.
//! A key that is no flag of the command is an error naming it. Secrets are never read from the file: a
//! key naming a passphrase or a token is refused unless it is a `…_file` path to one.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, Command};

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "VAXCERT_CONFIG";

/// The largest configuration file read, bytes.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The `--config` option of the long-running commands.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// A TOML configuration file whose keys are the long flags with `_` for `-` (`listen = "…"`,
    /// `dsc_list = ["…"]`); a flag or an environment variable wins over it.
    #[arg(long, value_name = "FILE", env = CONFIG_ENV)]
    pub config: Option<PathBuf>,
}

/// The command line `args` (program name first) with the configuration file applied: when the
/// subcommand given has a `--config` (or `$VAXCERT_CONFIG`) naming a file, every option of the file that
/// was given neither as a flag nor through its environment variable is added to the command line as
/// `--flag=value`, to be parsed again by `command`. Without a configuration file, `args` unchanged.
///
/// # Errors
/// The file cannot be read or is not TOML; a key is no flag of the subcommand, names a secret, or has a
/// value of the wrong shape (a table, a list for a flag taken once).
pub fn apply(
    command: &Command,
    matches: &ArgMatches,
    args: Vec<OsString>,
) -> Result<Vec<OsString>> {
    let mut command = command;
    let mut matches = matches;
    while let Some((name, sub_matches)) = matches.subcommand() {
        let Some(sub_command) = command.find_subcommand(name) else {
            break;
        };
        command = sub_command;
        matches = sub_matches;
    }
    let has_config = command
        .get_arguments()
        .any(|arg| arg.get_id().as_str() == "config");
    let Some(path) = has_config
        .then(|| matches.try_get_one::<PathBuf>("config").ok().flatten())
        .flatten()
    else {
        return Ok(args);
    };
    let text = read_config(path)?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("the configuration file {} is not TOML", path.display()))?;
    let mut args = args;
    for (key, value) in &table {
        let extra = flags_for(command, matches, key, value)
            .with_context(|| format!("the configuration file {}", path.display()))?;
        args.extend(extra);
    }
    Ok(args)
}

fn read_config(path: &std::path::Path) -> Result<String> {
    let metadata = std::fs::metadata(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    if metadata.len() > MAX_CONFIG_BYTES {
        bail!(
            "the configuration file {} is larger than {MAX_CONFIG_BYTES} bytes",
            path.display()
        );
    }
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))
}

/// The command-line words for `key = value`, none when a flag or an environment variable gave it.
fn flags_for(
    command: &Command,
    matches: &ArgMatches,
    key: &str,
    value: &toml::Value,
) -> Result<Vec<OsString>> {
    let long = key.replace('_', "-");
    let arg = command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(long.as_str()))
        .filter(|arg| !matches!(arg.get_id().as_str(), "config" | "help" | "version"))
        .filter(|_| !key.contains('-'));
    let Some(arg) = arg else {
        bail!(
            "unknown key `{key}`: not an option of `{}`",
            command.get_name()
        );
    };
    if is_secret(key) {
        bail!(
            "`{key}` is a secret and is never read from a file: give the path of a file holding it"
        );
    }
    let explicit = matches!(
        matches.value_source(arg.get_id().as_str()),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    );
    if explicit {
        return Ok(Vec::new());
    }
    let flag = format!("--{long}");
    match (arg.get_action(), value) {
        (ArgAction::SetTrue, toml::Value::Boolean(set)) => {
            Ok(if *set { vec![flag.into()] } else { Vec::new() })
        }
        (ArgAction::SetTrue | ArgAction::SetFalse, _) => {
            bail!("`{key}` takes true or false")
        }
        (ArgAction::Append, toml::Value::Array(values)) => values
            .iter()
            .map(|value| scalar(key, value).map(|text| format!("{flag}={text}").into()))
            .collect(),
        (_, toml::Value::Array(_)) => bail!("`{key}` takes one value, not a list"),
        (_, value) => Ok(vec![format!("{flag}={}", scalar(key, value)?).into()]),
    }
}

/// A single value as the flag would take it.
fn scalar(key: &str, value: &toml::Value) -> Result<String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Float(number) => Ok(number.to_string()),
        toml::Value::Boolean(set) => Ok(set.to_string()),
        toml::Value::Datetime(at) => Ok(at.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            bail!("`{key}` takes a string, a number or a boolean")
        }
    }
}

/// Whether `key` would carry a secret itself rather than the path of a file holding one.
fn is_secret(key: &str) -> bool {
    let secret = ["passphrase", "password", "token", "secret"]
        .iter()
        .any(|word| key.contains(word));
    secret && !key.ends_with("_file")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, CommandFactory as _};

    fn command() -> Command {
        Command::new("vaxcert").subcommand(
            Command::new("serve")
                .arg(
                    Arg::new("listen")
                        .long("listen")
                        .env("VAXCERT_TEST_LISTEN_UNSET")
                        .default_value("127.0.0.1:1"),
                )
                .arg(
                    Arg::new("dsc_lists")
                        .long("dsc-list")
                        .action(ArgAction::Append),
                )
                .arg(
                    Arg::new("verbose")
                        .long("verbose")
                        .action(ArgAction::SetTrue),
                )
                .arg(Arg::new("operator_token_file").long("operator-token-file"))
                .arg(Arg::new("operator_token").long("operator-token"))
                .arg(
                    Arg::new("config")
                        .long("config")
                        .value_parser(clap::value_parser!(PathBuf)),
                ),
        )
    }

    fn applied(file: &str, words: &[&str]) -> Result<Vec<String>> {
        let dir = std::env::temp_dir().join(format!(
            "vaxcert-config-unit-{}-{}",
            std::process::id(),
            words.len() + file.len()
        ));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.toml", file.len()));
        std::fs::write(&path, file)?;
        let mut args: Vec<OsString> = ["vaxcert", "serve", "--config"]
            .iter()
            .map(OsString::from)
            .collect();
        args.push(path.clone().into_os_string());
        args.extend(words.iter().map(OsString::from));
        let command = command();
        let matches = command.clone().try_get_matches_from(&args)?;
        let out = apply(&command, &matches, args)?;
        let _ = std::fs::remove_file(&path);
        Ok(out
            .iter()
            .skip(4 + words.len())
            .map(|word| word.to_string_lossy().into_owned())
            .collect())
    }

    #[test]
    fn file_values_fill_only_what_the_command_line_left_to_the_default() {
        let file =
            "listen = \"127.0.0.1:9\"\ndsc_list = [\"a.json\", \"b.json\"]\nverbose = true\n";
        assert_eq!(
            applied(file, &[]).unwrap_or_default(),
            [
                "--dsc-list=a.json",
                "--dsc-list=b.json",
                "--listen=127.0.0.1:9",
                "--verbose"
            ]
        );
        assert_eq!(
            applied(file, &["--listen", "127.0.0.1:7"]).unwrap_or_default(),
            ["--dsc-list=a.json", "--dsc-list=b.json", "--verbose"]
        );
    }

    #[test]
    fn unknown_keys_secrets_and_wrong_shapes_are_errors_naming_the_key() {
        for (file, named) in [
            ("lisen = \"x\"", "`lisen`"),
            ("dsc-list = [\"a\"]", "`dsc-list`"),
            ("config = \"other.toml\"", "`config`"),
            ("operator_token = \"s3cret\"", "`operator_token`"),
            ("listen = [\"a\", \"b\"]", "`listen`"),
            ("verbose = \"yes\"", "`verbose`"),
            ("[listen]\nport = 1", "`listen`"),
        ] {
            let error = applied(file, &[]).map(|_| ()).unwrap_err();
            let message = format!("{error:#}");
            assert!(message.contains(named), "{file}: {message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
        assert_eq!(
            applied("operator_token_file = \"/run/token\"", &[]).unwrap_or_default(),
            ["--operator-token-file=/run/token"]
        );
    }

    #[test]
    fn every_long_running_command_takes_a_config_file() {
        let cli = crate::Cli::command();
        for path in [
            &["up"][..],
            &["serve", "verifier"],
            &["serve", "issuer"],
            &["serve", "trust-list"],
        ] {
            let mut command = &cli;
            for name in path {
                command = command.find_subcommand(name).unwrap_or(command);
            }
            assert!(
                command
                    .get_arguments()
                    .any(|arg| arg.get_long() == Some("config")),
                "{path:?}"
            );
        }
    }
}
