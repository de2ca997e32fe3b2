//! The issuing service: what the internal API, bulk issuance and the renewal and revocation commands
//! do, over an [`Issuer`] and a [`Ledger`]. Nothing leaves before the ledger has it.

use std::sync::Arc;

use hcert::ValueSets;

use crate::citizen::{PortalSecret, holder_contact};
use crate::confirmation::DoseConfirmation;
use crate::correction;
use crate::error::{FieldError, FieldReason, IssueError, UvciError};
use crate::issue::Issuer;
use crate::ledger::{
    CertificateRecord, CertificateStatus, CorrectionRefusal, CorrectionRights, Issuance, Ledger,
    LedgerError, Recorded,
};
use crate::uvci::Uvci;

/// The time source, seconds since the epoch: the system clock in production, a fixed one in tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| time::OffsetDateTime::now_utc().unix_timestamp())
}

/// How a dose confirmation was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// A new certificate (HTTP 201).
    Issued(CertificateRecord),
    /// The identical request was answered before: the same certificate (HTTP 200).
    Replayed(CertificateRecord),
}

/// Why a request to the service was refused. Messages carry no personal data and no UVCI.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field failed validation (HTTP 422).
    #[error("invalid dose confirmation: {0}")]
    Invalid(FieldError),
    /// The dose event was confirmed before with another body (HTTP 409).
    #[error("this dose event was confirmed before with a different body")]
    Conflict,
    /// A correction of a dose event another client confirmed, from a client that may correct only its
    /// own (HTTP 403): nothing was recorded.
    #[error("the superseded dose event was confirmed by another client")]
    CorrectionForbidden,
    /// A correction of a dose event that another correction superseded already (HTTP 409): nothing was
    /// recorded.
    #[error("the superseded dose event was corrected already")]
    AlreadyCorrected,
    /// No such certificate or dose event (HTTP 404).
    #[error("not found")]
    NotFound,
    /// The certificate's status does not allow the change (HTTP 409).
    #[error("the certificate is {}", .0.as_str())]
    WrongStatus(CertificateStatus),
    /// The ledger is unavailable (HTTP 503): nothing was issued.
    #[error("the ledger is unavailable")]
    Unavailable(#[source] LedgerError),
    /// Issuing failed (HTTP 500): the DSC is outside its validity, the signer failed, or the
    /// certificate did not pass the self-check. Nothing was released.
    #[error("issuing failed: {0}")]
    Issue(#[from] IssueError),
    /// The ledger refused or returned something it should not have (HTTP 500).
    #[error("ledger error: {0}")]
    Ledger(#[source] LedgerError),
    /// The system gave no randomness to seal the holder's phone number with (HTTP 500): nothing was
    /// recorded.
    #[error("no randomness to seal the holder's contact details")]
    Randomness,
}

impl From<LedgerError> for ServiceError {
    fn from(error: LedgerError) -> ServiceError {
        match error {
            LedgerError::Unavailable(_) => ServiceError::Unavailable(error),
            LedgerError::NotFound => ServiceError::NotFound,
            LedgerError::WrongStatus(status) => ServiceError::WrongStatus(status),
            LedgerError::Correction(refusal) => refusal.into(),
            other => ServiceError::Ledger(other),
        }
    }
}

impl From<CorrectionRefusal> for ServiceError {
    fn from(refusal: CorrectionRefusal) -> ServiceError {
        let invalid = |reason| {
            ServiceError::Invalid(FieldError {
                field: "supersedes_dose_event_id",
                reason,
            })
        };
        match refusal {
            CorrectionRefusal::UnknownDoseEvent => invalid(FieldReason::UnknownDoseEvent),
            CorrectionRefusal::DifferentPerson => invalid(FieldReason::DifferentPerson),
            CorrectionRefusal::OtherClient => ServiceError::CorrectionForbidden,
            CorrectionRefusal::AlreadyCorrected => ServiceError::AlreadyCorrected,
        }
    }
}

impl From<UvciError> for ServiceError {
    fn from(error: UvciError) -> ServiceError {
        ServiceError::Issue(IssueError::Uvci(error))
    }
}

/// Why a certificate is revoked: a code, never free text (the audit log holds no personal data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    /// Issued by mistake (wrong person, dose not given).
    IssuedInError,
    /// Obtained by fraud.
    Fraud,
    /// Replaced by a corrected certificate.
    Corrected,
    /// The signing key is compromised.
    KeyCompromise,
    /// Any other reason recorded elsewhere.
    Other,
}

impl RevocationReason {
    /// Every reason, for parsers and help texts.
    pub const ALL: [RevocationReason; 5] = [
        RevocationReason::IssuedInError,
        RevocationReason::Fraud,
        RevocationReason::Corrected,
        RevocationReason::KeyCompromise,
        RevocationReason::Other,
    ];

    /// The code stored in the ledger: `issued-in-error`, `fraud`, `corrected`, `key-compromise`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::IssuedInError => "issued-in-error",
            RevocationReason::Fraud => "fraud",
            RevocationReason::Corrected => "corrected",
            RevocationReason::KeyCompromise => "key-compromise",
            RevocationReason::Other => "other",
        }
    }

    /// The reason with this code.
    pub fn parse(code: &str) -> Option<RevocationReason> {
        RevocationReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == code)
    }
}

/// What a renewal run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenewalSummary {
    /// Certificates re-signed (the old ones are now superseded).
    pub renewed: u64,
    /// Certificates that could not be re-signed (their dose no longer validates, say); still active.
    pub failed: u64,
    /// Certificates left as they are because a renewal would expire no later (the signing DSC's
    /// notAfter caps it: rotate the DSC).
    pub not_extended: u64,
}

/// The issuing service.
pub struct IssuanceService {
    issuer: Arc<Issuer>,
    ledger: Arc<Ledger>,
    value_sets: Arc<ValueSets>,
    clock: Clock,
    portal: Option<Arc<PortalSecret>>,
}

impl std::fmt::Debug for IssuanceService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuanceService")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Certificates looked at per page of a renewal run.
const RENEWAL_PAGE: i64 = 1_000;

impl IssuanceService {
    /// A service issuing with `issuer` into `ledger`, validating against `value_sets`, at `clock`'s time.
    pub fn new(
        issuer: Arc<Issuer>,
        ledger: Arc<Ledger>,
        value_sets: Arc<ValueSets>,
        clock: Clock,
    ) -> IssuanceService {
        IssuanceService {
            issuer,
            ledger,
            value_sets,
            clock,
            portal: None,
        }
    }

    /// Records, with each certificate, who may download it from the citizen portal: the keyed hashes
    /// and the sealed phone number of the holder's `id_number` and `phone`, under `secret`. Without it,
    /// or when the registry sends no `id_number` and `phone`, nothing is recorded for the portal.
    pub fn with_portal_secret(mut self, secret: Arc<PortalSecret>) -> IssuanceService {
        self.portal = Some(secret);
        self
    }

    /// The citizen portal's secret, when contact details are recorded.
    pub fn portal_secret(&self) -> Option<&Arc<PortalSecret>> {
        self.portal.as_ref()
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The issuer.
    pub fn issuer(&self) -> &Arc<Issuer> {
        &self.issuer
    }

    /// The value sets confirmations are validated against.
    pub fn value_sets(&self) -> &Arc<ValueSets> {
        &self.value_sets
    }

    /// The service's clock.
    pub fn clock(&self) -> Clock {
        Arc::clone(&self.clock)
    }

    /// The current time from the service's clock.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Answers a dose confirmation from `actor`, who may correct the dose events of `corrections`: the
    /// certificate already recorded for an identical request, or a new one — validated, signed,
    /// self-checked and recorded before it is returned. A correction (`supersedes_dose_event_id`) must
    /// follow the rules of [`crate::correction`]; the superseded dose event's certificates are revoked
    /// in the same transaction.
    ///
    /// # Errors
    /// [`ServiceError::Conflict`] when the dose event was confirmed with another body (compared by
    /// canonical hash); [`ServiceError::Invalid`] naming the field (`supersedes_dose_event_id` for an
    /// unknown superseded dose event or another person's); [`ServiceError::CorrectionForbidden`];
    /// [`ServiceError::AlreadyCorrected`]; [`ServiceError::Unavailable`] when the ledger cannot be
    /// reached (nothing is released); [`ServiceError::Issue`].
    pub async fn confirm(
        &self,
        confirmation: DoseConfirmation,
        actor: &str,
        corrections: CorrectionRights,
    ) -> Result<Confirmed, ServiceError> {
        let request_hash = confirmation.canonical_hash();
        if let Some((event, certificate)) =
            self.ledger.dose_event(&confirmation.dose_event_id).await?
        {
            return replay(event.request_hash, request_hash, certificate);
        }

        let now = self.now();
        let dose = confirmation
            .validate(&self.value_sets, now)
            .map_err(ServiceError::Invalid)?;
        if let Some(superseded) = &confirmation.supersedes_dose_event_id {
            // Refuse before signing; the recording transaction checks again, atomically.
            self.check_correction(&confirmation, superseded, actor, corrections)
                .await?;
        }

        let issuer = Arc::clone(&self.issuer);
        let certificate = tokio::task::spawn_blocking(move || {
            let uvci = Uvci::generate()?;
            issuer.issue(&dose, now, uvci).map_err(ServiceError::from)
        })
        .await
        .map_err(|_| ServiceError::Issue(IssueError::Interrupted))??;

        let request_json = confirmation.without_contact_details().canonical_json();
        let contact = holder_contact(self.portal.as_deref(), &confirmation.person)
            .map_err(|_| ServiceError::Randomness)?;
        let issuance = Issuance {
            dose_event_id: &confirmation.dose_event_id,
            request_hash,
            request_json: &request_json,
            supersedes: confirmation.supersedes_dose_event_id.as_deref(),
            certificate: &certificate,
            actor,
            corrections,
            contact: contact.as_ref(),
        };
        match self.ledger.record_issuance(&issuance, now).await? {
            Recorded::Issued(record) => Ok(Confirmed::Issued(record)),
            Recorded::AlreadyRecorded { event, certificate } => {
                replay(event.request_hash, request_hash, certificate)
            }
        }
    }

    /// The rules of [`crate::correction`], against the ledger as it is now.
    async fn check_correction(
        &self,
        confirmation: &DoseConfirmation,
        superseded: &str,
        actor: &str,
        corrections: CorrectionRights,
    ) -> Result<(), ServiceError> {
        let event = if superseded == confirmation.dose_event_id {
            None
        } else {
            self.ledger.dose_event(superseded).await?
        };
        let recorded = event.as_ref().map(|(event, _)| correction::Recorded {
            confirmed_by: event.confirmed_by.as_deref(),
            request_json: &event.request_json,
        });
        if let Some(refusal) =
            correction::refusal(recorded, actor, corrections, Some(&confirmation.person.dob))
        {
            return Err(refusal.into());
        }
        if event.is_some_and(|(event, _)| event.superseded_by.is_some()) {
            return Err(CorrectionRefusal::AlreadyCorrected.into());
        }
        Ok(())
    }

    /// The certificate with this UVCI.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Unavailable`].
    pub async fn certificate(&self, uvci: &str) -> Result<CertificateRecord, ServiceError> {
        self.ledger
            .certificate(uvci)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Revokes the certificate with this UVCI; its hashes go on the next revocation list.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::WrongStatus`] if it is revoked already;
    /// [`ServiceError::Unavailable`].
    pub async fn revoke(
        &self,
        uvci: &str,
        reason: RevocationReason,
        actor: &str,
    ) -> Result<CertificateRecord, ServiceError> {
        Ok(self
            .ledger
            .revoke(uvci, reason.as_str(), actor, self.now())
            .await?)
    }

    /// Re-signs every active certificate expiring within `window_s` seconds under a new UVCI; the old
    /// one becomes superseded (still verifiable until it expires). Certificates signed during this run
    /// are not renewed again, and one whose renewal would not expire later (the DSC's notAfter caps it)
    /// is left as it is and counted. `progress` is called after each candidate.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] (the run stops; what was renewed stays renewed).
    pub async fn renew_expiring(
        &self,
        window_s: i64,
        actor: &str,
        mut progress: impl FnMut(&RenewalSummary),
    ) -> Result<RenewalSummary, ServiceError> {
        let now = self.now();
        let until = now.saturating_add(window_s);
        let renewal_exp = now
            .saturating_add(self.issuer.config().validity_s)
            .min(self.issuer.dsc().not_after());
        let mut summary = RenewalSummary::default();
        let mut signed_now = std::collections::HashSet::new();
        let mut after = now;
        loop {
            let page = self.ledger.expiring(after, until, RENEWAL_PAGE).await?;
            let Some(last) = page.last() else { break };
            let last_exp = last.exp;
            let renewed_before = summary.renewed;
            for old in &page {
                if signed_now.contains(&old.uvci) {
                    continue;
                }
                if renewal_exp <= old.exp {
                    summary.not_extended += 1;
                } else {
                    match self.renew_one(old, now, actor).await {
                        Ok(uvci) => {
                            signed_now.insert(uvci);
                            summary.renewed += 1;
                        }
                        Err(ServiceError::Unavailable(error)) => {
                            return Err(ServiceError::Unavailable(error));
                        }
                        Err(_) => summary.failed += 1,
                    }
                }
                progress(&summary);
            }
            // Renewed certificates leave the active set; a page that renewed nothing holds only
            // certificates that stay, which would come back: move past them.
            if summary.renewed == renewed_before {
                after = last_exp;
            }
        }
        Ok(summary)
    }

    /// Re-signs one certificate from the dose event the ledger kept; the new UVCI.
    async fn renew_one(
        &self,
        old: &CertificateRecord,
        now: i64,
        actor: &str,
    ) -> Result<String, ServiceError> {
        let (event, _) = self
            .ledger
            .dose_event(&old.dose_event_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let confirmation: DoseConfirmation = serde_json::from_str(&event.request_json)
            .map_err(|_| ServiceError::Ledger(LedgerError::Corrupt("request_json")))?;
        let dose = confirmation
            .validate(&self.value_sets, now)
            .map_err(ServiceError::Invalid)?;
        let issuer = Arc::clone(&self.issuer);
        let renewal = tokio::task::spawn_blocking(move || {
            let uvci = Uvci::generate()?;
            issuer.issue(&dose, now, uvci).map_err(ServiceError::from)
        })
        .await
        .map_err(|_| ServiceError::Issue(IssueError::Interrupted))??;
        let record = self
            .ledger
            .record_renewal(&old.uvci, &renewal, actor, now)
            .await?;
        Ok(record.uvci)
    }
}

/// The answer to a dose event seen before: the same certificate if the bodies agree, else a conflict.
fn replay(
    recorded_hash: [u8; 32],
    request_hash: [u8; 32],
    certificate: CertificateRecord,
) -> Result<Confirmed, ServiceError> {
    if recorded_hash == request_hash {
        Ok(Confirmed::Replayed(certificate))
    } else {
        Err(ServiceError::Conflict)
    }
}
