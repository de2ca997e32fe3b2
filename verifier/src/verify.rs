//! The verification policy: every check in the fixed order of `design.md`, one report.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hcert::{Algorithm, CertType, Claims, CoseSign1, Dcc, ImageLimits, ValueSets};
use keys::{CertKind, KeyType, SignatureAlgorithm, VerifyingKey};
use serde_json::json;
use time::OffsetDateTime;
use trust_list::{
    Freshness, HashType, RevocationList, RevocationQuery, TrustList, TrustStore, TrustedDsc,
};

use crate::display::escape_for_display;
use crate::report::{Check, CheckState, Checks, Code, Holder, Report, TrustListStatus};

/// What to verify: the `HC1:` text, or a picture holding its QR code.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// The text of the QR code.
    Text(&'a str),
    /// A PNG or JPEG picture (format sniffed from the bytes).
    Image(&'a [u8]),
    /// Raw RGBA pixels (4 bytes a pixel, rows top to bottom), such as a camera frame read from a canvas.
    Rgba {
        /// The pixels, exactly `width × height × 4` bytes.
        pixels: &'a [u8],
        /// Pixels a row.
        width: u32,
        /// Rows.
        height: u32,
    },
}

/// What the report carries beyond the verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Detail {
    /// Include the full verified payload under `dcc`.
    pub payload: bool,
    /// When the signature cannot be checked, include the decoded content under `unverified`.
    pub unverified: bool,
}

/// A certificate whose every check passed: the proof a caller acts on, never built outside this crate.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCertificate {
    claims: Claims,
    cert_type: CertType,
    kid: Vec<u8>,
}

impl VerifiedCertificate {
    /// The verified claims, with the DCC payload.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The kind of certificate.
    pub fn cert_type(&self) -> CertType {
        self.cert_type
    }

    /// The kid of the DSC that signed it.
    pub fn kid(&self) -> &[u8] {
        &self.kid
    }
}

/// The text of the QR code in a picture input (`Input::Text` has none to read).
fn read_picture(input: Input<'_>, limits: &ImageLimits) -> Result<String, hcert::QrError> {
    match input {
        Input::Image(bytes) => hcert::read_qr(bytes, limits),
        Input::Rgba {
            pixels,
            width,
            height,
        } => hcert::read_qr_rgba(pixels, width, height, limits),
        Input::Text(_) => Err(hcert::QrError::NotFound),
    }
}

/// Checks HCERTs against a trust store and the DCC value sets, at a clock the caller passes.
///
/// Holds no I/O and no clock of its own; cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Verifier {
    trust: Arc<TrustStore>,
    value_sets: Option<Arc<ValueSets>>,
    image_limits: ImageLimits,
    list: Option<ListInUse>,
    revocation: Option<Arc<RevocationList>>,
}

/// The trust list the store came from: its version, issue and expiry times, and how old it may grow.
#[derive(Debug, Clone, Copy)]
struct ListInUse {
    version: u64,
    issued_at: i64,
    expires_at: i64,
    max_age_s: i64,
}

/// The P-256 group order n, big-endian (SEC 2 §2.4.2).
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// Why a check failed: the code and a message without personal data.
struct Failure {
    code: Code,
    message: String,
}

impl Failure {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// The report under construction: check states, the first failure, and what was learnt.
struct Builder {
    report: Report,
    first_failure: Option<Failure>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            report: Report {
                valid: false,
                code: Code::Ok,
                message: String::new(),
                checks: Checks::skipped(),
                kid: None,
                alg: None,
                iss: None,
                iat: None,
                exp: None,
                cert_type: None,
                trust_list: None,
                holder: None,
                dcc: None,
                unverified: None,
            },
            first_failure: None,
        }
    }

    fn pass(&mut self, check: Check) {
        self.report.checks.set(check, CheckState::Pass);
    }

    fn not_applicable(&mut self, check: Check) {
        self.report.checks.set(check, CheckState::NotApplicable);
    }

    /// Records the outcome of a check evaluated after the signature (failures do not stop the run).
    fn record(&mut self, check: Check, outcome: Result<(), Failure>) {
        match outcome {
            Ok(()) => self.pass(check),
            Err(failure) => self.fail(check, failure),
        }
    }

    fn fail(&mut self, check: Check, failure: Failure) {
        self.report.checks.set(check, CheckState::Fail);
        // Checks run in table order, so the first failure recorded is the report's code.
        if self.first_failure.is_none() {
            self.first_failure = Some(failure);
        }
    }

    /// Fails `check` and ends the run: later checks stay skipped.
    fn stop(mut self, check: Check, failure: Failure) -> Report {
        self.fail(check, failure);
        self.finish()
    }

    fn finish(mut self) -> Report {
        let stale = self
            .report
            .trust_list
            .as_ref()
            .is_some_and(|list| list.stale);
        if stale && self.first_failure.is_none() {
            self.first_failure = Some(Failure::new(
                Code::TrustListStale,
                "the trust list is older than its maximum age: nothing is called valid",
            ));
        }
        match self.first_failure.take() {
            Some(failure) => {
                self.report.valid = false;
                self.report.code = failure.code;
                self.report.message = failure.message;
            }
            None => {
                self.report.valid = true;
                self.report.code = Code::Ok;
                self.report.message = "certificate is valid".to_owned();
            }
        }
        self.report
    }
}

impl Verifier {
    /// A verifier trusting the DSCs of `trust`, checking coded fields against `value_sets` when given
    /// (without them the `schema` check covers the structure only).
    pub fn new(trust: Arc<TrustStore>, value_sets: Option<Arc<ValueSets>>) -> Self {
        Verifier {
            trust,
            value_sets,
            image_limits: ImageLimits::DEFAULT,
            list: None,
            revocation: None,
        }
    }

    /// A verifier trusting the DSCs of a verified trust list. Past `max_age_s` seconds after the list was
    /// issued, nothing is called valid (`E_TRUST_LIST_STALE`): an old list may still hold a withdrawn DSC.
    pub fn from_trust_list(
        list: &TrustList,
        backend: keys::Backend,
        max_age_s: i64,
        value_sets: Option<Arc<ValueSets>>,
    ) -> Self {
        let mut verifier = Verifier::new(Arc::new(list.store(backend)), value_sets);
        verifier.list = Some(ListInUse {
            version: list.version(),
            issued_at: list.issued_at(),
            expires_at: list.expires_at(),
            max_age_s,
        });
        verifier
    }

    /// The same verifier with another trust store (a list's DSCs plus DSCs trusted one by one, say); the
    /// list's version and freshness still apply.
    pub fn with_trust_store(mut self, trust: Arc<TrustStore>) -> Self {
        self.trust = trust;
        self
    }

    /// The same verifier checking certificates against a verified revocation list.
    pub fn with_revocation(mut self, revocation: Arc<RevocationList>) -> Self {
        self.revocation = Some(revocation);
        self
    }

    /// The same verifier with other limits for pictures.
    pub fn with_image_limits(mut self, limits: ImageLimits) -> Self {
        self.image_limits = limits;
        self
    }

    /// The trust store in use.
    pub fn trust_store(&self) -> &TrustStore {
        &self.trust
    }

    /// When the trust list in use was issued, Unix seconds; `None` for DSCs trusted without a list.
    pub fn trust_list_issued_at(&self) -> Option<i64> {
        self.list.map(|list| list.issued_at)
    }

    /// When the revocation list in use was issued, Unix seconds; `None` without one.
    pub fn revocation_list_issued_at(&self) -> Option<i64> {
        self.revocation.as_ref().map(|list| list.issued_at())
    }

    /// How fresh the trust list in use is at `now` (Unix seconds), by the rules of [`Freshness`]: stale
    /// past the verifier's maximum age or the list's expiry. `None` for DSCs trusted without a list.
    pub fn trust_list_freshness(&self, now: i64) -> Option<Freshness> {
        self.list.map(|list| {
            let max_age_s = u64::try_from(list.max_age_s).unwrap_or(0);
            Freshness::at(
                list.version,
                list.issued_at,
                list.expires_at,
                max_age_s,
                now,
            )
        })
    }

    /// How fresh the revocation list in use is at `now` (Unix seconds): stale past its expiry or the
    /// trust list's maximum age (its expiry alone without a trust list). `None` without one.
    pub fn revocation_list_freshness(&self, now: i64) -> Option<Freshness> {
        let max_age_s = self
            .list
            .map_or(u64::MAX, |list| u64::try_from(list.max_age_s).unwrap_or(0));
        self.revocation.as_ref().map(|list| {
            Freshness::at(
                list.version(),
                list.issued_at(),
                list.expires_at(),
                max_age_s,
                now,
            )
        })
    }

    /// Verifies one certificate at the validation clock `at`, returning the full report.
    pub fn verify(&self, input: Input<'_>, at: OffsetDateTime, detail: Detail) -> Report {
        self.verify_with_proof(input, at, detail).0
    }

    /// Verifies one certificate; also returns the proof of validity when every check passed.
    pub fn verify_with_proof(
        &self,
        input: Input<'_>,
        at: OffsetDateTime,
        detail: Detail,
    ) -> (Report, Option<VerifiedCertificate>) {
        let mut b = Builder::new();
        b.report.trust_list = self.list.map(|list| {
            let age_s = at.unix_timestamp() - list.issued_at;
            TrustListStatus {
                version: list.version,
                age_s,
                stale: age_s > list.max_age_s,
            }
        });
        let picture_text;
        let text = match input {
            Input::Text(text) => {
                b.not_applicable(Check::Image);
                text
            }
            Input::Image(_) | Input::Rgba { .. } => match read_picture(input, &self.image_limits) {
                Ok(text) => {
                    b.pass(Check::Image);
                    picture_text = text;
                    picture_text.as_str()
                }
                Err(err) => {
                    return (
                        b.stop(Check::Image, Failure::new(Code::Image, err.to_string())),
                        None,
                    );
                }
            },
        };

        let cose_bytes = match hcert::decode_transport(text) {
            Ok(bytes) => {
                for check in [Check::Prefix, Check::Base45, Check::Decompress] {
                    b.pass(check);
                }
                bytes
            }
            Err(err) => {
                let (check, code) = decoding_failure(&err);
                for passed in [Check::Prefix, Check::Base45, Check::Decompress]
                    .into_iter()
                    .filter(|c| *c < check)
                {
                    b.pass(passed);
                }
                return (b.stop(check, Failure::new(code, err.to_string())), None);
            }
        };

        let cose = match CoseSign1::parse(&cose_bytes) {
            Ok(cose) => cose,
            Err(err) => {
                let (check, code) = decoding_failure(&err);
                return (b.stop(check, Failure::new(code, err.to_string())), None);
            }
        };
        b.pass(Check::Cose);
        b.report.alg = Some(cose.algorithm().name());
        b.report.kid = cose.kid().map(|kid| STANDARD.encode(kid));

        let Some(kid) = cose.kid() else {
            let report = b.stop(
                Check::Kid,
                Failure::new(Code::KidMissing, "no kid in the COSE headers"),
            );
            return (with_unverified(report, &cose, detail), None);
        };
        let candidates = self.trust.get(kid);
        if candidates.is_empty() {
            let report = b.stop(
                Check::Kid,
                Failure::new(Code::KidUnknown, "no trusted DSC has this kid"),
            );
            return (with_unverified(report, &cose, detail), None);
        }
        b.pass(Check::Kid);

        let signer = match check_signature(&cose, candidates) {
            Ok(dsc) => dsc,
            Err(failure) => {
                let report = b.stop(Check::Signature, failure);
                return (with_unverified(report, &cose, detail), None);
            }
        };
        b.pass(Check::Signature);

        // hcert §6.3: nothing in the payload is read before the signature holds.
        let claims = match Claims::decode(cose.payload()) {
            Ok(claims) => claims,
            Err(err) => {
                return (
                    b.stop(
                        Check::Claims,
                        Failure::new(Code::CwtClaims, err.to_string()),
                    ),
                    None,
                );
            }
        };
        let (Some(iat), Some(exp)) = (claims.issued_at, claims.expires_at) else {
            let failure = Failure::new(Code::CwtClaims, "invalid CWT claims: iat or exp missing");
            return (b.stop(Check::Claims, failure), None);
        };
        b.pass(Check::Claims);
        b.report.iss = claims.issuer.clone();
        b.report.iat = Some(iat);
        b.report.exp = Some(exp);
        b.report.holder = Some(holder(&claims.dcc));
        if detail.payload {
            b.report.dcc = Some(claims.dcc.as_json().clone());
        }

        match &self.revocation {
            Some(list) => b.record(Check::Revocation, check_revocation(list, &claims, &cose)),
            None => b.not_applicable(Check::Revocation),
        }
        let now = at.unix_timestamp();
        b.record(Check::Expiry, check_expiry(now, iat, exp));
        b.record(
            Check::DscValidity,
            check_dsc_validity(now, iat, exp, signer),
        );

        let schema = hcert::validate_schema(&claims.dcc, self.value_sets.as_deref());
        let cert_type = schema.as_ref().ok().copied().or(claims.dcc.cert_type());
        b.report.cert_type = cert_type.map(CertType::key);
        // Without a kind there is nothing to check: key_usage stays skipped and the schema check fails.
        if let Some(kind) = cert_type {
            b.record(Check::KeyUsage, check_key_usage(kind, signer));
        }
        match (signer.country(), claims.issuer.as_deref()) {
            (Some(dsc_country), Some(iss)) if !dsc_country.eq_ignore_ascii_case(iss) => b.fail(
                Check::Country,
                Failure::new(
                    Code::CountryMismatch,
                    format!("DSC country {dsc_country} differs from iss {iss}"),
                ),
            ),
            (Some(_), Some(_)) => b.pass(Check::Country),
            (None, _) | (_, None) => b.not_applicable(Check::Country),
        }
        b.record(
            Check::Schema,
            schema
                .map(drop)
                .map_err(|err| Failure::new(Code::Schema, format!("schema: {err}"))),
        );

        let report = b.finish();
        let proof = match (report.valid, cert_type) {
            (true, Some(cert_type)) => Some(VerifiedCertificate {
                claims,
                cert_type,
                kid: kid.to_vec(),
            }),
            (false, _) | (true, None) => None,
        };
        (report, proof)
    }
}

/// The check and code of a decoding error. `hcert::Error` has one variant per layer and each is named
/// here, so a new variant is a compile error rather than a silently wrong code.
fn decoding_failure(err: &hcert::Error) -> (Check, Code) {
    use hcert::Error;
    match err {
        Error::InputTooLarge { .. } => (Check::Prefix, Code::InputTooLarge),
        Error::Prefix => (Check::Prefix, Code::Prefix),
        Error::Base45 { .. } => (Check::Base45, Code::Base45),
        Error::Zlib { .. } => (Check::Decompress, Code::Zlib),
        Error::DecompressedTooLarge { .. } => (Check::Decompress, Code::DecompressedTooLarge),
        Error::Cbor { .. } => (Check::Cose, Code::Cbor),
        Error::CoseStructure { .. } => (Check::Cose, Code::CoseStructure),
        Error::ProtectedHeader { .. } => (Check::Cose, Code::ProtectedHeader),
        Error::AlgMissing => (Check::Cose, Code::AlgMissing),
        Error::AlgUnsupported { .. } => (Check::Cose, Code::AlgUnsupported),
        Error::Claims { .. } => (Check::Claims, Code::CwtClaims),
    }
}

/// Finds the DSC whose key verifies the signature: every DSC under the kid is tried (kids collide), but
/// only with a key whose type fits the algorithm — an unauthenticated `alg` never picks a weaker check.
fn check_signature<'s>(
    cose: &CoseSign1<'_>,
    candidates: &'s [TrustedDsc],
) -> Result<&'s TrustedDsc, Failure> {
    let alg = signature_algorithm(cose.algorithm());
    let fitting: Vec<(&TrustedDsc, &Arc<dyn VerifyingKey>)> = candidates
        .iter()
        .filter_map(|dsc| {
            dsc.key()
                .ok()
                .filter(|key| key.algorithm() == alg)
                .map(|key| (dsc, key))
        })
        .collect();
    if fitting.is_empty() {
        let key_types: Vec<String> = candidates
            .iter()
            .map(|dsc| key_type_name(dsc.certificate().key_type()))
            .collect();
        return Err(Failure::new(
            Code::AlgKeyMismatch,
            format!(
                "{} does not fit the DSC key ({})",
                cose.algorithm().name(),
                key_types.join(", ")
            ),
        ));
    }
    check_signature_format(alg, cose.signature())?;
    let to_be_signed = cose.to_be_signed();
    fitting
        .into_iter()
        .find(|(_, key)| key.verify(&to_be_signed, cose.signature()).is_ok())
        .map(|(dsc, _)| dsc)
        .ok_or_else(|| Failure::new(Code::SigInvalid, "signature invalid"))
}

/// ES256 signatures are raw `r‖s`: exactly 64 bytes, 0 < r < n and 0 < s < n. EdDSA's are 64 bytes.
fn check_signature_format(alg: SignatureAlgorithm, signature: &[u8]) -> Result<(), Failure> {
    let malformed =
        |what: &str| Failure::new(Code::SigFormat, format!("{} signature {what}", alg.name()));
    match alg {
        SignatureAlgorithm::Es256 => {
            let (Some(r), Some(s)) = (signature.get(..32), signature.get(32..)) else {
                return Err(malformed("is not 64 bytes of r‖s"));
            };
            if signature.len() != 64 {
                return Err(malformed("is not 64 bytes of r‖s"));
            }
            let in_range = |x: &[u8]| x.iter().any(|&b| b != 0) && x < &P256_ORDER[..];
            if !in_range(r) || !in_range(s) {
                return Err(malformed("has r or s outside 1..n-1"));
            }
            Ok(())
        }
        SignatureAlgorithm::EdDsa if signature.len() != 64 => Err(malformed("is not 64 bytes")),
        SignatureAlgorithm::EdDsa => Ok(()),
        // RSASSA-PSS signatures are as long as the modulus: the key checks them.
        SignatureAlgorithm::Ps256 => Ok(()),
    }
}

fn signature_algorithm(alg: Algorithm) -> SignatureAlgorithm {
    match alg {
        Algorithm::Es256 => SignatureAlgorithm::Es256,
        Algorithm::Ps256 => SignatureAlgorithm::Ps256,
        Algorithm::EdDsa => SignatureAlgorithm::EdDsa,
    }
}

fn key_type_name(key_type: KeyType) -> String {
    match key_type {
        KeyType::P256 => "P-256".to_owned(),
        KeyType::P384 => "P-384".to_owned(),
        KeyType::Rsa { bits } => format!("RSA {bits}"),
        KeyType::Ed25519 => "Ed25519".to_owned(),
        KeyType::OtherEc | KeyType::Other => "unsupported key type".to_owned(),
    }
}

/// The certificate's UVCI, country + UVCI and signature must not be on the revocation list.
fn check_revocation(
    list: &RevocationList,
    claims: &Claims,
    cose: &CoseSign1<'_>,
) -> Result<(), Failure> {
    let query = RevocationQuery {
        uvci: claims.dcc.uvci().unwrap_or_default(),
        iss: claims.issuer.as_deref(),
        signature: cose.signature(),
        is_es256: cose.algorithm() == Algorithm::Es256,
    };
    match list.is_revoked(&query) {
        Some(hash_type) => {
            let by = match hash_type {
                HashType::Uci => "UVCI",
                HashType::CountryCodeUci => "country and UVCI",
                HashType::Signature => "signature",
            };
            Err(Failure::new(
                Code::Revoked,
                format!("certificate revoked (listed by its {by} hash)"),
            ))
        }
        None => Ok(()),
    }
}

/// `iat` ≤ clock ≤ `exp` (a certificate is still valid at the second of its `exp`).
fn check_expiry(now: i64, iat: i64, exp: i64) -> Result<(), Failure> {
    if now < iat {
        return Err(Failure::new(
            Code::NotYetValid,
            format!("certificate not valid before {}", rfc3339(iat)),
        ));
    }
    if now > exp {
        return Err(Failure::new(
            Code::Expired,
            format!("certificate expired at {}", rfc3339(exp)),
        ));
    }
    Ok(())
}

/// The shell model: DSC notBefore ≤ iat, exp ≤ DSC notAfter, and the DSC valid at the clock.
fn check_dsc_validity(now: i64, iat: i64, exp: i64, dsc: &TrustedDsc) -> Result<(), Failure> {
    let cert = dsc.certificate();
    let (not_before, not_after) = (cert.not_before(), cert.not_after());
    let broken = if iat < not_before {
        Some("was issued before its DSC became valid")
    } else if exp > not_after {
        Some("expires after its DSC")
    } else if now < not_before || now > not_after {
        Some("is signed by a DSC outside its validity period")
    } else {
        None
    };
    match broken {
        Some(what) => Err(Failure::new(
            Code::DscValidity,
            format!("certificate {what}"),
        )),
        None => Ok(()),
    }
}

/// The DSC's extended key usage must allow the certificate's type (hcert §A.4).
fn check_key_usage(kind: CertType, dsc: &TrustedDsc) -> Result<(), Failure> {
    let cert_kind = match kind {
        CertType::Vaccination => CertKind::Vaccination,
        CertType::Test => CertKind::Test,
        CertType::Recovery => CertKind::Recovery,
    };
    if dsc.certificate().usage().allows(cert_kind) {
        Ok(())
    } else {
        Err(Failure::new(
            Code::KeyUsage,
            format!("the DSC may not sign certificates of type {}", kind.key()),
        ))
    }
}

fn holder(dcc: &Dcc) -> Holder {
    let name = |key| dcc.name_field(key).map(escape_for_display);
    Holder {
        fnt: name("fnt"),
        gnt: name("gnt"),
        family_name: name("fn"),
        gn: name("gn"),
        dob: dcc.field("dob").map(escape_for_display),
    }
}

/// Adds the decoded, unverified content to a report, when asked and when it decodes.
fn with_unverified(mut report: Report, cose: &CoseSign1<'_>, detail: Detail) -> Report {
    if detail.unverified {
        report.unverified = Some(match Claims::decode(cose.payload()) {
            Ok(claims) => json!({
                "iss": claims.issuer,
                "iat": claims.issued_at,
                "exp": claims.expires_at,
                "holder": holder(&claims.dcc),
                "dcc": claims.dcc.as_json(),
            }),
            Err(err) => json!({ "error": err.to_string() }),
        });
    }
    report
}

fn rfc3339(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_decoding_error_has_a_code_of_its_own_under_that_codes_check() {
        let errors = [
            hcert::Error::InputTooLarge {
                len: 5000,
                max: 4296,
            },
            hcert::Error::Prefix,
            hcert::Error::Base45 { position: 0 },
            hcert::Error::Zlib { reason: "r" },
            hcert::Error::DecompressedTooLarge { max: 1 },
            hcert::Error::Cbor { reason: "r" },
            hcert::Error::CoseStructure { reason: "r" },
            hcert::Error::ProtectedHeader { reason: "r" },
            hcert::Error::AlgMissing,
            hcert::Error::AlgUnsupported { alg: "-35".into() },
            hcert::Error::Claims { reason: "r" },
        ];
        let mut codes = Vec::new();
        for err in &errors {
            let (check, code) = decoding_failure(err);
            assert_eq!(code.check(), Some(check), "{err:?}");
            assert!(!codes.contains(&code), "{err:?} shares {code}");
            codes.push(code);
        }
    }
}
