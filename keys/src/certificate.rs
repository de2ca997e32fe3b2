//! X.509 certificates (CSCA and DSC), parsed leniently and reduced to the facts HCERT needs.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha2::{Digest as _, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;
use x509_parser::signature_algorithm::RsaSsaPssParams;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo, X509Name};

use crate::backend::{self, Backend};
use crate::error::KeyError;
use crate::kid::Kid;
use crate::usage::DscUsage;

pub(crate) const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
pub(crate) const OID_P256: &str = "1.2.840.10045.3.1.7";
pub(crate) const OID_P384: &str = "1.3.132.0.34";
pub(crate) const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
pub(crate) const OID_ED25519: &str = "1.3.101.112";

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
const OID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_MGF1: &str = "1.2.840.113549.1.1.8";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";

const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
const OID_SUBJECT_KEY_ID: &str = "2.5.29.14";
const OID_AUTHORITY_KEY_ID: &str = "2.5.29.35";

/// The type of a certificate's public key.
///
/// Exhaustive on purpose (no `#[non_exhaustive]`): the `verifier` crate names every variant, so a new one
/// is a compile error there rather than a silently wrong message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// ECDSA on NIST P-256 (secp256r1): the ES256 key.
    P256,
    /// ECDSA on NIST P-384 (secp384r1): some CSCAs.
    P384,
    /// ECDSA on any other curve (brainpool, P-521, explicit parameters).
    OtherEc,
    /// RSA (`rsaEncryption`), with its modulus length.
    Rsa {
        /// Modulus length in bits.
        bits: u32,
    },
    /// Ed25519.
    Ed25519,
    /// Anything else (DSA, RSASSA-PSS-only keys, GOST, …).
    Other,
}

impl KeyType {
    /// The key type of a SubjectPublicKeyInfo (DER).
    ///
    /// # Errors
    /// [`KeyError::Malformed`] if the bytes are not exactly one SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Result<KeyType, KeyError> {
        match SubjectPublicKeyInfo::from_der(spki_der) {
            Ok(([], spki)) => Ok(key_type_of(&spki)),
            _ => Err(KeyError::Malformed {
                what: "SubjectPublicKeyInfo",
            }),
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyType::P256 => f.write_str("EC P-256"),
            KeyType::P384 => f.write_str("EC P-384"),
            KeyType::OtherEc => f.write_str("EC (other curve)"),
            KeyType::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyType::Ed25519 => f.write_str("Ed25519"),
            KeyType::Other => f.write_str("other"),
        }
    }
}

/// The algorithm a certificate is signed with, as far as this crate can check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CertSignatureAlgorithm {
    /// ECDSA with a SHA-2 hash, DER-encoded signature.
    Ecdsa(HashAlg),
    /// RSA PKCS#1 v1.5 with a SHA-2 hash.
    RsaPkcs1(HashAlg),
    /// RSASSA-PSS, MGF1 with the same hash, salt length = hash length.
    RsaPss(HashAlg),
    /// Ed25519.
    Ed25519,
    /// Anything else (SHA-1, PSS with unusual parameters, DSA, …).
    Unsupported,
}

/// A SHA-2 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn from_oid(oid: &str) -> Option<HashAlg> {
        match oid {
            OID_SHA256 => Some(HashAlg::Sha256),
            OID_SHA384 => Some(HashAlg::Sha384),
            OID_SHA512 => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    fn output_len(self) -> u32 {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

/// An X.509 certificate: its DER and the facts HCERT needs, extracted once.
///
/// Parsing is lenient where real DSCs are not strict DER (an explicit `cA=FALSE`, an empty extended key
/// usage) and strict where leniency would widen what a DSC may do: an extension this crate reads that is
/// duplicated or unreadable makes the whole certificate malformed.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    kid: Kid,
    thumbprint: [u8; 32],
    not_before: i64,
    not_after: i64,
    subject_country: Option<String>,
    issuer_country: Option<String>,
    subject_common_name: Option<String>,
    issuer_common_name: Option<String>,
    usage: DscUsage,
    key_type: KeyType,
    spki: Vec<u8>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    is_ca: bool,
    path_len: Option<u32>,
    key_usage: Option<KeyUsageBits>,
    tbs: Vec<u8>,
    signature_algorithm: CertSignatureAlgorithm,
    signature: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyUsageBits {
    digital_signature: bool,
    key_cert_sign: bool,
}

impl Certificate {
    /// Parses one DER certificate; trailing bytes are refused.
    ///
    /// # Errors
    /// [`KeyError::Malformed`] if the bytes are not one certificate, or an extension this crate reads
    /// (basic constraints, key usage, extended key usage, key identifiers) is duplicated or unreadable.
    pub fn from_der(der: &[u8]) -> Result<Certificate, KeyError> {
        let cert = match X509Certificate::from_der(der) {
            Ok(([], cert)) => cert,
            Ok(_) => {
                return Err(KeyError::Malformed {
                    what: "certificate (trailing bytes)",
                });
            }
            Err(_) => {
                return Err(KeyError::Malformed {
                    what: "certificate",
                });
            }
        };
        let extensions = Extensions::read(cert.extensions())?;
        let spki = cert.public_key();
        Ok(Certificate {
            der: der.to_vec(),
            kid: Kid::of_certificate(der),
            thumbprint: Sha256::digest(der).into(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            subject_country: first_country(cert.subject()),
            issuer_country: first_country(cert.issuer()),
            subject_common_name: first_common_name(cert.subject()),
            issuer_common_name: first_common_name(cert.issuer()),
            usage: extensions.usage,
            key_type: key_type_of(spki),
            spki: spki.raw.to_vec(),
            subject_key_id: extensions.subject_key_id,
            authority_key_id: extensions.authority_key_id,
            is_ca: extensions.is_ca,
            path_len: extensions.path_len,
            key_usage: extensions.key_usage,
            tbs: cert.tbs_certificate.as_ref().to_vec(),
            signature_algorithm: cert_signature_algorithm(&cert.signature_algorithm),
            signature: cert.signature_value.data.to_vec(),
        })
    }

    /// Parses the first `CERTIFICATE` block of PEM text.
    ///
    /// # Errors
    /// [`KeyError::Pem`] if there is no readable `CERTIFICATE` block; else as [`Certificate::from_der`].
    pub fn from_pem(pem_text: &str) -> Result<Certificate, KeyError> {
        let blocks = pem::parse_many(pem_text).map_err(|_| KeyError::Pem)?;
        let block = blocks
            .iter()
            .find(|block| block.tag() == "CERTIFICATE")
            .ok_or(KeyError::Pem)?;
        Certificate::from_der(block.contents())
    }

    /// Parses a certificate given as DER, PEM, or base64 DER text (as in dgc-testdata's
    /// `TESTCTX.CERTIFICATE`); surrounding whitespace is ignored, and so are line breaks inside base64.
    ///
    /// # Errors
    /// [`KeyError::Base64`] or [`KeyError::Pem`] when the text does not decode; else as
    /// [`Certificate::from_der`].
    pub fn parse_any(input: &[u8]) -> Result<Certificate, KeyError> {
        // DER is binary: never trim it (its last bytes may well be 0x20 or 0x0a).
        if input.first() == Some(&0x30) {
            return Certificate::from_der(input);
        }
        let trimmed = input.trim_ascii();
        if trimmed.starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(trimmed).map_err(|_| KeyError::Pem)?;
            return Certificate::from_pem(text);
        }
        let compact: Vec<u8> = trimmed
            .iter()
            .copied()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect();
        let der = BASE64_LENIENT
            .decode(compact)
            .map_err(|_| KeyError::Base64)?;
        Certificate::from_der(&der)
    }

    /// The certificate's DER, exactly as given.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The kid: the first 8 bytes of SHA-256 over the DER.
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// SHA-256 over the DER (the EU gateway's `thumbprint`).
    pub fn sha256_thumbprint(&self) -> [u8; 32] {
        self.thumbprint
    }

    /// notBefore, in seconds since the Unix epoch.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// notAfter, in seconds since the Unix epoch.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// The subject's country (`C`), if it has one as a string.
    pub fn subject_country(&self) -> Option<&str> {
        self.subject_country.as_deref()
    }

    /// The issuer's country (`C`), if it has one as a string.
    pub fn issuer_country(&self) -> Option<&str> {
        self.issuer_country.as_deref()
    }

    /// The subject's common name (`CN`), if it has one as a string.
    pub fn subject_common_name(&self) -> Option<&str> {
        self.subject_common_name.as_deref()
    }

    /// The issuer's common name (`CN`), if it has one as a string.
    pub fn issuer_common_name(&self) -> Option<&str> {
        self.issuer_common_name.as_deref()
    }

    /// What the certificate may sign, from its extended key usage.
    pub fn usage(&self) -> &DscUsage {
        &self.usage
    }

    /// The type of the public key.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The whole SubjectPublicKeyInfo (DER).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The subject key identifier extension's value.
    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.subject_key_id.as_deref()
    }

    /// The key identifier of the authority key identifier extension.
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.authority_key_id.as_deref()
    }

    /// Whether basic constraints say `cA=TRUE`.
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// The basic constraints' path length constraint.
    pub fn path_len(&self) -> Option<u32> {
        self.path_len
    }

    /// Whether key usage allows signing certificates (`keyCertSign`); false when key usage is absent.
    pub fn can_sign_certificates(&self) -> bool {
        self.key_usage.is_some_and(|bits| bits.key_cert_sign)
    }

    /// Whether key usage allows signing documents (`digitalSignature`); true when key usage is absent.
    pub fn can_sign_documents(&self) -> bool {
        self.key_usage.is_none_or(|bits| bits.digital_signature)
    }

    /// Checks that `issuer`'s key signed this certificate, with `backend`.
    ///
    /// Only the signature is checked: names, key identifiers, validity and the issuer's CA flags are the
    /// caller's to compare. Supported: ECDSA on P-256 (both backends) or P-384 (AWS-LC only) with
    /// SHA-256/384/512, RSA ≥ 2048 with PKCS#1 v1.5 or PSS (salt length = hash length) and SHA-256/384/512,
    /// and Ed25519.
    ///
    /// # Errors
    /// [`KeyError::IssuerSignature`] if the signature does not verify;
    /// [`KeyError::UnsupportedIssuerAlgorithm`] for a signature algorithm or issuer key outside that list;
    /// [`KeyError::WeakKey`] for an RSA issuer key under 2048 bits.
    pub fn verify_issued_by(&self, issuer: &Certificate, backend: Backend) -> Result<(), KeyError> {
        backend::verify_certificate_signature(
            backend,
            self.signature_algorithm,
            issuer.key_type,
            &issuer.spki,
            &self.tbs,
            &self.signature,
        )
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Certificate) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl std::hash::Hash for Certificate {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.der.hash(state);
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("kid", &format_args!("{}", self.kid))
            .field("subject_cn", &self.subject_common_name)
            .field("subject_country", &self.subject_country)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key_type", &self.key_type)
            .field("usage", &self.usage)
            .field("is_ca", &self.is_ca)
            .finish_non_exhaustive()
    }
}

const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The extensions this crate reads, each at most once.
struct Extensions {
    usage: DscUsage,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    is_ca: bool,
    path_len: Option<u32>,
    key_usage: Option<KeyUsageBits>,
}

impl Extensions {
    fn read(extensions: &[X509Extension<'_>]) -> Result<Extensions, KeyError> {
        let malformed = KeyError::Malformed {
            what: "certificate extension",
        };
        let mut read = Extensions {
            usage: DscUsage::Any,
            subject_key_id: None,
            authority_key_id: None,
            is_ca: false,
            path_len: None,
            key_usage: None,
        };
        let mut seen: Vec<String> = Vec::new();
        for extension in extensions {
            let oid = extension.oid.to_id_string();
            let known = matches!(
                oid.as_str(),
                OID_BASIC_CONSTRAINTS
                    | OID_KEY_USAGE
                    | OID_EXTENDED_KEY_USAGE
                    | OID_SUBJECT_KEY_ID
                    | OID_AUTHORITY_KEY_ID
            );
            if !known {
                continue;
            }
            if seen.contains(&oid) {
                return Err(malformed);
            }
            match extension.parsed_extension() {
                ParsedExtension::BasicConstraints(constraints) => {
                    read.is_ca = constraints.ca;
                    read.path_len = constraints.path_len_constraint;
                }
                ParsedExtension::KeyUsage(usage) => {
                    read.key_usage = Some(KeyUsageBits {
                        digital_signature: usage.digital_signature(),
                        key_cert_sign: usage.key_cert_sign(),
                    });
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    let oids: Vec<String> =
                        eku.other.iter().map(|oid| oid.to_id_string()).collect();
                    read.usage = DscUsage::from_eku_oids(oids.iter().map(String::as_str));
                }
                ParsedExtension::SubjectKeyIdentifier(id) => {
                    read.subject_key_id = Some(id.0.to_vec());
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    read.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
                }
                _ => return Err(malformed),
            }
            seen.push(oid);
        }
        Ok(read)
    }
}

fn first_country(name: &X509Name<'_>) -> Option<String> {
    name.iter_country()
        .next()
        .and_then(|attribute| attribute.as_str().ok())
        .map(str::to_owned)
}

fn first_common_name(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|attribute| attribute.as_str().ok())
        .map(str::to_owned)
}

pub(crate) fn key_type_of(spki: &SubjectPublicKeyInfo<'_>) -> KeyType {
    match spki.algorithm.algorithm.to_id_string().as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|parameters| parameters.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some(OID_P256) => KeyType::P256,
                Some(OID_P384) => KeyType::P384,
                _ => KeyType::OtherEc,
            }
        }
        OID_RSA_ENCRYPTION => match rsa_modulus_bits(spki) {
            Some(bits) => KeyType::Rsa { bits },
            None => KeyType::Other,
        },
        OID_ED25519 => KeyType::Ed25519,
        _ => KeyType::Other,
    }
}

fn rsa_modulus_bits(spki: &SubjectPublicKeyInfo<'_>) -> Option<u32> {
    match spki.parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(key) => Some(unsigned_bits(key.modulus)),
        _ => None,
    }
}

/// The bit length of a big-endian unsigned integer (leading zero bytes ignored).
pub(crate) fn unsigned_bits(bytes: &[u8]) -> u32 {
    let significant: &[u8] = match bytes.iter().position(|&byte| byte != 0) {
        Some(start) => bytes.get(start..).unwrap_or_default(),
        None => &[],
    };
    match significant.first() {
        Some(&first) => {
            let rest = u32::try_from(significant.len().saturating_sub(1)).unwrap_or(u32::MAX / 16);
            rest.saturating_mul(8)
                .saturating_add(8 - first.leading_zeros())
        }
        None => 0,
    }
}

fn cert_signature_algorithm(algorithm: &AlgorithmIdentifier<'_>) -> CertSignatureAlgorithm {
    match algorithm.algorithm.to_id_string().as_str() {
        OID_ECDSA_SHA256 => CertSignatureAlgorithm::Ecdsa(HashAlg::Sha256),
        OID_ECDSA_SHA384 => CertSignatureAlgorithm::Ecdsa(HashAlg::Sha384),
        OID_ECDSA_SHA512 => CertSignatureAlgorithm::Ecdsa(HashAlg::Sha512),
        OID_RSA_SHA256 => CertSignatureAlgorithm::RsaPkcs1(HashAlg::Sha256),
        OID_RSA_SHA384 => CertSignatureAlgorithm::RsaPkcs1(HashAlg::Sha384),
        OID_RSA_SHA512 => CertSignatureAlgorithm::RsaPkcs1(HashAlg::Sha512),
        OID_ED25519 => CertSignatureAlgorithm::Ed25519,
        OID_RSASSA_PSS => algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| RsaSsaPssParams::try_from(parameters).ok())
            .and_then(|parameters| pss_hash(&parameters))
            .map_or(
                CertSignatureAlgorithm::Unsupported,
                CertSignatureAlgorithm::RsaPss,
            ),
        _ => CertSignatureAlgorithm::Unsupported,
    }
}

/// The hash of RSASSA-PSS parameters this crate can check: MGF1 over the same hash, salt = hash length,
/// trailer 1.
fn pss_hash(parameters: &RsaSsaPssParams<'_>) -> Option<HashAlg> {
    let hash = HashAlg::from_oid(&parameters.hash_algorithm_oid().to_id_string())?;
    let mgf = parameters.mask_gen_algorithm().ok()?;
    let mgf_ok = mgf.mgf.to_id_string() == OID_MGF1
        && HashAlg::from_oid(&mgf.hash.to_id_string()) == Some(hash);
    let salt_ok = parameters.salt_length() == hash.output_len();
    (mgf_ok && salt_ok && parameters.trailer_field() == 1).then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths() {
        assert_eq!(unsigned_bits(&[]), 0);
        assert_eq!(unsigned_bits(&[0, 0]), 0);
        assert_eq!(unsigned_bits(&[1]), 1);
        assert_eq!(unsigned_bits(&[0, 0x80, 0]), 16);
        assert_eq!(unsigned_bits(&[0x7f; 256]), 2047);
        let mut modulus = vec![0u8];
        modulus.extend([0xff; 256]);
        assert_eq!(unsigned_bits(&modulus), 2048);
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        for input in [
            &b""[..],
            b"0",
            b"\x30\x82",
            b"MII",
            b"-----BEGIN CERTIFICATE-----\n",
            b"\xff\xfe",
        ] {
            assert!(Certificate::parse_any(input).is_err(), "{input:?}");
        }
    }
}
