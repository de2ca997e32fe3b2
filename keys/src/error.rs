//! The crate's two error types: [`KeyError`] for key and certificate handling, [`SignatureError`] for
//! signing and verifying.

use crate::certificate::KeyType;

/// Why a certificate, a public key or a private key could not be used.
///
/// Messages name the failing stage only: they never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a certificate, public key or private key this crate can read.
    #[error("malformed {what}")]
    Malformed {
        /// What was being read ("certificate", "SubjectPublicKeyInfo", "PKCS#8 private key", …).
        what: &'static str,
    },
    /// The input looked like PEM but held no usable certificate block.
    #[error("invalid PEM: no CERTIFICATE block")]
    Pem,
    /// The input looked like base64 text but did not decode.
    #[error("invalid base64 certificate text")]
    Base64,
    /// The key type has no signature algorithm in this crate (P-384, brainpool, DSA, …).
    #[error("unsupported key type {key_type}")]
    UnsupportedKey {
        /// The key type found.
        key_type: KeyType,
    },
    /// An RSA key shorter than 2048 bits.
    #[error("RSA key too weak: {bits} bits, at least 2048 required")]
    WeakKey {
        /// The modulus length in bits.
        bits: u32,
    },
    /// The backend refused a key that parsed (for example an EC point not on its curve).
    #[error("key rejected by the {backend} backend")]
    KeyRejected {
        /// The backend's name.
        backend: &'static str,
    },
    /// Generating a key pair failed.
    #[error("key generation failed")]
    Generate,
    /// Generating a certificate failed.
    #[error("certificate generation failed")]
    CertificateGeneration,
    /// The certificate is signed with an algorithm (or issuer key) this crate cannot check.
    #[error("unsupported certificate signature algorithm")]
    UnsupportedIssuerAlgorithm,
    /// The certificate's signature does not verify with the issuer's public key.
    #[error("certificate signature does not verify with the issuer key")]
    IssuerSignature,
}

/// A signature failed to verify, or a signer failed to sign.
///
/// Deliberately opaque: callers learn that a signature is invalid, never why the mathematics failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature does not verify (wrong key, altered message, malformed signature).
    #[error("signature invalid")]
    Invalid,
    /// The signer could not produce a signature (an HSM offline, a backend failure).
    #[error("signing failed")]
    Sign,
}
