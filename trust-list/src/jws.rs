//! The signed envelope of the trust list and the revocation list: a JWS in flattened JSON serialization
//! (RFC 7515 §7.2.2), signed by a key verifiers pin out of band.
//!
//! ```text
//! {"protected": b64url(header), "payload": b64url(payload JSON), "signature": b64url(signature)}
//! header = {"alg": "ES256" | "EdDSA", "kid": b64url(SHA-256(SPKI of the signing key)), "typ": "…"}
//! ```
//!
//! The signature covers `ASCII(protected) || '.' || ASCII(payload)` exactly as received. Any JOSE library,
//! or a few lines of code with nothing but the pinned public key, base64 and a JSON parser, checks it.

use std::sync::Arc;

use keys::{Backend, KeyError, SignatureAlgorithm, SignatureError, Signer, VerifyingKey};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::encoding::{b64url_decode, b64url_encode, json_position};
use crate::entry::EntryError;

/// The default bound on a signed document (and on the gateway and anchor JSON): larger inputs are refused
/// by their length, before a byte is parsed.
///
/// 16 MiB holds a list of about 12,000 ES256 DSCs (each entry costs about 1.3 KiB once its DER is
/// base64-encoded twice, in `rawData` and in the JWS payload); the EU gateway publishes a few thousand.
/// Parsing stays proportional to the input: the payload is read into typed structures, never a JSON tree.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

pub(crate) const TYP_TRUST_LIST: &str = "vaxcert-trust-list+json";
pub(crate) const TYP_REVOCATION_LIST: &str = "vaxcert-revocation-list+json";

/// A public key verifiers pin out of band to check signed lists: ES256 (P-256) or EdDSA (Ed25519).
///
/// Its key id is the base64url SHA-256 of its SubjectPublicKeyInfo, the `kid` a signed list names in its
/// protected header; several keys may be pinned at once (during a rotation, say).
#[derive(Debug, Clone)]
pub struct PinnedKey {
    key: Arc<dyn VerifyingKey>,
    spki: Vec<u8>,
    key_id: String,
}

impl PinnedKey {
    /// A pinned key from a SubjectPublicKeyInfo (DER), prepared with `backend`.
    ///
    /// # Errors
    /// [`PinnedKeyError::Key`] if the bytes are not a usable public key;
    /// [`PinnedKeyError::UnsupportedAlgorithm`] for a key that signs neither ES256 nor EdDSA (RSA).
    pub fn from_spki_der(backend: Backend, spki_der: &[u8]) -> Result<PinnedKey, PinnedKeyError> {
        let key = backend
            .verifying_key_from_spki(spki_der)
            .map_err(PinnedKeyError::Key)?;
        let algorithm = key.algorithm();
        if jws_alg(algorithm).is_none() {
            return Err(PinnedKeyError::UnsupportedAlgorithm { algorithm });
        }
        Ok(PinnedKey {
            key,
            spki: spki_der.to_vec(),
            key_id: key_id(spki_der),
        })
    }

    /// A pinned key from the first `PUBLIC KEY` block of PEM text, as [`PinnedKey::from_spki_der`].
    ///
    /// # Errors
    /// [`PinnedKeyError::Pem`] if there is no readable `PUBLIC KEY` block; else as
    /// [`PinnedKey::from_spki_der`].
    pub fn from_pem(backend: Backend, pem_text: &str) -> Result<PinnedKey, PinnedKeyError> {
        let blocks = pem::parse_many(pem_text).map_err(|_| PinnedKeyError::Pem)?;
        let block = blocks
            .iter()
            .find(|block| block.tag() == "PUBLIC KEY")
            .ok_or(PinnedKeyError::Pem)?;
        PinnedKey::from_spki_der(backend, block.contents())
    }

    /// The key id: base64url (no padding) of the SHA-256 of the SubjectPublicKeyInfo.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The one algorithm the key verifies.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }

    /// The SubjectPublicKeyInfo (DER).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key as PEM (`PUBLIC KEY`), the form to hand out for pinning.
    pub fn to_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", self.spki.clone()))
    }

    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        self.key.verify(message, signature)
    }
}

/// Why a public key cannot be pinned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinnedKeyError {
    /// The text holds no readable `PUBLIC KEY` PEM block.
    #[error("invalid PEM: no PUBLIC KEY block")]
    Pem,
    /// The bytes are not a public key the backend accepts.
    #[error("unusable public key: {0}")]
    Key(#[source] KeyError),
    /// The key is fine but signs neither ES256 nor EdDSA, the two algorithms of signed lists.
    #[error("a pinned key must be ES256 (P-256) or EdDSA (Ed25519), not {}", algorithm.name())]
    UnsupportedAlgorithm {
        /// The key's algorithm.
        algorithm: SignatureAlgorithm,
    },
}

/// A signed list as published: the JWS bytes, served as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDocument {
    bytes: Vec<u8>,
    version: u64,
}

impl SignedDocument {
    /// The JWS (flattened JSON serialization), UTF-8.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The JWS bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The version the payload carries.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A strong HTTP entity tag for conditional GET: the quoted base64url SHA-256 of the bytes.
    pub fn etag(&self) -> String {
        format!("\"{}\"", b64url_encode(&Sha256::digest(&self.bytes)))
    }
}

/// One of the three parts of a JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwsPart {
    /// The protected header.
    Protected,
    /// The payload.
    Payload,
    /// The signature.
    Signature,
}

/// Why a signed document's envelope was refused, before or while checking its signature.
///
/// Signature failures are opaque: which pinned key was tried and why the mathematics failed is not said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// The input is longer than the bound; nothing was parsed.
    #[error("document too large: {len} bytes, at most {max}")]
    TooLarge {
        /// The input's length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The input is not one JSON object `{protected, payload, signature}` (empty, truncated, other members).
    #[error("not a JWS in flattened JSON serialization (line {line}, column {column})")]
    Envelope {
        /// Line of the first problem (1-based; 0 when unknown).
        line: usize,
        /// Column of the first problem.
        column: usize,
    },
    /// The JWS carries an unprotected `header`: nothing unauthenticated is accepted.
    #[error("unprotected JWS header refused")]
    UnprotectedHeader,
    /// A part is not base64url without padding.
    #[error("JWS {part:?} is not base64url")]
    Base64 {
        /// The part.
        part: JwsPart,
    },
    /// The protected header is not a JSON object of `alg`, `kid` and `typ`.
    #[error("malformed protected header (line {line}, column {column})")]
    Header {
        /// Line of the first problem.
        line: usize,
        /// Column of the first problem.
        column: usize,
    },
    /// The header carries or points to a key or certificate: only pinned keys count.
    #[error(
        "protected header carries its own key material ({parameter}): only pinned keys are trusted"
    )]
    KeyInHeader {
        /// The header parameter (`jwk`, `jku`, `x5c`, `x5u`, `x5t`, `x5t#S256`).
        parameter: &'static str,
    },
    /// The header lists critical extensions, none of which this crate understands.
    #[error("critical header extensions are not supported")]
    CriticalHeader,
    /// The header's `typ` is not the type of the document expected (a revocation list offered as a trust
    /// list, say).
    #[error("wrong document type: expected {expected}")]
    WrongType {
        /// The `typ` expected.
        expected: &'static str,
    },
    /// `alg` is neither `ES256` nor `EdDSA`.
    #[error("unsupported JWS algorithm")]
    UnsupportedAlgorithm,
    /// The header names no `kid`.
    #[error("JWS header has no kid")]
    KidMissing,
    /// No pinned key has the header's `kid`.
    #[error("signed by a key that is not pinned")]
    UnpinnedKey,
    /// The pinned key with that `kid` verifies another algorithm than `alg`.
    #[error("JWS alg {} does not match the pinned key ({})", alg.name(), key.name())]
    AlgorithmMismatch {
        /// The header's algorithm.
        alg: SignatureAlgorithm,
        /// The pinned key's algorithm.
        key: SignatureAlgorithm,
    },
    /// The signature does not verify under the pinned key.
    #[error("signature invalid")]
    SignatureInvalid,
}

/// Why a list could not be built and signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A country code is not two upper-case ASCII letters.
    #[error("invalid country code")]
    InvalidCountry,
    /// The same certificate was added twice.
    #[error("DSC {kid} added twice")]
    DuplicateDsc {
        /// Its kid.
        kid: keys::Kid,
    },
    /// A certificate readers of the list would refuse (a CA, a P-384 or RSA-1024 key, …).
    #[error("DSC {kid} cannot be listed: {reason}")]
    Dsc {
        /// Its kid.
        kid: keys::Kid,
        /// Why.
        #[source]
        reason: EntryError,
    },
    /// The expiry is before the issue time.
    #[error("expires_at {expires_at} is before issued_at {issued_at}")]
    InvalidValidity {
        /// Issue time, Unix seconds.
        issued_at: i64,
        /// Expiry, Unix seconds.
        expires_at: i64,
    },
    /// The signer's algorithm is neither ES256 nor EdDSA.
    #[error("signed lists are signed with ES256 or EdDSA, not {}", algorithm.name())]
    UnsupportedSigner {
        /// The signer's algorithm.
        algorithm: SignatureAlgorithm,
    },
    /// The signer's public key (SPKI) given alongside it is not usable.
    #[error("unusable signer public key: {0}")]
    SignerKey(#[source] KeyError),
    /// The signer's public key is of another algorithm than the signer.
    #[error("the signer's public key does not match its algorithm")]
    SignerKeyMismatch,
    /// The signer failed to sign.
    #[error("signing failed: {0}")]
    Sign(#[source] SignatureError),
    /// The signature made does not verify under the public key given: signer and key do not belong
    /// together. Nothing is published.
    #[error("the signature does not verify under the signer's public key")]
    SelfCheck,
    /// A timestamp cannot be written as RFC 3339.
    #[error("timestamp {at} out of range")]
    Timestamp {
        /// The Unix time.
        at: i64,
    },
    /// Serialising JSON failed.
    #[error("JSON serialisation failed")]
    Serialize,
}

/// The JWS `alg` name of a signature algorithm, if signed lists may use it.
pub(crate) fn jws_alg(algorithm: SignatureAlgorithm) -> Option<&'static str> {
    match algorithm {
        SignatureAlgorithm::Es256 => Some("ES256"),
        SignatureAlgorithm::EdDsa => Some("EdDSA"),
        _ => None,
    }
}

fn alg_from_name(name: &str) -> Option<SignatureAlgorithm> {
    match name {
        "ES256" => Some(SignatureAlgorithm::Es256),
        "EdDSA" => Some(SignatureAlgorithm::EdDsa),
        _ => None,
    }
}

fn key_id(spki_der: &[u8]) -> String {
    b64url_encode(&Sha256::digest(spki_der))
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    protected: &'a str,
    payload: &'a str,
    signature: &'a str,
}

/// Signs `payload` as a JWS of type `typ`, and checks the signature under `signer_spki_der` before handing
/// it out.
pub(crate) fn sign(
    typ: &'static str,
    version: u64,
    payload: &[u8],
    signer: &dyn Signer,
    signer_spki_der: &[u8],
) -> Result<SignedDocument, BuildError> {
    let algorithm = signer.algorithm();
    let alg = jws_alg(algorithm).ok_or(BuildError::UnsupportedSigner { algorithm })?;
    let key = Backend::default()
        .verifying_key_from_spki(signer_spki_der)
        .map_err(BuildError::SignerKey)?;
    if key.algorithm() != algorithm {
        return Err(BuildError::SignerKeyMismatch);
    }
    let kid = key_id(signer_spki_der);
    let header = serde_json::to_vec(&HeaderOut {
        alg,
        kid: &kid,
        typ,
    })
    .map_err(|_| BuildError::Serialize)?;
    let protected = b64url_encode(&header);
    let payload = b64url_encode(payload);
    let signing_input = signing_input(&protected, &payload);
    let signature = signer.sign(&signing_input).map_err(BuildError::Sign)?;
    key.verify(&signing_input, &signature)
        .map_err(|_| BuildError::SelfCheck)?;
    let bytes = serde_json::to_vec(&EnvelopeOut {
        protected: &protected,
        payload: &payload,
        signature: &b64url_encode(&signature),
    })
    .map_err(|_| BuildError::Serialize)?;
    Ok(SignedDocument { bytes, version })
}

fn signing_input(protected: &str, payload: &str) -> Vec<u8> {
    let mut input = Vec::with_capacity(protected.len() + 1 + payload.len());
    input.extend_from_slice(protected.as_bytes());
    input.push(b'.');
    input.extend_from_slice(payload.as_bytes());
    input
}

/// The envelope as received. The parts are base64url, which never needs a JSON escape: a part that does
/// fails to borrow and is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeIn<'a> {
    protected: &'a str,
    payload: &'a str,
    signature: &'a str,
    header: Option<IgnoredAny>,
}

/// The protected header. Exactly `alg`, `kid` and `typ` are understood; the parameters that carry or
/// point to keys are named so that they can be refused by name; anything else is malformed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderIn {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<IgnoredAny>,
    jwk: Option<IgnoredAny>,
    jku: Option<IgnoredAny>,
    x5c: Option<IgnoredAny>,
    x5u: Option<IgnoredAny>,
    x5t: Option<IgnoredAny>,
    #[serde(rename = "x5t#S256")]
    x5t_s256: Option<IgnoredAny>,
}

/// A document whose signature verified under a pinned key.
pub(crate) struct Verified {
    /// The decoded payload.
    pub(crate) payload: Vec<u8>,
    /// The id of the pinned key that verified it.
    pub(crate) key_id: String,
}

/// Checks a JWS of type `typ` against the pinned keys, in this order: size, envelope, header (no key
/// material, type, algorithm), pinned key by `kid`, algorithm match, signature; only then is the payload
/// decoded.
pub(crate) fn verify(
    bytes: &[u8],
    typ: &'static str,
    pinned: &[PinnedKey],
    max_bytes: usize,
) -> Result<Verified, JwsError> {
    if bytes.len() > max_bytes {
        return Err(JwsError::TooLarge {
            len: bytes.len(),
            max: max_bytes,
        });
    }
    let envelope: EnvelopeIn<'_> = serde_json::from_slice(bytes).map_err(|error| {
        let (line, column) = json_position(&error);
        JwsError::Envelope { line, column }
    })?;
    if envelope.header.is_some() {
        return Err(JwsError::UnprotectedHeader);
    }
    let header = b64url_decode(envelope.protected).ok_or(JwsError::Base64 {
        part: JwsPart::Protected,
    })?;
    let header: HeaderIn = serde_json::from_slice(&header).map_err(|error| {
        let (line, column) = json_position(&error);
        JwsError::Header { line, column }
    })?;
    for (present, parameter) in [
        (header.jwk.is_some(), "jwk"),
        (header.jku.is_some(), "jku"),
        (header.x5c.is_some(), "x5c"),
        (header.x5u.is_some(), "x5u"),
        (header.x5t.is_some(), "x5t"),
        (header.x5t_s256.is_some(), "x5t#S256"),
    ] {
        if present {
            return Err(JwsError::KeyInHeader { parameter });
        }
    }
    if header.crit.is_some() {
        return Err(JwsError::CriticalHeader);
    }
    if header.typ.as_deref() != Some(typ) {
        return Err(JwsError::WrongType { expected: typ });
    }
    let alg = header
        .alg
        .as_deref()
        .and_then(alg_from_name)
        .ok_or(JwsError::UnsupportedAlgorithm)?;
    let kid = header.kid.as_deref().ok_or(JwsError::KidMissing)?;
    let mut candidates = pinned.iter().filter(|key| key.key_id == kid).peekable();
    let first = candidates.peek().ok_or(JwsError::UnpinnedKey)?;
    if first.algorithm() != alg {
        return Err(JwsError::AlgorithmMismatch {
            alg,
            key: first.algorithm(),
        });
    }
    let signature = b64url_decode(envelope.signature).ok_or(JwsError::Base64 {
        part: JwsPart::Signature,
    })?;
    let signing_input = signing_input(envelope.protected, envelope.payload);
    let key = candidates
        .filter(|key| key.algorithm() == alg)
        .find(|key| key.verify(&signing_input, &signature).is_ok())
        .ok_or(JwsError::SignatureInvalid)?;
    drop(signing_input);
    let payload = b64url_decode(envelope.payload).ok_or(JwsError::Base64 {
        part: JwsPart::Payload,
    })?;
    Ok(Verified {
        payload,
        key_id: key.key_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use keys::SigningKey;

    use super::*;

    const TYP: &str = TYP_TRUST_LIST;

    fn key(algorithm: SignatureAlgorithm) -> (SigningKey, PinnedKey) {
        let signing = SigningKey::generate(Backend::default(), algorithm).unwrap();
        let pinned =
            PinnedKey::from_spki_der(Backend::default(), &signing.public_key_spki_der()).unwrap();
        (signing, pinned)
    }

    fn signed(signing: &SigningKey, payload: &[u8]) -> Vec<u8> {
        sign(TYP, 1, payload, signing, &signing.public_key_spki_der())
            .unwrap()
            .into_bytes()
    }

    /// A JWS with this header JSON, signed by `signing`.
    fn with_header(signing: &SigningKey, header: &str, payload: &[u8]) -> Vec<u8> {
        let protected = b64url_encode(header.as_bytes());
        let payload = b64url_encode(payload);
        let signature = signing.sign(&signing_input(&protected, &payload)).unwrap();
        format!(
            r#"{{"protected":"{protected}","payload":"{payload}","signature":"{}"}}"#,
            b64url_encode(&signature)
        )
        .into_bytes()
    }

    fn check(bytes: &[u8], pinned: &[PinnedKey], expected: Result<&[u8], JwsError>) {
        let result = verify(bytes, TYP, pinned, MAX_DOCUMENT_BYTES).map(|v| v.payload);
        assert_eq!(result.as_deref().map_err(Clone::clone), expected);
    }

    #[test]
    fn round_trip_with_both_algorithms() {
        for algorithm in [SignatureAlgorithm::Es256, SignatureAlgorithm::EdDsa] {
            let (signing, pinned) = key(algorithm);
            let (_, other) = key(SignatureAlgorithm::Es256);
            let bytes = signed(&signing, b"{\"a\":1}");
            check(&bytes, &[other, pinned.clone()], Ok(b"{\"a\":1}"));
            let verified = verify(
                &bytes,
                TYP,
                std::slice::from_ref(&pinned),
                MAX_DOCUMENT_BYTES,
            )
            .unwrap();
            assert_eq!(verified.key_id, pinned.key_id());
        }
    }

    #[test]
    fn header_is_alg_kid_typ() {
        let (signing, pinned) = key(SignatureAlgorithm::Es256);
        let bytes = signed(&signing, b"{}");
        let envelope: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let header = b64url_decode(envelope["protected"].as_str().unwrap()).unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "ES256", "kid": pinned.key_id(), "typ": TYP})
        );
    }

    #[test]
    fn refusals() {
        let (signing, pinned) = key(SignatureAlgorithm::Es256);
        let (stranger, stranger_pinned) = key(SignatureAlgorithm::Es256);
        let (ed, ed_pinned) = key(SignatureAlgorithm::EdDsa);
        let kid = pinned.key_id();
        let pinned = [pinned.clone()];
        let good = format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"{TYP}"}}"#);
        check(&with_header(&signing, &good, b"{}"), &pinned, Ok(b"{}"));

        let cases: Vec<(Vec<u8>, JwsError)> = vec![
            (b"".to_vec(), JwsError::Envelope { line: 0, column: 0 }),
            (
                signed(&signing, b"{}")[..40].to_vec(),
                JwsError::Envelope { line: 0, column: 0 },
            ),
            (b"[]".to_vec(), JwsError::Envelope { line: 0, column: 0 }),
            (signed(&stranger, b"{}"), JwsError::UnpinnedKey),
            // A stranger's signature under our kid.
            (
                with_header(&stranger, &good, b"{}"),
                JwsError::SignatureInvalid,
            ),
            (
                with_header(
                    &signing,
                    &format!(
                        r#"{{"alg":"ES256","kid":"{kid}","typ":"{TYP}","jwk":{{"kty":"EC"}}}}"#
                    ),
                    b"{}",
                ),
                JwsError::KeyInHeader { parameter: "jwk" },
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"{TYP}","x5c":["MII="]}}"#),
                    b"{}",
                ),
                JwsError::KeyInHeader { parameter: "x5c" },
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"{TYP}","jku":"https://x"}}"#),
                    b"{}",
                ),
                JwsError::KeyInHeader { parameter: "jku" },
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"{TYP}","crit":["b64"]}}"#),
                    b"{}",
                ),
                JwsError::CriticalHeader,
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"{TYP_REVOCATION_LIST}"}}"#),
                    b"{}",
                ),
                JwsError::WrongType { expected: TYP },
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#),
                    b"{}",
                ),
                JwsError::WrongType { expected: TYP },
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"none","kid":"{kid}","typ":"{TYP}"}}"#),
                    b"{}",
                ),
                JwsError::UnsupportedAlgorithm,
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"HS256","kid":"{kid}","typ":"{TYP}"}}"#),
                    b"{}",
                ),
                JwsError::UnsupportedAlgorithm,
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"ES256","typ":"{TYP}"}}"#),
                    b"{}",
                ),
                JwsError::KidMissing,
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"{TYP}"}}"#),
                    b"{}",
                ),
                JwsError::AlgorithmMismatch {
                    alg: SignatureAlgorithm::EdDsa,
                    key: SignatureAlgorithm::Es256,
                },
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"{TYP}","zip":"DEF"}}"#),
                    b"{}",
                ),
                JwsError::Header { line: 0, column: 0 },
            ),
            (
                with_header(
                    &signing,
                    &format!(r#"{{"alg":"ES256","alg":"ES256","kid":"{kid}","typ":"{TYP}"}}"#),
                    b"{}",
                ),
                JwsError::Header { line: 0, column: 0 },
            ),
        ];
        // Where a JSON parse stopped (line, column) is not compared.
        for (bytes, expected) in cases {
            let result = verify(&bytes, TYP, &pinned, MAX_DOCUMENT_BYTES).map(|v| v.payload);
            match (result, &expected) {
                (Err(JwsError::Envelope { .. }), JwsError::Envelope { .. })
                | (Err(JwsError::Header { .. }), JwsError::Header { .. }) => {}
                (result, expected) => assert_eq!(
                    result.err().as_ref(),
                    Some(expected),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                ),
            }
        }
        // An EdDSA list under an ES256 pin, and the other way round.
        check(&signed(&ed, b"{}"), &pinned, Err(JwsError::UnpinnedKey));
        check(&signed(&ed, b"{}"), &[ed_pinned], Ok(b"{}"));
        check(&signed(&stranger, b"{}"), &[stranger_pinned], Ok(b"{}"));
    }

    #[test]
    fn envelope_tampering() {
        let (signing, pinned) = key(SignatureAlgorithm::Es256);
        let pinned = [pinned];
        let bytes = signed(&signing, b"{\"version\":1}");
        let envelope: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let part = |name: &str| envelope[name].as_str().unwrap().to_owned();
        let rebuild = |protected: &str, payload: &str, signature: &str, extra: &str| {
            format!(r#"{{"protected":"{protected}","payload":"{payload}","signature":"{signature}"{extra}}}"#).into_bytes()
        };
        let (protected, payload, signature) =
            (part("protected"), part("payload"), part("signature"));
        let other_payload = b64url_encode(b"{\"version\":2}");
        check(
            &rebuild(&protected, &other_payload, &signature, ""),
            &pinned,
            Err(JwsError::SignatureInvalid),
        );
        check(
            &rebuild(&protected, &payload, &signature, r#","header":{"kid":"x"}"#),
            &pinned,
            Err(JwsError::UnprotectedHeader),
        );
        check(
            &rebuild(&format!("{protected}="), &payload, &signature, ""),
            &pinned,
            Err(JwsError::Base64 {
                part: JwsPart::Protected,
            }),
        );
        check(
            &rebuild(&protected, &payload, &format!("{signature}="), ""),
            &pinned,
            Err(JwsError::Base64 {
                part: JwsPart::Signature,
            }),
        );
        check(
            &rebuild(&protected, &payload, "", ""),
            &pinned,
            Err(JwsError::SignatureInvalid),
        );
        let mut flipped = b64url_decode(&signature).unwrap();
        flipped[10] ^= 1;
        check(
            &rebuild(&protected, &payload, &b64url_encode(&flipped), ""),
            &pinned,
            Err(JwsError::SignatureInvalid),
        );
        assert!(matches!(
            verify(&bytes, TYP, &pinned, bytes.len() - 1),
            Err(JwsError::TooLarge { len, max }) if len == bytes.len() && max == bytes.len() - 1
        ));
    }

    #[test]
    fn pinned_keys() {
        let (signing, pinned) = key(SignatureAlgorithm::Es256);
        let from_pem = PinnedKey::from_pem(Backend::default(), &pinned.to_pem()).unwrap();
        assert_eq!(from_pem.key_id(), pinned.key_id());
        assert_eq!(from_pem.spki_der(), signing.public_key_spki_der());
        assert_eq!(from_pem.key_id().len(), 43);
        assert_eq!(
            PinnedKey::from_pem(Backend::default(), "nothing").err(),
            Some(PinnedKeyError::Pem)
        );
        assert!(matches!(
            PinnedKey::from_spki_der(Backend::default(), b"\x30\x00"),
            Err(PinnedKeyError::Key(_))
        ));
        let rsa = SigningKey::generate(Backend::default(), SignatureAlgorithm::Ps256).unwrap();
        assert_eq!(
            PinnedKey::from_spki_der(Backend::default(), &rsa.public_key_spki_der()).err(),
            Some(PinnedKeyError::UnsupportedAlgorithm {
                algorithm: SignatureAlgorithm::Ps256
            })
        );
    }

    #[test]
    fn signing_refuses_mismatched_or_unsupported_signers() {
        let (signing, _) = key(SignatureAlgorithm::Es256);
        let (other, _) = key(SignatureAlgorithm::Es256);
        let (ed, _) = key(SignatureAlgorithm::EdDsa);
        let rsa = SigningKey::generate(Backend::default(), SignatureAlgorithm::Ps256).unwrap();
        let err = |signer: &SigningKey, spki: &[u8]| sign(TYP, 1, b"{}", signer, spki).err();
        assert_eq!(
            err(&signing, &other.public_key_spki_der()),
            Some(BuildError::SelfCheck)
        );
        assert_eq!(
            err(&signing, &ed.public_key_spki_der()),
            Some(BuildError::SignerKeyMismatch)
        );
        assert_eq!(
            err(&rsa, &rsa.public_key_spki_der()),
            Some(BuildError::UnsupportedSigner {
                algorithm: SignatureAlgorithm::Ps256
            })
        );
        assert!(matches!(
            err(&signing, b"junk"),
            Some(BuildError::SignerKey(_))
        ));
        let document = sign(TYP, 7, b"{}", &signing, &signing.public_key_spki_der()).unwrap();
        assert_eq!(document.version(), 7);
        assert!(document.etag().starts_with('"') && document.etag().len() == 45);
    }
}
