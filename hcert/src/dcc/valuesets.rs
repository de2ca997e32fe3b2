//! The EU DCC value sets (eu-dcc-valuesets): the codes each coded payload field may hold.
//!
//! The caller reads the documents (this crate does no I/O) and hands over their JSON text.

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The `valueSetId` of the vaccine encoding instructions (eu-dcc-valuesets, Annex A).
const ENCODING_INSTRUCTIONS_ID: &str = "vaccines-covid-19-encoding-instructions";

/// The marker the encoding instructions append to a product code that must no longer be issued.
const DEPRECATED_SUFFIX: &str = " (deprecated)";

/// One of the value sets a coded DCC field refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ValueSetId {
    /// `disease-agent-targeted`: `tg` of every entry.
    DiseaseAgentTargeted,
    /// `sct-vaccines-covid-19`: `v[].vp`, the vaccine or prophylaxis.
    VaccineProphylaxis,
    /// `vaccines-covid-19-names`: `v[].mp`, the medicinal product.
    VaccineMedicinalProduct,
    /// `vaccines-covid-19-auth-holders`: `v[].ma`, the marketing authorisation holder or manufacturer.
    VaccineMahManf,
    /// `covid-19-lab-test-type`: `t[].tt`.
    TestType,
    /// `covid-19-lab-test-manufacturer-and-name`: `t[].ma`, the rapid antigen test device.
    TestManufacturer,
    /// `covid-19-lab-result`: `t[].tr`.
    TestResult,
    /// `country-2-codes`: `co` of every entry.
    Country,
}

impl ValueSetId {
    /// Every value set, in declaration order.
    pub const ALL: [ValueSetId; 8] = [
        ValueSetId::DiseaseAgentTargeted,
        ValueSetId::VaccineProphylaxis,
        ValueSetId::VaccineMedicinalProduct,
        ValueSetId::VaccineMahManf,
        ValueSetId::TestType,
        ValueSetId::TestManufacturer,
        ValueSetId::TestResult,
        ValueSetId::Country,
    ];

    /// The `valueSetId` the EU documents carry for this set.
    pub fn id(self) -> &'static str {
        match self {
            ValueSetId::DiseaseAgentTargeted => "disease-agent-targeted",
            ValueSetId::VaccineProphylaxis => "sct-vaccines-covid-19",
            ValueSetId::VaccineMedicinalProduct => "vaccines-covid-19-names",
            ValueSetId::VaccineMahManf => "vaccines-covid-19-auth-holders",
            ValueSetId::TestType => "covid-19-lab-test-type",
            ValueSetId::TestManufacturer => "covid-19-lab-test-manufacturer-and-name",
            ValueSetId::TestResult => "covid-19-lab-result",
            ValueSetId::Country => "country-2-codes",
        }
    }

    /// The set whose documents carry this `valueSetId`, if it is one of ours.
    pub fn from_id(id: &str) -> Option<ValueSetId> {
        ValueSetId::ALL.into_iter().find(|set| set.id() == id)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ValueSetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The value sets: for each loaded set, its codes and whether each is active.
///
/// A set that was not loaded is not enforced by [`validate_schema`](super::validate_schema): the
/// test-device set (`test-manf.json` in the schema) is not always at hand, and an incomplete list would
/// reject valid certificates. Loaded sets are enforced, deprecated (inactive) codes included as members.
#[derive(Debug, Clone, Default)]
pub struct ValueSets {
    sets: [Option<HashMap<Box<str>, Member>>; ValueSetId::ALL.len()],
    encoding: Option<EncodingInstructions>,
    version: Option<Box<str>>,
}

/// Why the value-set documents could not be read. Never carries a code or personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueSetsError {
    /// Document `index` (0-based, in the order given) is not JSON of the value-set shape.
    #[error("value-set document {index} is malformed (line {line}, column {column})")]
    Malformed {
        /// Position of the document in the input.
        index: usize,
        /// Line of the error in the text; 0 when the document parsed but one of its entries had the
        /// wrong shape.
        line: usize,
        /// Column of the error in the text; 0 as for `line`.
        column: usize,
    },
    /// Document `index` carries a `valueSetId` this crate does not know.
    #[error("value-set document {index} has an unknown valueSetId")]
    UnknownId {
        /// Position of the document in the input.
        index: usize,
    },
    /// Document `index` repeats a `valueSetId` an earlier document already gave.
    #[error("value-set document {index} repeats valueSetId {id}")]
    Duplicate {
        /// Position of the second document in the input.
        index: usize,
        /// The repeated `valueSetId`.
        id: &'static str,
    },
}

#[derive(Deserialize)]
struct RawDocument {
    #[serde(rename = "valueSetId")]
    id: String,
    #[serde(rename = "valueSetValues")]
    values: Map<String, Value>,
    #[serde(rename = "valueSetDate")]
    date: Option<String>,
}

#[derive(Deserialize)]
struct RawEntry {
    active: Option<bool>,
    /// Any JSON: only a string is kept, so that an odd display never rejects a document.
    display: Option<Value>,
}

/// One code of a loaded set: whether it is active, and its display name.
#[derive(Debug, Clone)]
struct Member {
    active: bool,
    display: Option<Box<str>>,
}

#[derive(Deserialize)]
struct RawInstruction {
    #[serde(rename = "vaccine-code")]
    product: String,
    #[serde(rename = "vaccine-manufacturer")]
    manufacturer: String,
    #[serde(rename = "sct-codes")]
    prophylaxis: Vec<String>,
}

impl ValueSets {
    /// Builds the value sets from the JSON text of EU value-set documents, one per set.
    ///
    /// Each document is `{"valueSetId": ..., "valueSetValues": {code: {display, active, ...}}}`; the
    /// vaccine encoding instructions (`vaccine-encoding-instructions.json`) may be among them and are kept
    /// apart, see [`ValueSets::encoding_instructions`]. An unknown or repeated `valueSetId` is an error,
    /// so that a set the caller meant to load is never silently left out.
    pub fn from_documents<'a>(
        docs: impl IntoIterator<Item = &'a str>,
    ) -> Result<ValueSets, ValueSetsError> {
        let mut value_sets = ValueSets::default();
        for (index, text) in docs.into_iter().enumerate() {
            let raw: RawDocument =
                serde_json::from_str(text).map_err(|err| ValueSetsError::Malformed {
                    index,
                    line: err.line(),
                    column: err.column(),
                })?;
            if let Some(date) = raw.date.as_deref().filter(|date| is_iso_date(date))
                && value_sets
                    .version
                    .as_deref()
                    .is_none_or(|newest| date > newest)
            {
                value_sets.version = Some(date.into());
            }
            if raw.id == ENCODING_INSTRUCTIONS_ID {
                if value_sets.encoding.is_some() {
                    return Err(ValueSetsError::Duplicate {
                        index,
                        id: ENCODING_INSTRUCTIONS_ID,
                    });
                }
                value_sets.encoding = Some(EncodingInstructions::from_raw(raw.values, index)?);
                continue;
            }
            let set = ValueSetId::from_id(&raw.id).ok_or(ValueSetsError::UnknownId { index })?;
            let slot = value_sets
                .sets
                .get_mut(set.index())
                .ok_or(ValueSetsError::UnknownId { index })?;
            if slot.is_some() {
                return Err(ValueSetsError::Duplicate {
                    index,
                    id: set.id(),
                });
            }
            let mut codes = HashMap::with_capacity(raw.values.len());
            for (code, entry) in raw.values {
                let entry = RawEntry::deserialize(entry).map_err(|_| shape_error(index))?;
                let member = Member {
                    active: entry.active.unwrap_or(true),
                    display: entry
                        .display
                        .as_ref()
                        .and_then(Value::as_str)
                        .map(Box::from),
                };
                codes.insert(code.into_boxed_str(), member);
            }
            *slot = Some(codes);
        }
        Ok(value_sets)
    }

    /// Whether `code` is a member of `set`, active or not. False when `set` was not loaded.
    pub fn contains(&self, set: ValueSetId, code: &str) -> bool {
        self.codes(set)
            .is_some_and(|codes| codes.contains_key(code))
    }

    /// Whether `code` is an active member of `set`: `None` when it is no member or `set` was not loaded.
    ///
    /// Verification accepts inactive codes; an issuer should write only active ones.
    pub fn is_active(&self, set: ValueSetId, code: &str) -> Option<bool> {
        self.codes(set)?.get(code).map(|member| member.active)
    }

    /// The display name the value-set document gives `code` in `set` (`"Comirnaty"` for
    /// `EU/1/20/1528`), for people to read: `None` when there is none or `set` was not loaded.
    pub fn display(&self, set: ValueSetId, code: &str) -> Option<&str> {
        self.codes(set)?.get(code)?.display.as_deref()
    }

    /// The release the documents belong to: the newest `valueSetDate` among them (`YYYY-MM-DD`), since
    /// each document carries the date of its own last change. `None` when no document gave a date.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Whether a document for `set` was loaded (only loaded sets are enforced).
    pub fn is_loaded(&self, set: ValueSetId) -> bool {
        self.codes(set).is_some()
    }

    /// The vaccine encoding instructions, if their document was loaded: which `vp` and `ma` go with each
    /// `mp`. For the issuer only; verification never checks these pairs.
    pub fn encoding_instructions(&self) -> Option<&EncodingInstructions> {
        self.encoding.as_ref()
    }

    fn codes(&self, set: ValueSetId) -> Option<&HashMap<Box<str>, Member>> {
        self.sets.get(set.index())?.as_ref()
    }
}

/// Whether `text` is a `YYYY-MM-DD` date, so that comparing two as text compares them as dates.
fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(at, byte)| match at {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

fn shape_error(index: usize) -> ValueSetsError {
    ValueSetsError::Malformed {
        index,
        line: 0,
        column: 0,
    }
}

/// The vaccine encoding instructions (eu-dcc-valuesets Annex A): for each product (`mp`), the
/// manufacturer (`ma`) and the vaccine types (`vp`) to encode with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodingInstructions {
    products: Vec<EncodingInstruction>,
}

/// How one vaccine product is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodingInstruction {
    name: Box<str>,
    product: Box<str>,
    manufacturer: Box<str>,
    prophylaxis: Box<[Box<str>]>,
    deprecated: bool,
}

impl EncodingInstructions {
    fn from_raw(
        values: Map<String, Value>,
        index: usize,
    ) -> Result<EncodingInstructions, ValueSetsError> {
        let mut products = Vec::with_capacity(values.len());
        for (name, entry) in values {
            let raw = RawInstruction::deserialize(entry).map_err(|_| shape_error(index))?;
            let (product, deprecated) = match raw.product.strip_suffix(DEPRECATED_SUFFIX) {
                Some(code) => (code.to_owned(), true),
                None => (raw.product, false),
            };
            products.push(EncodingInstruction {
                name: name.into_boxed_str(),
                product: product.into_boxed_str(),
                manufacturer: raw.manufacturer.into_boxed_str(),
                prophylaxis: raw
                    .prophylaxis
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect(),
                deprecated,
            });
        }
        Ok(EncodingInstructions { products })
    }

    /// Whether the instructions allow product `mp` with vaccine type `vp` from manufacturer `ma`.
    ///
    /// Deprecation is not considered here: see [`EncodingInstruction::is_deprecated`].
    pub fn allows(&self, mp: &str, vp: &str, ma: &str) -> bool {
        self.products.iter().any(|instruction| {
            &*instruction.product == mp
                && &*instruction.manufacturer == ma
                && instruction.prophylaxis.iter().any(|code| &**code == vp)
        })
    }

    /// The instruction for product `mp`, if any.
    pub fn get(&self, mp: &str) -> Option<&EncodingInstruction> {
        self.products
            .iter()
            .find(|instruction| &*instruction.product == mp)
    }

    /// Every instruction, in document order.
    pub fn iter(&self) -> impl Iterator<Item = &EncodingInstruction> {
        self.products.iter()
    }
}

impl EncodingInstruction {
    /// The product's name, the key of the instructions document ("Comirnaty").
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `mp` code, without the document's " (deprecated)" marker.
    pub fn product(&self) -> &str {
        &self.product
    }

    /// The `ma` code to encode with this product.
    pub fn manufacturer(&self) -> &str {
        &self.manufacturer
    }

    /// The `vp` codes allowed with this product.
    pub fn prophylaxis(&self) -> impl Iterator<Item = &str> {
        self.prophylaxis.iter().map(|code| &**code)
    }

    /// Whether the document marks this product code " (deprecated)": not to be used for new certificates.
    pub fn is_deprecated(&self) -> bool {
        self.deprecated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VP: &str = r#"{"valueSetId": "sct-vaccines-covid-19", "valueSetDate": "2023-01-25", "valueSetValues": {
        "1119349007": {"display": "SARS-CoV-2 mRNA vaccine", "active": true},
        "J07BX03": {"display": "covid-19 vaccines (deprecated)", "active": false}}}"#;
    const INSTRUCTIONS: &str = r#"{"valueSetId": "vaccines-covid-19-encoding-instructions", "valueSetValues": {
        "Comirnaty": {"vaccine-code": "EU/1/20/1528", "vaccine-manufacturer": "ORG-100030215",
                      "sct-codes": ["1119349007", "28531000087107"], "note": "x"},
        "NVX-CoV2373": {"vaccine-code": "NVX-CoV2373 (deprecated)", "vaccine-manufacturer": "ORG-100032020",
                        "sct-codes": ["28531000087107"]}}}"#;

    #[test]
    fn version_is_the_newest_valid_value_set_date() {
        const OLDER: &str = r#"{"valueSetId": "country-2-codes", "valueSetDate": "2019-11-01", "valueSetValues": {}}"#;
        const GARBLED: &str = r#"{"valueSetId": "covid-19-lab-result", "valueSetDate": "2099-1-1", "valueSetValues": {}}"#;
        let sets = ValueSets::from_documents([OLDER, VP, GARBLED]).unwrap();
        assert_eq!(sets.version(), Some("2023-01-25"));
        assert_eq!(
            ValueSets::from_documents([INSTRUCTIONS]).unwrap().version(),
            None
        );
    }

    #[test]
    fn members_include_inactive_codes() {
        let sets = ValueSets::from_documents([VP]).unwrap();
        assert!(sets.contains(ValueSetId::VaccineProphylaxis, "1119349007"));
        assert!(sets.contains(ValueSetId::VaccineProphylaxis, "J07BX03"));
        assert!(!sets.contains(ValueSetId::VaccineProphylaxis, "J07BX0"));
        assert_eq!(
            sets.is_active(ValueSetId::VaccineProphylaxis, "J07BX03"),
            Some(false)
        );
        assert_eq!(
            sets.is_active(ValueSetId::VaccineProphylaxis, "1119349007"),
            Some(true)
        );
        assert_eq!(sets.is_active(ValueSetId::VaccineProphylaxis, "nope"), None);
        assert!(sets.is_loaded(ValueSetId::VaccineProphylaxis));
        assert!(!sets.is_loaded(ValueSetId::Country));
        assert!(!sets.contains(ValueSetId::Country, "VN"));
        assert!(sets.encoding_instructions().is_none());
    }

    #[test]
    fn display_names_are_kept() {
        const ODD: &str = r#"{"valueSetId": "country-2-codes", "valueSetValues": {
            "VN": {"display": "Viet Nam", "active": true}, "XX": {"display": 7}, "YY": {}}}"#;
        let sets = ValueSets::from_documents([VP, ODD]).unwrap();
        assert_eq!(
            sets.display(ValueSetId::VaccineProphylaxis, "1119349007"),
            Some("SARS-CoV-2 mRNA vaccine")
        );
        assert_eq!(sets.display(ValueSetId::Country, "VN"), Some("Viet Nam"));
        assert_eq!(sets.display(ValueSetId::Country, "XX"), None);
        assert_eq!(sets.display(ValueSetId::Country, "YY"), None);
        assert!(sets.contains(ValueSetId::Country, "XX"));
        assert_eq!(sets.display(ValueSetId::Country, "ZZ"), None);
        assert_eq!(
            sets.display(ValueSetId::VaccineMedicinalProduct, "EU/1/20/1528"),
            None
        );
    }

    #[test]
    fn encoding_instructions_are_kept_apart() {
        let sets = ValueSets::from_documents([VP, INSTRUCTIONS]).unwrap();
        let instructions = sets.encoding_instructions().unwrap();
        assert!(instructions.allows("EU/1/20/1528", "1119349007", "ORG-100030215"));
        assert!(!instructions.allows("EU/1/20/1528", "1119349007", "ORG-100032020"));
        assert!(!instructions.allows("EU/1/20/1528", "J07BX03", "ORG-100030215"));
        let nvx = instructions.get("NVX-CoV2373").unwrap();
        assert!(nvx.is_deprecated());
        assert_eq!(nvx.name(), "NVX-CoV2373");
        assert_eq!(nvx.manufacturer(), "ORG-100032020");
        assert_eq!(nvx.prophylaxis().collect::<Vec<_>>(), ["28531000087107"]);
        assert!(!instructions.get("EU/1/20/1528").unwrap().is_deprecated());
        assert_eq!(instructions.iter().count(), 2);
        assert!(!sets.is_loaded(ValueSetId::VaccineMedicinalProduct));
    }

    #[test]
    fn bad_documents_are_refused() {
        let refuse = |docs: &[&str]| ValueSets::from_documents(docs.iter().copied()).unwrap_err();
        let malformed = |docs: &[&str], expected_index: usize| {
            let error = refuse(docs);
            assert!(
                matches!(error, ValueSetsError::Malformed { index, .. } if index == expected_index),
                "{error:?}"
            );
        };
        assert_eq!(
            refuse(&[VP, "{"]),
            ValueSetsError::Malformed {
                index: 1,
                line: 1,
                column: 1
            }
        );
        malformed(&[r#"{"valueSetId": "sct-vaccines-covid-19"}"#], 0);
        malformed(
            &[r#"{"valueSetId": "country-2-codes", "valueSetValues": []}"#],
            0,
        );
        malformed(
            &[r#"{"valueSetId": "country-2-codes", "valueSetValues": {"VN": 1}}"#],
            0,
        );
        malformed(
            &[r#"{"valueSetId": "country-2-codes", "valueSetValues": {"VN": {"active": 1}}}"#],
            0,
        );
        let bad_instruction = r#"{"valueSetId": "vaccines-covid-19-encoding-instructions",
            "valueSetValues": {"A": {"vaccine-code": "x", "sct-codes": []}}}"#;
        malformed(&[VP, bad_instruction], 1);
        let unknown = r#"{"valueSetId": "x", "valueSetValues": {}}"#;
        assert_eq!(refuse(&[unknown]), ValueSetsError::UnknownId { index: 0 });
        assert_eq!(
            refuse(&[VP, VP]),
            ValueSetsError::Duplicate {
                index: 1,
                id: "sct-vaccines-covid-19"
            }
        );
        assert_eq!(
            refuse(&[INSTRUCTIONS, INSTRUCTIONS]),
            ValueSetsError::Duplicate {
                index: 1,
                id: ENCODING_INSTRUCTIONS_ID
            }
        );
    }

    #[test]
    fn ids_round_trip() {
        for set in ValueSetId::ALL {
            assert_eq!(ValueSetId::from_id(set.id()), Some(set));
            assert_eq!(set.to_string(), set.id());
        }
        assert_eq!(ValueSetId::from_id(ENCODING_INSTRUCTIONS_ID), None);
    }

    #[test]
    fn empty_input_loads_nothing() {
        let sets = ValueSets::from_documents([]).unwrap();
        assert!(ValueSetId::ALL.into_iter().all(|set| !sets.is_loaded(set)));
    }
}
