//! Real DSCs: every `TESTCTX.CERTIFICATE` of the EU conformance vectors must parse.
//!
//! The vectors are not in the repository: they are read from `$DCC_TESTDATA_DIR/dgc-testdata/`, a checkout
//! of github.com/eu-digital-green-certificates/dgc-testdata (the commit is in the README): every
//! `*/2DCode/raw/*.json`, whose `TESTCTX.CERTIFICATE` holds the DSC as base64 DER. They include the
//! non-DER certificates real issuers produced (FI's explicit `cA=FALSE`, CO15's empty extended key usage).
//!
//! Without `DCC_TESTDATA_DIR` the test prints why and passes; under CI (`CI` set) missing data fails it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use keys::{Certificate, DscUsage, KeyType};
use serde_json::Value;

/// `$DCC_TESTDATA_DIR/dgc-testdata`, or `None` (after saying so) when it is not configured outside CI.
fn dgc_testdata() -> Option<PathBuf> {
    let in_ci = std::env::var_os("CI").is_some();
    let Some(dir) = std::env::var_os("DCC_TESTDATA_DIR") else {
        assert!(!in_ci, "DCC_TESTDATA_DIR must be set in CI");
        eprintln!("skipped: DCC_TESTDATA_DIR is not set");
        return None;
    };
    let path = Path::new(&dir).join("dgc-testdata");
    if !path.is_dir() {
        assert!(!in_ci, "{} is missing", path.display());
        eprintln!("skipped: {} is missing", path.display());
        return None;
    }
    Some(path)
}

/// Every `2DCode/raw/*.json` below `dir`, sorted.
fn raw_vectors(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            raw_vectors(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "json")
            && path
                .parent()
                .is_some_and(|parent| parent.ends_with("2DCode/raw"))
        {
            found.push(path);
        }
    }
}

fn usage_name(usage: &DscUsage) -> String {
    match usage {
        DscUsage::Any => "any".to_owned(),
        DscUsage::Only {
            test,
            vaccination,
            recovery,
        } => {
            let kinds: Vec<&str> = [(*test, "t"), (*vaccination, "v"), (*recovery, "r")]
                .into_iter()
                .filter_map(|(present, code)| present.then_some(code))
                .collect();
            format!("only {}", kinds.join("+"))
        }
        _ => format!("{usage:?}"),
    }
}

#[test]
fn every_testctx_certificate_parses() {
    let Some(root) = dgc_testdata() else { return };
    let mut vectors = Vec::new();
    raw_vectors(&root, &mut vectors);
    assert!(
        vectors.len() > 100,
        "only {} vectors under {}",
        vectors.len(),
        root.display()
    );

    let mut failures = Vec::new();
    let mut without_certificate = Vec::new();
    let mut by_key_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_usage: BTreeMap<String, usize> = BTreeMap::new();
    let mut parsed = 0;
    for path in &vectors {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let json: Value = serde_json::from_slice(&std::fs::read(path).unwrap())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let Some(text) = json.pointer("/TESTCTX/CERTIFICATE").and_then(Value::as_str) else {
            without_certificate.push(name);
            continue;
        };
        match Certificate::parse_any(text.as_bytes()) {
            Ok(certificate) => {
                parsed += 1;
                let key_type = match certificate.key_type() {
                    KeyType::Rsa { bits } => format!("RSA-{bits}"),
                    other => other.to_string(),
                };
                *by_key_type.entry(key_type).or_default() += 1;
                *by_usage.entry(usage_name(certificate.usage())).or_default() += 1;
            }
            Err(error) => failures.push(format!("{name}: {error}")),
        }
    }

    println!("{} vectors, {parsed} certificates parsed", vectors.len());
    println!("without TESTCTX.CERTIFICATE: {without_certificate:?}");
    println!("by key type: {by_key_type:?}");
    println!("by usage: {by_usage:?}");
    assert!(
        failures.is_empty(),
        "certificates that did not parse:\n{}",
        failures.join("\n")
    );
    assert!(parsed > 100);
}

/// The two non-DER shapes named in the spec notes, and what they mean.
#[test]
fn lenient_cases() {
    let Some(root) = dgc_testdata() else { return };
    let certificate = |relative: &str| {
        let json: Value =
            serde_json::from_slice(&std::fs::read(root.join(relative)).unwrap()).unwrap();
        let text = json
            .pointer("/TESTCTX/CERTIFICATE")
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        Certificate::parse_any(text.as_bytes()).unwrap()
    };
    let co15 = certificate("common/2DCode/raw/CO15.json");
    assert_eq!(
        co15.usage(),
        &DscUsage::Any,
        "CO15: an empty EKU allows every kind"
    );

    let mut finnish = Vec::new();
    raw_vectors(&root.join("FI"), &mut finnish);
    assert!(!finnish.is_empty());
    for path in finnish {
        let relative = path
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let dsc = certificate(&relative);
        assert!(!dsc.is_ca(), "{relative}: explicit cA=FALSE is not a CA");
    }
}
