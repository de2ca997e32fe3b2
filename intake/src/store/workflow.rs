//! The site's day: check-in, screening and its effects, the dose record, the site's attestation, and the
//! re-classification of a registration's priority group. Every method acts only on appointments (and
//! doses, registrations) of the given site: anything else is [`StoreError::NotFound`].
//!
//! Appointment statuses move `invited | confirmed → checked_in → vaccinated`, or from `checked_in` to
//! `postponed` / `refused` after screening; each move is a conditional `UPDATE` on the expected status,
//! so two requests racing cannot both apply. A move out of the live statuses releases its capacity
//! (`capacity.reserved - 1`); a dose keeps it (the slot was used).

use sqlx::{Any, Row as _, Transaction};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use super::notifications::enqueue;
use super::{Conflict, Intake, StoreError};
use crate::confirmation::{DoseRecord, dose_event_id};
use crate::notification::Message;
use crate::screening::{Outcome, Screening, ScreeningAnswers, VitalSigns};
use crate::vaccines;

/// Viet Nam's offset from UTC (Indochina Time, no daylight saving): the "day" of a site.
const VIET_NAM: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// The day in Viet Nam at `now` (unix seconds).
pub fn local_day(now: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(now)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(VIET_NAM)
        .date()
}

/// `day` as `YYYY-MM-DD`.
pub(crate) fn day_text(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// What the site records about a dose it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoseInput {
    /// The vial's lot number.
    pub lot_number: String,
    /// The day, `YYYY-MM-DD` (checked by the caller: a real day, not in the future).
    pub vaccinated_on: String,
    /// Which dose of the series (the appointment's).
    pub dose_number: u8,
    /// Doses in the series.
    pub total_doses: u8,
}

/// A dose just recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDose {
    /// Its immutable id (a UUIDv7).
    pub dose_event_id: String,
    /// `sha256:` + hex of the canonical record.
    pub record_hash: String,
}

/// What a screening did to the appointment and the registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningEffect {
    /// The appointment's status afterwards.
    pub appointment_status: &'static str,
    /// The first day the person may be invited again, when postponed.
    pub postponed_until: Option<String>,
}

/// A registration's priority classification, and the policy it was registered under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// The policy's id.
    pub policy_id: String,
    /// The policy's version.
    pub policy_version: i64,
    /// The group the registrant declared.
    pub declared_group: String,
    /// The group it is ranked in now.
    pub priority_group: String,
}

/// An appointment at a site, with what the workflow needs of its capacity and registration.
struct Appointment {
    registration_id: String,
    capacity_id: String,
    /// The capacity's day, `YYYY-MM-DD`.
    day: String,
    status: String,
    dose_number: i64,
    booking_code: String,
    product: String,
    hospital_grade: bool,
    full_name: String,
    phone: String,
}

async fn appointment_at(
    tx: &mut Transaction<'static, Any>,
    site_code: &str,
    appointment_id: &str,
) -> Result<Appointment, StoreError> {
    let row = sqlx::query(
        "SELECT a.registration_id, a.capacity_id, c.day, a.status, a.dose_number, a.booking_code, \
                c.product, s.hospital_grade, r.full_name, r.phone \
         FROM appointments a \
         JOIN capacity c ON c.capacity_id = a.capacity_id \
         JOIN sites s ON s.site_code = c.site_code \
         JOIN registrations r ON r.registration_id = a.registration_id \
         WHERE a.appointment_id = $1 AND c.site_code = $2",
    )
    .bind(appointment_id)
    .bind(site_code)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(Appointment {
        registration_id: row.try_get("registration_id")?,
        capacity_id: row.try_get("capacity_id")?,
        day: row.try_get("day")?,
        status: row.try_get("status")?,
        dose_number: row.try_get("dose_number")?,
        booking_code: row.try_get("booking_code")?,
        product: row.try_get("product")?,
        hospital_grade: row.try_get::<i64, _>("hospital_grade")? != 0,
        full_name: row.try_get("full_name")?,
        phone: row.try_get("phone")?,
    })
}

/// Moves the appointment from `from` to `to`; a conflict when another request moved it first.
async fn move_appointment(
    tx: &mut Transaction<'static, Any>,
    appointment_id: &str,
    from: &str,
    to: &str,
    now: i64,
) -> Result<(), StoreError> {
    let moved = sqlx::query(
        "UPDATE appointments SET status = $1, updated_at = $2 \
         WHERE appointment_id = $3 AND status = $4",
    )
    .bind(to)
    .bind(now)
    .bind(appointment_id)
    .bind(from)
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(Conflict::AppointmentStatus))
    }
}

async fn release_capacity(
    tx: &mut Transaction<'static, Any>,
    capacity_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE capacity SET reserved = reserved - 1 WHERE capacity_id = $1 AND reserved > 0",
    )
    .bind(capacity_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
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

impl Intake {
    /// Checks the person in on the appointment's day (the day in Viet Nam at `now`): `invited` or
    /// `confirmed` → `checked_in` (already checked in that day: nothing to do).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an appointment not at `site_code`; [`Conflict::AppointmentStatus`]
    /// for one cancelled, postponed, refused, vaccinated or missed; [`Conflict::NotToday`] on any other
    /// day than the appointment's; [`StoreError::Storage`].
    pub async fn check_in(
        &self,
        site_code: &str,
        appointment_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().begin().await?;
        let appointment = appointment_at(&mut tx, site_code, appointment_id).await?;
        if !matches!(
            appointment.status.as_str(),
            "invited" | "confirmed" | "checked_in"
        ) {
            return Err(StoreError::Conflict(Conflict::AppointmentStatus));
        }
        let day =
            super::parse_day(&appointment.day).ok_or(StoreError::Conflict(Conflict::InvalidDay))?;
        if day != local_day(now) {
            return Err(StoreError::Conflict(Conflict::NotToday { day }));
        }
        match appointment.status.as_str() {
            "checked_in" => return Ok(()),
            "invited" | "confirmed" => {
                move_appointment(
                    &mut tx,
                    appointment_id,
                    &appointment.status,
                    "checked_in",
                    now,
                )
                .await?;
            }
            _ => return Err(StoreError::Conflict(Conflict::AppointmentStatus)),
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records the screening of a checked-in person and applies its outcome, in one transaction:
    ///
    /// - eligible, or caution at a hospital-grade site: the appointment stays `checked_in`, ready for
    ///   the dose;
    /// - caution elsewhere: the appointment is `refused`, the registration marked caution (only
    ///   hospital-grade sites may invite it) and back to `waiting`, the capacity released, the person
    ///   told the appointment no longer holds;
    /// - postpone: the appointment is `postponed`, the registration `waiting` with `postponed_until` the
    ///   day `days` after today, the capacity released, the person told;
    /// - contraindicated: the appointment and the registration are `refused`, the capacity released.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an appointment not at `site_code`; [`Conflict::AppointmentStatus`]
    /// unless it is checked in; [`StoreError::Storage`].
    #[allow(clippy::too_many_arguments)]
    pub async fn record_screening(
        &self,
        site_code: &str,
        staff: &str,
        appointment_id: &str,
        answers: &ScreeningAnswers,
        vitals: &VitalSigns,
        screening: &Screening,
        now: i64,
    ) -> Result<ScreeningEffect, StoreError> {
        let mut tx = self.write().begin().await?;
        let appointment = appointment_at(&mut tx, site_code, appointment_id).await?;
        if appointment.status != "checked_in" {
            return Err(StoreError::Conflict(Conflict::AppointmentStatus));
        }
        let answers_json = serde_json::to_string(answers).unwrap_or_default();
        let vitals_json = serde_json::to_string(vitals).unwrap_or_default();
        let reasons_json = serde_json::to_string(&screening.reasons).unwrap_or_default();
        sqlx::query(
            "INSERT INTO screenings (screening_id, appointment_id, answers, vitals, outcome, reasons, \
             staff, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(super::new_id()?)
        .bind(appointment_id)
        .bind(answers_json)
        .bind(vitals_json)
        .bind(screening.outcome.as_str())
        .bind(reasons_json)
        .bind(staff)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let registration = appointment.registration_id.as_str();
        let effect = match screening.outcome {
            Outcome::Eligible => ScreeningEffect {
                appointment_status: "checked_in",
                postponed_until: None,
            },
            Outcome::Caution if appointment.hospital_grade => ScreeningEffect {
                appointment_status: "checked_in",
                postponed_until: None,
            },
            Outcome::Caution => {
                move_appointment(&mut tx, appointment_id, "checked_in", "refused", now).await?;
                sqlx::query(
                    "UPDATE registrations SET caution = 1, status = 'waiting' \
                     WHERE registration_id = $1",
                )
                .bind(registration)
                .execute(&mut *tx)
                .await?;
                release_capacity(&mut tx, &appointment.capacity_id).await?;
                let message = Message::Cancelled {
                    name: appointment.full_name.clone(),
                    booking_code: appointment.booking_code.clone(),
                };
                enqueue(&mut tx, &appointment.phone, &message, now).await?;
                ScreeningEffect {
                    appointment_status: "refused",
                    postponed_until: None,
                }
            }
            Outcome::Postpone { days } => {
                let until = day_text(
                    local_day(now)
                        .checked_add(Duration::days(i64::from(days)))
                        .unwrap_or(Date::MAX),
                );
                move_appointment(&mut tx, appointment_id, "checked_in", "postponed", now).await?;
                sqlx::query(
                    "UPDATE registrations SET postponed_until = $1, status = 'waiting' \
                     WHERE registration_id = $2",
                )
                .bind(&until)
                .bind(registration)
                .execute(&mut *tx)
                .await?;
                release_capacity(&mut tx, &appointment.capacity_id).await?;
                let message = Message::Postponed {
                    name: appointment.full_name.clone(),
                    until: until.clone(),
                };
                enqueue(&mut tx, &appointment.phone, &message, now).await?;
                ScreeningEffect {
                    appointment_status: "postponed",
                    postponed_until: Some(until),
                }
            }
            Outcome::Contraindicated => {
                move_appointment(&mut tx, appointment_id, "checked_in", "refused", now).await?;
                sqlx::query(
                    "UPDATE registrations SET status = 'refused' WHERE registration_id = $1",
                )
                .bind(registration)
                .execute(&mut *tx)
                .await?;
                release_capacity(&mut tx, &appointment.capacity_id).await?;
                ScreeningEffect {
                    appointment_status: "refused",
                    postponed_until: None,
                }
            }
        };
        tx.commit().await?;
        Ok(effect)
    }

    /// Records the dose given at a checked-in, screened appointment, in one transaction: the `doses` row
    /// (a new dose event id, the record hash; the product is the capacity's, its manufacturer and `vp`
    /// from [`vaccines`]), the appointment `vaccinated`, the registration `waiting` for its next dose or
    /// `completed`, and the messages (dose recorded; next dose due from the product's minimum interval).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an appointment not at `site_code`; [`Conflict::DoseRecorded`] when
    /// the appointment, or the person's dose of that number, has a dose already;
    /// [`Conflict::AppointmentStatus`] unless checked in; [`Conflict::NotScreened`];
    /// [`Conflict::DoseNumber`] for a dose number not the appointment's; [`Conflict::LotProduct`] for a
    /// lot the site holds of another product; [`StoreError::Storage`].
    pub async fn record_dose(
        &self,
        site_code: &str,
        staff: &str,
        appointment_id: &str,
        input: &DoseInput,
        now: i64,
    ) -> Result<RecordedDose, StoreError> {
        let mut tx = self.write().begin().await?;
        let appointment = appointment_at(&mut tx, site_code, appointment_id).await?;
        if appointment.status == "vaccinated" {
            return Err(StoreError::Conflict(Conflict::DoseRecorded));
        }
        if appointment.status != "checked_in" {
            return Err(StoreError::Conflict(Conflict::AppointmentStatus));
        }
        let screened: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM screenings WHERE appointment_id = $1")
                .bind(appointment_id)
                .fetch_one(&mut *tx)
                .await?;
        if screened == 0 {
            return Err(StoreError::Conflict(Conflict::NotScreened));
        }
        if i64::from(input.dose_number) != appointment.dose_number {
            return Err(StoreError::Conflict(Conflict::DoseNumber));
        }
        let recorded: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM doses WHERE registration_id = $1 AND dose_number = $2",
        )
        .bind(&appointment.registration_id)
        .bind(i64::from(input.dose_number))
        .fetch_one(&mut *tx)
        .await?;
        if recorded > 0 {
            return Err(StoreError::Conflict(Conflict::DoseRecorded));
        }
        // A lot the site registered is checked and drawn from; an unregistered one is recorded as
        // typed (sites that do not keep stock here).
        let lot = sqlx::query(
            "SELECT product, expires_on, doses_available FROM vaccine_lots \
             WHERE site_code = $1 AND lot_number = $2",
        )
        .bind(site_code)
        .bind(&input.lot_number)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(lot) = lot {
            let product: String = lot.try_get("product")?;
            let expires_on: String = lot.try_get("expires_on")?;
            let available: i64 = lot.try_get("doses_available")?;
            if product != appointment.product {
                return Err(StoreError::Conflict(Conflict::LotProduct));
            }
            // Both are `YYYY-MM-DD`, so they compare as text.
            if expires_on < input.vaccinated_on {
                return Err(StoreError::Conflict(Conflict::LotExpired));
            }
            if available < 1 {
                return Err(StoreError::Conflict(Conflict::LotEmpty));
            }
            sqlx::query(
                "UPDATE vaccine_lots SET doses_available = doses_available - 1 \
                 WHERE site_code = $1 AND lot_number = $2",
            )
            .bind(site_code)
            .bind(&input.lot_number)
            .execute(&mut *tx)
            .await?;
        }
        let vaccine = vaccines::vaccine(&appointment.product).ok_or(StoreError::Storage(
            storage::StorageError::Corrupt("capacity.product"),
        ))?;
        let unix_ms = u64::try_from(now).unwrap_or_default().saturating_mul(1000);
        let record = DoseRecord {
            dose_event_id: dose_event_id(unix_ms, random_bytes()?),
            registration_id: appointment.registration_id.clone(),
            site_code: site_code.to_owned(),
            product: vaccine.product.to_owned(),
            manufacturer: vaccine.manufacturer.to_owned(),
            prophylaxis: vaccine.prophylaxis.to_owned(),
            lot_number: input.lot_number.clone(),
            dose_number: input.dose_number,
            total_doses: input.total_doses,
            vaccinated_on: input.vaccinated_on.clone(),
        };
        let record_hash = record.record_hash();
        let inserted = sqlx::query(
            "INSERT INTO doses (dose_event_id, registration_id, appointment_id, site_code, product, \
             manufacturer, prophylaxis, lot_number, dose_number, total_doses, vaccinated_on, \
             recorded_by, recorded_at, record_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&record.dose_event_id)
        .bind(&record.registration_id)
        .bind(appointment_id)
        .bind(site_code)
        .bind(&record.product)
        .bind(&record.manufacturer)
        .bind(&record.prophylaxis)
        .bind(&record.lot_number)
        .bind(i64::from(record.dose_number))
        .bind(i64::from(record.total_doses))
        .bind(&record.vaccinated_on)
        .bind(staff)
        .bind(now)
        .bind(&record_hash)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::DoseRecorded));
        }
        move_appointment(&mut tx, appointment_id, "checked_in", "vaccinated", now).await?;
        let complete = input.dose_number >= input.total_doses;
        sqlx::query("UPDATE registrations SET status = $1 WHERE registration_id = $2")
            .bind(if complete { "completed" } else { "waiting" })
            .bind(&record.registration_id)
            .execute(&mut *tx)
            .await?;
        let recorded = Message::DoseRecorded {
            name: appointment.full_name.clone(),
            dose_number: input.dose_number,
        };
        enqueue(&mut tx, &appointment.phone, &recorded, now).await?;
        if !complete {
            let next = Date::parse(
                &input.vaccinated_on,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok()
            .and_then(|day| day.checked_add(Duration::days(i64::from(vaccine.min_interval_days))));
            if let Some(next) = next {
                let due = Message::NextDoseDue {
                    name: appointment.full_name.clone(),
                    from: day_text(next),
                };
                enqueue(&mut tx, &appointment.phone, &due, now).await?;
            }
        }
        tx.commit().await?;
        Ok(RecordedDose {
            dose_event_id: record.dose_event_id,
            record_hash,
        })
    }

    /// The site attests its dose record (`attested_by` = `staff`, `attested_at` = `now`).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for a dose not recorded at `site_code`; [`Conflict::AlreadyAttested`];
    /// [`StoreError::Storage`].
    pub async fn attest_dose(
        &self,
        site_code: &str,
        staff: &str,
        dose_event_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().begin().await?;
        let attested: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT attested_at FROM doses WHERE dose_event_id = $1 AND site_code = $2",
        )
        .bind(dose_event_id)
        .bind(site_code)
        .fetch_optional(&mut *tx)
        .await?;
        match attested {
            None => return Err(StoreError::NotFound),
            Some(Some(_)) => return Err(StoreError::Conflict(Conflict::AlreadyAttested)),
            Some(None) => {}
        }
        let updated = sqlx::query(
            "UPDATE doses SET attested_by = $1, attested_at = $2 \
             WHERE dose_event_id = $3 AND attested_at IS NULL",
        )
        .bind(staff)
        .bind(now)
        .bind(dose_event_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::AlreadyAttested));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The classification of a registration the site may see: one preferring the site, or with an
    /// appointment there.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Storage`].
    pub async fn classification(
        &self,
        site_code: &str,
        registration_id: &str,
    ) -> Result<Classification, StoreError> {
        let row = sqlx::query(
            "SELECT policy_id, policy_version, declared_group, priority_group FROM registrations r \
             WHERE r.registration_id = $1 AND (r.preferred_site = $2 OR EXISTS ( \
                SELECT 1 FROM appointments a JOIN capacity c ON c.capacity_id = a.capacity_id \
                WHERE a.registration_id = r.registration_id AND c.site_code = $2))",
        )
        .bind(registration_id)
        .bind(site_code)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(Classification {
            policy_id: row.try_get("policy_id")?,
            policy_version: row.try_get("policy_version")?,
            declared_group: row.try_get("declared_group")?,
            priority_group: row.try_get("priority_group")?,
        })
    }

    /// Re-classifies a registration into `to_group` (checked against its policy by the caller), keeping
    /// the declared group and recording the change (from, to, site, staff, reason); returns the group it
    /// was in.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for a registration the site may not see; [`StoreError::Storage`].
    pub async fn reclassify(
        &self,
        site_code: &str,
        staff: &str,
        registration_id: &str,
        to_group: &str,
        reason: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let current = self.classification(site_code, registration_id).await?;
        let mut tx = self.write().begin().await?;
        let updated = sqlx::query(
            "UPDATE registrations SET priority_group = $1 \
             WHERE registration_id = $2 AND priority_group = $3",
        )
        .bind(to_group)
        .bind(registration_id)
        .bind(&current.priority_group)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::Reclassified));
        }
        sqlx::query(
            "INSERT INTO reclassifications (reclassification_id, registration_id, from_group, \
             to_group, site_code, staff, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(super::new_id()?)
        .bind(registration_id)
        .bind(&current.priority_group)
        .bind(to_group)
        .bind(site_code)
        .bind(staff)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(current.priority_group)
    }
}

#[cfg(test)]
mod tests {
    use super::{day_text, local_day};

    #[test]
    fn the_day_is_viet_nams() {
        // 2021-09-13T17:00:00Z is midnight of the 14th in Ha Noi.
        assert_eq!(day_text(local_day(1_631_552_400)), "2021-09-14");
        assert_eq!(day_text(local_day(1_631_552_399)), "2021-09-13");
    }
}
