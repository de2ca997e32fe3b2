//! The issuer outbox's worker: sends each confirmed dose to the issuer's
//! `POST /internal/v1/dose-confirmations`, over HTTP even when both run in one process.
//!
//! Delivery is at least once. Every attempt carries the stored body byte for byte and the same
//! `Idempotency-Key` (the dose event id), so the issuer answers a repeat with 200 and the same
//! certificate: a crash between the issuer's 201 and our commit is mended by the next attempt.
//!
//! | the issuer answers | the row |
//! |---|---|
//! | 201, or 200 (a replay), with `{uvci, hc1, exp}` | delivered; `uvci` and `exp` on the dose, "certificate available" to the person, one transaction |
//! | 400, 401, 403, 404, 409, 413, 415, 422 … (any other status) | `failed` = `status N: <error>[, field <field>]`, never tried again |
//! | 408, 429, 5xx, no answer | tried again after a backoff: 1 s, 2 s, 4 s … capped at 5 min, plus up to 25 % jitter (never past the cap), and at least the `Retry-After` |
//!
//! A pass stops at the first transient failure (the issuer is down or busy: the other rows wait for
//! the next pass). Log lines name the dose event id and the outcome, never the body, a name or a UVCI.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::store::{Intake, OutboxEntry, StoreError};

/// The longest backoff, seconds.
pub const MAX_BACKOFF_S: i64 = 300;
/// How long one request may take, in all.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Rows taken from the outbox at a time.
const BATCH: i64 = 50;
/// The largest answer read.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// The issuer's internal API, as a client holding a bearer token with the `issue` scope.
#[derive(Clone)]
pub struct IssuerClient {
    base_url: String,
    token: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for IssuerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerClient")
            .field("base_url", &self.base_url)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// What the issuer answered one attempt.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// 201 or 200: the certificate.
    Issued {
        /// The certificate's UVCI (never logged).
        uvci: String,
        /// Its expiry, unix seconds.
        exp: i64,
    },
    /// A refusal no retry can mend.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The issuer's `error` code (printable ASCII, at most 100 characters).
        error: String,
        /// The field it names, if any.
        field: Option<String>,
    },
    /// Try again later.
    Transient {
        /// Why, without personal data: `status 503`, or the connection error.
        reason: String,
        /// The issuer's `Retry-After`, seconds.
        retry_after: Option<i64>,
    },
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Issued { exp, .. } => f
                .debug_struct("Issued")
                .field("uvci", &"[redacted]")
                .field("exp", exp)
                .finish(),
            Answer::Refused {
                status,
                error,
                field,
            } => f
                .debug_struct("Refused")
                .field("status", status)
                .field("error", error)
                .field("field", field)
                .finish(),
            Answer::Transient {
                reason,
                retry_after,
            } => f
                .debug_struct("Transient")
                .field("reason", reason)
                .field("retry_after", retry_after)
                .finish(),
        }
    }
}

#[derive(Deserialize)]
struct Certificate {
    uvci: String,
    exp: i64,
}

#[derive(Deserialize)]
struct Refusal {
    error: Option<String>,
    field: Option<String>,
}

/// `text` kept to printable ASCII and at most 100 characters: the issuer's codes and field paths.
fn tidy(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(100)
        .collect()
}

impl IssuerClient {
    /// A client of the issuer at `base_url` (`http://127.0.0.1:8080`, no trailing `/` needed),
    /// authenticating with `token`; requests time out after [`REQUEST_TIMEOUT`]; TLS through rustls.
    pub fn new(base_url: &str, token: &str) -> IssuerClient {
        let crypto = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(crypto)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        IssuerClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            agent,
        }
    }

    /// Posts `body` as dose event `dose_event_id`'s confirmation (blocking: call it off the runtime).
    pub fn post(&self, dose_event_id: &str, body: &str) -> Answer {
        let url = format!("{}/internal/v1/dose-confirmations", self.base_url);
        let sent = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Idempotency-Key", dose_event_id)
            .header("Content-Type", "application/json")
            .send(body.as_bytes());
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                return Answer::Transient {
                    reason: tidy(&format!("no answer: {error}")),
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<i64>().ok());
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .unwrap_or_default();
        classify(status, &text, retry_after)
    }
}

/// What an answer of `status` with body `text` means.
pub fn classify(status: u16, text: &str, retry_after: Option<i64>) -> Answer {
    match status {
        200 | 201 => match serde_json::from_str::<Certificate>(text) {
            Ok(certificate) => Answer::Issued {
                uvci: certificate.uvci,
                exp: certificate.exp,
            },
            Err(_) => Answer::Transient {
                reason: format!("status {status}: unreadable certificate"),
                retry_after,
            },
        },
        408 | 429 | 500..=599 => Answer::Transient {
            reason: format!("status {status}"),
            retry_after,
        },
        _ => {
            let refusal = serde_json::from_str::<Refusal>(text).unwrap_or(Refusal {
                error: None,
                field: None,
            });
            Answer::Refused {
                status,
                error: tidy(refusal.error.as_deref().unwrap_or("no error code")),
                field: refusal.field.as_deref().map(tidy),
            }
        }
    }
}

/// Seconds to wait after the failed attempt number `attempt` (1 for the first): 2^(attempt-1) capped at
/// [`MAX_BACKOFF_S`], plus `jitter`/255 of a quarter of it, never past the cap.
pub fn backoff_seconds(attempt: i64, jitter: u8) -> i64 {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    let base = 1i64
        .checked_shl(exponent)
        .unwrap_or(MAX_BACKOFF_S)
        .min(MAX_BACKOFF_S);
    let extra = base.saturating_mul(i64::from(jitter)) / (255 * 4);
    base.saturating_add(extra).min(MAX_BACKOFF_S)
}

/// What one [`deliver_due`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryPass {
    /// Rows the issuer accepted (201 or 200).
    pub delivered: usize,
    /// Rows the issuer refused for good.
    pub failed: usize,
    /// Rows to try again later.
    pub retried: usize,
}

/// Sends every outbox row due at `now`, recording each answer (see the module's table); stops at the
/// first transient failure. `portal_link` goes into the "certificate available" message.
///
/// # Errors
/// [`StoreError::Storage`] when the outbox cannot be read or an answer recorded (the row stays due: the
/// issuer replays its certificate on the next attempt).
pub async fn deliver_due(
    intake: &Intake,
    client: &IssuerClient,
    portal_link: &str,
    now: i64,
) -> Result<DeliveryPass, StoreError> {
    let mut pass = DeliveryPass::default();
    loop {
        let due = intake.due_deliveries(now, BATCH).await?;
        if due.is_empty() {
            return Ok(pass);
        }
        for entry in due {
            match attempt(client, &entry).await {
                Answer::Issued { uvci, exp } => {
                    intake
                        .record_delivery(&entry.dose_event_id, &uvci, exp, portal_link, now)
                        .await?;
                    tracing::info!(dose_event_id = %entry.dose_event_id, "dose confirmation delivered");
                    pass.delivered = pass.delivered.saturating_add(1);
                }
                Answer::Refused {
                    status,
                    error,
                    field,
                } => {
                    let failed = match &field {
                        Some(field) => format!("status {status}: {error}, field {field}"),
                        None => format!("status {status}: {error}"),
                    };
                    intake
                        .record_delivery_refused(&entry.dose_event_id, &failed)
                        .await?;
                    tracing::warn!(dose_event_id = %entry.dose_event_id, %failed, "dose confirmation refused by the issuer; not retried");
                    pass.failed = pass.failed.saturating_add(1);
                }
                Answer::Transient {
                    reason,
                    retry_after,
                } => {
                    let mut jitter = [0u8; 1];
                    let _ = getrandom::fill(&mut jitter);
                    let wait = backoff_seconds(
                        entry.attempts.saturating_add(1),
                        u8::from_ne_bytes(jitter),
                    )
                    .max(retry_after.unwrap_or(0).clamp(0, MAX_BACKOFF_S));
                    intake
                        .record_delivery_retry(
                            &entry.dose_event_id,
                            now.saturating_add(wait),
                            &reason,
                        )
                        .await?;
                    tracing::info!(dose_event_id = %entry.dose_event_id, %reason, wait, "dose confirmation not delivered; retried later");
                    pass.retried = pass.retried.saturating_add(1);
                    return Ok(pass);
                }
            }
        }
    }
}

async fn attempt(client: &IssuerClient, entry: &OutboxEntry) -> Answer {
    let client = client.clone();
    let (key, body) = (entry.dose_event_id.clone(), entry.body.clone());
    tokio::task::spawn_blocking(move || client.post(&key, &body))
        .await
        .unwrap_or_else(|_| Answer::Transient {
            reason: "the HTTP client panicked".to_owned(),
            retry_after: None,
        })
}

/// Runs [`deliver_due`] every `interval` on the system clock, until the task is dropped.
pub async fn run(intake: Intake, client: IssuerClient, portal_link: String, interval: Duration) {
    loop {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Err(error) = deliver_due(&intake, &client, &portal_link, now).await {
            tracing::warn!(%error, "issuer outbox unavailable");
        }
        tokio::time::sleep(interval).await;
    }
}

/// Runs [`Intake::confirm_all_attested`] every `interval` on the system clock (the automatic
/// registry confirmer), until the task is dropped.
pub async fn run_confirmer(intake: Intake, interval: Duration) {
    loop {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match intake.confirm_all_attested(now).await {
            Ok(0) => {}
            Ok(confirmed) => tracing::info!(confirmed, "attested doses confirmed"),
            Err(error) => tracing::warn!(%error, "registry confirmer: database unavailable"),
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{Answer, backoff_seconds, classify};

    #[test]
    fn backoff_doubles_from_one_second_to_five_minutes() {
        let plain: Vec<i64> = (1..=11).map(|n| backoff_seconds(n, 0)).collect();
        assert_eq!(plain, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff_seconds(0, 0), 1);
        assert_eq!(backoff_seconds(i64::MAX, 255), 300);
        assert_eq!(backoff_seconds(5, 255), 20);
        assert_eq!(backoff_seconds(9, 255), 300);
    }

    #[test]
    fn answers_are_classified_by_status() {
        assert_eq!(
            classify(
                201,
                r#"{"uvci":"URN:UVCI:01:VN:AB","hc1":"HC1:x","exp":5}"#,
                None
            ),
            Answer::Issued {
                uvci: "URN:UVCI:01:VN:AB".into(),
                exp: 5
            }
        );
        assert!(matches!(
            classify(200, r#"{"uvci":"U","hc1":"HC1:x","exp":5}"#, None),
            Answer::Issued { .. }
        ));
        assert!(matches!(
            classify(201, "not json", None),
            Answer::Transient { .. }
        ));
        for status in [408, 429, 500, 502, 503] {
            assert!(
                matches!(
                    classify(status, "", Some(5)),
                    Answer::Transient {
                        retry_after: Some(5),
                        ..
                    }
                ),
                "{status}"
            );
        }
        assert_eq!(
            classify(
                422,
                r#"{"error":"invalid_field","field":"vaccination.mp","message":"x"}"#,
                None
            ),
            Answer::Refused {
                status: 422,
                error: "invalid_field".into(),
                field: Some("vaccination.mp".into())
            }
        );
        for status in [400, 401, 403, 409] {
            assert!(
                matches!(classify(status, "", None), Answer::Refused { .. }),
                "{status}"
            );
        }
    }

    #[test]
    fn debug_hides_the_uvci() {
        let issued = Answer::Issued {
            uvci: "URN:UVCI:01:VN:SECRET".into(),
            exp: 1,
        };
        assert!(!format!("{issued:?}").contains("SECRET"));
    }
}
