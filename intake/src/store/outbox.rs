//! The registry's confirmation of attested doses and the issuer outbox it feeds.
//!
//! Confirming a dose sets `confirmed_at` and the registry record id and, in the same transaction,
//! writes the outbox row whose body is the issuer's dose confirmation ([`crate::confirmation`]): a dose
//! is confirmed exactly when its body waits in the outbox, and it is confirmed once. The worker
//! ([`crate::delivery`]) sends the body as stored, byte for byte, under the same idempotency key, until
//! the issuer answers; the answer's certificate is recorded with the "certificate available" message
//! in one transaction.

use sqlx::Row as _;

use super::notifications::enqueue;
use super::workflow::local_day;
use super::{Conflict, Intake, StoreError};
use crate::confirmation::{DoseRecord, Holder, RegistryConfirmation, confirmation_body};
use crate::notification::Message;

/// A dose record as stored, with its attestation, confirmation and certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dose {
    /// The dose as the site recorded it.
    pub record: DoseRecord,
    /// The appointment it was given at.
    pub appointment_id: String,
    /// `sha256:` + hex of the canonical record.
    pub record_hash: String,
    /// Who attested it.
    pub attested_by: Option<String>,
    /// When the site attested it, unix seconds.
    pub attested_at: Option<i64>,
    /// When the registry confirmed it, unix seconds.
    pub confirmed_at: Option<i64>,
    /// The registry's record id.
    pub registry_record_id: Option<String>,
    /// The certificate's UVCI, once the issuer answered.
    pub uvci: Option<String>,
    /// The certificate's expiry, unix seconds.
    pub certificate_exp: Option<i64>,
}

/// A dose just confirmed by the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// The dose.
    pub dose_event_id: String,
    /// The registry's record id, `R-YYYY-` and 12 hex digits.
    pub registry_record_id: String,
    /// When, unix seconds.
    pub confirmed_at: i64,
}

/// A row of the issuer outbox. `Debug` leaves the body out (it holds the person's data).
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The dose event id: also the idempotency key.
    pub dose_event_id: String,
    /// The dose confirmation JSON, sent as is.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Not before this, unix seconds.
    pub next_attempt_at: i64,
    /// When the issuer accepted it.
    pub delivered_at: Option<i64>,
    /// A refusal no retry can mend: `status N: <error>[, field <field>]`.
    pub failed: Option<String>,
    /// The last transient failure.
    pub last_error: Option<String>,
}

impl std::fmt::Debug for OutboxEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEntry")
            .field("dose_event_id", &self.dose_event_id)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("delivered_at", &self.delivered_at)
            .field("failed", &self.failed)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

const DOSE_COLUMNS: &str = "dose_event_id, registration_id, appointment_id, site_code, product, \
     manufacturer, prophylaxis, lot_number, dose_number, total_doses, vaccinated_on, record_hash, \
     attested_by, attested_at, confirmed_at, registry_record_id, uvci, certificate_exp";

fn dose_from_row(row: &sqlx::any::AnyRow) -> Result<Dose, StoreError> {
    let small = |column: &'static str| -> Result<u8, StoreError> {
        let value: i64 = row.try_get(column)?;
        u8::try_from(value).map_err(|_| StoreError::Storage(storage::StorageError::Corrupt(column)))
    };
    Ok(Dose {
        record: DoseRecord {
            dose_event_id: row.try_get("dose_event_id")?,
            registration_id: row.try_get("registration_id")?,
            site_code: row.try_get("site_code")?,
            product: row.try_get("product")?,
            manufacturer: row.try_get("manufacturer")?,
            prophylaxis: row.try_get("prophylaxis")?,
            lot_number: row.try_get("lot_number")?,
            dose_number: small("dose_number")?,
            total_doses: small("total_doses")?,
            vaccinated_on: row.try_get("vaccinated_on")?,
        },
        appointment_id: row.try_get("appointment_id")?,
        record_hash: row.try_get("record_hash")?,
        attested_by: row.try_get("attested_by")?,
        attested_at: row.try_get("attested_at")?,
        confirmed_at: row.try_get("confirmed_at")?,
        registry_record_id: row.try_get("registry_record_id")?,
        uvci: row.try_get("uvci")?,
        certificate_exp: row.try_get("certificate_exp")?,
    })
}

const OUTBOX_COLUMNS: &str =
    "dose_event_id, body, attempts, next_attempt_at, delivered_at, failed, last_error";

fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<OutboxEntry, StoreError> {
    Ok(OutboxEntry {
        dose_event_id: row.try_get("dose_event_id")?,
        body: row.try_get("body")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        delivered_at: row.try_get("delivered_at")?,
        failed: row.try_get("failed")?,
        last_error: row.try_get("last_error")?,
    })
}

impl Intake {
    /// The dose of that id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Storage`].
    pub async fn dose(&self, dose_event_id: &str) -> Result<Dose, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DOSE_COLUMNS} FROM doses WHERE dose_event_id = $1"
        ))
        .bind(dose_event_id)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        dose_from_row(&row)
    }

    /// The registry confirms an attested dose: `confirmed_at`, a new registry record id and, in the same
    /// transaction, the issuer outbox row carrying the dose confirmation body, due at once.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`Conflict::NotAttested`]; [`Conflict::AlreadyConfirmed`] (nothing
    /// changes: there is never a second outbox row); [`StoreError::Storage`].
    pub async fn confirm_dose(
        &self,
        dose_event_id: &str,
        now: i64,
    ) -> Result<Confirmed, StoreError> {
        let mut tx = self.write().begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {DOSE_COLUMNS} FROM doses WHERE dose_event_id = $1"
        ))
        .bind(dose_event_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let dose = dose_from_row(&row)?;
        if dose.confirmed_at.is_some() {
            return Err(StoreError::Conflict(Conflict::AlreadyConfirmed));
        }
        if dose.attested_at.is_none() {
            return Err(StoreError::Conflict(Conflict::NotAttested));
        }
        let person = sqlx::query(
            "SELECT full_name, dob, id_number, phone FROM registrations WHERE registration_id = $1",
        )
        .bind(&dose.record.registration_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::Storage(storage::StorageError::Corrupt(
            "doses.registration_id",
        )))?;
        let holder = Holder {
            full_name: person.try_get("full_name")?,
            dob: person.try_get("dob")?,
            id_number: person.try_get("id_number")?,
            phone: person.try_get("phone")?,
        };
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|_| {
            StoreError::Storage(storage::StorageError::Unavailable(
                "the system's random number generator failed".to_owned(),
            ))
        })?;
        let registry_record_id =
            format!("R-{}-{}", local_day(now).year(), hex::encode_upper(random));
        let updated = sqlx::query(
            "UPDATE doses SET confirmed_at = $1, registry_record_id = $2 \
             WHERE dose_event_id = $3 AND attested_at IS NOT NULL AND confirmed_at IS NULL",
        )
        .bind(now)
        .bind(&registry_record_id)
        .bind(dose_event_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::AlreadyConfirmed));
        }
        let body = confirmation_body(
            &dose.record,
            &holder,
            &RegistryConfirmation {
                registry_record_id: registry_record_id.clone(),
                record_hash: dose.record_hash.clone(),
            },
        );
        let inserted = sqlx::query(
            "INSERT INTO issuer_outbox (dose_event_id, body, attempts, next_attempt_at) \
             VALUES ($1, $2, 0, $3) ON CONFLICT DO NOTHING",
        )
        .bind(dose_event_id)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::AlreadyConfirmed));
        }
        tx.commit().await?;
        Ok(Confirmed {
            dose_event_id: dose_event_id.to_owned(),
            registry_record_id,
            confirmed_at: now,
        })
    }

    /// Confirms every attested dose not confirmed yet (the automatic confirmer); returns how many it
    /// confirmed. A dose another confirmer took first is skipped.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn confirm_all_attested(&self, now: i64) -> Result<usize, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT dose_event_id FROM doses \
             WHERE attested_at IS NOT NULL AND confirmed_at IS NULL ORDER BY attested_at",
        )
        .fetch_all(self.read())
        .await?;
        let mut confirmed = 0usize;
        for id in ids {
            match self.confirm_dose(&id, now).await {
                Ok(_) => confirmed = confirmed.saturating_add(1),
                Err(StoreError::Conflict(_) | StoreError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(confirmed)
    }

    /// The outbox row of that dose.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Storage`].
    pub async fn outbox_entry(&self, dose_event_id: &str) -> Result<OutboxEntry, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM issuer_outbox WHERE dose_event_id = $1"
        ))
        .bind(dose_event_id)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        entry_from_row(&row)
    }

    /// Up to `limit` outbox rows due at `now` (neither delivered nor failed), the earliest due first.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM issuer_outbox \
             WHERE delivered_at IS NULL AND failed IS NULL AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, dose_event_id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.read())
        .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// The issuer accepted the dose: records its certificate (`uvci`, `exp`) on the dose, marks the row
    /// delivered and tells the person the certificate is at `portal_link` — in one transaction. Returns
    /// `false` (and changes nothing) when the row was delivered already.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for a dose without an outbox row; [`StoreError::Storage`].
    pub async fn record_delivery(
        &self,
        dose_event_id: &str,
        uvci: &str,
        exp: i64,
        portal_link: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().begin().await?;
        let delivered = sqlx::query(
            "UPDATE issuer_outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL \
             WHERE dose_event_id = $2 AND delivered_at IS NULL",
        )
        .bind(now)
        .bind(dose_event_id)
        .execute(&mut *tx)
        .await?;
        if delivered.rows_affected() != 1 {
            let exists: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM issuer_outbox WHERE dose_event_id = $1")
                    .bind(dose_event_id)
                    .fetch_one(&mut *tx)
                    .await?;
            return if exists == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(false)
            };
        }
        sqlx::query("UPDATE doses SET uvci = $1, certificate_exp = $2 WHERE dose_event_id = $3")
            .bind(uvci)
            .bind(exp)
            .bind(dose_event_id)
            .execute(&mut *tx)
            .await?;
        let person = sqlx::query(
            "SELECT r.full_name, r.phone FROM doses d \
             JOIN registrations r ON r.registration_id = d.registration_id \
             WHERE d.dose_event_id = $1",
        )
        .bind(dose_event_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let phone: String = person.try_get("phone")?;
        let message = Message::CertificateAvailable {
            name: person.try_get("full_name")?,
            link: portal_link.to_owned(),
        };
        enqueue(&mut tx, &phone, &message, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The issuer refused the dose for good: `failed` records why; the row is never tried again.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn record_delivery_refused(
        &self,
        dose_event_id: &str,
        failed: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE issuer_outbox SET failed = $1, attempts = attempts + 1 \
             WHERE dose_event_id = $2 AND delivered_at IS NULL",
        )
        .bind(failed)
        .bind(dose_event_id)
        .execute(self.write())
        .await?;
        Ok(())
    }

    /// A transient failure: one more attempt counted, the next not before `next_attempt_at`.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn record_delivery_retry(
        &self,
        dose_event_id: &str,
        next_attempt_at: i64,
        last_error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE issuer_outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 \
             WHERE dose_event_id = $3 AND delivered_at IS NULL",
        )
        .bind(next_attempt_at)
        .bind(last_error)
        .bind(dose_event_id)
        .execute(self.write())
        .await?;
        Ok(())
    }
}
