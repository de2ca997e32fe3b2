//! The citizen portal's tables: holders' protected contact details, one-time codes, sessions. See
//! `migrations/0003_citizen_portal.sql` and [`crate::citizen`].

use sqlx::Row as _;

use super::rows::{certificate_from_row, db, get};
use super::{CertificateRecord, Ledger, LedgerError};

/// A holder's contact details as the ledger keeps them: keyed hashes and the sealed phone number, never
/// the document or phone number in the clear (see [`crate::citizen::PortalSecret`]).
#[derive(Clone, PartialEq, Eq)]
pub struct HolderContact {
    /// The keyed hash of the identity document number and the date of birth.
    pub identity_key: String,
    /// The keyed hash of the phone number: everyone under one phone is one account.
    pub account_key: String,
    /// The phone number, encrypted.
    pub phone_sealed: String,
}

impl std::fmt::Debug for HolderContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HolderContact([redacted])")
    }
}

/// The rules of one-time codes, applied by the ledger in one transaction per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRules {
    /// A code is good for this many seconds.
    pub code_lifetime_s: i64,
    /// A new code for the same identity is not made (nor sent) sooner than this, seconds.
    pub resend_after_s: i64,
    /// Wrong codes in a row that lock the identity.
    pub max_wrong_tries: i64,
    /// How long a lock lasts, seconds; then the identity may ask for a code again.
    pub lock_s: i64,
}

/// What became of a request for a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRequest {
    /// The new code's hash is stored: send the code (if the identity has a phone on record).
    Stored,
    /// A code was made less than `resend_after_s` ago: nothing changed, nothing to send.
    TooSoon,
    /// The identity is locked: nothing changed, nothing to send.
    Locked,
}

/// What a code someone typed was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The right code, in time: it is used up.
    Accepted,
    /// A wrong, expired or used code (one more wrong try); `locked` when this try locked the identity.
    Refused {
        /// This try was the last one allowed: the identity is locked now.
        locked: bool,
    },
    /// The identity is locked: the code was not even compared.
    Locked,
}

impl Ledger {
    /// The account and sealed phone of an identity: those of its most recently recorded dose event.
    ///
    /// # Errors
    /// [`LedgerError`] when the database fails.
    pub async fn contact_of_identity(
        &self,
        identity_key: &str,
    ) -> Result<Option<HolderContact>, LedgerError> {
        let row = sqlx::query(
            "SELECT h.identity_key, h.account_key, h.phone_sealed FROM holder_contacts h \
             JOIN dose_events e ON e.dose_event_id = h.dose_event_id \
             WHERE h.identity_key = $1 ORDER BY e.received_at DESC, e.dose_event_id DESC LIMIT 1",
        )
        .bind(identity_key)
        .fetch_optional(&self.read)
        .await
        .map_err(db)?;
        row.map(|row| {
            Ok(HolderContact {
                identity_key: get(&row, "identity_key")?,
                account_key: get(&row, "account_key")?,
                phone_sealed: get(&row, "phone_sealed")?,
            })
        })
        .transpose()
    }

    /// Stores a new code's hash for an identity (known or not: the rows look the same), unless the
    /// identity is locked or had a code made less than `rules.resend_after_s` ago. A new code does not
    /// reset the wrong tries.
    ///
    /// # Errors
    /// [`LedgerError`] when the database fails.
    pub async fn store_code(
        &self,
        identity_key: &str,
        code_hash: &str,
        rules: CodeRules,
        now: i64,
    ) -> Result<CodeRequest, LedgerError> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let row = sqlx::query(
            "SELECT code_sent_at, locked_until FROM citizen_logins WHERE identity_key = $1",
        )
        .bind(identity_key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let decision = match &row {
            Some(row) if get::<i64>(row, "locked_until")? > now => CodeRequest::Locked,
            Some(row) if get::<i64>(row, "code_sent_at")? + rules.resend_after_s > now => {
                CodeRequest::TooSoon
            }
            _ => CodeRequest::Stored,
        };
        if decision == CodeRequest::Stored {
            sqlx::query(
                "INSERT INTO citizen_logins (identity_key, code_hash, code_expires_at, code_sent_at, \
                 wrong_tries, locked_until) VALUES ($1, $2, $3, $4, 0, 0) \
                 ON CONFLICT (identity_key) DO UPDATE SET code_hash = $2, code_expires_at = $3, \
                 code_sent_at = $4",
            )
            .bind(identity_key)
            .bind(code_hash)
            .bind(now + rules.code_lifetime_s)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(decision)
    }

    /// Compares a typed code with the identity's current one, in one transaction: the right code is used
    /// up; a wrong one counts, and the last allowed wrong try locks the identity for `rules.lock_s` (and
    /// voids its code). A lock that has run out starts a fresh count.
    ///
    /// # Errors
    /// [`LedgerError`] when the database fails.
    pub async fn check_code(
        &self,
        identity_key: &str,
        code_hash: &str,
        rules: CodeRules,
        now: i64,
    ) -> Result<CodeCheck, LedgerError> {
        let mut tx = self.write.begin().await.map_err(db)?;
        let row = sqlx::query(
            "SELECT code_hash, code_expires_at, wrong_tries, locked_until FROM citizen_logins \
             WHERE identity_key = $1",
        )
        .bind(identity_key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let (stored, expires_at, wrong_tries, locked_until) = match &row {
            Some(row) => (
                row.try_get::<Option<String>, _>("code_hash").map_err(db)?,
                get::<i64>(row, "code_expires_at")?,
                get::<i64>(row, "wrong_tries")?,
                get::<i64>(row, "locked_until")?,
            ),
            None => (None, 0, 0, 0),
        };
        if locked_until > now {
            tx.rollback().await.map_err(db)?;
            return Ok(CodeCheck::Locked);
        }
        let right = stored
            .as_deref()
            .is_some_and(|stored| constant_time_eq(stored.as_bytes(), code_hash.as_bytes()))
            && expires_at > now;
        let check = if right {
            CodeCheck::Accepted
        } else {
            CodeCheck::Refused {
                locked: wrong_tries + 1 >= rules.max_wrong_tries,
            }
        };
        let (code, wrong_tries, locked_until) = match check {
            CodeCheck::Accepted => (None, 0, 0),
            CodeCheck::Refused { locked: true } => (None, 0, now + rules.lock_s),
            CodeCheck::Refused { locked: false } => (stored, wrong_tries + 1, locked_until),
            // Returned above, before any comparison.
            CodeCheck::Locked => (stored, wrong_tries, locked_until),
        };
        sqlx::query(
            "INSERT INTO citizen_logins (identity_key, code_hash, code_expires_at, code_sent_at, \
             wrong_tries, locked_until) VALUES ($1, $2, 0, 0, $3, $4) \
             ON CONFLICT (identity_key) DO UPDATE SET code_hash = $2, wrong_tries = $3, \
             locked_until = $4",
        )
        .bind(identity_key)
        .bind(code)
        .bind(wrong_tries)
        .bind(locked_until)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(check)
    }

    /// Opens a session for an account, by the SHA-256 (hex) of its cookie; drops sessions expired by now.
    ///
    /// # Errors
    /// [`LedgerError`] when the database fails.
    pub async fn open_session(
        &self,
        token_hash: &str,
        account_key: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), LedgerError> {
        let mut tx = self.write.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM citizen_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "INSERT INTO citizen_sessions (token_hash, account_key, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(account_key)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    /// The account of a session still open at `now`.
    ///
    /// # Errors
    /// [`LedgerError`] when the database fails.
    pub async fn session_account(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<String>, LedgerError> {
        sqlx::query_scalar(
            "SELECT account_key FROM citizen_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.read)
        .await
        .map_err(db)
    }

    /// Closes a session (logging out); closing an unknown one does nothing.
    ///
    /// # Errors
    /// [`LedgerError`] when the database fails.
    pub async fn close_session(&self, token_hash: &str) -> Result<(), LedgerError> {
        sqlx::query("DELETE FROM citizen_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Every certificate of the dose events recorded under an account, with its dose event's request
    /// (the canonical JSON the registry sent, without contact details).
    ///
    /// # Errors
    /// [`LedgerError`] when the database fails.
    pub async fn account_certificates(
        &self,
        account_key: &str,
    ) -> Result<Vec<(CertificateRecord, String)>, LedgerError> {
        let rows = sqlx::query(ACCOUNT_CERTIFICATES)
            .bind(account_key)
            .fetch_all(&self.read)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| Ok((certificate_from_row(row)?, get(row, "request_json")?)))
            .collect()
    }
}

/// The certificates (with their dose event's request) of an account: the certificate columns of
/// `rows::CERTIFICATE_COLUMNS`, qualified with the certificates' alias `c`.
const ACCOUNT_CERTIFICATES: &str = "SELECT c.uvci, c.dose_event_id, c.generation, c.hc1, c.kid, \
     c.iat, c.exp, c.payload_hash, c.uci_hash, c.country_uci_hash, c.signature_hash, c.status, \
     c.status_reason, c.status_changed_at, c.superseded_by, e.request_json FROM holder_contacts h \
     JOIN dose_events e ON e.dose_event_id = h.dose_event_id \
     JOIN certificates c ON c.dose_event_id = h.dose_event_id \
     WHERE h.account_key = $1";

/// Compares two byte strings in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::ACCOUNT_CERTIFICATES;
    use crate::ledger::rows::CERTIFICATE_COLUMNS;

    /// The account query selects exactly the certificate columns the row decoder reads.
    #[test]
    fn the_account_query_selects_every_certificate_column() {
        let qualified: Vec<String> = CERTIFICATE_COLUMNS
            .split(',')
            .map(|column| format!("c.{}", column.trim()))
            .collect();
        let selected = ACCOUNT_CERTIFICATES
            .strip_prefix("SELECT ")
            .and_then(|rest| rest.split(", e.request_json").next())
            .unwrap_or_default();
        let selected: Vec<String> = selected
            .split(',')
            .map(|column| column.trim().to_owned())
            .collect();
        assert_eq!(selected, qualified);
    }
}
