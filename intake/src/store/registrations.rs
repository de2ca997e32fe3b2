//! Registrations (`domain.md`, Registration): people registered under a managing phone — by the person
//! online, or in bulk from an organisation's staff list.
//!
//! One phone manages at most a configured number of live (not cancelled) registrations per campaign; one
//! active registration per identity document and campaign is kept by a unique index, whose violation
//! is [`Conflict::DuplicateDocument`] on SQLite and PostgreSQL alike. Each new registration writes a
//! "registration received" message into the notification outbox in its own transaction.

use sqlx::{AnyConnection, Row as _};

use super::notifications::enqueue;
use super::{Conflict, Intake, StoreError, new_id};
use crate::notification::Message;
use crate::registration::ValidRegistration;

/// A registration as stored (the fields a person sees of theirs).
#[derive(Clone, PartialEq, Eq)]
pub struct Registration {
    /// Its id (16 random bytes, hex).
    pub registration_id: String,
    /// The managing phone, E.164.
    pub phone: String,
    /// The organisation that registered the person, if one did.
    pub organisation: Option<String>,
    /// Full name.
    pub full_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub dob: String,
    /// `waiting`, `invited`, `vaccinated` or `cancelled`.
    pub status: String,
    /// The group the registrant declared.
    pub declared_group: String,
    /// The group as the site classified it (the declared one until then).
    pub priority_group: String,
    /// The policy in force when the person registered.
    pub policy_id: String,
    /// Its version.
    pub policy_version: i64,
    /// The preferred site's code.
    pub preferred_site: String,
    /// The preferred day, `YYYY-MM-DD`.
    pub preferred_date: Option<String>,
    /// Only hospital-grade sites may take the person.
    pub caution: bool,
    /// Unix seconds.
    pub created_at: i64,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("registration_id", &self.registration_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// One person of a bulk import that could not be recorded: the whole import was rolled back.
#[derive(Debug, thiserror::Error)]
#[error("row {row}: {error}")]
pub struct BulkError {
    /// The index in the list given (0-based).
    pub index: usize,
    /// The row's own number, as given.
    pub row: usize,
    /// Why.
    pub error: StoreError,
}

/// A person to register in bulk: the phone and the validated registration.
#[derive(Clone, Copy)]
pub struct BulkPerson<'a> {
    /// The row number, for the report.
    pub row: usize,
    /// The managing phone, E.164.
    pub phone: &'a str,
    /// The registration.
    pub registration: &'a ValidRegistration,
}

impl std::fmt::Debug for BulkPerson<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkPerson")
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "registration_id, phone, organisation, full_name, dob, status, \
    declared_group, priority_group, policy_id, policy_version, preferred_site, preferred_date, \
    caution, created_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Registration, StoreError> {
    Ok(Registration {
        registration_id: row.try_get("registration_id")?,
        phone: row.try_get("phone")?,
        organisation: row.try_get("organisation")?,
        full_name: row.try_get("full_name")?,
        dob: row.try_get("dob")?,
        status: row.try_get("status")?,
        declared_group: row.try_get("declared_group")?,
        priority_group: row.try_get("priority_group")?,
        policy_id: row.try_get("policy_id")?,
        policy_version: row.try_get("policy_version")?,
        preferred_site: row.try_get("preferred_site")?,
        preferred_date: row.try_get("preferred_date")?,
        caution: row.try_get::<i64, _>("caution")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// Whether `error` is a unique-constraint violation (SQLite 2067/1555, PostgreSQL 23505).
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
}

/// Inserts one registration inside the caller's transaction: the phone's cap, the row, the message.
async fn insert(
    connection: &mut AnyConnection,
    campaign: &str,
    phone: &str,
    organisation: Option<&str>,
    max_people_per_phone: u8,
    registration: &ValidRegistration,
    now: i64,
) -> Result<String, StoreError> {
    // The phone's row in `phone_codes` serialises registrations under one phone: on PostgreSQL the
    // UPDATE holds its row lock to the end of the transaction, so two registrations at once cannot
    // both pass the cap (SQLite has a single writer anyway). Bulk imports create the row if the phone
    // never asked for a code; an empty hash matches no code.
    sqlx::query(
        "INSERT INTO phone_codes (phone, code_hash, issued_at, expires_at, failures) \
         VALUES ($1, '', 0, 0, 0) ON CONFLICT (phone) DO NOTHING",
    )
    .bind(phone)
    .execute(&mut *connection)
    .await?;
    sqlx::query("UPDATE phone_codes SET issued_at = issued_at WHERE phone = $1")
        .bind(phone)
        .execute(&mut *connection)
        .await?;
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM registrations \
         WHERE phone = $1 AND campaign = $2 AND status <> 'cancelled'",
    )
    .bind(phone)
    .bind(campaign)
    .fetch_one(&mut *connection)
    .await?;
    if live >= i64::from(max_people_per_phone) {
        return Err(StoreError::Conflict(Conflict::PhoneFull));
    }
    let registration_id = new_id()?;
    let dob = registration.dob.to_string();
    let preferred_date = registration.preferred_date.map(|day| day.to_string());
    let result = sqlx::query(
        "INSERT INTO registrations (registration_id, campaign, phone, organisation, full_name, dob, \
         sex, id_kind, id_number, occupation, province_code, commune_code, admin_scheme, \
         declared_group, priority_group, policy_id, policy_version, preferred_site, preferred_date, \
         health_insurance, ethnicity, nationality, medical_history, caution, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23, $24, 'waiting', $25)",
    )
    .bind(&registration_id)
    .bind(campaign)
    .bind(phone)
    .bind(organisation)
    .bind(&registration.full_name)
    .bind(&dob)
    .bind(registration.sex.as_str())
    .bind(registration.id_kind.as_str())
    .bind(&registration.id_number)
    .bind(&registration.occupation)
    .bind(&registration.address.province_code)
    .bind(&registration.address.commune_code)
    .bind(&registration.address.admin_scheme)
    .bind(&registration.priority_group)
    .bind(&registration.priority_group)
    .bind(&registration.policy_id)
    .bind(i64::from(registration.policy_version))
    .bind(&registration.preferred_site)
    .bind(preferred_date)
    .bind(registration.health_insurance.as_deref())
    .bind(registration.ethnicity.as_deref())
    .bind(registration.nationality.as_deref())
    .bind(registration.medical_history_json())
    .bind(i64::from(registration.caution))
    .bind(now)
    .execute(&mut *connection)
    .await;
    match result {
        Ok(_) => {}
        Err(error) if is_unique_violation(&error) => {
            return Err(StoreError::Conflict(Conflict::DuplicateDocument));
        }
        Err(error) => return Err(error.into()),
    }
    enqueue(
        connection,
        phone,
        &Message::RegistrationReceived {
            name: registration.full_name.clone(),
        },
        now,
    )
    .await?;
    Ok(registration_id)
}

impl Intake {
    /// Registers a person under `phone` for `campaign`; returns the new registration's id.
    ///
    /// # Errors
    /// [`Conflict::PhoneFull`] when the phone already manages `max_people_per_phone` live registrations;
    /// [`Conflict::DuplicateDocument`] when the document has an active registration in the campaign
    /// (under any phone); the database.
    pub async fn create_registration(
        &self,
        campaign: &str,
        phone: &str,
        max_people_per_phone: u8,
        registration: &ValidRegistration,
        now: i64,
    ) -> Result<String, StoreError> {
        let mut tx = self.write().begin().await?;
        let id = insert(
            &mut tx,
            campaign,
            phone,
            None,
            max_people_per_phone,
            registration,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Registers every person of an organisation's list in one transaction: all or none. Returns how
    /// many were registered.
    ///
    /// # Errors
    /// [`BulkError`] naming the first person that could not be recorded (a conflict or the database);
    /// nothing is recorded then.
    pub async fn create_registrations_bulk(
        &self,
        campaign: &str,
        organisation: &str,
        max_people_per_phone: u8,
        people: &[BulkPerson<'_>],
        now: i64,
    ) -> Result<usize, BulkError> {
        let whole = |error: sqlx::Error| BulkError {
            index: 0,
            row: 0,
            error: error.into(),
        };
        let mut tx = self.write().begin().await.map_err(whole)?;
        for (index, person) in people.iter().enumerate() {
            insert(
                &mut tx,
                campaign,
                person.phone,
                Some(organisation),
                max_people_per_phone,
                person.registration,
                now,
            )
            .await
            .map_err(|error| BulkError {
                index,
                row: person.row,
                error,
            })?;
        }
        tx.commit().await.map_err(whole)?;
        Ok(people.len())
    }

    /// The registrations `phone` manages, oldest first (cancelled ones included).
    ///
    /// # Errors
    /// The database.
    pub async fn registrations_of(&self, phone: &str) -> Result<Vec<Registration>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM registrations WHERE phone = $1 \
             ORDER BY created_at, registration_id"
        ))
        .bind(phone)
        .fetch_all(self.read())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// One registration, only under the phone that manages it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none of that id under `phone`; the database.
    pub async fn registration_of(
        &self,
        phone: &str,
        registration_id: &str,
    ) -> Result<Registration, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM registrations WHERE registration_id = $1 AND phone = $2"
        ))
        .bind(registration_id)
        .bind(phone)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    /// Cancels a waiting or invited registration under `phone`, with its live appointment (the
    /// capacity it reserved is released), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none of that id under `phone`;
    /// [`Conflict::NotCancellable`] once vaccinated or already cancelled; the database.
    pub async fn cancel_registration(
        &self,
        phone: &str,
        registration_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().begin().await?;
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM registrations WHERE registration_id = $1 AND phone = $2",
        )
        .bind(registration_id)
        .bind(phone)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(status) = status else {
            return Err(StoreError::NotFound);
        };
        if status != "waiting" && status != "invited" {
            return Err(StoreError::Conflict(Conflict::NotCancellable));
        }
        let changed = sqlx::query(
            "UPDATE registrations SET status = 'cancelled', cancelled_at = $1 \
             WHERE registration_id = $2 AND status IN ('waiting', 'invited')",
        )
        .bind(now)
        .bind(registration_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(StoreError::Conflict(Conflict::NotCancellable));
        }
        let live = sqlx::query(
            "SELECT appointment_id, capacity_id FROM appointments \
             WHERE registration_id = $1 AND status IN ('invited', 'confirmed')",
        )
        .bind(registration_id)
        .fetch_all(&mut *tx)
        .await?;
        for appointment in live {
            let appointment_id: String = appointment.try_get("appointment_id")?;
            let capacity_id: String = appointment.try_get("capacity_id")?;
            let cancelled = sqlx::query(
                "UPDATE appointments SET status = 'cancelled', updated_at = $1 \
                 WHERE appointment_id = $2 AND status IN ('invited', 'confirmed')",
            )
            .bind(now)
            .bind(&appointment_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if cancelled == 1 {
                sqlx::query(
                    "UPDATE capacity SET reserved = reserved - 1 \
                     WHERE capacity_id = $1 AND reserved > 0",
                )
                .bind(&capacity_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many registrations there are, in any status (for tests and reports).
    ///
    /// # Errors
    /// The database.
    pub async fn registration_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM registrations")
            .fetch_one(self.read())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::BulkPerson;
    use crate::policy::PolicyBook;
    use crate::registration::{ValidRegistration, tests::good_form, validate};
    use crate::store::{Conflict, StoreError, testing};
    use time::macros::date;

    const T: i64 = 1_627_790_000;
    const PHONE: &str = "+84912345678";

    fn person(id_number: &str) -> ValidRegistration {
        let mut form = good_form();
        form.id_number = id_number.into();
        validate(
            &form,
            date!(2021 - 08 - 01),
            &PolicyBook::builtin().unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn the_cap_the_document_and_the_message() {
        let intake = testing::sqlite().await;
        let id = intake
            .create_registration("covid-19", PHONE, 2, &person("001160000001"), T)
            .await
            .unwrap();
        assert!(matches!(
            intake
                .create_registration("covid-19", "+84987654321", 2, &person("001160000001"), T)
                .await,
            Err(StoreError::Conflict(Conflict::DuplicateDocument))
        ));
        // Another campaign is another registration.
        intake
            .create_registration("other", "+84987654321", 2, &person("001160000001"), T)
            .await
            .unwrap();
        intake
            .create_registration("covid-19", PHONE, 2, &person("001160000002"), T)
            .await
            .unwrap();
        assert!(matches!(
            intake
                .create_registration("covid-19", PHONE, 2, &person("001160000003"), T)
                .await,
            Err(StoreError::Conflict(Conflict::PhoneFull))
        ));
        let mine = intake.registration_of(PHONE, &id).await.unwrap();
        assert_eq!(
            (mine.status.as_str(), mine.declared_group.as_str()),
            ("waiting", "teachers-public-facing")
        );
        assert!(matches!(
            intake.registration_of("+84987654321", &id).await,
            Err(StoreError::NotFound)
        ));
        let messages = intake.notifications_to(PHONE).await.unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].kind, "registration_received");
        // Cancelling frees the slot and the document.
        intake.cancel_registration(PHONE, &id, T + 1).await.unwrap();
        assert!(matches!(
            intake.cancel_registration(PHONE, &id, T + 2).await,
            Err(StoreError::Conflict(Conflict::NotCancellable))
        ));
        intake
            .create_registration("covid-19", PHONE, 2, &person("001160000001"), T + 3)
            .await
            .unwrap();
        assert_eq!(intake.registrations_of(PHONE).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_bulk_import_is_all_or_nothing() {
        let intake = testing::sqlite().await;
        let a = person("001160000011");
        let b = person("001160000012");
        let people = [
            BulkPerson {
                row: 1,
                phone: "+84911111111",
                registration: &a,
            },
            BulkPerson {
                row: 2,
                phone: "+84922222222",
                registration: &b,
            },
            BulkPerson {
                row: 3,
                phone: "+84933333333",
                registration: &a,
            },
        ];
        let error = intake
            .create_registrations_bulk("covid-19", "Acme", 4, &people, T)
            .await
            .unwrap_err();
        assert_eq!(error.row, 3);
        assert!(matches!(
            error.error,
            StoreError::Conflict(Conflict::DuplicateDocument)
        ));
        assert_eq!(intake.registration_count().await.unwrap(), 0);
        assert!(
            intake
                .notifications_to("+84911111111")
                .await
                .unwrap()
                .is_empty()
        );
        let n = intake
            .create_registrations_bulk("covid-19", "Acme", 4, &people[..2], T)
            .await
            .unwrap();
        assert_eq!(n, 2);
        let row = &intake.registrations_of("+84922222222").await.unwrap()[0];
        assert_eq!(row.organisation.as_deref(), Some("Acme"));
    }

    #[tokio::test]
    async fn cancelling_releases_the_live_appointment_and_its_capacity() {
        let intake = testing::sqlite().await;
        let id = intake
            .create_registration("covid-19", PHONE, 4, &person("001160000021"), T)
            .await
            .unwrap();
        let pool = intake.write();
        sqlx::query(
            "INSERT INTO sites (site_code, name, province_code, hospital_grade, created_at) \
             VALUES ('HN-0001', 'Site', '01', 0, 0)",
        )
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO capacity (capacity_id, site_code, day, session, product, slots, reserved, \
             published_by, published_at) VALUES ('cap1', 'HN-0001', '2021-08-02', 'morning', \
             'EU/1/20/1528', 10, 2, 'nurse', 0)",
        )
        .execute(pool)
        .await
        .unwrap();
        for (appointment, status, code) in [("ap1", "vaccinated", "B1"), ("ap2", "confirmed", "B2")]
        {
            sqlx::query(
                "INSERT INTO appointments (appointment_id, registration_id, capacity_id, dose_number, \
                 booking_code, status, created_at, updated_at) VALUES ($1, $2, 'cap1', 1, $3, $4, 0, 0)",
            )
            .bind(appointment)
            .bind(&id)
            .bind(code)
            .bind(status)
            .execute(pool)
            .await
            .unwrap();
        }
        sqlx::query("UPDATE registrations SET status = 'invited' WHERE registration_id = $1")
            .bind(&id)
            .execute(pool)
            .await
            .unwrap();
        intake.cancel_registration(PHONE, &id, T + 9).await.unwrap();
        let reserved: i64 =
            sqlx::query_scalar("SELECT reserved FROM capacity WHERE capacity_id = 'cap1'")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(reserved, 1);
        let statuses: Vec<String> =
            sqlx::query_scalar("SELECT status FROM appointments ORDER BY appointment_id")
                .fetch_all(pool)
                .await
                .unwrap();
        assert_eq!(statuses, vec!["vaccinated", "cancelled"]);
        assert_eq!(
            intake.registration_of(PHONE, &id).await.unwrap().status,
            "cancelled"
        );
    }
}
