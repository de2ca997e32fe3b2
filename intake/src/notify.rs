//! The notification outbox's worker and its pluggable sender: SMS or e-mail gateways in production, the
//! development sender of `vaxcert` (JSON lines in `<data>/outbox/sms.jsonl`) by default.

use std::sync::Arc;
use std::time::Duration;

use crate::store::{Intake, OutboxMessage, StoreError};

/// Hands a message to a gateway. Called off the async runtime (it may block).
pub trait Sender: Send + Sync {
    /// Sends `text` to `phone` (E.164).
    ///
    /// # Errors
    /// [`SendError`] when the gateway did not take it: it is tried again later.
    fn send(&self, phone: &str, kind: &str, text: &str) -> Result<(), SendError>;

    /// Sends `messages` in order, stopping at the first the gateway does not take: how many it took,
    /// and why it refused the next, if it did. By default one [`Sender::send`] a message; a gateway
    /// that takes a batch at once (one request, one disk sync) overrides it.
    fn send_many(&self, messages: &[OutboxMessage]) -> (usize, Option<SendError>) {
        for (taken, message) in messages.iter().enumerate() {
            if let Err(error) = self.send(&message.phone, &message.kind, &message.text) {
                return (taken, Some(error));
            }
        }
        (messages.len(), None)
    }
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
/// The messages of a batch are handed to the sender together ([`Sender::send_many`]) on one blocking
/// thread, then those it took are marked sent together in one transaction (a commit a message made the
/// outbox, not the registrations, the limit of a busy SQLite node). Delivery is at least once, as
/// before: a crash after a send and before the mark sends again, now up to a batch of messages.
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
        let gateway = Arc::clone(&sender);
        let outcome = tokio::task::spawn_blocking(move || {
            let (count, error) = gateway.send_many(&batch);
            let mut ids = batch.into_iter().map(|message| message.notification_id);
            let taken: Vec<String> = ids.by_ref().take(count).collect();
            (
                taken,
                error.and_then(|error| ids.next().map(|id| (id, error))),
            )
        })
        .await;
        let (taken, failed) = match outcome {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::warn!("the notification sender panicked; retried on the next pass");
                return Ok(sent);
            }
        };
        intake.record_notifications_sent(&taken, now()).await?;
        sent = sent.saturating_add(taken.len());
        if let Some((notification_id, error)) = failed {
            intake
                .record_notification_attempt(&notification_id, false, now())
                .await?;
            tracing::warn!(%error, "notification not sent; retried on the next pass");
            return Ok(sent);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::sync::{Arc, Mutex};

    use super::{SendError, Sender, deliver_pending};
    use crate::notification::Message;
    use crate::store::testing;

    /// Takes messages until it has taken `fail_after`, then refuses every one.
    struct Gateway {
        taken: Mutex<Vec<String>>,
        fail_after: usize,
    }

    impl Sender for Gateway {
        fn send(&self, phone: &str, _kind: &str, _text: &str) -> Result<(), SendError> {
            let mut taken = self.taken.lock().unwrap();
            if taken.len() >= self.fail_after {
                return Err(SendError("down".to_owned()));
            }
            taken.push(phone.to_owned());
            Ok(())
        }
    }

    /// A pass marks sent exactly what the gateway took, stops at the first refusal (which stays
    /// pending), and the next pass sends the rest, in order, once each.
    #[tokio::test]
    async fn a_pass_marks_what_was_taken_and_the_next_sends_the_rest() {
        let intake = testing::sqlite().await;
        let phones: Vec<String> = (0..5).map(|i| format!("+8491234567{i}")).collect();
        for (i, phone) in phones.iter().enumerate() {
            let message = Message::RegistrationReceived {
                name: "Nguyễn Văn An".to_owned(),
            };
            intake
                .notify(phone, &message, 1_000 + i as i64)
                .await
                .unwrap();
        }
        let flaky = Arc::new(Gateway {
            taken: Mutex::new(Vec::new()),
            fail_after: 2,
        });
        assert_eq!(
            deliver_pending(&intake, flaky.clone(), || 2_000)
                .await
                .unwrap(),
            2
        );
        let mut sent = Vec::new();
        for phone in &phones {
            sent.push(intake.notifications_to(phone).await.unwrap()[0].sent_at);
        }
        assert_eq!(sent, [Some(2_000), Some(2_000), None, None, None]);
        assert_eq!(intake.pending_notifications(10).await.unwrap().len(), 3);

        let working = Arc::new(Gateway {
            taken: Mutex::new(Vec::new()),
            fail_after: usize::MAX,
        });
        assert_eq!(
            deliver_pending(&intake, working.clone(), || 3_000)
                .await
                .unwrap(),
            3
        );
        assert!(intake.pending_notifications(10).await.unwrap().is_empty());
        let all: Vec<String> = flaky
            .taken
            .lock()
            .unwrap()
            .iter()
            .chain(working.taken.lock().unwrap().iter())
            .cloned()
            .collect();
        assert_eq!(all, phones);
    }
}
