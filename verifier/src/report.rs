//! The verification report: one shape for the library, the CLI and the HTTP service (`design.md`).

use serde::Serialize;
use serde_json::Value;

/// The outcome code of a verification: `OK`, or the first failing check's code in table order.
///
/// A closed list: scripts match on these strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum Code {
    /// Every check passed.
    #[serde(rename = "OK")]
    Ok,
    /// No QR code found, or the picture is unreadable or too large.
    #[serde(rename = "E_IMAGE")]
    Image,
    /// The text is longer than a QR code can hold.
    #[serde(rename = "E_INPUT_TOO_LARGE")]
    InputTooLarge,
    /// Not `HC1:`.
    #[serde(rename = "E_PREFIX")]
    Prefix,
    /// Not strict Base45.
    #[serde(rename = "E_BASE45")]
    Base45,
    /// Not one zlib stream.
    #[serde(rename = "E_ZLIB")]
    Zlib,
    /// Inflates beyond the cap.
    #[serde(rename = "E_DECOMPRESSED_TOO_LARGE")]
    DecompressedTooLarge,
    /// Malformed CBOR.
    #[serde(rename = "E_CBOR")]
    Cbor,
    /// Not a COSE_Sign1 message.
    #[serde(rename = "E_COSE_STRUCTURE")]
    CoseStructure,
    /// The protected header is invalid.
    #[serde(rename = "E_PROTECTED_HEADER")]
    ProtectedHeader,
    /// No algorithm in either header.
    #[serde(rename = "E_ALG_MISSING")]
    AlgMissing,
    /// An algorithm other than ES256, PS256 or EdDSA.
    #[serde(rename = "E_ALG_UNSUPPORTED")]
    AlgUnsupported,
    /// No kid in either header.
    #[serde(rename = "E_KID_MISSING")]
    KidMissing,
    /// No trusted DSC has this kid.
    #[serde(rename = "E_KID_UNKNOWN")]
    KidUnknown,
    /// The algorithm does not fit the key type of any DSC with this kid.
    #[serde(rename = "E_ALG_KEY_MISMATCH")]
    AlgKeyMismatch,
    /// The signature is not in the algorithm's format (ES256: 64-byte `r‖s`, 0 < r, s < n).
    #[serde(rename = "E_SIG_FORMAT")]
    SigFormat,
    /// The signature does not verify.
    #[serde(rename = "E_SIG_INVALID")]
    SigInvalid,
    /// Missing, duplicated or ill-typed claims, or no decodable DCC.
    #[serde(rename = "E_CWT_CLAIMS")]
    CwtClaims,
    /// The certificate is on the revocation list.
    #[serde(rename = "E_REVOKED")]
    Revoked,
    /// The validation clock is before `iat`.
    #[serde(rename = "E_NOT_YET_VALID")]
    NotYetValid,
    /// The validation clock is after `exp`.
    #[serde(rename = "E_EXPIRED")]
    Expired,
    /// The certificate breaks the DSC validity shell model.
    #[serde(rename = "E_DSC_VALIDITY")]
    DscValidity,
    /// The DSC's extended key usage does not allow this certificate type.
    #[serde(rename = "E_KEY_USAGE")]
    KeyUsage,
    /// The DSC's country differs from `iss`.
    #[serde(rename = "E_COUNTRY_MISMATCH")]
    CountryMismatch,
    /// The payload fails the DCC schema or the value sets.
    #[serde(rename = "E_SCHEMA")]
    Schema,
    /// The trust list is older than its maximum age: nothing is called valid.
    #[serde(rename = "E_TRUST_LIST_STALE")]
    TrustListStale,
}

impl Code {
    /// Every code, `OK` first then in table order (for whoever must explain each one, such as the
    /// scanner page).
    pub const ALL: [Code; 26] = [
        Code::Ok,
        Code::Image,
        Code::InputTooLarge,
        Code::Prefix,
        Code::Base45,
        Code::Zlib,
        Code::DecompressedTooLarge,
        Code::Cbor,
        Code::CoseStructure,
        Code::ProtectedHeader,
        Code::AlgMissing,
        Code::AlgUnsupported,
        Code::KidMissing,
        Code::KidUnknown,
        Code::AlgKeyMismatch,
        Code::SigFormat,
        Code::SigInvalid,
        Code::CwtClaims,
        Code::Revoked,
        Code::NotYetValid,
        Code::Expired,
        Code::DscValidity,
        Code::KeyUsage,
        Code::CountryMismatch,
        Code::Schema,
        Code::TrustListStale,
    ];

    /// The code as scripts see it (`"OK"`, `"E_EXPIRED"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Image => "E_IMAGE",
            Code::InputTooLarge => "E_INPUT_TOO_LARGE",
            Code::Prefix => "E_PREFIX",
            Code::Base45 => "E_BASE45",
            Code::Zlib => "E_ZLIB",
            Code::DecompressedTooLarge => "E_DECOMPRESSED_TOO_LARGE",
            Code::Cbor => "E_CBOR",
            Code::CoseStructure => "E_COSE_STRUCTURE",
            Code::ProtectedHeader => "E_PROTECTED_HEADER",
            Code::AlgMissing => "E_ALG_MISSING",
            Code::AlgUnsupported => "E_ALG_UNSUPPORTED",
            Code::KidMissing => "E_KID_MISSING",
            Code::KidUnknown => "E_KID_UNKNOWN",
            Code::AlgKeyMismatch => "E_ALG_KEY_MISMATCH",
            Code::SigFormat => "E_SIG_FORMAT",
            Code::SigInvalid => "E_SIG_INVALID",
            Code::CwtClaims => "E_CWT_CLAIMS",
            Code::Revoked => "E_REVOKED",
            Code::NotYetValid => "E_NOT_YET_VALID",
            Code::Expired => "E_EXPIRED",
            Code::DscValidity => "E_DSC_VALIDITY",
            Code::KeyUsage => "E_KEY_USAGE",
            Code::CountryMismatch => "E_COUNTRY_MISMATCH",
            Code::Schema => "E_SCHEMA",
            Code::TrustListStale => "E_TRUST_LIST_STALE",
        }
    }

    /// The check this code belongs to (`None` for `OK` and the trust-list verdict).
    pub fn check(self) -> Option<Check> {
        use Code::*;
        Some(match self {
            Ok | TrustListStale => return None,
            Image => Check::Image,
            InputTooLarge | Prefix => Check::Prefix,
            Base45 => Check::Base45,
            Zlib | DecompressedTooLarge => Check::Decompress,
            Cbor | CoseStructure | ProtectedHeader | AlgMissing | AlgUnsupported => Check::Cose,
            KidMissing | KidUnknown => Check::Kid,
            AlgKeyMismatch | SigFormat | SigInvalid => Check::Signature,
            CwtClaims => Check::Claims,
            Revoked => Check::Revocation,
            NotYetValid | Expired => Check::Expiry,
            DscValidity => Check::DscValidity,
            KeyUsage => Check::KeyUsage,
            CountryMismatch => Check::Country,
            Schema => Check::Schema,
        })
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check of the fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Check {
    /// The QR code was found and read from the picture.
    Image,
    /// Size and `HC1:` prefix.
    Prefix,
    /// Base45.
    Base45,
    /// zlib.
    Decompress,
    /// CBOR and COSE_Sign1 structure, protected header, algorithm.
    Cose,
    /// kid present and known.
    Kid,
    /// Algorithm bound to the key, signature format and validity.
    Signature,
    /// CWT claims.
    Claims,
    /// Revocation list.
    Revocation,
    /// `iat` ≤ clock ≤ `exp`.
    Expiry,
    /// DSC validity shell model.
    DscValidity,
    /// DSC extended key usage.
    KeyUsage,
    /// DSC country against `iss`.
    Country,
    /// DCC schema and value sets.
    Schema,
}

impl Check {
    /// Every check, in order.
    pub const ALL: [Check; 14] = [
        Check::Image,
        Check::Prefix,
        Check::Base45,
        Check::Decompress,
        Check::Cose,
        Check::Kid,
        Check::Signature,
        Check::Claims,
        Check::Revocation,
        Check::Expiry,
        Check::DscValidity,
        Check::KeyUsage,
        Check::Country,
        Check::Schema,
    ];
}

/// The state of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CheckState {
    /// Ran and held.
    #[serde(rename = "pass")]
    Pass,
    /// Ran and failed.
    #[serde(rename = "fail")]
    Fail,
    /// Not run: an earlier check it depends on failed.
    #[serde(rename = "skipped")]
    Skipped,
    /// Does not apply to this input.
    #[serde(rename = "n/a")]
    NotApplicable,
}

/// The state of every check, serialised in the fixed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // one field per `Check`, documented there
pub struct Checks {
    pub image: CheckState,
    pub prefix: CheckState,
    pub base45: CheckState,
    pub decompress: CheckState,
    pub cose: CheckState,
    pub kid: CheckState,
    pub signature: CheckState,
    pub claims: CheckState,
    pub revocation: CheckState,
    pub expiry: CheckState,
    pub dsc_validity: CheckState,
    pub key_usage: CheckState,
    pub country: CheckState,
    pub schema: CheckState,
}

impl Checks {
    /// All checks skipped.
    pub(crate) fn skipped() -> Self {
        let s = CheckState::Skipped;
        Checks {
            image: s,
            prefix: s,
            base45: s,
            decompress: s,
            cose: s,
            kid: s,
            signature: s,
            claims: s,
            revocation: s,
            expiry: s,
            dsc_validity: s,
            key_usage: s,
            country: s,
            schema: s,
        }
    }

    /// The state of one check.
    pub fn get(&self, check: Check) -> CheckState {
        *self.slot_ref(check)
    }

    pub(crate) fn set(&mut self, check: Check, state: CheckState) {
        *self.slot(check) = state;
    }

    fn slot(&mut self, check: Check) -> &mut CheckState {
        match check {
            Check::Image => &mut self.image,
            Check::Prefix => &mut self.prefix,
            Check::Base45 => &mut self.base45,
            Check::Decompress => &mut self.decompress,
            Check::Cose => &mut self.cose,
            Check::Kid => &mut self.kid,
            Check::Signature => &mut self.signature,
            Check::Claims => &mut self.claims,
            Check::Revocation => &mut self.revocation,
            Check::Expiry => &mut self.expiry,
            Check::DscValidity => &mut self.dsc_validity,
            Check::KeyUsage => &mut self.key_usage,
            Check::Country => &mut self.country,
            Check::Schema => &mut self.schema,
        }
    }

    fn slot_ref(&self, check: Check) -> &CheckState {
        match check {
            Check::Image => &self.image,
            Check::Prefix => &self.prefix,
            Check::Base45 => &self.base45,
            Check::Decompress => &self.decompress,
            Check::Cose => &self.cose,
            Check::Kid => &self.kid,
            Check::Signature => &self.signature,
            Check::Claims => &self.claims,
            Check::Revocation => &self.revocation,
            Check::Expiry => &self.expiry,
            Check::DscValidity => &self.dsc_validity,
            Check::KeyUsage => &self.key_usage,
            Check::Country => &self.country,
            Check::Schema => &self.schema,
        }
    }
}

/// The trust list the verification used: its version, age and staleness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustListStatus {
    /// The list's version.
    pub version: u64,
    /// Seconds since the list was issued, at the validation clock.
    pub age_s: i64,
    /// Older than the configured maximum age: nothing is called valid.
    pub stale: bool,
}

/// The holder as the verified payload names them, escaped for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Standardised surname (ICAO 9303).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fnt: Option<String>,
    /// Standardised forename (ICAO 9303).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gnt: Option<String>,
    /// Surname as written.
    #[serde(rename = "fn", skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Forename as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gn: Option<String>,
    /// Date of birth exactly as the payload carries it (never repaired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dob: Option<String>,
}

/// The result of one verification (`design.md`, "The verification report").
///
/// `iss`, `iat`, `exp`, `type`, `holder` and `dcc` come from the payload and are filled only once its
/// signature holds. `unverified` carries the decoded payload of a message whose signature could not be
/// checked, only when the caller asked for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Every check passed (and the trust list is fresh).
    pub valid: bool,
    /// `OK`, or the first failing check's code in table order.
    pub code: Code,
    /// A human-readable reason; never quotes personal data.
    pub message: String,
    /// The state of every check.
    pub checks: Checks,
    /// The kid from the headers, base64.
    pub kid: Option<String>,
    /// The algorithm from the headers.
    pub alg: Option<&'static str>,
    /// The issuing country (`iss`).
    pub iss: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: Option<i64>,
    /// Expires at, seconds since the epoch.
    pub exp: Option<i64>,
    /// `v`, `t` or `r`.
    #[serde(rename = "type")]
    pub cert_type: Option<&'static str>,
    /// The trust list used, when one was.
    pub trust_list: Option<TrustListStatus>,
    /// The holder, from the verified payload.
    pub holder: Option<Holder>,
    /// The full verified payload, lossless, when the caller asked for detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcc: Option<Value>,
    /// The decoded but unverified content, only on request (`--show-unverified`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unverified: Option<Value>,
}

/// The privacy-minimal projection of a [`Report`] ([`Report::minimal_view`]), serialised as
/// `{"valid", "code", "message", "type", "holder"}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MinimalReport<'a> {
    /// Every check passed (and the trust list is fresh).
    pub valid: bool,
    /// `OK`, or the first failing check's code.
    pub code: Code,
    /// The human-readable reason.
    pub message: &'a str,
    /// `v`, `t` or `r`.
    #[serde(rename = "type")]
    pub cert_type: Option<&'static str>,
    /// The holder, from the verified payload.
    pub holder: Option<&'a Holder>,
}

impl Report {
    /// The privacy-minimal report: the verdict (`valid`, `code`, `message`), the `type` and the holder's
    /// names and date of birth — what a checkpoint needs to compare with an ID card, nothing more (no
    /// UVCI, no kid, no payload). The verifier service answers it to callers without the operator token,
    /// and the scanner page's in-browser verifier shows it.
    pub fn minimal(&self) -> Value {
        serde_json::to_value(self.minimal_view()).unwrap_or(Value::Null)
    }

    /// [`Report::minimal`] as a view that serialises straight from the report, with no JSON tree built
    /// in between (the verifier service answers one per request).
    pub fn minimal_view(&self) -> MinimalReport<'_> {
        MinimalReport {
            valid: self.valid,
            code: self.code,
            message: &self.message,
            cert_type: self.cert_type,
            holder: self.holder.as_ref(),
        }
    }

    /// The report as one line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| String::from("{\"valid\":false,\"code\":\"E_INTERNAL\"}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new variant does not compile here until given a position: give it the next one and add it to
    /// [`Code::ALL`] at that place, or this fails.
    #[test]
    fn all_codes_lists_every_variant_once() {
        let position = |code: Code| -> usize {
            match code {
                Code::Ok => 0,
                Code::Image => 1,
                Code::InputTooLarge => 2,
                Code::Prefix => 3,
                Code::Base45 => 4,
                Code::Zlib => 5,
                Code::DecompressedTooLarge => 6,
                Code::Cbor => 7,
                Code::CoseStructure => 8,
                Code::ProtectedHeader => 9,
                Code::AlgMissing => 10,
                Code::AlgUnsupported => 11,
                Code::KidMissing => 12,
                Code::KidUnknown => 13,
                Code::AlgKeyMismatch => 14,
                Code::SigFormat => 15,
                Code::SigInvalid => 16,
                Code::CwtClaims => 17,
                Code::Revoked => 18,
                Code::NotYetValid => 19,
                Code::Expired => 20,
                Code::DscValidity => 21,
                Code::KeyUsage => 22,
                Code::CountryMismatch => 23,
                Code::Schema => 24,
                Code::TrustListStale => 25,
            }
        };
        for (index, code) in Code::ALL.iter().enumerate() {
            assert_eq!(position(*code), index, "{code}");
        }
        let strings: std::collections::BTreeSet<&str> =
            Code::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(strings.len(), Code::ALL.len());
    }
}
