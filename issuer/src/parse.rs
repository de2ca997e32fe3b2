//! Reading a dose confirmation from JSON bytes, as the internal API and bulk issuance both do, with
//! errors that name the field at fault and never quote the input (a key or value may be a name).

use crate::confirmation::DoseConfirmation;

/// Every field name of a dose confirmation: the only keys an error may name.
const KNOWN_FIELDS: &[&str] = &[
    "dose_event_id",
    "supersedes_dose_event_id",
    "person",
    "fn",
    "gn",
    "fnt",
    "gnt",
    "dob",
    "id_number",
    "phone",
    "vaccination",
    "tg",
    "vp",
    "mp",
    "ma",
    "dn",
    "sd",
    "dt",
    "co",
    "lot_number",
    "provenance",
    "site_code",
    "registry_record_id",
    "record_hash",
];

/// Why bytes are not a dose confirmation, in words that quote nothing from them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// Not JSON, or more than one value.
    #[error("not a JSON object (column {column})")]
    Syntax {
        /// The column (1-based) where the JSON broke.
        column: usize,
    },
    /// Well-formed JSON that is not a dose confirmation: a missing, unknown or mistyped field.
    #[error("{}{what}", path_prefix(.path))]
    Shape {
        /// The JSON path of the field at fault (`person.dob`), made only of known field names; empty
        /// for the top level.
        path: String,
        /// `missing`, `unknown field`, `wrong type or value` or `not a dose confirmation`.
        what: &'static str,
    },
}

fn path_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// Parses one dose confirmation (strings NFC-normalised, unknown fields refused).
///
/// # Errors
/// A [`ParseError`] naming where the input went wrong, never what it says.
pub fn parse_confirmation(text: &[u8]) -> Result<DoseConfirmation, ParseError> {
    serde_json::from_slice(text).map_err(|_| diagnose(text))
}

/// Why `text` is not a dose confirmation: parsed again, slowly, keeping the path to the failure.
fn diagnose(text: &[u8]) -> ParseError {
    if std::str::from_utf8(text).is_err() {
        return ParseError::NotUtf8;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let error = match serde_path_to_error::deserialize::<_, DoseConfirmation>(&mut deserializer) {
        Ok(_) => {
            return match deserializer.end() {
                Ok(()) => ParseError::Shape {
                    path: String::new(),
                    what: "not a dose confirmation",
                },
                Err(error) => ParseError::Syntax {
                    column: error.column(),
                },
            };
        }
        Err(error) => error,
    };
    let inner = error.inner();
    if !inner.is_data() {
        return ParseError::Syntax {
            column: inner.column(),
        };
    }
    let message = inner.to_string();
    let mut segments: Vec<Option<&str>> = error
        .path()
        .iter()
        .map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => known_field(key),
            _ => None,
        })
        .collect();
    let what = if let Some(rest) = message.strip_prefix("missing field `") {
        // serde names the missing field in backticks; it is named here only if it is ours.
        segments.push(rest.split('`').next().and_then(known_field));
        "missing"
    } else if message.starts_with("unknown field `") {
        // The last segment is the unknown key itself: the input's, never repeated.
        segments.pop();
        "unknown field"
    } else {
        "wrong type or value"
    };
    let path: Vec<&str> = segments.into_iter().flatten().collect();
    ParseError::Shape {
        path: path.join("."),
        what,
    }
}

fn known_field(key: &str) -> Option<&'static str> {
    KNOWN_FIELDS.iter().find(|known| **known == key).copied()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{ParseError, parse_confirmation};

    fn describe(text: &str) -> String {
        parse_confirmation(text.as_bytes()).unwrap_err().to_string()
    }

    const VALID: &str = r#"{"dose_event_id": "e1", "person": {"fn": "Nguyễn", "dob": "1983"},
        "vaccination": {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528",
            "ma": "ORG-100030215", "dn": 1, "sd": 2, "dt": "2021-09-14", "co": "VN",
            "lot_number": "FF2587"},
        "provenance": {"site_code": "HN-0123", "registry_record_id": "R-1", "record_hash": "sha256:00"}}"#;

    #[test]
    fn errors_name_fields_never_values() {
        assert_eq!(describe("{"), "not a JSON object (column 1)");
        assert_eq!(parse_confirmation(b"\xff{}"), Err(ParseError::NotUtf8));
        let body = r#"{"dose_event_id": "e1", "person": {"fn": "Nguyễn", "dob": 1983},
            "vaccination": {}, "provenance": {}}"#;
        assert_eq!(describe(body), "person.dob: wrong type or value");
        let missing = r#"{"dose_event_id": "e1", "person": {"fn": "Nguyễn"}}"#;
        assert_eq!(describe(missing), "person.dob: missing");
        let unknown = r#"{"dose_event_id": "e1", "Nguyễn Văn A": 1}"#;
        assert_eq!(describe(unknown), "unknown field");
        let unknown = r#"{"dose_event_id": "e1", "person": {"Nguyễn": 1}}"#;
        assert_eq!(describe(unknown), "person: unknown field");
        let string_for_number = r#"{"dose_event_id": "e1", "person": {"fn": "Nguyễn", "dob": "1983"},
            "vaccination": {"dn": "Trần"}}"#;
        assert_eq!(
            describe(string_for_number),
            "vaccination.dn: wrong type or value"
        );
        assert_eq!(describe("[1, 2]"), "wrong type or value");
        assert_eq!(describe(r#"{"dose_event_id": "e1"}"#), "person: missing");
    }

    #[test]
    fn one_confirmation_and_nothing_after_it() {
        assert_eq!(
            parse_confirmation(VALID.as_bytes()).unwrap().dose_event_id,
            "e1"
        );
        assert!(matches!(
            parse_confirmation(format!("{VALID} {{}}").as_bytes()),
            Err(ParseError::Syntax { .. })
        ));
    }
}
