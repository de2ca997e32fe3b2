//! The DCC payload (schema 1.3.x): kept lossless as JSON, validated by typed rules.

mod model;
mod schema;
mod valuesets;

pub use model::{DccEntry, DccPayload, PersonName, RecoveryEntry, TestEntry, VaccinationEntry};
pub use schema::{JsonType, SchemaError, validate_schema};
pub use valuesets::{
    EncodingInstruction, EncodingInstructions, ValueSetId, ValueSets, ValueSetsError,
};

use std::fmt;

use serde_json::Value;

/// The kind of certificate a DCC holds: exactly one of `v`, `t`, `r`.
///
/// Exhaustive on purpose (no `#[non_exhaustive]`): the `verifier` crate names every variant, so a new one
/// is a compile error there rather than a silently wrong check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertType {
    /// `v`: a vaccination.
    Vaccination,
    /// `t`: a test.
    Test,
    /// `r`: a recovery.
    Recovery,
}

impl CertType {
    /// The payload key of this kind (`"v"`, `"t"`, `"r"`), also used in verification reports.
    pub fn key(self) -> &'static str {
        match self {
            CertType::Vaccination => "v",
            CertType::Test => "t",
            CertType::Recovery => "r",
        }
    }
}

/// A decoded DCC payload, lossless: every field as received, unknown ones included.
///
/// CBOR tags around values (such as tag 0 around `sc`) are unwrapped; integers, floats, text and
/// booleans map to their JSON counterparts. Anything JSON cannot hold as the schema expects (a byte string,
/// a non-text map key, a duplicated key) is remembered as a defect, which makes [`validate_schema`] fail.
#[derive(Debug, Clone, PartialEq)]
pub struct Dcc {
    value: Value,
    defect: Option<PayloadDefect>,
}

/// Something in a payload that its JSON rendering cannot show and the schema forbids.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadDefect {
    /// A map holds the same key twice (at this JSON-pointer path).
    DuplicateKey(String),
    /// A map key is not a text string (at this path).
    NonTextKey(String),
    /// A value has no JSON form: a byte string, an undefined or simple value (at this path).
    NonJsonValue(String),
}

impl fmt::Display for PayloadDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadDefect::DuplicateKey(path) => write!(f, "duplicate key at {path:?}"),
            PayloadDefect::NonTextKey(path) => write!(f, "non-text key at {path:?}"),
            PayloadDefect::NonJsonValue(path) => write!(f, "value with no JSON form at {path:?}"),
        }
    }
}

impl Dcc {
    /// Wraps a JSON payload with no defect (for issuing, and for tests).
    pub fn from_json(value: Value) -> Self {
        Dcc {
            value,
            defect: None,
        }
    }

    /// Decodes a DCC from its CBOR encoding (the value of `hcert` → 1), losslessly, recording defects.
    ///
    /// Fails with [`crate::Error::Cbor`] when the bytes are not one well-formed map within the limits.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, crate::Error> {
        let malformed = |reason| crate::Error::Cbor { reason };
        crate::cbor::check_single_item(bytes).map_err(malformed)?;
        let mut decoder = minicbor::Decoder::new(bytes);
        if !matches!(
            decoder.datatype(),
            Ok(minicbor::data::Type::Map | minicbor::data::Type::MapIndef)
        ) {
            return Err(malformed("the DCC is not a map"));
        }
        let mut defect = None;
        let value = crate::cbor::to_json(&mut decoder, &mut String::new(), &mut defect)
            .map_err(malformed)?;
        Ok(Dcc::with_defect(value, defect))
    }

    pub(crate) fn with_defect(value: Value, defect: Option<PayloadDefect>) -> Self {
        Dcc { value, defect }
    }

    /// The payload as JSON, lossless.
    pub fn as_json(&self) -> &Value {
        &self.value
    }

    /// Consumes the payload, returning its JSON.
    pub fn into_json(self) -> Value {
        self.value
    }

    /// A defect found while decoding, if any.
    pub fn defect(&self) -> Option<&PayloadDefect> {
        self.defect.as_ref()
    }

    /// The kind of certificate, from the first of `v`, `t`, `r` present (validation checks there is one).
    pub fn cert_type(&self) -> Option<CertType> {
        [CertType::Vaccination, CertType::Test, CertType::Recovery]
            .into_iter()
            .find(|kind| self.value.get(kind.key()).is_some())
    }

    /// The text field at a top-level or `nam` path, if it is text: `field("dob")`, `name_field("fnt")`.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }

    /// A text field of `nam` (`fn`, `fnt`, `gn`, `gnt`), if present and text.
    pub fn name_field(&self, key: &str) -> Option<&str> {
        self.value.get("nam")?.get(key)?.as_str()
    }

    /// The UVCI (`ci`) of the single entry, if present and text.
    pub fn uvci(&self) -> Option<&str> {
        let kind = self.cert_type()?;
        self.value.get(kind.key())?.get(0)?.get("ci")?.as_str()
    }
}
