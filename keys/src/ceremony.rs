//! Issuing this country's own certificates: the self-signed CSCA and the DSCs it signs.
//!
//! Strict where [`Certificate`] parsing is lenient (spec-notes §6: "be lenient in parsing certificates
//! others issued, strict in those you issue"): DER only, `countryName` as a PrintableString, `cA` left to
//! its default in a DSC (no explicit `cA=FALSE`), never an empty extended key usage, a random positive
//! 16-byte serial number, key identifiers by RFC 7093 method 1. Every certificate is parsed back and its
//! signature checked before it is returned.
//!
//! Certificates are signed through the [`Signer`] of a [`SigningKey`], so either backend can sign them.

use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, SerialNumber,
};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::backend::{Signer, SigningKey};
use crate::certificate::{Certificate, KeyType};
use crate::error::KeyError;
use crate::usage::CertKind;

/// A Julian year (365.25 days), in seconds: the unit of the recommended lifetimes below.
pub const JULIAN_YEAR_S: i64 = 31_557_600;

/// The recommended CSCA lifetime: 4 years (EU certificate governance guide, spec-notes §6).
pub const CSCA_VALIDITY_S: i64 = 4 * JULIAN_YEAR_S;

/// How long a CSCA signs DSCs: its first year (EU certificate governance guide, spec-notes §6).
pub const CSCA_SIGNING_PERIOD_S: i64 = JULIAN_YEAR_S;

/// The recommended DSC lifetime: 2 years (EU certificate governance guide, spec-notes §6).
pub const DSC_VALIDITY_S: i64 = 2 * JULIAN_YEAR_S;

/// How long a DSC signs health certificates: its first 6 months; afterwards it is retired and stays on the
/// trust list until the last certificate it signed has expired (EU certificate governance guide,
/// spec-notes §6).
pub const DSC_SIGNING_PERIOD_S: i64 = JULIAN_YEAR_S / 2;

/// What [`issue_dsc`] puts in a DSC.
#[derive(Debug, Clone, Copy)]
pub struct DscRequest<'a> {
    /// Subject `C`: the ISO 3166-1 alpha-2 code of the issuing country, as the CSCA's.
    pub country: &'a str,
    /// Subject `CN`: 1 to 64 characters.
    pub common_name: &'a str,
    /// The DSC's public key as a SubjectPublicKeyInfo (DER): P-256 or RSA ≥ 2048 bits (spec-notes §6).
    pub public_key_spki: &'a [u8],
    /// notBefore, in seconds since the Unix epoch; not before the CSCA's.
    pub not_before: i64,
    /// notAfter, in seconds since the Unix epoch; not after the CSCA's.
    pub not_after: i64,
    /// The kinds of health certificate the DSC may sign, written as HCERT extended key usage OIDs on the
    /// correct arc; at least one.
    pub kinds: &'a [CertKind],
}

/// Issues a self-signed CSCA: `cA=TRUE` with pathLen 0, keyUsage keyCertSign + cRLSign (critical),
/// a subject key identifier, subject `C` and `CN`.
///
/// `key` must be a P-256 (ES256) key; the recommended lifetime is [`CSCA_VALIDITY_S`].
///
/// # Errors
/// [`KeyError::Malformed`] for a country that is not two upper-case letters, an empty or over-long
/// common name, or `not_before` not before `not_after`; [`KeyError::UnsupportedKey`] for a key that is not
/// P-256; [`KeyError::CertificateGeneration`] if signing fails; [`KeyError::IssuerSignature`] if the
/// result does not verify.
pub fn issue_csca(
    country: &str,
    common_name: &str,
    key: &SigningKey,
    not_before: i64,
    not_after: i64,
) -> Result<Certificate, KeyError> {
    let signer = CertificateSigner::new(key)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(country, common_name)?;
    (params.not_before, params.not_after) = validity(not_before, not_after)?;
    params.serial_number = Some(random_serial()?);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(&signer.public_key));
    let issued = params
        .self_signed(&signer)
        .map_err(|_| KeyError::CertificateGeneration)?;
    let certificate = Certificate::from_der(issued.der())?;
    certificate.verify_issued_by(&certificate, key.backend())?;
    Ok(certificate)
}

/// Issues a DSC signed by `csca` with `csca_key`: keyUsage digitalSignature (critical), basic constraints
/// without `cA` (not a CA), the authority key identifier = the CSCA's subject key identifier, its own
/// subject key identifier, subject `C` and `CN`, and an extended key usage holding the HCERT OID of each
/// kind in `request.kinds`.
///
/// The recommended lifetime is [`DSC_VALIDITY_S`], of which it signs for [`DSC_SIGNING_PERIOD_S`]. The
/// issuer name is written as [`issue_csca`] writes a subject (`C`, then `CN`), and must equal the CSCA's
/// subject byte for byte.
///
/// # Errors
/// [`KeyError::Malformed`] for a bad country or common name, no kinds, a validity that is empty or leaves
/// the CSCA's, a CSCA that is not a CA with keyCertSign and a subject key identifier, a `csca_key` that is
/// not the CSCA's key, or a CSCA subject other than `C` + `CN`; [`KeyError::UnsupportedKey`] or
/// [`KeyError::WeakKey`] for a DSC key that is neither P-256 nor RSA ≥ 2048, or a CSCA key that is not
/// P-256; [`KeyError::CertificateGeneration`] if signing fails; [`KeyError::IssuerSignature`] if the
/// result does not verify with the CSCA's key.
pub fn issue_dsc(
    csca: &Certificate,
    csca_key: &SigningKey,
    request: &DscRequest<'_>,
) -> Result<Certificate, KeyError> {
    let signer = CertificateSigner::new(csca_key)?;
    if public_key_bits(csca.spki_der())? != signer.public_key {
        return Err(malformed(
            "CSCA key (it is not the key of the CSCA certificate)",
        ));
    }
    let csca_ski = match csca.subject_key_id() {
        Some(ski) if csca.is_ca() && csca.can_sign_certificates() => ski.to_vec(),
        _ => {
            return Err(malformed(
                "CSCA (not a CA with keyCertSign and a subject key identifier)",
            ));
        }
    };
    if request.not_before < csca.not_before() || request.not_after > csca.not_after() {
        return Err(malformed("DSC validity (outside the CSCA's validity)"));
    }
    if request.kinds.is_empty() {
        return Err(malformed("DSC request (no certificate kind)"));
    }
    let subject_key = DscPublicKey::new(request.public_key_spki)?;

    let mut issuer_params = CertificateParams::default();
    issuer_params.distinguished_name = distinguished_name(
        csca.subject_country().unwrap_or_default(),
        csca.subject_common_name().unwrap_or_default(),
    )?;
    issuer_params.key_identifier_method = KeyIdMethod::PreSpecified(csca_ski.clone());
    let issuer = Issuer::from_params(&issuer_params, &signer);

    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(request.country, request.common_name)?;
    (params.not_before, params.not_after) = validity(request.not_before, request.not_after)?;
    params.serial_number = Some(random_serial()?);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(&subject_key.bits));
    params.use_authority_key_identifier_extension = true;
    let mut kinds = request.kinds.to_vec();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        params
            .extended_key_usages
            .push(ExtendedKeyUsagePurpose::Other(arcs(kind.eku_oid())?));
    }
    let issued = params
        .signed_by(&subject_key, &issuer)
        .map_err(|_| KeyError::CertificateGeneration)?;

    let certificate = Certificate::from_der(issued.der())?;
    certificate.verify_issued_by(csca, csca_key.backend())?;
    if issuer_name(certificate.der())? != subject_name(csca.der())?
        || certificate.authority_key_id() != Some(csca_ski.as_slice())
    {
        return Err(malformed(
            "CSCA subject (only C and CN, as issue_csca writes them)",
        ));
    }
    Ok(certificate)
}

/// The subjectPublicKey bits of a SubjectPublicKeyInfo (DER).
pub(crate) fn public_key_bits(spki_der: &[u8]) -> Result<Vec<u8>, KeyError> {
    match SubjectPublicKeyInfo::from_der(spki_der) {
        Ok(([], spki)) => Ok(spki.subject_public_key.data.to_vec()),
        _ => Err(malformed("SubjectPublicKeyInfo")),
    }
}

fn malformed(what: &'static str) -> KeyError {
    KeyError::Malformed { what }
}

/// A CSCA key handed to rcgen: ECDSA P-256 with SHA-256, signing through [`Signer`].
struct CertificateSigner<'a> {
    key: &'a SigningKey,
    public_key: Vec<u8>,
}

impl<'a> CertificateSigner<'a> {
    fn new(key: &'a SigningKey) -> Result<CertificateSigner<'a>, KeyError> {
        let spki = key.public_key_spki_der();
        match KeyType::of_spki(&spki)? {
            KeyType::P256 => Ok(CertificateSigner {
                key,
                public_key: public_key_bits(&spki)?,
            }),
            key_type => Err(KeyError::UnsupportedKey { key_type }),
        }
    }
}

impl rcgen::PublicKeyData for CertificateSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public_key
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for CertificateSigner<'_> {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let raw = Signer::sign(self.key, message).map_err(|_| rcgen::Error::RemoteKeyError)?;
        ecdsa_signature_der(&raw).ok_or(rcgen::Error::RemoteKeyError)
    }
}

/// A DSC's public key handed to rcgen: the BIT STRING contents and the SPKI algorithm.
struct DscPublicKey {
    bits: Vec<u8>,
    algorithm: &'static rcgen::SignatureAlgorithm,
}

impl DscPublicKey {
    fn new(spki_der: &[u8]) -> Result<DscPublicKey, KeyError> {
        let algorithm = match KeyType::of_spki(spki_der)? {
            KeyType::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::Rsa { bits } if bits < 2048 => return Err(KeyError::WeakKey { bits }),
            KeyType::Rsa { .. } => &rcgen::PKCS_RSA_SHA256,
            key_type => return Err(KeyError::UnsupportedKey { key_type }),
        };
        Ok(DscPublicKey {
            bits: public_key_bits(spki_der)?,
            algorithm,
        })
    }
}

impl rcgen::PublicKeyData for DscPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

/// Subject `C` (PrintableString, RFC 5280 appendix A) then `CN` (UTF8String).
fn distinguished_name(country: &str, common_name: &str) -> Result<DistinguishedName, KeyError> {
    if country.len() != 2 || !country.bytes().all(|byte| byte.is_ascii_uppercase()) {
        return Err(malformed("country code (ISO 3166-1 alpha-2 expected)"));
    }
    // RFC 5280 ub-common-name: 64 characters.
    let length = common_name.chars().count();
    if length == 0 || length > 64 || common_name.chars().any(char::is_control) {
        return Err(malformed(
            "common name (1 to 64 printable characters expected)",
        ));
    }
    let country = PrintableString::try_from(country).map_err(|_| malformed("country code"))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, DnValue::PrintableString(country));
    name.push(
        DnType::CommonName,
        DnValue::Utf8String(common_name.to_owned()),
    );
    Ok(name)
}

fn validity(not_before: i64, not_after: i64) -> Result<(OffsetDateTime, OffsetDateTime), KeyError> {
    let invalid = || malformed("validity (notBefore must precede notAfter)");
    if not_before >= not_after {
        return Err(invalid());
    }
    let at = |seconds| OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| invalid());
    Ok((at(not_before)?, at(not_after)?))
}

/// A random positive serial number of exactly 16 bytes (RFC 5280 §4.1.2.2: unique per issuer, ≤ 20 bytes).
fn random_serial() -> Result<SerialNumber, KeyError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| KeyError::CertificateGeneration)?;
    if let Some(first) = bytes.first_mut() {
        *first = (*first & 0x7f) | 0x40;
    }
    Ok(SerialNumber::from_slice(&bytes))
}

/// RFC 7093 §2 method 1: the leftmost 160 bits of SHA-256 over the subjectPublicKey bits.
fn key_identifier(public_key_bits: &[u8]) -> Vec<u8> {
    Sha256::digest(public_key_bits)
        .iter()
        .take(20)
        .copied()
        .collect()
}

fn arcs(dotted: &str) -> Result<Vec<u64>, KeyError> {
    dotted
        .split('.')
        .map(|arc| arc.parse().map_err(|_| KeyError::CertificateGeneration))
        .collect()
}

/// A raw `r‖s` P-256 signature as the DER `Ecdsa-Sig-Value` a certificate carries (RFC 5480 §2.2.3).
fn ecdsa_signature_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() != 64 {
        return None;
    }
    let (r, s) = raw.split_at(32);
    let body = [der_unsigned_integer(r), der_unsigned_integer(s)].concat();
    let mut der = vec![0x30, u8::try_from(body.len()).ok()?];
    der.extend(body);
    Some(der)
}

/// A DER INTEGER of at most 33 content bytes holding the unsigned big-endian `magnitude`.
fn der_unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|&byte| byte != 0)
        .unwrap_or(magnitude.len().saturating_sub(1));
    let trimmed = magnitude.get(start..).unwrap_or_default();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&first| first & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    let mut der = vec![0x02, u8::try_from(content.len()).unwrap_or(0)];
    der.extend(content);
    der
}

fn issuer_name(der: &[u8]) -> Result<Vec<u8>, KeyError> {
    parsed(der).map(|cert| cert.issuer().as_raw().to_vec())
}

fn subject_name(der: &[u8]) -> Result<Vec<u8>, KeyError> {
    parsed(der).map(|cert| cert.subject().as_raw().to_vec())
}

fn parsed(der: &[u8]) -> Result<X509Certificate<'_>, KeyError> {
    X509Certificate::from_der(der)
        .map(|(_, cert)| cert)
        .map_err(|_| malformed("certificate"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SignatureAlgorithm;
    use crate::backend::Backend;
    use crate::usage::DscUsage;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn csca() -> (Certificate, SigningKey) {
        let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
        let csca = issue_csca("VN", "VaxCert CSCA VN", &key, NOW, NOW + CSCA_VALIDITY_S).unwrap();
        (csca, key)
    }

    fn request<'a>(spki: &'a [u8], kinds: &'a [CertKind]) -> DscRequest<'a> {
        DscRequest {
            country: "VN",
            common_name: "VaxCert DSC VN 1",
            public_key_spki: spki,
            not_before: NOW,
            not_after: NOW + DSC_VALIDITY_S,
            kinds,
        }
    }

    #[test]
    fn csca_has_the_expected_facts() {
        let (csca, _) = csca();
        assert!(csca.is_ca());
        assert_eq!(csca.path_len(), Some(0));
        assert!(csca.can_sign_certificates());
        assert!(!csca.can_sign_documents());
        assert_eq!(csca.subject_country(), Some("VN"));
        assert_eq!(csca.issuer_country(), Some("VN"));
        assert_eq!(csca.subject_common_name(), Some("VaxCert CSCA VN"));
        assert_eq!(csca.subject_key_id().map(<[u8]>::len), Some(20));
        assert_eq!(csca.key_type(), KeyType::P256);
        assert_eq!(
            (csca.not_before(), csca.not_after()),
            (NOW, NOW + CSCA_VALIDITY_S)
        );
        csca.verify_issued_by(&csca, Backend::default()).unwrap();
    }

    #[test]
    fn dsc_has_the_expected_facts_in_every_backend() {
        let (csca, csca_key) = csca();
        for &backend in Backend::all() {
            let csca_key = SigningKey::from_pkcs8_der(backend, &csca_key.to_pkcs8_der()).unwrap();
            let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
            let spki = key.public_key_spki_der();
            let kinds = [CertKind::Vaccination, CertKind::Test, CertKind::Vaccination];
            let dsc = issue_dsc(&csca, &csca_key, &request(&spki, &kinds)).unwrap();
            assert!(!dsc.is_ca());
            assert_eq!(dsc.path_len(), None);
            assert!(dsc.can_sign_documents());
            assert!(!dsc.can_sign_certificates());
            assert_eq!(dsc.authority_key_id(), csca.subject_key_id());
            assert_ne!(dsc.subject_key_id(), csca.subject_key_id());
            assert_eq!(dsc.subject_country(), Some("VN"));
            assert_eq!(dsc.issuer_common_name(), Some("VaxCert CSCA VN"));
            assert_eq!(dsc.spki_der(), spki.as_slice());
            assert_eq!(
                *dsc.usage(),
                DscUsage::Only {
                    test: true,
                    vaccination: true,
                    recovery: false
                }
            );
            assert_eq!(
                (dsc.not_before(), dsc.not_after()),
                (NOW, NOW + DSC_VALIDITY_S)
            );
            for &verifier in Backend::all() {
                dsc.verify_issued_by(&csca, verifier).unwrap();
            }
        }
    }

    #[test]
    fn dsc_strict_der_has_no_explicit_ca_false() {
        let (csca, csca_key) = csca();
        let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
        let spki = key.public_key_spki_der();
        let dsc = issue_dsc(&csca, &csca_key, &request(&spki, &CertKind::ALL)).unwrap();
        // basicConstraints: OID 2.5.29.19, critical, OCTET STRING { SEQUENCE {} }.
        let explicit_false = [
            0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30, 0x03,
        ];
        let empty = [
            0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00,
        ];
        let der = dsc.der();
        assert!(der.windows(empty.len()).any(|window| window == empty));
        assert!(
            !der.windows(explicit_false.len())
                .any(|window| window == explicit_false)
        );
        // countryName as PrintableString "VN".
        let country = [0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'V', b'N'];
        assert!(der.windows(country.len()).any(|window| window == country));
    }

    #[test]
    fn ps256_dsc() {
        let (csca, csca_key) = csca();
        let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Ps256).unwrap();
        let spki = key.public_key_spki_der();
        let dsc = issue_dsc(&csca, &csca_key, &request(&spki, &CertKind::ALL)).unwrap();
        assert_eq!(dsc.key_type(), KeyType::Rsa { bits: 2048 });
        dsc.verify_issued_by(&csca, Backend::default()).unwrap();
    }

    #[test]
    fn refusals() {
        let (csca, csca_key) = csca();
        let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
        let spki = key.public_key_spki_der();
        let fails = |request: DscRequest<'_>, csca_key: &SigningKey| {
            issue_dsc(&csca, csca_key, &request).unwrap_err()
        };
        let base = request(&spki, &CertKind::ALL);
        assert!(matches!(
            fails(DscRequest { kinds: &[], ..base }, &csca_key),
            KeyError::Malformed { .. }
        ));
        assert!(matches!(
            fails(
                DscRequest {
                    not_after: NOW + CSCA_VALIDITY_S + 1,
                    ..base
                },
                &csca_key
            ),
            KeyError::Malformed { .. }
        ));
        assert!(matches!(
            fails(
                DscRequest {
                    not_before: NOW - 1,
                    ..base
                },
                &csca_key
            ),
            KeyError::Malformed { .. }
        ));
        assert!(matches!(
            fails(
                DscRequest {
                    country: "vn",
                    ..base
                },
                &csca_key
            ),
            KeyError::Malformed { .. }
        ));
        assert!(matches!(
            fails(
                DscRequest {
                    common_name: "",
                    ..base
                },
                &csca_key
            ),
            KeyError::Malformed { .. }
        ));
        // Another key than the CSCA's.
        assert!(matches!(fails(base, &key), KeyError::Malformed { .. }));
        // A DSC cannot issue DSCs.
        let dsc = issue_dsc(&csca, &csca_key, &base).unwrap();
        assert!(matches!(
            issue_dsc(&dsc, &key, &base),
            Err(KeyError::Malformed { .. })
        ));
        // Ed25519 DSC keys and CSCA keys other than P-256 are refused.
        let ed25519 = SigningKey::generate(Backend::default(), SignatureAlgorithm::EdDsa).unwrap();
        let ed_spki = ed25519.public_key_spki_der();
        assert!(matches!(
            fails(
                DscRequest {
                    public_key_spki: &ed_spki,
                    ..base
                },
                &csca_key
            ),
            KeyError::UnsupportedKey { .. }
        ));
        assert!(matches!(
            issue_csca("VN", "CSCA", &ed25519, NOW, NOW + 1),
            Err(KeyError::UnsupportedKey { .. })
        ));
        assert!(matches!(
            issue_csca("VN", "CSCA", &key, NOW, NOW),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn ecdsa_der_encoding() {
        let mut raw = [0u8; 64];
        raw[31] = 1;
        raw[32] = 0x80;
        let der = ecdsa_signature_der(&raw).unwrap();
        assert_eq!(der[..5], [0x30, 0x26, 0x02, 0x01, 0x01]);
        assert_eq!(der[5..8], [0x02, 0x21, 0x00]);
        assert_eq!(der.len(), 2 + 3 + 35);
        assert!(ecdsa_signature_der(&raw[..63]).is_none());
    }
}
