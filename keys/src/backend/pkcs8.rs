//! The key type of a PKCS#8 private key, read before any backend sees the key.

use x509_parser::asn1_rs::{Any, FromDer, Tag};
use x509_parser::x509::AlgorithmIdentifier;

use crate::certificate::{
    KeyType, OID_EC_PUBLIC_KEY, OID_ED25519, OID_P256, OID_P384, OID_RSA_ENCRYPTION, unsigned_bits,
};
use crate::error::KeyError;

const MALFORMED: KeyError = KeyError::Malformed {
    what: "PKCS#8 private key",
};

/// The key type of an unencrypted PKCS#8 `PrivateKeyInfo` (RFC 5208) or `OneAsymmetricKey` (RFC 5958).
pub(crate) fn key_type(der: &[u8]) -> Result<KeyType, KeyError> {
    let (rest, outer) = element(der, Tag::Sequence)?;
    if !rest.is_empty() {
        return Err(MALFORMED);
    }
    let (body, _version) = element(outer.data, Tag::Integer)?;
    let (body, algorithm) = AlgorithmIdentifier::from_der(body).map_err(|_| MALFORMED)?;
    let (_, private_key) = element(body, Tag::OctetString)?;
    Ok(match algorithm.algorithm.to_id_string().as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = algorithm
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
        OID_RSA_ENCRYPTION => KeyType::Rsa {
            bits: rsa_private_key_bits(private_key.data)?,
        },
        OID_ED25519 => KeyType::Ed25519,
        _ => KeyType::Other,
    })
}

/// The modulus length of an `RSAPrivateKey` (RFC 8017): `SEQUENCE { version, modulus, … }`.
fn rsa_private_key_bits(der: &[u8]) -> Result<u32, KeyError> {
    let (_, key) = element(der, Tag::Sequence)?;
    let (body, _version) = element(key.data, Tag::Integer)?;
    let (_, modulus) = element(body, Tag::Integer)?;
    Ok(unsigned_bits(modulus.data))
}

fn element(input: &[u8], tag: Tag) -> Result<(&[u8], Any<'_>), KeyError> {
    match Any::from_der(input) {
        Ok((rest, any)) if any.tag() == tag => Ok((rest, any)),
        _ => Err(MALFORMED),
    }
}
