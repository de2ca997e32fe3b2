//! One listed DSC, as every list shape carries it (`kid`, `country`, `certificateType`, `rawData`,
//! `thumbprint`): decoding and the checks that need no CSCA.

use keys::{Certificate, DscUsage, KeyError, KeyType, Kid};
use sha2::{Digest as _, Sha256};

use crate::encoding::{b64_decode, hex_decode_32, is_country_code};

/// Why one listed DSC is unusable on its own, before any chain is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// `certificateType` is not `"DSC"`.
    #[error("certificateType is not DSC")]
    CertificateType,
    /// `country` is not two upper-case ASCII letters.
    #[error("country is not an ISO 3166-1 alpha-2 code")]
    Country,
    /// `kid` is not base64 of 8 bytes.
    #[error("kid is not base64 of 8 bytes")]
    Kid,
    /// `rawData` is not base64.
    #[error("rawData is not base64")]
    RawData,
    /// `thumbprint` is not 64 hex digits.
    #[error("thumbprint is not a hex SHA-256")]
    Thumbprint,
    /// `thumbprint` is not the SHA-256 of `rawData`.
    #[error("thumbprint does not match the certificate")]
    ThumbprintMismatch,
    /// `rawData` is not a certificate.
    #[error("malformed certificate: {0}")]
    Certificate(#[source] KeyError),
    /// `kid` is not the certificate's kid (the first 8 bytes of the SHA-256 of its DER).
    #[error("listed kid {listed} is not the certificate's kid {computed}")]
    KidMismatch {
        /// The kid listed.
        listed: Kid,
        /// The certificate's kid.
        computed: Kid,
    },
    /// The DSC's key is neither P-256 nor RSA of 2048 to 8192 bits (P-384, binary or brainpool curves,
    /// RSA-1024, Ed25519, …).
    #[error("DSC key {key_type} not allowed: P-256 or RSA 2048-8192 only")]
    DscKey {
        /// The key type found.
        key_type: KeyType,
    },
    /// The DSC is a CA (`cA=TRUE`): an intermediate or a CSCA listed as a DSC.
    #[error("a DSC must not be a CA")]
    DscIsCa,
    /// The DSC's key usage leaves out digitalSignature.
    #[error("DSC key usage does not allow digitalSignature")]
    NotForSigning,
    /// The listed validity (`notBefore`, `notAfter`) is not the certificate's.
    #[error("listed validity does not match the certificate")]
    ValidityMismatch,
    /// The listed `keyUsage` is not the certificate's (codes `t`, `v`, `r`, or `any`).
    #[error("listed keyUsage does not match the certificate")]
    KeyUsageMismatch,
}

/// The fields of a listed DSC every shape shares, as listed.
pub(crate) struct RawEntry<'a> {
    pub(crate) kid: &'a str,
    pub(crate) country: &'a str,
    pub(crate) certificate_type: &'a str,
    pub(crate) raw_data: &'a str,
    pub(crate) thumbprint: &'a str,
}

/// Decodes a listed DSC: type, country form, kid, base64, thumbprint, DER, kid match, then the DSC's
/// own constraints ([`check_dsc`]).
pub(crate) fn decode(entry: &RawEntry<'_>) -> Result<(Kid, Certificate), EntryError> {
    if entry.certificate_type != "DSC" {
        return Err(EntryError::CertificateType);
    }
    if !is_country_code(entry.country) {
        return Err(EntryError::Country);
    }
    let listed = b64_decode(entry.kid)
        .and_then(|bytes| Kid::from_slice(&bytes))
        .ok_or(EntryError::Kid)?;
    let der = b64_decode(entry.raw_data).ok_or(EntryError::RawData)?;
    let thumbprint = hex_decode_32(entry.thumbprint).ok_or(EntryError::Thumbprint)?;
    if <[u8; 32]>::from(Sha256::digest(&der)) != thumbprint {
        return Err(EntryError::ThumbprintMismatch);
    }
    let certificate = Certificate::from_der(&der).map_err(EntryError::Certificate)?;
    if certificate.kid() != listed {
        return Err(EntryError::KidMismatch {
            listed,
            computed: certificate.kid(),
        });
    }
    check_dsc(&certificate)?;
    Ok((listed, certificate))
}

/// What a DSC must be whoever lists it: a P-256 or RSA 2048-8192 key, not a CA, allowed to sign.
pub(crate) fn check_dsc(certificate: &Certificate) -> Result<(), EntryError> {
    match certificate.key_type() {
        KeyType::P256 => {}
        KeyType::Rsa { bits } if (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) => {}
        key_type => return Err(EntryError::DscKey { key_type }),
    }
    if certificate.is_ca() {
        return Err(EntryError::DscIsCa);
    }
    if !certificate.can_sign_documents() {
        return Err(EntryError::NotForSigning);
    }
    Ok(())
}

const MIN_RSA_BITS: u32 = 2048;
const MAX_RSA_BITS: u32 = 8192;

/// The national list's `keyUsage` codes for a DSC's usage: `["any"]`, or the allowed kinds among
/// `t`, `v`, `r`, in that order.
pub(crate) fn usage_codes(usage: &DscUsage) -> Vec<String> {
    match *usage {
        DscUsage::Only {
            test,
            vaccination,
            recovery,
        } => [(test, "t"), (vaccination, "v"), (recovery, "r")]
            .into_iter()
            .filter(|(allowed, _)| *allowed)
            .map(|(_, code)| code.to_owned())
            .collect(),
        _ => vec!["any".to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use keys::test_pki::test_pki;

    use super::*;
    use crate::encoding::{b64_encode, hex_encode};

    struct Owned {
        kid: String,
        country: String,
        certificate_type: String,
        raw_data: String,
        thumbprint: String,
    }

    impl Owned {
        fn of(certificate: &Certificate) -> Owned {
            Owned {
                kid: certificate.kid().to_string(),
                country: "VN".into(),
                certificate_type: "DSC".into(),
                raw_data: b64_encode(certificate.der()),
                thumbprint: hex_encode(&certificate.sha256_thumbprint()),
            }
        }

        fn decode(&self) -> Result<(Kid, Certificate), EntryError> {
            decode(&RawEntry {
                kid: &self.kid,
                country: &self.country,
                certificate_type: &self.certificate_type,
                raw_data: &self.raw_data,
                thumbprint: &self.thumbprint,
            })
        }
    }

    fn check(change: impl FnOnce(&mut Owned), expected: EntryError) {
        let mut entry = Owned::of(&test_pki().es256.certificate);
        change(&mut entry);
        assert_eq!(entry.decode().err(), Some(expected));
    }

    #[test]
    fn a_good_entry_decodes() {
        let pki = test_pki();
        for certificate in [&pki.es256.certificate, &pki.ps256.certificate] {
            let (kid, decoded) = Owned::of(certificate).decode().unwrap();
            assert_eq!(kid, certificate.kid());
            assert_eq!(&decoded, certificate);
        }
    }

    #[test]
    fn each_field_is_checked() {
        let pki = test_pki();
        check(
            |e| e.certificate_type = "CSCA".into(),
            EntryError::CertificateType,
        );
        check(|e| e.country = "vn".into(), EntryError::Country);
        check(|e| e.kid = "AAAA".into(), EntryError::Kid);
        check(|e| e.raw_data.insert(3, '!'), EntryError::RawData);
        check(|e| e.thumbprint.truncate(10), EntryError::Thumbprint);
        check(
            |e| e.thumbprint = "00".repeat(32),
            EntryError::ThumbprintMismatch,
        );
        let other = pki.ps256.certificate.kid();
        check(
            |e| e.kid = other.to_string(),
            EntryError::KidMismatch {
                listed: other,
                computed: pki.es256.certificate.kid(),
            },
        );
        let garbage = b"\x30\x03\x02\x01\x00";
        check(
            |e| {
                e.raw_data = b64_encode(garbage);
                e.thumbprint = hex_encode(&Sha256::digest(garbage).into());
            },
            EntryError::Certificate(KeyError::Malformed {
                what: "certificate",
            }),
        );
    }

    #[test]
    fn dsc_constraints() {
        let pki = test_pki();
        let refused = |certificate: &Certificate| check_dsc(certificate).err();
        assert_eq!(refused(&pki.es256.certificate), None);
        assert_eq!(refused(&pki.ps256.certificate), None);
        assert_eq!(
            refused(&pki.p384.certificate),
            Some(EntryError::DscKey {
                key_type: KeyType::P384
            })
        );
        assert_eq!(
            refused(&pki.rsa_1024),
            Some(EntryError::DscKey {
                key_type: KeyType::Rsa { bits: 1024 }
            })
        );
        assert_eq!(
            refused(&pki.eddsa.certificate),
            Some(EntryError::DscKey {
                key_type: KeyType::Ed25519
            })
        );
        assert_eq!(refused(&pki.csca.certificate), Some(EntryError::DscIsCa));
    }

    #[test]
    fn usage_code_lists() {
        let pki = test_pki();
        let codes = |certificate: &Certificate| usage_codes(certificate.usage());
        assert_eq!(codes(&pki.es256.certificate), ["t", "v", "r"]);
        assert_eq!(codes(&pki.es256_test_only.certificate), ["t"]);
        assert_eq!(
            codes(&pki.es256_vaccination_only_old_arc.certificate),
            ["v"]
        );
        assert_eq!(codes(&pki.es256_no_eku.certificate), ["any"]);
        assert_eq!(codes(&pki.es256_client_auth_only.certificate), ["any"]);
    }
}
