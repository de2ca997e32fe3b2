//! Bulk issuance: the internal API's rules applied to a batch of dose confirmations at once, for
//! back-filling a campaign (`vaxcert issue --from`).
//!
//! The same rules as `POST /internal/v1/dose-confirmations`: a line is parsed by
//! [`parse_confirmation`] (errors name fields, never values); a dose event the ledger holds with the same
//! canonical hash is *already issued* (no new signature), with another hash a *conflict*; a line that
//! does not parse or validate is *invalid*; a certificate that fails the self-check is never recorded.
//! A batch is [`prepare`]d (parsed, looked up, validated, signed and self-checked on every core) and then
//! [`record`]ed in one ledger transaction, so the caller can prepare batch *k + 1* while batch *k* is
//! recorded. The caller owns the input, the output and the pipelining; nothing here touches a file.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hcert::ValueSets;
use rayon::prelude::*;

use crate::citizen::{PortalSecret, holder_contact};
use crate::confirmation::DoseConfirmation;
use crate::error::{FieldError, FieldReason, IssueError};
use crate::issue::{IssuedCertificate, Issuer};
use crate::ledger::{
    CertificateRecord, CorrectionRefusal, CorrectionRights, HolderContact, Issuance, Ledger,
    LedgerError, Recorded,
};
use crate::parse::{ParseError, parse_confirmation};
use crate::service::IssuanceService;
use crate::uvci::Uvci;

/// The actor of the audit entries a bulk run writes. The operator may correct any client's dose event
/// (the same-person and only-once rules still hold).
pub const BULK_ACTOR: &str = "cli";

/// A line longer than this is refused unread (a dose confirmation is well under 2 KiB).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One line of input, as the caller read it.
#[derive(Debug)]
pub struct Line {
    /// Its number in the input, from 1.
    pub number: u64,
    /// Its bytes without the line break, or why it could not be read.
    pub text: Result<Vec<u8>, LineProblem>,
}

/// Why a line is invalid, in words that quote nothing from the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// Longer than [`MAX_LINE_BYTES`].
    #[error("longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    /// Not a dose confirmation.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// A rule of validation.
    #[error("{0}")]
    Field(FieldError),
}

/// What became of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome {
    /// A new certificate, recorded.
    Issued,
    /// The ledger holds this dose event with the same body: nothing new.
    AlreadyIssued,
    /// The ledger holds this dose event with another body: nothing recorded.
    Conflict,
    /// A correction refused for what the ledger holds, not for a field (corrected already): nothing
    /// recorded.
    CorrectionRefused(CorrectionRefusal),
    /// The line is not an issuable dose confirmation.
    Invalid(LineProblem),
    /// The certificate failed the self-check: nothing recorded.
    SelfCheckFailed(verifier::Code),
}

/// Why a batch stops the run (the lines' own problems are [`LineOutcome`]s).
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The ledger could not be read.
    #[error("cannot read the ledger")]
    Ledger(#[source] LedgerError),
    /// Issuing failed for a reason that is not the line's: keys, randomness.
    #[error("cannot issue (line {line})")]
    Issue {
        /// The line being issued.
        line: u64,
        /// What failed.
        #[source]
        source: IssueError,
    },
    /// The system gave no randomness to seal a holder's contact details with.
    #[error("cannot seal a holder's contact details (line {line})")]
    Randomness {
        /// The line being issued.
        line: u64,
    },
    /// A worker thread panicked or was cancelled.
    #[error("a worker thread failed")]
    Worker,
}

/// Wall-clock time of the stages of [`prepare`].
#[derive(Debug, Default, Clone, Copy)]
pub struct PrepareTimings {
    /// Parsing and hashing.
    pub parse: Duration,
    /// Looking the dose events up in the ledger.
    pub lookup: Duration,
    /// Validating, signing and self-checking.
    pub sign: Duration,
}

/// A certificate signed for a line, waiting for its transaction.
struct SignedLine {
    line: u64,
    dose_event_id: String,
    request_hash: [u8; 32],
    request_json: String,
    supersedes: Option<String>,
    certificate: IssuedCertificate,
    contact: Option<HolderContact>,
}

/// A batch parsed, looked up, validated and signed: nothing is recorded yet.
pub struct PreparedBatch {
    now: i64,
    settled: Vec<(u64, LineOutcome)>,
    signed: Vec<SignedLine>,
    already_issued: Vec<String>,
    timings: PrepareTimings,
}

impl PreparedBatch {
    /// The dose events the ledger already held with the same body.
    pub fn already_issued(&self) -> &[String] {
        &self.already_issued
    }

    /// The dose events signed and about to be recorded.
    pub fn to_record(&self) -> impl Iterator<Item = &str> {
        self.signed
            .iter()
            .map(|signed| signed.dose_event_id.as_str())
    }

    /// Where the time went.
    pub fn timings(&self) -> PrepareTimings {
        self.timings
    }
}

/// What the ledger made of a batch.
#[derive(Debug)]
pub struct RecordedBatch {
    /// Every line's outcome, in line order.
    pub outcomes: Vec<(u64, LineOutcome)>,
    /// The certificates newly recorded, in line order: their transactions committed, hand them out.
    pub issued: Vec<CertificateRecord>,
    /// The error that stopped recording; what came before it is committed and in `outcomes`.
    pub error: Option<LedgerError>,
}

/// Parses, looks up, validates and signs `lines` at the service's clock; records nothing.
///
/// # Errors
/// [`BulkError`] when the ledger cannot be read or issuing fails for a reason that is not the line's.
pub async fn prepare(
    service: &IssuanceService,
    lines: Vec<Line>,
) -> Result<PreparedBatch, BulkError> {
    let now = service.now();
    let mut timings = PrepareTimings::default();
    let start = Instant::now();
    let parsed = on_worker(move || {
        lines
            .into_par_iter()
            .map(|line| (line.number, line.text.and_then(|text| parse_line(&text))))
            .collect::<Vec<_>>()
    })
    .await?;
    timings.parse = start.elapsed();

    let start = Instant::now();
    let ids: Vec<&str> = parsed
        .iter()
        .filter_map(|(_, parsed)| parsed.as_ref().ok())
        .map(|(confirmation, _)| confirmation.dose_event_id.as_str())
        .collect();
    let recorded: HashMap<String, [u8; 32]> = service
        .ledger()
        .recorded_dose_events(&ids)
        .await
        .map_err(BulkError::Ledger)?
        .into_iter()
        .collect();
    drop(ids);
    timings.lookup = start.elapsed();

    let mut settled = Vec::new();
    let mut already_issued = Vec::new();
    let mut to_sign = Vec::new();
    for (number, parsed) in parsed {
        let (confirmation, hash) = match parsed {
            Ok(parsed) => parsed,
            Err(problem) => {
                settled.push((number, LineOutcome::Invalid(problem)));
                continue;
            }
        };
        match recorded.get(&confirmation.dose_event_id) {
            Some(recorded_hash) if *recorded_hash == hash => {
                settled.push((number, LineOutcome::AlreadyIssued));
                already_issued.push(confirmation.dose_event_id);
            }
            Some(_) => settled.push((number, LineOutcome::Conflict)),
            None => to_sign.push((number, confirmation, hash)),
        }
    }

    let issuer = std::sync::Arc::clone(service.issuer());
    let value_sets = std::sync::Arc::clone(service.value_sets());
    let portal = service.portal_secret().cloned();
    let start = Instant::now();
    let results = on_worker(move || {
        to_sign
            .into_par_iter()
            .map(|(number, confirmation, hash)| {
                let result = sign_line(
                    &issuer,
                    &value_sets,
                    portal.as_deref(),
                    now,
                    number,
                    confirmation,
                    hash,
                );
                (number, result)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    timings.sign = start.elapsed();
    let mut signed = Vec::with_capacity(results.len());
    for (line, result) in results {
        match result {
            Ok(Ok(one)) => signed.push(one),
            Ok(Err(outcome)) => settled.push((line, outcome)),
            Err(error) => return Err(error),
        }
    }
    Ok(PreparedBatch {
        now,
        settled,
        signed,
        already_issued,
        timings,
    })
}

/// Records a prepared batch in one transaction. A batch refused because of a correction (an unknown dose
/// event, another person's, one corrected already) is recorded again line by line, so that only that line
/// fails.
pub async fn record(ledger: &Ledger, batch: PreparedBatch) -> RecordedBatch {
    let issuances: Vec<Issuance<'_>> = batch
        .signed
        .iter()
        .map(|signed| Issuance {
            dose_event_id: &signed.dose_event_id,
            request_hash: signed.request_hash,
            request_json: &signed.request_json,
            supersedes: signed.supersedes.as_deref(),
            certificate: &signed.certificate,
            actor: BULK_ACTOR,
            corrections: CorrectionRights::Any,
            contact: signed.contact.as_ref(),
        })
        .collect();
    let (written, error) = write(ledger, &issuances, batch.now).await;
    drop(issuances);

    let mut outcomes = batch.settled;
    let mut issued = Vec::new();
    for (signed, written) in batch.signed.iter().zip(written) {
        let outcome = match written {
            Written::Recorded(recorded) => match *recorded {
                Recorded::Issued(record) => {
                    issued.push(record);
                    LineOutcome::Issued
                }
                Recorded::AlreadyRecorded { event, .. }
                    if event.request_hash == signed.request_hash =>
                {
                    LineOutcome::AlreadyIssued
                }
                Recorded::AlreadyRecorded { .. } => LineOutcome::Conflict,
            },
            Written::Refused(refusal) => refused_correction(refusal),
        };
        outcomes.push((signed.line, outcome));
    }
    outcomes.sort_by_key(|(number, _)| *number);
    RecordedBatch {
        outcomes,
        issued,
        error,
    }
}

/// What the ledger answered for a signed line.
enum Written {
    Recorded(Box<Recorded>),
    /// The correction was refused: nothing recorded for this line.
    Refused(CorrectionRefusal),
}

/// The ledger's answers, in order, and the error that stopped it (answers before it are committed).
async fn write(
    ledger: &Ledger,
    issuances: &[Issuance<'_>],
    now: i64,
) -> (Vec<Written>, Option<LedgerError>) {
    if issuances.is_empty() {
        return (Vec::new(), None);
    }
    match ledger.record_issuances(issuances, now).await {
        Ok(recorded) if recorded.len() == issuances.len() => (
            recorded
                .into_iter()
                .map(|one| Written::Recorded(Box::new(one)))
                .collect(),
            None,
        ),
        Ok(_) => (
            Vec::new(),
            Some(LedgerError::Corrupt(
                "record_issuances answered a different count",
            )),
        ),
        Err(LedgerError::Correction(_)) => {
            let mut written = Vec::with_capacity(issuances.len());
            for issuance in issuances {
                match ledger.record_issuance(issuance, now).await {
                    Ok(recorded) => written.push(Written::Recorded(Box::new(recorded))),
                    Err(LedgerError::Correction(refusal)) => {
                        written.push(Written::Refused(refusal))
                    }
                    Err(error) => return (written, Some(error)),
                }
            }
            (written, None)
        }
        Err(error) => (Vec::new(), Some(error)),
    }
}

/// A refused correction as a line's outcome: a field's fault (unknown dose event, another person's) is
/// *invalid*, the ledger's state (corrected already) a refusal.
fn refused_correction(refusal: CorrectionRefusal) -> LineOutcome {
    let invalid = |reason| {
        LineOutcome::Invalid(LineProblem::Field(FieldError {
            field: "supersedes_dose_event_id",
            reason,
        }))
    };
    match refusal {
        CorrectionRefusal::UnknownDoseEvent => invalid(FieldReason::UnknownDoseEvent),
        CorrectionRefusal::DifferentPerson => invalid(FieldReason::DifferentPerson),
        CorrectionRefusal::OtherClient | CorrectionRefusal::AlreadyCorrected => {
            LineOutcome::CorrectionRefused(refusal)
        }
    }
}

/// Parses one line into a confirmation and its canonical hash.
fn parse_line(text: &[u8]) -> Result<(DoseConfirmation, [u8; 32]), LineProblem> {
    let confirmation = parse_confirmation(text)?;
    let hash = confirmation.canonical_hash();
    Ok((confirmation, hash))
}

/// Validates and signs one confirmation. The outer error stops the run (keys, randomness); the inner one
/// is the line's outcome.
fn sign_line(
    issuer: &Issuer,
    value_sets: &ValueSets,
    portal: Option<&PortalSecret>,
    now: i64,
    line: u64,
    confirmation: DoseConfirmation,
    request_hash: [u8; 32],
) -> Result<Result<SignedLine, LineOutcome>, BulkError> {
    let dose = match confirmation.validate(value_sets, now) {
        Ok(dose) => dose,
        Err(error) => return Ok(Err(LineOutcome::Invalid(LineProblem::Field(error)))),
    };
    let uvci = Uvci::generate().map_err(|error| BulkError::Issue {
        line,
        source: error.into(),
    })?;
    let certificate = match issuer.issue(&dose, now, uvci) {
        Ok(certificate) => certificate,
        Err(IssueError::SelfCheck { code }) => return Ok(Err(LineOutcome::SelfCheckFailed(code))),
        Err(source) => return Err(BulkError::Issue { line, source }),
    };
    let contact =
        holder_contact(portal, &confirmation.person).map_err(|_| BulkError::Randomness { line })?;
    let request_json = confirmation.without_contact_details().canonical_json();
    Ok(Ok(SignedLine {
        line,
        request_hash,
        request_json,
        supersedes: confirmation.supersedes_dose_event_id,
        dose_event_id: confirmation.dose_event_id,
        certificate,
        contact,
    }))
}

/// Runs CPU work off the async runtime (on rayon's pool when `work` uses it).
async fn on_worker<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BulkError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| BulkError::Worker)
}
