//! The one error type of the crate: one variant per layer that can fail.

/// Why an `HC1:` string (or one of its inner layers) could not be decoded.
///
/// Variants follow the layers from the outside in; each maps to one verification code in the `verifier`
/// crate. Messages never quote the input, so they are safe to log.
///
/// Exhaustive on purpose (no `#[non_exhaustive]`): the `verifier` crate names every variant, so a new one
/// is a compile error there rather than a silently wrong code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is longer than a QR code can hold; nothing was decoded.
    #[error("input of {len} characters exceeds the maximum of {max}")]
    InputTooLarge {
        /// Length of the input in characters (bytes of UTF-8).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text does not start with the `HC1:` context identifier.
    #[error("missing or wrong context identifier (expected \"HC1:\")")]
    Prefix,
    /// The text after the prefix is not strict Base45 (RFC 9285).
    #[error("invalid Base45 at character {position}")]
    Base45 {
        /// Byte offset of the first offending character or group, counted from after the prefix.
        position: usize,
    },
    /// The bytes are not one complete zlib stream (RFC 1950), or trailing bytes follow it.
    #[error("invalid zlib stream: {reason}")]
    Zlib {
        /// What is wrong with the stream.
        reason: &'static str,
    },
    /// The zlib stream inflates to more than the cap.
    #[error("decompressed payload exceeds {max} bytes")]
    DecompressedTooLarge {
        /// The cap in bytes.
        max: usize,
    },
    /// The bytes are not one well-formed CBOR item within the nesting and size limits.
    #[error("malformed CBOR: {reason}")]
    Cbor {
        /// What is malformed.
        reason: &'static str,
    },
    /// Well-formed CBOR that is not a COSE_Sign1 message.
    #[error("not a COSE_Sign1 message: {reason}")]
    CoseStructure {
        /// What does not fit.
        reason: &'static str,
    },
    /// The protected header is not a serialised map of known, unique labels.
    #[error("invalid protected header: {reason}")]
    ProtectedHeader {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Neither header names an algorithm.
    #[error("no algorithm in the COSE headers")]
    AlgMissing,
    /// The algorithm is not ES256, PS256 or EdDSA.
    #[error("unsupported algorithm {alg}")]
    AlgUnsupported {
        /// The algorithm as received, rendered for display (an integer, or "text").
        alg: String,
    },
    /// The CWT claims are missing, duplicated or ill-typed, or carry no decodable DCC.
    #[error("invalid CWT claims: {reason}")]
    Claims {
        /// What is wrong with them.
        reason: &'static str,
    },
}
