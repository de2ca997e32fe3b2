//! Capacity, scheduling rounds and appointments.
//!
//! A site publishes capacity (a day, a session, a product, a number of slots); each publication opens a
//! round with a fresh 32-byte seed of which only the SHA-256 is shown until the round runs. Running the
//! round loads the site's waiting registrations, ranks them with [`crate::scheduling`] and invites the
//! first — reserving capacity in one transaction, so that no two schedulers ever book more than the
//! slots: the capacity row is locked for the transaction and raised by a conditional
//! `UPDATE … WHERE reserved + n <= slots`; each registration is claimed by a conditional
//! `UPDATE … WHERE status = 'waiting'`; and the unique partial index on live appointments per person
//! and dose refuses a second one. On PostgreSQL each batch of invitations runs under a savepoint: a
//! batch that a concurrent writer makes fail (a deadlock or serialization failure, a unique violation)
//! is rolled back to it and counted as not made, and the round goes on down its list. On SQLite the one
//! writer connection serializes rounds, so nothing can contend.
//!
//! A round over a large waiting list is one read (only the columns the ranking needs, streamed) and
//! then multi-row statements of [`BATCH`] rows: `cargo run --release -p intake --example
//! schedule_million` measures one over a million registrations.
//!
//! Cancelling or rescheduling puts the person back on the waiting list with the same standing: the
//! ranking never looks at when someone (re)joined the list, so a later round ranks them by the same
//! due-dose, priority, outbreak and age keys as before, and draws their lottery key under its own seed
//! like everyone else's — exactly as if they had never been invited.

use std::collections::{HashMap, HashSet};

use sqlx::{AnyConnection, Row as _};
use storage::Backend;
use time::Date;

use super::{Conflict, Intake, StoreError, new_id};
use crate::notification::Message;
use crate::policy::PolicyBook;
use crate::scheduling::{self, Candidate, PreviousDose, RoundContext};
use crate::vaccines;

/// Rows per multi-row statement (see [`rows_sql`] for why not more).
const BATCH: usize = 200;

/// SQLite's page cache while a round writes, KiB.
const ROUND_CACHE_KIB: i64 = 262_144;

/// The booking code alphabet: 31 symbols without `0`/`O`, `1`/`I`/`L`, padded to 32 with `#`, which is
/// never drawn.
const BOOKING_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ#";

/// Characters in a booking code.
const BOOKING_CODE_LEN: usize = 6;

/// What a capacity publication created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedCapacity {
    /// The capacity entry (the same one when re-published).
    pub capacity_id: String,
    /// The new round over it.
    pub round_id: String,
    /// SHA-256 of the round's seed, lowercase hex: the commitment published before the round runs.
    pub seed_hash: String,
}

/// A scheduling round as anyone may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// Its id.
    pub round_id: String,
    /// The capacity entry it fills.
    pub capacity_id: String,
    /// The site's code.
    pub site_code: String,
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// `morning` or `afternoon`.
    pub session: String,
    /// The product (`mp`).
    pub product: String,
    /// SHA-256 of the seed, lowercase hex.
    pub seed_hash: String,
    /// The seed, lowercase hex, once the round has run (`SHA-256(hex-decoded seed) = seed_hash`).
    pub seed: Option<String>,
    /// When it ran, unix seconds.
    pub ran_at: Option<i64>,
    /// How many it invited, once it has run.
    pub invited: Option<i64>,
}

/// An appointment, with what the site's list and the registrant need.
#[derive(Clone, PartialEq, Eq)]
pub struct Appointment {
    /// Its id.
    pub appointment_id: String,
    /// The code the person shows at check-in.
    pub booking_code: String,
    /// The registration.
    pub registration_id: String,
    /// The person's full name (for the site's list; never logged).
    pub full_name: String,
    /// Which dose.
    pub dose_number: i64,
    /// invited | confirmed | checked_in | vaccinated | cancelled | no_show | postponed | refused
    pub status: String,
    /// The capacity entry.
    pub capacity_id: String,
    /// The site's code.
    pub site_code: String,
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// `morning` or `afternoon`.
    pub session: String,
    /// The product (`mp`).
    pub product: String,
}

impl std::fmt::Debug for Appointment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appointment")
            .field("appointment_id", &self.appointment_id)
            .field("status", &self.status)
            .field("day", &self.day)
            .finish_non_exhaustive()
    }
}

/// `YYYY-MM-DD` → a day.
pub fn parse_day(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || text.len() != 10 {
        return None;
    }
    Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

fn corrupt(what: &'static str) -> StoreError {
    StoreError::Storage(storage::StorageError::Corrupt(what))
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

/// A fresh booking code: 6 characters of [`BOOKING_ALPHABET`]'s 31 symbols, each from the low 5 bits
/// of a random byte; a draw that hits the unused 32nd value is drawn again (uniform).
fn booking_code() -> Result<String, StoreError> {
    loop {
        let bytes = random_bytes::<BOOKING_CODE_LEN>()?;
        let code: Option<String> = bytes
            .iter()
            .map(|b| {
                BOOKING_ALPHABET
                    .get(usize::from(b & 31))
                    .copied()
                    .filter(|c| *c != b'#')
                    .map(char::from)
            })
            .collect();
        if let Some(code) = code {
            return Ok(code);
        }
    }
}

/// Whether `error` is a concurrent writer's doing (unique violation, serialization failure, deadlock)
/// rather than the database failing.
fn is_contention(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || matches!(
                    db.code().as_deref(),
                    Some("40001" | "40P01" | "2067" | "1555")
                )
        }
        _ => false,
    }
}

/// `$from, $from+1, …` — `n` placeholders.
fn placeholders(from: usize, n: usize) -> String {
    (from..from.saturating_add(n))
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rows` comma-separated row tuples, each `shape` of its own `width` placeholders, numbered after the
/// `shared` ones (`$1…$shared`) that every row may use. Few placeholders a row keeps binding cheap:
/// SQLite looks each `$N` up by a linear scan, so a statement's cost grows with the square of its
/// placeholders.
fn rows_sql(rows: usize, shared: usize, width: usize, shape: fn(&[String]) -> String) -> String {
    (0..rows)
        .map(|row| {
            let first = row
                .saturating_mul(width)
                .saturating_add(shared)
                .saturating_add(1);
            let names: Vec<String> = (first..first.saturating_add(width))
                .map(|i| format!("${i}"))
                .collect();
            shape(&names)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The round and its capacity, as the scheduler needs them.
struct RoundRow {
    round_id: String,
    capacity_id: String,
    site_code: String,
    day: String,
    session: String,
    product: String,
    seed: String,
    ran_at: Option<i64>,
    hospital_grade: bool,
}

/// One invitee, claimed.
struct Invitee {
    registration_id: String,
    phone: String,
    full_name: String,
    dose_number: i64,
    booking_code: String,
    appointment_id: String,
}

const APPOINTMENT_COLUMNS: &str = "a.appointment_id, a.booking_code, a.registration_id, \
     r.full_name, a.dose_number, a.status, a.capacity_id, c.site_code, c.day, c.session, c.product";
const APPOINTMENT_FROM: &str = "FROM appointments a \
     JOIN registrations r ON r.registration_id = a.registration_id \
     JOIN capacity c ON c.capacity_id = a.capacity_id";

fn appointment_from_row(row: &sqlx::any::AnyRow) -> Result<Appointment, StoreError> {
    Ok(Appointment {
        appointment_id: row.try_get("appointment_id")?,
        booking_code: row.try_get("booking_code")?,
        registration_id: row.try_get("registration_id")?,
        full_name: row.try_get("full_name")?,
        dose_number: row.try_get("dose_number")?,
        status: row.try_get("status")?,
        capacity_id: row.try_get("capacity_id")?,
        site_code: row.try_get("site_code")?,
        day: row.try_get("day")?,
        session: row.try_get("session")?,
        product: row.try_get("product")?,
    })
}

/// A row of [`CANDIDATES`], read by position (a million rows: no column-name lookups).
fn candidate_from_row(row: &sqlx::any::AnyRow) -> Result<Candidate, StoreError> {
    let day = |column: usize| -> Result<Option<Date>, StoreError> {
        match row.try_get::<Option<&str>, _>(column)? {
            None => Ok(None),
            Some(text) => parse_day(text)
                .map(Some)
                .ok_or_else(|| corrupt("a day is not YYYY-MM-DD")),
        }
    };
    let small =
        |value: i64| u8::try_from(value).map_err(|_| corrupt("a dose number is out of range"));
    let previous_dose = match row.try_get::<Option<String>, _>(8)? {
        None => None,
        Some(product) => Some(PreviousDose {
            product,
            dose_number: small(row.try_get(9)?)?,
            total_doses: small(row.try_get(10)?)?,
            date: day(11)?.ok_or_else(|| corrupt("a dose has no day"))?,
        }),
    };
    Ok(Candidate {
        registration_id: row.try_get(0)?,
        dob: day(1)?.ok_or_else(|| corrupt("a date of birth is missing"))?,
        priority_group: row.try_get(2)?,
        policy_id: row.try_get(3)?,
        policy_version: u32::try_from(row.try_get::<i64, _>(4)?)
            .map_err(|_| corrupt("a policy version is out of range"))?,
        province_code: row.try_get(5)?,
        caution: row.try_get::<i64, _>(6)? != 0,
        postponed_until: day(7)?,
        previous_dose,
        has_live_appointment: row.try_get::<i64, _>(12)? != 0,
    })
}

/// The waiting registrations preferring a site (`$1`) with what the ranking needs, in the column order
/// [`candidate_from_row`] reads: each one's last dose and whether an appointment is open.
const CANDIDATES: &str = "SELECT r.registration_id, r.dob, r.priority_group, r.policy_id, \
     r.policy_version, r.province_code, r.caution, r.postponed_until, \
     d.product, d.dose_number, d.total_doses, d.vaccinated_on, \
     CASE WHEN EXISTS (SELECT 1 FROM appointments a WHERE a.registration_id = r.registration_id \
       AND a.status IN ('invited', 'confirmed', 'checked_in')) THEN 1 ELSE 0 END AS live \
     FROM registrations r LEFT JOIN doses d ON d.registration_id = r.registration_id \
       AND d.dose_number = (SELECT MAX(e.dose_number) FROM doses e \
                            WHERE e.registration_id = r.registration_id) \
     WHERE r.preferred_site = $1 AND r.status = 'waiting'";

/// Releases one reserved slot of `capacity_id`.
async fn release_slot(conn: &mut AnyConnection, capacity_id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE capacity SET reserved = reserved - 1 WHERE capacity_id = $1 AND reserved > 0",
    )
    .bind(capacity_id)
    .execute(conn)
    .await?;
    Ok(())
}

impl Intake {
    /// Publishes `slots` for `site_code` on `day` (`YYYY-MM-DD`), `session` (`morning` or `afternoon`)
    /// and `product` (a [`vaccines::vaccine`]), and opens a round over it with a fresh secret seed.
    /// Publishing the same site, day, session and product again sets the slots (never below what is
    /// already reserved) and opens another round.
    ///
    /// # Errors
    /// [`Conflict::UnknownProduct`], [`Conflict::UnknownSession`], [`Conflict::InvalidDay`];
    /// [`StoreError::NotFound`] for an unknown site; [`StoreError::Storage`].
    #[allow(clippy::too_many_arguments)]
    pub async fn publish_capacity(
        &self,
        site_code: &str,
        day: &str,
        session: &str,
        product: &str,
        slots: u32,
        staff: &str,
        now: i64,
    ) -> Result<PublishedCapacity, StoreError> {
        if vaccines::vaccine(product).is_none() {
            return Err(StoreError::Conflict(Conflict::UnknownProduct));
        }
        if !matches!(session, "morning" | "afternoon") {
            return Err(StoreError::Conflict(Conflict::UnknownSession));
        }
        if parse_day(day).is_none() {
            return Err(StoreError::Conflict(Conflict::InvalidDay));
        }
        let seed = random_bytes::<32>()?;
        let seed_hash = scheduling::seed_commitment(&seed);
        let round_id = new_id()?;
        let fresh_id = new_id()?;
        let mut tx = self.write().begin().await?;
        let site: Option<String> =
            sqlx::query_scalar("SELECT site_code FROM sites WHERE site_code = $1")
                .bind(site_code)
                .fetch_optional(&mut *tx)
                .await?;
        if site.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO capacity (capacity_id, site_code, day, session, product, slots, reserved, \
             published_by, published_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8) \
             ON CONFLICT (site_code, day, session, product) DO NOTHING",
        )
        .bind(&fresh_id)
        .bind(site_code)
        .bind(day)
        .bind(session)
        .bind(product)
        .bind(i64::from(slots))
        .bind(staff)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let capacity_id: String = sqlx::query_scalar(
            "UPDATE capacity SET slots = CASE WHEN $1 > reserved THEN $1 ELSE reserved END, \
             published_by = $2, published_at = $3 \
             WHERE site_code = $4 AND day = $5 AND session = $6 AND product = $7 \
             RETURNING capacity_id",
        )
        .bind(i64::from(slots))
        .bind(staff)
        .bind(now)
        .bind(site_code)
        .bind(day)
        .bind(session)
        .bind(product)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO rounds (round_id, capacity_id, seed_hash, seed, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&round_id)
        .bind(&capacity_id)
        .bind(&seed_hash)
        .bind(hex::encode(seed))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PublishedCapacity {
            capacity_id,
            round_id,
            seed_hash,
        })
    }

    /// The round's public view: the seed only once it has run.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Storage`].
    pub async fn round(&self, round_id: &str) -> Result<Round, StoreError> {
        let row = sqlx::query(
            "SELECT o.round_id, o.capacity_id, c.site_code, c.day, c.session, c.product, \
             o.seed_hash, o.seed, o.ran_at, o.invited \
             FROM rounds o JOIN capacity c ON c.capacity_id = o.capacity_id WHERE o.round_id = $1",
        )
        .bind(round_id)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        let ran_at: Option<i64> = row.try_get("ran_at")?;
        Ok(Round {
            round_id: row.try_get("round_id")?,
            capacity_id: row.try_get("capacity_id")?,
            site_code: row.try_get("site_code")?,
            day: row.try_get("day")?,
            session: row.try_get("session")?,
            product: row.try_get("product")?,
            seed_hash: row.try_get("seed_hash")?,
            seed: if ran_at.is_some() {
                row.try_get("seed")?
            } else {
                None
            },
            ran_at,
            invited: row.try_get("invited")?,
        })
    }

    async fn round_row(&self, round_id: &str) -> Result<RoundRow, StoreError> {
        let row = sqlx::query(
            "SELECT o.capacity_id, c.site_code, c.day, c.session, c.product, o.seed, o.ran_at, \
             s.hospital_grade FROM rounds o JOIN capacity c ON c.capacity_id = o.capacity_id \
             JOIN sites s ON s.site_code = c.site_code WHERE o.round_id = $1",
        )
        .bind(round_id)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(RoundRow {
            round_id: round_id.to_owned(),
            capacity_id: row.try_get("capacity_id")?,
            site_code: row.try_get("site_code")?,
            day: row.try_get("day")?,
            session: row.try_get("session")?,
            product: row.try_get("product")?,
            seed: row
                .try_get::<Option<String>, _>("seed")?
                .ok_or_else(|| corrupt("a round has no seed"))?,
            ran_at: row.try_get("ran_at")?,
            hospital_grade: row.try_get::<i64, _>("hospital_grade")? != 0,
        })
    }

    /// The waiting registrations preferring `site_code`, as candidates: one query, only the columns
    /// the ranking needs, with each one's last dose and whether an appointment is open.
    async fn candidates(&self, site_code: &str) -> Result<Vec<Candidate>, StoreError> {
        use futures_util::TryStreamExt as _;
        let mut rows = sqlx::query(CANDIDATES).bind(site_code).fetch(self.read());
        let mut candidates = Vec::new();
        while let Some(row) = rows.try_next().await? {
            candidates.push(candidate_from_row(&row)?);
        }
        Ok(candidates)
    }

    /// Runs the round: ranks the site's waiting registrations ([`crate::scheduling`]) under the policy
    /// in force on the round's day and invites the first, up to the capacity's free slots — each gets an
    /// appointment with a booking code, the registration turns `invited`, and an invitation waits in the
    /// notification outbox; the seed is revealed. Returns how many were invited.
    ///
    /// # Errors
    /// [`Conflict::RoundAlreadyRun`]; [`StoreError::NotFound`]; [`StoreError::Storage`].
    pub async fn run_round(
        &self,
        round_id: &str,
        policies: &PolicyBook,
        now: i64,
    ) -> Result<u32, StoreError> {
        let round = self.round_row(round_id).await?;
        if round.ran_at.is_some() {
            return Err(StoreError::Conflict(Conflict::RoundAlreadyRun));
        }
        let vaccine = vaccines::vaccine(&round.product)
            .ok_or_else(|| corrupt("a capacity's product is unknown"))?;
        let day = parse_day(&round.day).ok_or_else(|| corrupt("a capacity's day is malformed"))?;
        let seed = hex::decode(&round.seed).map_err(|_| corrupt("a round's seed is not hex"))?;

        let candidates = self.candidates(&round.site_code).await?;
        let context = RoundContext {
            day,
            vaccine,
            hospital_grade: round.hospital_grade,
            seed: &seed,
            policies,
        };
        let ranked = scheduling::rank_indices(&candidates, &context);

        let mut conn = self.write().acquire().await?;
        // A round touches pages all over a large file: with SQLite's default 2 MiB page cache they
        // would spill to the WAL and be read back again and again, and its multi-row statements keep a
        // statement journal in a temporary file. A bigger cache and journals in memory for the round,
        // then the connection's settings back.
        let sqlite = self.backend() == Backend::Sqlite;
        let settings: Option<(i64, i64)> = if sqlite {
            let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
                .fetch_one(&mut *conn)
                .await?;
            let temp_store: i64 = sqlx::query_scalar("PRAGMA temp_store")
                .fetch_one(&mut *conn)
                .await?;
            sqlx::query(&format!(
                "PRAGMA cache_size = -{ROUND_CACHE_KIB}; PRAGMA temp_store = MEMORY"
            ))
            .execute(&mut *conn)
            .await?;
            Some((cache, temp_store))
        } else {
            None
        };
        let result = invite_ranked(
            &mut conn,
            sqlite,
            &round,
            round_id,
            &candidates,
            &ranked,
            now,
        )
        .await;
        if let Some((cache, temp_store)) = settings {
            sqlx::query(&format!(
                "PRAGMA cache_size = {cache}; PRAGMA temp_store = {temp_store}"
            ))
            .execute(&mut *conn)
            .await?;
        }
        result
    }

    /// The appointment of that booking code.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Storage`].
    pub async fn appointment_by_code(&self, booking_code: &str) -> Result<Appointment, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {APPOINTMENT_COLUMNS} {APPOINTMENT_FROM} WHERE a.booking_code = $1"
        ))
        .bind(booking_code)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        appointment_from_row(&row)
    }

    /// The appointment of that id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Storage`].
    pub async fn appointment(&self, appointment_id: &str) -> Result<Appointment, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {APPOINTMENT_COLUMNS} {APPOINTMENT_FROM} WHERE a.appointment_id = $1"
        ))
        .bind(appointment_id)
        .fetch_optional(self.read())
        .await?
        .ok_or(StoreError::NotFound)?;
        appointment_from_row(&row)
    }

    /// The appointments of everyone registered under `phone`, latest day first.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn appointments_of_phone(&self, phone: &str) -> Result<Vec<Appointment>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {APPOINTMENT_COLUMNS} {APPOINTMENT_FROM} \
             WHERE r.phone = $1 ORDER BY c.day DESC, a.booking_code"
        ))
        .bind(phone)
        .fetch_all(self.read())
        .await?;
        rows.iter().map(appointment_from_row).collect()
    }

    /// Every appointment at `site_code` on `day`, by session and booking code.
    ///
    /// # Errors
    /// [`StoreError::Storage`].
    pub async fn appointments_for_site(
        &self,
        site_code: &str,
        day: &str,
    ) -> Result<Vec<Appointment>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {APPOINTMENT_COLUMNS} {APPOINTMENT_FROM} \
             WHERE c.site_code = $1 AND c.day = $2 ORDER BY c.session, a.booking_code"
        ))
        .bind(site_code)
        .bind(day)
        .fetch_all(self.read())
        .await?;
        rows.iter().map(appointment_from_row).collect()
    }

    /// The registrant confirms the invitation (by its booking code, from the session's `phone`).
    /// Confirming twice is harmless.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown code or another phone's appointment;
    /// [`Conflict::AppointmentClosed`] when it is no longer invited; [`StoreError::Storage`].
    pub async fn confirm_appointment(
        &self,
        booking_code: &str,
        phone: &str,
        now: i64,
    ) -> Result<Appointment, StoreError> {
        let appointment = self.registrant_appointment(booking_code, phone).await?;
        if appointment.status == "confirmed" {
            return Ok(appointment);
        }
        let updated = sqlx::query(
            "UPDATE appointments SET status = 'confirmed', updated_at = $1 \
             WHERE appointment_id = $2 AND status = 'invited'",
        )
        .bind(now)
        .bind(&appointment.appointment_id)
        .execute(self.write())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::AppointmentClosed));
        }
        self.appointment(&appointment.appointment_id).await
    }

    /// The registrant cancels: the appointment is `cancelled`, its slot freed, the registration back
    /// on the waiting list, and a cancellation message waits in the outbox.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown code or another phone's appointment;
    /// [`Conflict::AppointmentClosed`] unless it is invited or confirmed; [`StoreError::Storage`].
    pub async fn cancel_appointment(
        &self,
        booking_code: &str,
        phone: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let appointment = self.registrant_appointment(booking_code, phone).await?;
        let mut tx = self.write().begin().await?;
        close_appointment(&mut tx, &appointment, "cancelled", now).await?;
        super::notifications::enqueue(
            &mut tx,
            phone,
            &Message::Cancelled {
                name: appointment.full_name.clone(),
                booking_code: appointment.booking_code.clone(),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The registrant asks for another day: the same as [`Intake::cancel_appointment`] — back on the
    /// waiting list with the same standing (the ranking never looks at when someone joined the list,
    /// so the next round at the site ranks them as if they had never been invited; its lottery is
    /// drawn afresh for everyone under its own seed).
    ///
    /// # Errors
    /// As [`Intake::cancel_appointment`].
    pub async fn reschedule(
        &self,
        booking_code: &str,
        phone: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.cancel_appointment(booking_code, phone, now).await
    }

    /// The site marks that the person did not come: `no_show`, the slot freed, the registration back
    /// on the waiting list.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] unless the appointment is at `site_code`;
    /// [`Conflict::AppointmentClosed`] unless it is invited or confirmed; [`StoreError::Storage`].
    pub async fn mark_no_show(
        &self,
        appointment_id: &str,
        site_code: &str,
        now: i64,
    ) -> Result<Appointment, StoreError> {
        let appointment = self.appointment(appointment_id).await?;
        if appointment.site_code != site_code {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.write().begin().await?;
        close_appointment(&mut tx, &appointment, "no_show", now).await?;
        tx.commit().await?;
        self.appointment(appointment_id).await
    }

    async fn registrant_appointment(
        &self,
        booking_code: &str,
        phone: &str,
    ) -> Result<Appointment, StoreError> {
        let appointment = self.appointment_by_code(booking_code).await?;
        let owner: Option<String> =
            sqlx::query_scalar("SELECT phone FROM registrations WHERE registration_id = $1")
                .bind(&appointment.registration_id)
                .fetch_optional(self.read())
                .await?;
        if owner.as_deref() != Some(phone) {
            return Err(StoreError::NotFound);
        }
        Ok(appointment)
    }
}

/// The writing half of a round, in one transaction on `conn`: claims the round, locks its capacity and
/// invites the `ranked` candidates in order, batch by batch, until the free slots are taken.
async fn invite_ranked(
    conn: &mut AnyConnection,
    sqlite: bool,
    round: &RoundRow,
    round_id: &str,
    candidates: &[Candidate],
    ranked: &[(usize, scheduling::RankKey)],
    now: i64,
) -> Result<u32, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let claimed =
        sqlx::query("UPDATE rounds SET ran_at = $1 WHERE round_id = $2 AND ran_at IS NULL")
            .bind(now)
            .bind(round_id)
            .execute(&mut *tx)
            .await?;
    if claimed.rows_affected() == 0 {
        return Err(StoreError::Conflict(Conflict::RoundAlreadyRun));
    }
    // Locks the capacity row until commit: a second scheduler on it waits, then sees our count.
    let row = sqlx::query(
        "UPDATE capacity SET reserved = reserved WHERE capacity_id = $1 RETURNING slots, reserved",
    )
    .bind(&round.capacity_id)
    .fetch_one(&mut *tx)
    .await?;
    let slots: i64 = row.try_get("slots")?;
    let reserved: i64 = row.try_get("reserved")?;
    let free = usize::try_from(slots.saturating_sub(reserved).max(0)).unwrap_or(0);

    let mut made: usize = 0;
    let mut next = ranked.iter();
    while made < free {
        let want = free.saturating_sub(made).min(BATCH);
        let batch: Vec<&Candidate> = next
            .by_ref()
            .take(want)
            .filter_map(|(i, _)| candidates.get(*i))
            .collect();
        if batch.is_empty() {
            break;
        }
        if sqlite {
            // One writer: nothing runs concurrently to contend with, and no savepoint journal.
            match invite_batch(&mut tx, round, &batch, now).await {
                Ok(count) => made = made.saturating_add(count),
                Err(BatchError::Store(error)) => return Err(error),
                Err(BatchError::Contention) => {
                    return Err(StoreError::Storage(storage::StorageError::Unavailable(
                        "a constraint refused an invitation".to_owned(),
                    )));
                }
            }
            continue;
        }
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        match invite_batch(&mut savepoint, round, &batch, now).await {
            Ok(count) => {
                savepoint.commit().await?;
                made = made.saturating_add(count);
            }
            Err(BatchError::Contention) => {
                savepoint.rollback().await?;
            }
            Err(BatchError::Store(error)) => return Err(error),
        }
    }
    let invited = u32::try_from(made).unwrap_or(u32::MAX);
    sqlx::query("UPDATE rounds SET invited = $1 WHERE round_id = $2")
        .bind(i64::from(invited))
        .bind(round_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(invited)
}

/// Moves a live (invited or confirmed) appointment to `status`, frees its slot and puts the
/// registration back on the waiting list.
async fn close_appointment(
    conn: &mut AnyConnection,
    appointment: &Appointment,
    status: &str,
    now: i64,
) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE appointments SET status = $1, updated_at = $2 \
         WHERE appointment_id = $3 AND status IN ('invited', 'confirmed')",
    )
    .bind(status)
    .bind(now)
    .bind(&appointment.appointment_id)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Conflict(Conflict::AppointmentClosed));
    }
    release_slot(&mut *conn, &appointment.capacity_id).await?;
    sqlx::query(
        "UPDATE registrations SET status = 'waiting' WHERE registration_id = $1 AND status = 'invited'",
    )
    .bind(&appointment.registration_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Why a batch of invitations was not made.
enum BatchError {
    /// A concurrent writer got in the way: the batch is rolled back and counted as not made.
    Contention,
    /// The database failed.
    Store(StoreError),
}

impl From<sqlx::Error> for BatchError {
    fn from(error: sqlx::Error) -> Self {
        if is_contention(&error) {
            BatchError::Contention
        } else {
            BatchError::Store(error.into())
        }
    }
}

impl From<StoreError> for BatchError {
    fn from(error: StoreError) -> Self {
        BatchError::Store(error)
    }
}

/// Invites `batch` (ranked, at most the free slots): claims the registrations still waiting, reserves
/// that many slots, inserts their appointments and enqueues their invitations. Returns how many.
async fn invite_batch(
    conn: &mut AnyConnection,
    round: &RoundRow,
    batch: &[&Candidate],
    now: i64,
) -> Result<usize, BatchError> {
    let next_dose: HashMap<&str, i64> = batch
        .iter()
        .map(|c| {
            (
                c.registration_id.as_str(),
                c.previous_dose
                    .as_ref()
                    .map_or(1, |d| i64::from(d.dose_number).saturating_add(1)),
            )
        })
        .collect();
    // The claim re-checks what may have changed since the candidates were read: still waiting, not
    // postponed past the day, not become a caution case for a site that cannot take one, and no dose
    // recorded since (the last dose still the one the ranking saw).
    let mut by_previous: std::collections::BTreeMap<i64, Vec<&str>> = Default::default();
    for candidate in batch {
        let previous = next_dose
            .get(candidate.registration_id.as_str())
            .copied()
            .unwrap_or(1)
            .saturating_sub(1);
        by_previous
            .entry(previous)
            .or_default()
            .push(candidate.registration_id.as_str());
    }
    let mut rows = Vec::with_capacity(batch.len());
    for (previous, ids) in &by_previous {
        let sql = format!(
            "UPDATE registrations SET status = 'invited' \
             WHERE status = 'waiting' AND registration_id IN ({}) \
             AND (postponed_until IS NULL OR postponed_until <= $1) AND (caution = 0 OR $2 = 1) \
             AND COALESCE((SELECT MAX(d.dose_number) FROM doses d \
                           WHERE d.registration_id = registrations.registration_id), 0) = $3 \
             RETURNING registration_id, phone, full_name",
            placeholders(4, ids.len())
        );
        let mut claim = sqlx::query(&sql)
            .bind(round.day.as_str())
            .bind(i64::from(round.hospital_grade))
            .bind(*previous);
        for id in ids {
            claim = claim.bind(*id);
        }
        rows.extend(claim.fetch_all(&mut *conn).await?);
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let mut invitees = Vec::with_capacity(rows.len());
    for row in &rows {
        let registration_id: String = row.try_get("registration_id").map_err(StoreError::from)?;
        let dose_number = next_dose
            .get(registration_id.as_str())
            .copied()
            .unwrap_or(1);
        invitees.push(Invitee {
            registration_id,
            phone: row.try_get("phone").map_err(StoreError::from)?,
            full_name: row.try_get("full_name").map_err(StoreError::from)?,
            dose_number,
            booking_code: booking_code()?,
            appointment_id: new_id()?,
        });
    }
    let count = i64::try_from(invitees.len()).unwrap_or(i64::MAX);
    let reserved = sqlx::query(
        "UPDATE capacity SET reserved = reserved + $1 \
         WHERE capacity_id = $2 AND reserved + $1 <= slots",
    )
    .bind(count)
    .bind(&round.capacity_id)
    .execute(&mut *conn)
    .await?;
    if reserved.rows_affected() == 0 {
        return Err(BatchError::Contention);
    }

    let inserted = insert_appointments(&mut *conn, round, &invitees, now).await?;
    // Rows the multi-row insert skipped: a booking code already taken (drawn again), or a live
    // appointment for that dose (a concurrent scheduler's: not made, the slot and the claim undone).
    let mut made: Vec<&Invitee> = Vec::with_capacity(invitees.len());
    for invitee in &mut invitees {
        if inserted.contains(&invitee.appointment_id) {
            continue;
        }
        let mut done = false;
        for _ in 0..3 {
            invitee.booking_code = booking_code()?;
            let single =
                insert_appointments(&mut *conn, round, std::slice::from_ref(invitee), now).await?;
            if !single.is_empty() {
                done = true;
                break;
            }
        }
        if !done {
            invitee.appointment_id.clear();
            release_slot(&mut *conn, &round.capacity_id).await?;
            sqlx::query(
                "UPDATE registrations SET status = 'waiting' \
                 WHERE registration_id = $1 AND status = 'invited'",
            )
            .bind(&invitee.registration_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    made.extend(invitees.iter().filter(|i| !i.appointment_id.is_empty()));
    enqueue_invitations(&mut *conn, round, &made, now).await?;
    Ok(made.len())
}

/// One multi-row `INSERT … ON CONFLICT DO NOTHING`; the appointment ids that went in.
async fn insert_appointments(
    conn: &mut AnyConnection,
    round: &RoundRow,
    invitees: &[Invitee],
    now: i64,
) -> Result<HashSet<String>, BatchError> {
    if invitees.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "INSERT INTO appointments (appointment_id, registration_id, capacity_id, round_id, \
         dose_number, booking_code, status, created_at, updated_at) VALUES {} \
         ON CONFLICT DO NOTHING RETURNING appointment_id",
        rows_sql(invitees.len(), 3, 4, |p| match p {
            [id, registration, dose, code] => {
                format!("({id}, {registration}, $1, $2, {dose}, {code}, 'invited', $3, $3)")
            }
            _ => String::new(),
        })
    );
    let mut insert = sqlx::query(&sql)
        .bind(round.capacity_id.as_str())
        .bind(round.round_id.as_str())
        .bind(now);
    for invitee in invitees {
        insert = insert
            .bind(invitee.appointment_id.as_str())
            .bind(invitee.registration_id.as_str())
            .bind(invitee.dose_number)
            .bind(invitee.booking_code.as_str());
    }
    let rows = insert.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|row| {
            row.try_get::<String, _>("appointment_id")
                .map_err(|e| BatchError::Store(e.into()))
        })
        .collect()
}

/// The invitations of `made`, into the notification outbox, in multi-row inserts.
async fn enqueue_invitations(
    conn: &mut AnyConnection,
    round: &RoundRow,
    made: &[&Invitee],
    now: i64,
) -> Result<(), BatchError> {
    if made.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(made.len());
    let mut kind = "invitation";
    for invitee in made {
        let message = Message::Invitation {
            name: invitee.full_name.clone(),
            site: round.site_code.clone(),
            day: round.day.clone(),
            session: round.session.clone(),
            booking_code: invitee.booking_code.clone(),
        };
        kind = message.kind();
        rows.push((new_id()?, invitee.phone.as_str(), message.text()));
    }
    let sql = format!(
        "INSERT INTO notifications (notification_id, phone, kind, text, created_at) VALUES {}",
        rows_sql(rows.len(), 2, 3, |p| match p {
            [id, phone, text] => format!("({id}, {phone}, $1, {text}, $2)"),
            _ => String::new(),
        })
    );
    let mut insert = sqlx::query(&sql).bind(kind).bind(now);
    for (id, phone, text) in &rows {
        insert = insert.bind(id.as_str()).bind(*phone).bind(text.as_str());
    }
    insert.execute(&mut *conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{BOOKING_ALPHABET, RoundRow, booking_code, invite_batch, parse_day, rows_sql};
    use crate::scheduling::Candidate;
    use crate::store::{Site, testing};
    use time::macros::date;

    /// What changed between reading the candidates and claiming them is checked again at the claim:
    /// a postponement, a caution flag at a site that cannot take it, or a dose recorded meanwhile.
    #[tokio::test]
    async fn a_stale_candidate_is_not_claimed() {
        let intake = testing::sqlite().await;
        let site = Site {
            site_code: "HN-0001".into(),
            name: "Site".into(),
            province_code: "01".into(),
            hospital_grade: false,
        };
        intake.add_site(&site, 0).await.unwrap();
        let published = intake
            .publish_capacity(
                "HN-0001",
                "2021-09-14",
                "morning",
                "EU/1/20/1528",
                10,
                "n",
                0,
            )
            .await
            .unwrap();
        let ids = ["fresh", "postponed", "caution", "dosed"];
        for id in ids {
            sqlx::query(
                "INSERT INTO registrations (registration_id, campaign, phone, full_name, dob, sex, \
                 id_kind, id_number, occupation, province_code, commune_code, admin_scheme, \
                 declared_group, priority_group, policy_id, policy_version, preferred_site, \
                 medical_history, status, created_at) VALUES ($1, 'covid-19', '+84900000000', 'A B', \
                 '1980-01-01', 'male', 'citizen_id', $1, 'x', '01', '00001', 'vn-2021', 'others', \
                 'others', 'qd-3355-byt', 1, 'HN-0001', '{}', 'waiting', 0)",
            )
            .bind(id)
            .execute(intake.write())
            .await
            .unwrap();
        }
        // Changed after the round read them as plain first-dose candidates.
        for sql in [
            "UPDATE registrations SET postponed_until = '2021-09-20' WHERE registration_id = 'postponed'",
            "UPDATE registrations SET caution = 1 WHERE registration_id = 'caution'",
            "INSERT INTO appointments (appointment_id, registration_id, capacity_id, dose_number, \
             booking_code, status, created_at, updated_at) \
             SELECT 'old', 'dosed', capacity_id, 1, 'OLD001', 'vaccinated', 0, 0 FROM capacity",
            "INSERT INTO doses (dose_event_id, registration_id, appointment_id, site_code, product, \
             manufacturer, prophylaxis, lot_number, dose_number, total_doses, vaccinated_on, \
             recorded_by, recorded_at, record_hash) VALUES ('d1', 'dosed', 'old', 'HN-0001', \
             'EU/1/20/1528', 'm', 'vp', 'L', 1, 2, '2021-09-13', 't', 0, 'sha256:00')",
        ] {
            sqlx::query(sql).execute(intake.write()).await.unwrap();
        }
        let candidates: Vec<Candidate> = ids
            .iter()
            .map(|id| Candidate {
                registration_id: (*id).to_owned(),
                dob: date!(1980 - 01 - 01),
                priority_group: "others".into(),
                policy_id: "qd-3355-byt".into(),
                policy_version: 1,
                province_code: "01".into(),
                caution: false,
                postponed_until: None,
                previous_dose: None,
                has_live_appointment: false,
            })
            .collect();
        let batch: Vec<&Candidate> = candidates.iter().collect();
        let round = RoundRow {
            round_id: published.round_id.clone(),
            capacity_id: published.capacity_id.clone(),
            site_code: "HN-0001".into(),
            day: "2021-09-14".into(),
            session: "morning".into(),
            product: "EU/1/20/1528".into(),
            seed: String::new(),
            ran_at: None,
            hospital_grade: false,
        };
        let mut conn = intake.write().acquire().await.unwrap();
        let made = invite_batch(&mut conn, &round, &batch, 1).await;
        assert!(matches!(made, Ok(1)));
        let invited: Vec<String> = sqlx::query_scalar(
            "SELECT registration_id FROM registrations WHERE status = 'invited'",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        assert_eq!(invited, ["fresh"]);
    }

    #[test]
    fn booking_codes_are_six_unambiguous_characters() {
        for _ in 0..200 {
            let code = booking_code().unwrap_or_default();
            assert_eq!(code.len(), 6);
            assert!(
                code.bytes()
                    .all(|c| BOOKING_ALPHABET.contains(&c) && c != b'#')
            );
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
        }
    }

    #[test]
    fn days_parse_strictly() {
        assert!(parse_day("2021-09-14").is_some());
        for bad in ["2021-9-14", "2021-02-30", "14/09/2021", "2021-09-14-1", ""] {
            assert!(parse_day(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rows_number_their_placeholders_after_the_shared_ones() {
        let sql = rows_sql(2, 1, 2, |p| match p {
            [a, b] => format!("({a}, $1, {b})"),
            _ => String::new(),
        });
        assert_eq!(sql, "($2, $1, $3), ($4, $1, $5)");
    }
}
