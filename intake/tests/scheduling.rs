//! Scheduling rounds end to end, on SQLite always and on PostgreSQL when `DATABASE_URL` is set (a fresh
//! schema per test): who a round invites (checked against a ranking computed here, independently, from
//! the revealed seed), the hard filters, capacity never overbooked by concurrent schedulers, and
//! cancellations and no-shows freeing their slots. Registrations are inserted straight into the table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines
)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use hmac::{Hmac, Mac as _};
use intake::api::{IntakeConfig, IntakeState, router};
use intake::policy::PolicyBook;
use intake::store::{Conflict, Intake, PublishedCapacity, Role, Site, StoreError};
use sha2::{Digest as _, Sha256};
use sqlx::AnyPool;
use time::macros::date;
use time::{Date, Duration};

mod support;

use support::{NoSms, random_hex};

const PFIZER: &str = "EU/1/20/1528";
const ASTRAZENECA: &str = "EU/1/21/1529";
const DAY: Date = date!(2021 - 09 - 14);
const DAY_TEXT: &str = "2021-09-14";
const NOW: i64 = 1_631_500_000;

// ---- databases ----

/// An intake database (with the sites HN-0001 and, hospital-grade, HN-0002) and a pool of our own for
/// inserting rows directly.
struct Db {
    backend: &'static str,
    intake: Intake,
    raw: AnyPool,
}

async fn open(backend: &'static str, url: &str) -> Db {
    let intake = support::open_intake(url).await;
    let raw = support::raw_pool(url).await;
    let db = Db {
        backend,
        intake,
        raw,
    };
    add_sites(&db).await;
    db
}

impl Db {
    /// Publishes `slots` Pfizer slots at `site` for the `session` of [`DAY`], as "nurse" at [`NOW`].
    async fn publish(&self, site: &str, session: &str, slots: u32) -> PublishedCapacity {
        self.intake
            .publish_capacity(site, DAY_TEXT, session, PFIZER, slots, "nurse", NOW)
            .await
            .unwrap()
    }
}

/// A fresh SQLite database, and a fresh PostgreSQL schema when `DATABASE_URL` is set.
async fn databases() -> Vec<Db> {
    let mut out = Vec::new();
    for (backend, url) in support::database_urls().await {
        out.push(open(backend, &url).await);
    }
    out
}

// ---- rows ----

#[derive(Clone)]
struct Person {
    id: String,
    dob: Date,
    group: &'static str,
    province: &'static str,
    site: &'static str,
    caution: bool,
    postponed_until: Option<Date>,
    status: &'static str,
    created_at: i64,
}

fn person(id: impl Into<String>) -> Person {
    Person {
        id: id.into(),
        dob: date!(1980 - 05 - 01),
        group: "others",
        province: "01",
        site: "HN-0001",
        caution: false,
        postponed_until: None,
        status: "waiting",
        created_at: NOW - 86_400,
    }
}

fn phone_of(id: &str) -> String {
    let digits: String = id
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .take(9)
        .collect();
    format!("+84{digits:0<9}")
}

async fn insert_person(db: &Db, p: &Person) {
    sqlx::query(
        "INSERT INTO registrations (registration_id, campaign, phone, full_name, dob, sex, id_kind, \
         id_number, occupation, province_code, commune_code, admin_scheme, declared_group, \
         priority_group, policy_id, policy_version, preferred_site, medical_history, caution, \
         postponed_until, status, created_at) VALUES ($1, 'covid-19', $2, $3, $4, 'female', \
         'citizen_id', $5, 'clerk', $6, '00001', 'vn-2021', $7, $7, 'qd-3355-byt', 1, $8, '{}', $9, \
         $10, $11, $12)",
    )
    .bind(&p.id)
    .bind(phone_of(&p.id))
    .bind(format!("Nguyen Van {}", p.id))
    .bind(p.dob.to_string())
    .bind(format!("ID-{}", p.id))
    .bind(p.province)
    .bind(p.group)
    .bind(p.site)
    .bind(i64::from(p.caution))
    .bind(p.postponed_until.map(|d| d.to_string()))
    .bind(p.status)
    .bind(p.created_at)
    .execute(&db.raw)
    .await
    .unwrap();
}

/// Records dose `n` of `total` of `product` given to `id` on `on` (with the past capacity and the
/// appointment a dose belongs to).
async fn insert_dose(db: &Db, id: &str, product: &str, n: i64, total: i64, on: Date) {
    let capacity_id = format!("past-{}-{product}", on);
    sqlx::query(
        "INSERT INTO capacity (capacity_id, site_code, day, session, product, slots, reserved, \
         published_by, published_at) VALUES ($1, 'HN-0001', $2, 'morning', $3, 1000, 0, 't', 0) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&capacity_id)
    .bind(on.to_string())
    .bind(product)
    .execute(&db.raw)
    .await
    .unwrap();
    let appointment_id = format!("past-{id}-{n}");
    sqlx::query(
        "INSERT INTO appointments (appointment_id, registration_id, capacity_id, dose_number, \
         booking_code, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'vaccinated', 0, 0)",
    )
    .bind(&appointment_id)
    .bind(id)
    .bind(&capacity_id)
    .bind(n)
    .bind(format!("P{}", random_hex(4)))
    .execute(&db.raw)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO doses (dose_event_id, registration_id, appointment_id, site_code, product, \
         manufacturer, prophylaxis, lot_number, dose_number, total_doses, vaccinated_on, \
         recorded_by, recorded_at, record_hash) VALUES ($1, $2, $3, 'HN-0001', $4, 'm', 'vp', 'L1', \
         $5, $6, $7, 't', 0, 'sha256:00')",
    )
    .bind(random_hex(16))
    .bind(id)
    .bind(&appointment_id)
    .bind(product)
    .bind(n)
    .bind(total)
    .bind(on.to_string())
    .execute(&db.raw)
    .await
    .unwrap();
}

async fn insert_people<'a>(db: &Db, people: impl IntoIterator<Item = &'a Person>) {
    for p in people {
        insert_person(db, p).await;
    }
}

async fn add_sites(db: &Db) {
    for (code, hospital) in [("HN-0001", false), ("HN-0002", true)] {
        db.intake
            .add_site(
                &Site {
                    site_code: code.into(),
                    name: format!("Site {code}"),
                    province_code: "01".into(),
                    hospital_grade: hospital,
                },
                0,
            )
            .await
            .unwrap();
    }
}

async fn scalar(db: &Db, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(&db.raw)
        .await
        .unwrap()
}

async fn invited_ids(db: &Db, capacity_id: &str) -> HashSet<String> {
    sqlx::query_scalar(
        "SELECT registration_id FROM appointments WHERE capacity_id = $1 \
         AND status IN ('invited', 'confirmed', 'checked_in')",
    )
    .bind(capacity_id)
    .fetch_all(&db.raw)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// Replaces a round's secret seed (and its commitment) so that two databases draw the same lottery.
async fn set_seed(db: &Db, round_id: &str, seed: &[u8]) {
    sqlx::query("UPDATE rounds SET seed = $1, seed_hash = $2 WHERE round_id = $3")
        .bind(hex::encode(seed))
        .bind(hex::encode(Sha256::digest(seed)))
        .bind(round_id)
        .execute(&db.raw)
        .await
        .unwrap();
}

// ---- the independent ranking ----

fn age(dob: Date, day: Date) -> i32 {
    let mut years = day.year() - dob.year();
    if (u8::from(day.month()), day.day()) < (u8::from(dob.month()), dob.day()) {
        years -= 1;
    }
    years
}

/// `(next-dose flag, -overdue days, rank, outbreak flag, age band, HMAC)` for the people of a Pfizer
/// round on [`DAY`] under Decision 3355 (outbreak provinces 79, 74, 75, 80; bands 65, 50, 18);
/// `overdue` maps the people with a due second dose to their days past the 21-day minimum.
fn expected_order(people: &[Person], overdue: &HashMap<String, i64>, seed: &[u8]) -> Vec<String> {
    let book = PolicyBook::builtin().unwrap();
    let policy = book.in_force(DAY).unwrap();
    let mut keyed: Vec<_> = people
        .iter()
        .filter(|p| age(p.dob, DAY) >= 18)
        .map(|p| {
            let mut mac = Hmac::<Sha256>::new_from_slice(seed).unwrap();
            mac.update(p.id.as_bytes());
            let lottery = mac.finalize().into_bytes().to_vec();
            let a = age(p.dob, DAY);
            let band = if a >= 65 {
                0
            } else if a >= 50 {
                1
            } else {
                2
            };
            let outbreak = u8::from(!["79", "74", "75", "80"].contains(&p.province));
            let (next, late) = overdue.get(&p.id).map_or((1, 0), |d| (0, -d));
            let rank = policy.rank(p.group).map_or(u16::MAX, |r| r);
            ((next, late, rank, outbreak, band, lottery), p.id.clone())
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, id)| id).collect()
}

const GROUPS: &[&str] = &[
    "health-workers",
    "army",
    "teachers-public-facing",
    "others",
    "no-such-group",
];
const PROVINCES: &[&str] = &["01", "79", "48"];

/// `n` eligible people with varied groups, provinces and ages, ids `p000…`.
fn crowd(n: usize) -> Vec<Person> {
    (0..n)
        .map(|i| {
            let mut p = person(format!("p{i:03}"));
            p.group = GROUPS[i % GROUPS.len()];
            p.province = PROVINCES[(i / 2) % PROVINCES.len()];
            p.dob =
                date!(1940 - 03 - 01) + Duration::days(i64::try_from(i * 397 % 20_000).unwrap());
            p.created_at = NOW - 1_000_000 + i64::try_from(i).unwrap();
            p
        })
        .collect()
}

// ---- tests ----

#[tokio::test]
async fn a_round_invites_exactly_the_top_n_of_an_independent_ranking() {
    let book = PolicyBook::builtin().unwrap();
    for db in databases().await {
        let people = crowd(60);
        insert_people(&db, &people).await;
        // Three due second doses, 5, 30 and 0 days past Pfizer's 21-day minimum.
        let mut overdue = HashMap::new();
        for (i, late) in [(7usize, 5i64), (13, 30), (29, 0)] {
            let id = &people[i].id;
            insert_dose(&db, id, PFIZER, 1, 2, DAY - Duration::days(21 + late)).await;
            overdue.insert(id.clone(), late);
        }
        let published = db.publish("HN-0001", "morning", 15).await;
        let before = db.intake.round(&published.round_id).await.unwrap();
        assert_eq!(before.seed, None, "{}", db.backend);
        assert_eq!(before.seed_hash, published.seed_hash);

        let invited = db
            .intake
            .run_round(&published.round_id, &book, NOW + 10)
            .await
            .unwrap();
        assert_eq!(invited, 15, "{}", db.backend);

        let after = db.intake.round(&published.round_id).await.unwrap();
        let seed = hex::decode(after.seed.expect("the seed is revealed")).unwrap();
        assert_eq!(seed.len(), 32);
        assert_eq!(hex::encode(Sha256::digest(&seed)), published.seed_hash);
        assert_eq!(after.invited, Some(15));

        let expected: Vec<String> = expected_order(&people, &overdue, &seed);
        let top: HashSet<String> = expected.iter().take(15).cloned().collect();
        assert_eq!(
            invited_ids(&db, &published.capacity_id).await,
            top,
            "{}",
            db.backend
        );
        // The most overdue is first, and all three second doses are in.
        assert_eq!(expected[0], people[13].id);
        for id in overdue.keys() {
            assert!(top.contains(id));
        }

        let list = db
            .intake
            .appointments_for_site("HN-0001", DAY_TEXT)
            .await
            .unwrap();
        assert_eq!(list.len(), 15);
        let codes: HashSet<&str> = list.iter().map(|a| a.booking_code.as_str()).collect();
        assert_eq!(codes.len(), 15);
        for appointment in &list {
            assert_eq!(appointment.status, "invited");
            let want = if overdue.contains_key(&appointment.registration_id) {
                2
            } else {
                1
            };
            assert_eq!(appointment.dose_number, want);
            assert_eq!(appointment.booking_code.len(), 6);
            let again = db
                .intake
                .appointment_by_code(&appointment.booking_code)
                .await
                .unwrap();
            assert_eq!(&again, appointment);
            let status: String =
                sqlx::query_scalar("SELECT status FROM registrations WHERE registration_id = $1")
                    .bind(&appointment.registration_id)
                    .fetch_one(&db.raw)
                    .await
                    .unwrap();
            assert_eq!(status, "invited");
            let messages = db
                .intake
                .notifications_to(&phone_of(&appointment.registration_id))
                .await
                .unwrap();
            assert!(
                messages
                    .iter()
                    .any(|m| m.kind == "invitation" && m.text.contains(&appointment.booking_code)),
                "{}",
                db.backend
            );
        }
        assert_eq!(
            scalar(
                &db,
                "SELECT reserved FROM capacity WHERE capacity_id = $1",
                &published.capacity_id
            )
            .await,
            15
        );
        // A round runs once.
        assert!(matches!(
            db.intake
                .run_round(&published.round_id, &book, NOW + 20)
                .await,
            Err(StoreError::Conflict(Conflict::RoundAlreadyRun))
        ));
    }
}

#[tokio::test]
async fn neither_insertion_order_nor_registration_time_changes_who_is_invited() {
    let book = PolicyBook::builtin().unwrap();
    let seed = [42u8; 32];
    let people = crowd(50);
    let mut results = Vec::new();
    for reversed in [false, true] {
        let db = open("sqlite", &support::sqlite_url()).await;
        let mut order = people.clone();
        if reversed {
            order.reverse();
            // Registration times reversed too: the last to register is now the first.
            for (i, p) in order.iter_mut().enumerate() {
                p.created_at = NOW - 5_000_000 + i64::try_from(i).unwrap();
            }
        }
        insert_people(&db, &order).await;
        let published = db.publish("HN-0001", "afternoon", 12).await;
        set_seed(&db, &published.round_id, &seed).await;
        db.intake
            .run_round(&published.round_id, &book, NOW)
            .await
            .unwrap();
        results.push(invited_ids(&db, &published.capacity_id).await);
    }
    assert_eq!(results[0].len(), 12);
    assert_eq!(results[0], results[1]);
    let expected: HashSet<String> = expected_order(&people, &HashMap::new(), &seed)
        .into_iter()
        .take(12)
        .collect();
    assert_eq!(results[0], expected);
}

#[tokio::test]
async fn each_hard_filter_keeps_people_out() {
    let book = PolicyBook::builtin().unwrap();
    for db in databases().await {
        let mut control = person("ok");
        control.group = "others";
        let mut young = person("young");
        young.dob = date!(2004 - 01 - 01);
        let mut postponed = person("postponed");
        postponed.postponed_until = Some(DAY + Duration::days(1));
        let mut postponed_ends = person("postponed-ends");
        postponed_ends.postponed_until = Some(DAY);
        let mut caution = person("caution");
        caution.caution = true;
        let mut elsewhere = person("elsewhere");
        elsewhere.site = "HN-0002";
        let mut already = person("already-invited");
        already.status = "invited";
        let mut cancelled = person("cancelled");
        cancelled.status = "cancelled";
        let mixing = person("other-product");
        let too_soon = person("too-soon");
        let complete = person("complete");
        let live = person("live");
        insert_people(
            &db,
            [
                &control,
                &young,
                &postponed,
                &postponed_ends,
                &caution,
                &elsewhere,
                &already,
                &cancelled,
                &mixing,
                &too_soon,
                &complete,
                &live,
            ],
        )
        .await;
        insert_dose(&db, &mixing.id, ASTRAZENECA, 1, 2, DAY - Duration::days(90)).await;
        insert_dose(&db, &too_soon.id, PFIZER, 1, 2, DAY - Duration::days(20)).await;
        insert_dose(&db, &complete.id, PFIZER, 1, 2, DAY - Duration::days(120)).await;
        insert_dose(&db, &complete.id, PFIZER, 2, 2, DAY - Duration::days(90)).await;
        // Waiting, yet with an open appointment for a first dose elsewhere.
        let other = db.publish("HN-0002", "morning", 5).await;
        sqlx::query(
            "INSERT INTO appointments (appointment_id, registration_id, capacity_id, dose_number, \
             booking_code, status, created_at, updated_at) VALUES ('live-1', $1, $2, 1, 'LIVE01', \
             'confirmed', 0, 0)",
        )
        .bind(&live.id)
        .bind(&other.capacity_id)
        .execute(&db.raw)
        .await
        .unwrap();

        let published = db.publish("HN-0001", "morning", 100).await;
        db.intake
            .run_round(&published.round_id, &book, NOW)
            .await
            .unwrap();
        let invited = invited_ids(&db, &published.capacity_id).await;
        let expected: HashSet<String> = ["ok", "postponed-ends"].map(String::from).into();
        assert_eq!(invited, expected, "{}", db.backend);

        // The caution case goes to the hospital-grade site (where "elsewhere" waits too).
        let hospital = db.publish("HN-0002", "afternoon", 100).await;
        sqlx::query(
            "UPDATE registrations SET preferred_site = 'HN-0002' WHERE registration_id = 'caution'",
        )
        .execute(&db.raw)
        .await
        .unwrap();
        db.intake
            .run_round(&hospital.round_id, &book, NOW)
            .await
            .unwrap();
        let expected: HashSet<String> = ["caution", "elsewhere"].map(String::from).into();
        assert_eq!(invited_ids(&db, &hospital.capacity_id).await, expected);
    }
}

#[tokio::test]
async fn a_due_second_dose_jumps_the_queue() {
    let book = PolicyBook::builtin().unwrap();
    for db in databases().await {
        let mut first = person("health-worker");
        first.group = "health-workers";
        first.province = "79";
        first.dob = date!(1950 - 01 - 01);
        first.created_at = 0;
        let mut second = person("second-dose");
        second.group = "others";
        second.dob = date!(1999 - 01 - 01);
        insert_person(&db, &first).await;
        insert_person(&db, &second).await;
        insert_dose(&db, &second.id, PFIZER, 1, 2, DAY - Duration::days(21)).await;
        let published = db.publish("HN-0001", "morning", 1).await;
        assert_eq!(
            db.intake
                .run_round(&published.round_id, &book, NOW)
                .await
                .unwrap(),
            1
        );
        let list = db
            .intake
            .appointments_for_site("HN-0001", DAY_TEXT)
            .await
            .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].registration_id, "second-dose", "{}", db.backend);
        assert_eq!(list[0].dose_number, 2);
    }
}

/// Asserts the capacity holds no more live appointments than slots, `reserved` counts them, and
/// nobody holds two live appointments.
async fn assert_not_overbooked(db: &Db, capacity_ids: &[&str]) -> usize {
    let mut total = 0;
    for capacity_id in capacity_ids {
        let slots = scalar(
            db,
            "SELECT slots FROM capacity WHERE capacity_id = $1",
            capacity_id,
        )
        .await;
        let reserved = scalar(
            db,
            "SELECT reserved FROM capacity WHERE capacity_id = $1",
            capacity_id,
        )
        .await;
        let live = invited_ids(db, capacity_id).await.len();
        assert!(reserved <= slots, "{}: {reserved} > {slots}", db.backend);
        assert_eq!(usize::try_from(reserved).unwrap(), live, "{}", db.backend);
        total += live;
    }
    let twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT registration_id FROM appointments \
         WHERE status IN ('invited', 'confirmed', 'checked_in') \
         GROUP BY registration_id HAVING COUNT(*) > 1) t",
    )
    .fetch_one(&db.raw)
    .await
    .unwrap();
    assert_eq!(twice, 0, "{}: someone invited twice", db.backend);
    let invited_status: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM registrations WHERE status = 'invited'")
            .fetch_one(&db.raw)
            .await
            .unwrap();
    assert_eq!(
        usize::try_from(invited_status).unwrap(),
        total,
        "{}",
        db.backend
    );
    total
}

#[tokio::test]
async fn concurrent_schedulers_never_overbook() {
    let book = PolicyBook::builtin().unwrap();
    for db in databases().await {
        insert_people(&db, &crowd(80)).await;
        // Two rounds on the same capacity, at once.
        let one = db.publish("HN-0001", "morning", 20).await;
        let two = db.publish("HN-0001", "morning", 20).await;
        assert_eq!(one.capacity_id, two.capacity_id);
        assert_ne!(one.round_id, two.round_id);
        let (a, b) = tokio::join!(
            db.intake.run_round(&one.round_id, &book, NOW),
            db.intake.run_round(&two.round_id, &book, NOW)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a + b, 20, "{}: {a} + {b}", db.backend);
        assert_eq!(assert_not_overbooked(&db, &[&one.capacity_id]).await, 20);

        // The same round twice at once: it runs once.
        let three = db.publish("HN-0001", "morning", 30).await;
        let (a, b) = tokio::join!(
            db.intake.run_round(&three.round_id, &book, NOW),
            db.intake.run_round(&three.round_id, &book, NOW)
        );
        let ran: Vec<u32> = [&a, &b]
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        assert_eq!(ran, [10], "{}: {a:?} {b:?}", db.backend);
        assert!(
            [a, b]
                .iter()
                .any(|r| matches!(r, Err(StoreError::Conflict(Conflict::RoundAlreadyRun))))
        );
        assert_eq!(assert_not_overbooked(&db, &[&one.capacity_id]).await, 30);

        // Two capacities (another session) competing for the same 50 people still waiting.
        let morning = db.publish("HN-0001", "morning", 60).await;
        let afternoon = db.publish("HN-0001", "afternoon", 40).await;
        let (a, b) = tokio::join!(
            db.intake.run_round(&morning.round_id, &book, NOW),
            db.intake.run_round(&afternoon.round_id, &book, NOW)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a + b, 50, "{}: {a} + {b}", db.backend);
        assert_eq!(
            assert_not_overbooked(&db, &[&morning.capacity_id, &afternoon.capacity_id]).await,
            80
        );
    }
}

#[tokio::test]
async fn cancellations_and_no_shows_free_the_slot_and_return_to_waiting() {
    let book = PolicyBook::builtin().unwrap();
    for db in databases().await {
        insert_people(&db, &crowd(3)).await;
        let published = db.publish("HN-0001", "morning", 2).await;
        db.intake
            .run_round(&published.round_id, &book, NOW)
            .await
            .unwrap();
        let list = db
            .intake
            .appointments_for_site("HN-0001", DAY_TEXT)
            .await
            .unwrap();
        assert_eq!(list.len(), 2);
        let (a, b) = (&list[0], &list[1]);
        let reserved = || {
            scalar(
                &db,
                "SELECT reserved FROM capacity WHERE capacity_id = $1",
                &published.capacity_id,
            )
        };
        let status_of = |id: String| {
            let raw = db.raw.clone();
            async move {
                sqlx::query_scalar::<_, String>(
                    "SELECT status FROM registrations WHERE registration_id = $1",
                )
                .bind(id)
                .fetch_one(&raw)
                .await
                .unwrap()
            }
        };

        // Another phone cannot touch it.
        assert!(matches!(
            db.intake
                .confirm_appointment(&a.booking_code, "+84000000000", NOW)
                .await,
            Err(StoreError::NotFound)
        ));
        let confirmed = db
            .intake
            .confirm_appointment(&a.booking_code, &phone_of(&a.registration_id), NOW)
            .await
            .unwrap();
        assert_eq!(confirmed.status, "confirmed");

        db.intake
            .cancel_appointment(&a.booking_code, &phone_of(&a.registration_id), NOW + 1)
            .await
            .unwrap();
        assert_eq!(reserved().await, 1);
        assert_eq!(status_of(a.registration_id.clone()).await, "waiting");
        assert_eq!(
            db.intake
                .appointment_by_code(&a.booking_code)
                .await
                .unwrap()
                .status,
            "cancelled"
        );
        let messages = db
            .intake
            .notifications_to(&phone_of(&a.registration_id))
            .await
            .unwrap();
        assert!(messages.iter().any(|m| m.kind == "cancelled"));
        assert!(matches!(
            db.intake
                .cancel_appointment(&a.booking_code, &phone_of(&a.registration_id), NOW + 2)
                .await,
            Err(StoreError::Conflict(Conflict::AppointmentClosed))
        ));

        // Another site cannot mark it.
        assert!(matches!(
            db.intake
                .mark_no_show(&b.appointment_id, "HN-0002", NOW)
                .await,
            Err(StoreError::NotFound)
        ));
        let marked = db
            .intake
            .mark_no_show(&b.appointment_id, "HN-0001", NOW + 3)
            .await
            .unwrap();
        assert_eq!(marked.status, "no_show");
        assert_eq!(reserved().await, 0);
        assert_eq!(status_of(b.registration_id.clone()).await, "waiting");

        // A new round over the same capacity fills both slots again from the three waiting.
        let again = db.publish("HN-0001", "morning", 2).await;
        assert_eq!(
            db.intake
                .run_round(&again.round_id, &book, NOW)
                .await
                .unwrap(),
            2
        );
        assert_eq!(reserved().await, 2);
        // Re-publishing never lowers slots below what is reserved.
        db.publish("HN-0001", "morning", 1).await;
        assert_eq!(
            scalar(
                &db,
                "SELECT slots FROM capacity WHERE capacity_id = $1",
                &published.capacity_id
            )
            .await,
            2
        );
        // Rescheduling is a cancellation: back to waiting, slot freed.
        let list = db
            .intake
            .appointments_for_site("HN-0001", DAY_TEXT)
            .await
            .unwrap();
        let live = list.iter().find(|x| x.status == "invited").unwrap();
        db.intake
            .reschedule(
                &live.booking_code,
                &phone_of(&live.registration_id),
                NOW + 4,
            )
            .await
            .unwrap();
        assert_eq!(reserved().await, 1);
        assert_eq!(status_of(live.registration_id.clone()).await, "waiting");
    }
}

#[tokio::test]
async fn publication_is_validated() {
    let db = open("sqlite", &support::sqlite_url()).await;
    let cases = [
        (
            "HN-0001",
            DAY_TEXT,
            "morning",
            "J07BX03",
            Conflict::UnknownProduct,
        ),
        (
            "HN-0001",
            DAY_TEXT,
            "evening",
            PFIZER,
            Conflict::UnknownSession,
        ),
        (
            "HN-0001",
            "14/09/2021",
            "morning",
            PFIZER,
            Conflict::InvalidDay,
        ),
    ];
    for (site, day, session, product, conflict) in cases {
        assert!(matches!(
            db.intake.publish_capacity(site, day, session, product, 5, "n", NOW).await,
            Err(StoreError::Conflict(c)) if c == conflict
        ));
    }
    assert!(matches!(
        db.intake
            .publish_capacity("XX-9999", DAY_TEXT, "morning", PFIZER, 5, "n", NOW)
            .await,
        Err(StoreError::NotFound)
    ));
}

// ---- HTTP ----

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        ))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[tokio::test]
async fn site_routes_publish_run_list_and_mark_no_show() {
    let db = open("sqlite", &support::sqlite_url()).await;
    insert_people(&db, &crowd(5)).await;
    let token = db
        .intake
        .create_token(Role::Site, "HN-0001", "nurse", 0)
        .await
        .unwrap();
    let other = db
        .intake
        .create_token(Role::Site, "HN-0002", "nurse", 0)
        .await
        .unwrap();
    let registry = db
        .intake
        .create_token(Role::Registry, "registry", "registry", 0)
        .await
        .unwrap();
    let app = router(IntakeState {
        intake: db.intake.clone(),
        clock: Arc::new(|| time::OffsetDateTime::from_unix_timestamp(NOW).unwrap()),
        sms: Arc::new(NoSms),
        policies: Arc::new(PolicyBook::builtin().unwrap()),
        config: Arc::new(IntakeConfig::default()),
    });
    let capacity =
        serde_json::json!({"day": DAY_TEXT, "session": "morning", "product": PFIZER, "slots": 3});

    assert_eq!(
        call(
            &app,
            "POST",
            "/site/v1/capacity",
            None,
            Some(capacity.clone())
        )
        .await
        .0,
        401
    );
    assert_eq!(
        call(
            &app,
            "POST",
            "/site/v1/capacity",
            Some(&registry),
            Some(capacity.clone())
        )
        .await
        .0,
        403
    );
    let (status, body) = call(
        &app,
        "POST",
        "/site/v1/capacity",
        Some(&token),
        Some(serde_json::json!({"day": DAY_TEXT, "session": "morning", "product": "nope", "slots": 3})),
    )
    .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("product")));

    let (status, published) = call(
        &app,
        "POST",
        "/site/v1/capacity",
        Some(&token),
        Some(capacity),
    )
    .await;
    assert_eq!(status, 201);
    let round_id = published["round_id"].as_str().unwrap().to_owned();
    let seed_hash = published["seed_hash"].as_str().unwrap().to_owned();

    let (status, view) = call(
        &app,
        "GET",
        &format!("/intake/v1/rounds/{round_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(view["seed_hash"], seed_hash.as_str());
    assert!(view["seed"].is_null());

    let run = format!("/site/v1/rounds/{round_id}/run");
    // Another site's round is not shown to exist.
    assert_eq!(call(&app, "POST", &run, Some(&other), None).await.0, 404);
    let (status, ran) = call(&app, "POST", &run, Some(&token), None).await;
    assert_eq!((status, ran["invited"].as_u64()), (200, Some(3)));
    assert_eq!(call(&app, "POST", &run, Some(&token), None).await.0, 409);

    let (_, view) = call(
        &app,
        "GET",
        &format!("/intake/v1/rounds/{round_id}"),
        None,
        None,
    )
    .await;
    let seed = hex::decode(view["seed"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&seed)), seed_hash);
    assert_eq!(view["invited"], 3);

    let (status, list) = call(
        &app,
        "GET",
        &format!("/site/v1/appointments?day={DAY_TEXT}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let items = list["appointments"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(
        items[0]["full_name"]
            .as_str()
            .unwrap()
            .starts_with("Nguyen Van")
    );
    let (_, theirs) = call(
        &app,
        "GET",
        &format!("/site/v1/appointments?day={DAY_TEXT}"),
        Some(&other),
        None,
    )
    .await;
    assert_eq!(theirs["appointments"].as_array().unwrap().len(), 0);
    assert_eq!(
        call(
            &app,
            "GET",
            "/site/v1/appointments?day=tomorrow",
            Some(&token),
            None
        )
        .await
        .0,
        422
    );

    let id = items[0]["appointment_id"].as_str().unwrap();
    let no_show = format!("/site/v1/appointments/{id}/no-show");
    assert_eq!(
        call(&app, "POST", &no_show, Some(&other), None).await.0,
        404
    );
    let (status, marked) = call(&app, "POST", &no_show, Some(&token), None).await;
    assert_eq!((status, marked["status"].as_str()), (200, Some("no_show")));
    assert_eq!(
        call(&app, "POST", &no_show, Some(&token), None).await.0,
        409
    );
    assert_eq!(
        call(&app, "GET", "/intake/v1/rounds/nope", None, None)
            .await
            .0,
        404
    );
}
