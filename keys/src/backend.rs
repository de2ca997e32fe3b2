//! Signing and verifying keys behind two small traits, and the two backends that implement them.

#[cfg(not(any(feature = "aws-lc", feature = "rust-crypto")))]
compile_error!("the keys crate needs a backend: enable feature `aws-lc` or `rust-crypto`");

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod pkcs8;
#[cfg(feature = "rust-crypto")]
mod rust_crypto;

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::SignatureAlgorithm;
use crate::certificate::{CertSignatureAlgorithm, Certificate, KeyType};
use crate::error::{KeyError, SignatureError};

/// A public key ready to check signatures of one algorithm.
///
/// Made once per key by [`Backend::verifying_key`]; each call to [`VerifyingKey::verify`] does only the
/// signature arithmetic.
pub trait VerifyingKey: Send + Sync + fmt::Debug {
    /// The one algorithm this key verifies.
    fn algorithm(&self) -> SignatureAlgorithm;

    /// Checks `signature` over `message`.
    ///
    /// ES256 signatures are raw `r‖s`, exactly 64 bytes (any other length is invalid); the high-S twin
    /// `(r, n−s)` of a valid signature is valid too, in both backends. PS256 is RSASSA-PSS with SHA-256,
    /// MGF1-SHA-256 and a salt of exactly 32 bytes (RFC 8230): both backends refuse other salt lengths.
    /// EdDSA is Ed25519.
    ///
    /// # Errors
    /// [`SignatureError::Invalid`] if the signature does not verify, whatever the reason.
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError>;
}

/// Something that signs with a private key it holds: a [`SigningKey`] in memory, or a hardware module.
pub trait Signer: Send + Sync {
    /// The one algorithm this signer produces.
    fn algorithm(&self) -> SignatureAlgorithm;

    /// Signs `message`: ES256 as raw `r‖s` (64 bytes), PS256 with a 32-byte salt, EdDSA as Ed25519.
    ///
    /// # Errors
    /// [`SignatureError::Sign`] if no signature could be made.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError>;
}

/// A cryptographic backend. Both produce and accept the same bytes: keys, signatures and PKCS#8 move
/// freely between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// AWS-LC through `aws-lc-rs` (feature `aws-lc`, the default).
    #[cfg(feature = "aws-lc")]
    AwsLc,
    /// The pure-Rust RustCrypto crates `p256`, `rsa` and `ed25519-dalek` (feature `rust-crypto`).
    #[cfg(feature = "rust-crypto")]
    RustCrypto,
}

impl Default for Backend {
    /// AWS-LC when compiled in, else RustCrypto.
    fn default() -> Backend {
        #[cfg(feature = "aws-lc")]
        return Backend::AwsLc;
        #[cfg(not(feature = "aws-lc"))]
        return Backend::RustCrypto;
    }
}

impl Backend {
    /// Every backend compiled in, the default first.
    pub fn all() -> &'static [Backend] {
        &[
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc,
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto,
        ]
    }

    /// A short name for reports and benchmarks: `"aws-lc"` or `"rust-crypto"`.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => "aws-lc",
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => "rust-crypto",
        }
    }

    /// The verifying key of a certificate, prepared once. The algorithm follows from the key type:
    /// P-256 → ES256, RSA 2048-8192 bits → PS256, Ed25519 → EdDSA.
    ///
    /// # Errors
    /// [`KeyError::WeakKey`] for RSA under 2048 bits, [`KeyError::UnsupportedKey`] for any other key type,
    /// [`KeyError::KeyRejected`] if the backend refuses the key.
    pub fn verifying_key(
        self,
        certificate: &Certificate,
    ) -> Result<Arc<dyn VerifyingKey>, KeyError> {
        self.prepare(certificate.key_type(), certificate.spki_der())
    }

    /// The verifying key of a SubjectPublicKeyInfo (DER), as [`Backend::verifying_key`].
    ///
    /// # Errors
    /// [`KeyError::Malformed`] if the bytes are not one SubjectPublicKeyInfo; else as
    /// [`Backend::verifying_key`].
    pub fn verifying_key_from_spki(
        self,
        spki_der: &[u8],
    ) -> Result<Arc<dyn VerifyingKey>, KeyError> {
        self.prepare(KeyType::of_spki(spki_der)?, spki_der)
    }

    fn prepare(
        self,
        key_type: KeyType,
        spki_der: &[u8],
    ) -> Result<Arc<dyn VerifyingKey>, KeyError> {
        let algorithm = algorithm_for(key_type)?;
        match self {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => aws_lc::verifying_key(algorithm, spki_der),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::verifying_key(algorithm, spki_der),
        }
    }
}

/// The one algorithm a key type is used with, refusing weak and unsupported keys.
pub(crate) fn algorithm_for(key_type: KeyType) -> Result<SignatureAlgorithm, KeyError> {
    match key_type {
        KeyType::P256 => Ok(SignatureAlgorithm::Es256),
        KeyType::Rsa { bits } if bits < MIN_RSA_BITS => Err(KeyError::WeakKey { bits }),
        KeyType::Rsa { bits } if bits <= MAX_RSA_BITS => Ok(SignatureAlgorithm::Ps256),
        KeyType::Ed25519 => Ok(SignatureAlgorithm::EdDsa),
        other => Err(KeyError::UnsupportedKey { key_type: other }),
    }
}

const MIN_RSA_BITS: u32 = 2048;
const MAX_RSA_BITS: u32 = 8192;

/// Checks a certificate signature (`signature` over `tbs`) with the issuer's key.
pub(crate) fn verify_certificate_signature(
    backend: Backend,
    algorithm: CertSignatureAlgorithm,
    issuer_key_type: KeyType,
    issuer_spki: &[u8],
    tbs: &[u8],
    signature: &[u8],
) -> Result<(), KeyError> {
    if let KeyType::Rsa { bits } = issuer_key_type {
        if bits < MIN_RSA_BITS {
            return Err(KeyError::WeakKey { bits });
        }
        if bits > MAX_RSA_BITS {
            return Err(KeyError::UnsupportedIssuerAlgorithm);
        }
    }
    match backend {
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc => aws_lc::verify_certificate_signature(
            algorithm,
            issuer_key_type,
            issuer_spki,
            tbs,
            signature,
        ),
        #[cfg(feature = "rust-crypto")]
        Backend::RustCrypto => rust_crypto::verify_certificate_signature(
            algorithm,
            issuer_key_type,
            issuer_spki,
            tbs,
            signature,
        ),
    }
}

/// A private key in memory, for one algorithm: ES256 (P-256), PS256 (RSA ≥ 2048) or EdDSA (Ed25519).
///
/// Not `Clone`; `Debug` prints only the algorithm; the PKCS#8 bytes it keeps are zeroized on drop, and so
/// are the backends' own copies of the key.
pub struct SigningKey {
    algorithm: SignatureAlgorithm,
    backend: Backend,
    pkcs8: Zeroizing<Vec<u8>>,
    spki: Vec<u8>,
    inner: PrivateKey,
}

enum PrivateKey {
    #[cfg(feature = "aws-lc")]
    AwsLc(aws_lc::PrivateKey),
    #[cfg(feature = "rust-crypto")]
    RustCrypto(Box<rust_crypto::PrivateKey>),
}

impl SigningKey {
    /// Generates a new key for `algorithm` (RSA 2048 bits for PS256) with `backend`.
    ///
    /// RSA generation by the RustCrypto backend is slow (seconds, in a debug build minutes); keys move
    /// between backends through [`SigningKey::to_pkcs8_der`].
    ///
    /// # Errors
    /// [`KeyError::Generate`] if the backend fails.
    pub fn generate(
        backend: Backend,
        algorithm: SignatureAlgorithm,
    ) -> Result<SigningKey, KeyError> {
        let pkcs8 = match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => aws_lc::generate_pkcs8(algorithm)?,
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::generate_pkcs8(algorithm)?,
        };
        SigningKey::from_pkcs8_der(backend, &pkcs8)
    }

    /// Loads an unencrypted PKCS#8 private key; the algorithm follows from the key as for
    /// [`Backend::verifying_key`].
    ///
    /// # Errors
    /// [`KeyError::Malformed`] if the bytes are not PKCS#8; [`KeyError::WeakKey`] or
    /// [`KeyError::UnsupportedKey`] for keys of no supported algorithm; [`KeyError::KeyRejected`] if the
    /// backend refuses the key.
    pub fn from_pkcs8_der(backend: Backend, der: &[u8]) -> Result<SigningKey, KeyError> {
        let algorithm = algorithm_for(pkcs8::key_type(der)?)?;
        let (inner, spki) = match backend {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => {
                let key = aws_lc::PrivateKey::from_pkcs8(algorithm, der)?;
                let spki = key.spki()?;
                (PrivateKey::AwsLc(key), spki)
            }
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => {
                let key = rust_crypto::PrivateKey::from_pkcs8(algorithm, der)?;
                let spki = key.spki()?;
                (PrivateKey::RustCrypto(Box::new(key)), spki)
            }
        };
        Ok(SigningKey {
            algorithm,
            backend,
            pkcs8: Zeroizing::new(der.to_vec()),
            spki,
            inner,
        })
    }

    /// The key as unencrypted PKCS#8 DER, zeroized when dropped. Handle as a secret.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The public key as a SubjectPublicKeyInfo (DER), for a certificate or
    /// [`Backend::verifying_key_from_spki`].
    pub fn public_key_spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The backend that holds the key.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Signer for SigningKey {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        match &self.inner {
            #[cfg(feature = "aws-lc")]
            PrivateKey::AwsLc(key) => key.sign(message),
            #[cfg(feature = "rust-crypto")]
            PrivateKey::RustCrypto(key) => key.sign(message),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &format_args!("{}", self.algorithm.name()))
            .field("key", &format_args!("[redacted]"))
            .finish()
    }
}
