//! Rows in and out: column lists, decoding stored rows, statement text for multi-row statements, and
//! sqlx errors turned into [`LedgerError`]s that carry no query parameters.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use super::{
    AuditEntry, CertificateRecord, CertificateStatus, DoseEventRecord, LedgerBackend, LedgerError,
};
use crate::issue::IssuedCertificate;

/// Bind parameters per statement stay below this (SQLite allows 32,766, PostgreSQL 65,535).
pub(super) const MAX_BINDS: usize = 29_999;

/// The columns of `certificates`, in [`certificate_from_row`]'s names.
pub(super) const CERTIFICATE_COLUMNS: &str = "uvci, dose_event_id, generation, hc1, kid, iat, exp, \
     payload_hash, uci_hash, country_uci_hash, signature_hash, status, status_reason, \
     status_changed_at, superseded_by";

/// The columns of `audit_log`, in [`audit_from_row`]'s names.
pub(super) const AUDIT_COLUMNS: &str = "seq, at, action, dose_event_id, uvci, actor, detail";

/// A dose event joined with its generation-0 certificate (`e`: the dose event, its columns prefixed
/// `e_`; `c`: the certificate), for [`dose_event_from_row`] and [`certificate_from_row`].
pub(super) const DOSE_EVENT_WITH_CERTIFICATE: &str = "SELECT e.dose_event_id AS e_dose_event_id, \
     e.request_hash AS e_request_hash, e.request_json AS e_request_json, \
     e.supersedes AS e_supersedes, e.received_at AS e_received_at, \
     e.confirmed_by AS e_confirmed_by, e.superseded_by AS e_superseded_by, \
     c.uvci, c.dose_event_id, c.generation, c.hc1, c.kid, c.iat, c.exp, c.payload_hash, c.uci_hash, \
     c.country_uci_hash, c.signature_hash, c.status, c.status_reason, c.status_changed_at, \
     c.superseded_by \
     FROM dose_events e JOIN certificates c \
     ON c.dose_event_id = e.dose_event_id AND c.generation = 0";

/// One column of a row; a value that does not decode is [`LedgerError::Corrupt`] naming the column.
pub(super) fn get<'r, T>(row: &'r AnyRow, column: &'static str) -> Result<T, LedgerError>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(column)
        .map_err(|_| LedgerError::Corrupt(column))
}

/// A lowercase hex column back into its bytes.
pub(super) fn hex_array<const N: usize>(
    text: &str,
    column: &'static str,
) -> Result<[u8; N], LedgerError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| LedgerError::Corrupt(column))?;
    Ok(out)
}

/// A status column.
pub(super) fn status(text: &str) -> Result<CertificateStatus, LedgerError> {
    match text {
        "active" => Ok(CertificateStatus::Active),
        "superseded" => Ok(CertificateStatus::Superseded),
        "revoked" => Ok(CertificateStatus::Revoked),
        _ => Err(LedgerError::Corrupt("status")),
    }
}

/// A row holding [`CERTIFICATE_COLUMNS`].
pub(super) fn certificate_from_row(row: &AnyRow) -> Result<CertificateRecord, LedgerError> {
    Ok(CertificateRecord {
        uvci: get(row, "uvci")?,
        dose_event_id: get(row, "dose_event_id")?,
        generation: get(row, "generation")?,
        hc1: get(row, "hc1")?,
        kid: get(row, "kid")?,
        iat: get(row, "iat")?,
        exp: get(row, "exp")?,
        payload_hash: hex_array(&get::<String>(row, "payload_hash")?, "payload_hash")?,
        uci_hash: hex_array(&get::<String>(row, "uci_hash")?, "uci_hash")?,
        country_uci_hash: hex_array(&get::<String>(row, "country_uci_hash")?, "country_uci_hash")?,
        signature_hash: hex_array(&get::<String>(row, "signature_hash")?, "signature_hash")?,
        status: status(&get::<String>(row, "status")?)?,
        status_reason: get(row, "status_reason")?,
        status_changed_at: get(row, "status_changed_at")?,
        superseded_by: get(row, "superseded_by")?,
    })
}

/// A row of [`DOSE_EVENT_WITH_CERTIFICATE`], the dose event's half.
pub(super) fn dose_event_from_row(row: &AnyRow) -> Result<DoseEventRecord, LedgerError> {
    Ok(DoseEventRecord {
        dose_event_id: get(row, "e_dose_event_id")?,
        request_hash: hex_array(&get::<String>(row, "e_request_hash")?, "request_hash")?,
        request_json: get(row, "e_request_json")?,
        supersedes: get(row, "e_supersedes")?,
        received_at: get(row, "e_received_at")?,
        confirmed_by: get(row, "e_confirmed_by")?,
        superseded_by: get(row, "e_superseded_by")?,
    })
}

/// A row holding [`AUDIT_COLUMNS`].
pub(super) fn audit_from_row(row: &AnyRow) -> Result<AuditEntry, LedgerError> {
    Ok(AuditEntry {
        seq: get(row, "seq")?,
        at: get(row, "at")?,
        action: get(row, "action")?,
        dose_event_id: get(row, "dose_event_id")?,
        uvci: get(row, "uvci")?,
        actor: get(row, "actor")?,
        detail: get(row, "detail")?,
    })
}

/// A certificate about to be written: the [`IssuedCertificate`] in its stored encodings.
pub(super) struct NewCertificate<'a> {
    pub(super) certificate: &'a IssuedCertificate,
    pub(super) dose_event_id: &'a str,
    pub(super) generation: i64,
    pub(super) kid: String,
    pub(super) payload_hash: String,
    pub(super) uci_hash: String,
    pub(super) country_uci_hash: String,
    pub(super) signature_hash: String,
}

impl<'a> NewCertificate<'a> {
    /// Bind parameters per row of [`NewCertificate::INSERT`].
    pub(super) const COLUMNS: usize = 11;

    /// The statement head; `status` is `active` and the status columns NULL for a new certificate.
    pub(super) const INSERT: &'static str = "INSERT INTO certificates (uvci, dose_event_id, \
         generation, hc1, kid, iat, exp, payload_hash, uci_hash, country_uci_hash, signature_hash, \
         status) VALUES ";

    pub(super) fn new(
        certificate: &'a IssuedCertificate,
        dose_event_id: &'a str,
        generation: i64,
    ) -> NewCertificate<'a> {
        NewCertificate {
            certificate,
            dose_event_id,
            generation,
            kid: STANDARD.encode(certificate.kid().as_bytes()),
            payload_hash: hex::encode(certificate.payload_hash()),
            uci_hash: hex::encode(certificate.uci_hash()),
            country_uci_hash: hex::encode(certificate.country_uci_hash()),
            signature_hash: hex::encode(certificate.signature_hash()),
        }
    }

    /// Binds this row's [`NewCertificate::COLUMNS`] parameters.
    pub(super) fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        query
            .bind(self.certificate.uvci().as_str())
            .bind(self.dose_event_id)
            .bind(self.generation)
            .bind(self.certificate.hc1())
            .bind(self.kid.as_str())
            .bind(self.certificate.iat())
            .bind(self.certificate.exp())
            .bind(self.payload_hash.as_str())
            .bind(self.uci_hash.as_str())
            .bind(self.country_uci_hash.as_str())
            .bind(self.signature_hash.as_str())
    }

    /// The record as written.
    pub(super) fn record(&self) -> CertificateRecord {
        CertificateRecord {
            uvci: self.certificate.uvci().as_str().to_owned(),
            dose_event_id: self.dose_event_id.to_owned(),
            generation: self.generation,
            hc1: self.certificate.hc1().to_owned(),
            kid: self.kid.clone(),
            iat: self.certificate.iat(),
            exp: self.certificate.exp(),
            payload_hash: self.certificate.payload_hash(),
            uci_hash: self.certificate.uci_hash(),
            country_uci_hash: self.certificate.country_uci_hash(),
            signature_hash: self.certificate.signature_hash(),
            status: CertificateStatus::Active,
            status_reason: None,
            status_changed_at: None,
            superseded_by: None,
        }
    }
}

/// `rows` groups of `columns` placeholders, e.g. `($1, $2), ($3, $4)`; with a single column a plain
/// list (`$1, $2, $3`). Numbered (`$N`) on PostgreSQL; anonymous (`?`, bound in order) on SQLite, where
/// looking up a numbered parameter's name is a linear scan of all of them, quadratic over a multi-row
/// statement (it made bulk inserts ten times slower).
pub(super) fn placeholders(backend: LedgerBackend, columns: usize, rows: usize) -> String {
    multi_row(backend, columns, rows, "")
}

/// Like [`placeholders`], each row closed with `, 'active'`: the rows of [`NewCertificate::INSERT`].
pub(super) fn certificate_placeholders(backend: LedgerBackend, rows: usize) -> String {
    multi_row(backend, NewCertificate::COLUMNS, rows, ", 'active'")
}

fn multi_row(backend: LedgerBackend, columns: usize, rows: usize, row_suffix: &str) -> String {
    let grouped = columns > 1 || !row_suffix.is_empty();
    let per_row = columns
        .saturating_mul(8)
        .saturating_add(row_suffix.len() + 4);
    let mut out = String::with_capacity(rows.saturating_mul(per_row));
    let mut n = 0usize;
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        if grouped {
            out.push('(');
        }
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            n = n.saturating_add(1);
            match backend {
                LedgerBackend::Sqlite => out.push('?'),
                // Writing to a String cannot fail.
                LedgerBackend::Postgres => {
                    let _ = write!(out, "${n}");
                }
            }
        }
        out.push_str(row_suffix);
        if grouped {
            out.push(')');
        }
    }
    out
}

/// A sqlx error as a [`LedgerError`]: values that do not decode are corruption, everything else means
/// the database is unavailable ([`storage::db`]). The message never carries a query parameter or a row
/// value.
pub(super) fn db(error: sqlx::Error) -> LedgerError {
    storage::db(error).into()
}
