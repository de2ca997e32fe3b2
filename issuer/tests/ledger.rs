//! The certificate ledger on every backend (SQLite always, PostgreSQL when `DATABASE_URL` is set):
//! exactly-once issuance, corrections, revocation, renewal, the expiry window, the revocation hashes and
//! version, the audit log (in order, without personal data), API clients, bulk issuance, durability
//! and integrity.
//!
//! The batch rate is printed: `cargo test -p issuer --release --test ledger batch_rate -- --nocapture`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod fixtures;
mod support;

use std::sync::Arc;
use std::time::Instant;

use fixtures::{confirmation_body, dose_event_id, inline_value_sets};
use issuer::ledger::{
    AuditEntry, CertificateRecord, CertificateStatus, CorrectionRefusal, CorrectionRights,
    Issuance, Ledger, LedgerBackend, LedgerError, Recorded, RevokedHashes, Scope,
};
use issuer::{DoseConfirmation, IssuedCertificate, Issuer, IssuerConfig, Uvci};
use keys::test_pki::test_pki;
use keys::{Backend, Signer};
use sha2::{Digest, Sha256};
use verifier::{TrustStore, Verifier};

/// 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000;
const DAY: i64 = 86_400;
const YEAR: i64 = 365 * DAY;

/// The test person: these must never appear in the audit log.
const NAME: &str = "NGUYỄN Thị Hoa";
const NAME_ICAO: &str = "NGUYEN<THI<HOA";
const DOB: &str = "1987-06-05";

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

/// A real certificate of the test person, issued and self-checked by the test PKI's ES256 DSC at `NOW`
/// (a day before `exp` when that is earlier), expiring at `exp` (`Issuer::check` is the only way to an
/// `IssuedCertificate`).
fn certificate(exp: i64) -> IssuedCertificate {
    let iat = NOW.min(exp - DAY);
    let dsc = &test_pki().es256;
    let value_sets = Arc::new(inline_value_sets());
    let mut store = TrustStore::new(Backend::default());
    store.insert(dsc.certificate.clone());
    let verifier = Verifier::new(Arc::new(store), Some(Arc::clone(&value_sets)));
    let config = IssuerConfig {
        validity_s: exp - iat,
        ..IssuerConfig::default()
    };
    let signer: Arc<dyn Signer> = Arc::new(dsc.signer_for(Backend::default()).unwrap());
    let issuer = Issuer::new(signer, dsc.certificate.clone(), verifier, config);
    let confirmation: DoseConfirmation =
        serde_json::from_value(confirmation_body(&dose_event_id())).unwrap();
    let dose = confirmation.validate(&value_sets, iat).unwrap();
    let certificate = issuer.issue(&dose, iat, Uvci::generate().unwrap()).unwrap();
    assert_eq!(certificate.exp(), exp);
    certificate
}

/// The canonical request JSON of a dose event (without id number and phone), with personal data.
fn request_json(dose_event_id: &str) -> String {
    request_json_born(dose_event_id, DOB)
}

/// [`request_json`] of someone born on `dob`.
fn request_json_born(dose_event_id: &str, dob: &str) -> String {
    serde_json::json!({
        "dose_event_id": dose_event_id,
        "person": {"family_name": "Nguyễn", "given_name": "Thị Hoa", "name": NAME,
                   "fnt": "NGUYEN", "gnt": "THI<HOA", "icao": NAME_ICAO, "dob": dob},
        "vaccination": {"date": "2021-09-01", "dose_number": 2, "total_doses": 2}
    })
    .to_string()
}

fn hash(json: &str) -> [u8; 32] {
    Sha256::digest(json.as_bytes()).into()
}

/// What a test records for one dose event.
struct Event {
    id: String,
    json: String,
    certificate: IssuedCertificate,
    supersedes: Option<String>,
    actor: &'static str,
    corrections: CorrectionRights,
}

impl Event {
    fn new(exp: i64) -> Event {
        let id = format!("dose-{}", hex::encode(random::<8>()));
        Event {
            json: request_json(&id),
            id,
            certificate: certificate(exp),
            supersedes: None,
            actor: "registry",
            corrections: CorrectionRights::OwnOnly,
        }
    }

    fn correcting(superseded: &str, exp: i64) -> Event {
        Event {
            supersedes: Some(superseded.to_owned()),
            ..Event::new(exp)
        }
    }

    fn issuance(&self) -> Issuance<'_> {
        Issuance {
            dose_event_id: &self.id,
            request_hash: hash(&self.json),
            request_json: &self.json,
            supersedes: self.supersedes.as_deref(),
            certificate: &self.certificate,
            actor: self.actor,
            corrections: self.corrections,
            contact: None,
        }
    }
}

async fn issue(ledger: &Ledger, event: &Event) -> CertificateRecord {
    match ledger
        .record_issuance(&event.issuance(), NOW)
        .await
        .unwrap()
    {
        Recorded::Issued(record) => record,
        other => panic!("expected Issued, got {other:?}"),
    }
}

fn assert_matches(record: &CertificateRecord, certificate: &IssuedCertificate) {
    assert_eq!(record.uvci, certificate.uvci().as_str());
    assert_eq!(record.hc1, certificate.hc1());
    assert_eq!(record.iat, certificate.iat());
    assert_eq!(record.exp, certificate.exp());
    assert_eq!(record.kid, certificate.kid().to_string());
    assert_eq!(record.payload_hash, certificate.payload_hash());
    assert_eq!(record.uci_hash, certificate.uci_hash());
    assert_eq!(record.country_uci_hash, certificate.country_uci_hash());
    assert_eq!(record.signature_hash, certificate.signature_hash());
}

async fn all_audit(ledger: &Ledger) -> Vec<AuditEntry> {
    ledger.audit_log(0, 10_000).await.unwrap()
}

#[tokio::test]
async fn a_dose_event_is_recorded_once() {
    for (backend, ledger) in support::ledgers().await {
        let first = Event::new(NOW + YEAR);
        let recorded = issue(&ledger, &first).await;
        assert_matches(&recorded, &first.certificate);
        assert_eq!(recorded.dose_event_id, first.id);
        assert_eq!(recorded.generation, 0);
        assert_eq!(recorded.status, CertificateStatus::Active);
        assert_eq!(recorded.status_reason, None);

        // The same dose event again, with another certificate (and another body): nothing recorded.
        let twin = Event {
            id: first.id.clone(),
            json: format!("{} ", first.json),
            ..Event::new(NOW + YEAR)
        };
        match ledger
            .record_issuance(&twin.issuance(), NOW + 5)
            .await
            .unwrap()
        {
            Recorded::AlreadyRecorded { event, certificate } => {
                assert_eq!(certificate, recorded, "{backend:?}");
                assert_eq!(event.dose_event_id, first.id);
                assert_eq!(event.request_hash, hash(&first.json));
                assert_eq!(event.request_json, first.json);
                assert_eq!(event.supersedes, None);
                assert_eq!(event.received_at, NOW);
            }
            other => panic!("{backend:?}: expected AlreadyRecorded, got {other:?}"),
        }
        assert_eq!(ledger.counts().await.unwrap(), (1, 1), "{backend:?}");
        assert_eq!(
            ledger
                .certificate(first.certificate.uvci().as_str())
                .await
                .unwrap(),
            Some(recorded.clone())
        );
        assert_eq!(
            ledger
                .certificate(twin.certificate.uvci().as_str())
                .await
                .unwrap(),
            None
        );
        let (event, certificate) = ledger.dose_event(&first.id).await.unwrap().unwrap();
        assert_eq!(event.request_hash, hash(&first.json));
        assert_eq!(certificate, recorded);
        assert_eq!(ledger.dose_event("dose-unknown").await.unwrap(), None);
        assert_eq!(all_audit(&ledger).await.len(), 1, "{backend:?}");
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_confirmations_of_one_dose_event_record_one_certificate() {
    for (backend, ledger) in support::ledgers().await {
        let ledger = Arc::new(ledger);
        let id = format!("dose-{}", hex::encode(random::<8>()));
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let ledger = Arc::clone(&ledger);
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                let event = Event {
                    json: request_json(&id),
                    id,
                    ..Event::new(NOW + YEAR)
                };
                ledger.record_issuance(&event.issuance(), NOW).await
            }));
        }
        // Other dose events at the same time: every one recorded, none refused for a busy database.
        for _ in 0..100 {
            let ledger = Arc::clone(&ledger);
            tasks.push(tokio::spawn(async move {
                let event = Event::new(NOW + YEAR);
                ledger.record_issuance(&event.issuance(), NOW).await
            }));
        }
        let mut issued = Vec::new();
        let mut replayed = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(Recorded::Issued(record)) => issued.push(record),
                Ok(Recorded::AlreadyRecorded { certificate, .. }) => replayed.push(certificate),
                Err(error) => panic!("{backend:?}: {error}"),
            }
        }
        let mine: Vec<_> = issued.iter().filter(|r| r.dose_event_id == id).collect();
        assert_eq!(mine.len(), 1, "{backend:?}: exactly one Issued");
        assert_eq!(issued.len(), 101, "{backend:?}");
        assert_eq!(replayed.len(), 199, "{backend:?}");
        assert!(replayed.iter().all(|r| r == mine[0]), "{backend:?}");
        assert_eq!(ledger.certificates_of(&id).await.unwrap().len(), 1);
        assert_eq!(ledger.counts().await.unwrap(), (101, 101), "{backend:?}");
        let audit = all_audit(&ledger).await;
        assert_eq!(audit.len(), 101, "{backend:?}");
        let seqs: Vec<i64> = audit.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=101).collect::<Vec<_>>(), "{backend:?}");
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn a_correction_revokes_the_superseded_certificates() {
    for (backend, ledger) in support::ledgers().await {
        let wrong = Event::new(NOW + YEAR);
        let first = issue(&ledger, &wrong).await;
        let renewal = certificate(NOW + 2 * YEAR);
        let renewed = ledger
            .record_renewal(&first.uvci, &renewal, "cli", NOW + DAY)
            .await
            .unwrap();
        let other = Event::new(NOW + YEAR);
        let untouched = issue(&ledger, &other).await;

        let correction = Event::correcting(&wrong.id, NOW + YEAR);
        let corrected = issue(&ledger, &correction).await;
        assert_eq!(corrected.status, CertificateStatus::Active);
        let (event, _) = ledger.dose_event(&correction.id).await.unwrap().unwrap();
        assert_eq!(event.supersedes.as_deref(), Some(wrong.id.as_str()));

        for uvci in [&first.uvci, &renewed.uvci] {
            let record = ledger.certificate(uvci).await.unwrap().unwrap();
            assert_eq!(record.status, CertificateStatus::Revoked, "{backend:?}");
            assert_eq!(record.status_reason.as_deref(), Some("corrected"));
            assert_eq!(record.status_changed_at, Some(NOW));
        }
        let record = ledger.certificate(&untouched.uvci).await.unwrap().unwrap();
        assert_eq!(record.status, CertificateStatus::Active);

        let revoked = ledger.revoked_hashes(NOW).await.unwrap();
        assert_eq!(revoked.len(), 2, "{backend:?}");
        assert!(revoked.contains(&RevokedHashes {
            uci: wrong.certificate.uci_hash(),
            country_uci: wrong.certificate.country_uci_hash(),
            signature: wrong.certificate.signature_hash(),
        }));

        let audit = all_audit(&ledger).await;
        let tail: Vec<_> = audit
            .iter()
            .skip(4)
            .map(|e| {
                (
                    e.action.as_str(),
                    e.dose_event_id.as_deref(),
                    e.detail.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            tail,
            [
                ("issue", Some(correction.id.as_str()), None),
                ("revoke", Some(wrong.id.as_str()), Some("corrected")),
                ("revoke", Some(wrong.id.as_str()), Some("corrected")),
            ],
            "{backend:?}"
        );

        // The corrected dose event says which dose event corrected it, and who confirmed each.
        let (superseded, _) = ledger.dose_event(&wrong.id).await.unwrap().unwrap();
        assert_eq!(
            superseded.superseded_by.as_deref(),
            Some(correction.id.as_str())
        );
        assert_eq!(superseded.confirmed_by.as_deref(), Some("registry"));
        assert_eq!(event.superseded_by, None);
        assert_eq!(event.confirmed_by.as_deref(), Some("registry"));

        // Only one correction wins: correcting it again is refused and records nothing.
        let again = Event::correcting(&wrong.id, NOW + YEAR);
        let error = ledger
            .record_issuance(&again.issuance(), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                LedgerError::Correction(CorrectionRefusal::AlreadyCorrected)
            ),
            "{backend:?}: {error:?}"
        );
        assert_eq!(ledger.dose_event(&again.id).await.unwrap(), None);
        assert_eq!(all_audit(&ledger).await.len(), audit.len());
        // The correction itself can be corrected.
        issue(&ledger, &Event::correcting(&correction.id, NOW + YEAR)).await;
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn an_unknown_superseded_dose_event_records_nothing() {
    for (backend, ledger) in support::ledgers().await {
        let correction = Event::correcting("dose-never-seen", NOW + YEAR);
        let error = ledger
            .record_issuance(&correction.issuance(), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                LedgerError::Correction(CorrectionRefusal::UnknownDoseEvent)
            ),
            "{backend:?}: {error:?}"
        );
        assert_eq!(ledger.counts().await.unwrap(), (0, 0));
        assert_eq!(ledger.dose_event(&correction.id).await.unwrap(), None);
        assert!(all_audit(&ledger).await.is_empty());

        // A dose event cannot correct itself.
        let mut selfish = Event::new(NOW + YEAR);
        selfish.supersedes = Some(selfish.id.clone());
        let error = ledger
            .record_issuance(&selfish.issuance(), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                LedgerError::Correction(CorrectionRefusal::UnknownDoseEvent)
            ),
            "{backend:?}: {error:?}"
        );
        assert_eq!(ledger.counts().await.unwrap(), (0, 0));

        // The dose event can still be recorded afterwards.
        issue(&ledger, &correction_without_supersedes(&correction)).await;
        assert_eq!(ledger.counts().await.unwrap(), (1, 1));
    }
}

fn correction_without_supersedes(event: &Event) -> Event {
    Event {
        id: event.id.clone(),
        json: event.json.clone(),
        certificate: certificate(NOW + YEAR),
        supersedes: None,
        actor: event.actor,
        corrections: event.corrections,
    }
}

/// How a refused correction came back.
fn refusal(result: Result<Recorded, LedgerError>) -> CorrectionRefusal {
    match result {
        Err(LedgerError::Correction(refusal)) => refusal,
        other => panic!("expected a refused correction, got {other:?}"),
    }
}

#[tokio::test]
async fn corrections_are_scoped_to_the_confirming_client_and_the_same_person() {
    for (backend, ledger) in support::ledgers().await {
        let original = Event::new(NOW + YEAR);
        let issued = issue(&ledger, &original).await;
        let audit = all_audit(&ledger).await.len();

        // Another client that may correct only its own: refused, nothing recorded.
        let mut other = Event::correcting(&original.id, NOW + YEAR);
        other.actor = "other-registry";
        let refused = refusal(ledger.record_issuance(&other.issuance(), NOW).await);
        assert_eq!(refused, CorrectionRefusal::OtherClient, "{backend:?}");
        // Another person (a date of birth that disagrees): refused, whoever asks.
        let mut stranger = Event::correcting(&original.id, NOW + YEAR);
        stranger.json = request_json_born(&stranger.id, "1987-06-06");
        let refused = refusal(ledger.record_issuance(&stranger.issuance(), NOW).await);
        assert_eq!(refused, CorrectionRefusal::DifferentPerson, "{backend:?}");
        stranger.corrections = CorrectionRights::Any;
        let refused = refusal(ledger.record_issuance(&stranger.issuance(), NOW).await);
        assert_eq!(refused, CorrectionRefusal::DifferentPerson, "{backend:?}");

        assert_eq!(ledger.counts().await.unwrap(), (1, 1), "{backend:?}");
        assert_eq!(all_audit(&ledger).await.len(), audit);
        let (event, certificate) = ledger.dose_event(&original.id).await.unwrap().unwrap();
        assert_eq!(certificate.status, CertificateStatus::Active);
        assert_eq!(certificate.uvci, issued.uvci);
        assert_eq!(event.superseded_by, None);

        // Another client with the right to correct any dose event, for the same person written with
        // less precision (the year of birth only): accepted.
        let mut corrector = Event::correcting(&original.id, NOW + YEAR);
        corrector.actor = "ministry";
        corrector.corrections = CorrectionRights::Any;
        corrector.json = request_json_born(&corrector.id, &DOB[..4]);
        issue(&ledger, &corrector).await;
        let old = ledger.certificate(&issued.uvci).await.unwrap().unwrap();
        assert_eq!(old.status, CertificateStatus::Revoked, "{backend:?}");
        let (event, _) = ledger.dose_event(&corrector.id).await.unwrap().unwrap();
        assert_eq!(event.confirmed_by.as_deref(), Some("ministry"));

        // The confirming client may correct its own dose event without any right beyond `issue`.
        let own = Event::new(NOW + YEAR);
        issue(&ledger, &own).await;
        issue(&ledger, &Event::correcting(&own.id, NOW + YEAR)).await;
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn twenty_concurrent_corrections_of_one_dose_event_leave_one_active_certificate() {
    for (backend, ledger) in support::ledgers().await {
        let ledger = Arc::new(ledger);
        let original = Event::new(NOW + YEAR);
        issue(&ledger, &original).await;
        let corrections: Vec<Arc<Event>> = (0..20)
            .map(|_| Arc::new(Event::correcting(&original.id, NOW + YEAR)))
            .collect();
        let tasks: Vec<_> = corrections
            .iter()
            .map(|event| {
                let ledger = Arc::clone(&ledger);
                let event = Arc::clone(event);
                tokio::spawn(async move { ledger.record_issuance(&event.issuance(), NOW).await })
            })
            .collect();
        let mut winners = Vec::new();
        for (task, event) in tasks.into_iter().zip(&corrections) {
            match task.await.unwrap() {
                Ok(Recorded::Issued(_)) => winners.push(event.id.clone()),
                other => {
                    assert_eq!(refusal(other), CorrectionRefusal::AlreadyCorrected);
                    assert_eq!(ledger.dose_event(&event.id).await.unwrap(), None);
                }
            }
        }
        assert_eq!(winners.len(), 1, "{backend:?}");

        let mut active = Vec::new();
        for id in std::iter::once(&original.id).chain(corrections.iter().map(|e| &e.id)) {
            for certificate in ledger.certificates_of(id).await.unwrap() {
                if certificate.status == CertificateStatus::Active {
                    active.push(certificate.dose_event_id);
                }
            }
        }
        assert_eq!(active, winners, "{backend:?}");
        let (event, _) = ledger.dose_event(&original.id).await.unwrap().unwrap();
        assert_eq!(event.superseded_by.as_ref(), winners.first());
        assert_eq!(ledger.counts().await.unwrap(), (2, 2), "{backend:?}");
        // One issue and one revocation per recorded dose event: the refused ones left no trace.
        assert_eq!(all_audit(&ledger).await.len(), 3, "{backend:?}");
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn bulk_corrections_follow_the_same_rules() {
    for (backend, ledger) in support::ledgers().await {
        let originals: Vec<Event> = (0..3).map(|_| Event::new(NOW + YEAR)).collect();
        for event in &originals {
            issue(&ledger, event).await;
        }
        let operator = |mut event: Event| {
            event.actor = "cli";
            event.corrections = CorrectionRights::Any;
            event
        };

        // Two corrections of one dose event in a batch: the batch is refused, nothing recorded.
        let twice = [
            operator(Event::correcting(&originals[0].id, NOW + YEAR)),
            operator(Event::correcting(&originals[0].id, NOW + YEAR)),
        ];
        let issuances: Vec<_> = twice.iter().map(Event::issuance).collect();
        let refused = refusal(
            ledger
                .record_issuances(&issuances, NOW)
                .await
                .map(|_| panic!("{backend:?}: a batch correcting one dose event twice")),
        );
        assert_eq!(refused, CorrectionRefusal::AlreadyCorrected, "{backend:?}");

        // Another person: refused even for the operator.
        let mut stranger = operator(Event::correcting(&originals[1].id, NOW + YEAR));
        stranger.json = request_json_born(&stranger.id, "1990");
        let issuances = [Event::new(NOW + YEAR), stranger];
        let batch: Vec<_> = issuances.iter().map(Event::issuance).collect();
        let refused = refusal(
            ledger
                .record_issuances(&batch, NOW)
                .await
                .map(|_| panic!("{backend:?}: another person's correction")),
        );
        assert_eq!(refused, CorrectionRefusal::DifferentPerson, "{backend:?}");
        assert_eq!(ledger.counts().await.unwrap(), (3, 3), "{backend:?}");

        // The operator corrects what the registry confirmed; then nobody corrects it again.
        let fixes = [
            operator(Event::correcting(&originals[0].id, NOW + YEAR)),
            operator(Event::correcting(&originals[1].id, NOW + YEAR)),
        ];
        let batch: Vec<_> = fixes.iter().map(Event::issuance).collect();
        let results = ledger.record_issuances(&batch, NOW).await.unwrap();
        assert!(results.iter().all(|r| matches!(r, Recorded::Issued(_))));
        let (event, certificate) = ledger.dose_event(&originals[1].id).await.unwrap().unwrap();
        assert_eq!(event.superseded_by.as_deref(), Some(fixes[1].id.as_str()));
        assert_eq!(
            certificate.status,
            CertificateStatus::Revoked,
            "{backend:?}"
        );
        let late = Event::correcting(&originals[1].id, NOW + YEAR);
        let refused = refusal(ledger.record_issuance(&late.issuance(), NOW).await);
        assert_eq!(refused, CorrectionRefusal::AlreadyCorrected, "{backend:?}");
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn revocation() {
    for (backend, ledger) in support::ledgers().await {
        let event = Event::new(NOW + YEAR);
        let issued = issue(&ledger, &event).await;
        let revoked = ledger
            .revoke(&issued.uvci, "fraud", "registry", NOW + DAY)
            .await
            .unwrap();
        assert_eq!(revoked.status, CertificateStatus::Revoked, "{backend:?}");
        assert_eq!(revoked.status_reason.as_deref(), Some("fraud"));
        assert_eq!(revoked.status_changed_at, Some(NOW + DAY));
        assert_eq!(revoked.uvci, issued.uvci);
        assert_eq!(revoked.hc1, issued.hc1);
        assert_eq!(
            ledger.certificate(&issued.uvci).await.unwrap(),
            Some(revoked.clone())
        );

        let again = ledger
            .revoke(&issued.uvci, "other", "registry", NOW + 2 * DAY)
            .await
            .unwrap_err();
        assert!(
            matches!(again, LedgerError::WrongStatus(CertificateStatus::Revoked)),
            "{backend:?}: {again:?}"
        );
        let unknown = ledger
            .revoke("URN:UVCI:01:VN:UNKNOWN", "fraud", "registry", NOW)
            .await
            .unwrap_err();
        assert!(matches!(unknown, LedgerError::NotFound), "{unknown:?}");

        // A superseded certificate can be revoked too.
        let event = Event::new(NOW + YEAR);
        let old = issue(&ledger, &event).await;
        ledger
            .record_renewal(&old.uvci, &certificate(NOW + YEAR), "cli", NOW)
            .await
            .unwrap();
        let revoked = ledger
            .revoke(&old.uvci, "issued-in-error", "registry", NOW)
            .await
            .unwrap();
        assert_eq!(revoked.status, CertificateStatus::Revoked);

        let audit = all_audit(&ledger).await;
        let revocations: Vec<_> = audit.iter().filter(|e| e.action == "revoke").collect();
        assert_eq!(revocations.len(), 2, "{backend:?}");
        assert_eq!(revocations[0].uvci.as_deref(), Some(issued.uvci.as_str()));
        assert_eq!(
            revocations[0].dose_event_id.as_deref(),
            Some(event_id(&issued))
        );
        assert_eq!(revocations[0].detail.as_deref(), Some("fraud"));
        assert_eq!(revocations[0].actor, "registry");
        assert_eq!(revocations[0].at, NOW + DAY);
    }
}

fn event_id(record: &CertificateRecord) -> &str {
    &record.dose_event_id
}

#[tokio::test]
async fn renewal() {
    for (backend, ledger) in support::ledgers().await {
        let event = Event::new(NOW + 30 * DAY);
        let old = issue(&ledger, &event).await;
        let renewal = certificate(NOW + YEAR);
        let new = ledger
            .record_renewal(&old.uvci, &renewal, "cli", NOW + DAY)
            .await
            .unwrap();
        assert_matches(&new, &renewal);
        assert_eq!(new.generation, 1, "{backend:?}");
        assert_eq!(new.dose_event_id, event.id);
        assert_eq!(new.status, CertificateStatus::Active);
        assert_eq!(
            ledger.certificate(&new.uvci).await.unwrap(),
            Some(new.clone())
        );

        let superseded = ledger.certificate(&old.uvci).await.unwrap().unwrap();
        assert_eq!(superseded.status, CertificateStatus::Superseded);
        assert_eq!(superseded.superseded_by.as_deref(), Some(new.uvci.as_str()));
        assert_eq!(superseded.status_changed_at, Some(NOW + DAY));

        let all = ledger.certificates_of(&event.id).await.unwrap();
        assert_eq!(all.iter().map(|c| c.generation).collect::<Vec<_>>(), [0, 1]);
        // The dose event's first certificate is still generation 0.
        let (_, first) = ledger.dose_event(&event.id).await.unwrap().unwrap();
        assert_eq!(first.uvci, old.uvci);

        // Only an active certificate is renewed.
        let error = ledger
            .record_renewal(&old.uvci, &certificate(NOW + YEAR), "cli", NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                LedgerError::WrongStatus(CertificateStatus::Superseded)
            ),
            "{backend:?}: {error:?}"
        );
        let newer = ledger
            .record_renewal(
                &new.uvci,
                &certificate(NOW + 2 * YEAR),
                "cli",
                NOW + 2 * DAY,
            )
            .await
            .unwrap();
        assert_eq!(newer.generation, 2);
        ledger
            .revoke(&newer.uvci, "fraud", "registry", NOW)
            .await
            .unwrap();
        let error = ledger
            .record_renewal(&newer.uvci, &certificate(NOW + YEAR), "cli", NOW)
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            LedgerError::WrongStatus(CertificateStatus::Revoked)
        ));
        let error = ledger
            .record_renewal("URN:UVCI:01:VN:NOPE", &certificate(NOW + YEAR), "cli", NOW)
            .await
            .unwrap_err();
        assert!(matches!(error, LedgerError::NotFound));
        assert_eq!(ledger.counts().await.unwrap(), (1, 3));

        let actions: Vec<_> = all_audit(&ledger)
            .await
            .into_iter()
            .map(|e| (e.action, e.uvci))
            .collect();
        assert_eq!(
            actions[..3],
            [
                ("issue".to_owned(), Some(old.uvci.clone())),
                ("renew".to_owned(), Some(new.uvci.clone())),
                ("supersede".to_owned(), Some(old.uvci.clone())),
            ]
        );
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn expiring_window() {
    for (backend, ledger) in support::ledgers().await {
        let mut records = Vec::new();
        for offset in [10, 20, 30, 40] {
            records.push(issue(&ledger, &Event::new(NOW + offset)).await);
        }
        ledger
            .revoke(&records[1].uvci, "fraud", "registry", NOW)
            .await
            .unwrap();
        let exps =
            |page: Vec<CertificateRecord>| page.iter().map(|r| r.exp - NOW).collect::<Vec<_>>();
        assert_eq!(
            exps(ledger.expiring(NOW + 10, NOW + 30, 10).await.unwrap()),
            [30],
            "{backend:?}"
        );
        assert_eq!(
            exps(ledger.expiring(NOW, NOW + 40, 10).await.unwrap()),
            [10, 30, 40]
        );
        assert_eq!(
            exps(ledger.expiring(NOW, NOW + 40, 2).await.unwrap()),
            [10, 30]
        );
        assert_eq!(
            exps(ledger.expiring(NOW + 9, NOW + 10, 10).await.unwrap()),
            [10]
        );
        assert!(
            ledger
                .expiring(NOW + 40, NOW + 100, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // A renewed certificate leaves the window; its renewal may enter it.
        let renewal = ledger
            .record_renewal(&records[0].uvci, &certificate(NOW + 35), "cli", NOW)
            .await
            .unwrap();
        let page = ledger.expiring(NOW, NOW + 40, 10).await.unwrap();
        assert_eq!(exps(page.clone()), [30, 35, 40]);
        assert_eq!(page[1].uvci, renewal.uvci);
    }
}

#[tokio::test]
async fn revoked_hashes_leave_out_expired_and_unrevoked_certificates() {
    for (backend, ledger) in support::ledgers().await {
        let expired = issue(&ledger, &Event::new(NOW - 1)).await;
        let at_now = issue(&ledger, &Event::new(NOW)).await;
        let live = Event::new(NOW + YEAR);
        let live_record = issue(&ledger, &live).await;
        let active = issue(&ledger, &Event::new(NOW + YEAR)).await;
        let superseded = issue(&ledger, &Event::new(NOW + YEAR)).await;
        ledger
            .record_renewal(&superseded.uvci, &certificate(NOW + YEAR), "cli", NOW)
            .await
            .unwrap();
        for record in [&expired, &at_now, &live_record] {
            ledger
                .revoke(&record.uvci, "fraud", "registry", NOW - 10)
                .await
                .unwrap();
        }
        let hashes = ledger.revoked_hashes(NOW).await.unwrap();
        assert_eq!(
            hashes,
            [RevokedHashes {
                uci: live.certificate.uci_hash(),
                country_uci: live.certificate.country_uci_hash(),
                signature: live.certificate.signature_hash(),
            }],
            "{backend:?}"
        );
        // Earlier, the others had not expired yet.
        assert_eq!(ledger.revoked_hashes(NOW - 2).await.unwrap().len(), 3);
        let _ = active;
    }
}

#[tokio::test]
async fn the_revocation_version_grows_with_every_revocation() {
    for (backend, ledger) in support::ledgers().await {
        assert_eq!(ledger.revocation_version().await.unwrap(), 0);
        let a = Event::new(NOW + YEAR);
        let a_record = issue(&ledger, &a).await;
        let b = issue(&ledger, &Event::new(NOW + YEAR)).await;
        assert_eq!(ledger.revocation_version().await.unwrap(), 0, "{backend:?}");
        ledger
            .revoke(&b.uvci, "fraud", "registry", NOW)
            .await
            .unwrap();
        let v1 = ledger.revocation_version().await.unwrap();
        assert!(v1 > 0, "{backend:?}");
        // Issuing, renewing and refused revocations leave it alone.
        issue(&ledger, &Event::new(NOW + YEAR)).await;
        ledger
            .record_renewal(&a_record.uvci, &certificate(NOW + YEAR), "cli", NOW)
            .await
            .unwrap();
        ledger
            .revoke(&b.uvci, "fraud", "registry", NOW)
            .await
            .unwrap_err();
        assert_eq!(ledger.revocation_version().await.unwrap(), v1);
        // A correction revokes.
        issue(&ledger, &Event::correcting(&a.id, NOW + YEAR)).await;
        let v2 = ledger.revocation_version().await.unwrap();
        assert!(v2 > v1, "{backend:?}");
    }
}

#[tokio::test]
async fn the_audit_log_is_ordered_and_holds_no_personal_data() {
    for (backend, ledger) in support::ledgers().await {
        let a = Event::new(NOW + YEAR);
        let a_record = issue(&ledger, &a).await;
        let renewed = ledger
            .record_renewal(&a_record.uvci, &certificate(NOW + YEAR), "cli", NOW + 1)
            .await
            .unwrap();
        let b = Event::new(NOW + YEAR);
        let b_record = issue(&ledger, &b).await;
        ledger
            .revoke(&b_record.uvci, "fraud", "registry", NOW + 2)
            .await
            .unwrap();
        issue(&ledger, &Event::correcting(&a.id, NOW + YEAR)).await;
        ledger
            .create_client("registry", random(), &[Scope::Issue, Scope::Read], NOW + 3)
            .await
            .unwrap();
        let batch: Vec<Event> = (0..3).map(|_| Event::new(NOW + YEAR)).collect();
        let issuances: Vec<_> = batch.iter().map(Event::issuance).collect();
        ledger.record_issuances(&issuances, NOW + 4).await.unwrap();

        let audit = all_audit(&ledger).await;
        let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "issue",
                "renew",
                "supersede",
                "issue",
                "revoke",
                "issue",
                "revoke",
                "revoke",
                "client_created",
                "issue",
                "issue",
                "issue"
            ],
            "{backend:?}"
        );
        let seqs: Vec<i64> = audit.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
        assert_eq!(audit[4].at, NOW + 2);
        assert_eq!(audit[1].uvci.as_deref(), Some(renewed.uvci.as_str()));

        // Paging.
        let page = ledger.audit_log(4, 3).await.unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6, 7]);
        assert!(ledger.audit_log(12, 10).await.unwrap().is_empty());

        // Ids and reason codes only: none of the person's data, in any form.
        let dump = format!("{audit:?}");
        for personal in [
            NAME,
            NAME_ICAO,
            DOB,
            "Nguyễn",
            "Thị Hoa",
            "NGUYEN",
            "THI<HOA",
        ] {
            assert!(
                !dump.contains(personal),
                "{backend:?}: {personal} in the audit log"
            );
        }
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn api_clients() {
    for (backend, ledger) in support::ledgers().await {
        let token_hash: [u8; 32] = random();
        ledger
            .create_client(
                "registry-hanoi",
                token_hash,
                &[Scope::Issue, Scope::Read, Scope::Issue],
                NOW,
            )
            .await
            .unwrap();
        let client = ledger
            .client_by_token_hash(token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(client.name, "registry-hanoi", "{backend:?}");
        assert_eq!(client.scopes, [Scope::Issue, Scope::Read]);
        assert!(!client.disabled);
        assert_eq!(ledger.client_by_token_hash(random()).await.unwrap(), None);

        let error = ledger
            .create_client("registry-hanoi", random(), &[Scope::Revoke], NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(error, LedgerError::DuplicateClient),
            "{backend:?}: {error:?}"
        );
        // The token of the refused client opens nothing.
        let admin_hash: [u8; 32] = random();
        ledger
            .create_client(
                "admin",
                admin_hash,
                &[Scope::Revoke, Scope::Read, Scope::Issue],
                NOW,
            )
            .await
            .unwrap();
        let admin = ledger
            .client_by_token_hash(admin_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(admin.scopes, [Scope::Revoke, Scope::Read, Scope::Issue]);
        let none_hash: [u8; 32] = random();
        ledger
            .create_client("nobody", none_hash, &[], NOW)
            .await
            .unwrap();
        assert_eq!(
            ledger
                .client_by_token_hash(none_hash)
                .await
                .unwrap()
                .unwrap()
                .scopes,
            []
        );

        let audit = all_audit(&ledger).await;
        assert_eq!(audit.len(), 3);
        assert!(audit.iter().all(|e| e.action == "client_created"));
        assert!(!format!("{audit:?}").contains(&hex::encode(token_hash)));
    }
}

#[tokio::test]
async fn bulk_issuance_mixes_new_and_recorded_dose_events() {
    for (backend, ledger) in support::ledgers().await {
        let before: Vec<Event> = (0..3).map(|_| Event::new(NOW + YEAR)).collect();
        let mut recorded = Vec::new();
        for event in &before {
            recorded.push(issue(&ledger, event).await);
        }

        let mut batch: Vec<Event> = (0..1000).map(|_| Event::new(NOW + YEAR)).collect();
        // Two recorded before, one twice in the batch, one correction of a recorded one.
        batch[10] = correction_without_supersedes(&before[0]);
        batch[500] = correction_without_supersedes(&before[1]);
        batch[700] = correction_without_supersedes(&batch[600]);
        batch[999] = Event::correcting(&before[2].id, NOW + YEAR);
        let issuances: Vec<_> = batch.iter().map(Event::issuance).collect();
        let results = ledger.record_issuances(&issuances, NOW + 1).await.unwrap();
        assert_eq!(results.len(), 1000, "{backend:?}");

        for (i, (result, event)) in results.iter().zip(&batch).enumerate() {
            match (i, result) {
                (
                    10 | 500,
                    Recorded::AlreadyRecorded {
                        event: stored,
                        certificate,
                    },
                ) => {
                    let k = usize::from(i == 500);
                    assert_eq!(certificate, &recorded[k], "{backend:?}");
                    assert_eq!(stored.received_at, NOW);
                    assert_eq!(stored.request_hash, hash(&before[k].json));
                }
                (
                    700,
                    Recorded::AlreadyRecorded {
                        event: stored,
                        certificate,
                    },
                ) => {
                    assert_eq!(certificate.uvci, batch[600].certificate.uvci().as_str());
                    assert_eq!(stored.dose_event_id, batch[600].id);
                    assert_eq!(stored.received_at, NOW + 1);
                }
                (_, Recorded::Issued(record)) if ![10, 500, 700].contains(&i) => {
                    assert_matches(record, &event.certificate);
                    assert_eq!(record.dose_event_id, event.id);
                    assert_eq!(record.generation, 0);
                }
                (i, other) => panic!("{backend:?}: {i}: {other:?}"),
            }
        }
        assert_eq!(
            ledger.counts().await.unwrap(),
            (3 + 997, 3 + 997),
            "{backend:?}"
        );
        // What bulk issuance recorded reads back the same, one at a time.
        for (result, event) in results.iter().zip(&batch).step_by(97) {
            let (stored_event, stored) = ledger.dose_event(&event.id).await.unwrap().unwrap();
            match result {
                Recorded::Issued(record) => {
                    assert_eq!(&stored, record);
                    assert_eq!(stored_event.request_json, event.json);
                    assert_eq!(stored_event.received_at, NOW + 1);
                }
                Recorded::AlreadyRecorded { certificate, .. } => assert_eq!(&stored, certificate),
            }
        }
        // The correction revoked its superseded certificate.
        let corrected = ledger
            .certificate(&recorded[2].uvci)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(corrected.status, CertificateStatus::Revoked);
        assert_eq!(corrected.status_reason.as_deref(), Some("corrected"));
        let audit = all_audit(&ledger).await;
        assert_eq!(audit.len(), 3 + 997 + 1);
        assert!(audit.windows(2).all(|w| w[0].seq + 1 == w[1].seq));

        let ids: Vec<&str> = vec![batch[3].id.as_str(), "dose-unknown", before[0].id.as_str()];
        let found = ledger.recorded_dose_events(&ids).await.unwrap();
        assert_eq!(
            found,
            [
                (batch[3].id.clone(), hash(&batch[3].json)),
                (before[0].id.clone(), hash(&before[0].json)),
            ]
        );

        // The same batch again records nothing.
        let again = ledger.record_issuances(&issuances, NOW + 2).await.unwrap();
        assert!(
            again
                .iter()
                .all(|r| matches!(r, Recorded::AlreadyRecorded { .. }))
        );
        assert_eq!(ledger.counts().await.unwrap(), (1000, 1000));

        // An unknown superseded dose event fails the whole batch: nothing recorded.
        let failing = [
            Event::new(NOW + YEAR),
            Event::correcting("dose-never-seen", NOW + YEAR),
        ];
        let issuances: Vec<_> = failing.iter().map(Event::issuance).collect();
        let error = ledger.record_issuances(&issuances, NOW).await.unwrap_err();
        assert!(
            matches!(
                error,
                LedgerError::Correction(CorrectionRefusal::UnknownDoseEvent)
            ),
            "{backend:?}: {error:?}"
        );
        assert_eq!(ledger.counts().await.unwrap(), (1000, 1000));
        assert_eq!(all_audit(&ledger).await.len(), audit.len());
        assert!(ledger.record_issuances(&[], NOW).await.unwrap().is_empty());
        ledger.integrity_check().await.unwrap();
    }
}

/// Prints the bulk rate (batches of 1,000 with their audit entries, one transaction each).
#[tokio::test]
async fn batch_rate() {
    const BATCHES: usize = 20;
    const SIZE: usize = 1000;
    for (backend, ledger) in support::ledgers().await {
        let batches: Vec<Vec<Event>> = (0..BATCHES)
            .map(|_| (0..SIZE).map(|_| Event::new(NOW + YEAR)).collect())
            .collect();
        let start = Instant::now();
        for batch in &batches {
            let issuances: Vec<_> = batch.iter().map(Event::issuance).collect();
            let results = ledger.record_issuances(&issuances, NOW).await.unwrap();
            assert_eq!(results.len(), SIZE);
        }
        let elapsed = start.elapsed();
        let rows = (BATCHES * SIZE) as f64;
        println!(
            "{backend:?}: {} dose events (+ certificates, audit entries) in batches of {SIZE}: \
             {:.2} s, {:.0} per second",
            BATCHES * SIZE,
            elapsed.as_secs_f64(),
            rows / elapsed.as_secs_f64()
        );
        assert_eq!(
            ledger.counts().await.unwrap(),
            ((BATCHES * SIZE) as i64, (BATCHES * SIZE) as i64)
        );
    }
}

#[tokio::test]
async fn a_reopened_sqlite_ledger_keeps_everything() {
    let url = support::sqlite_url();
    let ledger = Ledger::open(&url).await.unwrap();
    assert_eq!(ledger.backend(), LedgerBackend::Sqlite);
    let event = Event::new(NOW + YEAR);
    let first = issue(&ledger, &event).await;
    let other = issue(&ledger, &Event::new(NOW + YEAR)).await;
    ledger
        .revoke(&other.uvci, "fraud", "registry", NOW)
        .await
        .unwrap();
    let token_hash: [u8; 32] = random();
    ledger
        .create_client("registry", token_hash, &[Scope::Issue], NOW)
        .await
        .unwrap();
    let version = ledger.revocation_version().await.unwrap();
    let audit = all_audit(&ledger).await;
    ledger.close().await;
    let closed = ledger.counts().await.unwrap_err();
    assert!(matches!(closed, LedgerError::Unavailable(_)), "{closed:?}");

    let reopened = Ledger::open(&url).await.unwrap();
    assert_eq!(reopened.counts().await.unwrap(), (2, 2));
    assert_eq!(
        reopened.certificate(&first.uvci).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        reopened
            .certificate(&other.uvci)
            .await
            .unwrap()
            .unwrap()
            .status,
        CertificateStatus::Revoked
    );
    assert_eq!(reopened.revocation_version().await.unwrap(), version);
    assert_eq!(all_audit(&reopened).await, audit);
    assert_eq!(
        reopened
            .client_by_token_hash(token_hash)
            .await
            .unwrap()
            .unwrap()
            .name,
        "registry"
    );
    match reopened
        .record_issuance(&event.issuance(), NOW + 9)
        .await
        .unwrap()
    {
        Recorded::AlreadyRecorded { certificate, .. } => assert_eq!(certificate, first),
        other => panic!("{other:?}"),
    }
    // The audit sequence goes on where it stopped.
    issue(&reopened, &Event::new(NOW + YEAR)).await;
    let audit = all_audit(&reopened).await;
    assert_eq!(audit.last().unwrap().seq, audit.len() as i64);
    reopened.integrity_check().await.unwrap();
    reopened.close().await;

    // The database is in WAL mode.
    let path = url.trim_start_matches("sqlite:");
    assert!(std::path::Path::new(path).exists());
    let header = std::fs::read(path).unwrap();
    assert_eq!(&header[..16], b"SQLite format 3\0");
    assert_eq!((header[18], header[19]), (2, 2), "WAL read/write versions");
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in [
        "mysql://localhost/db",
        "sqlite::memory:",
        "sqlite:data.db?mode=memory",
        "sqlite:",
        "ledger.db",
    ] {
        let error = Ledger::open(url).await.unwrap_err();
        assert!(
            matches!(error, LedgerError::UnsupportedUrl),
            "{url}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_closed_ledger_is_unavailable_without_details() {
    for (backend, ledger) in support::ledgers().await {
        let event = Event::new(NOW + YEAR);
        ledger.close().await;
        let error = ledger
            .record_issuance(&event.issuance(), NOW)
            .await
            .unwrap_err();
        let LedgerError::Unavailable(message) = &error else {
            panic!("{backend:?}: {error:?}");
        };
        assert!(
            !message.contains(&event.id) && !message.contains(NAME),
            "{message}"
        );
        assert!(matches!(
            ledger.dose_event(&event.id).await,
            Err(LedgerError::Unavailable(_))
        ));
    }
}

#[tokio::test]
async fn integrity_check_passes_on_a_fresh_and_a_used_ledger() {
    for (backend, ledger) in support::ledgers().await {
        ledger.integrity_check().await.unwrap();
        assert_eq!(ledger.backend(), backend);
        let event = Event::new(NOW + YEAR);
        let record = issue(&ledger, &event).await;
        ledger
            .record_renewal(&record.uvci, &certificate(NOW + YEAR), "cli", NOW)
            .await
            .unwrap();
        ledger.integrity_check().await.unwrap();
    }
}

#[tokio::test]
async fn debug_of_a_certificate_record_hides_the_uvci_and_the_certificate() {
    for (backend, ledger) in support::ledgers().await {
        let event = Event::new(NOW + YEAR);
        let record = issue(&ledger, &event).await;
        let debug = format!("{record:?}");
        assert!(!debug.contains(&record.uvci), "{backend:?}: {debug}");
        assert!(!debug.contains(&record.hc1[4..]), "{backend:?}: {debug}");
        assert!(!debug.contains("HC1:"));
        let recorded = ledger
            .record_issuance(&event.issuance(), NOW)
            .await
            .unwrap();
        let debug = format!("{recorded:?}");
        assert!(
            !debug.contains(&record.uvci) && !debug.contains("HC1:"),
            "{debug}"
        );
    }
}

/// On PostgreSQL the ledger lives in the schema named by `search_path`, not in `public`.
#[tokio::test]
async fn postgres_ledgers_live_in_their_own_schema() {
    let Some(database_url) = support::database_url() else {
        return;
    };
    let schema = support::create_schema(&database_url).await;
    let ledger = Ledger::open(&storage::test_support::with_search_path(
        &database_url,
        &schema,
    ))
    .await
    .unwrap();
    assert_eq!(ledger.backend(), LedgerBackend::Postgres);
    issue(&ledger, &Event::new(NOW + YEAR)).await;
    ledger.close().await;

    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&database_url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
         ORDER BY table_name",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "api_clients",
            "audit_log",
            "certificates",
            "citizen_logins",
            "citizen_sessions",
            "counters",
            "dose_events",
            "holder_contacts"
        ]
    );
    let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {schema}.certificates"))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
    // Opening it again (`postgresql://` is accepted too) applies nothing twice.
    let url = storage::test_support::with_search_path(&database_url, &schema);
    let url = url.replacen("postgres://", "postgresql://", 1);
    let reopened = Ledger::open(&url).await.unwrap();
    assert_eq!(reopened.counts().await.unwrap(), (1, 1));
    reopened.close().await;
    conn.close().await.unwrap();
}

/// A ledger written before migration 0002 (which keeps who confirmed each dose event and which
/// correction superseded it) is upgraded in place: both are filled in from what it holds.
#[tokio::test]
async fn an_older_ledger_learns_who_confirmed_and_which_correction_won() {
    sqlx::any::install_default_drivers();
    let sqlite = support::sqlite_url();
    let sqlite_path = sqlite.strip_prefix("sqlite:").unwrap();
    std::fs::create_dir_all(std::path::Path::new(sqlite_path).parent().unwrap()).unwrap();
    let mut urls = vec![(sqlite.clone(), format!("{sqlite}?mode=rwc"))];
    if let Some(url) = support::postgres_url().await {
        urls.push((url.clone(), url));
    }
    for (url, connect_url) in urls {
        let first_only = support::temp_dir("migrations");
        let first =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/0001_ledger.sql");
        std::fs::copy(first, first_only.join("0001_ledger.sql")).unwrap();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&connect_url)
            .await
            .unwrap();
        sqlx::migrate::Migrator::new(first_only.as_path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        // `original` by registry-a, corrected twice by registry-b (an older ledger allowed that).
        let rows = [
            ("original", None, "registry-a"),
            ("fix-1", Some("original"), "registry-b"),
            ("fix-2", Some("original"), "registry-b"),
        ];
        for (seq, (id, supersedes, actor)) in (1i64..).zip(rows) {
            let json = request_json(id);
            sqlx::query(
                "INSERT INTO dose_events (dose_event_id, request_hash, request_json, supersedes, \
                 received_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(hex::encode(hash(&json)))
            .bind(json.as_str())
            .bind(supersedes)
            .bind(NOW)
            .execute(&pool)
            .await
            .unwrap();
            let uvci = format!("URN:UVCI:01:VN:{}", hex::encode(random::<16>()));
            sqlx::query(
                "INSERT INTO certificates (uvci, dose_event_id, generation, hc1, kid, iat, exp, \
                 payload_hash, uci_hash, country_uci_hash, signature_hash, status) \
                 VALUES ($1, $2, 0, 'HC1:X', 'AQIDBAUGBwg=', $3, $4, $5, $6, $7, $8, 'active')",
            )
            .bind(uvci.as_str())
            .bind(id)
            .bind(NOW)
            .bind(NOW + YEAR)
            .bind(hex::encode(random::<32>()))
            .bind(hex::encode(random::<16>()))
            .bind(hex::encode(random::<16>()))
            .bind(hex::encode(random::<16>()))
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO audit_log (seq, at, action, dose_event_id, uvci, actor) \
                 VALUES ($1, $2, 'issue', $3, $4, $5)",
            )
            .bind(seq)
            .bind(NOW)
            .bind(id)
            .bind(uvci.as_str())
            .bind(actor)
            .execute(&pool)
            .await
            .unwrap();
        }
        sqlx::query("UPDATE counters SET value = 3 WHERE name = 'audit_seq'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;

        let ledger = Ledger::open(&url).await.unwrap();
        let (original, _) = ledger.dose_event("original").await.unwrap().unwrap();
        assert_eq!(original.confirmed_by.as_deref(), Some("registry-a"));
        let winner = original.superseded_by.unwrap();
        assert!(["fix-1", "fix-2"].contains(&winner.as_str()), "{winner}");
        for fix in ["fix-1", "fix-2"] {
            let (event, _) = ledger.dose_event(fix).await.unwrap().unwrap();
            assert_eq!(event.confirmed_by.as_deref(), Some("registry-b"));
            assert_eq!(event.superseded_by, None);
        }
        // It was corrected: a third correction is refused, even from the confirming client.
        let mut third = Event::correcting("original", NOW + YEAR);
        third.actor = "registry-a";
        let refused = refusal(ledger.record_issuance(&third.issuance(), NOW).await);
        assert_eq!(refused, CorrectionRefusal::AlreadyCorrected, "{url}");
        // A correction of a correction goes to the client that confirmed it.
        let mut chained = Event::correcting("fix-1", NOW + YEAR);
        let refused = refusal(ledger.record_issuance(&chained.issuance(), NOW).await);
        assert_eq!(refused, CorrectionRefusal::OtherClient, "{url}");
        chained.actor = "registry-b";
        issue(&ledger, &chained).await;
        ledger.integrity_check().await.unwrap();
        ledger.close().await;
    }
}
