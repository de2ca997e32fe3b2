//! The certificate ledger: every certificate issued, its status, and an append-only audit log, in SQLite
//! (WAL, `synchronous=FULL`) or PostgreSQL through one set of migrations.
//!
//! Exactly-once issuance per dose event is the database's job: `dose_events.dose_event_id` is the primary
//! key, and the first certificate of a dose event is written in the same transaction as its dose event.
//!
//! Everything goes through `sqlx::AnyPool` with portable SQL: `$N` placeholders (`?` in SQLite's
//! multi-row statements, see `rows::placeholders`), TEXT and BIGINT columns only. Hashes are stored as
//! lowercase hex, times as unix seconds, kids as standard base64. On SQLite every write goes through a
//! single-connection pool (SQLite has one writer: queueing in the pool rather than in the database's
//! lock means no `SQLITE_BUSY` under concurrency) and reads through a small pool of their own (WAL
//! readers do not block the writer). On PostgreSQL one pool serves both.
//!
//! The audit log is append-only and holds ids and reason codes, never personal data. Its sequence numbers
//! come from a counter row updated last in each writing transaction, so on PostgreSQL they are handed
//! out in commit order and a reader paging with `seq > after` never skips an entry.

mod batch;
mod citizen;
mod connect;
mod rows;
mod write;

use sqlx::AnyPool;

use crate::issue::IssuedCertificate;
use trust_list::RevocationHash;

use self::rows::{
    AUDIT_COLUMNS, CERTIFICATE_COLUMNS, DOSE_EVENT_WITH_CERTIFICATE, MAX_BINDS, audit_from_row,
    certificate_from_row, db, dose_event_from_row, get, hex_array, placeholders,
};

pub use citizen::{CodeCheck, CodeRequest, CodeRules, HolderContact};
pub use storage::redacted_url;

/// Which database a ledger runs on.
pub use storage::Backend as LedgerBackend;

/// A certificate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    /// Valid and current.
    Active,
    /// Replaced by a renewal; still verifiable until it expires.
    Superseded,
    /// Revoked: its hashes are on the revocation list.
    Revoked,
}

impl CertificateStatus {
    /// `active`, `superseded` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Active => "active",
            CertificateStatus::Superseded => "superseded",
            CertificateStatus::Revoked => "revoked",
        }
    }
}

/// A dose event's first certificate, to record.
pub struct Issuance<'a> {
    /// The registry's immutable dose event id (the `Idempotency-Key`).
    pub dose_event_id: &'a str,
    /// `DoseConfirmation::canonical_hash` of the request.
    pub request_hash: [u8; 32],
    /// The canonical JSON of the request (for renewal), without `id_number` and `phone`.
    pub request_json: &'a str,
    /// The dose event this one corrects: its certificates are revoked in the same transaction, under
    /// the rules of [`crate::correction`].
    pub supersedes: Option<&'a str>,
    /// The certificate.
    pub certificate: &'a IssuedCertificate,
    /// Who asked (an API client name or `cli`), for the audit log and `confirmed_by`.
    pub actor: &'a str,
    /// Whose dose events `actor` may supersede.
    pub corrections: CorrectionRights,
    /// Who may see the certificate in the citizen portal: the holder's protected contact details, when
    /// the registry sent them and the service has a portal secret.
    pub contact: Option<&'a HolderContact>,
}

/// Whose dose events an actor may supersede (correct).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrectionRights {
    /// Only the dose events it confirmed itself.
    OwnOnly,
    /// Any dose event: an API client with the `correct` scope, or the operator (bulk issuance).
    Any,
}

/// Why a correction was refused: nothing was recorded. See [`crate::correction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CorrectionRefusal {
    /// The ledger holds no such dose event, or it is the correcting dose event itself.
    #[error("the superseded dose event is unknown")]
    UnknownDoseEvent,
    /// Another client confirmed the superseded dose event, and this one may not correct it.
    #[error("the superseded dose event was confirmed by another client")]
    OtherClient,
    /// The superseded dose event is not the same person's ([`crate::correction::same_person`]).
    #[error("the superseded dose event is another person's")]
    DifferentPerson,
    /// Another correction superseded that dose event already.
    #[error("the superseded dose event was corrected already")]
    AlreadyCorrected,
}

/// A certificate as the ledger holds it. `Debug` leaves out the UVCI and the `HC1:` text.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Its UVCI (`ci`), the primary key.
    pub uvci: String,
    /// The dose event it certifies.
    pub dose_event_id: String,
    /// 0 for the dose event's first certificate, +1 per renewal.
    pub generation: i64,
    /// The `HC1:` text: the certificate itself.
    pub hc1: String,
    /// The signing DSC's kid, base64.
    pub kid: String,
    /// Issued at (CWT `iat`), unix seconds.
    pub iat: i64,
    /// Expires at (CWT `exp`), unix seconds.
    pub exp: i64,
    /// SHA-256 of the signed COSE payload.
    pub payload_hash: [u8; 32],
    /// Revocation hash `UCI`.
    pub uci_hash: RevocationHash,
    /// Revocation hash `COUNTRYCODEUCI`.
    pub country_uci_hash: RevocationHash,
    /// Revocation hash `SIGNATURE`.
    pub signature_hash: RevocationHash,
    /// Active, superseded or revoked.
    pub status: CertificateStatus,
    /// Why the status last changed: the revocation reason code, or `renewed` when superseded.
    pub status_reason: Option<String>,
    /// When the status last changed, unix seconds; `None` while it is as issued.
    pub status_changed_at: Option<i64>,
    /// The UVCI of the renewal that replaced it.
    pub superseded_by: Option<String>,
}

impl std::fmt::Debug for CertificateRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateRecord")
            .field("generation", &self.generation)
            .field("kid", &self.kid)
            .field("iat", &self.iat)
            .field("exp", &self.exp)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A dose event as recorded: what the registry sent, once. `Debug` leaves out the request, which holds
/// the holder's names and date of birth.
#[derive(Clone, PartialEq, Eq)]
pub struct DoseEventRecord {
    /// The registry's dose event id, the primary key.
    pub dose_event_id: String,
    /// `DoseConfirmation::canonical_hash` of the request that recorded it.
    pub request_hash: [u8; 32],
    /// The canonical JSON of that request, without `id_number` and `phone`.
    pub request_json: String,
    /// The dose event it corrected, if any.
    pub supersedes: Option<String>,
    /// When it was recorded, unix seconds.
    pub received_at: i64,
    /// The API client (or `cli`) that confirmed it; `None` only for a dose event recorded before the
    /// ledger kept it and without an `issue` audit entry.
    pub confirmed_by: Option<String>,
    /// The dose event that corrected it, if any (at most one does).
    pub superseded_by: Option<String>,
}

impl std::fmt::Debug for DoseEventRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoseEventRecord")
            .field("dose_event_id", &self.dose_event_id)
            .field("supersedes", &self.supersedes)
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}

/// What `record_issuance` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The certificate is recorded: it may be handed out.
    Issued(CertificateRecord),
    /// The dose event was already recorded (by this request's twin, maybe concurrently): the certificate
    /// passed in was not recorded and must be dropped; here is the one that was.
    AlreadyRecorded {
        /// The dose event as first recorded (compare its `request_hash` with the request's).
        event: DoseEventRecord,
        /// Its first certificate (generation 0).
        certificate: CertificateRecord,
    },
}

/// The three hashes of a revoked certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedHashes {
    /// Revocation hash `UCI`.
    pub uci: RevocationHash,
    /// Revocation hash `COUNTRYCODEUCI`.
    pub country_uci: RevocationHash,
    /// Revocation hash `SIGNATURE`.
    pub signature: RevocationHash,
}

/// One line of the audit log. `Debug` leaves out the UVCI.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log, increasing.
    pub seq: i64,
    /// When, unix seconds.
    pub at: i64,
    /// `issue`, `renew`, `revoke`, `supersede`, `client_created`, `client_disabled`.
    pub action: String,
    /// The dose event concerned, if any.
    pub dose_event_id: Option<String>,
    /// The certificate concerned, if any.
    pub uvci: Option<String>,
    /// Who asked: an API client name, or `cli`.
    pub actor: String,
    /// A reason code or note; never personal data.
    pub detail: Option<String>,
}

impl std::fmt::Debug for AuditEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditEntry")
            .field("seq", &self.seq)
            .field("at", &self.at)
            .field("action", &self.action)
            .field("dose_event_id", &self.dose_event_id)
            .field("actor", &self.actor)
            .field("detail", &self.detail)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::{AuditEntry, DoseEventRecord};

    #[test]
    fn records_do_not_show_personal_data_or_uvcis_in_debug() {
        let event = DoseEventRecord {
            dose_event_id: String::from("dose-1"),
            request_hash: [7; 32],
            request_json: String::from(
                r#"{"person":{"fn":"Nguyễn","gn":"Bảo Duy","dob":"1983-10-10"}}"#,
            ),
            supersedes: None,
            received_at: 1,
            confirmed_by: Some(String::from("registry")),
            superseded_by: None,
        };
        let entry = AuditEntry {
            seq: 1,
            at: 1,
            action: String::from("issue"),
            dose_event_id: Some(String::from("dose-1")),
            uvci: Some(String::from(
                "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#P",
            )),
            actor: String::from("registry"),
            detail: None,
        };
        let shown = format!("{event:?} {entry:?}");
        for secret in ["Nguyễn", "Bảo", "1983", "URN:UVCI"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("dose-1"), "{shown}");
    }
}

/// What an API client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `POST /internal/v1/dose-confirmations`.
    Issue,
    /// `GET /internal/v1/certificates/{uvci}`.
    Read,
    /// `POST /internal/v1/certificates/{uvci}/revocation`.
    Revoke,
    /// With `issue`: correct (supersede) dose events that other clients confirmed. Without it a client
    /// corrects only its own.
    Correct,
}

impl Scope {
    /// `issue`, `read`, `revoke` or `correct`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Issue => "issue",
            Scope::Read => "read",
            Scope::Revoke => "revoke",
            Scope::Correct => "correct",
        }
    }

    /// The scope named `name` (`issue`, `read`, `revoke` or `correct`), if any.
    pub fn parse(name: &str) -> Option<Scope> {
        match name {
            "issue" => Some(Scope::Issue),
            "read" => Some(Scope::Read),
            "revoke" => Some(Scope::Revoke),
            "correct" => Some(Scope::Correct),
            _ => None,
        }
    }
}

/// An API client, found by its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    /// Its unique name (the `actor` of its audit entries).
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Disabled clients are refused.
    pub disabled: bool,
}

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL (use sqlite:PATH or postgres://…)")]
    UnsupportedUrl,
    /// The database cannot be reached or failed: the caller answers 503.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// No such certificate or dose event.
    #[error("not found")]
    NotFound,
    /// The certificate is not in a status that allows the change.
    #[error("the certificate is {}", .0.as_str())]
    WrongStatus(CertificateStatus),
    /// An API client of that name exists.
    #[error("an API client of that name exists")]
    DuplicateClient,
    /// A correction was refused; nothing was recorded.
    #[error("correction refused: {0}")]
    Correction(CorrectionRefusal),
    /// A stored row does not decode (corruption or a newer schema).
    #[error("a stored row is malformed: {0}")]
    Corrupt(&'static str),
}

/// The ledger: a pool (two on SQLite: one writer, a few readers) on one database, migrated.
pub struct Ledger {
    backend: LedgerBackend,
    /// Every writing transaction: a single connection on SQLite, the shared pool on PostgreSQL.
    write: AnyPool,
    /// Reads: a few connections on SQLite, the shared pool on PostgreSQL.
    read: AnyPool,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens (creating a SQLite file, 0600, and its directory, 0700, if needed) and migrates the ledger
    /// at `url`: `sqlite:PATH` / `sqlite://PATH` or `postgres://…` / `postgresql://…`.
    ///
    /// # Errors
    /// [`LedgerError::UnsupportedUrl`] for any other URL (and for in-memory SQLite, which a pool cannot
    /// share); [`LedgerError::Unavailable`] when the database cannot be reached or created, or SQLite
    /// refuses WAL mode; [`LedgerError::Migration`].
    pub async fn open(url: &str) -> Result<Ledger, LedgerError> {
        connect::open(url).await
    }

    /// The backend.
    pub fn backend(&self) -> LedgerBackend {
        self.backend
    }

    /// Closes the pool, waiting for connections to finish. Later calls answer
    /// [`LedgerError::Unavailable`].
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    /// Records a dose event's first certificate and its audit entry in one transaction (and, for a
    /// correction, revokes the superseded dose event's certificates with reason `corrected` and marks
    /// it `superseded_by` this one). When the dose event is already recorded, records nothing and
    /// returns what is.
    ///
    /// # Errors
    /// [`LedgerError::Correction`] (nothing recorded) when the correction breaks a rule of
    /// [`crate::correction`] — of concurrent corrections of one dose event, all but one answer
    /// [`CorrectionRefusal::AlreadyCorrected`]; [`LedgerError::Unavailable`].
    pub async fn record_issuance(
        &self,
        issuance: &Issuance<'_>,
        now: i64,
    ) -> Result<Recorded, LedgerError> {
        write::record_issuance(&self.write, self.backend, issuance, now).await
    }

    /// `record_issuance` for many in one transaction (bulk issuance), results in order. A dose event
    /// twice in `batch` is recorded once: the later ones answer `AlreadyRecorded`.
    ///
    /// # Errors
    /// As [`Ledger::record_issuance`]; a refused correction fails the whole batch and nothing is
    /// recorded.
    pub async fn record_issuances(
        &self,
        batch: &[Issuance<'_>],
        now: i64,
    ) -> Result<Vec<Recorded>, LedgerError> {
        batch::record_issuances(&self.write, self.backend, batch, now).await
    }

    /// The dose event and its first certificate (generation 0).
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`].
    pub async fn dose_event(
        &self,
        dose_event_id: &str,
    ) -> Result<Option<(DoseEventRecord, CertificateRecord)>, LedgerError> {
        let sql = format!("{DOSE_EVENT_WITH_CERTIFICATE} WHERE e.dose_event_id = $1");
        let row = sqlx::query(&sql)
            .bind(dose_event_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.map(|row| Ok((dose_event_from_row(&row)?, certificate_from_row(&row)?)))
            .transpose()
    }

    /// Which of `dose_event_ids` are recorded, with their request hashes (resuming bulk issuance), in
    /// the order asked.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`].
    pub async fn recorded_dose_events(
        &self,
        dose_event_ids: &[&str],
    ) -> Result<Vec<(String, [u8; 32])>, LedgerError> {
        let mut found = std::collections::HashMap::new();
        for chunk in dose_event_ids.chunks(MAX_BINDS) {
            let sql = format!(
                "SELECT dose_event_id, request_hash FROM dose_events WHERE dose_event_id IN ({})",
                placeholders(self.backend, 1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.read).await.map_err(db)? {
                let id: String = get(&row, "dose_event_id")?;
                let hash: String = get(&row, "request_hash")?;
                found.insert(id, hex_array(&hash, "request_hash")?);
            }
        }
        let mut out = Vec::with_capacity(found.len());
        for id in dose_event_ids {
            if let Some((id, hash)) = found.remove_entry(*id) {
                out.push((id, hash));
            }
        }
        Ok(out)
    }

    /// The certificate with this UVCI.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`].
    pub async fn certificate(&self, uvci: &str) -> Result<Option<CertificateRecord>, LedgerError> {
        let sql = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE uvci = $1");
        let row = sqlx::query(&sql)
            .bind(uvci)
            .fetch_optional(&self.read)
            .await
            .map_err(db)?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    /// Every certificate of a dose event, by generation.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`].
    pub async fn certificates_of(
        &self,
        dose_event_id: &str,
    ) -> Result<Vec<CertificateRecord>, LedgerError> {
        let sql = format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE dose_event_id = $1 \
             ORDER BY generation"
        );
        let rows = sqlx::query(&sql)
            .bind(dose_event_id)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.iter().map(certificate_from_row).collect()
    }

    /// Revokes a certificate (active or superseded) with its audit entry; `WrongStatus(Revoked)` if it is.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`]; [`LedgerError::WrongStatus`]; [`LedgerError::Unavailable`].
    pub async fn revoke(
        &self,
        uvci: &str,
        reason: &str,
        actor: &str,
        now: i64,
    ) -> Result<CertificateRecord, LedgerError> {
        write::revoke(&self.write, self.backend, uvci, reason, actor, now).await
    }

    /// Records `renewal` (same dose event, next generation, active) and marks `old_uvci` superseded by it,
    /// in one transaction with the audit entry; `WrongStatus` unless the old one is active.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`]; [`LedgerError::WrongStatus`]; [`LedgerError::Unavailable`].
    pub async fn record_renewal(
        &self,
        old_uvci: &str,
        renewal: &IssuedCertificate,
        actor: &str,
        now: i64,
    ) -> Result<CertificateRecord, LedgerError> {
        write::record_renewal(&self.write, self.backend, old_uvci, renewal, actor, now).await
    }

    /// Active certificates with `after < exp <= until`, by `exp`, at most `limit`.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`].
    pub async fn expiring(
        &self,
        after: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<CertificateRecord>, LedgerError> {
        let sql = format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates \
             WHERE status = 'active' AND exp > $1 AND exp <= $2 ORDER BY exp, uvci LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(until)
            .bind(limit.max(0))
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.iter().map(certificate_from_row).collect()
    }

    /// The hashes of every revoked certificate that has not expired at `now` (`exp > now`).
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`].
    pub async fn revoked_hashes(&self, now: i64) -> Result<Vec<RevokedHashes>, LedgerError> {
        let rows = sqlx::query(
            "SELECT uci_hash, country_uci_hash, signature_hash FROM certificates \
             WHERE status = 'revoked' AND exp > $1 ORDER BY exp, uvci",
        )
        .bind(now)
        .fetch_all(&self.read)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(RevokedHashes {
                    uci: hex_array(&get::<String>(row, "uci_hash")?, "uci_hash")?,
                    country_uci: hex_array(
                        &get::<String>(row, "country_uci_hash")?,
                        "country_uci_hash",
                    )?,
                    signature: hex_array(&get::<String>(row, "signature_hash")?, "signature_hash")?,
                })
            })
            .collect()
    }

    /// A number that grows whenever a certificate is revoked (the revocation list's version): the
    /// audit sequence number of the latest revocation, 0 before the first.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`].
    pub async fn revocation_version(&self) -> Result<i64, LedgerError> {
        let version: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM audit_log WHERE action = 'revoke'")
                .fetch_one(&self.read)
                .await
                .map_err(db)?;
        Ok(version.unwrap_or(0))
    }

    /// Audit entries with `seq > after`, in order, at most `limit`.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`].
    pub async fn audit_log(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, LedgerError> {
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after)
            .bind(limit.max(0))
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.iter().map(audit_from_row).collect()
    }

    /// Counts: (dose events, certificates).
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`].
    pub async fn counts(&self) -> Result<(i64, i64), LedgerError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM dose_events) AS dose_events, \
             (SELECT COUNT(*) FROM certificates) AS certificates",
        )
        .fetch_one(&self.read)
        .await
        .map_err(db)?;
        Ok((get(&row, "dose_events")?, get(&row, "certificates")?))
    }

    /// Whether the ledger answers (`SELECT 1`), for `/healthz`.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`].
    pub async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check` (and foreign keys); a trivial query on PostgreSQL.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] when SQLite finds a problem; [`LedgerError::Unavailable`].
    pub async fn integrity_check(&self) -> Result<(), LedgerError> {
        connect::integrity_check(self).await
    }

    /// Registers an API client by its token's SHA-256, with an audit entry (actor `cli`).
    ///
    /// # Errors
    /// [`LedgerError::DuplicateClient`] when the name (or the token) is taken;
    /// [`LedgerError::Unavailable`].
    pub async fn create_client(
        &self,
        name: &str,
        token_hash: [u8; 32],
        scopes: &[Scope],
        now: i64,
    ) -> Result<(), LedgerError> {
        write::create_client(&self.write, self.backend, name, token_hash, scopes, now).await
    }

    /// Disables an API client: its token is refused from now on (401), with an audit entry.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] when no enabled client has that name; [`LedgerError::Unavailable`].
    pub async fn disable_client(&self, name: &str, now: i64) -> Result<(), LedgerError> {
        write::disable_client(&self.write, self.backend, name, now).await
    }

    /// Every API client, by name (tokens are not stored, so none is shown).
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`] for an unknown stored scope.
    pub async fn clients(&self) -> Result<Vec<ApiClient>, LedgerError> {
        let rows = sqlx::query("SELECT name, scopes, disabled_at FROM api_clients ORDER BY name")
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.iter().map(client_from_row).collect()
    }

    /// The client holding the token with this SHA-256.
    ///
    /// # Errors
    /// [`LedgerError::Unavailable`]; [`LedgerError::Corrupt`] for an unknown stored scope.
    pub async fn client_by_token_hash(
        &self,
        token_hash: [u8; 32],
    ) -> Result<Option<ApiClient>, LedgerError> {
        let row =
            sqlx::query("SELECT name, scopes, disabled_at FROM api_clients WHERE token_hash = $1")
                .bind(hex::encode(token_hash))
                .fetch_optional(&self.read)
                .await
                .map_err(db)?;
        row.as_ref().map(client_from_row).transpose()
    }
}

/// An `api_clients` row (`name`, `scopes`, `disabled_at`).
fn client_from_row(row: &sqlx::any::AnyRow) -> Result<ApiClient, LedgerError> {
    let scopes: String = get(row, "scopes")?;
    let scopes = scopes
        .split(',')
        .filter(|scope| !scope.is_empty())
        .map(|scope| Scope::parse(scope).ok_or(LedgerError::Corrupt("scopes")))
        .collect::<Result<Vec<_>, _>>()?;
    let disabled_at: Option<i64> = get(row, "disabled_at")?;
    Ok(ApiClient {
        name: get(row, "name")?,
        scopes,
        disabled: disabled_at.is_some(),
    })
}
