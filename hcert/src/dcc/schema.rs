//! The `schema` check: DCC schema 1.3.x (`DCC.combined-schema.json`) as typed rules, plus value sets.
//!
//! Equivalent to the official JSON schema with its `format` keywords not asserted (PL/*/11-13 put a
//! date-time in `dt` and must pass), patterns read as ECMA-262 like JSON Schema does, lengths counted in
//! code points. Unknown fields are allowed, as the schema allows them: older payloads carry fields 1.3
//! dropped (`t[].dr`). Product/manufacturer pairs are never checked here (spec-notes §4).

use std::fmt;

use serde_json::{Map, Number, Value};

use super::{CertType, Dcc, PayloadDefect, ValueSetId, ValueSets};

/// The schema's `maxLength` for names, issuer, UVCI, test name and testing centre.
const MAX_TEXT: usize = 80;

/// Why a payload fails the schema: the first failing field and the rule it broke, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// Decoding found something JSON cannot hold (a duplicate key, a non-text key, a byte string).
    #[error("payload defect: {0}")]
    Defect(PayloadDefect),
    /// The payload holds none, or more than one, of the groups `v`, `t`, `r`.
    #[error("payload holds {count} of the groups v, t, r instead of exactly one")]
    GroupCount {
        /// How many of `v`, `t`, `r` are present.
        count: usize,
    },
    /// A group is an array of other than exactly one entry.
    #[error("{path}: a group must hold exactly one entry")]
    EntryCount {
        /// JSON pointer of the group (`/v`).
        path: &'static str,
    },
    /// A required field is absent.
    #[error("{path}: required field missing")]
    Missing {
        /// JSON pointer of the missing field.
        path: &'static str,
    },
    /// `nam` holds neither `fnt` nor `gnt`: at least one standardised name is required.
    #[error("/nam: neither fnt nor gnt present")]
    NameMissing,
    /// A field has the wrong JSON type.
    #[error("{path}: expected {expected}")]
    WrongType {
        /// JSON pointer of the field (`""` for the payload itself).
        path: &'static str,
        /// The type the schema requires.
        expected: JsonType,
    },
    /// A text field does not match the schema's pattern.
    #[error("{path}: does not match the schema pattern")]
    Pattern {
        /// JSON pointer of the field.
        path: &'static str,
    },
    /// A text field is longer than the schema allows (counted in Unicode code points).
    #[error("{path}: longer than {max} characters")]
    TooLong {
        /// JSON pointer of the field.
        path: &'static str,
        /// The schema's `maxLength`.
        max: usize,
    },
    /// A number is below the schema's minimum.
    #[error("{path}: below the minimum {min}")]
    Minimum {
        /// JSON pointer of the field.
        path: &'static str,
        /// The schema's `minimum`.
        min: u64,
    },
    /// A coded field holds a code outside its (loaded) value set.
    #[error("{path}: code not in value set {value_set}")]
    NotInValueSet {
        /// JSON pointer of the field.
        path: &'static str,
        /// The value set the code must belong to.
        value_set: ValueSetId,
    },
}

/// A JSON type the schema requires of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonType {
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// A JSON string.
    String,
    /// A JSON number with no fractional part (`1.0` counts, as in JSON Schema).
    Integer,
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonType::Object => "an object",
            JsonType::Array => "an array",
            JsonType::String => "a string",
            JsonType::Integer => "an integer",
        })
    }
}

/// Validates a payload against DCC schema 1.3.x and, when given, the value sets; returns its kind.
///
/// Every coded field (`tg`, `vp`, `mp`, `ma`, `co` of `v`; `tg`, `tt`, `ma`, `tr`, `co` of `t`; `tg`, `co`
/// of `r`) must then be a member of its set, inactive codes included; a set that was not loaded is not
/// checked. A payload with a decoding defect fails. The error names the first failing field, in key order.
pub fn validate_schema(dcc: &Dcc, value_sets: Option<&ValueSets>) -> Result<CertType, SchemaError> {
    if let Some(defect) = dcc.defect() {
        return Err(SchemaError::Defect(defect.clone()));
    }
    let root = object(dcc.as_json(), "")?;
    // One pass over the fields, each checked by its own rule; absent ones are looked for afterwards.
    let mut present = 0;
    let mut groups = 0;
    let mut group = None;
    for (key, value) in root {
        match key.as_str() {
            "ver" => version(value)?,
            "nam" => name(value)?,
            "dob" => birth_date(value)?,
            "v" | "t" | "r" => {
                // The root `oneOf`: each branch requires one group, so exactly one may be present
                // (present means present: `required` counts keys, so a `null` group counts too).
                groups += 1;
                group = Some((key.as_str(), value));
                continue;
            }
            _ => continue,
        }
        present += 1;
    }
    all_present(
        root,
        present,
        &[("ver", "/ver"), ("nam", "/nam"), ("dob", "/dob")],
    )?;
    let checker = Checker { value_sets };
    match group {
        Some(("v", entries)) if groups == 1 => {
            checker.vaccination(single_entry(entries, "/v", "/v/0")?)?;
            Ok(CertType::Vaccination)
        }
        Some(("t", entries)) if groups == 1 => {
            checker.test(single_entry(entries, "/t", "/t/0")?)?;
            Ok(CertType::Test)
        }
        Some(("r", entries)) if groups == 1 => {
            checker.recovery(single_entry(entries, "/r", "/r/0")?)?;
            Ok(CertType::Recovery)
        }
        _ => Err(SchemaError::GroupCount { count: groups }),
    }
}

/// A group: an array of exactly one entry (`minItems` = `maxItems` = 1), an object.
fn single_entry<'a>(
    group: &'a Value,
    path: &'static str,
    entry_path: &'static str,
) -> Result<&'a Map<String, Value>, SchemaError> {
    let entries = group.as_array().ok_or(SchemaError::WrongType {
        path,
        expected: JsonType::Array,
    })?;
    let [entry] = entries.as_slice() else {
        return Err(SchemaError::EntryCount { path });
    };
    object(entry, entry_path)
}

/// After a pass that counted `present` of the `required` keys (a map holds each key once): the first
/// one missing, in schema order.
fn all_present(
    map: &Map<String, Value>,
    present: usize,
    required: &[(&str, &'static str)],
) -> Result<(), SchemaError> {
    if present == required.len() {
        return Ok(());
    }
    match required.iter().find(|(key, _)| !map.contains_key(*key)) {
        Some(&(_, path)) => Err(SchemaError::Missing { path }),
        None => Ok(()),
    }
}

/// `ver`: `^\d+.\d+.\d+$`.
fn version(value: &Value) -> Result<(), SchemaError> {
    if !is_version(string(value, "/ver")?) {
        return Err(SchemaError::Pattern { path: "/ver" });
    }
    Ok(())
}

/// `dob`: `^((19|20)\d\d(-\d\d){0,2}){0,1}$`.
fn birth_date(value: &Value) -> Result<(), SchemaError> {
    if !is_birth_date(string(value, "/dob")?) {
        return Err(SchemaError::Pattern { path: "/dob" });
    }
    Ok(())
}

/// `person_name`: `fn`/`gn` text ≤ 80, `fnt`/`gnt` ICAO 9303 `^[A-Z<]*$` ≤ 80, at least one of those two.
fn name(value: &Value) -> Result<(), SchemaError> {
    let mut standardised = false;
    for (key, value) in object(value, "/nam")? {
        match key.as_str() {
            "fn" => bounded_text(value, "/nam/fn")?,
            "gn" => bounded_text(value, "/nam/gn")?,
            "fnt" => {
                transliterated(value, "/nam/fnt")?;
                standardised = true;
            }
            "gnt" => {
                transliterated(value, "/nam/gnt")?;
                standardised = true;
            }
            _ => {}
        }
    }
    if !standardised {
        return Err(SchemaError::NameMissing);
    }
    Ok(())
}

fn transliterated(value: &Value, path: &'static str) -> Result<(), SchemaError> {
    let value = string(value, path)?;
    if !value
        .bytes()
        .all(|byte| byte.is_ascii_uppercase() || byte == b'<')
    {
        return Err(SchemaError::Pattern { path });
    }
    max_len(value, path)
}

/// The JSON pointer of an entry's field, a `&'static str` so that errors never allocate.
macro_rules! at {
    ($group:literal, $key:literal) => {
        concat!("/", $group, "/0/", $key)
    };
}

/// `vaccination_entry`: every field is required.
const VACCINATION_REQUIRED: [(&str, &str); 10] = [
    ("tg", at!("v", "tg")),
    ("vp", at!("v", "vp")),
    ("mp", at!("v", "mp")),
    ("ma", at!("v", "ma")),
    ("dn", at!("v", "dn")),
    ("sd", at!("v", "sd")),
    ("dt", at!("v", "dt")),
    ("co", at!("v", "co")),
    ("is", at!("v", "is")),
    ("ci", at!("v", "ci")),
];

/// `test_entry`: all but `nm`, `ma` and `tc` are required.
const TEST_REQUIRED: [(&str, &str); 7] = [
    ("tg", at!("t", "tg")),
    ("tt", at!("t", "tt")),
    ("sc", at!("t", "sc")),
    ("tr", at!("t", "tr")),
    ("co", at!("t", "co")),
    ("is", at!("t", "is")),
    ("ci", at!("t", "ci")),
];

/// `recovery_entry`: every field is required.
const RECOVERY_REQUIRED: [(&str, &str); 7] = [
    ("tg", at!("r", "tg")),
    ("fr", at!("r", "fr")),
    ("co", at!("r", "co")),
    ("is", at!("r", "is")),
    ("df", at!("r", "df")),
    ("du", at!("r", "du")),
    ("ci", at!("r", "ci")),
];

struct Checker<'v> {
    value_sets: Option<&'v ValueSets>,
}

impl Checker<'_> {
    fn vaccination(&self, entry: &Map<String, Value>) -> Result<(), SchemaError> {
        let mut present = 0;
        for (key, value) in entry {
            match key.as_str() {
                "tg" => self.code(value, at!("v", "tg"), ValueSetId::DiseaseAgentTargeted)?,
                "vp" => self.code(value, at!("v", "vp"), ValueSetId::VaccineProphylaxis)?,
                "mp" => self.code(value, at!("v", "mp"), ValueSetId::VaccineMedicinalProduct)?,
                "ma" => self.code(value, at!("v", "ma"), ValueSetId::VaccineMahManf)?,
                "dn" => dose(value, at!("v", "dn"))?,
                "sd" => dose(value, at!("v", "sd"))?,
                "dt" => string(value, at!("v", "dt")).map(drop)?,
                "co" => self.country(value, at!("v", "co"))?,
                "is" => bounded_text(value, at!("v", "is"))?,
                "ci" => bounded_text(value, at!("v", "ci"))?,
                _ => continue,
            }
            present += 1;
        }
        all_present(entry, present, &VACCINATION_REQUIRED)
    }

    fn test(&self, entry: &Map<String, Value>) -> Result<(), SchemaError> {
        let mut present = 0;
        for (key, value) in entry {
            match key.as_str() {
                "tg" => self.code(value, at!("t", "tg"), ValueSetId::DiseaseAgentTargeted)?,
                "tt" => self.code(value, at!("t", "tt"), ValueSetId::TestType)?,
                "sc" => string(value, at!("t", "sc")).map(drop)?,
                "tr" => self.code(value, at!("t", "tr"), ValueSetId::TestResult)?,
                "co" => self.country(value, at!("t", "co"))?,
                "is" => bounded_text(value, at!("t", "is"))?,
                "ci" => bounded_text(value, at!("t", "ci"))?,
                "nm" => {
                    bounded_text(value, at!("t", "nm"))?;
                    continue;
                }
                "ma" => {
                    self.code(value, at!("t", "ma"), ValueSetId::TestManufacturer)?;
                    continue;
                }
                "tc" => {
                    bounded_text(value, at!("t", "tc"))?;
                    continue;
                }
                _ => continue,
            }
            present += 1;
        }
        all_present(entry, present, &TEST_REQUIRED)
    }

    fn recovery(&self, entry: &Map<String, Value>) -> Result<(), SchemaError> {
        let mut present = 0;
        for (key, value) in entry {
            match key.as_str() {
                "tg" => self.code(value, at!("r", "tg"), ValueSetId::DiseaseAgentTargeted)?,
                "fr" => string(value, at!("r", "fr")).map(drop)?,
                "co" => self.country(value, at!("r", "co"))?,
                "is" => bounded_text(value, at!("r", "is"))?,
                "df" => string(value, at!("r", "df")).map(drop)?,
                "du" => string(value, at!("r", "du")).map(drop)?,
                "ci" => bounded_text(value, at!("r", "ci"))?,
                _ => continue,
            }
            present += 1;
        }
        all_present(entry, present, &RECOVERY_REQUIRED)
    }

    fn code(&self, value: &Value, path: &'static str, set: ValueSetId) -> Result<(), SchemaError> {
        self.member(string(value, path)?, path, set)
    }

    /// `country_vt`: the unanchored pattern `[A-Z]{1,10}` (one capital letter anywhere), then the set.
    fn country(&self, value: &Value, path: &'static str) -> Result<(), SchemaError> {
        let code = string(value, path)?;
        if !code.bytes().any(|byte| byte.is_ascii_uppercase()) {
            return Err(SchemaError::Pattern { path });
        }
        self.member(code, path, ValueSetId::Country)
    }

    fn member(&self, code: &str, path: &'static str, set: ValueSetId) -> Result<(), SchemaError> {
        match self.value_sets {
            Some(sets) if sets.is_loaded(set) && !sets.contains(set, code) => {
                Err(SchemaError::NotInValueSet {
                    path,
                    value_set: set,
                })
            }
            _ => Ok(()),
        }
    }
}

/// Text of at most 80 code points (`issuer`, `certificate_id`, `nm`, `tc`, `fn`, `gn`).
fn bounded_text(value: &Value, path: &'static str) -> Result<(), SchemaError> {
    max_len(string(value, path)?, path)
}

/// `dose_posint`: an integer (a number with no fractional part, `1.0` included) ≥ 1.
fn dose(value: &Value, path: &'static str) -> Result<(), SchemaError> {
    match value.as_number().and_then(integer_at_least_one) {
        Some(true) => Ok(()),
        Some(false) => Err(SchemaError::Minimum { path, min: 1 }),
        None => Err(SchemaError::WrongType {
            path,
            expected: JsonType::Integer,
        }),
    }
}

/// `None` if `number` is not an integer in the JSON Schema sense, else whether it is ≥ 1.
fn integer_at_least_one(number: &Number) -> Option<bool> {
    if let Some(unsigned) = number.as_u64() {
        return Some(unsigned >= 1);
    }
    if number.is_i64() {
        return Some(false);
    }
    let float = number.as_f64()?;
    (float.is_finite() && float.fract() == 0.0).then_some(float >= 1.0)
}

fn object<'a>(value: &'a Value, path: &'static str) -> Result<&'a Map<String, Value>, SchemaError> {
    value.as_object().ok_or(SchemaError::WrongType {
        path,
        expected: JsonType::Object,
    })
}

fn string<'a>(value: &'a Value, path: &'static str) -> Result<&'a str, SchemaError> {
    value.as_str().ok_or(SchemaError::WrongType {
        path,
        expected: JsonType::String,
    })
}

/// `maxLength` 80, in code points as JSON Schema counts.
fn max_len(value: &str, path: &'static str) -> Result<(), SchemaError> {
    if value.len() > MAX_TEXT && value.chars().count() > MAX_TEXT {
        return Err(SchemaError::TooLong {
            path,
            max: MAX_TEXT,
        });
    }
    Ok(())
}

/// `^\d+.\d+.\d+$` exactly as the schema writes it: the dots are unescaped, so each matches any one code
/// point but a line terminator (ECMA-262 `.`: not `\n`, `\r`, U+2028, U+2029); `\d` is ASCII.
///
/// A match is digits, one separator, digits, one separator, digits. Every code point that is not a digit
/// must be one of the two separators, which pins them down without backtracking.
fn is_version(value: &str) -> bool {
    let mut length = 0;
    let mut first = None;
    let mut second = None;
    for (index, c) in value.chars().enumerate() {
        length = index + 1;
        if c.is_ascii_digit() {
            continue;
        }
        if matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') || second.is_some() {
            return false;
        }
        if first.is_none() {
            first = Some(index);
        } else {
            second = Some(index);
        }
    }
    match (first, second) {
        // All digits: any two of them can serve as separators.
        (None, _) => length >= 5,
        // One non-digit: it is the first separator (a digit after it is the second) or the second.
        (Some(a), None) => a >= 1 && a + 2 <= length && (a + 4 <= length || a >= 3),
        (Some(a), Some(b)) => a >= 1 && b >= a + 2 && b + 2 <= length,
    }
}

/// `^((19|20)\d\d(-\d\d){0,2}){0,1}$`: empty, or a year 19xx/20xx followed by up to two `-dd` parts.
/// Month and day ranges are not checked (`2021-13-45` matches), as the schema does not check them.
fn is_birth_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return true;
    }
    let Some((century, rest)) = bytes.split_first_chunk::<2>() else {
        return false;
    };
    let Some((year, mut rest)) = rest.split_first_chunk::<2>() else {
        return false;
    };
    if !matches!(century, b"19" | b"20") || !year.iter().all(u8::is_ascii_digit) {
        return false;
    }
    for _ in 0..2 {
        match rest.split_first_chunk::<3>() {
            Some(([b'-', tens, units], tail))
                if tens.is_ascii_digit() && units.is_ascii_digit() =>
            {
                rest = tail
            }
            _ => break,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VACCINATION: &str = r#"{"ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Bảo Duy", "gnt": "BAO<DUY"}, "dob": "1979-04-14",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": 2, "sd": 2, "dt": "2021-06-11", "co": "VN", "is": "Ministry of Health",
               "ci": "URN:UVCI:01:VN:DADFCC47C7334E45A906DB12FD859FB7#1"}]}"#;
    const TEST: &str = r#"{"ver": "1.3.0", "nam": {"fnt": "NGUYEN"}, "dob": "1979",
        "t": [{"tg": "840539006", "tt": "LP217198-3", "ma": "1232", "sc": "2021-06-11T17:30:00Z",
               "tr": "260415000", "tc": "Test centre", "co": "VN", "is": "Ministry of Health",
               "ci": "URN:UVCI:01:VN:1#1"}]}"#;
    const RECOVERY: &str = r#"{"ver": "1.3.0", "nam": {"gnt": "BAO"}, "dob": "",
        "r": [{"tg": "840539006", "fr": "2021-05-01", "co": "VN", "is": "Ministry of Health",
               "df": "2021-05-12", "du": "2021-10-28", "ci": "URN:UVCI:01:VN:2#2"}]}"#;

    fn value_sets() -> ValueSets {
        let doc = |id: &str, codes: &[(&str, bool)]| {
            let values: Map<String, Value> = codes
                .iter()
                .map(|(code, active)| {
                    (code.to_string(), json!({"display": code, "active": active}))
                })
                .collect();
            json!({"valueSetId": id, "valueSetValues": values}).to_string()
        };
        let docs = [
            doc("disease-agent-targeted", &[("840539006", true)]),
            doc(
                "sct-vaccines-covid-19",
                &[("1119349007", true), ("J07BX03", false)],
            ),
            doc(
                "vaccines-covid-19-names",
                &[("EU/1/20/1528", true), ("EU/1/20/1525", true)],
            ),
            doc(
                "vaccines-covid-19-auth-holders",
                &[("ORG-100030215", true), ("ORG-100001417", true)],
            ),
            doc(
                "covid-19-lab-test-type",
                &[("LP217198-3", true), ("LP6464-4", true)],
            ),
            doc("covid-19-lab-result", &[("260415000", true)]),
            doc("country-2-codes", &[("VN", true), ("DE", true)]),
        ];
        ValueSets::from_documents(docs.iter().map(String::as_str)).unwrap()
    }

    /// Applies `edit` (a JSON pointer and a new value, [`gone`] meaning removal) to `base`, validates it with
    /// the value sets, and compares with `expected`.
    fn check(base: &str, edit: &[(&str, Value)], expected: Result<CertType, SchemaError>) {
        let mut payload: Value = serde_json::from_str(base).unwrap();
        for (pointer, value) in edit {
            set(&mut payload, pointer, value.clone());
        }
        let sets = value_sets();
        assert_eq!(
            validate_schema(&Dcc::from_json(payload.clone()), Some(&sets)),
            expected,
            "{pointer:?} on {payload}",
            pointer = edit.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        );
    }

    fn set(payload: &mut Value, pointer: &str, value: Value) {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = payload.pointer_mut(parent).unwrap();
        match (parent, value) {
            (Value::Object(map), value) if value == gone() => drop(map.remove(key)),
            (Value::Object(map), value) => drop(map.insert(key.to_string(), value)),
            (Value::Array(items), value) => items[key.parse::<usize>().unwrap()] = value,
            _ => panic!("bad pointer {pointer}"),
        }
    }

    /// Marks a field for removal in [`check`] edits.
    fn gone() -> Value {
        json!("\u{0}gone")
    }

    use CertType::{Recovery as R, Test as T, Vaccination as V};
    use SchemaError::*;

    fn missing(path: &'static str) -> Result<CertType, SchemaError> {
        Err(Missing { path })
    }
    fn pattern(path: &'static str) -> Result<CertType, SchemaError> {
        Err(Pattern { path })
    }
    fn wrong(path: &'static str, expected: JsonType) -> Result<CertType, SchemaError> {
        Err(WrongType { path, expected })
    }
    fn long(path: &'static str) -> Result<CertType, SchemaError> {
        Err(TooLong { path, max: 80 })
    }
    fn not_in(path: &'static str, value_set: ValueSetId) -> Result<CertType, SchemaError> {
        Err(NotInValueSet { path, value_set })
    }
    fn letters(n: usize) -> Value {
        Value::String("A".repeat(n))
    }
    fn wide(n: usize) -> Value {
        Value::String("Ễ".repeat(n))
    }

    #[test]
    fn valid_payloads() {
        check(VACCINATION, &[], Ok(V));
        check(TEST, &[], Ok(T));
        check(RECOVERY, &[], Ok(R));
        check(TEST, &[("/t/0/ma", gone()), ("/t/0/tc", gone())], Ok(T));
        check(TEST, &[("/t/0/nm", json!("PCR"))], Ok(T));
    }

    #[test]
    fn root_and_groups() {
        check("[]", &[], wrong("", JsonType::Object));
        check("\"v\"", &[], wrong("", JsonType::Object));
        check(VACCINATION, &[("/v", gone())], Err(GroupCount { count: 0 }));
        check(
            VACCINATION,
            &[("/t", json!([]))],
            Err(GroupCount { count: 2 }),
        );
        check(
            VACCINATION,
            &[("/r", gone()), ("/t", json!(null))],
            Err(GroupCount { count: 2 }),
        );
        check(
            VACCINATION,
            &[("/t", json!(1)), ("/r", json!(1))],
            Err(GroupCount { count: 3 }),
        );
        check(
            VACCINATION,
            &[("/v", json!([]))],
            Err(EntryCount { path: "/v" }),
        );
        check(
            TEST,
            &[("/t", json!([{}, {}]))],
            Err(EntryCount { path: "/t" }),
        );
        check(RECOVERY, &[("/r", json!({}))], wrong("/r", JsonType::Array));
        check(
            RECOVERY,
            &[("/r/0", json!("x"))],
            wrong("/r/0", JsonType::Object),
        );
        check(
            VACCINATION,
            &[("/v/0/extra", json!({"any": [1]})), ("/x", json!(1))],
            Ok(V),
        );
        check(VACCINATION, &[("/nam/extra", json!(1))], Ok(V));
    }

    #[test]
    fn version() {
        check(VACCINATION, &[("/ver", gone())], missing("/ver"));
        check(
            VACCINATION,
            &[("/ver", json!(1.3))],
            wrong("/ver", JsonType::String),
        );
        for ok in [
            "1.0.0", "1.3.3", "10.20.30", "1a2b3", "12345", "1.2345", "123.4", "1.2.3",
        ] {
            check(VACCINATION, &[("/ver", json!(ok))], Ok(V));
        }
        for bad in [
            "", "1.3", "1.3.", ".1.3.0", "1..3.0", "1.3.0.0", "v1.3.0", "1.3.0 ", "1234", "1\n2.3",
            "123.", "12.", "1234.",
        ] {
            check(VACCINATION, &[("/ver", json!(bad))], pattern("/ver"));
        }
        for bad in ["1\r2.3", "1\u{2028}2.3", "1.3.٣"] {
            check(VACCINATION, &[("/ver", json!(bad))], pattern("/ver"));
        }
        check(VACCINATION, &[("/ver", json!("1Ễ2Ễ3"))], Ok(V));
    }

    #[test]
    fn names() {
        check(VACCINATION, &[("/nam", gone())], missing("/nam"));
        check(
            VACCINATION,
            &[("/nam", json!("NGUYEN"))],
            wrong("/nam", JsonType::Object),
        );
        check(
            VACCINATION,
            &[("/nam", json!({"fn": "Nguyễn", "gn": "Bảo"}))],
            Err(NameMissing),
        );
        check(VACCINATION, &[("/nam", json!({}))], Err(NameMissing));
        check(VACCINATION, &[("/nam/fnt", gone())], Ok(V));
        check(VACCINATION, &[("/nam/gnt", gone())], Ok(V));
        check(
            VACCINATION,
            &[("/nam/fnt", gone()), ("/nam/gnt", gone())],
            Err(NameMissing),
        );
        check(VACCINATION, &[("/nam/fnt", json!(""))], Ok(V));
        check(VACCINATION, &[("/nam/fnt", json!("D<CERVENKOVA<<"))], Ok(V));
        check(
            VACCINATION,
            &[("/nam/fnt", json!("Nguyen"))],
            pattern("/nam/fnt"),
        );
        check(
            VACCINATION,
            &[("/nam/gnt", json!("BAO DUY"))],
            pattern("/nam/gnt"),
        );
        check(
            VACCINATION,
            &[("/nam/gnt", json!("BẢO"))],
            pattern("/nam/gnt"),
        );
        check(
            VACCINATION,
            &[("/nam/fnt", json!(null))],
            wrong("/nam/fnt", JsonType::String),
        );
        check(
            VACCINATION,
            &[("/nam/fn", json!(["x"]))],
            wrong("/nam/fn", JsonType::String),
        );
        check(
            VACCINATION,
            &[("/nam/fnt", letters(80)), ("/nam/gnt", letters(79))],
            Ok(V),
        );
        check(VACCINATION, &[("/nam/fnt", letters(81))], long("/nam/fnt"));
        check(VACCINATION, &[("/nam/gnt", letters(81))], long("/nam/gnt"));
        check(
            VACCINATION,
            &[("/nam/fn", wide(80)), ("/nam/gn", wide(80))],
            Ok(V),
        );
        check(VACCINATION, &[("/nam/fn", wide(81))], long("/nam/fn"));
        check(VACCINATION, &[("/nam/gn", wide(81))], long("/nam/gn"));
        check(
            VACCINATION,
            &[("/nam/gn", json!("\u{202e}evil\u{0007}"))],
            Ok(V),
        );
    }

    #[test]
    fn date_of_birth() {
        check(VACCINATION, &[("/dob", gone())], missing("/dob"));
        check(
            VACCINATION,
            &[("/dob", json!(1979))],
            wrong("/dob", JsonType::String),
        );
        for ok in [
            "",
            "1950",
            "1901-08",
            "1979-04-14",
            "2099-99-99",
            "2021-13-45",
            "1900-00",
        ] {
            check(VACCINATION, &[("/dob", json!(ok))], Ok(V));
        }
        let bad = [
            "1899-01-01",
            "2100",
            "79",
            "197",
            "19790",
            "1979-4",
            "1979-04-1",
            "1979-04-14-01",
            "1979/04/14",
            "1979-04-14T00:00:00Z",
            " 1979",
            "1979-04-14 ",
            "XX",
            "1٩79",
        ];
        for bad in bad {
            check(VACCINATION, &[("/dob", json!(bad))], pattern("/dob"));
        }
    }

    #[test]
    fn vaccination_entries() {
        for key in ["tg", "vp", "mp", "ma", "dn", "sd", "dt", "co", "is", "ci"] {
            let pointer = format!("/v/0/{key}");
            let path: &'static str = Box::leak(pointer.clone().into_boxed_str());
            check(VACCINATION, &[(&pointer, gone())], missing(path));
        }
        check(
            VACCINATION,
            &[("/v/0/dn", json!(0))],
            Err(Minimum {
                path: "/v/0/dn",
                min: 1,
            }),
        );
        check(
            VACCINATION,
            &[("/v/0/sd", json!(0))],
            Err(Minimum {
                path: "/v/0/sd",
                min: 1,
            }),
        );
        check(
            VACCINATION,
            &[("/v/0/dn", json!(-1))],
            Err(Minimum {
                path: "/v/0/dn",
                min: 1,
            }),
        );
        check(
            VACCINATION,
            &[("/v/0/sd", json!(0.0))],
            Err(Minimum {
                path: "/v/0/sd",
                min: 1,
            }),
        );
        check(
            VACCINATION,
            &[("/v/0/dn", json!(-0.0))],
            Err(Minimum {
                path: "/v/0/dn",
                min: 1,
            }),
        );
        check(
            VACCINATION,
            &[("/v/0/dn", json!(1.5))],
            wrong("/v/0/dn", JsonType::Integer),
        );
        check(
            VACCINATION,
            &[("/v/0/dn", json!("1"))],
            wrong("/v/0/dn", JsonType::Integer),
        );
        check(
            VACCINATION,
            &[("/v/0/sd", json!(true))],
            wrong("/v/0/sd", JsonType::Integer),
        );
        check(
            VACCINATION,
            &[("/v/0/dn", json!(1.0)), ("/v/0/sd", json!(1e300))],
            Ok(V),
        );
        check(
            VACCINATION,
            &[("/v/0/dn", json!(3)), ("/v/0/sd", json!(1))],
            Ok(V),
        );
        check(
            VACCINATION,
            &[("/v/0/dn", json!(u64::MAX)), ("/v/0/sd", json!(99))],
            Ok(V),
        );
        check(
            VACCINATION,
            &[("/v/0/dt", json!("2021-06-11T22:54:00+02:00"))],
            Ok(V),
        );
        check(VACCINATION, &[("/v/0/dt", json!("not a date"))], Ok(V));
        check(
            VACCINATION,
            &[("/v/0/dt", json!(20210611))],
            wrong("/v/0/dt", JsonType::String),
        );
        check(
            VACCINATION,
            &[("/v/0/tg", json!(840539006))],
            wrong("/v/0/tg", JsonType::String),
        );
        check(
            VACCINATION,
            &[("/v/0/is", letters(80)), ("/v/0/ci", wide(80))],
            Ok(V),
        );
        check(VACCINATION, &[("/v/0/is", letters(81))], long("/v/0/is"));
        check(VACCINATION, &[("/v/0/ci", wide(81))], long("/v/0/ci"));
    }

    #[test]
    fn test_entries() {
        for key in ["tg", "tt", "sc", "tr", "co", "is", "ci"] {
            let pointer = format!("/t/0/{key}");
            let path: &'static str = Box::leak(pointer.clone().into_boxed_str());
            check(TEST, &[(&pointer, gone())], missing(path));
        }
        check(
            TEST,
            &[("/t/0/nm", letters(80)), ("/t/0/tc", wide(80))],
            Ok(T),
        );
        check(TEST, &[("/t/0/nm", wide(81))], long("/t/0/nm"));
        check(TEST, &[("/t/0/tc", letters(81))], long("/t/0/tc"));
        check(
            TEST,
            &[("/t/0/nm", json!(1))],
            wrong("/t/0/nm", JsonType::String),
        );
        check(
            TEST,
            &[("/t/0/ma", json!(1232))],
            wrong("/t/0/ma", JsonType::String),
        );
        check(TEST, &[("/t/0/dr", json!("2021-06-12T17:30:00Z"))], Ok(T));
        check(TEST, &[("/t/0/sc", json!("yesterday"))], Ok(T));
        check(
            TEST,
            &[("/t/0/sc", json!(1623432600))],
            wrong("/t/0/sc", JsonType::String),
        );
    }

    #[test]
    fn recovery_entries() {
        for key in ["tg", "fr", "co", "is", "df", "du", "ci"] {
            let pointer = format!("/r/0/{key}");
            let path: &'static str = Box::leak(pointer.clone().into_boxed_str());
            check(RECOVERY, &[(&pointer, gone())], missing(path));
        }
        check(
            RECOVERY,
            &[("/r/0/du", json!(["2021-10-28"]))],
            wrong("/r/0/du", JsonType::String),
        );
        check(RECOVERY, &[("/r/0/is", wide(81))], long("/r/0/is"));
    }

    #[test]
    fn countries() {
        check(VACCINATION, &[("/v/0/co", json!("vn"))], pattern("/v/0/co"));
        check(VACCINATION, &[("/v/0/co", json!(""))], pattern("/v/0/co"));
        check(TEST, &[("/t/0/co", json!("123"))], pattern("/t/0/co"));
        check(
            RECOVERY,
            &[("/r/0/co", json!("Vn"))],
            not_in("/r/0/co", ValueSetId::Country),
        );
        check(
            RECOVERY,
            &[("/r/0/co", json!("XY"))],
            not_in("/r/0/co", ValueSetId::Country),
        );
        check(
            RECOVERY,
            &[("/r/0/co", json!(84))],
            wrong("/r/0/co", JsonType::String),
        );
    }

    #[test]
    fn value_set_membership() {
        use ValueSetId as S;
        check(
            VACCINATION,
            &[("/v/0/tg", json!("840539007"))],
            not_in("/v/0/tg", S::DiseaseAgentTargeted),
        );
        check(
            VACCINATION,
            &[("/v/0/vp", json!("1119349008"))],
            not_in("/v/0/vp", S::VaccineProphylaxis),
        );
        check(
            VACCINATION,
            &[("/v/0/mp", json!("EU/1/20/1529"))],
            not_in("/v/0/mp", S::VaccineMedicinalProduct),
        );
        check(
            VACCINATION,
            &[("/v/0/ma", json!("ORG-99999999"))],
            not_in("/v/0/ma", S::VaccineMahManf),
        );
        check(
            VACCINATION,
            &[("/v/0/co", json!("XY"))],
            not_in("/v/0/co", S::Country),
        );
        check(
            TEST,
            &[("/t/0/tg", json!(""))],
            not_in("/t/0/tg", S::DiseaseAgentTargeted),
        );
        check(
            TEST,
            &[("/t/0/tt", json!("LP217198-4"))],
            not_in("/t/0/tt", S::TestType),
        );
        check(
            TEST,
            &[("/t/0/tr", json!("260373001"))],
            not_in("/t/0/tr", S::TestResult),
        );
        check(
            TEST,
            &[("/t/0/co", json!("FR"))],
            not_in("/t/0/co", S::Country),
        );
        check(
            RECOVERY,
            &[("/r/0/tg", json!("COVID-19"))],
            not_in("/r/0/tg", S::DiseaseAgentTargeted),
        );
        // Deprecated codes are members.
        check(VACCINATION, &[("/v/0/vp", json!("J07BX03"))], Ok(V));
        // Impossible product/manufacturer pairs are not checked on verification.
        check(VACCINATION, &[("/v/0/mp", json!("EU/1/20/1525"))], Ok(V));
        // The test-device set is not loaded in `value_sets()`: any `t[].ma` passes.
        check(TEST, &[("/t/0/ma", json!("9999"))], Ok(T));
        check(TEST, &[("/t/0/ma", json!(""))], Ok(T));
    }

    #[test]
    fn loaded_test_device_set_is_enforced() {
        let device = r#"{"valueSetId": "covid-19-lab-test-manufacturer-and-name",
            "valueSetValues": {"1232": {"display": "Panbio", "active": true}}}"#;
        let sets = ValueSets::from_documents([device]).unwrap();
        let mut payload: Value = serde_json::from_str(TEST).unwrap();
        assert_eq!(
            validate_schema(&Dcc::from_json(payload.clone()), Some(&sets)),
            Ok(T)
        );
        set(&mut payload, "/t/0/ma", json!("9999"));
        let dcc = Dcc::from_json(payload);
        assert_eq!(
            validate_schema(&dcc, Some(&sets)),
            not_in("/t/0/ma", ValueSetId::TestManufacturer)
        );
        assert_eq!(validate_schema(&dcc, None), Ok(T));
    }

    #[test]
    fn without_value_sets_only_the_schema_applies() {
        let mut payload: Value = serde_json::from_str(VACCINATION).unwrap();
        for (pointer, code) in [
            ("/v/0/tg", "1"),
            ("/v/0/vp", "2"),
            ("/v/0/mp", "3"),
            ("/v/0/ma", "4"),
            ("/v/0/co", "XY"),
        ] {
            set(&mut payload, pointer, json!(code));
        }
        assert_eq!(validate_schema(&Dcc::from_json(payload), None), Ok(V));
    }

    #[test]
    fn defects_fail() {
        let payload: Value = serde_json::from_str(VACCINATION).unwrap();
        for defect in [
            PayloadDefect::DuplicateKey("/v/0/dn".into()),
            PayloadDefect::NonTextKey("/nam".into()),
            PayloadDefect::NonJsonValue("/v/0/ci".into()),
        ] {
            let dcc = Dcc::with_defect(payload.clone(), Some(defect.clone()));
            assert_eq!(validate_schema(&dcc, None), Err(Defect(defect)));
        }
    }

    #[test]
    fn errors_never_show_values() {
        let secret = "SECRETNAME";
        let mut payload: Value = serde_json::from_str(VACCINATION).unwrap();
        set(&mut payload, "/nam/fnt", json!(format!("{secret}x")));
        let error = validate_schema(&Dcc::from_json(payload), None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "/nam/fnt: does not match the schema pattern"
        );
        assert!(!format!("{error:?}").contains(secret));
    }

    /// `^\d+.\d+.\d+$` by brute force over every pair of separator positions.
    fn version_reference(value: &str) -> bool {
        let chars: Vec<char> = value.chars().collect();
        let digits = |range: &[char]| !range.is_empty() && range.iter().all(char::is_ascii_digit);
        let any = |c: char| !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
        (0..chars.len()).any(|i| {
            (i + 1..chars.len()).any(|j| {
                digits(&chars[..i])
                    && any(chars[i])
                    && digits(&chars[i + 1..j])
                    && any(chars[j])
                    && digits(&chars[j + 1..])
            })
        })
    }

    proptest::proptest! {
        #[test]
        fn version_matches_the_reference(value in "([0-9]{0,3}[.a\\n\u{2028}Ễ]?){0,4}|[0-9.a]{0,9}") {
            proptest::prop_assert_eq!(is_version(&value), version_reference(&value));
        }
    }
}
