//! The country's encrypted keystore: the CSCA, its DSCs and the trust-list signing key, as a pure
//! in-memory model that (de)serialises to named files. The caller reads and writes the files.
//!
//! Three parts: `encryption` (the passphrase, the scrypt cost, encrypted PKCS#8 keys), `lifecycle`
//! (creating the keystore, rotating its DSC, which DSCs are listed when) and `files` (the named files and
//! the checks made reading them back).
//!
//! Private keys exist only as encrypted PKCS#8 (`EncryptedPrivateKeyInfo`, RFC 5958): PBES2 (RFC 8018)
//! with scrypt (RFC 7914) and AES-256-CBC, the form `openssl pkcs8` reads. They are decrypted on demand
//! with a [`Passphrase`] and never written in the clear.
//!
//! Files ([`Keystore::to_files`]), all in one directory:
//!
//! | name | kind | content |
//! |---|---|---|
//! | `keystore.json` | public | the index: country, each DSC's kid, algorithm, state and file names, the trust-list signer's pin |
//! | `csca.pem` | public | the CSCA certificate |
//! | `csca.key.p8` | secret | its private key, PEM `ENCRYPTED PRIVATE KEY` |
//! | `dsc-<kid hex>.pem` | public | a DSC certificate, one per DSC ever issued |
//! | `dsc-<kid hex>.key.p8` | secret | its private key, PEM `ENCRYPTED PRIVATE KEY` |
//! | `trust-list-signer.pub.pem` | public | the trust-list signing key, PEM `PUBLIC KEY` (SPKI) |
//! | `trust-list-signer.key.p8` | secret | its private key, PEM `ENCRYPTED PRIVATE KEY` |
//!
//! Lifecycle (spec-notes §6): a DSC signs for [`DSC_SIGNING_PERIOD_S`] after its notBefore, then
//! [`Keystore::rotate`] retires it; it stays on the trust list ([`Keystore::listed_dscs`]) until the last
//! certificate it may have signed has expired, and never past its notAfter.

mod encryption;
mod files;
mod lifecycle;
#[cfg(test)]
mod tests;

pub use encryption::{EncryptedKey, Kdf, Passphrase};
pub use files::{FileKind, INDEX_FILE, KeystoreFile};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::SignatureAlgorithm;
use crate::backend::{Backend, SigningKey};
use crate::ceremony::CSCA_SIGNING_PERIOD_S;
use crate::certificate::Certificate;
use crate::error::KeyError;
use crate::kid::Kid;

/// The validity of a health certificate when the caller has no other policy: 365 days (`exp` = `iat` +
/// 365 days, the Ministry's 12 months, domain.md).
pub const DEFAULT_CERTIFICATE_VALIDITY_S: i64 = 365 * 86_400;

const CSCA_ROLE: &str = "CSCA";
const TRUST_LIST_SIGNER_ROLE: &str = "trust-list signer";

/// Why a keystore could not be created, read, rotated or opened.
///
/// Messages never contain a passphrase or key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The passphrase does not decrypt this key.
    #[error("wrong passphrase: it does not decrypt the {role} key")]
    WrongPassphrase {
        /// Whose key (`CSCA`, `trust-list signer`, `DSC <kid>`).
        role: String,
    },
    /// A new passphrase shorter than [`Passphrase::MIN_CHARS`].
    #[error("passphrase too short: at least {min} characters required")]
    WeakPassphrase {
        /// The minimum number of characters.
        min: usize,
    },
    /// A passphrase that is not UTF-8 text.
    #[error("passphrase is not UTF-8 text")]
    PassphraseEncoding,
    /// A file the index names (or the index itself) is missing.
    #[error("keystore file {name} is missing")]
    MissingFile {
        /// The file's name.
        name: String,
    },
    /// A file is there but unusable, or disagrees with the rest of the keystore.
    #[error("keystore file {name} is invalid: {reason}")]
    InvalidFile {
        /// The file's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Bytes that are not an encrypted private key this keystore writes: PBES2 with scrypt within
    /// [`Kdf`]'s bounds and AES-256-CBC.
    #[error("invalid encrypted private key: {reason}")]
    EncryptedKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// scrypt parameters outside [`Kdf`]'s bounds.
    #[error("key encryption parameters out of bounds: {reason}")]
    Kdf {
        /// Which bound.
        reason: &'static str,
    },
    /// A decrypted key that is not the key of its certificate (or public key file).
    #[error("the {role} key does not match its certificate")]
    KeyMismatch {
        /// Whose key.
        role: String,
    },
    /// A DSC algorithm other than ES256 or PS256.
    #[error("unsupported DSC algorithm {name}: ES256 or PS256 expected")]
    UnsupportedAlgorithm {
        /// The algorithm's name.
        name: &'static str,
    },
    /// The clock is before the current DSC's notBefore: it cannot be retired then.
    #[error("the clock ({now}) is before the current DSC's notBefore ({not_before})")]
    ClockBeforeCurrentDsc {
        /// The time given.
        now: i64,
        /// The current DSC's notBefore.
        not_before: i64,
    },
    /// The CSCA has expired: it can issue no DSC.
    #[error("the CSCA expired at {not_after}: it can issue no DSC at {now}")]
    CscaExpired {
        /// The time given.
        now: i64,
        /// The CSCA's notAfter.
        not_after: i64,
    },
    /// A new DSC has the kid of one already in the keystore (2^-64 per pair): rotate again.
    #[error("the new DSC's kid collides with an existing DSC; rotate again")]
    KidCollision,
    /// The system's random number generator failed.
    #[error("random number generator unavailable")]
    Random,
    /// Encrypting a private key failed.
    #[error("encrypting a private key failed")]
    Encrypt,
    /// A certificate or key operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Whether a DSC signs, or has been retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DscState {
    /// The DSC that signs new health certificates; a keystore has exactly one.
    Current,
    /// No longer signs; listed until the certificates it signed have expired.
    Retired {
        /// When it stopped signing, in seconds since the Unix epoch.
        retired_at: i64,
    },
}

/// A DSC of the keystore: its certificate, its encrypted key, its state and algorithm.
#[derive(Debug, Clone)]
pub struct DscRecord {
    certificate: Certificate,
    key: EncryptedKey,
    state: DscState,
    algorithm: SignatureAlgorithm,
}

impl DscRecord {
    /// The DSC certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The DSC's kid.
    pub fn kid(&self) -> Kid {
        self.certificate.kid()
    }

    /// The encrypted private key.
    pub fn encrypted_key(&self) -> &EncryptedKey {
        &self.key
    }

    /// Current or retired.
    pub fn state(&self) -> DscState {
        self.state
    }

    /// The algorithm it signs with: ES256 or PS256.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The latest `exp` a health certificate it signed can have, given that certificates are valid for
    /// `certificate_validity_s`: its notAfter while current (the shell model caps `exp` there),
    /// `retired_at + certificate_validity_s` once retired, never past its notAfter.
    pub fn last_certificate_expiry(&self, certificate_validity_s: i64) -> i64 {
        match self.state {
            DscState::Current => self.certificate.not_after(),
            DscState::Retired { retired_at } => retired_at
                .saturating_add(certificate_validity_s)
                .min(self.certificate.not_after()),
        }
    }

    /// Whether the DSC must be on the trust list at `now`: until the second of
    /// [`DscRecord::last_certificate_expiry`] inclusive (a certificate is valid at the second of its
    /// `exp`).
    pub fn is_listed(&self, now: i64, certificate_validity_s: i64) -> bool {
        now <= self.last_certificate_expiry(certificate_validity_s)
    }

    fn file_stem(&self) -> String {
        let hex: String = self
            .kid()
            .as_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("dsc-{hex}")
    }

    fn role(&self) -> String {
        format!("DSC {}", self.kid())
    }
}

/// The keystore: the CSCA, every DSC it issued (oldest first, the current one last) and the trust-list
/// signing key, with their private keys encrypted.
///
/// `Debug` shows certificates and sizes, never key material.
#[derive(Debug)]
pub struct Keystore {
    country: String,
    backend: Backend,
    kdf: Kdf,
    csca: Certificate,
    csca_key: EncryptedKey,
    trust_list_signer_spki: Vec<u8>,
    trust_list_signer_key: EncryptedKey,
    retired: Vec<DscRecord>,
    current: DscRecord,
}

impl Keystore {
    /// Creates a keystore for `country` at `now`: a CSCA (ES256 on P-256, valid [`CSCA_VALIDITY_S`]),
    /// a first DSC signing with `algorithm` (ES256, or PS256 on request; valid [`DSC_VALIDITY_S`],
    /// for every kind of certificate), and an ES256 trust-list signing key that verifiers pin out of band.
    /// Keys are encrypted with [`Kdf::RECOMMENDED`].
    ///
    /// # Errors
    /// [`KeystoreError::UnsupportedAlgorithm`] for an algorithm other than ES256 or PS256;
    /// [`KeystoreError::Key`] for a bad country code or a backend failure; [`KeystoreError::Random`] or
    /// [`KeystoreError::Encrypt`] if encryption fails.
    /// The country (ISO 3166-1 alpha-2).
    pub fn country(&self) -> &str {
        &self.country
    }

    /// The backend keys are decrypted into.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The scrypt cost new keys are encrypted with.
    pub fn kdf(&self) -> Kdf {
        self.kdf
    }

    /// Encrypts keys created from now on with `kdf` (existing files keep theirs).
    pub fn set_kdf(&mut self, kdf: Kdf) {
        self.kdf = kdf;
    }

    /// The CSCA certificate: the trust anchor published beside the DSCs.
    pub fn csca(&self) -> &Certificate {
        &self.csca
    }

    /// The CSCA's encrypted private key.
    pub fn csca_encrypted_key(&self) -> &EncryptedKey {
        &self.csca_key
    }

    /// When the CSCA should stop issuing DSCs and be replaced: [`CSCA_SIGNING_PERIOD_S`] after its
    /// notBefore (spec-notes §6). Advice: [`Keystore::rotate`] still issues DSCs until the CSCA expires.
    pub fn csca_signing_ends(&self) -> i64 {
        self.csca.not_before().saturating_add(CSCA_SIGNING_PERIOD_S)
    }

    /// The trust-list signing key's SubjectPublicKeyInfo (DER): what verifiers pin.
    pub fn trust_list_signer_spki(&self) -> &[u8] {
        &self.trust_list_signer_spki
    }

    /// The pin of the trust-list signing key: [`spki_pin`] of its SubjectPublicKeyInfo.
    pub fn trust_list_signer_pin(&self) -> String {
        spki_pin(&self.trust_list_signer_spki)
    }

    /// Every DSC ever issued, oldest first, the current one last.
    pub fn dscs(&self) -> impl Iterator<Item = &DscRecord> {
        self.retired.iter().chain(std::iter::once(&self.current))
    }

    /// The DSC that signs now.
    pub fn current_dsc(&self) -> &DscRecord {
        &self.current
    }

    /// The current DSC's private key, decrypted, to sign health certificates.
    ///
    /// # Errors
    /// [`KeystoreError::WrongPassphrase`]; [`KeystoreError::KeyMismatch`] if the key file does not hold
    /// the certificate's key.
    pub fn current_signer(&self, passphrase: &Passphrase) -> Result<SigningKey, KeystoreError> {
        self.current.key.open(
            self.backend,
            passphrase,
            &self.current.role(),
            self.current.certificate.spki_der(),
        )
    }

    /// The trust-list signing key, decrypted.
    ///
    /// # Errors
    /// As [`Keystore::current_signer`].
    pub fn trust_list_signer(&self, passphrase: &Passphrase) -> Result<SigningKey, KeystoreError> {
        self.trust_list_signer_key.open(
            self.backend,
            passphrase,
            TRUST_LIST_SIGNER_ROLE,
            &self.trust_list_signer_spki,
        )
    }

    /// The CSCA's private key, decrypted, to issue DSCs.
    ///
    /// # Errors
    /// As [`Keystore::current_signer`].
    pub fn csca_signer(&self, passphrase: &Passphrase) -> Result<SigningKey, KeystoreError> {
        self.csca_key
            .open(self.backend, passphrase, CSCA_ROLE, self.csca.spki_der())
    }
}

/// The pin of a public key: SHA-256 over its SubjectPublicKeyInfo (DER), base64url without padding (the
/// form of RFC 7469's `pin-sha256`, in the URL-safe alphabet).
pub fn spki_pin(spki_der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(spki_der))
}
