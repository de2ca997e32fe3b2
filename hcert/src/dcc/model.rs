//! Typed DCC payloads (schema 1.3.x), for building certificates and reading the ones this project issues.
//!
//! A verifier keeps the lossless [`Dcc`] (unknown fields, odd number forms) and validates it with
//! [`validate_schema`](super::validate_schema); these types hold only the 1.3 fields, so older or foreign
//! payloads may not fit them. Strings borrow from the JSON they are read from where they can.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{CertType, Dcc};

/// A DCC payload: version, name, date of birth and exactly one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DccPayload<'a> {
    /// `ver`: the schema version, such as `1.3.0`.
    #[serde(borrow)]
    pub ver: Cow<'a, str>,
    /// `nam`: the holder's name.
    #[serde(borrow)]
    pub nam: PersonName<'a>,
    /// `dob`: `YYYY-MM-DD`, `YYYY-MM`, `YYYY` or empty.
    #[serde(borrow)]
    pub dob: Cow<'a, str>,
    /// The single entry, written as the group `v`, `t` or `r` holding it.
    #[serde(borrow, flatten)]
    pub entry: DccEntry<'a>,
}

/// `nam`: the holder's name as written and as transliterated (ICAO 9303); at least one of `fnt`, `gnt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName<'a> {
    /// `fn`: surname(s) as written.
    #[serde(
        rename = "fn",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub family: Option<Cow<'a, str>>,
    /// `fnt`: surname(s) transliterated, `^[A-Z<]*$`.
    #[serde(
        rename = "fnt",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub family_transliterated: Option<Cow<'a, str>>,
    /// `gn`: forename(s) as written.
    #[serde(
        rename = "gn",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub given: Option<Cow<'a, str>>,
    /// `gnt`: forename(s) transliterated, `^[A-Z<]*$`.
    #[serde(
        rename = "gnt",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub given_transliterated: Option<Cow<'a, str>>,
}

/// The payload's single entry, serialised as a one-element group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DccEntry<'a> {
    /// `v`: a vaccination.
    #[serde(rename = "v", borrow)]
    Vaccination([VaccinationEntry<'a>; 1]),
    /// `t`: a test.
    #[serde(rename = "t", borrow)]
    Test([TestEntry<'a>; 1]),
    /// `r`: a recovery.
    #[serde(rename = "r", borrow)]
    Recovery([RecoveryEntry<'a>; 1]),
}

/// A vaccination entry (`v[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaccinationEntry<'a> {
    /// `tg`: disease targeted (value set `disease-agent-targeted`).
    #[serde(borrow)]
    pub tg: Cow<'a, str>,
    /// `vp`: vaccine or prophylaxis (`sct-vaccines-covid-19`).
    #[serde(borrow)]
    pub vp: Cow<'a, str>,
    /// `mp`: medicinal product (`vaccines-covid-19-names`).
    #[serde(borrow)]
    pub mp: Cow<'a, str>,
    /// `ma`: marketing authorisation holder or manufacturer (`vaccines-covid-19-auth-holders`).
    #[serde(borrow)]
    pub ma: Cow<'a, str>,
    /// `dn`: dose number, ≥ 1.
    pub dn: u32,
    /// `sd`: doses in the series, ≥ 1.
    pub sd: u32,
    /// `dt`: date of vaccination, `YYYY-MM-DD`.
    #[serde(borrow)]
    pub dt: Cow<'a, str>,
    /// `co`: country of vaccination (`country-2-codes`).
    #[serde(borrow)]
    pub co: Cow<'a, str>,
    /// `is`: certificate issuer, ≤ 80 characters.
    #[serde(borrow)]
    pub is: Cow<'a, str>,
    /// `ci`: the UVCI, ≤ 80 characters.
    #[serde(borrow)]
    pub ci: Cow<'a, str>,
}

/// A test entry (`t[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestEntry<'a> {
    /// `tg`: disease targeted (`disease-agent-targeted`).
    #[serde(borrow)]
    pub tg: Cow<'a, str>,
    /// `tt`: type of test (`covid-19-lab-test-type`).
    #[serde(borrow)]
    pub tt: Cow<'a, str>,
    /// `nm`: NAA test name, ≤ 80 characters.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub nm: Option<Cow<'a, str>>,
    /// `ma`: rapid antigen test device (`covid-19-lab-test-manufacturer-and-name`).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub ma: Option<Cow<'a, str>>,
    /// `sc`: sample collection, an RFC 3339 date-time.
    #[serde(borrow)]
    pub sc: Cow<'a, str>,
    /// `tr`: test result (`covid-19-lab-result`).
    #[serde(borrow)]
    pub tr: Cow<'a, str>,
    /// `tc`: testing centre, ≤ 80 characters.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tc: Option<Cow<'a, str>>,
    /// `co`: country of test (`country-2-codes`).
    #[serde(borrow)]
    pub co: Cow<'a, str>,
    /// `is`: certificate issuer, ≤ 80 characters.
    #[serde(borrow)]
    pub is: Cow<'a, str>,
    /// `ci`: the UVCI, ≤ 80 characters.
    #[serde(borrow)]
    pub ci: Cow<'a, str>,
}

/// A recovery entry (`r[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryEntry<'a> {
    /// `tg`: disease targeted (`disease-agent-targeted`).
    #[serde(borrow)]
    pub tg: Cow<'a, str>,
    /// `fr`: date of the first positive NAA test, `YYYY-MM-DD`.
    #[serde(borrow)]
    pub fr: Cow<'a, str>,
    /// `co`: country of test (`country-2-codes`).
    #[serde(borrow)]
    pub co: Cow<'a, str>,
    /// `is`: certificate issuer, ≤ 80 characters.
    #[serde(borrow)]
    pub is: Cow<'a, str>,
    /// `df`: certificate valid from, `YYYY-MM-DD`.
    #[serde(borrow)]
    pub df: Cow<'a, str>,
    /// `du`: certificate valid until, `YYYY-MM-DD`.
    #[serde(borrow)]
    pub du: Cow<'a, str>,
    /// `ci`: the UVCI, ≤ 80 characters.
    #[serde(borrow)]
    pub ci: Cow<'a, str>,
}

impl DccEntry<'_> {
    /// The kind of certificate this entry makes.
    pub fn cert_type(&self) -> CertType {
        match self {
            DccEntry::Vaccination(_) => CertType::Vaccination,
            DccEntry::Test(_) => CertType::Test,
            DccEntry::Recovery(_) => CertType::Recovery,
        }
    }
}

impl<'a> DccPayload<'a> {
    /// Reads a payload's 1.3 fields, borrowing its strings; `None` if it does not fit these types (a
    /// missing field, two groups, a dose written as `1.0`). Validate it first: this checks shape, not rules.
    pub fn from_dcc(dcc: &'a Dcc) -> Option<DccPayload<'a>> {
        DccPayload::deserialize(dcc.as_json()).ok()
    }

    /// The payload as lossless JSON, for signing; unset optional fields are left out.
    pub fn to_dcc(&self) -> Result<Dcc, serde_json::Error> {
        serde_json::to_value(self).map(Dcc::from_json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcc::validate_schema;
    use serde_json::json;

    fn vaccination() -> DccPayload<'static> {
        DccPayload {
            ver: "1.3.0".into(),
            nam: PersonName {
                family: Some("Nguyễn".into()),
                family_transliterated: Some("NGUYEN".into()),
                given: Some("Bảo Duy".into()),
                given_transliterated: Some("BAO<DUY".into()),
            },
            dob: "1979-04-14".into(),
            entry: DccEntry::Vaccination([VaccinationEntry {
                tg: "840539006".into(),
                vp: "1119349007".into(),
                mp: "EU/1/20/1528".into(),
                ma: "ORG-100030215".into(),
                dn: 1,
                sd: 2,
                dt: "2021-06-11".into(),
                co: "VN".into(),
                is: "Ministry of Health".into(),
                ci: "URN:UVCI:01:VN:DADFCC47C7334E45A906DB12FD859FB7#1".into(),
            }]),
        }
    }

    #[test]
    fn built_payloads_validate_and_read_back_borrowed() {
        let payload = vaccination();
        let dcc = payload.to_dcc().unwrap();
        assert_eq!(dcc.as_json()["v"][0]["dn"], json!(1));
        assert_eq!(validate_schema(&dcc, None), Ok(CertType::Vaccination));
        let read = DccPayload::from_dcc(&dcc).unwrap();
        assert_eq!(read, payload);
        assert!(matches!(read.ver, Cow::Borrowed(_)));
        assert_eq!(read.entry.cert_type(), CertType::Vaccination);
    }

    #[test]
    fn optional_fields_are_left_out() {
        let payload = DccPayload {
            nam: PersonName {
                given_transliterated: Some("BAO".into()),
                ..PersonName::default()
            },
            entry: DccEntry::Test([TestEntry {
                tg: "840539006".into(),
                tt: "LP6464-4".into(),
                nm: None,
                ma: None,
                sc: "2021-06-11T17:30:00Z".into(),
                tr: "260415000".into(),
                tc: None,
                co: "VN".into(),
                is: "Ministry of Health".into(),
                ci: "URN:UVCI:01:VN:1#1".into(),
            }]),
            ..vaccination()
        };
        let dcc = payload.to_dcc().unwrap();
        assert_eq!(dcc.as_json()["nam"], json!({"gnt": "BAO"}));
        assert!(dcc.as_json()["t"][0].get("ma").is_none());
        assert_eq!(validate_schema(&dcc, None), Ok(CertType::Test));
        assert_eq!(DccPayload::from_dcc(&dcc).unwrap(), payload);
    }

    #[test]
    fn payloads_that_do_not_fit_are_none() {
        let mut json = vaccination().to_dcc().unwrap().into_json();
        json["v"][0]["dn"] = json!(1.0);
        assert!(DccPayload::from_dcc(&Dcc::from_json(json.clone())).is_none());
        json["v"][0]["dn"] = json!(1);
        json["r"] = json!([]);
        assert!(DccPayload::from_dcc(&Dcc::from_json(json.clone())).is_none());
        json.as_object_mut().unwrap().remove("r");
        json["v"] = json!([]);
        assert!(DccPayload::from_dcc(&Dcc::from_json(json)).is_none());
    }
}
