//! The dose confirmation the registry sends (`POST /internal/v1/dose-confirmations`, domain.md
//! "Dose → certificate"), its validation into a [`ValidatedDose`], and its canonical hash.

use hcert::{ValueSetId, ValueSets};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::macros::date;
use time::{Date, Month, OffsetDateTime, UtcOffset};
use unicode_normalization::UnicodeNormalization;

use crate::error::{FieldError, FieldReason};
use crate::transliterate::{
    MAX_MRZ_NAME_CHARS, check_name_characters, forbidden_character, is_valid_mrz_name,
    transliterate,
};

/// The deprecated vaccine type (`vp`) that is accepted on verification but never issued.
pub const DEPRECATED_VP: &str = "J07BX03";

/// The longest identifier or free-text field accepted (dose event ids, lot numbers, provenance).
const MAX_TEXT_CHARS: usize = 128;

/// The first COVID-19 vaccination outside trials: no real dose is dated earlier.
pub const FIRST_VACCINATION_DATE: Date = date!(2020 - 12 - 01);

/// The highest dose number and series length the DCC schema allows (`dn`/`sd` maximum).
pub const MAX_DOSES: u32 = 9;

/// A dose confirmation as the registry sends it. Every string is NFC-normalised when deserialised;
/// unknown fields are refused. `Debug` shows the dose event ids only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoseConfirmation {
    /// The immutable id of the dose event, also the `Idempotency-Key`.
    #[serde(deserialize_with = "nfc")]
    pub dose_event_id: String,
    /// For a correction: the dose event whose certificate this one replaces.
    #[serde(default, deserialize_with = "nfc_opt")]
    pub supersedes_dose_event_id: Option<String>,
    /// The holder.
    pub person: Person,
    /// The dose.
    pub vaccination: Vaccination,
    /// Where the confirmation comes from.
    pub provenance: Provenance,
}

impl std::fmt::Debug for DoseConfirmation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoseConfirmation")
            .field("dose_event_id", &self.dose_event_id)
            .field("supersedes_dose_event_id", &self.supersedes_dose_event_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::DoseConfirmation;

    #[test]
    fn debug_shows_no_personal_data() {
        let confirmation: DoseConfirmation = serde_json::from_str(
            r#"{"dose_event_id": "dose-1",
                "person": {"fn": "Nguyễn", "gn": "Bảo Duy", "dob": "1983-10-10",
                           "id_number": "001083012345", "phone": "+84912345678"},
                "vaccination": {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528",
                                "ma": "ORG-100030215", "dn": 1, "sd": 2, "dt": "2021-09-01",
                                "co": "VN", "lot_number": "LOT-1"},
                "provenance": {"site_code": "S1", "registry_record_id": "R-77",
                               "record_hash": "sha256:00"}}"#,
        )
        .unwrap();
        let shown = format!("{confirmation:?}");
        for secret in [
            "Nguyễn",
            "Bảo",
            "1983-10-10",
            "001083012345",
            "+8491",
            "2021-09-01",
            "R-77",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("dose-1"), "{shown}");
    }
}

/// The holder of a dose confirmation.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Family name(s), as written.
    #[serde(rename = "fn", default, deserialize_with = "nfc_opt")]
    pub family_name: Option<String>,
    /// Given name(s), as written.
    #[serde(rename = "gn", default, deserialize_with = "nfc_opt")]
    pub given_name: Option<String>,
    /// The registry's machine-readable family name, when it knows it (checked, not recomputed).
    #[serde(default, deserialize_with = "nfc_opt")]
    pub fnt: Option<String>,
    /// The registry's machine-readable given name, when it knows it (checked, not recomputed).
    #[serde(default, deserialize_with = "nfc_opt")]
    pub gnt: Option<String>,
    /// Date of birth: `YYYY-MM-DD`, `YYYY-MM` or `YYYY`.
    #[serde(deserialize_with = "nfc")]
    pub dob: String,
    /// National id number, for the citizen portal; never on the certificate.
    #[serde(default, deserialize_with = "nfc_opt")]
    pub id_number: Option<String>,
    /// Phone number, for the citizen portal; never on the certificate.
    #[serde(default, deserialize_with = "nfc_opt")]
    pub phone: Option<String>,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Person([redacted])")
    }
}

/// The dose of a dose confirmation: the DCC vaccination fields and the lot number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vaccination {
    /// Disease targeted (`840539006`).
    #[serde(deserialize_with = "nfc")]
    pub tg: String,
    /// Vaccine or prophylaxis type.
    #[serde(deserialize_with = "nfc")]
    pub vp: String,
    /// Medicinal product.
    #[serde(deserialize_with = "nfc")]
    pub mp: String,
    /// Marketing authorisation holder or manufacturer.
    #[serde(deserialize_with = "nfc")]
    pub ma: String,
    /// Dose number, ≥ 1.
    pub dn: u32,
    /// Doses in the series, ≥ 1.
    pub sd: u32,
    /// Date of vaccination, `YYYY-MM-DD`.
    #[serde(deserialize_with = "nfc")]
    pub dt: String,
    /// Country of vaccination.
    #[serde(deserialize_with = "nfc")]
    pub co: String,
    /// The lot number: kept in the ledger, not in the DCC.
    #[serde(deserialize_with = "nfc")]
    pub lot_number: String,
}

/// Where a dose confirmation comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The vaccination site.
    #[serde(deserialize_with = "nfc")]
    pub site_code: String,
    /// The registry's record id.
    #[serde(deserialize_with = "nfc")]
    pub registry_record_id: String,
    /// The registry's hash of its record (`sha256:<hex>`).
    #[serde(deserialize_with = "nfc")]
    pub record_hash: String,
}

fn nfc<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok(text.nfc().collect())
}

fn nfc_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    Ok(text.map(|text| text.nfc().collect()))
}

/// A dose confirmation that passed every rule, with the names settled as they are signed: the only input
/// [`crate::Issuer::issue`] takes. Its `Debug` form leaves out the names.
#[derive(Clone, PartialEq, Eq)]
pub struct ValidatedDose {
    confirmation: DoseConfirmation,
    family_name: Option<String>,
    fnt: String,
    given_name: Option<String>,
    gnt: Option<String>,
}

impl std::fmt::Debug for ValidatedDose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatedDose")
            .field("confirmation", &self.confirmation)
            .finish_non_exhaustive()
    }
}

impl ValidatedDose {
    /// The confirmation as received (NFC-normalised); its names are not the signed ones, see
    /// [`family_name`](Self::family_name) and the others.
    pub fn confirmation(&self) -> &DoseConfirmation {
        &self.confirmation
    }

    /// The family name as signed: `fn` trimmed with its inner spaces collapsed (or the only name, `gn`,
    /// moved here); `None` when only the machine-readable form was given.
    pub fn family_name(&self) -> Option<&str> {
        self.family_name.as_deref()
    }

    /// The machine-readable family name (always present, as schema 1.3.0 requires): the registry's,
    /// which equals the transliteration of `fn` when both are given, or that transliteration.
    pub fn fnt(&self) -> &str {
        &self.fnt
    }

    /// The given name as signed: `gn` trimmed with its inner spaces collapsed; `None` when absent or
    /// moved to the family name (a single name).
    pub fn given_name(&self) -> Option<&str> {
        self.given_name.as_deref()
    }

    /// The machine-readable given name: the registry's, which equals the transliteration of `gn` when
    /// both are given, or that transliteration.
    pub fn gnt(&self) -> Option<&str> {
        self.gnt.as_deref()
    }
}

impl DoseConfirmation {
    /// Checks every rule of an issuable dose at the clock `now` (seconds since the epoch) — the one
    /// place both the internal API and bulk issuance apply them:
    ///
    /// - **Names.** `fn`/`gn` are trimmed and their inner runs of spaces collapsed to one space: that
    ///   form is what gets signed. They are refused when they hold control characters, line breaks
    ///   (CR, LF, NEL, U+2028, U+2029, …), bidi controls, invisible characters (zero-width space,
    ///   joiner and non-joiner, soft hyphen, word joiner, byte order mark, …), variation selectors, more
    ///   than two combining marks on one letter once decomposed (Vietnamese needs a vowel mark and a
    ///   tone mark at most), or characters without an ICAO 9303 transliteration, or when they
    ///   transliterate to more than 80 characters. `fnt`/`gnt` must match `^[A-Z<]+$` (at most 80) and,
    ///   when the name as written is given too, equal its transliteration; when absent they are
    ///   computed.
    /// - **A single name.** A Vietnamese registry records the personal name (*tên*) as `gn` and leaves
    ///   the family name (*họ*) empty for the few people who have none (in some ethnic minorities).
    ///   ICAO 9303 and the DCC put a single name in the primary identifier, and schema 1.3.0 requires
    ///   `fnt`, so when neither `fn` nor `fnt` is given, `gn`/`gnt` are moved unchanged to
    ///   `fn`/`fnt`. With no name at all the confirmation is refused on `person.fn`.
    /// - **Codes.** In the value sets, the `mp`/`vp`/`ma` combination allowed by the encoding
    ///   instructions, no deprecated `vp` or `mp`.
    /// - **Doses.** `dn` and `sd` in `1..=9` (the DCC schema), `dn` ≤ `sd`: a booster after a
    ///   complete primary series is encoded n/n (EU guidance of December 2021: 3/3 for a first booster
    ///   after two doses, 2/2 after one dose of a one-dose vaccine, 4/4 for a second booster). A
    ///   request with `dn` > `sd` is refused, never rewritten: the registry sends the right encoding.
    /// - **Dates.** Real dates not in the future anywhere on Earth; `dt` not before 2020-12-01 (the
    ///   first vaccination outside trials) nor before the earliest day `dob` can mean.
    /// - **Other text.** Identifiers and free text non-empty, at most 128 characters, without control
    ///   characters, line breaks, bidi controls, invisible characters or variation selectors.
    ///
    /// # Errors
    /// The first [`FieldError`] found, naming the field by its JSON path.
    pub fn validate(&self, value_sets: &ValueSets, now: i64) -> Result<ValidatedDose, FieldError> {
        let today = latest_date_on_earth(now)?;
        let err = |field, reason| FieldError { field, reason };

        check_text("dose_event_id", &self.dose_event_id)?;
        if let Some(id) = &self.supersedes_dose_event_id {
            check_text("supersedes_dose_event_id", id)?;
        }

        let person = &self.person;
        let family = settle_name(
            "person.fn",
            "person.fnt",
            person.family_name.as_deref(),
            person.fnt.as_deref(),
        )?;
        let given = settle_name(
            "person.gn",
            "person.gnt",
            person.given_name.as_deref(),
            person.gnt.as_deref(),
        )?;
        let (family, given) = if family.mrz.is_some() {
            (family, given)
        } else {
            (given, SettledName::default())
        };
        let fnt = family.mrz.ok_or(err("person.fn", FieldReason::Missing))?;
        let earliest_birth = check_dob(&person.dob, today)?;
        for (field, value) in [
            ("person.id_number", &person.id_number),
            ("person.phone", &person.phone),
        ] {
            if let Some(value) = value {
                check_text(field, value)?;
            }
        }

        let v = &self.vaccination;
        for (field, set, code) in [
            ("vaccination.tg", ValueSetId::DiseaseAgentTargeted, &v.tg),
            ("vaccination.vp", ValueSetId::VaccineProphylaxis, &v.vp),
            ("vaccination.mp", ValueSetId::VaccineMedicinalProduct, &v.mp),
            ("vaccination.ma", ValueSetId::VaccineMahManf, &v.ma),
            ("vaccination.co", ValueSetId::Country, &v.co),
        ] {
            if !value_sets.contains(set, code) {
                return Err(err(field, FieldReason::NotInValueSet));
            }
        }
        if v.vp == DEPRECATED_VP {
            return Err(err("vaccination.vp", FieldReason::Deprecated));
        }
        let instructions = value_sets
            .encoding_instructions()
            .ok_or(err("vaccination.mp", FieldReason::CombinationNotAllowed))?;
        if instructions.get(&v.mp).is_some_and(|i| i.is_deprecated()) {
            return Err(err("vaccination.mp", FieldReason::Deprecated));
        }
        if !instructions.allows(&v.mp, &v.vp, &v.ma) {
            return Err(err("vaccination.mp", FieldReason::CombinationNotAllowed));
        }
        for (field, number) in [("vaccination.dn", v.dn), ("vaccination.sd", v.sd)] {
            if !(1..=MAX_DOSES).contains(&number) {
                return Err(err(field, FieldReason::DoseOutOfRange));
            }
        }
        if v.dn > v.sd {
            return Err(err("vaccination.dn", FieldReason::DoseAfterSeries));
        }
        let dt = parse_full_date(&v.dt).ok_or(err("vaccination.dt", FieldReason::InvalidDate))?;
        if dt > today {
            return Err(err("vaccination.dt", FieldReason::InFuture));
        }
        if dt < FIRST_VACCINATION_DATE {
            return Err(err("vaccination.dt", FieldReason::BeforeVaccinationsBegan));
        }
        if dt < earliest_birth {
            return Err(err("vaccination.dt", FieldReason::BeforeBirth));
        }
        check_text("vaccination.lot_number", &v.lot_number)?;

        let p = &self.provenance;
        check_text("provenance.site_code", &p.site_code)?;
        check_text("provenance.registry_record_id", &p.registry_record_id)?;
        check_text("provenance.record_hash", &p.record_hash)?;

        Ok(ValidatedDose {
            confirmation: self.clone(),
            family_name: family.written,
            fnt,
            given_name: given.written,
            gnt: given.mrz,
        })
    }

    /// SHA-256 of the canonical form of the request: parsed, NFC-normalised, serialised as JSON with
    /// object keys sorted and no whitespace. Two bodies with the same meaning hash alike whatever their
    /// key order, spacing or Unicode normalisation form (the 409 rule: "same key, different body").
    pub fn canonical_hash(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_json().as_bytes()).into()
    }

    /// The canonical form [`canonical_hash`](Self::canonical_hash) hashes: JSON with object keys sorted
    /// and no whitespace. It parses back into the same confirmation.
    pub fn canonical_json(&self) -> String {
        let mut out = String::with_capacity(512);
        // Serialising plain strings, integers and nulls cannot fail.
        if let Ok(value) = serde_json::to_value(self) {
            write_canonical(&value, &mut out);
        }
        out
    }

    /// This confirmation without what identifies the holder to the citizen portal (`id_number`,
    /// `phone`): what the ledger keeps to re-sign the certificate later.
    pub fn without_contact_details(&self) -> DoseConfirmation {
        let mut stripped = self.clone();
        stripped.person.id_number = None;
        stripped.person.phone = None;
        stripped
    }
}

/// The date of `now` in the easternmost time zone (UTC+14): a date no later than this is not in the
/// future anywhere, so a dose recorded in local Vietnamese time (UTC+7) is never refused as future.
fn latest_date_on_earth(now: i64) -> Result<Date, FieldError> {
    let invalid = FieldError {
        field: "vaccination.dt",
        reason: FieldReason::InvalidDate,
    };
    let offset = UtcOffset::from_hms(14, 0, 0).map_err(|_| invalid)?;
    let now = OffsetDateTime::from_unix_timestamp(now).map_err(|_| invalid)?;
    Ok(now.to_offset(offset).date())
}

/// A required free-text field: non-empty, at most 128 characters, none of the characters
/// [`forbidden_character`] refuses.
fn check_text(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError {
            field,
            reason: FieldReason::Missing,
        });
    }
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldError {
            field,
            reason: FieldReason::TooLong,
        });
    }
    match value.chars().find_map(forbidden_character) {
        Some(reason) => Err(FieldError {
            field,
            reason: FieldReason::Name(reason),
        }),
        None => Ok(()),
    }
}

/// One part of a name (family or given) as it is signed.
#[derive(Default)]
struct SettledName {
    /// As written, trimmed and with inner spaces collapsed; `None` when absent or blank.
    written: Option<String>,
    /// The machine-readable form; `None` when neither it nor the name as written is given.
    mrz: Option<String>,
}

/// `name` trimmed, each inner run of spaces (any Unicode space) made one U+0020.
fn tidy_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Settles one part of a name: the name as written, checked and tidied, and its machine-readable form —
/// the registry's when given (valid, and equal to the transliteration when the name is given too), else
/// the transliteration.
fn settle_name(
    name_field: &'static str,
    mrz_field: &'static str,
    name: Option<&str>,
    given_mrz: Option<&str>,
) -> Result<SettledName, FieldError> {
    let fail = |field, reason| Err(FieldError { field, reason });
    let written = match name {
        Some(name) => {
            check_name_characters(name_field, name)?;
            Some(tidy_name(name)).filter(|name| !name.is_empty())
        }
        None => None,
    };
    let computed = match &written {
        Some(name) => {
            if name.chars().count() > MAX_MRZ_NAME_CHARS {
                return fail(name_field, FieldReason::TooLong);
            }
            let computed = transliterate(name_field, name)?;
            if computed.is_empty() {
                return fail(
                    name_field,
                    FieldReason::Name(crate::error::Untransliterable::Unsupported),
                );
            }
            if computed.len() > MAX_MRZ_NAME_CHARS {
                return fail(name_field, FieldReason::TooLong);
            }
            Some(computed)
        }
        None => None,
    };
    let mrz = match (given_mrz, computed) {
        (Some(given), computed) => {
            if given.is_empty() || !is_valid_mrz_name(given) {
                return fail(mrz_field, FieldReason::InvalidMrzName);
            }
            if computed.is_some_and(|computed| computed != given) {
                return fail(mrz_field, FieldReason::MrzNameMismatch);
            }
            Some(given.to_owned())
        }
        (None, computed) => computed,
    };
    Ok(SettledName { written, mrz })
}

/// `YYYY-MM-DD`, `YYYY-MM` or `YYYY`: a real date (month, day), not before 1900, whose earliest day is
/// no later than `today`. Returns that earliest day.
fn check_dob(dob: &str, today: Date) -> Result<Date, FieldError> {
    let earliest = match dob.len() {
        10 => parse_full_date(dob),
        7 => parse_full_date(&format!("{dob}-01")),
        4 => parse_full_date(&format!("{dob}-01-01")),
        _ => None,
    }
    .filter(|date| date.year() >= 1900)
    .ok_or(FieldError {
        field: "person.dob",
        reason: FieldReason::InvalidDate,
    })?;
    if earliest > today {
        return Err(FieldError {
            field: "person.dob",
            reason: FieldReason::InFuture,
        });
    }
    Ok(earliest)
}

fn parse_full_date(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let year = i32::try_from(parse_digits(y, 4)?).ok()?;
    let month = Month::try_from(u8::try_from(parse_digits(m, 2)?).ok()?).ok()?;
    let day = u8::try_from(parse_digits(d, 2)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// Exactly `len` ASCII digits.
fn parse_digits(text: &str, len: usize) -> Option<u32> {
    if text.len() != len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Writes `value` as JSON with object keys sorted by their UTF-8 bytes and no whitespace.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Untransliterable;

    /// 2021-10-01T00:00:00Z.
    const NOW: i64 = 1_633_046_400;

    const BODY: &str = r#"{
      "dose_event_id": "0190f0b2-7a3c-7d1e-9f00-2b8e5c1d4a10",
      "supersedes_dose_event_id": null,
      "person": {"fn": "Nguyễn", "gn": "Bảo Duy", "fnt": "NGUYEN", "gnt": "BAO<DUY", "dob": "1983-10-10",
                 "id_number": "001083012345", "phone": "+84912345678"},
      "vaccination": {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
                      "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN", "lot_number": "FF2587"},
      "provenance": {"site_code": "HN-0123", "registry_record_id": "R-2021-000123",
                     "record_hash": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
    }"#;

    /// Minimal value sets in the EU document format, with only the codes these tests use.
    fn value_sets() -> ValueSets {
        let set = |id: &str, codes: &[(&str, bool)]| {
            let values: serde_json::Map<String, Value> = codes
                .iter()
                .map(|(code, active)| {
                    (
                        (*code).to_owned(),
                        serde_json::json!({"display": code, "active": active}),
                    )
                })
                .collect();
            serde_json::json!({"valueSetId": id, "valueSetDate": "2023-01-01", "valueSetValues": values})
                .to_string()
        };
        let docs = [
            set("disease-agent-targeted", &[("840539006", true)]),
            set(
                "sct-vaccines-covid-19",
                &[("1119349007", true), ("28531000087107", true), ("J07BX03", false)],
            ),
            set(
                "vaccines-covid-19-names",
                &[("EU/1/20/1528", true), ("EU/1/21/1529", true), ("NVX-CoV2373", true)],
            ),
            set(
                "vaccines-covid-19-auth-holders",
                &[("ORG-100030215", true), ("ORG-100001699", true), ("ORG-100032020", true)],
            ),
            set("country-2-codes", &[("VN", true), ("FR", true)]),
            serde_json::json!({
                "valueSetId": "vaccines-covid-19-encoding-instructions",
                "valueSetDate": "2023-01-01",
                "valueSetValues": {
                    "Comirnaty": {"vaccine-code": "EU/1/20/1528", "vaccine-manufacturer": "ORG-100030215",
                                  "sct-codes": ["1119349007", "28531000087107"]},
                    "Vaxzevria": {"vaccine-code": "EU/1/21/1529", "vaccine-manufacturer": "ORG-100001699",
                                  "sct-codes": ["28531000087107"]},
                    "Nuvaxovid": {"vaccine-code": "NVX-CoV2373 (deprecated)",
                                  "vaccine-manufacturer": "ORG-100032020", "sct-codes": ["1119305005"]}
                }
            })
            .to_string(),
        ];
        let loaded = ValueSets::from_documents(docs.iter().map(String::as_str));
        assert!(loaded.is_ok(), "{loaded:?}");
        loaded.unwrap_or_default()
    }

    fn body() -> DoseConfirmation {
        let parsed = serde_json::from_str(BODY);
        assert!(parsed.is_ok(), "{parsed:?}");
        parsed.unwrap_or_else(|_| unreachable!())
    }

    #[track_caller]
    fn check_refused(
        field: &'static str,
        reason: FieldReason,
        edit: impl FnOnce(&mut DoseConfirmation),
    ) {
        let mut dose = body();
        edit(&mut dose);
        assert_eq!(
            dose.validate(&value_sets(), NOW).err(),
            Some(FieldError { field, reason })
        );
    }

    #[test]
    fn the_domain_example_validates() {
        let dose = body().validate(&value_sets(), NOW);
        assert!(dose.is_ok(), "{dose:?}");
        if let Ok(dose) = dose {
            assert_eq!(dose.fnt(), "NGUYEN");
            assert_eq!(dose.gnt(), Some("BAO<DUY"));
            assert_eq!(dose.family_name(), Some("Nguyễn"));
            assert_eq!(dose.given_name(), Some("Bảo Duy"));
            assert_eq!(dose.confirmation(), &body());
        }
    }

    /// Signed names: (fn, fnt, gn, gnt).
    type Names = (Option<String>, String, Option<String>, Option<String>);

    /// The names `edit` leaves, as validated.
    fn settled(edit: impl FnOnce(&mut Person)) -> Result<Names, FieldError> {
        let mut dose = body();
        edit(&mut dose.person);
        dose.validate(&value_sets(), NOW).map(|d| {
            (
                d.family_name().map(str::to_owned),
                d.fnt().to_owned(),
                d.given_name().map(str::to_owned),
                d.gnt().map(str::to_owned),
            )
        })
    }

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn names_are_computed_when_absent_and_must_match_when_given() {
        let computed = settled(|p| {
            p.given_name = some("Thị Minh Khai");
            p.fnt = None;
            p.gnt = None;
        });
        assert_eq!(
            computed,
            Ok((
                some("Nguyễn"),
                "NGUYEN".into(),
                some("Thị Minh Khai"),
                some("THI<MINH<KHAI")
            ))
        );

        // The registry's MRZ name must be the transliteration of the name as written.
        let mismatch = settled(|p| {
            p.given_name = some("Thị Minh Khai");
            p.gnt = some("THI<M<KHAI");
        });
        assert_eq!(
            mismatch,
            Err(FieldError {
                field: "person.gnt",
                reason: FieldReason::MrzNameMismatch
            })
        );
        let mismatch = settled(|p| p.fnt = some("NGUYEN<VAN"));
        assert_eq!(
            mismatch.err().map(|e| e.field),
            Some("person.fnt"),
            "fnt checked against fn"
        );

        // Without the name as written, a valid MRZ name stands alone (schema 1.3.0: fn is optional).
        let alone = settled(|p| p.family_name = None);
        assert_eq!(
            alone.map(|(family, fnt, _, _)| (family, fnt)),
            Ok((None, "NGUYEN".into()))
        );
    }

    #[test]
    fn a_single_name_is_signed_as_the_family_name() {
        // The registry sends the personal name (tên) of someone without a family name as gn.
        let single = settled(|p| {
            p.family_name = None;
            p.fnt = None;
            p.given_name = some("H'Hen");
            p.gnt = None;
        });
        assert_eq!(single, Ok((some("H'Hen"), "HHEN".into(), None, None)));
        let single = settled(|p| {
            p.family_name = None;
            p.fnt = None;
        });
        assert_eq!(
            single,
            Ok((some("Bảo Duy"), "BAO<DUY".into(), None, None)),
            "gn and gnt move together"
        );
        let blank = settled(|p| {
            p.family_name = some("   ");
            p.fnt = None;
        });
        assert_eq!(blank.map(|names| names.1), Ok("BAO<DUY".into()));
        // A family name alone stays where it is.
        let family_only = settled(|p| {
            p.given_name = None;
            p.gnt = None;
        });
        assert_eq!(
            family_only,
            Ok((some("Nguyễn"), "NGUYEN".into(), None, None))
        );
    }

    #[test]
    fn names_are_signed_trimmed_with_inner_spaces_collapsed() {
        let tidy = settled(|p| {
            p.family_name = some("  Nguyễn   Văn  ");
            p.fnt = None;
            p.given_name = some("\u{a0}Bảo \u{3000} Duy ");
        });
        assert_eq!(
            tidy,
            Ok((
                some("Nguyễn Văn"),
                "NGUYEN<VAN".into(),
                some("Bảo Duy"),
                some("BAO<DUY")
            ))
        );
    }

    #[test]
    fn invisible_and_stacked_characters_in_names_are_refused() {
        use Untransliterable::*;
        let cases: [(&str, Untransliterable); 16] = [
            ("Nguy\u{200B}ễn", Invisible),
            ("Nguy\u{200C}ễn", Invisible),
            ("Nguy\u{200D}ễn", Invisible),
            ("Nguy\u{00AD}ễn", Invisible),
            ("Nguy\u{2060}ễn", Invisible),
            ("\u{FEFF}Nguyễn", Invisible),
            ("Nguy\u{034F}ễn", Invisible),
            ("Nguyễn\u{E0041}", Invisible),
            ("Nguyễn\u{2028}", LineBreak),
            ("Nguyễn\u{2029}Văn", LineBreak),
            ("Nguyễn\u{85}", LineBreak),
            ("Nguyễn\r\n", LineBreak),
            ("Nguyễn\u{FE0F}", VariationSelector),
            ("Nguyễn\u{E0100}", VariationSelector),
            ("Nguye\u{302}\u{303}\u{323}n", TooManyCombiningMarks),
            ("Nguyê\u{301}\u{301}\u{301}n", TooManyCombiningMarks),
        ];
        for (name, reason) in cases {
            check_refused("person.fn", FieldReason::Name(reason), |d| {
                d.person.family_name = Some(name.into());
            });
        }
        // Two marks on one letter (decomposed) is Vietnamese: ệ = e + U+0323 + U+0302.
        let decomposed = settled(|p| {
            p.family_name = some("Nguye\u{302}\u{303}n");
        });
        assert_eq!(decomposed.map(|names| names.1), Ok("NGUYEN".into()));
        // The same rules for the other text fields.
        check_refused(
            "vaccination.lot_number",
            FieldReason::Name(Invisible),
            |d| {
                d.vaccination.lot_number = "FF\u{200B}2587".into();
            },
        );
        check_refused("dose_event_id", FieldReason::Name(LineBreak), |d| {
            d.dose_event_id.push('\u{2028}');
        });
    }

    #[test]
    fn doses_must_be_plausible() {
        use FieldReason::*;
        check_refused("vaccination.dt", BeforeBirth, |d| {
            d.person.dob = "2021-09-15".into();
        });
        check_refused("vaccination.dt", BeforeBirth, |d| {
            d.person.dob = "2021-10".into();
        });
        check_refused("vaccination.dt", BeforeVaccinationsBegan, |d| {
            d.vaccination.dt = "2020-11-30".into();
        });
        check_refused("vaccination.dn", DoseOutOfRange, |d| d.vaccination.dn = 10);
        check_refused("vaccination.sd", DoseOutOfRange, |d| {
            d.vaccination.dn = 1;
            d.vaccination.sd = 10;
        });
        check_refused("vaccination.dn", DoseAfterSeries, |d| {
            d.vaccination.dn = 3;
            d.vaccination.sd = 2;
        });

        let accepted = |edit: fn(&mut DoseConfirmation)| {
            let mut dose = body();
            edit(&mut dose);
            dose.validate(&value_sets(), NOW).err()
        };
        // Boosters n/n, the first possible day, the day of birth (a partial dob's earliest day).
        assert_eq!(
            accepted(|d| {
                d.vaccination.dn = 3;
                d.vaccination.sd = 3;
            }),
            None
        );
        assert_eq!(
            accepted(|d| {
                d.vaccination.dn = 9;
                d.vaccination.sd = 9;
            }),
            None
        );
        assert_eq!(accepted(|d| d.vaccination.dt = "2020-12-01".into()), None);
        assert_eq!(accepted(|d| d.person.dob = "2021-09-14".into()), None);
        assert_eq!(accepted(|d| d.person.dob = "2021-09".into()), None);
        assert_eq!(accepted(|d| d.person.dob = "2021".into()), None);
    }

    #[test]
    fn the_booster_refusal_says_how_to_encode_it() {
        let mut dose = body();
        dose.vaccination.dn = 3;
        let message = dose
            .validate(&value_sets(), NOW)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.starts_with("vaccination.dn: "), "{message}");
        assert!(
            message.contains("booster") && message.contains("n/n"),
            "{message}"
        );
    }

    #[test]
    fn parsing_refuses_unknown_fields_and_normalises_to_nfc() {
        let extra = BODY.replacen("\"dose_event_id\"", "\"extra\": 1, \"dose_event_id\"", 1);
        assert!(serde_json::from_str::<DoseConfirmation>(&extra).is_err());
        let extra = BODY.replacen("\"dob\"", "\"sex\": \"F\", \"dob\"", 1);
        assert!(serde_json::from_str::<DoseConfirmation>(&extra).is_err());

        let nfd: String = BODY.nfd().collect();
        assert_ne!(nfd, BODY);
        let parsed: Result<DoseConfirmation, _> = serde_json::from_str(&nfd);
        assert_eq!(parsed.ok(), Some(body()));
    }

    #[test]
    fn canonical_hash_ignores_form_not_content() {
        let reference = body().canonical_hash();
        let nfd: String = BODY.nfd().collect();
        let compact =
            serde_json::to_string(&serde_json::from_str::<Value>(BODY).ok()).unwrap_or_default();
        let reordered = r#"{"provenance": {"record_hash": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            "registry_record_id": "R-2021-000123", "site_code": "HN-0123"},
          "vaccination": {"lot_number": "FF2587", "co": "VN", "dt": "2021-09-14", "sd": 2, "dn": 2,
            "ma": "ORG-100030215", "mp": "EU/1/20/1528", "vp": "1119349007", "tg": "840539006"},
          "person": {"phone": "+84912345678", "id_number": "001083012345", "dob": "1983-10-10",
            "gnt": "BAO<DUY", "fnt": "NGUYEN", "gn": "Bảo Duy", "fn": "Nguyễn"},
          "dose_event_id": "0190f0b2-7a3c-7d1e-9f00-2b8e5c1d4a10"}"#;
        for text in [nfd.as_str(), compact.as_str(), reordered] {
            let parsed: Result<DoseConfirmation, _> = serde_json::from_str(text);
            assert_eq!(parsed.map(|p| p.canonical_hash()).ok(), Some(reference));
        }
        let mut other = body();
        other.vaccination.lot_number = "FF2588".into();
        assert_ne!(other.canonical_hash(), reference);
        let mut other = body();
        other.supersedes_dose_event_id = Some("x".into());
        assert_ne!(other.canonical_hash(), reference);
    }

    #[test]
    fn every_rule_names_its_field() {
        use FieldReason::*;
        check_refused("vaccination.tg", NotInValueSet, |d| {
            d.vaccination.tg = "12345".into()
        });
        check_refused("vaccination.vp", NotInValueSet, |d| {
            d.vaccination.vp = "1".into()
        });
        check_refused("vaccination.mp", NotInValueSet, |d| {
            d.vaccination.mp = "Sputnik-V".into()
        });
        check_refused("vaccination.ma", NotInValueSet, |d| {
            d.vaccination.ma = "ORG-1".into()
        });
        check_refused("vaccination.co", NotInValueSet, |d| {
            d.vaccination.co = "XX".into()
        });
        check_refused("vaccination.vp", Deprecated, |d| {
            d.vaccination.vp = DEPRECATED_VP.into()
        });
        check_refused("vaccination.mp", CombinationNotAllowed, |d| {
            d.vaccination.ma = "ORG-100001699".into();
        });
        check_refused("vaccination.mp", CombinationNotAllowed, |d| {
            d.vaccination.mp = "EU/1/21/1529".into();
            d.vaccination.ma = "ORG-100001699".into();
        });
        check_refused("vaccination.mp", Deprecated, |d| {
            d.vaccination.mp = "NVX-CoV2373".into();
            d.vaccination.ma = "ORG-100032020".into();
        });
        check_refused("vaccination.dn", DoseOutOfRange, |d| d.vaccination.dn = 0);
        check_refused("vaccination.sd", DoseOutOfRange, |d| d.vaccination.sd = 0);
        check_refused("vaccination.dt", InvalidDate, |d| {
            d.vaccination.dt = "2021-02-30".into()
        });
        check_refused("vaccination.dt", InvalidDate, |d| {
            d.vaccination.dt = "2021-09".into()
        });
        check_refused("vaccination.dt", InvalidDate, |d| {
            d.vaccination.dt = "2021-09-14T10:00:00Z".into()
        });
        check_refused("vaccination.dt", InFuture, |d| {
            d.vaccination.dt = "2021-10-03".into()
        });
        check_refused("vaccination.lot_number", Missing, |d| {
            d.vaccination.lot_number.clear()
        });
        check_refused("person.dob", InvalidDate, |d| {
            d.person.dob = "1983-13".into()
        });
        check_refused("person.dob", InvalidDate, |d| {
            d.person.dob = "10/10/1983".into()
        });
        check_refused("person.dob", InvalidDate, |d| d.person.dob = String::new());
        check_refused("person.dob", InvalidDate, |d| d.person.dob = "1899".into());
        check_refused("person.dob", InFuture, |d| d.person.dob = "2022".into());
        check_refused("person.fn", Name(Untransliterable::Control), |d| {
            d.person.family_name = Some("Nguy\u{7}ễn".into());
        });
        check_refused("person.gn", Name(Untransliterable::Bidi), |d| {
            d.person.given_name = Some("Bảo\u{202E}Duy".into());
        });
        check_refused("person.gn", Name(Untransliterable::Unsupported), |d| {
            d.person.given_name = Some("阮".into());
            d.person.gnt = None;
        });
        check_refused("person.gn", TooLong, |d| {
            d.person.given_name = Some("A ".repeat(41))
        });
        check_refused("person.gn", TooLong, |d| {
            d.person.given_name = Some("ß".repeat(41));
            d.person.gnt = None;
        });
        check_refused("person.gnt", InvalidMrzName, |d| {
            d.person.gnt = Some("Bao Duy".into())
        });
        check_refused("person.fnt", InvalidMrzName, |d| {
            d.person.fnt = Some("A".repeat(81))
        });
        check_refused("person.fn", Missing, |d| {
            d.person.family_name = None;
            d.person.given_name = None;
            d.person.fnt = None;
            d.person.gnt = None;
        });
        check_refused("dose_event_id", Missing, |d| d.dose_event_id.clear());
        check_refused("provenance.site_code", Name(Untransliterable::Bidi), |d| {
            d.provenance.site_code = "HN\u{200F}".into();
        });
    }

    #[test]
    fn today_in_vietnam_is_not_the_future() {
        // 2021-09-14T20:00:00Z is already 2021-09-15 in Viet Nam (UTC+7).
        let mut dose = body();
        dose.vaccination.dt = "2021-09-15".into();
        assert!(dose.validate(&value_sets(), 1_631_649_600).is_ok());
        dose.vaccination.dt = "2021-09-16".into();
        assert!(dose.validate(&value_sets(), 1_631_649_600).is_err());
    }

    #[test]
    fn without_encoding_instructions_nothing_is_issued() {
        let sets = value_sets();
        let docs: Vec<String> = Vec::new();
        let empty = ValueSets::from_documents(docs.iter().map(String::as_str)).unwrap_or_default();
        assert!(empty.encoding_instructions().is_none());
        assert!(body().validate(&empty, NOW).is_err());
        assert!(body().validate(&sets, NOW).is_ok());
    }

    #[test]
    fn error_messages_quote_no_personal_data() {
        let mut dose = body();
        dose.person.given_name = Some("Bảo\u{202E}Duy".into());
        let message = dose
            .validate(&value_sets(), NOW)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("person.gn: a bidirectional formatting character is not allowed")
        );
        assert_eq!(format!("{:?}", body().person), "Person([redacted])");
    }
}
