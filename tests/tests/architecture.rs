//! The architecture invariants of ARCHITECTURE.md, checked against `cargo metadata`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Normal (non-dev, non-build) dependencies of every workspace package, by package name.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let deps = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| dep["kind"].is_null())
                .map(|dep| dep["name"].as_str().unwrap().to_owned())
                .collect();
            (package["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

const WORKSPACE_CRATES: &[&str] = &[
    "hcert",
    "keys",
    "trust-list",
    "verifier",
    "storage",
    "issuer",
    "intake",
    "vaxcert",
];
const LIBRARIES: &[&str] = &["hcert", "keys", "trust-list", "verifier"];
const SERVICE_ONLY: &[&str] = &["axum", "sqlx", "tokio", "reqwest", "hyper", "clap"];

#[test]
fn hcert_and_keys_depend_on_no_workspace_crate() {
    let deps = dependencies();
    for krate in ["hcert", "keys"] {
        let internal: Vec<_> = deps[krate]
            .iter()
            .filter(|d| WORKSPACE_CRATES.contains(&d.as_str()))
            .collect();
        assert!(internal.is_empty(), "{krate} depends on {internal:?}");
    }
}

#[test]
fn verifier_never_depends_on_issuer_or_intake() {
    let deps = dependencies();
    assert!(deps.contains_key("verifier"));
    for forbidden in ["issuer", "intake", "vaxcert"] {
        assert!(
            !deps["verifier"].contains(forbidden),
            "verifier depends on {forbidden}"
        );
    }
}

/// Intake reaches the issuer only over HTTP (the same API a real registry calls): it depends on no crate
/// of the issuance path, and the issuer knows nothing of intake.
#[test]
fn intake_reaches_the_issuer_only_over_http() {
    let deps = dependencies();
    assert!(deps.contains_key("intake"));
    for forbidden in [
        "issuer",
        "verifier",
        "trust-list",
        "keys",
        "hcert",
        "vaxcert",
    ] {
        assert!(
            !deps["intake"].contains(forbidden),
            "intake depends on {forbidden}"
        );
    }
    assert!(
        !deps["issuer"].contains("intake"),
        "issuer depends on intake"
    );
}

#[test]
fn libraries_do_no_io_of_their_own() {
    let deps = dependencies();
    for library in LIBRARIES.iter().filter(|l| deps.contains_key(**l)) {
        for forbidden in SERVICE_ONLY {
            assert!(
                !deps[*library].contains(*forbidden),
                "{library} depends on {forbidden}"
            );
        }
    }
}
