//! The portal's secret and what is derived from it: keyed hashes of identities and phone numbers, the
//! sealed (encrypted) phone numbers, the hashes of one-time codes, and the download ids of certificates.
//!
//! One 256-bit secret, kept by the service (a 0600 file under the data directory for `vaxcert up`), never
//! in the database: a copy of the ledger alone does not reveal who is who. Each use has its own key,
//! derived with HMAC-SHA-256 under a fixed label, so that no value computed for one use can stand in for
//! another.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use zeroize::Zeroizing;

/// The length of the portal secret, bytes.
pub const SECRET_BYTES: usize = 32;

/// Why the secret or a sealed value could not be used. Never carries the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret is not exactly [`SECRET_BYTES`] bytes.
    #[error("the portal secret must be {SECRET_BYTES} bytes")]
    Length,
    /// The system's random number generator failed.
    #[error("no randomness available")]
    Random,
    /// A sealed value is not ours, or was altered.
    #[error("a sealed value does not open under the portal secret")]
    Unsealable,
}

/// The portal's secret, with the keys derived from it. `Debug` shows nothing of it.
pub struct PortalSecret {
    identity: hmac::Key,
    account: hmac::Key,
    code: hmac::Key,
    download: hmac::Key,
    seal: LessSafeKey,
}

impl std::fmt::Debug for PortalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortalSecret([redacted])")
    }
}

impl PortalSecret {
    /// A fresh random secret, as bytes to store (0600) and read back with [`PortalSecret::from_bytes`].
    pub fn generate() -> Result<Zeroizing<[u8; SECRET_BYTES]>, SecretError> {
        let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
        getrandom::fill(bytes.as_mut()).map_err(|_| SecretError::Random)?;
        Ok(bytes)
    }

    /// The secret from its stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<PortalSecret, SecretError> {
        if bytes.len() != SECRET_BYTES {
            return Err(SecretError::Length);
        }
        let root = hmac::Key::new(hmac::HMAC_SHA256, bytes);
        let derive = |label: &str| {
            let mut key = Zeroizing::new([0u8; SECRET_BYTES]);
            key.copy_from_slice(hmac::sign(&root, label.as_bytes()).as_ref());
            key
        };
        let key = |label: &str| hmac::Key::new(hmac::HMAC_SHA256, derive(label).as_ref());
        let seal = derive("vaxcert citizen portal: phone sealing");
        let seal = UnboundKey::new(&AES_256_GCM, seal.as_ref()).map_err(|_| SecretError::Length)?;
        Ok(PortalSecret {
            identity: key("vaxcert citizen portal: identity"),
            account: key("vaxcert citizen portal: account"),
            code: key("vaxcert citizen portal: one-time code"),
            download: key("vaxcert citizen portal: download id"),
            seal: LessSafeKey::new(seal),
        })
    }

    /// The key of an identity: its document number (spaces dropped, letters upper-cased: passports carry
    /// letters) with the date of birth. Hex.
    pub fn identity_key(&self, id_number: &str, dob: &str) -> String {
        let id_number: String = id_number
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let message = format!("{id_number}\u{0}{}", dob.trim());
        hex::encode(hmac::sign(&self.identity, message.as_bytes()))
    }

    /// The key of an account: a phone number (spaces dropped). Everyone registered under one phone is one
    /// account. Hex.
    pub fn account_key(&self, phone: &str) -> String {
        let phone: String = phone.chars().filter(|c| !c.is_whitespace()).collect();
        hex::encode(hmac::sign(&self.account, phone.as_bytes()))
    }

    /// The keyed hash of a one-time code sent for an identity. Hex.
    pub fn code_hash(&self, identity_key: &str, code: &str) -> String {
        let message = format!("{identity_key}\u{0}{code}");
        hex::encode(hmac::sign(&self.code, message.as_bytes()))
    }

    /// A certificate's id in the portal's URLs: 128 bits of a keyed hash of its UVCI, hex. Stable, so
    /// nothing is stored; unguessable without the secret.
    pub fn download_id(&self, uvci: &str) -> String {
        let tag = hmac::sign(&self.download, uvci.as_bytes());
        hex::encode(tag.as_ref().get(..16).unwrap_or_default())
    }

    /// A phone number encrypted under a fresh random nonce: base64 of nonce and ciphertext.
    pub fn seal_phone(&self, phone: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SecretError::Random)?;
        let mut sealed = phone.as_bytes().to_vec();
        self.seal
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(b"phone"),
                &mut sealed,
            )
            .map_err(|_| SecretError::Unsealable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD_NO_PAD.encode(out))
    }

    /// The phone number [`PortalSecret::seal_phone`] sealed.
    pub fn open_phone(&self, sealed: &str) -> Result<Zeroizing<String>, SecretError> {
        let bytes = STANDARD_NO_PAD
            .decode(sealed)
            .map_err(|_| SecretError::Unsealable)?;
        let (nonce, ciphertext) = bytes
            .split_at_checked(NONCE_LEN)
            .ok_or(SecretError::Unsealable)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Unsealable)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, Aad::from(b"phone"), &mut buffer)
            .map_err(|_| SecretError::Unsealable)?;
        let phone = String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Unsealable)?;
        Ok(Zeroizing::new(phone))
    }
}

#[cfg(test)]
mod tests {
    use super::{PortalSecret, SecretError};

    fn secret(byte: u8) -> PortalSecret {
        PortalSecret::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn keys_depend_on_the_secret_and_on_every_input() {
        let (a, b) = (secret(1), secret(2));
        let key = a.identity_key("001083012345", "1983-10-10");
        assert_eq!(key, a.identity_key(" 0010 8301 2345", "1983-10-10"));
        assert_ne!(key, b.identity_key("001083012345", "1983-10-10"));
        assert_ne!(key, a.identity_key("001083012345", "1983-10-11"));
        assert_ne!(key, a.identity_key("001083012346", "1983-10-10"));
        assert_eq!(
            a.identity_key("c1234567", "1990"),
            a.identity_key("C1234567", "1990")
        );
        assert_eq!(
            a.account_key("+84 912 345 678"),
            a.account_key("+84912345678")
        );
        assert_ne!(a.account_key("+84912345678"), b.account_key("+84912345678"));
        // Labels separate the uses: the same input gives unrelated values.
        assert_ne!(a.account_key("x"), a.code_hash("", "x"));
    }

    #[test]
    fn download_ids_are_128_bits_and_stable() {
        let a = secret(1);
        let id = a.download_id("URN:UVCI:01:VN:ABC#1");
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id, a.download_id("URN:UVCI:01:VN:ABC#1"));
        assert_ne!(id, a.download_id("URN:UVCI:01:VN:ABD#1"));
        assert_ne!(id, secret(2).download_id("URN:UVCI:01:VN:ABC#1"));
    }

    #[test]
    fn phones_seal_and_open_only_under_the_same_secret() {
        let a = secret(1);
        let sealed = a.seal_phone("+84912345678").unwrap();
        assert!(!sealed.contains("912345678"));
        assert_ne!(sealed, a.seal_phone("+84912345678").unwrap(), "fresh nonce");
        assert_eq!(a.open_phone(&sealed).unwrap().as_str(), "+84912345678");
        assert_eq!(
            secret(2).open_phone(&sealed).unwrap_err(),
            SecretError::Unsealable
        );
        let mut altered = sealed.into_bytes();
        if let Some(last) = altered.last_mut() {
            *last = if *last == b'A' { b'B' } else { b'A' };
        }
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(a.open_phone(&altered).unwrap_err(), SecretError::Unsealable);
        assert_eq!(a.open_phone("").unwrap_err(), SecretError::Unsealable);
    }

    #[test]
    fn the_secret_has_one_length_and_hides_in_debug() {
        assert_eq!(
            PortalSecret::from_bytes(&[0; 31]).unwrap_err(),
            SecretError::Length
        );
        let shown = format!("{:?}", secret(7));
        assert_eq!(shown, "PortalSecret([redacted])");
        assert_eq!(PortalSecret::generate().unwrap().len(), 32);
    }
}
