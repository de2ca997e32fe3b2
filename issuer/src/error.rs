//! Errors, one enum per concern. None quotes a name, a date of birth or a UVCI.

use thiserror::Error;

/// Why a name does not transliterate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Untransliterable {
    /// A control character (C0, C1, DEL).
    #[error("a control character is not allowed")]
    Control,
    /// A bidirectional formatting character (LRM, RLO, isolates, …).
    #[error("a bidirectional formatting character is not allowed")]
    Bidi,
    /// A character with no ICAO 9303 transliteration (CJK, digits, symbols, …).
    #[error("a character has no ICAO 9303 transliteration")]
    Unsupported,
    /// A line-breaking character (CR, LF, NEL, U+2028, U+2029, …).
    #[error("a line break is not allowed")]
    LineBreak,
    /// A character that shows nothing (zero-width space, joiner or non-joiner, soft hyphen, word joiner,
    /// byte order mark, tag characters, …): two names that look alike would differ.
    #[error("an invisible character (zero-width, soft hyphen, byte order mark, …) is not allowed")]
    Invisible,
    /// A variation selector (U+FE00–U+FE0F, U+E0100–U+E01EF, the Mongolian ones).
    #[error("a variation selector is not allowed")]
    VariationSelector,
    /// More combining marks on one letter than Vietnamese uses (two, decomposed: a vowel mark and a
    /// tone mark).
    #[error("more than two combining marks on one letter")]
    TooManyCombiningMarks,
}

/// A name that does not transliterate, with the request field it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct TransliterationError {
    /// The JSON path of the field, such as `"person.gn"`.
    pub field: &'static str,
    /// What was wrong.
    pub reason: Untransliterable,
}

/// A UVCI that is not well formed or whose check character is wrong, or one that could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UvciError {
    /// Not of the expected form.
    #[error("the UVCI is malformed")]
    Malformed,
    /// Well formed, but the check character is wrong.
    #[error("the UVCI check character is wrong")]
    CheckCharacter,
    /// The operating system gave no randomness for a new UVCI.
    #[error("no randomness for a new UVCI")]
    Randomness,
}

/// Why a field of a dose confirmation was refused (the 422 answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FieldReason {
    /// Required and absent or empty.
    #[error("missing")]
    Missing,
    /// Longer than allowed.
    #[error("too long")]
    TooLong,
    /// A code outside its value set.
    #[error("not in the value set")]
    NotInValueSet,
    /// A value-set code that is deprecated: accepted on verification, never issued.
    #[error("deprecated: not issued")]
    Deprecated,
    /// The product, vaccine type and manufacturer together are not allowed by the vaccine encoding
    /// instructions (or those were not loaded).
    #[error("combination not allowed by the vaccine encoding instructions")]
    CombinationNotAllowed,
    /// A dose number or series length outside `1..=9` (the DCC schema's bounds).
    #[error("must be between 1 and 9")]
    DoseOutOfRange,
    /// A dose number above the series length. A booster after a complete primary series is encoded
    /// n/n (EU guidance of December 2021); the issuer never rewrites the registry's record.
    #[error(
        "greater than sd: a booster after a complete primary series is encoded n/n \
         (3/3 for a first booster after two doses, 2/2 after a one-dose vaccine, 4/4 for a second booster)"
    )]
    DoseAfterSeries,
    /// Not a real date of the required form.
    #[error("not a valid date")]
    InvalidDate,
    /// A date after the current one.
    #[error("in the future")]
    InFuture,
    /// A vaccination date before the date of birth.
    #[error("before the date of birth")]
    BeforeBirth,
    /// A vaccination date before 2020-12-01, when COVID-19 vaccination outside trials began.
    #[error("before 2020-12-01, when COVID-19 vaccination outside trials began")]
    BeforeVaccinationsBegan,
    /// A machine-readable name that does not match `^[A-Z<]*$` with at most 80 characters.
    #[error("not a valid machine-readable name")]
    InvalidMrzName,
    /// A machine-readable name (`fnt`/`gnt`) that is not the ICAO 9303 transliteration of the name as
    /// written (`fn`/`gn`).
    #[error("not the ICAO 9303 transliteration of the name as written")]
    MrzNameMismatch,
    /// A name that does not transliterate.
    #[error("{0}")]
    Name(Untransliterable),
    /// A dose event the ledger does not hold (a correction's `supersedes_dose_event_id`).
    #[error("no such dose event")]
    UnknownDoseEvent,
    /// A correction whose holder is not the superseded dose event's: their dates of birth disagree
    /// ([`crate::correction::same_person`]).
    #[error("not the same person as the superseded dose event")]
    DifferentPerson,
    /// The `Idempotency-Key` header is not the body's `dose_event_id`.
    #[error("does not match dose_event_id")]
    KeyMismatch,
}

/// A dose confirmation refused, naming the field by its JSON path (`"vaccination.mp"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The JSON path of the field.
    pub field: &'static str,
    /// What was wrong.
    pub reason: FieldReason,
}

impl From<TransliterationError> for FieldError {
    fn from(err: TransliterationError) -> FieldError {
        FieldError {
            field: err.field,
            reason: FieldReason::Name(err.reason),
        }
    }
}

/// Why no certificate was issued.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The signing DSC is not valid yet at the issuing time.
    #[error("the DSC is not valid before {not_before} (issuing at {now})")]
    DscNotYetValid {
        /// Issuing time, seconds since the epoch.
        now: i64,
        /// The DSC's notBefore.
        not_before: i64,
    },
    /// The signing DSC has expired at the issuing time.
    #[error("the DSC expired at {not_after} (issuing at {now})")]
    DscExpired {
        /// Issuing time, seconds since the epoch.
        now: i64,
        /// The DSC's notAfter.
        not_after: i64,
    },
    /// The signer's algorithm is not one the EU DCC allows for issuing (ES256, PS256).
    #[error("the signer's algorithm {0} is not used for issuing")]
    UnsupportedAlgorithm(&'static str),
    /// The issuing time is not a representable instant.
    #[error("the issuing time is out of range")]
    TimeOutOfRange,
    /// The payload could not be encoded.
    #[error("encoding failed: {0}")]
    Encode(#[from] hcert::Error),
    /// The signer made no signature.
    #[error("signing failed")]
    Sign(#[from] keys::SignatureError),
    /// No UVCI could be made.
    #[error("no UVCI: {0}")]
    Uvci(#[from] UvciError),
    /// The signing task was cancelled or panicked.
    #[error("the signing task was interrupted")]
    Interrupted,
    /// The certificate just made does not verify against our own trust list: it is never released.
    #[error("self-check failed: {}", code.as_str())]
    SelfCheck {
        /// The verifier's code.
        code: verifier::Code,
    },
}
