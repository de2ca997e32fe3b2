//! The EU value sets every command validates against: a pinned snapshot built into the binary, so that a
//! fresh machine needs nothing else, unless `--value-sets DIR` or `$DCC_SPEC_DIR/eu-dcc-valuesets` names
//! a newer release.
//!
//! The snapshot is the `verifier` crate's ([`verifier::BUILT_IN_VALUE_SETS`], `verifier/valuesets/`): the
//! JSON files of ehn-dcc-development/eu-dcc-valuesets at the commit [`BUILT_IN_COMMIT`], Apache-2.0, with
//! the licence and `SOURCE.md` kept beside them — the same the offline scanner page builds in.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use hcert::ValueSets;

pub use verifier::BUILT_IN_COMMIT;

/// The environment variable naming a folder that holds `eu-dcc-valuesets/`.
pub const SPEC_DIR_ENV: &str = "DCC_SPEC_DIR";

/// The documents of the snapshot, in the order they are parsed.
const BUILT_IN: [&str; 9] = verifier::BUILT_IN_VALUE_SETS;

/// Where the value sets in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSetsSource {
    /// The snapshot built into the binary.
    BuiltIn,
    /// A folder of value-set JSON files.
    Directory(PathBuf),
}

/// The value sets in use, and where they came from.
#[derive(Debug, Clone)]
pub struct LoadedValueSets {
    /// The sets.
    pub sets: Arc<ValueSets>,
    /// Their origin.
    pub source: ValueSetsSource,
}

impl LoadedValueSets {
    /// The built-in snapshot.
    pub fn built_in() -> Result<LoadedValueSets> {
        let sets = ValueSets::from_documents(BUILT_IN)
            .context("the built-in value sets are invalid (a build of a broken checkout)")?;
        Ok(LoadedValueSets {
            sets: Arc::new(sets),
            source: ValueSetsSource::BuiltIn,
        })
    }

    /// Every `*.json` file of `dir`.
    pub fn from_dir(dir: &Path) -> Result<LoadedValueSets> {
        let mut documents = Vec::new();
        for entry in std::fs::read_dir(dir)
            .with_context(|| format!("cannot read value sets in {}", dir.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "json") {
                documents.push(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                );
            }
        }
        if documents.is_empty() {
            bail!("no value-set JSON files in {}", dir.display());
        }
        let sets = ValueSets::from_documents(documents.iter().map(String::as_str))
            .with_context(|| format!("invalid value sets in {}", dir.display()))?;
        Ok(LoadedValueSets {
            sets: Arc::new(sets),
            source: ValueSetsSource::Directory(dir.to_path_buf()),
        })
    }

    /// `dir` when given, else `$DCC_SPEC_DIR/eu-dcc-valuesets` when that folder exists, else the
    /// built-in snapshot.
    pub fn load(dir: Option<&Path>) -> Result<LoadedValueSets> {
        let from_env = std::env::var_os(SPEC_DIR_ENV)
            .map(|spec| PathBuf::from(spec).join("eu-dcc-valuesets"))
            .filter(|dir| dir.is_dir());
        match dir.map(Path::to_path_buf).or(from_env) {
            Some(dir) => LoadedValueSets::from_dir(&dir),
            None => LoadedValueSets::built_in(),
        }
    }

    /// The release: the newest `valueSetDate` of the documents (`unknown` when none carries one).
    pub fn version(&self) -> &str {
        self.sets.version().unwrap_or("unknown")
    }
}

impl fmt::Display for LoadedValueSets {
    /// `2023-05-05 (built in, eu-dcc-valuesets 60ea3d8)` or `2023-05-05 (from DIR)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            ValueSetsSource::BuiltIn => {
                let commit = BUILT_IN_COMMIT.get(..7).unwrap_or(BUILT_IN_COMMIT);
                write!(
                    f,
                    "{} (built in, eu-dcc-valuesets {commit})",
                    self.version()
                )
            }
            ValueSetsSource::Directory(dir) => {
                write!(f, "{} (from {})", self.version(), dir.display())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcert::ValueSetId;

    #[test]
    fn the_built_in_snapshot_holds_every_set_and_the_encoding_instructions() {
        let loaded = LoadedValueSets::built_in().unwrap();
        for set in ValueSetId::ALL {
            assert!(loaded.sets.is_loaded(set), "{set:?} missing");
        }
        assert!(loaded.sets.contains(ValueSetId::Country, "VN"));
        assert!(loaded.sets.encoding_instructions().is_some());
        assert_eq!(loaded.version(), "2023-05-05");
        assert_eq!(
            loaded.to_string(),
            "2023-05-05 (built in, eu-dcc-valuesets 60ea3d8)"
        );
    }

    #[test]
    fn a_directory_overrides_the_snapshot_and_must_hold_value_sets() {
        let dir = std::env::temp_dir().join(format!("vaxcert-valuesets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(LoadedValueSets::load(Some(&dir)).is_err(), "empty folder");
        std::fs::write(
            dir.join("country.json"),
            r#"{"valueSetId": "country-2-codes", "valueSetDate": "2030-01-02", "valueSetValues": {"VN": {}}}"#,
        )
        .unwrap();
        let loaded = LoadedValueSets::load(Some(&dir)).unwrap();
        assert_eq!(loaded.source, ValueSetsSource::Directory(dir.clone()));
        assert_eq!(loaded.version(), "2030-01-02");
        assert!(!loaded.sets.is_loaded(ValueSetId::VaccineProphylaxis));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
