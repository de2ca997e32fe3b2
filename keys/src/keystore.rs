//! The country's encrypted keystore: the CSCA, its DSCs and the trust-list signing key, as a pure
//! in-memory model that (de)serialises to named files. The caller reads and writes the files.
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

use std::fmt;

use base64::Engine as _;
use pkcs8::der::Encode as _;
use pkcs8::pkcs5::{self, pbes2};
use pkcs8::{EncryptedPrivateKeyInfo, SecretDocument};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::SignatureAlgorithm;
use crate::backend::{Backend, SigningKey};
use crate::ceremony::{
    self, CSCA_SIGNING_PERIOD_S, CSCA_VALIDITY_S, DSC_SIGNING_PERIOD_S, DSC_VALIDITY_S, DscRequest,
};
use crate::certificate::{Certificate, KeyType};
use crate::error::KeyError;
use crate::kid::Kid;
use crate::usage::CertKind;

/// The validity of a health certificate when the caller has no other policy: 365 days (`exp` = `iat` +
/// 365 days, the Ministry's 12 months, domain.md).
pub const DEFAULT_CERTIFICATE_VALIDITY_S: i64 = 365 * 86_400;

/// The name of the index file, written last.
pub const INDEX_FILE: &str = "keystore.json";

const FORMAT: &str = "vaxcert-keystore/1";
const CSCA_CERTIFICATE_FILE: &str = "csca.pem";
const CSCA_KEY_FILE: &str = "csca.key.p8";
const TRUST_LIST_SIGNER_PUBLIC_FILE: &str = "trust-list-signer.pub.pem";
const TRUST_LIST_SIGNER_KEY_FILE: &str = "trust-list-signer.key.p8";
const ENCRYPTED_KEY_PEM: &str = "ENCRYPTED PRIVATE KEY";
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

/// The keystore passphrase: a secret, zeroized on drop, `[redacted]` in `Debug`, never in an error.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// The fewest characters a passphrase may have.
    pub const MIN_CHARS: usize = 12;

    /// Takes a passphrase.
    ///
    /// # Errors
    /// [`KeystoreError::WeakPassphrase`] if it is shorter than [`Passphrase::MIN_CHARS`] characters.
    pub fn new(passphrase: impl Into<String>) -> Result<Passphrase, KeystoreError> {
        let passphrase = Zeroizing::new(passphrase.into());
        if passphrase.chars().count() < Passphrase::MIN_CHARS {
            return Err(KeystoreError::WeakPassphrase {
                min: Passphrase::MIN_CHARS,
            });
        }
        Ok(Passphrase(passphrase))
    }

    /// Takes a passphrase from the bytes of a passphrase file: UTF-8, one trailing line break (`\n` or
    /// `\r\n`) removed. The bytes are zeroized.
    ///
    /// # Errors
    /// [`KeystoreError::PassphraseEncoding`] if not UTF-8; else as [`Passphrase::new`].
    pub fn from_file_contents(contents: Vec<u8>) -> Result<Passphrase, KeystoreError> {
        let contents = Zeroizing::new(contents);
        let text = std::str::from_utf8(&contents).map_err(|_| KeystoreError::PassphraseEncoding)?;
        let text = text
            .strip_suffix('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .unwrap_or(text);
        Passphrase::new(text)
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase([redacted])")
    }
}

/// The scrypt cost with which private keys are encrypted.
///
/// Bounded both ways, when encrypting and when decrypting: `N` = 2^14 to 2^20, `r` 1 to 32, `p` 1 to 16,
/// and at most 1 GiB of memory (128·r·N bytes), so that a tampered key file can neither weaken new keys
/// nor make opening one exhaust the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kdf {
    log_n: u8,
    r: u32,
    p: u32,
}

impl Kdf {
    /// scrypt N = 2^14, r = 8, p = 5 (16 MiB): one of the OWASP password-storage cheat sheet's
    /// equivalent scrypt settings (as costly as N = 2^17, p = 1), chosen because OpenSSL refuses to
    /// decrypt PKCS#8 needing more than 32 MiB: `openssl pkcs8` can read these keys (say, to move them
    /// into an HSM).
    pub const RECOMMENDED: Kdf = Kdf {
        log_n: 14,
        r: 8,
        p: 5,
    };

    /// scrypt N = 2^14, r = 8, p = 1 (16 MiB): the cheapest allowed, RFC 7914's interactive-login
    /// example. For tests.
    pub const MINIMUM: Kdf = Kdf {
        log_n: 14,
        r: 8,
        p: 1,
    };

    /// scrypt with N = 2^`log_n`, block size `r` and parallelism `p`.
    ///
    /// # Errors
    /// [`KeystoreError::Kdf`] outside the bounds given on [`Kdf`].
    pub fn scrypt(log_n: u8, r: u32, p: u32) -> Result<Kdf, KeystoreError> {
        let reason = if !(14..=20).contains(&log_n) {
            "scrypt N must be 2^14 to 2^20"
        } else if !(1..=32).contains(&r) {
            "scrypt r must be 1 to 32"
        } else if !(1..=16).contains(&p) {
            "scrypt p must be 1 to 16"
        } else if 128 * u64::from(r) * (1u64 << log_n) > 1 << 30 {
            "scrypt memory (128·r·N) must be at most 1 GiB"
        } else {
            return Ok(Kdf { log_n, r, p });
        };
        Err(KeystoreError::Kdf { reason })
    }

    /// log2 of the scrypt cost parameter N.
    pub fn log_n(self) -> u8 {
        self.log_n
    }

    /// The scrypt block size r.
    pub fn r(self) -> u32 {
        self.r
    }

    /// The scrypt parallelism p.
    pub fn p(self) -> u32 {
        self.p
    }
}

impl Default for Kdf {
    /// [`Kdf::RECOMMENDED`].
    fn default() -> Kdf {
        Kdf::RECOMMENDED
    }
}

/// A private key encrypted as PKCS#8 `EncryptedPrivateKeyInfo`: PBES2, scrypt, AES-256-CBC.
///
/// Holds only ciphertext; `Debug` shows its size and scrypt cost.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedKey {
    der: Vec<u8>,
    kdf: Kdf,
}

impl EncryptedKey {
    /// Encrypts `key` under `passphrase`, with a fresh random salt and IV.
    ///
    /// # Errors
    /// [`KeystoreError::Random`] without randomness; [`KeystoreError::Encrypt`] if encryption fails.
    pub fn encrypt(
        key: &SigningKey,
        passphrase: &Passphrase,
        kdf: Kdf,
    ) -> Result<EncryptedKey, KeystoreError> {
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| KeystoreError::Random)?;
        getrandom::fill(&mut iv).map_err(|_| KeystoreError::Random)?;
        let scrypt = pkcs5::scrypt::Params::new(
            kdf.log_n,
            kdf.r,
            kdf.p,
            pkcs5::scrypt::Params::RECOMMENDED_LEN,
        )
        .map_err(|_| KeystoreError::Encrypt)?;
        let parameters = pbes2::Parameters::scrypt_aes256cbc(scrypt, &salt, &iv)
            .map_err(|_| KeystoreError::Encrypt)?;
        let plaintext = key.to_pkcs8_der();
        let ciphertext = parameters
            .encrypt(passphrase.as_bytes(), &plaintext)
            .map_err(|_| KeystoreError::Encrypt)?;
        let der = EncryptedPrivateKeyInfo {
            encryption_algorithm: parameters.into(),
            encrypted_data: &ciphertext,
        }
        .to_der()
        .map_err(|_| KeystoreError::Encrypt)?;
        Ok(EncryptedKey { der, kdf })
    }

    /// Reads an `EncryptedPrivateKeyInfo` (DER), checking that it uses PBES2 with scrypt within
    /// [`Kdf`]'s bounds and AES-256-CBC. Nothing is decrypted.
    ///
    /// # Errors
    /// [`KeystoreError::EncryptedKey`] for anything else; [`KeystoreError::Kdf`] for scrypt parameters
    /// out of bounds.
    pub fn from_der(der: &[u8]) -> Result<EncryptedKey, KeystoreError> {
        let info =
            EncryptedPrivateKeyInfo::try_from(der).map_err(|_| KeystoreError::EncryptedKey {
                reason: "not a PKCS#8 EncryptedPrivateKeyInfo",
            })?;
        let pkcs5::EncryptionScheme::Pbes2(parameters) = info.encryption_algorithm else {
            return Err(KeystoreError::EncryptedKey {
                reason: "not PBES2",
            });
        };
        let pbes2::Kdf::Scrypt(scrypt) = parameters.kdf else {
            return Err(KeystoreError::EncryptedKey {
                reason: "key derivation is not scrypt",
            });
        };
        if !matches!(
            parameters.encryption,
            pbes2::EncryptionScheme::Aes256Cbc { .. }
        ) {
            return Err(KeystoreError::EncryptedKey {
                reason: "cipher is not AES-256-CBC",
            });
        }
        if scrypt.key_length.is_some_and(|length| length != 32) {
            return Err(KeystoreError::EncryptedKey {
                reason: "scrypt key length is not 32 bytes",
            });
        }
        let n = scrypt.cost_parameter;
        if !n.is_power_of_two() {
            return Err(KeystoreError::Kdf {
                reason: "scrypt N must be a power of two",
            });
        }
        let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| KeystoreError::Kdf {
            reason: "scrypt N must be 2^14 to 2^20",
        })?;
        let kdf = Kdf::scrypt(
            log_n,
            u32::from(scrypt.block_size),
            u32::from(scrypt.parallelization),
        )?;
        Ok(EncryptedKey {
            der: der.to_vec(),
            kdf,
        })
    }

    /// Reads a PEM `ENCRYPTED PRIVATE KEY` block, then as [`EncryptedKey::from_der`].
    ///
    /// # Errors
    /// [`KeystoreError::EncryptedKey`] without such a block; else as [`EncryptedKey::from_der`].
    pub fn from_pem(text: &str) -> Result<EncryptedKey, KeystoreError> {
        match pem::parse(text) {
            Ok(block) if block.tag() == ENCRYPTED_KEY_PEM => {
                EncryptedKey::from_der(block.contents())
            }
            _ => Err(KeystoreError::EncryptedKey {
                reason: "no PEM ENCRYPTED PRIVATE KEY block",
            }),
        }
    }

    /// The `EncryptedPrivateKeyInfo` DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM `ENCRYPTED PRIVATE KEY` text (LF line endings).
    pub fn to_pem(&self) -> String {
        pem_text(ENCRYPTED_KEY_PEM, &self.der)
    }

    /// The scrypt cost it was encrypted with.
    pub fn kdf(&self) -> Kdf {
        self.kdf
    }

    /// Decrypts the key into `backend`. The plaintext PKCS#8 is zeroized once loaded.
    ///
    /// # Errors
    /// [`KeystoreError::WrongPassphrase`] (naming the key by `role`) if the passphrase does not decrypt
    /// it; [`KeystoreError::Key`] if the decrypted key cannot be loaded.
    pub fn decrypt(
        &self,
        backend: Backend,
        passphrase: &Passphrase,
        role: &str,
    ) -> Result<SigningKey, KeystoreError> {
        let wrong = || KeystoreError::WrongPassphrase {
            role: role.to_owned(),
        };
        let info = EncryptedPrivateKeyInfo::try_from(self.der.as_slice()).map_err(|_| {
            KeystoreError::EncryptedKey {
                reason: "not a PKCS#8 EncryptedPrivateKeyInfo",
            }
        })?;
        // AES-CBC without authentication: a wrong passphrase shows as bad padding or, rarely, as
        // plaintext that is not PKCS#8; both mean the same to the user.
        let document: SecretDocument = info.decrypt(passphrase.as_bytes()).map_err(|_| wrong())?;
        SigningKey::from_pkcs8_der(backend, document.as_bytes()).map_err(|_| wrong())
    }

    /// Decrypts the key and checks that its public key is `expected_spki` (DER).
    fn open(
        &self,
        backend: Backend,
        passphrase: &Passphrase,
        role: &str,
        expected_spki: &[u8],
    ) -> Result<SigningKey, KeystoreError> {
        let key = self.decrypt(backend, passphrase, role)?;
        if ceremony::public_key_bits(&key.public_key_spki_der())?
            != ceremony::public_key_bits(expected_spki)?
        {
            return Err(KeystoreError::KeyMismatch {
                role: role.to_owned(),
            });
        }
        Ok(key)
    }
}

impl fmt::Debug for EncryptedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedKey")
            .field("scheme", &format_args!("PBES2 scrypt AES-256-CBC"))
            .field("kdf", &self.kdf)
            .field("bytes", &self.der.len())
            .finish()
    }
}

/// Whether a keystore file holds a secret: the caller writes secrets readable by the owner only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// An encrypted private key: owner-only (0600).
    Secret,
    /// A certificate, public key or the index: world-readable is fine (0644).
    Public,
}

/// One file of a keystore, as [`Keystore::to_files`] lays it out.
#[derive(Clone, PartialEq, Eq)]
pub struct KeystoreFile {
    /// A plain file name, relative to the keystore directory (no path separator).
    pub name: String,
    /// The file's bytes.
    pub contents: Vec<u8>,
    /// Secret or public.
    pub kind: FileKind,
}

impl fmt::Debug for KeystoreFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreFile")
            .field("name", &self.name)
            .field("bytes", &self.contents.len())
            .field("kind", &self.kind)
            .finish()
    }
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
    pub fn init(
        country: &str,
        algorithm: SignatureAlgorithm,
        now: i64,
        passphrase: &Passphrase,
        backend: Backend,
    ) -> Result<Keystore, KeystoreError> {
        Keystore::init_with_kdf(
            country,
            algorithm,
            now,
            passphrase,
            backend,
            Kdf::RECOMMENDED,
        )
    }

    /// As [`Keystore::init`], encrypting with `kdf`, which later rotations keep.
    ///
    /// # Errors
    /// As [`Keystore::init`].
    pub fn init_with_kdf(
        country: &str,
        algorithm: SignatureAlgorithm,
        now: i64,
        passphrase: &Passphrase,
        backend: Backend,
        kdf: Kdf,
    ) -> Result<Keystore, KeystoreError> {
        dsc_algorithm(algorithm)?;
        let csca_key = SigningKey::generate(backend, SignatureAlgorithm::Es256)?;
        let csca = ceremony::issue_csca(
            country,
            &format!("VaxCert CSCA {country}"),
            &csca_key,
            now,
            now.saturating_add(CSCA_VALIDITY_S),
        )?;
        let current = new_dsc(
            &csca, &csca_key, country, 1, algorithm, now, passphrase, kdf,
        )?;
        let trust_list_signer = SigningKey::generate(backend, SignatureAlgorithm::Es256)?;
        Ok(Keystore {
            country: country.to_owned(),
            backend,
            kdf,
            csca_key: EncryptedKey::encrypt(&csca_key, passphrase, kdf)?,
            csca,
            trust_list_signer_spki: trust_list_signer.public_key_spki_der(),
            trust_list_signer_key: EncryptedKey::encrypt(&trust_list_signer, passphrase, kdf)?,
            retired: Vec::new(),
            current,
        })
    }

    /// Issues a new current DSC signing with `algorithm` at `now` and retires the current one at `now`.
    /// The new DSC is valid [`DSC_VALIDITY_S`], cut at the CSCA's notAfter. On error nothing changes.
    ///
    /// # Errors
    /// [`KeystoreError::WrongPassphrase`] if `passphrase` does not open the CSCA key;
    /// [`KeystoreError::ClockBeforeCurrentDsc`] if `now` is before the current DSC's notBefore;
    /// [`KeystoreError::CscaExpired`] once the CSCA has expired; [`KeystoreError::KidCollision`] (retry);
    /// else as [`Keystore::init`].
    pub fn rotate(
        &mut self,
        now: i64,
        passphrase: &Passphrase,
        algorithm: SignatureAlgorithm,
    ) -> Result<&DscRecord, KeystoreError> {
        dsc_algorithm(algorithm)?;
        let not_before = self.current.certificate.not_before();
        if now < not_before {
            return Err(KeystoreError::ClockBeforeCurrentDsc { now, not_before });
        }
        let csca_key = self.csca_signer(passphrase)?;
        let sequence = self.retired.len() + 2;
        let next = new_dsc(
            &self.csca,
            &csca_key,
            &self.country,
            sequence,
            algorithm,
            now,
            passphrase,
            self.kdf,
        )?;
        if self.dscs().any(|record| record.kid() == next.kid()) {
            return Err(KeystoreError::KidCollision);
        }
        let mut previous = std::mem::replace(&mut self.current, next);
        previous.state = DscState::Retired { retired_at: now };
        self.retired.push(previous);
        Ok(&self.current)
    }

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

    /// The DSCs the trust list must carry at `now` when health certificates are valid for
    /// `certificate_validity_s`: those with [`DscRecord::is_listed`], oldest first.
    pub fn listed_dscs(&self, now: i64, certificate_validity_s: i64) -> Vec<&DscRecord> {
        self.dscs()
            .filter(|record| record.is_listed(now, certificate_validity_s))
            .collect()
    }

    /// When the current DSC must be rotated: [`DSC_SIGNING_PERIOD_S`] after its notBefore, or earlier if
    /// its notAfter minus `certificate_validity_s` comes first (after that, a certificate valid for
    /// `certificate_validity_s` would outlive the DSC, breaking the shell model).
    pub fn rotate_by(&self, certificate_validity_s: i64) -> i64 {
        let certificate = &self.current.certificate;
        certificate
            .not_before()
            .saturating_add(DSC_SIGNING_PERIOD_S)
            .min(
                certificate
                    .not_after()
                    .saturating_sub(certificate_validity_s),
            )
    }

    /// `Some(`[`Keystore::rotate_by`]`)` once `now` has reached it: the current DSC is due for rotation.
    pub fn rotation_due(&self, now: i64, certificate_validity_s: i64) -> Option<i64> {
        let deadline = self.rotate_by(certificate_validity_s);
        (now >= deadline).then_some(deadline)
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

    /// The keystore as files, the index ([`INDEX_FILE`]) last: write them in this order, each
    /// atomically, so that an interrupted write leaves the previous index valid.
    ///
    /// # Errors
    /// [`KeystoreError::InvalidFile`] if the index cannot be serialised (never in practice).
    pub fn to_files(&self) -> Result<Vec<KeystoreFile>, KeystoreError> {
        let public = |name: &str, contents: String| KeystoreFile {
            name: name.to_owned(),
            contents: contents.into_bytes(),
            kind: FileKind::Public,
        };
        let secret = |name: &str, key: &EncryptedKey| KeystoreFile {
            name: name.to_owned(),
            contents: key.to_pem().into_bytes(),
            kind: FileKind::Secret,
        };
        let mut files = vec![
            public(
                CSCA_CERTIFICATE_FILE,
                pem_text("CERTIFICATE", self.csca.der()),
            ),
            secret(CSCA_KEY_FILE, &self.csca_key),
            public(
                TRUST_LIST_SIGNER_PUBLIC_FILE,
                pem_text("PUBLIC KEY", &self.trust_list_signer_spki),
            ),
            secret(TRUST_LIST_SIGNER_KEY_FILE, &self.trust_list_signer_key),
        ];
        let mut index_dscs = Vec::new();
        for record in self.dscs() {
            let stem = record.file_stem();
            let certificate = format!("{stem}.pem");
            let key = format!("{stem}.key.p8");
            files.push(public(
                &certificate,
                pem_text("CERTIFICATE", record.certificate.der()),
            ));
            files.push(secret(&key, &record.key));
            let (state, retired_at) = match record.state {
                DscState::Current => ("current", None),
                DscState::Retired { retired_at } => ("retired", Some(retired_at)),
            };
            index_dscs.push(IndexDsc {
                kid: record.kid().to_string(),
                algorithm: record.algorithm.name().to_owned(),
                state: state.to_owned(),
                retired_at,
                certificate,
                key,
            });
        }
        let index = Index {
            format: FORMAT.to_owned(),
            country: self.country.clone(),
            csca: IndexCsca {
                certificate: CSCA_CERTIFICATE_FILE.to_owned(),
                key: CSCA_KEY_FILE.to_owned(),
            },
            trust_list_signer: IndexTrustListSigner {
                algorithm: SignatureAlgorithm::Es256.name().to_owned(),
                pin_sha256: self.trust_list_signer_pin(),
                public_key: TRUST_LIST_SIGNER_PUBLIC_FILE.to_owned(),
                key: TRUST_LIST_SIGNER_KEY_FILE.to_owned(),
            },
            dscs: index_dscs,
        };
        let mut json = serde_json::to_vec_pretty(&index)
            .map_err(|_| invalid(INDEX_FILE, "cannot serialise"))?;
        json.push(b'\n');
        files.push(KeystoreFile {
            name: INDEX_FILE.to_owned(),
            contents: json,
            kind: FileKind::Public,
        });
        Ok(files)
    }

    /// Reads a keystore written by [`Keystore::to_files`]: `read(name)` returns a file's bytes, `None` if
    /// it does not exist. Keys will be decrypted into `backend`; new keys encrypted with the CSCA key's
    /// scrypt cost. Nothing is decrypted here.
    ///
    /// Checked: the index's format and file names (plain names only), the CSCA (self-signed, CA with
    /// keyCertSign, subject `C` = the country), every DSC (kid as indexed, issued by the CSCA, AKI = the
    /// CSCA's SKI, subject `C` = the country, key type fitting its algorithm), exactly one current DSC,
    /// no duplicate kid, the trust-list signer (P-256, pin as indexed), and every encrypted key's scheme.
    ///
    /// # Errors
    /// [`KeystoreError::MissingFile`] or [`KeystoreError::InvalidFile`] naming the first file at fault.
    pub fn from_files(
        backend: Backend,
        mut read: impl FnMut(&str) -> Option<Vec<u8>>,
    ) -> Result<Keystore, KeystoreError> {
        let mut load = |name: &str| -> Result<Vec<u8>, KeystoreError> {
            if !is_plain_name(name) {
                return Err(invalid(INDEX_FILE, "a file name is not a plain name"));
            }
            read(name).ok_or_else(|| KeystoreError::MissingFile {
                name: name.to_owned(),
            })
        };
        let index: Index = serde_json::from_slice(&load(INDEX_FILE)?)
            .map_err(|_| invalid(INDEX_FILE, "not a keystore index"))?;
        if index.format != FORMAT {
            return Err(invalid(INDEX_FILE, "unknown format"));
        }
        let country = index.country;

        let csca = certificate_file(&index.csca.certificate, &load(&index.csca.certificate)?)?;
        let csca_fault = |reason: &str| invalid(&index.csca.certificate, reason);
        if !csca.is_ca() || !csca.can_sign_certificates() || csca.subject_key_id().is_none() {
            return Err(csca_fault(
                "not a CA certificate with keyCertSign and a subject key identifier",
            ));
        }
        if csca.subject_country() != Some(country.as_str()) {
            return Err(csca_fault("subject country is not the keystore's"));
        }
        csca.verify_issued_by(&csca, backend)
            .map_err(|_| csca_fault("not self-signed"))?;
        let csca_key = key_file(&index.csca.key, &load(&index.csca.key)?)?;

        let signer = &index.trust_list_signer;
        let spki = public_key_file(&signer.public_key, &load(&signer.public_key)?)?;
        if KeyType::of_spki(&spki)? != KeyType::P256
            || signer.algorithm != SignatureAlgorithm::Es256.name()
        {
            return Err(invalid(
                &signer.public_key,
                "the trust-list signing key must be ES256 (P-256)",
            ));
        }
        if spki_pin(&spki) != signer.pin_sha256 {
            return Err(invalid(
                INDEX_FILE,
                "trust-list signer pin does not match its public key",
            ));
        }
        let trust_list_signer_key = key_file(&signer.key, &load(&signer.key)?)?;

        let mut retired = Vec::new();
        let mut current = None;
        for entry in &index.dscs {
            let record = dsc_record(entry, &csca, &country, backend, &mut load)?;
            if retired
                .iter()
                .chain(current.iter())
                .any(|other: &DscRecord| other.kid() == record.kid())
            {
                return Err(invalid(INDEX_FILE, "two DSCs with the same kid"));
            }
            match record.state {
                DscState::Retired { .. } if current.is_none() => retired.push(record),
                DscState::Current if current.is_none() => current = Some(record),
                _ => {
                    return Err(invalid(
                        INDEX_FILE,
                        "the current DSC must be the last, and the only one",
                    ));
                }
            }
        }
        let current = current.ok_or_else(|| invalid(INDEX_FILE, "no current DSC"))?;
        Ok(Keystore {
            country,
            backend,
            kdf: csca_key.kdf(),
            csca,
            csca_key,
            trust_list_signer_spki: spki,
            trust_list_signer_key,
            retired,
            current,
        })
    }
}

/// The pin of a public key: SHA-256 over its SubjectPublicKeyInfo (DER), base64url without padding (the
/// form of RFC 7469's `pin-sha256`, in the URL-safe alphabet).
pub fn spki_pin(spki_der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(spki_der))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    format: String,
    country: String,
    csca: IndexCsca,
    trust_list_signer: IndexTrustListSigner,
    dscs: Vec<IndexDsc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexCsca {
    certificate: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexTrustListSigner {
    algorithm: String,
    pin_sha256: String,
    public_key: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexDsc {
    kid: String,
    algorithm: String,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_at: Option<i64>,
    certificate: String,
    key: String,
}

/// A new current DSC of `country`, number `sequence`, for every kind, encrypted under `passphrase`.
#[allow(
    clippy::too_many_arguments,
    reason = "one private call site per operation"
)]
fn new_dsc(
    csca: &Certificate,
    csca_key: &SigningKey,
    country: &str,
    sequence: usize,
    algorithm: SignatureAlgorithm,
    now: i64,
    passphrase: &Passphrase,
    kdf: Kdf,
) -> Result<DscRecord, KeystoreError> {
    let not_after = now.saturating_add(DSC_VALIDITY_S).min(csca.not_after());
    if not_after <= now {
        return Err(KeystoreError::CscaExpired {
            now,
            not_after: csca.not_after(),
        });
    }
    let key = SigningKey::generate(csca_key.backend(), algorithm)?;
    let spki = key.public_key_spki_der();
    let certificate = ceremony::issue_dsc(
        csca,
        csca_key,
        &DscRequest {
            country,
            common_name: &format!("VaxCert DSC {country} {sequence}"),
            public_key_spki: &spki,
            not_before: now,
            not_after,
            kinds: &CertKind::ALL,
        },
    )?;
    Ok(DscRecord {
        certificate,
        key: EncryptedKey::encrypt(&key, passphrase, kdf)?,
        state: DscState::Current,
        algorithm,
    })
}

fn dsc_algorithm(algorithm: SignatureAlgorithm) -> Result<(), KeystoreError> {
    match algorithm {
        SignatureAlgorithm::Es256 | SignatureAlgorithm::Ps256 => Ok(()),
        other => Err(KeystoreError::UnsupportedAlgorithm { name: other.name() }),
    }
}

fn dsc_record(
    entry: &IndexDsc,
    csca: &Certificate,
    country: &str,
    backend: Backend,
    load: &mut impl FnMut(&str) -> Result<Vec<u8>, KeystoreError>,
) -> Result<DscRecord, KeystoreError> {
    let certificate = certificate_file(&entry.certificate, &load(&entry.certificate)?)?;
    let fault = |reason: &str| invalid(&entry.certificate, reason);
    if certificate.kid().to_string() != entry.kid {
        return Err(fault("its kid is not the indexed one"));
    }
    certificate
        .verify_issued_by(csca, backend)
        .map_err(|_| fault("not issued by the CSCA"))?;
    if certificate.authority_key_id() != csca.subject_key_id() {
        return Err(fault("authority key identifier is not the CSCA's"));
    }
    if certificate.subject_country() != Some(country) {
        return Err(fault("subject country is not the keystore's"));
    }
    let algorithm = match (entry.algorithm.as_str(), certificate.key_type()) {
        ("ES256", KeyType::P256) => SignatureAlgorithm::Es256,
        ("PS256", KeyType::Rsa { bits }) if bits >= 2048 => SignatureAlgorithm::Ps256,
        _ => return Err(fault("key type does not fit the indexed algorithm")),
    };
    let state = match (entry.state.as_str(), entry.retired_at) {
        ("current", None) => DscState::Current,
        ("retired", Some(retired_at)) => DscState::Retired { retired_at },
        _ => {
            return Err(invalid(
                INDEX_FILE,
                "a DSC state is neither current nor retired with a time",
            ));
        }
    };
    Ok(DscRecord {
        certificate,
        key: key_file(&entry.key, &load(&entry.key)?)?,
        state,
        algorithm,
    })
}

fn invalid(name: &str, reason: &str) -> KeystoreError {
    KeystoreError::InvalidFile {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A name without directories, dot-files or unusual characters.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
}

fn text<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str, KeystoreError> {
    std::str::from_utf8(bytes).map_err(|_| invalid(name, "not PEM text"))
}

fn certificate_file(name: &str, bytes: &[u8]) -> Result<Certificate, KeystoreError> {
    Certificate::from_pem(text(name, bytes)?).map_err(|error| invalid(name, &error.to_string()))
}

fn key_file(name: &str, bytes: &[u8]) -> Result<EncryptedKey, KeystoreError> {
    EncryptedKey::from_pem(text(name, bytes)?).map_err(|error| invalid(name, &error.to_string()))
}

fn public_key_file(name: &str, bytes: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    match pem::parse(text(name, bytes)?) {
        Ok(block) if block.tag() == "PUBLIC KEY" => Ok(block.into_contents()),
        _ => Err(invalid(name, "no PEM PUBLIC KEY block")),
    }
}

fn pem_text(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::usage::DscUsage;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const SECRET: &str = "correct horse battery staple";
    const VALIDITY: i64 = DEFAULT_CERTIFICATE_VALIDITY_S;

    fn passphrase() -> Passphrase {
        Passphrase::new(SECRET).unwrap()
    }

    fn keystore(algorithm: SignatureAlgorithm) -> Keystore {
        Keystore::init_with_kdf(
            "VN",
            algorithm,
            NOW,
            &passphrase(),
            Backend::default(),
            Kdf::MINIMUM,
        )
        .unwrap()
    }

    fn files(keystore: &Keystore) -> BTreeMap<String, KeystoreFile> {
        keystore
            .to_files()
            .unwrap()
            .into_iter()
            .map(|file| (file.name.clone(), file))
            .collect()
    }

    fn reload(files: &BTreeMap<String, KeystoreFile>) -> Result<Keystore, KeystoreError> {
        Keystore::from_files(Backend::default(), |name| {
            files.get(name).map(|file| file.contents.clone())
        })
    }

    #[test]
    fn init_round_trips_through_files() {
        let keystore = keystore(SignatureAlgorithm::Es256);
        let files = files(&keystore);
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        let stem = keystore.current_dsc().file_stem();
        let mut expected = vec![
            "csca.key.p8".to_owned(),
            "csca.pem".to_owned(),
            format!("{stem}.key.p8"),
            format!("{stem}.pem"),
            "keystore.json".to_owned(),
            "trust-list-signer.key.p8".to_owned(),
            "trust-list-signer.pub.pem".to_owned(),
        ];
        expected.sort();
        assert_eq!(names, expected);
        assert_eq!(
            keystore.to_files().unwrap().last().unwrap().name,
            INDEX_FILE
        );
        for file in files.values() {
            let secret = file.name.ends_with(".key.p8");
            assert_eq!(file.kind == FileKind::Secret, secret, "{}", file.name);
        }

        let reloaded = reload(&files).unwrap();
        assert_eq!(reloaded.country(), "VN");
        assert_eq!(reloaded.csca(), keystore.csca());
        assert_eq!(reloaded.kdf(), Kdf::MINIMUM);
        assert_eq!(
            reloaded.trust_list_signer_pin(),
            keystore.trust_list_signer_pin()
        );
        assert_eq!(
            reloaded.current_dsc().certificate(),
            keystore.current_dsc().certificate()
        );
        assert_eq!(reloaded.current_dsc().state(), DscState::Current);
        assert_eq!(reloaded.to_files().unwrap(), keystore.to_files().unwrap());

        let signer = reloaded.current_signer(&passphrase()).unwrap();
        assert_eq!(
            signer.public_key_spki_der(),
            keystore.current_dsc().certificate().spki_der()
        );
        let list_signer = reloaded.trust_list_signer(&passphrase()).unwrap();
        assert_eq!(list_signer.algorithm(), SignatureAlgorithm::Es256);
        assert_eq!(
            spki_pin(&list_signer.public_key_spki_der()),
            keystore.trust_list_signer_pin()
        );
    }

    #[test]
    fn issued_certificates_have_the_expected_facts() {
        let keystore = keystore(SignatureAlgorithm::Es256);
        let csca = keystore.csca();
        assert!(csca.is_ca() && csca.can_sign_certificates());
        assert_eq!(csca.path_len(), Some(0));
        assert_eq!(csca.subject_country(), Some("VN"));
        assert_eq!(csca.key_type(), KeyType::P256);
        assert_eq!(csca.not_after() - csca.not_before(), CSCA_VALIDITY_S);
        let dsc = keystore.current_dsc().certificate();
        assert!(!dsc.is_ca() && dsc.can_sign_documents());
        assert_eq!(dsc.authority_key_id(), csca.subject_key_id());
        assert_eq!(dsc.subject_country(), Some("VN"));
        assert_eq!(
            *dsc.usage(),
            DscUsage::Only {
                test: true,
                vaccination: true,
                recovery: true
            }
        );
        assert_eq!(
            (dsc.not_before(), dsc.not_after()),
            (NOW, NOW + DSC_VALIDITY_S)
        );
        dsc.verify_issued_by(csca, Backend::default()).unwrap();
        assert_eq!(
            keystore.current_dsc().algorithm(),
            SignatureAlgorithm::Es256
        );
        assert_eq!(keystore.rotate_by(VALIDITY), NOW + DSC_SIGNING_PERIOD_S);
        assert_eq!(keystore.csca_signing_ends(), NOW + CSCA_SIGNING_PERIOD_S);
    }

    #[test]
    fn wrong_passphrase_is_refused_without_revealing_it() {
        let keystore = keystore(SignatureAlgorithm::Es256);
        let other = Passphrase::new("not the right passphrase").unwrap();
        for error in [
            keystore.current_signer(&other).unwrap_err(),
            keystore.trust_list_signer(&other).unwrap_err(),
            keystore.csca_signer(&other).unwrap_err(),
        ] {
            assert!(
                matches!(error, KeystoreError::WrongPassphrase { .. }),
                "{error:?}"
            );
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(
                    !text.contains("not the right") && !text.contains("horse"),
                    "{text}"
                );
            }
        }
        let mut rotated = keystore;
        assert!(matches!(
            rotated.rotate(NOW + 1, &other, SignatureAlgorithm::Es256),
            Err(KeystoreError::WrongPassphrase { .. })
        ));
        assert_eq!(rotated.dscs().count(), 1);
    }

    #[test]
    fn secrets_never_in_debug_output() {
        let keystore = keystore(SignatureAlgorithm::Es256);
        let secret = passphrase();
        assert_eq!(format!("{secret:?}"), "Passphrase([redacted])");
        let signer = keystore.current_signer(&secret).unwrap();
        let pkcs8 = signer.to_pkcs8_der();
        let debug = format!(
            "{keystore:?} {:?} {signer:?} {:?}",
            keystore.to_files().unwrap(),
            keystore.current_dsc()
        );
        assert!(!debug.contains(SECRET));
        assert!(debug.contains("SigningKey { algorithm: ES256, key: [redacted] }"));
        let encoded = base64::engine::general_purpose::STANDARD.encode(&*pkcs8);
        assert!(!debug.contains(&encoded));
        let hex: String = pkcs8.iter().map(|byte| format!("{byte:02x}")).collect();
        assert!(!debug.contains(&hex));
        assert!(!debug.contains(&format!("{:?}", &pkcs8[pkcs8.len() - 16..])));
    }

    #[test]
    fn key_files_are_encrypted_pkcs8() {
        let keystore = keystore(SignatureAlgorithm::Es256);
        let secret = passphrase();
        let signer = keystore.current_signer(&secret).unwrap();
        let plaintext = signer.to_pkcs8_der();
        for file in keystore.to_files().unwrap() {
            let text = String::from_utf8(file.contents.clone()).unwrap();
            assert!(!text.contains("BEGIN PRIVATE KEY"), "{}", file.name);
            assert!(!text.contains("BEGIN EC PRIVATE KEY"), "{}", file.name);
            assert!(!text.contains(SECRET), "{}", file.name);
            assert!(
                !file
                    .contents
                    .windows(plaintext.len())
                    .any(|window| window == plaintext.as_slice())
            );
            if file.kind == FileKind::Secret {
                assert!(
                    text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
                    "{}",
                    file.name
                );
                let encrypted = EncryptedKey::from_pem(&text).unwrap();
                assert!(
                    !encrypted
                        .der()
                        .windows(plaintext.len())
                        .any(|window| window == plaintext.as_slice())
                );
            }
        }
        // decrypt(encrypt(k)) = k, and two encryptions differ (fresh salt and IV).
        let first = EncryptedKey::encrypt(&signer, &secret, Kdf::MINIMUM).unwrap();
        let second = EncryptedKey::encrypt(&signer, &secret, Kdf::MINIMUM).unwrap();
        assert_ne!(first.der(), second.der());
        for encrypted in [first, second] {
            let round_trip = encrypted
                .decrypt(Backend::default(), &secret, "DSC")
                .unwrap();
            assert_eq!(*round_trip.to_pkcs8_der(), *plaintext);
            assert_eq!(EncryptedKey::from_der(encrypted.der()).unwrap(), encrypted);
        }
    }

    #[test]
    fn rotation_keeps_the_old_dsc_listed_until_its_certificates_expire() {
        let mut keystore = keystore(SignatureAlgorithm::Es256);
        let first = keystore.current_dsc().kid();
        let rotated_at = NOW + DSC_SIGNING_PERIOD_S;
        assert_eq!(keystore.rotation_due(rotated_at - 1, VALIDITY), None);
        assert_eq!(
            keystore.rotation_due(rotated_at, VALIDITY),
            Some(rotated_at)
        );
        assert!(matches!(
            keystore.rotate(NOW - 1, &passphrase(), SignatureAlgorithm::Es256),
            Err(KeystoreError::ClockBeforeCurrentDsc { .. })
        ));
        let second = keystore
            .rotate(rotated_at, &passphrase(), SignatureAlgorithm::Es256)
            .unwrap()
            .kid();
        assert_ne!(first, second);
        let states: Vec<(Kid, DscState)> = keystore
            .dscs()
            .map(|record| (record.kid(), record.state()))
            .collect();
        assert_eq!(
            states,
            [
                (
                    first,
                    DscState::Retired {
                        retired_at: rotated_at
                    }
                ),
                (second, DscState::Current)
            ]
        );
        assert_eq!(
            keystore.rotate_by(VALIDITY),
            rotated_at + DSC_SIGNING_PERIOD_S
        );

        let listed = |at| -> Vec<Kid> {
            keystore
                .listed_dscs(at, VALIDITY)
                .iter()
                .map(|r| r.kid())
                .collect()
        };
        assert_eq!(listed(rotated_at), [first, second]);
        assert_eq!(listed(rotated_at + VALIDITY), [first, second]);
        assert_eq!(listed(rotated_at + VALIDITY + 1), [second]);
        // Capped by notAfter: a validity longer than the DSC's remaining life ends at notAfter.
        let first_record = keystore.dscs().next().unwrap();
        assert_eq!(
            first_record.last_certificate_expiry(10 * DSC_VALIDITY_S),
            NOW + DSC_VALIDITY_S
        );

        // Files round trip with the retired DSC, and the new DSC is issued by the same CSCA.
        let reloaded = reload(&files(&keystore)).unwrap();
        let states: Vec<(Kid, DscState)> = reloaded
            .dscs()
            .map(|record| (record.kid(), record.state()))
            .collect();
        assert_eq!(
            states[0],
            (
                first,
                DscState::Retired {
                    retired_at: rotated_at
                }
            )
        );
        assert_eq!(states[1], (second, DscState::Current));
        reloaded
            .current_dsc()
            .certificate()
            .verify_issued_by(reloaded.csca(), Backend::default())
            .unwrap();
        reloaded.current_signer(&passphrase()).unwrap();
    }

    #[test]
    fn rotation_is_due_early_when_the_dsc_would_be_outlived() {
        let mut keystore = keystore(SignatureAlgorithm::Es256);
        // Near the end of the CSCA, the new DSC is cut at the CSCA's notAfter.
        let late = keystore.csca().not_after() - 200 * 86_400;
        let record = keystore
            .rotate(late, &passphrase(), SignatureAlgorithm::Es256)
            .unwrap();
        assert_eq!(record.certificate().not_after(), late + 200 * 86_400);
        assert_eq!(keystore.rotate_by(VALIDITY), late + 200 * 86_400 - VALIDITY);
        assert!(keystore.rotation_due(late, VALIDITY).is_some());
        let expired = keystore.csca().not_after();
        assert!(matches!(
            keystore.rotate(expired, &passphrase(), SignatureAlgorithm::Es256),
            Err(KeystoreError::CscaExpired { .. })
        ));
    }

    #[test]
    fn ps256_on_request() {
        let mut keystore = keystore(SignatureAlgorithm::Ps256);
        let dsc = keystore.current_dsc();
        assert_eq!(dsc.algorithm(), SignatureAlgorithm::Ps256);
        assert_eq!(dsc.certificate().key_type(), KeyType::Rsa { bits: 2048 });
        assert_eq!(keystore.csca().key_type(), KeyType::P256);
        let signer = keystore.current_signer(&passphrase()).unwrap();
        assert_eq!(signer.algorithm(), SignatureAlgorithm::Ps256);
        keystore
            .rotate(NOW + 10, &passphrase(), SignatureAlgorithm::Es256)
            .unwrap();
        let reloaded = reload(&files(&keystore)).unwrap();
        let algorithms: Vec<_> = reloaded.dscs().map(DscRecord::algorithm).collect();
        assert_eq!(
            algorithms,
            [SignatureAlgorithm::Ps256, SignatureAlgorithm::Es256]
        );
        assert!(matches!(
            Keystore::init(
                "VN",
                SignatureAlgorithm::EdDsa,
                NOW,
                &passphrase(),
                Backend::default()
            ),
            Err(KeystoreError::UnsupportedAlgorithm { .. })
        ));
    }

    #[test]
    fn tampered_files_are_refused() {
        let keystore = keystore(SignatureAlgorithm::Es256);
        let files = files(&keystore);
        let with = |name: &str, contents: Vec<u8>| {
            let mut files = files.clone();
            files.get_mut(name).unwrap().contents = contents;
            reload(&files)
        };
        let index = String::from_utf8(files[INDEX_FILE].contents.clone()).unwrap();
        let dsc_name = format!("{}.pem", keystore.current_dsc().file_stem());

        let mut missing = files.clone();
        missing.remove(&dsc_name);
        assert_eq!(
            reload(&missing).unwrap_err(),
            KeystoreError::MissingFile {
                name: dsc_name.clone()
            }
        );
        assert!(matches!(
            with(INDEX_FILE, b"{}".to_vec()),
            Err(KeystoreError::InvalidFile { .. })
        ));
        let traversal = index.replace("\"csca.pem\"", "\"../csca.pem\"");
        assert!(matches!(
            with(INDEX_FILE, traversal.into_bytes()),
            Err(KeystoreError::InvalidFile { .. })
        ));
        let swapped = index.replace("\"current\"", "\"retired\"");
        assert!(matches!(
            with(INDEX_FILE, swapped.into_bytes()),
            Err(KeystoreError::InvalidFile { .. })
        ));
        // A DSC certificate from another CSCA.
        let foreign = Keystore::init_with_kdf(
            "VN",
            SignatureAlgorithm::Es256,
            NOW,
            &passphrase(),
            Backend::default(),
            Kdf::MINIMUM,
        )
        .unwrap();
        let foreign_pem = pem_text("CERTIFICATE", foreign.current_dsc().certificate().der());
        assert!(matches!(
            with(&dsc_name, foreign_pem.into_bytes()),
            Err(KeystoreError::InvalidFile { .. })
        ));
        // A plaintext key in place of an encrypted one.
        let signer = keystore.current_signer(&passphrase()).unwrap();
        let plaintext = pem_text("PRIVATE KEY", &signer.to_pkcs8_der());
        assert!(matches!(
            with(CSCA_KEY_FILE, plaintext.into_bytes()),
            Err(KeystoreError::InvalidFile { .. })
        ));
        // A swapped key file: opens, but is not the certificate's key.
        let mut swapped_keys = files.clone();
        let tls_key = swapped_keys[TRUST_LIST_SIGNER_KEY_FILE].contents.clone();
        swapped_keys.get_mut(CSCA_KEY_FILE).unwrap().contents = tls_key;
        let reloaded = reload(&swapped_keys).unwrap();
        assert!(matches!(
            reloaded.csca_signer(&passphrase()),
            Err(KeystoreError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn kdf_and_passphrase_bounds() {
        assert!(Kdf::scrypt(13, 8, 1).is_err());
        assert!(Kdf::scrypt(21, 8, 1).is_err());
        assert!(Kdf::scrypt(20, 16, 1).is_err());
        assert_eq!(Kdf::scrypt(14, 8, 5).unwrap(), Kdf::RECOMMENDED);
        assert_eq!(Kdf::default(), Kdf::RECOMMENDED);
        assert!(matches!(
            Passphrase::new("short"),
            Err(KeystoreError::WeakPassphrase { min: 12 })
        ));
        let from_file =
            Passphrase::from_file_contents(format!("{SECRET}\r\n").into_bytes()).unwrap();
        assert_eq!(from_file.as_bytes(), SECRET.as_bytes());
        assert!(matches!(
            Passphrase::from_file_contents(vec![0xff; 20]),
            Err(KeystoreError::PassphraseEncoding)
        ));
    }

    #[test]
    fn pin_is_base64url_sha256_of_spki() {
        assert_eq!(
            spki_pin(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
