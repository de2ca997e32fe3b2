//! The writing transactions, one dose event or certificate at a time, and the helpers the bulk path
//! shares: the audit log and corrections.
//!
//! Every transaction starts with a write (on SQLite that takes the write lock at once, so a deferred
//! transaction never has to upgrade its lock) and touches the `counters` row last (on PostgreSQL that
//! row lock is the one every writer takes: taken last and held to the commit, it hands out audit
//! sequence numbers in commit order and cannot close a deadlock cycle).

use sqlx::{AnyConnection, AnyPool};

use super::rows::{
    AUDIT_COLUMNS, CERTIFICATE_COLUMNS, DOSE_EVENT_WITH_CERTIFICATE, MAX_BINDS, NewCertificate,
    certificate_from_row, certificate_placeholders, db, dose_event_from_row, get, placeholders,
    status,
};
use super::{
    CertificateRecord, CertificateStatus, CorrectionRefusal, DoseEventRecord, HolderContact,
    Issuance, LedgerBackend, LedgerError, Recorded, Scope,
};
use crate::correction::{self, recorded_dob};
use crate::issue::IssuedCertificate;

/// The reason recorded when a correction revokes the certificates of the dose event it supersedes.
pub(super) const CORRECTED: &str = "corrected";

/// An audit entry to append.
pub(super) struct NewAudit<'a> {
    pub(super) action: &'static str,
    pub(super) dose_event_id: Option<&'a str>,
    pub(super) uvci: Option<&'a str>,
    pub(super) actor: &'a str,
    pub(super) detail: Option<&'a str>,
}

/// Bind parameters per row of `audit_log`.
const AUDIT_BINDS: usize = 7;

/// Appends `entries`, in order, at the next sequence numbers. Call it last in a transaction.
pub(super) async fn append_audit(
    conn: &mut AnyConnection,
    backend: LedgerBackend,
    at: i64,
    entries: &[NewAudit<'_>],
) -> Result<(), LedgerError> {
    if entries.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(entries.len()).map_err(|_| LedgerError::Corrupt("audit count"))?;
    let last: i64 = sqlx::query_scalar(
        "UPDATE counters SET value = value + $1 WHERE name = 'audit_seq' RETURNING value",
    )
    .bind(count)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let mut seq = last.saturating_sub(count);
    for chunk in entries.chunks(MAX_BINDS / AUDIT_BINDS) {
        let sql = format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES {}",
            placeholders(backend, AUDIT_BINDS, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for entry in chunk {
            seq = seq.saturating_add(1);
            query = query
                .bind(seq)
                .bind(at)
                .bind(entry.action)
                .bind(entry.dose_event_id)
                .bind(entry.uvci)
                .bind(entry.actor)
                .bind(entry.detail);
        }
        query.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// Inserts certificates (active), in statements of at most [`MAX_BINDS`] parameters.
pub(super) async fn insert_certificates(
    conn: &mut AnyConnection,
    backend: LedgerBackend,
    certificates: &[NewCertificate<'_>],
) -> Result<(), LedgerError> {
    for chunk in certificates.chunks(MAX_BINDS / NewCertificate::COLUMNS) {
        let sql = format!(
            "{}{}",
            NewCertificate::INSERT,
            certificate_placeholders(backend, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for certificate in chunk {
            query = certificate.bind(query);
        }
        query.execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// The correction part of recording `issuance`, which supersedes `superseded`; call it after the new
/// dose event is inserted. Checks the rules of [`crate::correction`], marks the superseded dose event
/// `superseded_by` the new one and revokes every certificate of it that is not revoked yet (reason
/// [`CORRECTED`]); their UVCIs.
///
/// The mark is a conditional UPDATE (`… WHERE superseded_by IS NULL`): of concurrent corrections of one
/// dose event exactly one matches the row. On SQLite the single writer runs them one after the other;
/// on PostgreSQL (READ COMMITTED) the others wait for the winner's row lock, then re-check the
/// condition against its committed row and match nothing. The rows read before it (`confirmed_by`,
/// `request_json`) never change once written.
pub(super) async fn supersede(
    conn: &mut AnyConnection,
    issuance: &Issuance<'_>,
    superseded: &str,
    now: i64,
) -> Result<Vec<String>, LedgerError> {
    let refuse = |refusal| Err(LedgerError::Correction(refusal));
    let row = if superseded == issuance.dose_event_id {
        None
    } else {
        sqlx::query("SELECT confirmed_by, request_json FROM dose_events WHERE dose_event_id = $1")
            .bind(superseded)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
    };
    let stored = match &row {
        Some(row) => Some((
            get::<Option<String>>(row, "confirmed_by")?,
            get::<String>(row, "request_json")?,
        )),
        None => None,
    };
    let recorded = stored
        .as_ref()
        .map(|(confirmed_by, request_json)| correction::Recorded {
            confirmed_by: confirmed_by.as_deref(),
            request_json,
        });
    let correction_dob = recorded_dob(issuance.request_json);
    if let Some(refusal) = correction::refusal(
        recorded,
        issuance.actor,
        issuance.corrections,
        correction_dob.as_deref(),
    ) {
        return refuse(refusal);
    }
    let marked = sqlx::query(
        "UPDATE dose_events SET superseded_by = $1 \
         WHERE dose_event_id = $2 AND superseded_by IS NULL",
    )
    .bind(issuance.dose_event_id)
    .bind(superseded)
    .execute(&mut *conn)
    .await
    .map_err(db)?
    .rows_affected();
    if marked == 0 {
        return refuse(CorrectionRefusal::AlreadyCorrected);
    }
    sqlx::query_scalar(
        "UPDATE certificates SET status = 'revoked', status_reason = $1, status_changed_at = $2 \
         WHERE dose_event_id = $3 AND status <> 'revoked' RETURNING uvci",
    )
    .bind(CORRECTED)
    .bind(now)
    .bind(superseded)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)
}

/// The dose event and its generation-0 certificate, read inside a transaction.
pub(super) async fn stored_dose_event(
    conn: &mut AnyConnection,
    dose_event_id: &str,
) -> Result<(DoseEventRecord, CertificateRecord), LedgerError> {
    let sql = format!("{DOSE_EVENT_WITH_CERTIFICATE} WHERE e.dose_event_id = $1");
    let row = sqlx::query(&sql)
        .bind(dose_event_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .ok_or(LedgerError::Corrupt(
            "dose event without its first certificate",
        ))?;
    Ok((dose_event_from_row(&row)?, certificate_from_row(&row)?))
}

/// Records who may see a dose event's certificates in the citizen portal.
pub(super) async fn insert_contact(
    conn: &mut AnyConnection,
    dose_event_id: &str,
    contact: &HolderContact,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO holder_contacts (dose_event_id, identity_key, account_key, phone_sealed) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(dose_event_id)
    .bind(contact.identity_key.as_str())
    .bind(contact.account_key.as_str())
    .bind(contact.phone_sealed.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// See [`super::Ledger::record_issuance`].
pub(super) async fn record_issuance(
    pool: &AnyPool,
    backend: LedgerBackend,
    issuance: &Issuance<'_>,
    now: i64,
) -> Result<Recorded, LedgerError> {
    let mut tx = pool.begin().await.map_err(db)?;
    let request_hash = hex::encode(issuance.request_hash);
    let inserted = sqlx::query(
        "INSERT INTO dose_events (dose_event_id, request_hash, request_json, supersedes, \
         received_at, confirmed_by) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (dose_event_id) DO NOTHING",
    )
    .bind(issuance.dose_event_id)
    .bind(request_hash.as_str())
    .bind(issuance.request_json)
    .bind(issuance.supersedes)
    .bind(now)
    .bind(issuance.actor)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected();
    if inserted == 0 {
        let (event, certificate) = stored_dose_event(&mut tx, issuance.dose_event_id).await?;
        tx.rollback().await.map_err(db)?;
        return Ok(Recorded::AlreadyRecorded { event, certificate });
    }

    let revoked = match issuance.supersedes {
        Some(superseded) => match supersede(&mut tx, issuance, superseded, now).await {
            Ok(revoked) => revoked,
            Err(error) => {
                tx.rollback().await.map_err(db)?;
                return Err(error);
            }
        },
        None => Vec::new(),
    };
    let certificate = NewCertificate::new(issuance.certificate, issuance.dose_event_id, 0);
    insert_certificates(&mut tx, backend, std::slice::from_ref(&certificate)).await?;
    if let Some(contact) = issuance.contact {
        insert_contact(&mut tx, issuance.dose_event_id, contact).await?;
    }

    let mut audit = Vec::with_capacity(1 + revoked.len());
    audit.push(NewAudit {
        action: "issue",
        dose_event_id: Some(issuance.dose_event_id),
        uvci: Some(issuance.certificate.uvci().as_str()),
        actor: issuance.actor,
        detail: None,
    });
    for uvci in &revoked {
        audit.push(NewAudit {
            action: "revoke",
            dose_event_id: issuance.supersedes,
            uvci: Some(uvci),
            actor: issuance.actor,
            detail: Some(CORRECTED),
        });
    }
    append_audit(&mut tx, backend, now, &audit).await?;
    tx.commit().await.map_err(db)?;
    Ok(Recorded::Issued(certificate.record()))
}

/// Why a status change matched no row: no such certificate, or its status.
async fn refusal(conn: &mut AnyConnection, uvci: &str) -> Result<LedgerError, LedgerError> {
    let current: Option<String> =
        sqlx::query_scalar("SELECT status FROM certificates WHERE uvci = $1")
            .bind(uvci)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    Ok(match current {
        None => LedgerError::NotFound,
        Some(current) => LedgerError::WrongStatus(status(current.as_str())?),
    })
}

/// See [`super::Ledger::revoke`].
pub(super) async fn revoke(
    pool: &AnyPool,
    backend: LedgerBackend,
    uvci: &str,
    reason: &str,
    actor: &str,
    now: i64,
) -> Result<CertificateRecord, LedgerError> {
    let mut tx = pool.begin().await.map_err(db)?;
    let sql = format!(
        "UPDATE certificates SET status = 'revoked', status_reason = $1, status_changed_at = $2 \
         WHERE uvci = $3 AND status <> 'revoked' RETURNING {CERTIFICATE_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(reason)
        .bind(now)
        .bind(uvci)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    let Some(row) = row else {
        let refusal = refusal(&mut tx, uvci).await?;
        tx.rollback().await.map_err(db)?;
        return Err(refusal);
    };
    let record = certificate_from_row(&row)?;
    let entry = NewAudit {
        action: "revoke",
        dose_event_id: Some(&record.dose_event_id),
        uvci: Some(uvci),
        actor,
        detail: Some(reason),
    };
    append_audit(&mut tx, backend, now, &[entry]).await?;
    tx.commit().await.map_err(db)?;
    Ok(record)
}

/// The status recorded on a certificate replaced by its renewal.
const RENEWED: &str = "renewed";

/// See [`super::Ledger::record_renewal`].
pub(super) async fn record_renewal(
    pool: &AnyPool,
    backend: LedgerBackend,
    old_uvci: &str,
    renewal: &IssuedCertificate,
    actor: &str,
    now: i64,
) -> Result<CertificateRecord, LedgerError> {
    let mut tx = pool.begin().await.map_err(db)?;
    let dose_event_id: Option<String> = sqlx::query_scalar(
        "UPDATE certificates SET status = 'superseded', status_reason = $1, \
         status_changed_at = $2, superseded_by = $3 \
         WHERE uvci = $4 AND status = 'active' RETURNING dose_event_id",
    )
    .bind(RENEWED)
    .bind(now)
    .bind(renewal.uvci().as_str())
    .bind(old_uvci)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let Some(dose_event_id) = dose_event_id else {
        let refusal = refusal(&mut tx, old_uvci).await?;
        tx.rollback().await.map_err(db)?;
        return Err(match refusal {
            // Only a concurrent change between the two statements can get here.
            LedgerError::WrongStatus(CertificateStatus::Active) => LedgerError::Unavailable(
                "the certificate changed during its renewal: retry".to_owned(),
            ),
            other => other,
        });
    };
    let generation: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(generation), -1) + 1 FROM certificates WHERE dose_event_id = $1",
    )
    .bind(dose_event_id.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    let certificate = NewCertificate::new(renewal, &dose_event_id, generation);
    insert_certificates(&mut tx, backend, std::slice::from_ref(&certificate)).await?;
    let audit = [
        NewAudit {
            action: "renew",
            dose_event_id: Some(&dose_event_id),
            uvci: Some(renewal.uvci().as_str()),
            actor,
            detail: None,
        },
        NewAudit {
            action: "supersede",
            dose_event_id: Some(&dose_event_id),
            uvci: Some(old_uvci),
            actor,
            detail: Some(RENEWED),
        },
    ];
    append_audit(&mut tx, backend, now, &audit).await?;
    tx.commit().await.map_err(db)?;
    Ok(certificate.record())
}

/// See [`super::Ledger::create_client`].
pub(super) async fn create_client(
    pool: &AnyPool,
    backend: LedgerBackend,
    name: &str,
    token_hash: [u8; 32],
    scopes: &[Scope],
    now: i64,
) -> Result<(), LedgerError> {
    let mut names: Vec<&str> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if !names.contains(&scope.as_str()) {
            names.push(scope.as_str());
        }
    }
    let scopes = names.join(",");
    let mut tx = pool.begin().await.map_err(db)?;
    let inserted = sqlx::query(
        "INSERT INTO api_clients (name, token_hash, scopes, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(hex::encode(token_hash))
    .bind(scopes.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await.map_err(db)?;
        return Err(LedgerError::DuplicateClient);
    }
    let detail = format!("client={name} scopes={scopes}");
    commit_client_change(tx, backend, "client_created", &detail, now).await
}

/// See [`super::Ledger::disable_client`].
pub(super) async fn disable_client(
    pool: &AnyPool,
    backend: LedgerBackend,
    name: &str,
    now: i64,
) -> Result<(), LedgerError> {
    let mut tx = pool.begin().await.map_err(db)?;
    let disabled = sqlx::query(
        "UPDATE api_clients SET disabled_at = $1 WHERE name = $2 AND disabled_at IS NULL",
    )
    .bind(now)
    .bind(name)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected();
    if disabled == 0 {
        tx.rollback().await.map_err(db)?;
        return Err(LedgerError::NotFound);
    }
    let detail = format!("client={name}");
    commit_client_change(tx, backend, "client_disabled", &detail, now).await
}

/// Appends the audit entry of an API-client change (made on the command line) and commits it.
async fn commit_client_change(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    backend: LedgerBackend,
    action: &'static str,
    detail: &str,
    now: i64,
) -> Result<(), LedgerError> {
    let entry = NewAudit {
        action,
        dose_event_id: None,
        uvci: None,
        actor: "cli",
        detail: Some(detail),
    };
    append_audit(&mut tx, backend, now, &[entry]).await?;
    tx.commit().await.map_err(db)
}
