//! The portal's service: one-time codes, sessions, and the certificates a session may see.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hcert::ValueSets;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::secret::PortalSecret;
use crate::confirmation::DoseConfirmation;
use crate::ledger::{
    CertificateRecord, CertificateStatus, CodeCheck, CodeRequest, CodeRules, Ledger, LedgerError,
};
use crate::service::Clock;

/// The rules of logging in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Digits of a one-time code (6 or more).
    pub code_digits: u32,
    /// Lifetime, resending, wrong tries and lock of the codes.
    pub codes: CodeRules,
    /// How long a session stays open, seconds.
    pub session_lifetime_s: i64,
}

impl Default for LoginPolicy {
    /// 6-digit codes good for 10 minutes, at most one a minute per identity; 3 wrong codes lock the
    /// identity for 15 minutes; sessions of 15 minutes.
    fn default() -> Self {
        LoginPolicy {
            code_digits: 6,
            codes: CodeRules {
                code_lifetime_s: 10 * 60,
                resend_after_s: 60,
                max_wrong_tries: 3,
                lock_s: 15 * 60,
            },
            session_lifetime_s: 15 * 60,
        }
    }
}

/// A text message to send. `Debug` shows neither the number nor the text (it carries a code).
pub struct SmsMessage {
    /// The phone number, as the registry sent it.
    pub to: Zeroizing<String>,
    /// The text: unaccented Vietnamese, then English.
    pub text: Zeroizing<String>,
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmsMessage([redacted])")
    }
}

/// Sends text messages: a gateway in production, a file in development. Called off the request path, so
/// that how long it takes tells nothing about whether an identity is known.
pub trait SmsSender: Send + Sync {
    /// Sends one message.
    ///
    /// # Errors
    /// Whatever kept the message from being handed over; the portal logs that one failed, nothing more.
    fn send(&self, message: SmsMessage) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// Why the portal could not answer.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The ledger is unavailable (HTTP 503).
    #[error("the ledger is unavailable")]
    Unavailable(#[source] LedgerError),
    /// The ledger failed otherwise (HTTP 500).
    #[error("ledger error: {0}")]
    Ledger(#[source] LedgerError),
    /// The system gave no randomness for a code or a session (HTTP 500).
    #[error("no randomness available")]
    Randomness,
}

impl From<LedgerError> for PortalError {
    fn from(error: LedgerError) -> PortalError {
        match error {
            LedgerError::Unavailable(_) => PortalError::Unavailable(error),
            other => PortalError::Ledger(other),
        }
    }
}

/// Why a login was refused. An unknown identity is refused exactly like a known one with a wrong code.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// A wrong, expired or used code, or no code was sent for this identity (HTTP 401).
    #[error("wrong or expired code")]
    WrongCode,
    /// Too many wrong codes: the identity is locked for a while (HTTP 429).
    #[error("too many wrong codes; try again later")]
    Locked,
    /// The portal could not answer.
    #[error(transparent)]
    Portal(#[from] PortalError),
}

impl From<LedgerError> for LoginError {
    fn from(error: LedgerError) -> LoginError {
        LoginError::Portal(error.into())
    }
}

/// An open session: the cookie's value, shown once. `Debug` shows only the expiry.
pub struct Session {
    /// The session token (the cookie's value).
    pub token: Zeroizing<String>,
    /// When it expires, unix seconds.
    pub expires_at: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A certificate's status as the citizen sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayStatus {
    /// Valid and current.
    Active,
    /// Replaced by a renewal (still verifiable until it expires).
    Superseded,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl DisplayStatus {
    /// `active`, `superseded`, `revoked` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            DisplayStatus::Active => "active",
            DisplayStatus::Superseded => "superseded",
            DisplayStatus::Revoked => "revoked",
            DisplayStatus::Expired => "expired",
        }
    }
}

/// One certificate of an account, as the portal shows and serves it. `Debug` shows its status only.
#[derive(Clone)]
pub struct CitizenCertificate {
    /// Its id in the portal's URLs ([`PortalSecret::download_id`]).
    pub download_id: String,
    /// The certificate as the ledger holds it (UVCI, `HC1:` text, validity).
    pub record: CertificateRecord,
    /// The dose confirmation it was issued for (names, date of birth, vaccination).
    pub confirmation: DoseConfirmation,
    /// Its status at the time of asking.
    pub status: DisplayStatus,
}

impl std::fmt::Debug for CitizenCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitizenCertificate")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The citizen portal's service over the ledger.
pub struct Portal {
    ledger: Arc<Ledger>,
    secret: Arc<PortalSecret>,
    policy: LoginPolicy,
    sender: Arc<dyn SmsSender>,
    clock: Clock,
    value_sets: Option<Arc<ValueSets>>,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Portal {
    /// A portal on `ledger`, sending codes with `sender`, at `clock`'s time.
    pub fn new(
        ledger: Arc<Ledger>,
        secret: Arc<PortalSecret>,
        policy: LoginPolicy,
        sender: Arc<dyn SmsSender>,
        clock: Clock,
    ) -> Portal {
        Portal {
            ledger,
            secret,
            policy,
            sender,
            clock,
            value_sets: None,
        }
    }

    /// Names vaccines, manufacturers and countries on the printable certificate by these value sets.
    pub fn with_value_sets(mut self, value_sets: Arc<ValueSets>) -> Portal {
        self.value_sets = Some(value_sets);
        self
    }

    /// The value sets the printable certificate names codes by, if any.
    pub fn value_sets(&self) -> Option<&ValueSets> {
        self.value_sets.as_deref()
    }

    /// The login rules in force.
    pub fn policy(&self) -> LoginPolicy {
        self.policy
    }

    /// Makes a one-time code for an identity and, if a dose event was recorded for it, sends it to the
    /// phone on record. Known and unknown identities take the same path through the ledger (a code's
    /// hash is stored for both), and the answer is the same: `Ok(())`.
    ///
    /// # Errors
    /// [`PortalError`] when the ledger fails or no randomness is available.
    pub async fn request_code(&self, id_number: &str, dob: &str) -> Result<(), PortalError> {
        let identity = self.secret.identity_key(id_number, dob);
        let contact = self.ledger.contact_of_identity(&identity).await?;
        let code = random_code(self.policy.code_digits)?;
        let code_hash = self.secret.code_hash(&identity, &code);
        let now = (self.clock)();
        let request = self
            .ledger
            .store_code(&identity, &code_hash, self.policy.codes, now)
            .await?;
        if let (CodeRequest::Stored, Some(contact)) = (request, contact) {
            let Ok(to) = self.secret.open_phone(&contact.phone_sealed) else {
                tracing::error!("a holder's sealed phone number does not open: no code sent");
                return Ok(());
            };
            let minutes = self.policy.codes.code_lifetime_s / 60;
            let text = Zeroizing::new(format!(
                "Ma xac thuc vaxcert cua ban: {} (hieu luc {minutes} phut). Khong chia se ma nay. \
                 Your vaxcert code: {} (valid {minutes} min). Do not share it.",
                code.as_str(),
                code.as_str()
            ));
            let sender = Arc::clone(&self.sender);
            tokio::task::spawn_blocking(move || {
                if sender.send(SmsMessage { to, text }).is_err() {
                    tracing::warn!("a one-time code could not be sent");
                }
            });
        }
        Ok(())
    }

    /// Checks a typed code and, when it is right, opens a session on the account of the phone on
    /// record. A wrong code counts towards the lock; an identity without a dose event never gets a
    /// session (its codes were never sent).
    ///
    /// # Errors
    /// [`LoginError::WrongCode`], [`LoginError::Locked`], or the portal's failure.
    pub async fn log_in(
        &self,
        id_number: &str,
        dob: &str,
        code: &str,
    ) -> Result<Session, LoginError> {
        let identity = self.secret.identity_key(id_number, dob);
        let code_hash = self.secret.code_hash(&identity, code.trim());
        let now = (self.clock)();
        match self
            .ledger
            .check_code(&identity, &code_hash, self.policy.codes, now)
            .await?
        {
            CodeCheck::Accepted => {}
            CodeCheck::Refused { .. } => return Err(LoginError::WrongCode),
            CodeCheck::Locked => return Err(LoginError::Locked),
        }
        let contact = self
            .ledger
            .contact_of_identity(&identity)
            .await?
            .ok_or(LoginError::WrongCode)?;
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|_| PortalError::Randomness)?;
        let token = Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()));
        let expires_at = now + self.policy.session_lifetime_s;
        self.ledger
            .open_session(&token_hash(&token), &contact.account_key, expires_at, now)
            .await?;
        Ok(Session { token, expires_at })
    }

    /// The account a session token opens, while the session lasts.
    ///
    /// # Errors
    /// [`PortalError`] when the ledger fails.
    pub async fn account(&self, token: &str) -> Result<Option<String>, PortalError> {
        let now = (self.clock)();
        Ok(self.ledger.session_account(&token_hash(token), now).await?)
    }

    /// Closes a session.
    ///
    /// # Errors
    /// [`PortalError`] when the ledger fails.
    pub async fn log_out(&self, token: &str) -> Result<(), PortalError> {
        Ok(self.ledger.close_session(&token_hash(token)).await?)
    }

    /// The certificates of an account: newest dose first (date of vaccination, then dose number, then
    /// the newest issue).
    ///
    /// # Errors
    /// [`PortalError`] when the ledger fails or holds a request it cannot read.
    pub async fn certificates(
        &self,
        account_key: &str,
    ) -> Result<Vec<CitizenCertificate>, PortalError> {
        let now = (self.clock)();
        let mut certificates = self
            .ledger
            .account_certificates(account_key)
            .await?
            .into_iter()
            .map(|(record, request_json)| {
                let confirmation: DoseConfirmation = serde_json::from_str(&request_json)
                    .map_err(|_| PortalError::Ledger(LedgerError::Corrupt("request_json")))?;
                let status = match record.status {
                    CertificateStatus::Revoked => DisplayStatus::Revoked,
                    _ if record.exp <= now => DisplayStatus::Expired,
                    CertificateStatus::Superseded => DisplayStatus::Superseded,
                    CertificateStatus::Active => DisplayStatus::Active,
                };
                Ok(CitizenCertificate {
                    download_id: self.secret.download_id(&record.uvci),
                    record,
                    confirmation,
                    status,
                })
            })
            .collect::<Result<Vec<_>, PortalError>>()?;
        certificates.sort_by(|a, b| {
            let key = |c: &CitizenCertificate| {
                (
                    c.confirmation.vaccination.dt.clone(),
                    c.confirmation.vaccination.dn,
                    c.record.iat,
                    c.record.generation,
                )
            };
            key(b).cmp(&key(a))
        });
        Ok(certificates)
    }

    /// One certificate of an account by its download id; `None` for any id the account does not hold
    /// (another person's included).
    ///
    /// # Errors
    /// [`PortalError`] when the ledger fails.
    pub async fn certificate(
        &self,
        account_key: &str,
        download_id: &str,
    ) -> Result<Option<CitizenCertificate>, PortalError> {
        Ok(self
            .certificates(account_key)
            .await?
            .into_iter()
            .find(|certificate| certificate.download_id == download_id))
    }
}

/// The SHA-256 of a session token, hex: what the ledger stores.
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A uniformly random code of `digits` decimal digits (rejection sampling, no modulo bias).
fn random_code(digits: u32) -> Result<Zeroizing<String>, PortalError> {
    let digits = digits.clamp(6, 12);
    let bound = 10u64.pow(digits);
    let zone = u64::MAX - u64::MAX % bound;
    loop {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|_| PortalError::Randomness)?;
        let value = u64::from_le_bytes(bytes);
        if value < zone {
            let width = digits as usize;
            return Ok(Zeroizing::new(format!("{:0width$}", value % bound)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::random_code;

    #[test]
    fn codes_have_the_digits_asked_for_and_vary() {
        let codes: Vec<String> = (0..50)
            .map(|_| random_code(6).unwrap().to_string())
            .collect();
        assert!(codes.iter().all(|code| code.len() == 6));
        assert!(
            codes
                .iter()
                .all(|code| code.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(codes.iter().any(|code| code != &codes[0]));
        assert_eq!(random_code(8).unwrap().len(), 8);
        assert_eq!(
            random_code(3).unwrap().len(),
            6,
            "never fewer than 6 digits"
        );
    }
}
