//! Signed lists of DSCs, and the store a verifier looks kids up in.
//!
//! - **The national list** ([`TrustListBuilder`], [`TrustList`]): our DSCs with a version, an issue time
//!   and an expiry, published as a JWS in flattened JSON serialization (RFC 7515 §7.2.2) signed with
//!   ES256 or EdDSA by a key verifiers pin out of band ([`PinnedKey`]) — never by a key or certificate
//!   carried in the list. A foreign system checks it with any JOSE library, or with nothing but the
//!   pinned key, base64 and a JSON parser.
//! - **The EU gateway entry shape** ([`GatewayEntry`]) and **the CSCA anchors** ([`anchors_to_json`]).
//! - **Import** ([`import`]): foreign DSCs (either shape) are accepted only when they chain directly to
//!   a CSCA of their own country; each rejection carries a typed reason. [`import_without_csca`] does
//!   every check but the chain, for lists trusted for how they were obtained.
//! - **Revocation** ([`RevocationList`]): 16-byte SHA-256 prefixes of UVCIs, country + UVCIs and
//!   signatures, in the same envelope.
//! - **Freshness** ([`TrustListState`], [`RevocationListState`]): refuses rollbacks and expired lists,
//!   keeps the last good list, reports staleness.
//! - **The store** ([`TrustStore`]): kid → every DSC listed under it, keys prepared once, O(1) lookups.
//!
//! No I/O and no clock: callers pass bytes and the time (Unix seconds). Inputs are bounded
//! ([`MAX_DOCUMENT_BYTES`]) before any parsing.

mod anchors;
mod encoding;
mod entry;
mod freshness;
mod gateway;
mod import;
mod jws;
mod national;
mod revocation;
mod store;

pub use anchors::{
    AnchorEntry, AnchorError, anchors_from_json, anchors_from_json_with_limit, anchors_to_json,
};
pub use entry::EntryError;
pub use freshness::{
    Accepted, Freshness, ListState, Refused, RevocationListState, TrustListState, VersionedList,
};
pub use gateway::{
    GatewayEntry, GatewayError, gateway_from_json, gateway_from_json_with_limit, gateway_to_json,
};
pub use import::{ImportEntry, ImportError, ImportOutcome, Rejection, import, import_without_csca};
pub use jws::{
    BuildError, JwsError, JwsPart, MAX_DOCUMENT_BYTES, PinnedKey, PinnedKeyError, SignedDocument,
};
pub use national::{
    DscEntry, ListedDsc, TrustList, TrustListBuilder, TrustListError, TrustListPayload,
};
pub use revocation::{
    HashType, RevocationEntry, RevocationError, RevocationHash, RevocationList,
    RevocationListBuilder, RevocationListPayload, RevocationQuery, country_uci_hash,
    signature_hash, uci_hash,
};
pub use store::{TrustStore, TrustedDsc};
