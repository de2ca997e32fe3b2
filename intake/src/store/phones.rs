//! Registrants' phones: one-time codes and the sessions they open.
//!
//! A code is 6 random digits, lives 10 minutes and is used once; a phone gets at most one a minute.
//! Three wrong tries lock the phone for 15 minutes (no code is sent and none is accepted meanwhile);
//! the count of wrong tries runs across codes until a login succeeds, so asking for a new code does not
//! reset it. Only hashes are stored: the code bound to its phone, and the session token. The code is
//! returned to the caller to send at once — never stored in the clear, so never in the outbox.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::Row as _;

use super::{Intake, StoreError, secret_hash};

/// How long a code is valid, seconds.
pub const CODE_LIFETIME_S: i64 = 600;
/// The least time between two codes to one phone, seconds.
pub const CODE_INTERVAL_S: i64 = 60;
/// Wrong tries that lock the phone.
pub const MAX_WRONG_TRIES: i64 = 3;
/// How long a lock lasts, seconds.
pub const LOCK_S: i64 = 900;
/// How long a session lasts, seconds.
pub const SESSION_LIFETIME_S: i64 = 1800;

/// Why no code was issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// A code was issued less than a minute ago: 429.
    #[error("a code was sent less than a minute ago")]
    TooSoon,
    /// The phone is locked after wrong tries: 429.
    #[error("too many wrong codes; try again later")]
    Locked,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// No such code, a wrong one, or an expired one: 401.
    #[error("wrong or expired code")]
    WrongCode,
    /// The phone is locked after wrong tries: 429.
    #[error("too many wrong codes; try again later")]
    Locked,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A session opened by a code: the token (for the cookie; only its hash is stored) and its end.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneSession {
    /// 32 random bytes, base64url.
    pub token: String,
    /// The phone, E.164.
    pub phone: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl std::fmt::Debug for PhoneSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneSession")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| {
        StoreError::Storage(storage::StorageError::Unavailable(
            "the system's random number generator failed".to_owned(),
        ))
    })?;
    Ok(bytes)
}

/// 6 uniformly random digits.
fn random_code() -> Result<String, StoreError> {
    // 4_294_000_000 is the largest multiple of 10^6 below 2^32: rejection keeps the digits uniform.
    loop {
        let value = u32::from_le_bytes(random_bytes::<4>()?);
        if value < 4_294_000_000 {
            return Ok(format!("{:06}", value % 1_000_000));
        }
    }
}

/// The stored hash of `code` for `phone` (bound to the phone, so one hash never fits another phone).
fn code_hash(phone: &str, code: &str) -> String {
    secret_hash(&format!("phone-code:{phone}:{code}"))
}

impl Intake {
    /// Issues a new one-time code for `phone` (E.164), replacing any earlier one; returns it for the
    /// caller to send.
    ///
    /// # Errors
    /// [`CodeError::TooSoon`] within a minute of the last code; [`CodeError::Locked`]; the database.
    pub async fn issue_phone_code(&self, phone: &str, now: i64) -> Result<String, CodeError> {
        let mut tx = self.write().begin().await.map_err(StoreError::from)?;
        let row = sqlx::query("SELECT issued_at, locked_until FROM phone_codes WHERE phone = $1")
            .bind(phone)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        if let Some(row) = &row {
            let issued_at: i64 = row.try_get("issued_at").map_err(StoreError::from)?;
            let locked_until: Option<i64> =
                row.try_get("locked_until").map_err(StoreError::from)?;
            if locked_until.is_some_and(|until| until > now) {
                return Err(CodeError::Locked);
            }
            if now < issued_at.saturating_add(CODE_INTERVAL_S) {
                return Err(CodeError::TooSoon);
            }
        }
        let code = random_code()?;
        let hash = code_hash(phone, &code);
        let expires_at = now.saturating_add(CODE_LIFETIME_S);
        if row.is_some() {
            // A lock that has run out starts the count of wrong tries afresh.
            sqlx::query(
                "UPDATE phone_codes SET code_hash = $1, issued_at = $2, expires_at = $3, \
                 failures = CASE WHEN locked_until IS NULL THEN failures ELSE 0 END, \
                 locked_until = NULL WHERE phone = $4",
            )
            .bind(&hash)
            .bind(now)
            .bind(expires_at)
            .bind(phone)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        } else {
            sqlx::query(
                "INSERT INTO phone_codes (phone, code_hash, issued_at, expires_at, failures) \
                 VALUES ($1, $2, $3, $4, 0)",
            )
            .bind(phone)
            .bind(&hash)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(code)
    }

    /// Checks `code` for `phone` and opens a session. The code is used up on success.
    ///
    /// # Errors
    /// [`LoginError::WrongCode`] (counted), [`LoginError::Locked`]; the database.
    pub async fn log_in_phone(
        &self,
        phone: &str,
        code: &str,
        now: i64,
    ) -> Result<PhoneSession, LoginError> {
        let mut tx = self.write().begin().await.map_err(StoreError::from)?;
        let row = sqlx::query("SELECT locked_until FROM phone_codes WHERE phone = $1")
            .bind(phone)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let Some(row) = row else {
            return Err(LoginError::WrongCode);
        };
        let locked_until: Option<i64> = row.try_get("locked_until").map_err(StoreError::from)?;
        if locked_until.is_some_and(|until| until > now) {
            return Err(LoginError::Locked);
        }
        // Used up atomically: a second request with the same code finds no match.
        let matched = sqlx::query(
            "UPDATE phone_codes SET code_hash = '', expires_at = 0, failures = 0, locked_until = NULL \
             WHERE phone = $1 AND code_hash = $2 AND expires_at > $3",
        )
        .bind(phone)
        .bind(code_hash(phone, code))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?
        .rows_affected();
        if matched != 1 {
            let failures: i64 = sqlx::query_scalar(
                "UPDATE phone_codes SET failures = failures + 1 WHERE phone = $1 RETURNING failures",
            )
            .bind(phone)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::from)?;
            if failures >= MAX_WRONG_TRIES {
                sqlx::query(
                    "UPDATE phone_codes SET locked_until = $1, code_hash = '', expires_at = 0 \
                     WHERE phone = $2",
                )
                .bind(now.saturating_add(LOCK_S))
                .bind(phone)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            }
            tx.commit().await.map_err(StoreError::from)?;
            return Err(LoginError::WrongCode);
        }
        let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
        let expires_at = now.saturating_add(SESSION_LIFETIME_S);
        sqlx::query("DELETE FROM phone_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        sqlx::query(
            "INSERT INTO phone_sessions (token_hash, phone, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(secret_hash(&token))
        .bind(phone)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(PhoneSession {
            token,
            phone: phone.to_owned(),
            expires_at,
        })
    }

    /// The phone of a live session.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or expired token; the database.
    pub async fn phone_session(&self, token: &str, now: i64) -> Result<String, StoreError> {
        let phone: Option<String> = sqlx::query_scalar(
            "SELECT phone FROM phone_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(secret_hash(token))
        .bind(now)
        .fetch_optional(self.read())
        .await?;
        phone.ok_or(StoreError::NotFound)
    }

    /// Ends a session (nothing happens for an unknown token).
    ///
    /// # Errors
    /// The database.
    pub async fn end_phone_session(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM phone_sessions WHERE token_hash = $1")
            .bind(secret_hash(token))
            .execute(self.write())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{CODE_LIFETIME_S, CodeError, LOCK_S, LoginError, SESSION_LIFETIME_S};
    use crate::store::{StoreError, testing};

    const PHONE: &str = "+84912345678";
    const T: i64 = 1_627_790_000;

    #[tokio::test]
    async fn a_code_opens_one_session_once() {
        let intake = testing::sqlite().await;
        let code = intake.issue_phone_code(PHONE, T).await.unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let session = intake.log_in_phone(PHONE, &code, T + 5).await.unwrap();
        assert_eq!(session.expires_at, T + 5 + SESSION_LIFETIME_S);
        assert_eq!(
            intake.phone_session(&session.token, T + 6).await.unwrap(),
            PHONE
        );
        assert!(matches!(
            intake
                .phone_session(&session.token, T + 5 + SESSION_LIFETIME_S)
                .await,
            Err(StoreError::NotFound)
        ));
        // Used once.
        assert!(matches!(
            intake.log_in_phone(PHONE, &code, T + 7).await,
            Err(LoginError::WrongCode)
        ));
        intake.end_phone_session(&session.token).await.unwrap();
        assert!(intake.phone_session(&session.token, T + 8).await.is_err());
    }

    #[tokio::test]
    async fn one_code_a_minute_and_codes_expire() {
        let intake = testing::sqlite().await;
        let code = intake.issue_phone_code(PHONE, T).await.unwrap();
        assert!(matches!(
            intake.issue_phone_code(PHONE, T + 59).await,
            Err(CodeError::TooSoon)
        ));
        assert!(matches!(
            intake.log_in_phone(PHONE, &code, T + CODE_LIFETIME_S).await,
            Err(LoginError::WrongCode)
        ));
        let again = intake
            .issue_phone_code(PHONE, T + CODE_LIFETIME_S + 1)
            .await
            .unwrap();
        intake
            .log_in_phone(PHONE, &again, T + CODE_LIFETIME_S + 2)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn three_wrong_tries_lock_the_phone_for_a_quarter_hour() {
        let intake = testing::sqlite().await;
        let code = intake.issue_phone_code(PHONE, T).await.unwrap();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for i in 0..3 {
            assert!(matches!(
                intake.log_in_phone(PHONE, wrong, T + i).await,
                Err(LoginError::WrongCode)
            ));
        }
        assert!(matches!(
            intake.log_in_phone(PHONE, &code, T + 4).await,
            Err(LoginError::Locked)
        ));
        assert!(matches!(
            intake.issue_phone_code(PHONE, T + 120).await,
            Err(CodeError::Locked)
        ));
        let fresh = intake
            .issue_phone_code(PHONE, T + 2 + LOCK_S)
            .await
            .unwrap();
        intake
            .log_in_phone(PHONE, &fresh, T + 3 + LOCK_S)
            .await
            .unwrap();
        // Another phone is not affected by this one's lock.
        assert!(intake.issue_phone_code("+84987654321", T + 5).await.is_ok());
    }
}
