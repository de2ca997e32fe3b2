//! Issuance: from a confirmed dose to a signed EU Digital COVID Certificate, recorded in a durable
//! ledger and served to the registry over an authenticated internal API.
//!
//! The pure part takes no clock and does no I/O: a [`DoseConfirmation`] from the registry is validated
//! against the value sets into a [`ValidatedDose`] (names transliterated per ICAO 9303 when the registry
//! gives no `fnt`/`gnt`), then an [`Issuer`] signs it under a fresh [`Uvci`] and verifies the result with
//! the `verifier` library before returning it: a certificate that does not verify is never released.
//!
//! The service part owns storage and HTTP: [`ledger`] (SQLite or PostgreSQL, exactly one certificate per
//! dose event by a unique constraint), [`service`] (confirm, correct, revoke, renew — nothing is handed
//! out before the ledger has it), [`correction`] (who may supersede a dose event), [`bulk`] (the same rules
//! over a batch, for back-filling), [`api`] (the axum router: internal API and published documents),
//! [`publication`] (the signed trust and revocation lists) and [`tokens`] (the API's bearer tokens).
//!
//! [`render_pdf`] draws a certificate as a printable bilingual A4 page (pure, no I/O).

pub mod api;
pub mod bulk;
pub mod citizen;
mod confirmation;
pub mod correction;
mod error;
mod issue;
pub mod ledger;
mod parse;
mod printable;
pub mod publication;
pub mod service;
pub mod tokens;
mod transliterate;
mod uvci;

pub use confirmation::{
    DEPRECATED_VP, DoseConfirmation, FIRST_VACCINATION_DATE, MAX_DOSES, Person, Provenance,
    Vaccination, ValidatedDose,
};
pub use error::{
    FieldError, FieldReason, IssueError, TransliterationError, Untransliterable, UvciError,
};
pub use issue::{DCC_VERSION, IssuedCertificate, Issuer, IssuerConfig, UncheckedCertificate};
pub use parse::{ParseError, parse_confirmation};
pub use printable::{Printable, PrintableError, QR_SIDE_MM, render_pdf};
pub use transliterate::{
    MAX_COMBINING_MARKS_PER_LETTER, MAX_MRZ_NAME_CHARS, check_name_characters, is_valid_mrz_name,
    transliterate,
};
pub use uvci::{MAX_UVCI_CHARS, UVCI_PREFIX, Uvci, luhn_mod_n_check_character};
