//! The HCERT verification policy.
//!
//! Every check of `design.md` in its fixed order — image, prefix, base45, decompress, cose, kid, signature,
//! claims, revocation, expiry, dsc_validity, key_usage, country, schema — returning one [`Report`]. Checks up
//! to the signature stop at the first failure: nothing in the payload is read before the signature holds
//! (hcert §6.3). After it, every check runs, so a report can say "signature pass, expiry fail, schema pass".
//!
//! The library does no I/O: the caller passes the trust store (or the signed documents it is built from,
//! [`verifier_from_documents`]), the value sets and the validation clock.

mod display;
mod documents;
mod report;
mod value_sets;
mod verify;

pub use display::escape_for_display;
pub use documents::{
    DEFAULT_TRUST_LIST_MAX_AGE_HOURS, DocumentsError, SignedDocument, TrustDocuments,
    verifier_from_documents, verifier_from_trust_list,
};
pub use report::{Check, CheckState, Checks, Code, Holder, MinimalReport, Report, TrustListStatus};
pub use trust_list::{TrustStore, TrustedDsc};
pub use value_sets::{BUILT_IN_COMMIT, BUILT_IN_VALUE_SETS};
pub use verify::{Detail, Input, VerifiedCertificate, Verifier};
