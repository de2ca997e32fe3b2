//! Per-certificate revocation (spec-notes §8): a signed list of 16-byte SHA-256 prefixes.
//!
//! Three hashes, each the first 16 bytes of a SHA-256:
//! - `UCI`: over the UVCI exactly as the certificate's `ci` carries it (UTF-8);
//! - `COUNTRYCODEUCI`: over the issuing country code (the CWT `iss`) immediately followed by the UVCI;
//! - `SIGNATURE`: over the COSE signature; for ES256 over `r` only (its first 32 bytes), so the high-S
//!   twin `(r, n−s)` of a revoked signature — also a valid signature — hashes the same.
//!
//! The list travels in the same JWS envelope as the trust list (`typ` `vaxcert-revocation-list+json`):
//!
//! ```json
//! {"version": 3, "issuedAt": 1700000000, "expiresAt": 1700086400,
//!  "entries": [{"hashType": "UCI", "hash": "base64 of 16 bytes"}]}
//! ```
//!
//! Withdrawing a DSC (leaving it off the trust list) revokes everything it signed; this list serves
//! errors, fraud and re-issue.

use std::collections::HashSet;

use keys::Signer;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::encoding::{b64_decode, b64_encode, json_position};
use crate::jws::{
    self, BuildError, JwsError, MAX_DOCUMENT_BYTES, PinnedKey, SignedDocument, TYP_REVOCATION_LIST,
};

/// A 16-byte revocation hash.
pub type RevocationHash = [u8; 16];

/// What a revocation hash is computed over.
///
/// Exhaustive on purpose (no `#[non_exhaustive]`): the `verifier` crate names every variant, so a new one
/// is a compile error there rather than a silently wrong message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HashType {
    /// The UVCI.
    #[serde(rename = "UCI")]
    Uci,
    /// The issuing country code followed by the UVCI.
    #[serde(rename = "COUNTRYCODEUCI")]
    CountryCodeUci,
    /// The signature (`r` only for ES256).
    #[serde(rename = "SIGNATURE")]
    Signature,
}

/// The `UCI` hash: the first 16 bytes of SHA-256 over the UVCI.
pub fn uci_hash(uvci: &str) -> RevocationHash {
    truncated(&Sha256::digest(uvci.as_bytes()))
}

/// The `COUNTRYCODEUCI` hash: the first 16 bytes of SHA-256 over the country code (`iss`) immediately
/// followed by the UVCI.
pub fn country_uci_hash(iss: &str, uvci: &str) -> RevocationHash {
    let mut hasher = Sha256::new();
    hasher.update(iss.as_bytes());
    hasher.update(uvci.as_bytes());
    truncated(&hasher.finalize())
}

/// The `SIGNATURE` hash: the first 16 bytes of SHA-256 over the signature — for ES256 over `r` only,
/// its first 32 bytes (a signature shorter than that is hashed whole).
pub fn signature_hash(signature: &[u8], is_es256: bool) -> RevocationHash {
    let hashed = if is_es256 {
        signature.get(..32).unwrap_or(signature)
    } else {
        signature
    };
    truncated(&Sha256::digest(hashed))
}

fn truncated(digest: &[u8]) -> RevocationHash {
    let mut hash = [0u8; 16];
    hash.iter_mut().zip(digest).for_each(|(h, d)| *h = *d);
    hash
}

/// The payload of a revocation list, as serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationListPayload {
    /// Increases with every list published.
    pub version: u64,
    /// When the list was made, Unix seconds.
    pub issued_at: i64,
    /// After this second the list must not be used, Unix seconds.
    pub expires_at: i64,
    /// The revoked hashes.
    pub entries: Vec<RevocationEntry>,
}

/// One revoked hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationEntry {
    /// What the hash is computed over.
    pub hash_type: HashType,
    /// The 16 bytes, standard base64.
    pub hash: String,
}

/// Collects revoked hashes and signs them into a revocation list. Adding a hash twice keeps it once.
#[derive(Debug, Clone, Default)]
pub struct RevocationListBuilder {
    entries: Vec<(HashType, RevocationHash)>,
    seen: HashSet<(HashType, RevocationHash)>,
}

impl RevocationListBuilder {
    /// An empty list.
    pub fn new() -> RevocationListBuilder {
        RevocationListBuilder::default()
    }

    /// Revokes a hash computed elsewhere.
    pub fn add(&mut self, hash_type: HashType, hash: RevocationHash) -> &mut RevocationListBuilder {
        if self.seen.insert((hash_type, hash)) {
            self.entries.push((hash_type, hash));
        }
        self
    }

    /// Revokes a UVCI (`UCI`).
    pub fn revoke_uci(&mut self, uvci: &str) -> &mut RevocationListBuilder {
        self.add(HashType::Uci, uci_hash(uvci))
    }

    /// Revokes a UVCI of an issuing country (`COUNTRYCODEUCI`).
    pub fn revoke_country_uci(&mut self, iss: &str, uvci: &str) -> &mut RevocationListBuilder {
        self.add(HashType::CountryCodeUci, country_uci_hash(iss, uvci))
    }

    /// Revokes a signature (`SIGNATURE`; `r` only for ES256).
    pub fn revoke_signature(
        &mut self,
        signature: &[u8],
        is_es256: bool,
    ) -> &mut RevocationListBuilder {
        self.add(HashType::Signature, signature_hash(signature, is_es256))
    }

    /// How many hashes are revoked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The payload the list will carry.
    pub fn payload(&self, version: u64, issued_at: i64, expires_at: i64) -> RevocationListPayload {
        RevocationListPayload {
            version,
            issued_at,
            expires_at,
            entries: self
                .entries
                .iter()
                .map(|(hash_type, hash)| RevocationEntry {
                    hash_type: *hash_type,
                    hash: b64_encode(hash),
                })
                .collect(),
        }
    }

    /// Signs the list as [`crate::TrustListBuilder::build`] signs the trust list.
    ///
    /// # Errors
    /// As [`crate::TrustListBuilder::build`].
    pub fn build(
        &self,
        version: u64,
        issued_at: i64,
        expires_at: i64,
        signer: &dyn Signer,
        signer_spki_der: &[u8],
    ) -> Result<SignedDocument, BuildError> {
        if expires_at < issued_at {
            return Err(BuildError::InvalidValidity {
                issued_at,
                expires_at,
            });
        }
        let payload = serde_json::to_vec(&self.payload(version, issued_at, expires_at))
            .map_err(|_| BuildError::Serialize)?;
        jws::sign(
            TYP_REVOCATION_LIST,
            version,
            &payload,
            signer,
            signer_spki_der,
        )
    }
}

/// What a verifier knows of a certificate whose signature verified, to look up in a revocation list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    /// The UVCI (`ci`).
    pub uvci: &'a str,
    /// The CWT `iss`, when present.
    pub iss: Option<&'a str>,
    /// The COSE signature.
    pub signature: &'a [u8],
    /// Whether the signature is ES256 (only its `r` half is hashed).
    pub is_es256: bool,
}

/// A revocation list whose signature verified under a pinned key. Lookups are O(1).
#[derive(Debug, Clone)]
pub struct RevocationList {
    version: u64,
    issued_at: i64,
    expires_at: i64,
    uci: HashSet<RevocationHash>,
    country_uci: HashSet<RevocationHash>,
    signature: HashSet<RevocationHash>,
}

/// Why a revocation list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    /// The envelope or its signature.
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The signed payload is not a revocation-list payload (an unknown `hashType` included).
    #[error("malformed revocation-list payload (line {line}, column {column})")]
    Payload {
        /// Line of the first problem.
        line: usize,
        /// Column of the first problem.
        column: usize,
    },
    /// `expiresAt` is before `issuedAt`.
    #[error("expiresAt {expires_at} is before issuedAt {issued_at}")]
    InvalidValidity {
        /// `issuedAt`.
        issued_at: i64,
        /// `expiresAt`.
        expires_at: i64,
    },
    /// The list expired before `now`.
    #[error("revocation list expired at {expires_at} (now {now})")]
    Expired {
        /// `expiresAt`.
        expires_at: i64,
        /// The clock passed in.
        now: i64,
    },
    /// An entry's hash is not base64 of 16 bytes.
    #[error("entry {index}: hash is not base64 of 16 bytes")]
    Hash {
        /// Its position, from 0.
        index: usize,
    },
}

impl RevocationList {
    /// Checks a published revocation list at `now` (Unix seconds), inputs up to [`MAX_DOCUMENT_BYTES`].
    ///
    /// # Errors
    /// As [`RevocationList::verify_with_limit`].
    pub fn verify(
        bytes: &[u8],
        pinned: &[PinnedKey],
        now: i64,
    ) -> Result<RevocationList, RevocationError> {
        RevocationList::verify_with_limit(bytes, pinned, now, MAX_DOCUMENT_BYTES)
    }

    /// Checks a published revocation list at `now`, refusing inputs over `max_bytes` before parsing: the
    /// JWS as for [`crate::TrustList::verify_with_limit`] (with `typ` `vaxcert-revocation-list+json`),
    /// then `issuedAt ≤ expiresAt`, `now ≤ expiresAt`, and every hash.
    ///
    /// # Errors
    /// [`RevocationError`], the first problem found.
    pub fn verify_with_limit(
        bytes: &[u8],
        pinned: &[PinnedKey],
        now: i64,
        max_bytes: usize,
    ) -> Result<RevocationList, RevocationError> {
        let verified = jws::verify(bytes, TYP_REVOCATION_LIST, pinned, max_bytes)?;
        let payload: RevocationListPayload =
            serde_json::from_slice(&verified.payload).map_err(|error| {
                let (line, column) = json_position(&error);
                RevocationError::Payload { line, column }
            })?;
        if payload.expires_at < payload.issued_at {
            return Err(RevocationError::InvalidValidity {
                issued_at: payload.issued_at,
                expires_at: payload.expires_at,
            });
        }
        if now > payload.expires_at {
            return Err(RevocationError::Expired {
                expires_at: payload.expires_at,
                now,
            });
        }
        let mut list = RevocationList {
            version: payload.version,
            issued_at: payload.issued_at,
            expires_at: payload.expires_at,
            uci: HashSet::new(),
            country_uci: HashSet::new(),
            signature: HashSet::new(),
        };
        for (index, entry) in payload.entries.iter().enumerate() {
            let hash = b64_decode(&entry.hash)
                .and_then(|bytes| RevocationHash::try_from(bytes.as_slice()).ok())
                .ok_or(RevocationError::Hash { index })?;
            let set = match entry.hash_type {
                HashType::Uci => &mut list.uci,
                HashType::CountryCodeUci => &mut list.country_uci,
                HashType::Signature => &mut list.signature,
            };
            set.insert(hash);
        }
        Ok(list)
    }

    /// Whether the certificate is revoked, and by which hash (checked in the order UCI, country + UCI,
    /// signature). Three hash-set lookups.
    pub fn is_revoked(&self, query: &RevocationQuery<'_>) -> Option<HashType> {
        if self.uci.contains(&uci_hash(query.uvci)) {
            return Some(HashType::Uci);
        }
        if query.iss.is_some_and(|iss| {
            self.country_uci
                .contains(&country_uci_hash(iss, query.uvci))
        }) {
            return Some(HashType::CountryCodeUci);
        }
        if self
            .signature
            .contains(&signature_hash(query.signature, query.is_es256))
        {
            return Some(HashType::Signature);
        }
        None
    }

    /// The list's version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the list was made, Unix seconds.
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// When the list expires, Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// How many distinct hashes are revoked.
    pub fn len(&self) -> usize {
        self.uci.len() + self.country_uci.len() + self.signature.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `other` revokes the same hashes with the same validity (ignoring the envelope).
    pub(crate) fn same_content(&self, other: &RevocationList) -> bool {
        (
            self.issued_at,
            self.expires_at,
            &self.uci,
            &self.country_uci,
            &self.signature,
        ) == (
            other.issued_at,
            other.expires_at,
            &other.uci,
            &other.country_uci,
            &other.signature,
        )
    }
}

#[cfg(test)]
mod tests {
    use keys::{Backend, SignatureAlgorithm, SigningKey};

    use super::*;

    const UVCI: &str = "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#Q";

    fn sha256_prefix(bytes: &[u8]) -> RevocationHash {
        Sha256::digest(bytes)[..16].try_into().unwrap()
    }

    #[test]
    fn hashes_follow_spec_notes_section_8() {
        assert_eq!(uci_hash(UVCI), sha256_prefix(UVCI.as_bytes()));
        assert_eq!(
            country_uci_hash("VN", UVCI),
            sha256_prefix(format!("VN{UVCI}").as_bytes())
        );
        assert_eq!(
            hex::encode(uci_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223"
        );
        let signature: Vec<u8> = (0u8..64).collect();
        assert_eq!(
            signature_hash(&signature, true),
            sha256_prefix(&signature[..32])
        );
        assert_eq!(signature_hash(&signature, false), sha256_prefix(&signature));
        assert_eq!(
            signature_hash(&signature[..3], true),
            sha256_prefix(&signature[..3])
        );
    }

    #[test]
    fn payload_shape() {
        let mut builder = RevocationListBuilder::new();
        builder
            .revoke_uci(UVCI)
            .revoke_uci(UVCI)
            .revoke_country_uci("VN", UVCI);
        assert_eq!(builder.len(), 2);
        let json = serde_json::to_value(builder.payload(3, 10, 20)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"version": 3, "issuedAt": 10, "expiresAt": 20, "entries": [
                {"hashType": "UCI", "hash": b64_encode(&uci_hash(UVCI))},
                {"hashType": "COUNTRYCODEUCI", "hash": b64_encode(&country_uci_hash("VN", UVCI))},
            ]})
        );
    }

    #[test]
    fn signed_lists_verify_and_answer_lookups() {
        let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
        let spki = key.public_key_spki_der();
        let pinned = [PinnedKey::from_spki_der(Backend::default(), &spki).unwrap()];
        let signature: Vec<u8> = (100u8..164).collect();
        let mut builder = RevocationListBuilder::new();
        builder
            .revoke_uci("URN:UVCI:01:VN:AAA")
            .revoke_country_uci("XX", "URN:UVCI:01:XX:BBB")
            .revoke_signature(&signature, true);
        let document = builder.build(5, 100, 200, &key, &spki).unwrap();
        let list = RevocationList::verify(document.as_bytes(), &pinned, 150).unwrap();
        assert_eq!(
            (
                list.version(),
                list.issued_at(),
                list.expires_at(),
                list.len()
            ),
            (5, 100, 200, 3)
        );
        let query = |uvci, iss, signature: &'static [u8]| {
            list.is_revoked(&RevocationQuery {
                uvci,
                iss,
                signature,
                is_es256: true,
            })
        };
        let other_sig: &'static [u8] = &[7; 64];
        let leaked: &'static [u8] = Box::leak(signature.clone().into_boxed_slice());
        assert_eq!(
            query("URN:UVCI:01:VN:AAA", Some("VN"), other_sig),
            Some(HashType::Uci)
        );
        assert_eq!(
            query("URN:UVCI:01:XX:BBB", Some("XX"), other_sig),
            Some(HashType::CountryCodeUci)
        );
        assert_eq!(query("URN:UVCI:01:XX:BBB", Some("YY"), other_sig), None);
        assert_eq!(query("URN:UVCI:01:XX:BBB", None, other_sig), None);
        assert_eq!(
            query("URN:UVCI:01:VN:CCC", Some("VN"), leaked),
            Some(HashType::Signature)
        );

        assert_eq!(
            RevocationList::verify(document.as_bytes(), &pinned, 201).err(),
            Some(RevocationError::Expired {
                expires_at: 200,
                now: 201
            })
        );
        // A revocation list is not a trust list, and the other way round.
        assert!(matches!(
            crate::TrustList::verify(document.as_bytes(), &pinned, 150),
            Err(crate::TrustListError::Jws(JwsError::WrongType { .. }))
        ));
    }
}
