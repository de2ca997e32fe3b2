//! The pure-Rust backend: RustCrypto's `p256`, `rsa` and `ed25519-dalek`.

use std::fmt;
use std::sync::Arc;

use ed25519_dalek::pkcs8::{
    DecodePrivateKey as _, DecodePublicKey as _, EncodePrivateKey as _, EncodePublicKey as _,
};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::signature::{
    RandomizedSigner as _, SignatureEncoding as _, Signer as _, Verifier as _,
};
use rsa::rand_core::{OsRng, RngCore as _};
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use x509_parser::prelude::FromDer as _;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;
use zeroize::Zeroizing;

use super::{MAX_RSA_BITS, VerifyingKey};
use crate::SignatureAlgorithm;
use crate::certificate::{CertSignatureAlgorithm, HashAlg, KeyType};
use crate::error::{KeyError, SignatureError};

const NAME: &str = "rust-crypto";
const REJECTED: KeyError = KeyError::KeyRejected { backend: NAME };

/// A public key parsed once by the RustCrypto crates.
enum RustCryptoVerifyingKey {
    Es256(p256::ecdsa::VerifyingKey),
    Ps256(rsa::pss::VerifyingKey<Sha256>),
    EdDsa(ed25519_dalek::VerifyingKey),
}

impl fmt::Debug for RustCryptoVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("backend", &NAME)
            .field(
                "algorithm",
                &format_args!("{}", VerifyingKey::algorithm(self).name()),
            )
            .finish_non_exhaustive()
    }
}

impl VerifyingKey for RustCryptoVerifyingKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            RustCryptoVerifyingKey::Es256(_) => SignatureAlgorithm::Es256,
            RustCryptoVerifyingKey::Ps256(_) => SignatureAlgorithm::Ps256,
            RustCryptoVerifyingKey::EdDsa(_) => SignatureAlgorithm::EdDsa,
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let verified = match self {
            RustCryptoVerifyingKey::Es256(key) => p256::ecdsa::Signature::from_slice(signature)
                .and_then(|signature| key.verify(message, &signature)),
            RustCryptoVerifyingKey::Ps256(key) => rsa::pss::Signature::try_from(signature)
                .and_then(|signature| key.verify(message, &signature)),
            RustCryptoVerifyingKey::EdDsa(key) => ed25519_dalek::Signature::from_slice(signature)
                .and_then(|signature| key.verify(message, &signature)),
        };
        verified.map_err(|_| SignatureError::Invalid)
    }
}

pub(super) fn verifying_key(
    algorithm: SignatureAlgorithm,
    spki_der: &[u8],
) -> Result<Arc<dyn VerifyingKey>, KeyError> {
    let key = match algorithm {
        SignatureAlgorithm::Es256 => RustCryptoVerifyingKey::Es256(
            p256::ecdsa::VerifyingKey::from_public_key_der(spki_der).map_err(|_| REJECTED)?,
        ),
        SignatureAlgorithm::Ps256 => {
            RustCryptoVerifyingKey::Ps256(rsa::pss::VerifyingKey::new(rsa_public_key(spki_der)?))
        }
        SignatureAlgorithm::EdDsa => RustCryptoVerifyingKey::EdDsa(
            ed25519_dalek::VerifyingKey::from_public_key_der(spki_der).map_err(|_| REJECTED)?,
        ),
    };
    Ok(Arc::new(key))
}

/// An RSA public key from a SubjectPublicKeyInfo, up to 8192 bits (the `rsa` crate's own limit is 4096).
fn rsa_public_key(spki_der: &[u8]) -> Result<RsaPublicKey, KeyError> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).map_err(|_| REJECTED)?;
    let Ok(PublicKey::RSA(key)) = spki.parsed() else {
        return Err(REJECTED);
    };
    let modulus = BigUint::from_bytes_be(key.modulus);
    let exponent = BigUint::from_bytes_be(key.exponent);
    RsaPublicKey::new_with_max_size(modulus, exponent, MAX_RSA_BITS as usize).map_err(|_| REJECTED)
}

pub(super) fn verify_certificate_signature(
    algorithm: CertSignatureAlgorithm,
    issuer_key_type: KeyType,
    issuer_spki: &[u8],
    tbs: &[u8],
    signature_value: &[u8],
) -> Result<(), KeyError> {
    use CertSignatureAlgorithm as Alg;
    let invalid = |_| KeyError::IssuerSignature;
    match (algorithm, issuer_key_type) {
        (Alg::Ecdsa(hash), KeyType::P256) => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(issuer_spki)
                .map_err(|_| REJECTED)?;
            let signature = p256::ecdsa::Signature::from_der(signature_value).map_err(invalid)?;
            let digest = match hash {
                HashAlg::Sha256 => Sha256::digest(tbs).to_vec(),
                HashAlg::Sha384 => Sha384::digest(tbs).to_vec(),
                HashAlg::Sha512 => Sha512::digest(tbs).to_vec(),
            };
            key.verify_prehash(&digest, &signature).map_err(invalid)
        }
        (Alg::RsaPkcs1(hash), KeyType::Rsa { .. }) => {
            let key = rsa_public_key(issuer_spki)?;
            let signature = rsa::pkcs1v15::Signature::try_from(signature_value).map_err(invalid)?;
            match hash {
                HashAlg::Sha256 => {
                    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(tbs, &signature)
                }
                HashAlg::Sha384 => {
                    rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify(tbs, &signature)
                }
                HashAlg::Sha512 => {
                    rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify(tbs, &signature)
                }
            }
            .map_err(invalid)
        }
        (Alg::RsaPss(hash), KeyType::Rsa { .. }) => {
            let key = rsa_public_key(issuer_spki)?;
            let signature = rsa::pss::Signature::try_from(signature_value).map_err(invalid)?;
            match hash {
                HashAlg::Sha256 => {
                    rsa::pss::VerifyingKey::<Sha256>::new(key).verify(tbs, &signature)
                }
                HashAlg::Sha384 => {
                    rsa::pss::VerifyingKey::<Sha384>::new(key).verify(tbs, &signature)
                }
                HashAlg::Sha512 => {
                    rsa::pss::VerifyingKey::<Sha512>::new(key).verify(tbs, &signature)
                }
            }
            .map_err(invalid)
        }
        (Alg::Ed25519, KeyType::Ed25519) => {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(issuer_spki)
                .map_err(|_| REJECTED)?;
            let signature =
                ed25519_dalek::Signature::from_slice(signature_value).map_err(invalid)?;
            key.verify(tbs, &signature).map_err(invalid)
        }
        _ => Err(KeyError::UnsupportedIssuerAlgorithm),
    }
}

/// A private key held by the RustCrypto crates (each zeroizes itself on drop).
pub(super) enum PrivateKey {
    Es256(p256::ecdsa::SigningKey),
    Ps256(rsa::pss::BlindedSigningKey<Sha256>),
    EdDsa(ed25519_dalek::SigningKey),
}

pub(super) fn generate_pkcs8(
    algorithm: SignatureAlgorithm,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let generate = KeyError::Generate;
    let document = match algorithm {
        SignatureAlgorithm::Es256 => p256::ecdsa::SigningKey::random(&mut OsRng)
            .to_pkcs8_der()
            .map_err(|_| generate)?,
        SignatureAlgorithm::Ps256 => RsaPrivateKey::new(&mut OsRng, 2048)
            .map_err(|_| generate.clone())?
            .to_pkcs8_der()
            .map_err(|_| generate)?,
        SignatureAlgorithm::EdDsa => {
            let mut seed = Zeroizing::new([0u8; 32]);
            OsRng
                .try_fill_bytes(seed.as_mut())
                .map_err(|_| generate.clone())?;
            ed25519_dalek::SigningKey::from_bytes(&seed)
                .to_pkcs8_der()
                .map_err(|_| generate)?
        }
    };
    Ok(Zeroizing::new(document.as_bytes().to_vec()))
}

impl PrivateKey {
    pub(super) fn from_pkcs8(
        algorithm: SignatureAlgorithm,
        der: &[u8],
    ) -> Result<PrivateKey, KeyError> {
        Ok(match algorithm {
            SignatureAlgorithm::Es256 => PrivateKey::Es256(
                p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|_| REJECTED)?,
            ),
            SignatureAlgorithm::Ps256 => {
                let key = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| REJECTED)?;
                PrivateKey::Ps256(rsa::pss::BlindedSigningKey::new(key))
            }
            SignatureAlgorithm::EdDsa => PrivateKey::EdDsa(
                ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|_| REJECTED)?,
            ),
        })
    }

    pub(super) fn spki(&self) -> Result<Vec<u8>, KeyError> {
        let document = match self {
            PrivateKey::Es256(key) => key.verifying_key().to_public_key_der(),
            PrivateKey::Ps256(key) => key.as_ref().to_public_key().to_public_key_der(),
            PrivateKey::EdDsa(key) => key.verifying_key().to_public_key_der(),
        };
        Ok(document.map_err(|_| REJECTED)?.into_vec())
    }

    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let signature = match self {
            PrivateKey::Es256(key) => key
                .try_sign(message)
                .map(|signature: p256::ecdsa::Signature| signature.to_vec()),
            PrivateKey::Ps256(key) => key
                .try_sign_with_rng(&mut OsRng, message)
                .map(|signature| signature.to_vec()),
            PrivateKey::EdDsa(key) => key.try_sign(message).map(|signature| signature.to_vec()),
        };
        signature.map_err(|_| SignatureError::Sign)
    }
}
