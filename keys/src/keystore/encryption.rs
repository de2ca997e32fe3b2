//! Private keys at rest: the passphrase, the scrypt cost, and PKCS#8 `EncryptedPrivateKeyInfo`
//! (PBES2, scrypt, AES-256-CBC).

use super::KeystoreError;
use super::files::{ENCRYPTED_KEY_PEM, pem_text};

use std::fmt;

use pkcs8::der::Encode as _;
use pkcs8::pkcs5::{self, pbes2};
use pkcs8::{EncryptedPrivateKeyInfo, SecretDocument};
use zeroize::Zeroizing;

use crate::backend::{Backend, SigningKey};
use crate::ceremony;

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

    pub(super) fn as_bytes(&self) -> &[u8] {
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
    pub(super) fn open(
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
