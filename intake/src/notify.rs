//! The notification outbox's worker and its pluggable sender: SMS or e-mail gateways in production, the
//! development sender of `vaxcert` (JSON lines in `<data>/outbox/sms.jsonl`) by default.

use std::sync::Arc;
use std::time::Duration;

use crate::store::{Intake, StoreError};

/// Hands a message to a gateway. Called off the async runtime (it may block).
pub trait Sender: Send + Sync {
    /// Sends `text` to `phone` (E.164).
    ///
    /// # Errors
    /// [`SendError`] when the gateway did not take it: it is tried again later.
    fn send(&self, phone: &str, kind: &str, text: &str) -> Result<(), SendError>;
}

/// The gateway did not take the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the notification gateway failed: {0}")]
pub struct SendError(pub String);

/// Messages taken from the outbox per pass.
const BATCH: i64 = 100;

/// Sends what the outbox holds, until it is empty or a send fails; returns how many were sent. A failed
/// message stays in the outbox for the next pass.
///
/// # Errors
/// [`StoreError::Storage`].
pub async fn deliver_pending(
    intake: &Intake,
    sender: Arc<dyn Sender>,
    now: impl Fn() -> i64,
) -> Result<usize, StoreError> {
    let mut sent = 0usize;
    loop {
        let batch = intake.pending_notifications(BATCH).await?;
        if batch.is_empty() {
            return Ok(sent);
        }
        for message in batch {
            let gateway = Arc::clone(&sender);
            let (phone, kind, text) = (message.phone, message.kind, message.text);
            let outcome = tokio::task::spawn_blocking(move || gateway.send(&phone, &kind, &text))
                .await
                .unwrap_or_else(|_| Err(SendError("the sender panicked".to_owned())));
            let ok = outcome.is_ok();
            intake
                .record_notification_attempt(&message.notification_id, ok, now())
                .await?;
            if let Err(error) = outcome {
                tracing::warn!(%error, "notification not sent; retried on the next pass");
                return Ok(sent);
            }
            sent = sent.saturating_add(1);
        }
    }
}

/// Runs [`deliver_pending`] every `interval` until the task is dropped.
pub async fn run(intake: Intake, sender: Arc<dyn Sender>, interval: Duration) {
    loop {
        let clock = || time::OffsetDateTime::now_utc().unix_timestamp();
        if let Err(error) = deliver_pending(&intake, Arc::clone(&sender), clock).await {
            tracing::warn!(%error, "notification outbox unavailable");
        }
        tokio::time::sleep(interval).await;
    }
}

/// Writes the day-before reminders for tomorrow (Viet Nam's day) every `interval` until the task is
/// dropped: [`Intake::remind`] marks each appointment, so running it often sends each reminder once.
pub async fn run_reminders(intake: Intake, interval: Duration) {
    loop {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let tomorrow = crate::store::local_day(now).next_day();
        if let Some(day) = tomorrow {
            match intake.remind(&day.to_string(), now).await {
                Ok(0) => {}
                Ok(reminded) => tracing::info!(reminded, "appointment reminders written"),
                Err(error) => tracing::warn!(%error, "reminders: database unavailable"),
            }
        }
        tokio::time::sleep(interval).await;
    }
}
