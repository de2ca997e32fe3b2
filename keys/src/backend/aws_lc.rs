//! The AWS-LC backend, through `aws-lc-rs`.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    UnparsedPublicKey, VerificationAlgorithm,
};
use zeroize::Zeroizing;

use super::VerifyingKey;
use crate::SignatureAlgorithm;
use crate::certificate::{CertSignatureAlgorithm, HashAlg, KeyType};
use crate::error::{KeyError, SignatureError};

const NAME: &str = "aws-lc";
const REJECTED: KeyError = KeyError::KeyRejected { backend: NAME };

/// A public key parsed once by AWS-LC.
struct AwsLcVerifyingKey {
    algorithm: SignatureAlgorithm,
    key: ParsedPublicKey,
}

impl fmt::Debug for AwsLcVerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("backend", &NAME)
            .field("algorithm", &format_args!("{}", self.algorithm.name()))
            .finish_non_exhaustive()
    }
}

impl VerifyingKey for AwsLcVerifyingKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        self.key
            .verify_sig(message, signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

fn verification_algorithm(algorithm: SignatureAlgorithm) -> &'static dyn VerificationAlgorithm {
    match algorithm {
        SignatureAlgorithm::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
        SignatureAlgorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
        SignatureAlgorithm::EdDsa => &signature::ED25519,
    }
}

pub(super) fn verifying_key(
    algorithm: SignatureAlgorithm,
    spki_der: &[u8],
) -> Result<Arc<dyn VerifyingKey>, KeyError> {
    let key =
        ParsedPublicKey::new(verification_algorithm(algorithm), spki_der).map_err(|_| REJECTED)?;
    Ok(Arc::new(AwsLcVerifyingKey { algorithm, key }))
}

pub(super) fn verify_certificate_signature(
    algorithm: CertSignatureAlgorithm,
    issuer_key_type: KeyType,
    issuer_spki: &[u8],
    tbs: &[u8],
    signature_value: &[u8],
) -> Result<(), KeyError> {
    use CertSignatureAlgorithm as Alg;
    use HashAlg::{Sha256, Sha384, Sha512};
    let verification: &'static dyn VerificationAlgorithm = match (algorithm, issuer_key_type) {
        (Alg::Ecdsa(Sha256), KeyType::P256) => &signature::ECDSA_P256_SHA256_ASN1,
        (Alg::Ecdsa(Sha384), KeyType::P256) => &signature::ECDSA_P256_SHA384_ASN1,
        (Alg::Ecdsa(Sha512), KeyType::P256) => &signature::ECDSA_P256_SHA512_ASN1,
        (Alg::Ecdsa(Sha256), KeyType::P384) => &signature::ECDSA_P384_SHA256_ASN1,
        (Alg::Ecdsa(Sha384), KeyType::P384) => &signature::ECDSA_P384_SHA384_ASN1,
        (Alg::Ecdsa(Sha512), KeyType::P384) => &signature::ECDSA_P384_SHA512_ASN1,
        (Alg::RsaPkcs1(Sha256), KeyType::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (Alg::RsaPkcs1(Sha384), KeyType::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (Alg::RsaPkcs1(Sha512), KeyType::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (Alg::RsaPss(Sha256), KeyType::Rsa { .. }) => &signature::RSA_PSS_2048_8192_SHA256,
        (Alg::RsaPss(Sha384), KeyType::Rsa { .. }) => &signature::RSA_PSS_2048_8192_SHA384,
        (Alg::RsaPss(Sha512), KeyType::Rsa { .. }) => &signature::RSA_PSS_2048_8192_SHA512,
        (Alg::Ed25519, KeyType::Ed25519) => &signature::ED25519,
        _ => return Err(KeyError::UnsupportedIssuerAlgorithm),
    };
    UnparsedPublicKey::new(verification, issuer_spki)
        .verify(tbs, signature_value)
        .map_err(|_| KeyError::IssuerSignature)
}

/// A private key held by AWS-LC.
pub(super) enum PrivateKey {
    Es256(EcdsaKeyPair),
    Ps256(RsaKeyPair),
    EdDsa(Ed25519KeyPair),
}

pub(super) fn generate_pkcs8(
    algorithm: SignatureAlgorithm,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let generate = KeyError::Generate;
    let pkcs8 = match algorithm {
        SignatureAlgorithm::Es256 => {
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|key| key.to_pkcs8v1())
                .map_err(|_| generate)?
                .as_ref()
                .to_vec()
        }
        SignatureAlgorithm::Ps256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .and_then(|key| key.as_der())
            .map_err(|_| generate)?
            .as_ref()
            .to_vec(),
        SignatureAlgorithm::EdDsa => Ed25519KeyPair::generate()
            .and_then(|key| key.to_pkcs8v1())
            .map_err(|_| generate)?
            .as_ref()
            .to_vec(),
    };
    Ok(Zeroizing::new(pkcs8))
}

impl PrivateKey {
    pub(super) fn from_pkcs8(
        algorithm: SignatureAlgorithm,
        der: &[u8],
    ) -> Result<PrivateKey, KeyError> {
        Ok(match algorithm {
            SignatureAlgorithm::Es256 => PrivateKey::Es256(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| REJECTED)?,
            ),
            SignatureAlgorithm::Ps256 => {
                PrivateKey::Ps256(RsaKeyPair::from_pkcs8(der).map_err(|_| REJECTED)?)
            }
            SignatureAlgorithm::EdDsa => PrivateKey::EdDsa(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| REJECTED)?,
            ),
        })
    }

    pub(super) fn spki(&self) -> Result<Vec<u8>, KeyError> {
        let der = match self {
            PrivateKey::Es256(key) => key.public_key().as_der(),
            PrivateKey::Ps256(key) => key.public_key().as_der(),
            PrivateKey::EdDsa(key) => key.public_key().as_der(),
        };
        Ok(der.map_err(|_| REJECTED)?.as_ref().to_vec())
    }

    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let rng = SystemRandom::new();
        match self {
            PrivateKey::Es256(key) => key
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| SignatureError::Sign),
            PrivateKey::Ps256(key) => {
                let mut signature = vec![0u8; key.public_modulus_len()];
                key.sign(&signature::RSA_PSS_SHA256, &rng, message, &mut signature)
                    .map_err(|_| SignatureError::Sign)?;
                Ok(signature)
            }
            PrivateKey::EdDsa(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }
}
