//! Issuance: from a confirmed dose to a signed EU Digital COVID Certificate.
//!
//! A [`DoseConfirmation`] from the registry is validated against the value sets into a
//! [`ValidatedDose`] (names transliterated per ICAO 9303 when the registry gives no `fnt`/`gnt`), then an
//! [`Issuer`] signs it under a fresh [`Uvci`] and verifies the result with the `verifier` library before
//! returning it: a certificate that does not verify is never released.
//!
//! No I/O and no clock: the caller passes the value sets, the keys, the verifier and `now`.

mod confirmation;
mod error;
mod issue;
mod transliterate;
mod uvci;

pub use confirmation::{
    DEPRECATED_VP, DoseConfirmation, Person, Provenance, Vaccination, ValidatedDose,
};
pub use error::{
    FieldError, FieldReason, IssueError, TransliterationError, Untransliterable, UvciError,
};
pub use issue::{DCC_VERSION, IssuedCertificate, Issuer, IssuerConfig};
pub use transliterate::{MAX_MRZ_NAME_CHARS, is_valid_mrz_name, transliterate};
pub use uvci::{MAX_UVCI_CHARS, UVCI_PREFIX, Uvci, luhn_mod_n_check_character};
