//! Priority policies as data, versioned (`domain.md`): which groups go first, from which day.
//!
//! The project ships Resolution 21/NQ-CP (9 groups, from 26 February 2021) and Decision 3355/QĐ-BYT
//! (16 groups, from 8 July 2021) as TOML files in `intake/policies/`, compiled in. A policy names its
//! groups by stable codes (`health-workers`, `army`, …) so that a registration made under one policy can
//! be ranked under the next; it also gives the minimum age, the age bands (oldest first) and the
//! provinces with an outbreak, whose residents go first within their group.

use serde::Deserialize;
use time::Date;
use time::macros::format_description;

/// The policies shipped with the project, oldest first.
const BUILTIN: &[&str] = &[
    include_str!("../policies/res-21-nq-cp.toml"),
    include_str!("../policies/qd-3355-byt.toml"),
];

/// A priority group of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityGroup {
    /// The stable code, e.g. `health-workers`.
    pub code: String,
    /// 1 goes first.
    pub rank: u16,
    /// The group's name in Vietnamese.
    pub vi: String,
    /// The group's name in English.
    pub en: String,
}

/// One version of a priority policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The policy's id, e.g. `qd-3355-byt`.
    pub id: String,
    /// Its version (a new version of the same decision, e.g. new outbreak provinces).
    pub version: u32,
    /// Its title in Vietnamese.
    pub title_vi: String,
    /// Its title in English.
    pub title_en: String,
    /// The first day it is in force.
    pub effective_from: Date,
    /// The youngest age it vaccinates, years.
    pub min_age: u8,
    /// Lower bounds of the age bands, oldest first (`[65, 50, 18]`).
    pub age_bands: Vec<u8>,
    /// Provinces (administrative codes) with an outbreak: their residents go first within a group.
    pub outbreak_provinces: Vec<String>,
    /// The groups, by rank.
    pub groups: Vec<PriorityGroup>,
}

/// A policy file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    id: String,
    version: u32,
    title_vi: String,
    title_en: String,
    effective_from: String,
    min_age: u8,
    age_bands: Vec<u8>,
    outbreak_provinces: Vec<String>,
    groups: Vec<PriorityGroup>,
}

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not TOML of the policy's shape.
    #[error("policy document does not parse: {0}")]
    Syntax(String),
    /// `effective_from` is not a `YYYY-MM-DD` day.
    #[error("policy {0}: effective_from is not a YYYY-MM-DD day")]
    Date(String),
    /// Group codes repeat, ranks are not 1..=n in order, or age bands do not descend.
    #[error("policy {0}: {1}")]
    Inconsistent(String, &'static str),
    /// Two documents have the same id and version.
    #[error("policy {0} version {1} is given twice")]
    Duplicate(String, u32),
}

impl Policy {
    /// Reads one policy document (TOML).
    ///
    /// # Errors
    /// [`PolicyError`] naming what is wrong.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text)
            .map_err(|error| PolicyError::Syntax(error.message().to_owned()))?;
        let effective_from = Date::parse(
            &file.effective_from,
            format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| PolicyError::Date(file.id.clone()))?;
        let inconsistent = |why| PolicyError::Inconsistent(file.id.clone(), why);
        if file.groups.is_empty() {
            return Err(inconsistent("no groups"));
        }
        for (i, group) in file.groups.iter().enumerate() {
            if usize::from(group.rank) != i.saturating_add(1) {
                return Err(inconsistent("ranks must be 1, 2, 3… in the order written"));
            }
            if file
                .groups
                .iter()
                .skip(i.saturating_add(1))
                .any(|g| g.code == group.code)
            {
                return Err(inconsistent("a group code repeats"));
            }
        }
        if file.age_bands.is_empty() || file.age_bands.windows(2).any(|w| w.first() <= w.get(1)) {
            return Err(inconsistent("age bands must descend"));
        }
        Ok(Policy {
            id: file.id,
            version: file.version,
            title_vi: file.title_vi,
            title_en: file.title_en,
            effective_from,
            min_age: file.min_age,
            age_bands: file.age_bands,
            outbreak_provinces: file.outbreak_provinces,
            groups: file.groups,
        })
    }

    /// The group of that code.
    pub fn group(&self, code: &str) -> Option<&PriorityGroup> {
        self.groups.iter().find(|group| group.code == code)
    }

    /// The rank of the group of that code (1 first).
    pub fn rank(&self, code: &str) -> Option<u16> {
        self.group(code).map(|group| group.rank)
    }

    /// The age band of someone `age` years old: 0 for the oldest band; one past the last for anyone
    /// younger than every bound.
    pub fn age_band(&self, age: u8) -> u8 {
        let band = self
            .age_bands
            .iter()
            .position(|&bound| age >= bound)
            .unwrap_or(self.age_bands.len());
        u8::try_from(band).unwrap_or(u8::MAX)
    }

    /// Whether the province had an outbreak under this policy.
    pub fn is_outbreak_province(&self, province_code: &str) -> bool {
        self.outbreak_provinces
            .iter()
            .any(|code| code == province_code)
    }
}

/// Every policy version known, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyBook {
    policies: Vec<Policy>,
}

impl PolicyBook {
    /// The policies shipped with the project.
    ///
    /// # Errors
    /// [`PolicyError`] if a shipped file is broken (a test keeps them sound).
    pub fn builtin() -> Result<PolicyBook, PolicyError> {
        PolicyBook::from_documents(BUILTIN)
    }

    /// A book of the given policy documents (TOML).
    ///
    /// # Errors
    /// [`PolicyError`] for a document that does not read, or an id and version given twice.
    pub fn from_documents(documents: &[&str]) -> Result<PolicyBook, PolicyError> {
        let mut policies = documents
            .iter()
            .map(|text| Policy::from_toml(text))
            .collect::<Result<Vec<_>, _>>()?;
        policies.sort_by(|a, b| {
            (a.effective_from, &a.id, a.version).cmp(&(b.effective_from, &b.id, b.version))
        });
        for (i, policy) in policies.iter().enumerate() {
            if policies
                .iter()
                .skip(i.saturating_add(1))
                .any(|other| other.id == policy.id && other.version == policy.version)
            {
                return Err(PolicyError::Duplicate(policy.id.clone(), policy.version));
            }
        }
        Ok(PolicyBook { policies })
    }

    /// The policy in force on `day`: the latest to take effect on or before it.
    pub fn in_force(&self, day: Date) -> Option<&Policy> {
        self.policies
            .iter()
            .rev()
            .find(|policy| policy.effective_from <= day)
    }

    /// The policy of that id and version.
    pub fn get(&self, id: &str, version: u32) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|policy| policy.id == id && policy.version == version)
    }

    /// Every policy, oldest first.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Policy, PolicyBook, PolicyError};
    use time::macros::date;

    #[test]
    fn the_shipped_policies_have_9_and_16_groups_in_force_from_their_dates() {
        let book = PolicyBook::builtin().unwrap();
        assert_eq!(book.policies().len(), 2);
        assert!(book.in_force(date!(2021 - 02 - 25)).is_none());
        let res21 = book.in_force(date!(2021 - 02 - 26)).unwrap();
        assert_eq!((res21.id.as_str(), res21.groups.len()), ("res-21-nq-cp", 9));
        let d3355 = book.in_force(date!(2021 - 07 - 08)).unwrap();
        assert_eq!((d3355.id.as_str(), d3355.groups.len()), ("qd-3355-byt", 16));
        assert_eq!(d3355.rank("health-workers"), Some(1));
        assert_eq!(d3355.rank("others"), Some(16));
        // A code of the resolution that the decision split in two.
        assert_eq!(res21.rank("diplomats-customs-immigration"), Some(2));
        assert_eq!(d3355.rank("diplomats-customs-immigration"), None);
        assert_eq!(book.get("res-21-nq-cp", 1), Some(res21));
    }

    #[test]
    fn age_bands_put_the_oldest_first() {
        let book = PolicyBook::builtin().unwrap();
        let policy = book.in_force(date!(2021 - 08 - 01)).unwrap();
        assert_eq!(policy.age_band(80), 0);
        assert_eq!(policy.age_band(65), 0);
        assert_eq!(policy.age_band(64), 1);
        assert_eq!(policy.age_band(18), 2);
        assert_eq!(policy.age_band(17), 3);
        assert!(policy.is_outbreak_province("79"));
        assert!(!policy.is_outbreak_province("01"));
    }

    #[test]
    fn broken_documents_are_refused_with_the_reason() {
        let good = include_str!("../policies/res-21-nq-cp.toml");
        let cases = [
            (good.replace("rank = 2", "rank = 3"), "ranks"),
            (
                good.replace("age_bands = [65, 50, 18]", "age_bands = [18, 50]"),
                "age bands",
            ),
            (good.replace("2021-02-26", "26/02/2021"), "YYYY-MM-DD"),
            (
                good.replace("code = \"army\"", "code = \"police\""),
                "repeats",
            ),
            (format!("{good}\nextra = 1\n"), "parse"),
        ];
        for (text, why) in cases {
            let error = Policy::from_toml(&text).unwrap_err();
            assert!(error.to_string().contains(why), "{why}: {error}");
        }
        assert_eq!(
            PolicyBook::from_documents(&[good, good]),
            Err(PolicyError::Duplicate("res-21-nq-cp".into(), 1))
        );
    }
}
