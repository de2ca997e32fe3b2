//! The notification outbox: a message is written in the same transaction as the change it announces,
//! and a worker ([`crate::notify`]) hands it to the sender afterwards — so a crash loses none and sends
//! none for a change that did not commit.

use sqlx::{AnyConnection, Row as _};

use super::{Intake, StoreError, new_id};
use crate::notification::Message;

/// A message waiting in (or delivered from) the outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Its id.
    pub notification_id: String,
    /// The phone it goes to (E.164).
    pub phone: String,
    /// [`Message::kind`].
    pub kind: String,
    /// [`Message::text`].
    pub text: String,
    /// When it was written, unix seconds.
    pub created_at: i64,
    /// When the sender took it, unix seconds.
    pub sent_at: Option<i64>,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("notification_id", &self.notification_id)
            .field("kind", &self.kind)
            .field("sent_at", &self.sent_at)
            .finish_non_exhaustive()
    }
}

/// Writes `message` to `phone` into the outbox, inside the caller's transaction.
///
/// # Errors
/// [`StoreError::Storage`].
pub async fn enqueue(
    connection: &mut AnyConnection,
    phone: &str,
    message: &Message,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notifications (notification_id, phone, kind, text, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id()?)
    .bind(phone)
    .bind(message.kind())
    .bind(message.text())
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

const COLUMNS: &str = "notification_id, phone, kind, text, created_at, sent_at";

/// Ids one `UPDATE` of [`Intake::record_notifications_sent`] marks.
const MARK_CHUNK: usize = 128;

fn from_row(row: &sqlx::any::AnyRow) -> Result<OutboxMessage, StoreError> {
    Ok(OutboxMessage {
        notification_id: row.try_get("notification_id")?,
        phone: row.try_get("phone")?,
        kind: row.try_get("kind")?,
        text: row.try_get("text")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

impl Intake {
    /// Writes `message` to `phone` into the outbox in a transaction of its own.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn notify(&self, phone: &str, message: &Message, now: i64) -> Result<(), StoreError> {
        let mut connection = self.write().acquire().await?;
        enqueue(&mut connection, phone, message, now).await
    }

    /// Up to `limit` messages not yet sent, oldest first (by the second they were written; within one
    /// second in no promised order).
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn pending_notifications(
        &self,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // Ordered as the index `notifications_pending (sent_at, created_at)` reads, so the database stops
        // after `limit` rows: a tie-break on the id made it read and sort every message of the last
        // second taken, thousands a pass on a busy node.
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE sent_at IS NULL \
             ORDER BY created_at LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.read())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Marks a message sent (or, with `sent` false, counts a failed attempt).
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn record_notification_attempt(
        &self,
        notification_id: &str,
        sent: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let sent_at = sent.then_some(now);
        sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, sent_at = $1 \
             WHERE notification_id = $2 AND sent_at IS NULL",
        )
        .bind(sent_at)
        .bind(notification_id)
        .execute(self.write())
        .await?;
        Ok(())
    }

    /// Marks the messages `notification_ids` sent, in one transaction (one commit, so one flush of the
    /// disk, for a whole pass of the outbox worker rather than one a message).
    ///
    /// # Errors
    /// [`StoreError::Storage`]; then none is marked.
    pub async fn record_notifications_sent(
        &self,
        notification_ids: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        if notification_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().begin().await?;
        for chunk in notification_ids.chunks(MARK_CHUNK) {
            // Padded to a power of two with copies of the last id, so the statement has one of a few
            // shapes and is prepared once each.
            let mut ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            if let Some(last) = ids.last().copied() {
                ids.resize(ids.len().next_power_of_two(), last);
            }
            let placeholders: Vec<String> = (2..ids.len() + 2).map(|n| format!("${n}")).collect();
            let sql = format!(
                "UPDATE notifications SET attempts = attempts + 1, sent_at = $1 \
                 WHERE sent_at IS NULL AND notification_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(now);
            for id in ids {
                query = query.bind(id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every message to `phone`, sent or not, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn notifications_to(&self, phone: &str) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE phone = $1 \
             ORDER BY created_at, notification_id"
        ))
        .bind(phone)
        .fetch_all(self.read())
        .await?;
        rows.iter().map(from_row).collect()
    }
}
