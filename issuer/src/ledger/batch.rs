//! Bulk issuance: a whole batch in one transaction, with multi-row statements.
//!
//! The dose events go in first (`ON CONFLICT DO NOTHING … RETURNING dose_event_id` says which were new),
//! sorted by id so that two concurrent batches on PostgreSQL take their key locks in the same order;
//! then the new certificates, the corrections, the audit entries, and finally a read of what the batch
//! found already recorded.

use std::collections::{HashMap, HashSet};

use sqlx::AnyPool;

use super::rows::{
    DOSE_EVENT_WITH_CERTIFICATE, MAX_BINDS, NewCertificate, certificate_from_row, db,
    dose_event_from_row, placeholders,
};
use super::write::{
    CORRECTED, NewAudit, append_audit, insert_certificates, insert_contact, supersede,
};
use super::{CertificateRecord, DoseEventRecord, Issuance, LedgerBackend, LedgerError, Recorded};

/// Bind parameters per row of `dose_events`.
const DOSE_EVENT_BINDS: usize = 6;

/// See [`super::Ledger::record_issuances`].
pub(super) async fn record_issuances(
    pool: &AnyPool,
    backend: LedgerBackend,
    batch: &[Issuance<'_>],
    now: i64,
) -> Result<Vec<Recorded>, LedgerError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }

    // The first occurrence of each dose event is the one recorded; later ones answer AlreadyRecorded.
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let mut candidates: Vec<(&Issuance<'_>, String)> = Vec::with_capacity(batch.len());
    for (index, issuance) in batch.iter().enumerate() {
        if !first_of.contains_key(issuance.dose_event_id) {
            first_of.insert(issuance.dose_event_id, index);
            candidates.push((issuance, hex::encode(issuance.request_hash)));
        }
    }
    candidates.sort_unstable_by(|a, b| a.0.dose_event_id.cmp(b.0.dose_event_id));

    let mut tx = pool.begin().await.map_err(db)?;

    let mut inserted: HashSet<String> = HashSet::with_capacity(candidates.len());
    for chunk in candidates.chunks(MAX_BINDS / DOSE_EVENT_BINDS) {
        let sql = format!(
            "INSERT INTO dose_events (dose_event_id, request_hash, request_json, supersedes, \
             received_at, confirmed_by) VALUES {} ON CONFLICT (dose_event_id) DO NOTHING \
             RETURNING dose_event_id",
            placeholders(backend, DOSE_EVENT_BINDS, chunk.len())
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for (issuance, request_hash) in chunk {
            query = query
                .bind(issuance.dose_event_id)
                .bind(request_hash.as_str())
                .bind(issuance.request_json)
                .bind(issuance.supersedes)
                .bind(now)
                .bind(issuance.actor);
        }
        inserted.extend(query.fetch_all(&mut *tx).await.map_err(db)?);
    }

    let certificates: Vec<NewCertificate<'_>> = candidates
        .iter()
        .filter(|(issuance, _)| inserted.contains(issuance.dose_event_id))
        .map(|(issuance, _)| NewCertificate::new(issuance.certificate, issuance.dose_event_id, 0))
        .collect();
    insert_certificates(&mut tx, backend, &certificates).await?;
    for (issuance, _) in &candidates {
        if let Some(contact) = issuance.contact
            && inserted.contains(issuance.dose_event_id)
        {
            insert_contact(&mut tx, issuance.dose_event_id, contact).await?;
        }
    }

    // Corrections and the audit log, in batch order.
    let is_new = |index: usize, issuance: &Issuance<'_>| {
        first_of.get(issuance.dose_event_id) == Some(&index)
            && inserted.contains(issuance.dose_event_id)
    };
    let mut revoked: Vec<Vec<String>> = Vec::new();
    let mut corrected_by: HashMap<&str, &str> = HashMap::new();
    for (index, issuance) in batch.iter().enumerate() {
        if let Some(superseded) = issuance.supersedes
            && is_new(index, issuance)
        {
            let uvcis = supersede(&mut tx, issuance, superseded, now).await;
            match uvcis {
                Ok(uvcis) => {
                    revoked.push(uvcis);
                    corrected_by.insert(superseded, issuance.dose_event_id);
                }
                Err(error) => {
                    tx.rollback().await.map_err(db)?;
                    return Err(error);
                }
            }
        }
    }
    let mut audit = Vec::with_capacity(certificates.len());
    let mut revoked_iter = revoked.iter();
    for (index, issuance) in batch.iter().enumerate() {
        if !is_new(index, issuance) {
            continue;
        }
        audit.push(NewAudit {
            action: "issue",
            dose_event_id: Some(issuance.dose_event_id),
            uvci: Some(issuance.certificate.uvci().as_str()),
            actor: issuance.actor,
            detail: None,
        });
        if issuance.supersedes.is_some() {
            for uvci in revoked_iter.next().into_iter().flatten() {
                audit.push(NewAudit {
                    action: "revoke",
                    dose_event_id: issuance.supersedes,
                    uvci: Some(uvci),
                    actor: issuance.actor,
                    detail: Some(CORRECTED),
                });
            }
        }
    }
    append_audit(&mut tx, backend, now, &audit).await?;

    // What was there already.
    let already: Vec<&str> = candidates
        .iter()
        .map(|(issuance, _)| issuance.dose_event_id)
        .filter(|id| !inserted.contains(*id))
        .collect();
    let mut stored: HashMap<String, (DoseEventRecord, CertificateRecord)> =
        HashMap::with_capacity(already.len());
    for chunk in already.chunks(MAX_BINDS) {
        let sql = format!(
            "{DOSE_EVENT_WITH_CERTIFICATE} WHERE e.dose_event_id IN ({})",
            placeholders(backend, 1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&mut *tx).await.map_err(db)? {
            let event = dose_event_from_row(&row)?;
            let certificate = certificate_from_row(&row)?;
            stored.insert(event.dose_event_id.clone(), (event, certificate));
        }
    }

    if inserted.is_empty() {
        tx.rollback().await.map_err(db)?;
    } else {
        tx.commit().await.map_err(db)?;
    }

    // The answers, in batch order.
    let issued: HashMap<&str, CertificateRecord> = certificates
        .iter()
        .map(|certificate| (certificate.dose_event_id, certificate.record()))
        .collect();
    let mut out = Vec::with_capacity(batch.len());
    for (index, issuance) in batch.iter().enumerate() {
        let id = issuance.dose_event_id;
        if let Some(certificate) = issued.get(id) {
            if first_of.get(id) == Some(&index) {
                out.push(Recorded::Issued(certificate.clone()));
            } else {
                let first = first_of
                    .get(id)
                    .and_then(|&first| batch.get(first))
                    .ok_or(LedgerError::Corrupt("batch index"))?;
                out.push(Recorded::AlreadyRecorded {
                    event: DoseEventRecord {
                        dose_event_id: id.to_owned(),
                        request_hash: first.request_hash,
                        request_json: first.request_json.to_owned(),
                        supersedes: first.supersedes.map(str::to_owned),
                        received_at: now,
                        confirmed_by: Some(first.actor.to_owned()),
                        superseded_by: corrected_by.get(id).map(|&by| by.to_owned()),
                    },
                    certificate: certificate.clone(),
                });
            }
        } else {
            let (event, certificate) = stored.get(id).cloned().ok_or(LedgerError::Corrupt(
                "dose event without its first certificate",
            ))?;
            out.push(Recorded::AlreadyRecorded { event, certificate });
        }
    }
    Ok(out)
}
