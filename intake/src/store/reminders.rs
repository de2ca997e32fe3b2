//! Day-before reminders: every live appointment (invited or confirmed) on a given day gets one
//! [`Message::Reminder`], written to the outbox in the transaction that marks it reminded — so a
//! reminder is never lost and never sent twice, however often the worker runs.

use sqlx::Row as _;

use super::notifications::enqueue;
use super::{Intake, StoreError};
use crate::notification::Message;

/// Appointments reminded per transaction.
const BATCH: i64 = 500;

impl Intake {
    /// Writes a reminder for every live appointment on `day` (`YYYY-MM-DD`) not yet reminded; returns
    /// how many.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn remind(&self, day: &str, now: i64) -> Result<usize, StoreError> {
        let mut reminded = 0usize;
        loop {
            let mut tx = self.write().begin().await?;
            let rows = sqlx::query(
                "SELECT a.appointment_id, a.booking_code, c.site_code, r.full_name, r.phone \
                 FROM appointments a JOIN capacity c ON c.capacity_id = a.capacity_id \
                 JOIN registrations r ON r.registration_id = a.registration_id \
                 WHERE c.day = $1 AND a.status IN ('invited', 'confirmed') \
                 AND a.reminded_at IS NULL ORDER BY a.appointment_id LIMIT $2",
            )
            .bind(day)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
            if rows.is_empty() {
                tx.commit().await?;
                return Ok(reminded);
            }
            for row in &rows {
                let appointment_id: String = row.try_get("appointment_id")?;
                let phone: String = row.try_get("phone")?;
                let message = Message::Reminder {
                    name: row.try_get("full_name")?,
                    site: row.try_get("site_code")?,
                    day: day.to_owned(),
                    booking_code: row.try_get("booking_code")?,
                };
                let marked = sqlx::query(
                    "UPDATE appointments SET reminded_at = $1 \
                     WHERE appointment_id = $2 AND reminded_at IS NULL",
                )
                .bind(now)
                .bind(&appointment_id)
                .execute(&mut *tx)
                .await?;
                if marked.rows_affected() == 1 {
                    enqueue(&mut tx, &phone, &message, now).await?;
                    reminded = reminded.saturating_add(1);
                }
            }
            tx.commit().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::store::testing;

    /// Live appointments of the day are reminded once each; cancelled ones and other days are not.
    #[tokio::test]
    async fn each_live_appointment_of_the_day_is_reminded_once() {
        let intake = testing::sqlite().await;
        let pool = intake.write().clone();
        for sql in [
            "INSERT INTO sites VALUES ('HN-0001', 'Site', '01', 0, 0)",
            "INSERT INTO capacity (capacity_id, site_code, day, session, product, slots, published_by, \
             published_at) VALUES ('c1', 'HN-0001', '2021-09-15', 'morning', 'EU/1/20/1528', 10, 's', 0)",
            "INSERT INTO capacity (capacity_id, site_code, day, session, product, slots, published_by, \
             published_at) VALUES ('c2', 'HN-0001', '2021-09-16', 'morning', 'EU/1/20/1528', 10, 's', 0)",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        for (i, (capacity, status)) in [
            ("c1", "invited"),
            ("c1", "confirmed"),
            ("c1", "cancelled"),
            ("c2", "invited"),
        ]
        .into_iter()
        .enumerate()
        {
            sqlx::query(
                "INSERT INTO registrations (registration_id, campaign, phone, full_name, dob, sex, \
                 id_kind, id_number, occupation, province_code, commune_code, admin_scheme, \
                 declared_group, priority_group, policy_id, policy_version, preferred_site, \
                 medical_history, status, created_at) VALUES ($1, 'covid-19', $2, 'Trần Thị Đào', \
                 '1990-02-03', 'female', 'citizen_id', $3, 'x', '01', '00001', '2021', 'others', \
                 'others', 'qd-3355-byt', 1, 'HN-0001', '{}', 'invited', 0)",
            )
            .bind(format!("r{i}"))
            .bind(format!("+8491000000{i}"))
            .bind(format!("00109000000{i}"))
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO appointments (appointment_id, registration_id, capacity_id, \
                 dose_number, booking_code, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, 1, $4, $5, 0, 0)",
            )
            .bind(format!("a{i}"))
            .bind(format!("r{i}"))
            .bind(capacity)
            .bind(format!("BOOK{i}"))
            .bind(status)
            .execute(&pool)
            .await
            .unwrap();
        }
        assert_eq!(intake.remind("2021-09-15", 100).await.unwrap(), 2);
        assert_eq!(intake.remind("2021-09-15", 200).await.unwrap(), 0, "once");
        let pending = intake.pending_notifications(10).await.unwrap();
        let mut sent: Vec<String> = pending
            .iter()
            .map(|message| format!("{} {}", message.phone, message.kind))
            .collect();
        sent.sort();
        assert_eq!(
            sent,
            ["+84910000000 reminder", "+84910000001 reminder"],
            "the invited and the confirmed of that day"
        );
        let text = &pending
            .iter()
            .find(|message| message.phone == "+84910000000")
            .unwrap()
            .text;
        assert!(
            text.contains("BOOK0") && text.contains("2021-09-15") && text.contains("T* T* Dao")
        );
    }
}
