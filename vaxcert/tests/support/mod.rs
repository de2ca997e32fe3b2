//! What the binary's end-to-end tests share: the binary, the value sets, fresh folders and a clean command.

#![allow(dead_code, clippy::unwrap_used)]

pub mod browser;
pub mod running;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `vaxcert` binary under test.
pub const VAXCERT: &str = env!("CARGO_BIN_EXE_vaxcert");

/// The EU value sets, or `None` (with a message) when `DCC_SPEC_DIR` is unset; a failure in CI.
pub fn value_sets() -> Option<PathBuf> {
    let Some(spec) = std::env::var_os("DCC_SPEC_DIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "DCC_SPEC_DIR must be set in CI"
        );
        eprintln!("skipped: DCC_SPEC_DIR is not set");
        return None;
    };
    Some(PathBuf::from(spec).join("eu-dcc-valuesets"))
}

/// A path of this test's own under the temporary folder (the tests run in parallel), not yet created.
pub fn temp_dir(name: &str) -> PathBuf {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let dir = std::env::temp_dir().join(format!("vaxcert-{name}-{}", hex::encode(bytes)));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `vaxcert` with a clean environment for the data directory's own SQLite ledger and dev passphrase.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(VAXCERT);
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("INTAKE_DATABASE_URL")
        .env_remove("VAXCERT_KEYSTORE_PASSPHRASE")
        .env("RUST_LOG", "info");
    command
}

/// The output of a command that must have succeeded (its stdout and stderr shown if not).
pub fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// An HTTP client that hands back error statuses as answers (the tests assert them).
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// Today in Viet Nam (UTC+7): the day sites publish capacity for and check people in on.
pub fn today_in_viet_nam() -> time::Date {
    let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap();
    time::OffsetDateTime::now_utc().to_offset(offset).date()
}

/// `text` percent-encoded for a URL path segment (every byte but ASCII letters and digits).
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
