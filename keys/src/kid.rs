//! The HCERT key identifier.

use std::fmt;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// A key identifier: the first 8 bytes of SHA-256 over a DSC's DER (hcert §3.3.1).
///
/// kids can collide: a verifier tries every DSC that carries the kid it looks up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Kid([u8; 8]);

impl Kid {
    /// The kid of a certificate, given its DER.
    pub fn of_certificate(der: &[u8]) -> Kid {
        let digest = Sha256::digest(der);
        let mut kid = [0u8; 8];
        kid.iter_mut().zip(digest).for_each(|(k, d)| *k = d);
        Kid(kid)
    }

    /// A kid from its bytes, as found in a COSE header: `None` unless exactly 8 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Kid> {
        <[u8; 8]>::try_from(bytes).ok().map(Kid)
    }

    /// The 8 bytes.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl From<[u8; 8]> for Kid {
    fn from(bytes: [u8; 8]) -> Kid {
        Kid(bytes)
    }
}

impl fmt::Display for Kid {
    /// Standard base64 with padding, the form trust lists and reports use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base64::engine::general_purpose::STANDARD.encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_is_first_eight_bytes_of_sha256() {
        let kid = Kid::of_certificate(b"abc");
        assert_eq!(hex::encode(kid.as_bytes()), "ba7816bf8f01cfea");
        assert_eq!(kid.to_string(), "ungWv48Bz+o=");
    }

    #[test]
    fn from_slice_wants_exactly_eight_bytes() {
        assert!(Kid::from_slice(&[0; 7]).is_none());
        assert!(Kid::from_slice(&[0; 9]).is_none());
        assert_eq!(Kid::from_slice(&[1; 8]), Some(Kid([1; 8])));
    }
}
