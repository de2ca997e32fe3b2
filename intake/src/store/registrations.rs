//! Registrations (`domain.md`, Registration): people registered under a managing phone — by the person
//! online, or in bulk from an organisation's staff list.
//!
//! One phone manages at most a configured number of live (not cancelled) registrations per campaign; one
//! active registration per identity document and campaign is kept by a unique index, whose violation
//! is [`Conflict::DuplicateDocument`] on SQLite and PostgreSQL alike. Each new registration writes a
//! "registration received" message into the notification outbox in the same transaction.
//!
//! Group commit (SQLite): with `synchronous=FULL` every commit waits for the disk to flush the WAL, so
//! one transaction per registration caps the rate at one flush per registration. On SQLite,
//! [`Intake::create_registration`] hands its registration to a single writer task instead, which takes
//! every registration queued (up to [`GROUP_MAX`]), decides and writes them in one transaction (the
//! group's phones and documents read at once, each person decided in order, the accepted ones written
//! in multi-row inserts; should an insert fail anyway, again with a savepoint a person), so that a
//! refused one (duplicate document, phone full) fails alone; it commits once and only then answers each
//! caller with its own outcome: nothing acknowledged is lost in a crash. On PostgreSQL each registration keeps a transaction of its own (the phone's row lock
//! keeps the cap right between concurrent transactions, and the server groups commits itself).

use std::sync::{Arc, OnceLock};

use sqlx::{AnyConnection, AnyPool, Row as _};
use storage::{Backend, StorageError};
use tokio::sync::{mpsc, oneshot};

use super::notifications::enqueue;
use super::{Conflict, Intake, StoreError, new_id};
use crate::notification::Message;
use crate::registration::ValidRegistration;

/// The most registrations one group transaction writes.
pub const GROUP_MAX: usize = 256;

/// Registrations waiting for the group writer before callers wait to queue theirs.
const GROUP_QUEUE: usize = 4 * GROUP_MAX;

/// A registration to record with its own outcome (see [`Intake::create_registrations_each`]).
#[derive(Clone, Copy)]
pub struct NewRegistration<'a> {
    /// The campaign.
    pub campaign: &'a str,
    /// The managing phone, E.164.
    pub phone: &'a str,
    /// The phone's cap of live registrations in the campaign.
    pub max_people_per_phone: u8,
    /// The registration.
    pub registration: &'a ValidRegistration,
    /// Unix seconds.
    pub now: i64,
}

impl std::fmt::Debug for NewRegistration<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRegistration")
            .field("campaign", &self.campaign)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// A registration queued for the group writer, with where its outcome goes.
struct Queued {
    campaign: String,
    phone: String,
    max_people_per_phone: u8,
    registration: ValidRegistration,
    now: i64,
    reply: oneshot::Sender<Result<String, StoreError>>,
}

impl Queued {
    fn borrowed(&self) -> NewRegistration<'_> {
        NewRegistration {
            campaign: &self.campaign,
            phone: &self.phone,
            max_people_per_phone: self.max_people_per_phone,
            registration: &self.registration,
            now: self.now,
        }
    }
}

/// The queue of SQLite's group writer, started by the first registration of an [`Intake`] (and its
/// clones); the task ends when the last clone is dropped.
#[derive(Clone, Default)]
pub(crate) struct GroupWriter(Arc<OnceLock<mpsc::Sender<Queued>>>);

impl std::fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter")
            .field("started", &self.0.get().is_some())
            .finish()
    }
}

/// An outcome for a caller whose registration was lost with its group.
fn unavailable(reason: &str) -> StoreError {
    StoreError::Storage(StorageError::Unavailable(reason.to_owned()))
}

/// The group writer: waits for a registration, takes whatever else is queued by then, writes the group.
async fn group_writer(pool: AnyPool, mut queue: mpsc::Receiver<Queued>) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    while queue.recv_many(&mut group, GROUP_MAX).await > 0 {
        let people: Vec<NewRegistration<'_>> = group.iter().map(Queued::borrowed).collect();
        let started = std::time::Instant::now();
        let outcomes = match write_group(&pool, &people).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                let reason = error.to_string();
                people.iter().map(|_| Err(unavailable(&reason))).collect()
            }
        };
        tracing::debug!(
            size = people.len(),
            micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "registration group committed"
        );
        drop(people);
        for (queued, outcome) in group.drain(..).zip(outcomes) {
            // A caller that went away (its request timed out) does not need its answer.
            let _ = queued.reply.send(outcome);
        }
    }
}

/// Writes `people` in one transaction, each in a savepoint of its own; the outcomes in order, once
/// committed. A database failure outside one person's savepoint fails the whole group.
async fn write_each(
    pool: &AnyPool,
    people: &[NewRegistration<'_>],
) -> Result<Vec<Result<String, StoreError>>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(people.len());
    for person in people {
        sqlx::query("SAVEPOINT registration")
            .execute(&mut *tx)
            .await?;
        let outcome = insert(
            &mut tx,
            person.campaign,
            person.phone,
            None,
            person.max_people_per_phone,
            person.registration,
            person.now,
        )
        .await;
        if outcome.is_err() {
            sqlx::query("ROLLBACK TO SAVEPOINT registration")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("RELEASE SAVEPOINT registration")
            .execute(&mut *tx)
            .await?;
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Rows one multi-row `INSERT` of [`write_group`] takes (fixed, so that its statement is prepared once;
/// the last rows of a group take one of fewer).
const INSERT_CHUNK: usize = 16;

/// SQLite's group transaction, in a few statements instead of several per person (on SQLite each
/// statement is a round trip to the connection's thread, and those round trips were most of a
/// registration's CPU): the live registrations of the group's phones and the active registrations of
/// its documents are read at once, each person's outcome decided in order from them (the cap first,
/// then the document, as [`insert`] does), and the accepted people and their messages written in
/// multi-row `INSERT`s. Exact only with one writer (SQLite's single write connection); should an insert
/// fail anyway, the group is rolled back and written again by [`write_each`], a savepoint a person.
async fn write_group(
    pool: &AnyPool,
    people: &[NewRegistration<'_>],
) -> Result<Vec<Result<String, StoreError>>, StoreError> {
    let mut tx = pool.begin().await?;
    match decide_and_insert(&mut tx, people).await {
        Ok(outcomes) => {
            tx.commit().await?;
            Ok(outcomes)
        }
        Err(_) => {
            tx.rollback().await?;
            write_each(pool, people).await
        }
    }
}

/// `values` padded to the next power of two with copies of its last value, so that an `IN` list has
/// one of a few lengths (and its statement is prepared once).
fn padded(mut values: Vec<&str>) -> Vec<&str> {
    if let Some(last) = values.last().copied() {
        values.resize(values.len().next_power_of_two(), last);
    }
    values
}

/// `$from, $from+1, …`: `count` placeholders.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows of `width` placeholders each: `($1, …), ($w+1, …), …`.
fn value_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholders(row * width + 1, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An accepted person of a group, ready to write.
struct Accepted<'a> {
    registration_id: String,
    notification_id: String,
    person: &'a NewRegistration<'a>,
}

/// See [`write_group`]: the outcomes, the accepted people written (not committed).
async fn decide_and_insert(
    connection: &mut AnyConnection,
    people: &[NewRegistration<'_>],
) -> Result<Vec<Result<String, StoreError>>, StoreError> {
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

    let mut live: HashMap<(&str, String), i64> = HashMap::new();
    let mut taken: HashSet<(&str, &str, String)> = HashSet::new();
    let campaigns: BTreeSet<&str> = people.iter().map(|person| person.campaign).collect();
    for campaign in campaigns {
        let of_campaign = || people.iter().filter(move |p| p.campaign == campaign);
        let phones: BTreeSet<&str> = of_campaign().map(|person| person.phone).collect();
        let phones = padded(phones.into_iter().collect());
        let sql = format!(
            "SELECT phone, COUNT(*) AS live FROM registrations WHERE campaign = $1 \
             AND status <> 'cancelled' AND phone IN ({}) GROUP BY phone",
            placeholders(2, phones.len())
        );
        let mut query = sqlx::query(&sql).bind(campaign);
        for phone in &phones {
            query = query.bind(*phone);
        }
        for row in query.fetch_all(&mut *connection).await? {
            live.insert((campaign, row.try_get("phone")?), row.try_get("live")?);
        }
        let mut documents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for person in of_campaign() {
            documents
                .entry(person.registration.id_kind.as_str())
                .or_default()
                .insert(&person.registration.id_number);
        }
        for (kind, numbers) in documents {
            let numbers = padded(numbers.into_iter().collect());
            let sql = format!(
                "SELECT id_number FROM registrations WHERE campaign = $1 AND id_kind = $2 \
                 AND status <> 'cancelled' AND id_number IN ({})",
                placeholders(3, numbers.len())
            );
            let mut query = sqlx::query(&sql).bind(campaign).bind(kind);
            for number in &numbers {
                query = query.bind(*number);
            }
            for row in query.fetch_all(&mut *connection).await? {
                taken.insert((campaign, kind, row.try_get("id_number")?));
            }
        }
    }

    let mut outcomes = Vec::with_capacity(people.len());
    let mut accepted = Vec::with_capacity(people.len());
    for person in people {
        let count = live
            .entry((person.campaign, person.phone.to_owned()))
            .or_insert(0);
        if *count >= i64::from(person.max_people_per_phone) {
            outcomes.push(Err(StoreError::Conflict(Conflict::PhoneFull)));
            continue;
        }
        let document = (
            person.campaign,
            person.registration.id_kind.as_str(),
            person.registration.id_number.clone(),
        );
        if !taken.insert(document) {
            outcomes.push(Err(StoreError::Conflict(Conflict::DuplicateDocument)));
            continue;
        }
        *count += 1;
        let registration_id = new_id()?;
        outcomes.push(Ok(registration_id.clone()));
        accepted.push(Accepted {
            registration_id,
            notification_id: new_id()?,
            person,
        });
    }

    for chunk in accepted.chunks(INSERT_CHUNK) {
        insert_rows(connection, chunk).await?;
    }
    Ok(outcomes)
}

/// The registrations and "registration received" messages of `chunk`, one `INSERT` each.
async fn insert_rows(
    connection: &mut AnyConnection,
    chunk: &[Accepted<'_>],
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO registrations (registration_id, campaign, phone, organisation, full_name, dob, \
         sex, id_kind, id_number, occupation, province_code, commune_code, admin_scheme, \
         declared_group, priority_group, policy_id, policy_version, preferred_site, preferred_date, \
         health_insurance, ethnicity, nationality, medical_history, caution, status, created_at) \
         VALUES {}",
        value_rows(chunk.len(), 26)
    );
    let mut query = sqlx::query(&sql);
    for row in chunk {
        let (person, registration) = (row.person, row.person.registration);
        query = query
            .bind(&row.registration_id)
            .bind(person.campaign)
            .bind(person.phone)
            .bind(None::<&str>)
            .bind(&registration.full_name)
            .bind(registration.dob.to_string())
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
            .bind(registration.preferred_date.map(|day| day.to_string()))
            .bind(registration.health_insurance.as_deref())
            .bind(registration.ethnicity.as_deref())
            .bind(registration.nationality.as_deref())
            .bind(registration.medical_history_json())
            .bind(i64::from(registration.caution))
            .bind("waiting")
            .bind(person.now);
    }
    query.execute(&mut *connection).await?;
    let sql = format!(
        "INSERT INTO notifications (notification_id, phone, kind, text, created_at) VALUES {}",
        value_rows(chunk.len(), 5)
    );
    let mut query = sqlx::query(&sql);
    for row in chunk {
        let message = Message::RegistrationReceived {
            name: row.person.registration.full_name.clone(),
        };
        query = query
            .bind(&row.notification_id)
            .bind(row.person.phone)
            .bind(message.kind())
            .bind(message.text())
            .bind(row.person.now);
    }
    query.execute(&mut *connection).await?;
    Ok(())
}

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
        if self.backend() == Backend::Sqlite {
            return self
                .create_registration_grouped(
                    campaign,
                    phone,
                    max_people_per_phone,
                    registration,
                    now,
                )
                .await;
        }
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

    /// [`Intake::create_registration`] through the group writer: queued, written in the next group
    /// transaction, answered once that transaction committed.
    async fn create_registration_grouped(
        &self,
        campaign: &str,
        phone: &str,
        max_people_per_phone: u8,
        registration: &ValidRegistration,
        now: i64,
    ) -> Result<String, StoreError> {
        let queue = self.registration_writer.0.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(GROUP_QUEUE);
            tokio::spawn(group_writer(self.write().clone(), receiver));
            sender
        });
        let (reply, outcome) = oneshot::channel();
        let queued = Queued {
            campaign: campaign.to_owned(),
            phone: phone.to_owned(),
            max_people_per_phone,
            registration: registration.clone(),
            now,
            reply,
        };
        queue
            .send(queued)
            .await
            .map_err(|_| unavailable("the registration writer has stopped"))?;
        outcome
            .await
            .map_err(|_| unavailable("the registration writer has stopped"))?
    }

    /// Registers each of `people` in one transaction, each with an outcome of its own: one refused
    /// ([`Conflict::PhoneFull`], [`Conflict::DuplicateDocument`]) is not recorded, with nothing of it
    /// left, and the others are. People are taken in order, so a later one sees the earlier ones of the
    /// list (a phone's cap, a document). This is what SQLite's group writer does with the registrations
    /// queued together (reading the group's phones and documents at once, then writing the accepted
    /// people in multi-row inserts); on PostgreSQL each person is written in a savepoint of its own,
    /// under its phone's row lock. The outcomes are returned once the transaction committed.
    ///
    /// # Errors
    /// The database, when the transaction fails as a whole (then nothing is recorded).
    pub async fn create_registrations_each(
        &self,
        people: &[NewRegistration<'_>],
    ) -> Result<Vec<Result<String, StoreError>>, StoreError> {
        match self.backend() {
            Backend::Sqlite => write_group(self.write(), people).await,
            Backend::Postgres => write_each(self.write(), people).await,
        }
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
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::{BulkPerson, NewRegistration, decide_and_insert, write_each};
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

    /// Registrations sent at once through SQLite's group writer: each caller gets its own outcome
    /// (the cap and the documents hold across and within the groups they were written in), and what
    /// was answered is what is stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_registrations_through_the_group_writer_each_get_their_outcome() {
        let intake = testing::sqlite().await;
        // 10 phones with 6 people each (cap 4), and one document sent from 8 other phones.
        let mut sent = Vec::new();
        for i in 0..60u32 {
            sent.push((format!("+849100000{:02}", i % 10), format!("0011600{i:05}")));
        }
        for i in 0..8u32 {
            sent.push((format!("+849200000{i:02}"), "001160099999".to_owned()));
        }
        let mut tasks = Vec::new();
        for (phone, document) in sent {
            let intake = intake.clone();
            tasks.push(tokio::spawn(async move {
                let outcome = intake
                    .create_registration("covid-19", &phone, 4, &person(&document), T)
                    .await;
                (phone, outcome)
            }));
        }
        let mut created = Vec::new();
        let (mut full, mut duplicate) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                (phone, Ok(id)) => created.push((phone, id)),
                (_, Err(StoreError::Conflict(Conflict::PhoneFull))) => full += 1,
                (_, Err(StoreError::Conflict(Conflict::DuplicateDocument))) => duplicate += 1,
                (_, Err(error)) => panic!("unexpected {error:?}"),
            }
        }
        assert_eq!((created.len(), full, duplicate), (41, 20, 7));
        assert_eq!(intake.registration_count().await.unwrap(), 41);
        for (phone, id) in &created {
            assert_eq!(
                intake.registration_of(phone, id).await.unwrap().status,
                "waiting"
            );
        }
        for phone in 0..10 {
            let phone = format!("+849100000{phone:02}");
            assert_eq!(intake.registrations_of(&phone).await.unwrap().len(), 4);
            assert_eq!(intake.notifications_to(&phone).await.unwrap().len(), 4);
        }
        let mut messages = 0;
        for phone in 0..8 {
            messages += intake
                .notifications_to(&format!("+849200000{phone:02}"))
                .await
                .unwrap()
                .len();
        }
        assert_eq!(messages, 1);
    }

    /// SQLite's group path (reads at once, multi-row inserts) and its fallback (a savepoint a person)
    /// decide one group alike: a duplicate document and a full phone refused, the others recorded.
    #[tokio::test]
    async fn both_ways_of_writing_a_group_decide_alike() {
        let (a1, a2, a3, b1) = (
            person("001160000301"),
            person("001160000302"),
            person("001160000303"),
            person("001160000304"),
        );
        for grouped in [true, false] {
            let intake = testing::sqlite().await;
            let new = |phone, registration| NewRegistration {
                campaign: "covid-19",
                phone,
                max_people_per_phone: 2,
                registration,
                now: T,
            };
            let people = [
                new(PHONE, &a1),
                new("+84987654321", &a1),
                new(PHONE, &a2),
                new(PHONE, &a3),
                new("+84987654321", &b1),
            ];
            let outcomes = if grouped {
                // The group path itself, not its fallback.
                let mut tx = intake.write().begin().await.unwrap();
                let outcomes = decide_and_insert(&mut tx, &people).await.unwrap();
                tx.commit().await.unwrap();
                outcomes
            } else {
                write_each(intake.write(), &people).await.unwrap()
            };
            let kinds: Vec<Option<Conflict>> = outcomes
                .iter()
                .map(|outcome| match outcome {
                    Ok(_) => None,
                    Err(StoreError::Conflict(conflict)) => Some(*conflict),
                    Err(error) => panic!("{error:?}"),
                })
                .collect();
            assert_eq!(
                kinds,
                [
                    None,
                    Some(Conflict::DuplicateDocument),
                    None,
                    Some(Conflict::PhoneFull),
                    None
                ],
                "grouped: {grouped}"
            );
            assert_eq!(intake.registration_count().await.unwrap(), 3);
            let other = intake.registrations_of("+84987654321").await.unwrap();
            assert_eq!(other.len(), 1);
            assert_eq!(&other[0].registration_id, outcomes[4].as_ref().unwrap());
            assert_eq!(intake.notifications_to(PHONE).await.unwrap().len(), 2);
            assert_eq!(
                intake.notifications_to("+84987654321").await.unwrap().len(),
                1
            );
        }
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
