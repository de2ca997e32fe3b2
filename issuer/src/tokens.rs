//! Bearer tokens of the internal API: 256 random bits, shown once, stored only as their SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::UvciError;

/// The prefix every token starts with, so a leaked one is recognisable (secret scanners).
pub const TOKEN_PREFIX: &str = "vxc_";

/// A freshly made bearer token. `Debug` does not show it.
pub struct NewToken {
    secret: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewToken(<redacted>)")
    }
}

impl NewToken {
    /// A new token from the operating system's randomness.
    ///
    /// # Errors
    /// [`UvciError::Randomness`] when the system gives no randomness.
    pub fn generate() -> Result<NewToken, UvciError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| UvciError::Randomness)?;
        Ok(NewToken {
            secret: format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)),
        })
    }

    /// The token text, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// What the ledger stores.
    pub fn hash(&self) -> [u8; 32] {
        token_hash(&self.secret)
    }
}

/// The SHA-256 of a presented token: tokens are high-entropy, so a plain hash cannot be searched back.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_prefixed_and_hidden_from_debug() {
        let one = NewToken::generate().unwrap_or_else(|_| NewToken {
            secret: String::new(),
        });
        let two = NewToken::generate().unwrap_or_else(|_| NewToken {
            secret: String::new(),
        });
        assert!(one.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(one.expose().len(), TOKEN_PREFIX.len() + 43);
        assert_ne!(one.expose(), two.expose());
        assert_eq!(one.hash(), token_hash(one.expose()));
        assert!(!format!("{one:?}").contains(one.expose()));
    }
}
