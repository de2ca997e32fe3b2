//! Shared helpers for end-to-end tests: locating the public test data, read in place.
//!
//! The data lives outside the repository (`README.md`, "Test data"). Without it a test skips with a message
//! on a developer's machine, but fails under CI (`CI` set): CI never passes by skipping.

#![allow(clippy::panic)]

use std::path::{Path, PathBuf};

/// The folder named by the environment variable `var`, or `None` (after printing why) when it is unset or
/// missing. Panics instead when `CI` is set.
pub fn data_dir(var: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir());
    if dir.is_none() {
        let message =
            format!("{var} is not set to an existing folder: see README.md, \"Test data\"");
        if std::env::var_os("CI").is_some() {
            panic!("{message} (CI must not skip)");
        }
        eprintln!("SKIPPED: {message}");
    }
    dir
}

/// `$DCC_TESTDATA_DIR` (holding `dgc-testdata/` and `dcc-quality-assurance/`).
pub fn testdata_dir() -> Option<PathBuf> {
    data_dir("DCC_TESTDATA_DIR")
}

/// `$DCC_SPEC_DIR` (holding `eu-dcc-schema/` and `eu-dcc-valuesets/`).
pub fn spec_dir() -> Option<PathBuf> {
    data_dir("DCC_SPEC_DIR")
}

/// Every `*.json` file below `dir`, sorted, following no links.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() && path.extension().is_some_and(|e| e == "json") => {
                    found.push(path)
                }
                _ => {}
            }
        }
    }
    found.sort();
    found
}

/// The dgc-testdata conformance vectors: every JSON file below `dgc-testdata/` except value files.
pub fn conformance_vectors(testdata: &Path) -> Vec<PathBuf> {
    json_files(&testdata.join("dgc-testdata"))
}

/// The EU value-set documents below `$DCC_SPEC_DIR/eu-dcc-valuesets`, as text (`test-manf-example.json`
/// included: it is the RAT device list this release ships, and PL/*/7 fail on a device outside it).
pub fn value_set_documents(spec: &Path) -> Vec<String> {
    json_files(&spec.join("eu-dcc-valuesets"))
        .into_iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect()
}
