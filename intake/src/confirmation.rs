//! What intake sends the issuer, built without I/O: the dose event id (a UUIDv7), the record hash a site's
//! dose record is sealed with, and the body of `POST /internal/v1/dose-confirmations` (`domain.md`,
//! "Dose → certificate").
//!
//! The body is serialised once, when the registry confirms the dose, stored in the issuer outbox and
//! sent byte for byte on every attempt under the same `Idempotency-Key` (the dose event id). `fnt` and
//! `gnt` are left out: the issuer transliterates the names itself.

use serde::Serialize;
use sha2::Digest as _;
use unicode_normalization::UnicodeNormalization as _;

/// The EU value set's target disease: COVID-19.
pub const TARGET_DISEASE: &str = "840539006";
/// The country of vaccination.
pub const COUNTRY: &str = "VN";

/// A dose event id: a UUIDv7 (RFC 9562 §5.7) of `unix_ms` (48 bits, big-endian) and 74 bits of
/// `random`, lowercase `8-4-4-4-12`. Ids made later sort later.
pub fn dose_event_id(unix_ms: u64, random: [u8; 10]) -> String {
    let mut bytes = [0u8; 16];
    let ms = unix_ms.to_be_bytes();
    for (slot, byte) in bytes.iter_mut().zip(ms.iter().skip(2)) {
        *slot = *byte;
    }
    for (slot, byte) in bytes.iter_mut().skip(6).zip(random.iter()) {
        *slot = *byte;
    }
    // Version 7 in the high nibble of byte 6, variant 0b10 in the top bits of byte 8.
    if let Some(byte) = bytes.get_mut(6) {
        *byte = (*byte & 0x0f) | 0x70;
    }
    if let Some(byte) = bytes.get_mut(8) {
        *byte = (*byte & 0x3f) | 0x80;
    }
    let hex = hex::encode(bytes);
    let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

/// A dose as the site recorded it: what the record hash seals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoseRecord {
    /// The immutable dose event id.
    pub dose_event_id: String,
    /// The registration (a random id: the hash carries no personal data).
    pub registration_id: String,
    /// The site's code.
    pub site_code: String,
    /// The medicinal product (`mp`).
    pub product: String,
    /// The manufacturer (`ma`).
    pub manufacturer: String,
    /// The vaccine or prophylaxis (`vp`).
    pub prophylaxis: String,
    /// The lot number.
    pub lot_number: String,
    /// Which dose (`dn`).
    pub dose_number: u8,
    /// Doses in the series (`sd`).
    pub total_doses: u8,
    /// The day, `YYYY-MM-DD` (`dt`).
    pub vaccinated_on: String,
}

/// The canonical form hashed: keys in alphabetical order, no whitespace, NFC strings.
#[derive(Serialize)]
struct CanonicalRecord<'a> {
    dose_event_id: &'a str,
    dose_number: u8,
    lot_number: String,
    manufacturer: &'a str,
    product: &'a str,
    prophylaxis: &'a str,
    registration_id: &'a str,
    site_code: &'a str,
    total_doses: u8,
    vaccinated_on: &'a str,
}

impl DoseRecord {
    /// The canonical JSON of the record: an object of its fields with keys sorted, no whitespace, the
    /// lot number NFC-normalised.
    pub fn canonical_json(&self) -> String {
        let canonical = CanonicalRecord {
            dose_event_id: &self.dose_event_id,
            dose_number: self.dose_number,
            lot_number: self.lot_number.nfc().collect(),
            manufacturer: &self.manufacturer,
            product: &self.product,
            prophylaxis: &self.prophylaxis,
            registration_id: &self.registration_id,
            site_code: &self.site_code,
            total_doses: self.total_doses,
            vaccinated_on: &self.vaccinated_on,
        };
        // Serialising a struct of strings and integers cannot fail.
        serde_json::to_string(&canonical).unwrap_or_default()
    }

    /// `sha256:` and the lowercase hex SHA-256 of [`DoseRecord::canonical_json`].
    pub fn record_hash(&self) -> String {
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(self.canonical_json().as_bytes()))
        )
    }
}

/// The person a dose belongs to, as the registration holds them.
#[derive(Clone, PartialEq, Eq)]
pub struct Holder {
    /// The full name, family name first (`Nguyễn Bảo Duy`).
    pub full_name: String,
    /// Date of birth, `YYYY-MM-DD` (or the partial date the registration has).
    pub dob: String,
    /// The identity document's number.
    pub id_number: String,
    /// The managing phone, E.164.
    pub phone: String,
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Holder([redacted])")
    }
}

/// The registry's confirmation of a dose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfirmation {
    /// The registry's record id, `R-YYYY-…`.
    pub registry_record_id: String,
    /// The dose's record hash.
    pub record_hash: String,
}

/// A full name split as the DCC wants it: the first word is the family name (`fn`), the rest the given
/// names (`gn`); a single word is sent as the family name alone. NFC-normalised, runs of white space
/// collapsed.
pub fn split_name(full_name: &str) -> (String, Option<String>) {
    let normalised: String = full_name.nfc().collect();
    let mut words = normalised.split_whitespace();
    let family = words.next().unwrap_or_default().to_owned();
    let given: Vec<&str> = words.collect();
    let given = (!given.is_empty()).then(|| given.join(" "));
    (family, given)
}

#[derive(Serialize)]
struct Body<'a> {
    dose_event_id: &'a str,
    supersedes_dose_event_id: Option<&'a str>,
    person: Person<'a>,
    vaccination: Vaccination<'a>,
    provenance: Provenance<'a>,
}

#[derive(Serialize)]
struct Person<'a> {
    #[serde(rename = "fn")]
    family: String,
    #[serde(rename = "gn", skip_serializing_if = "Option::is_none")]
    given: Option<String>,
    dob: &'a str,
    id_number: String,
    phone: &'a str,
}

#[derive(Serialize)]
struct Vaccination<'a> {
    tg: &'a str,
    vp: &'a str,
    mp: &'a str,
    ma: &'a str,
    dn: u8,
    sd: u8,
    dt: &'a str,
    co: &'a str,
    lot_number: String,
}

#[derive(Serialize)]
struct Provenance<'a> {
    site_code: &'a str,
    registry_record_id: &'a str,
    record_hash: &'a str,
}

/// The body of `POST /internal/v1/dose-confirmations` for `dose` of `holder`, as confirmed: compact JSON,
/// NFC strings, `supersedes_dose_event_id` null, without `fnt`/`gnt`.
pub fn confirmation_body(
    dose: &DoseRecord,
    holder: &Holder,
    confirmation: &RegistryConfirmation,
) -> String {
    let (family, given) = split_name(&holder.full_name);
    let body = Body {
        dose_event_id: &dose.dose_event_id,
        supersedes_dose_event_id: None,
        person: Person {
            family,
            given,
            dob: &holder.dob,
            id_number: holder.id_number.nfc().collect(),
            phone: &holder.phone,
        },
        vaccination: Vaccination {
            tg: TARGET_DISEASE,
            vp: &dose.prophylaxis,
            mp: &dose.product,
            ma: &dose.manufacturer,
            dn: dose.dose_number,
            sd: dose.total_doses,
            dt: &dose.vaccinated_on,
            co: COUNTRY,
            lot_number: dose.lot_number.nfc().collect(),
        },
        provenance: Provenance {
            site_code: &dose.site_code,
            registry_record_id: &confirmation.registry_record_id,
            record_hash: &confirmation.record_hash,
        },
    };
    // Serialising strings and integers cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{
        DoseRecord, Holder, RegistryConfirmation, confirmation_body, dose_event_id, split_name,
    };

    fn record() -> DoseRecord {
        DoseRecord {
            dose_event_id: "0190f0b2-7a3c-7d1e-9f00-2b8e5c1d4a10".into(),
            registration_id: "5f1c".into(),
            site_code: "HN-0123".into(),
            product: "EU/1/20/1528".into(),
            manufacturer: "ORG-100030215".into(),
            prophylaxis: "1119349007".into(),
            lot_number: "FF2587".into(),
            dose_number: 2,
            total_doses: 2,
            vaccinated_on: "2021-09-14".into(),
        }
    }

    #[test]
    fn dose_event_ids_are_uuid_v7_with_the_time_first() {
        let id = dose_event_id(0x0190_f0b2_7a3c, [0xff; 10]);
        assert_eq!(id, "0190f0b2-7a3c-7fff-bfff-ffffffffffff");
        let zero = dose_event_id(1, [0; 10]);
        assert_eq!(zero, "00000000-0001-7000-8000-000000000000");
        assert!(dose_event_id(2, [0; 10]) > dose_event_id(1, [0xff; 10]));
    }

    #[test]
    fn the_record_hash_is_sha256_of_the_sorted_canonical_json() {
        let record = record();
        assert_eq!(
            record.canonical_json(),
            r#"{"dose_event_id":"0190f0b2-7a3c-7d1e-9f00-2b8e5c1d4a10","dose_number":2,"lot_number":"FF2587","manufacturer":"ORG-100030215","product":"EU/1/20/1528","prophylaxis":"1119349007","registration_id":"5f1c","site_code":"HN-0123","total_doses":2,"vaccinated_on":"2021-09-14"}"#
        );
        let hash = record.record_hash();
        assert!(
            hash.starts_with("sha256:") && hash.len() == 7 + 64,
            "{hash}"
        );
        let other = DoseRecord {
            lot_number: "FF2588".into(),
            ..record
        };
        assert_ne!(other.record_hash(), hash);
    }

    #[test]
    fn names_split_family_first_and_a_single_word_is_the_family_name() {
        assert_eq!(
            split_name("Nguyễn  Bảo Duy"),
            ("Nguyễn".into(), Some("Bảo Duy".into()))
        );
        assert_eq!(split_name("Madonna"), ("Madonna".into(), None));
        // NFD input comes out NFC.
        let (family, _) = split_name("Nguye\u{302}\u{303}n Duy");
        assert_eq!(family, "Nguyễn");
    }

    #[test]
    fn the_body_is_the_issuers_dose_confirmation() {
        let holder = Holder {
            full_name: "Nguyễn Bảo Duy".into(),
            dob: "1983-10-10".into(),
            id_number: "001083012345".into(),
            phone: "+84912345678".into(),
        };
        let confirmation = RegistryConfirmation {
            registry_record_id: "R-2021-000123".into(),
            record_hash: "sha256:2c26".into(),
        };
        let body = confirmation_body(&record(), &holder, &confirmation);
        assert_eq!(
            body,
            concat!(
                r#"{"dose_event_id":"0190f0b2-7a3c-7d1e-9f00-2b8e5c1d4a10","supersedes_dose_event_id":null,"#,
                r#""person":{"fn":"Nguyễn","gn":"Bảo Duy","dob":"1983-10-10","id_number":"001083012345","phone":"+84912345678"},"#,
                r#""vaccination":{"tg":"840539006","vp":"1119349007","mp":"EU/1/20/1528","ma":"ORG-100030215","dn":2,"sd":2,"dt":"2021-09-14","co":"VN","lot_number":"FF2587"},"#,
                r#""provenance":{"site_code":"HN-0123","registry_record_id":"R-2021-000123","record_hash":"sha256:2c26"}}"#
            )
        );
        let single = Holder {
            full_name: "Madonna".into(),
            ..holder.clone()
        };
        let body = confirmation_body(&record(), &single, &confirmation);
        assert!(body.contains(r#""person":{"fn":"Madonna","dob""#), "{body}");
        assert_eq!(format!("{holder:?}"), "Holder([redacted])");
    }
}
