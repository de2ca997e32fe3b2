//! The site workflow end to end, through the router: check-in, screening and each outcome's effects, the
//! dose, the attestation, the registry's confirmation and the issuer outbox's exact body; then the
//! outbox worker against a stub issuer on 127.0.0.1:0 (503s, then 201, a 200 replay, a 422).
//!
//! Every test runs on SQLite, and also on PostgreSQL (a schema of its own) when `DATABASE_URL` is set.
//! Sites, registrations, capacity and appointments are written by SQL: their own APIs live elsewhere.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::IntoResponse;
use http_body_util::BodyExt as _;
use intake::api::{IntakeConfig, IntakeState, MAX_JSON_BYTES, router};
use intake::confirmation::DoseRecord;
use intake::delivery::{DeliveryPass, IssuerClient, deliver_due};
use intake::policy::PolicyBook;
use intake::store::{Intake, Role};
use serde_json::{Value, json};
use sqlx::{Any, AnyPool, Row as _};
use time::OffsetDateTime;
use tower::ServiceExt as _;

mod support;

use support::{NoSms, random_hex};

// ---------------------------------------------------------------------------------------------------
// The world: an intake database, a second pool for fixtures, the router with a stepped clock, tokens.

/// 2021-09-14 09:00 in Ha Noi.
const T0: i64 = 1_631_584_800;
const DAY: &str = "2021-09-14";
const PFIZER: &str = "EU/1/20/1528";

struct World {
    intake: Intake,
    db: AnyPool,
    app: Router,
    now: Arc<AtomicI64>,
    /// A staff token of HN-0001 (not hospital-grade).
    site: String,
    /// A staff token of HN-0002 (hospital-grade).
    hospital: String,
    /// A staff token of HCM-0001.
    other_site: String,
    registry: String,
}

impl World {
    async fn new(url: &str) -> World {
        let intake = support::open_intake(url).await;
        let db = support::raw_pool(url).await;
        let now = Arc::new(AtomicI64::new(T0));
        let clock_now = Arc::clone(&now);
        let state = IntakeState {
            intake: intake.clone(),
            clock: Arc::new(move || {
                OffsetDateTime::from_unix_timestamp(clock_now.load(Ordering::SeqCst)).unwrap()
            }),
            sms: Arc::new(NoSms),
            policies: Arc::new(PolicyBook::builtin().unwrap()),
            config: Arc::new(IntakeConfig::default()),
        };
        let world = World {
            app: router(state),
            site: intake
                .create_token(Role::Site, "HN-0001", "nurse-lan", T0)
                .await
                .unwrap(),
            hospital: intake
                .create_token(Role::Site, "HN-0002", "doctor-minh", T0)
                .await
                .unwrap(),
            other_site: intake
                .create_token(Role::Site, "HCM-0001", "nurse-hoa", T0)
                .await
                .unwrap(),
            registry: intake
                .create_token(Role::Registry, "registry", "registry-bot", T0)
                .await
                .unwrap(),
            intake,
            db,
            now,
        };
        for (code, hospital) in [("HN-0001", 0i64), ("HN-0002", 1), ("HCM-0001", 0)] {
            sqlx::query(
                "INSERT INTO sites (site_code, name, province_code, hospital_grade, created_at) \
                 VALUES ($1, $2, '01', $3, $4)",
            )
            .bind(code)
            .bind(format!("Site {code}"))
            .bind(hospital)
            .bind(T0)
            .execute(&world.db)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO capacity (capacity_id, site_code, day, session, product, slots, reserved, \
                 published_by, published_at) VALUES ($1, $2, $3, 'morning', $4, 10, 0, 'planner', $5)",
            )
            .bind(format!("cap-{code}"))
            .bind(code)
            .bind(DAY)
            .bind(PFIZER)
            .bind(T0)
            .execute(&world.db)
            .await
            .unwrap();
        }
        world
    }

    fn set_now(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// A waiting registration of `full_name` preferring `site`; its id.
    async fn registration(&self, full_name: &str, id_number: &str, site: &str) -> String {
        let id = random_hex(16);
        sqlx::query(
            "INSERT INTO registrations (registration_id, campaign, phone, full_name, dob, sex, id_kind, \
             id_number, occupation, province_code, commune_code, admin_scheme, declared_group, \
             priority_group, policy_id, policy_version, preferred_site, medical_history, caution, \
             status, created_at) \
             VALUES ($1, 'covid-19', $2, $3, '1983-10-10', 'male', 'citizen_id', $4, 'engineer', '01', \
             '00001', '2021', 'others', 'others', 'qd-3355-byt', 1, $5, '{}', 0, 'invited', $6)",
        )
        .bind(&id)
        .bind(phone_of(id_number))
        .bind(full_name)
        .bind(id_number)
        .bind(site)
        .bind(T0)
        .execute(&self.db)
        .await
        .unwrap();
        id
    }

    /// An invited appointment of `registration` for dose `dose_number` at `site`; its id. Reserves a
    /// slot.
    async fn appointment(&self, registration: &str, site: &str, dose_number: i64) -> String {
        let id = random_hex(16);
        sqlx::query(
            "INSERT INTO appointments (appointment_id, registration_id, capacity_id, dose_number, \
             booking_code, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'invited', $6, $6)",
        )
        .bind(&id)
        .bind(registration)
        .bind(format!("cap-{site}"))
        .bind(dose_number)
        .bind(random_hex(4).to_uppercase())
        .bind(T0)
        .execute(&self.db)
        .await
        .unwrap();
        sqlx::query("UPDATE capacity SET reserved = reserved + 1 WHERE capacity_id = $1")
            .bind(format!("cap-{site}"))
            .execute(&self.db)
            .await
            .unwrap();
        id
    }

    /// A waiting registration of `full_name` preferring `site`, invited there for dose 1: the
    /// registration's and the appointment's ids.
    async fn invited(&self, full_name: &str, id_number: &str, site: &str) -> (String, String) {
        let registration = self.registration(full_name, id_number, site).await;
        let appointment = self.appointment(&registration, site, 1).await;
        (registration, appointment)
    }

    /// Checks `appointment` in, as `token`.
    async fn check_in(&self, appointment: &str, token: &str) -> (StatusCode, Value) {
        let path = format!("/site/v1/appointments/{appointment}/check-in");
        self.call(&path, token, None).await
    }

    /// Screens `appointment` with `body`, as `token`.
    async fn screen(&self, appointment: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let path = format!("/site/v1/appointments/{appointment}/screening");
        self.call(&path, token, Some(body)).await
    }

    /// Records the dose `body` for `appointment`, as `token`.
    async fn dose(&self, appointment: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let path = format!("/site/v1/appointments/{appointment}/dose");
        self.call(&path, token, Some(body)).await
    }

    async fn call(&self, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|body| body.to_string().into_bytes());
        self.post_raw(
            path,
            token,
            Some("application/json"),
            body.unwrap_or_default(),
        )
        .await
    }

    /// POSTs `body` to `path` as `token`, with `content_type` if any: the status and the JSON answer.
    async fn post_raw(
        &self,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = Request::post(path).header("authorization", format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Body::from(body)).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    /// The one value `sql` (with `$1` bound to `id`) selects.
    async fn scalar<T>(&self, sql: &str, id: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + Send + Unpin,
    {
        sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    async fn text(&self, sql: &str, id: &str) -> Option<String> {
        self.scalar(sql, id).await
    }

    async fn number(&self, sql: &str, id: &str) -> i64 {
        self.scalar(sql, id).await
    }

    async fn appointment_status(&self, id: &str) -> String {
        self.text(
            "SELECT status FROM appointments WHERE appointment_id = $1",
            id,
        )
        .await
        .unwrap()
    }

    async fn registration_status(&self, id: &str) -> String {
        self.text(
            "SELECT status FROM registrations WHERE registration_id = $1",
            id,
        )
        .await
        .unwrap()
    }

    async fn reserved(&self, site: &str) -> i64 {
        self.number(
            "SELECT reserved FROM capacity WHERE capacity_id = $1",
            &format!("cap-{site}"),
        )
        .await
    }

    /// The kinds of the messages to `id_number`'s phone, sorted (messages of one transaction share a
    /// time, so their stored order is arbitrary).
    async fn message_kinds(&self, id_number: &str) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .intake
            .notifications_to(&phone_of(id_number))
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.kind)
            .collect();
        kinds.sort();
        kinds
    }

    /// Checks in, screens eligible, records dose 1 of 2, attests and confirms: the dose event id.
    async fn confirmed_dose(&self, full_name: &str, id_number: &str) -> String {
        let (_, appointment) = self.invited(full_name, id_number, "HN-0001").await;
        assert_eq!(
            self.check_in(&appointment, &self.site).await.0,
            StatusCode::OK
        );
        let (status, _) = self.screen(&appointment, &self.site, eligible()).await;
        assert_eq!(status, StatusCode::OK);
        let (status, dose) = self.dose(&appointment, &self.site, dose_body(1)).await;
        assert_eq!(status, StatusCode::CREATED, "{dose}");
        let id = dose["dose_event_id"].as_str().unwrap().to_owned();
        let (status, _) = self
            .call(
                &format!("/site/v1/doses/{id}/attestation"),
                &self.site,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = self
            .call(
                &format!("/registry/v1/doses/{id}/confirmation"),
                &self.registry,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        id
    }
}

fn phone_of(id_number: &str) -> String {
    format!("+849{}", id_number.get(id_number.len() - 8..).unwrap())
}

fn screening(answers: Value, vitals: Value) -> Value {
    let mut all = json!({
        "severe_allergy_history": false, "reaction_previous_dose": false, "acute_illness": false,
        "immunodeficiency": false, "pregnancy": false, "covid_last_6_months": false,
        "bleeding_disorder": false, "uncontrolled_chronic_disease": false, "other": false
    });
    for (key, value) in answers.as_object().unwrap() {
        all[key] = value.clone();
    }
    let mut signs =
        json!({"temperature_c": 36.6, "pulse": 76, "systolic": 118, "diastolic": 76, "spo2": 98});
    for (key, value) in vitals.as_object().unwrap() {
        signs[key] = value.clone();
    }
    json!({"answers": all, "vitals": signs})
}

fn eligible() -> Value {
    screening(json!({}), json!({}))
}

fn dose_body(dose_number: u8) -> Value {
    json!({"lot_number": "FF2587", "vaccinated_on": DAY, "dose_number": dose_number, "total_doses": 2})
}

// ---------------------------------------------------------------------------------------------------
// The workflow through the router.

#[tokio::test]
async fn a_dose_goes_from_check_in_to_the_issuer_outbox_once() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let (registration, appointment) =
            w.invited("Nguyễn Bảo Duy", "001083012345", "HN-0001").await;

        // Another site's staff see nothing of it; a registry token is not a site's.
        let (status, _) = w.check_in(&appointment, &w.other_site).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = w.check_in(&appointment, &w.registry).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = w.check_in(&appointment, "nonsense").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // Not checked in: no screening, no dose.
        let (status, _) = w.screen(&appointment, &w.site, eligible()).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let (status, body) = w.check_in(&appointment, &w.site).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "checked_in");
        assert_eq!(w.appointment_status(&appointment).await, "checked_in");

        // Checked in but not screened: no dose.
        let (status, _) = w.dose(&appointment, &w.site, dose_body(1)).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let (status, body) = w.screen(&appointment, &w.site, eligible()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["outcome"], "eligible");
        assert_eq!(body["reasons"], json!([]));

        // A dose of the future, a wrong dose number and a nonsense lot are refused.
        let mut future = dose_body(1);
        future["vaccinated_on"] = json!("2021-09-15");
        let (status, body) = w.dose(&appointment, &w.site, future).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "vaccinated_on");
        let mut bad_lot = dose_body(1);
        bad_lot["lot_number"] = json!("<script>");
        let (status, body) = w.dose(&appointment, &w.site, bad_lot).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "lot_number");
        let (status, _) = w.dose(&appointment, &w.site, dose_body(2)).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let (status, dose) = w.dose(&appointment, &w.site, dose_body(1)).await;
        assert_eq!(status, StatusCode::CREATED, "{dose}");
        let id = dose["dose_event_id"].as_str().unwrap().to_owned();
        let record_hash = dose["record_hash"].as_str().unwrap().to_owned();
        // A UUIDv7 whose time is now.
        assert_eq!(id.len(), 36);
        assert_eq!(id.get(14..15), Some("7"));
        let ms = u64::from_str_radix(&id.get(0..13).unwrap().replace('-', ""), 16).unwrap();
        assert_eq!(ms, u64::try_from(T0).unwrap() * 1000);
        // The hash seals the record as stored.
        let stored = w.intake.dose(&id).await.unwrap();
        assert_eq!(stored.record_hash, record_hash);
        assert_eq!(
            DoseRecord {
                dose_event_id: id.clone(),
                registration_id: registration.clone(),
                site_code: "HN-0001".into(),
                product: PFIZER.into(),
                manufacturer: "ORG-100030215".into(),
                prophylaxis: "1119349007".into(),
                lot_number: "FF2587".into(),
                dose_number: 1,
                total_doses: 2,
                vaccinated_on: DAY.into(),
            }
            .record_hash(),
            record_hash
        );
        assert_eq!(w.appointment_status(&appointment).await, "vaccinated");
        assert_eq!(w.registration_status(&registration).await, "waiting");
        assert_eq!(w.reserved("HN-0001").await, 1, "a dose keeps its slot");
        assert_eq!(
            w.message_kinds("001083012345").await,
            ["dose_recorded", "next_dose_due"]
        );
        let due = w
            .intake
            .notifications_to(&phone_of("001083012345"))
            .await
            .unwrap();
        let next = due.iter().find(|m| m.kind == "next_dose_due").unwrap();
        assert!(next.text.contains("2021-10-05"), "Pfizer: 21 days later");
        assert_eq!(due.len(), 2);

        // Twice: the same appointment, then another appointment for the same dose: 409, one row.
        let (status, _) = w.dose(&appointment, &w.site, dose_body(1)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let again = w.appointment(&registration, "HN-0001", 1).await;
        w.check_in(&again, &w.site).await;
        w.screen(&again, &w.site, eligible()).await;
        let (status, _) = w.dose(&again, &w.site, dose_body(1)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            w.number(
                "SELECT COUNT(*) FROM doses WHERE registration_id = $1",
                &registration
            )
            .await,
            1
        );
        assert_eq!(w.appointment_status(&again).await, "checked_in");
        assert_eq!(w.message_kinds("001083012345").await.len(), 2);

        // The registry confirms only attested doses.
        let confirm = format!("/registry/v1/doses/{id}/confirmation");
        let (status, _) = w.call(&confirm, &w.registry, None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = w.call(&confirm, &w.site, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let attest = format!("/site/v1/doses/{id}/attestation");
        let (status, _) = w.call(&attest, &w.other_site, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        w.set_now(T0 + 600);
        let (status, body) = w.call(&attest, &w.site, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["attested_by"], "nurse-lan");
        let (status, _) = w.call(&attest, &w.site, None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let stored = w.intake.dose(&id).await.unwrap();
        assert_eq!(stored.attested_by.as_deref(), Some("nurse-lan"));
        assert_eq!(stored.attested_at, Some(T0 + 600));

        w.set_now(T0 + 1200);
        let (status, body) = w.call(&confirm, &w.registry, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let record_id = body["registry_record_id"].as_str().unwrap().to_owned();
        assert!(record_id.starts_with("R-2021-"), "{record_id}");
        let (status, _) = w.call(&confirm, &w.registry, None).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(w.intake.confirm_all_attested(T0 + 1300).await.unwrap(), 0);
        assert_eq!(
            w.number(
                "SELECT COUNT(*) FROM issuer_outbox WHERE dose_event_id = $1",
                &id
            )
            .await,
            1
        );

        let entry = w.intake.outbox_entry(&id).await.unwrap();
        assert_eq!(entry.attempts, 0);
        assert_eq!(entry.next_attempt_at, T0 + 1200);
        let expected = format!(
            concat!(
                r#"{{"dose_event_id":"{id}","supersedes_dose_event_id":null,"#,
                r#""person":{{"fn":"Nguyễn","gn":"Bảo Duy","dob":"1983-10-10","id_number":"001083012345","phone":"+84983012345"}},"#,
                r#""vaccination":{{"tg":"840539006","vp":"1119349007","mp":"EU/1/20/1528","ma":"ORG-100030215","dn":1,"sd":2,"dt":"2021-09-14","co":"VN","lot_number":"FF2587"}},"#,
                r#""provenance":{{"site_code":"HN-0001","registry_record_id":"{record_id}","record_hash":"{hash}"}}}}"#
            ),
            id = id,
            record_id = record_id,
            hash = record_hash
        );
        assert_eq!(entry.body, expected);
        assert!(!format!("{entry:?}").contains("Nguy"));
        w.intake.close().await;
    }
}

#[tokio::test]
async fn the_automatic_confirmer_confirms_each_attested_dose_once() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let (_, appointment) = w.invited("Trần Thị Mai", "001190000001", "HN-0001").await;
        w.check_in(&appointment, &w.site).await;
        w.screen(&appointment, &w.site, eligible()).await;
        let (_, dose) = w.dose(&appointment, &w.site, dose_body(1)).await;
        let id = dose["dose_event_id"].as_str().unwrap().to_owned();
        assert_eq!(w.intake.confirm_all_attested(T0).await.unwrap(), 0);
        w.call(&format!("/site/v1/doses/{id}/attestation"), &w.site, None)
            .await;
        assert_eq!(w.intake.confirm_all_attested(T0 + 60).await.unwrap(), 1);
        assert_eq!(w.intake.confirm_all_attested(T0 + 120).await.unwrap(), 0);
        assert_eq!(
            w.intake.dose(&id).await.unwrap().confirmed_at,
            Some(T0 + 60)
        );
        assert_eq!(
            w.number(
                "SELECT COUNT(*) FROM issuer_outbox WHERE dose_event_id = $1",
                &id
            )
            .await,
            1
        );
        w.intake.close().await;
    }
}

#[tokio::test]
async fn each_screening_outcome_has_its_effects() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let screen = |site: String, appointment: String, body: Value| {
            let w = &w;
            async move {
                let (status, _) = w.check_in(&appointment, &site).await;
                assert_eq!(status, StatusCode::OK);
                w.screen(&appointment, &site, body).await
            }
        };

        // Nonsense vital signs: 422 naming the field, nothing recorded.
        let (_, a) = w.invited("Lê Văn A", "001090000001", "HN-0001").await;
        let (status, body) = screen(
            w.site.clone(),
            a.clone(),
            screening(json!({}), json!({"pulse": 900})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "vitals.pulse");
        assert_eq!(
            w.number(
                "SELECT COUNT(*) FROM screenings WHERE appointment_id = $1",
                &a
            )
            .await,
            0
        );
        assert_eq!(w.appointment_status(&a).await, "checked_in");

        // Caution at an ordinary site: refused here, back to waiting for a hospital, slot released.
        let reserved = w.reserved("HN-0001").await;
        let (r, a) = w.invited("Lê Văn B", "001090000002", "HN-0001").await;
        let (status, body) = screen(
            w.site.clone(),
            a.clone(),
            screening(json!({"bleeding_disorder": true}), json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["outcome"], "caution");
        assert_eq!(body["reasons"], json!(["bleeding_disorder"]));
        assert_eq!(body["appointment_status"], "refused");
        assert_eq!(w.appointment_status(&a).await, "refused");
        assert_eq!(w.registration_status(&r).await, "waiting");
        assert_eq!(
            w.number(
                "SELECT caution FROM registrations WHERE registration_id = $1",
                &r
            )
            .await,
            1
        );
        assert_eq!(w.reserved("HN-0001").await, reserved);
        assert_eq!(w.message_kinds("001090000002").await, ["cancelled"]);

        // Caution at a hospital-grade site: dose today.
        let (r, a) = w.invited("Lê Văn C", "001090000003", "HN-0002").await;
        let (status, body) = screen(
            w.hospital.clone(),
            a.clone(),
            screening(json!({"pregnancy": true}), json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["outcome"], "caution");
        assert_eq!(body["appointment_status"], "checked_in");
        let (status, _) = w.dose(&a, &w.hospital, dose_body(1)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(
            w.number(
                "SELECT caution FROM registrations WHERE registration_id = $1",
                &r
            )
            .await,
            0
        );

        // Fever: postponed a week, waiting again, slot released, told when.
        let reserved = w.reserved("HN-0001").await;
        let (r, a) = w.invited("Lê Văn D", "001090000004", "HN-0001").await;
        let (status, body) = screen(
            w.site.clone(),
            a.clone(),
            screening(json!({}), json!({"temperature_c": 38.1})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["outcome"], "postpone");
        assert_eq!(body["postpone_days"], 7);
        assert_eq!(body["postponed_until"], "2021-09-21");
        assert_eq!(w.appointment_status(&a).await, "postponed");
        assert_eq!(w.registration_status(&r).await, "waiting");
        assert_eq!(
            w.text(
                "SELECT postponed_until FROM registrations WHERE registration_id = $1",
                &r
            )
            .await
            .as_deref(),
            Some("2021-09-21")
        );
        assert_eq!(w.reserved("HN-0001").await, reserved);
        assert_eq!(w.message_kinds("001090000004").await, ["postponed"]);
        let (status, _) = w.dose(&a, &w.site, dose_body(1)).await;
        assert_eq!(status, StatusCode::CONFLICT, "no dose after a postponement");

        // COVID-19 in the last 6 months: 90 days.
        let (_, a) = w.invited("Lê Văn E", "001090000005", "HN-0001").await;
        let (_, body) = screen(
            w.site.clone(),
            a,
            screening(json!({"covid_last_6_months": true}), json!({})),
        )
        .await;
        assert_eq!(body["postponed_until"], "2021-12-13");

        // Contraindicated: refused for good, slot released.
        let reserved = w.reserved("HN-0001").await;
        let (r, a) = w.invited("Lê Văn F", "001090000006", "HN-0001").await;
        let (_, body) = screen(
            w.site.clone(),
            a.clone(),
            screening(json!({"reaction_previous_dose": true}), json!({})),
        )
        .await;
        assert_eq!(body["outcome"], "contraindicated");
        assert_eq!(w.appointment_status(&a).await, "refused");
        assert_eq!(w.registration_status(&r).await, "refused");
        assert_eq!(w.reserved("HN-0001").await, reserved);
        let outcome = w
            .text(
                "SELECT outcome FROM screenings WHERE appointment_id = $1",
                &a,
            )
            .await;
        assert_eq!(outcome.as_deref(), Some("contraindicated"));

        // A cancelled appointment cannot be checked in.
        let (_, a) = w.invited("Lê Văn G", "001090000007", "HN-0001").await;
        sqlx::query("UPDATE appointments SET status = 'cancelled' WHERE appointment_id = $1")
            .bind(&a)
            .execute(&w.db)
            .await
            .unwrap();
        let (status, _) = w.check_in(&a, &w.site).await;
        assert_eq!(status, StatusCode::CONFLICT);
        w.intake.close().await;
    }
}

#[tokio::test]
async fn a_site_reclassifies_and_the_declared_group_stays() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let r = w
            .registration("Phạm Thu H", "001090000011", "HN-0001")
            .await;
        let path = format!("/site/v1/registrations/{r}/classification");
        let (status, body) = w
            .call(
                &path,
                &w.site,
                Some(json!({"priority_group": "teachers-public-facing", "reason": "school staff card"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["from_group"], "others");
        assert_eq!(body["to_group"], "teachers-public-facing");
        assert_eq!(
            w.text(
                "SELECT priority_group FROM registrations WHERE registration_id = $1",
                &r
            )
            .await
            .as_deref(),
            Some("teachers-public-facing")
        );
        assert_eq!(
            w.text(
                "SELECT declared_group FROM registrations WHERE registration_id = $1",
                &r
            )
            .await
            .as_deref(),
            Some("others")
        );
        let row = sqlx::query(
            "SELECT from_group, to_group, staff, site_code FROM reclassifications WHERE registration_id = $1",
        )
        .bind(&r)
        .fetch_one(&w.db)
        .await
        .unwrap();
        assert_eq!(row.try_get::<String, _>(0).unwrap(), "others");
        assert_eq!(
            row.try_get::<String, _>(1).unwrap(),
            "teachers-public-facing"
        );
        assert_eq!(row.try_get::<String, _>(2).unwrap(), "nurse-lan");
        assert_eq!(row.try_get::<String, _>(3).unwrap(), "HN-0001");

        let (status, body) = w
            .call(
                &path,
                &w.site,
                Some(json!({"priority_group": "astronauts", "reason": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "priority_group");
        let (status, _) = w
            .call(
                &path,
                &w.other_site,
                Some(json!({"priority_group": "army", "reason": "x"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            w.number(
                "SELECT COUNT(*) FROM reclassifications WHERE registration_id = $1",
                &r
            )
            .await,
            1
        );
        w.intake.close().await;
    }
}

// ---------------------------------------------------------------------------------------------------
// The outbox worker against a stub issuer.

#[derive(Default)]
struct Stub {
    /// Answer 503 to this many calls first.
    unavailable_for: usize,
    /// Answer 422 naming `vaccination.mp` to everything.
    refuse: bool,
    /// (Idempotency-Key, body) of every call.
    calls: Vec<(String, String)>,
    /// Certificates issued, by key.
    issued: HashMap<String, Value>,
}

type Shared = Arc<Mutex<Stub>>;

async fn stub_confirm(
    axum::extract::State(stub): axum::extract::State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let authorised =
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer issuer-token");
    let mut stub = stub.lock().unwrap();
    stub.calls
        .push((key.clone(), String::from_utf8(body.to_vec()).unwrap()));
    if !authorised {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "unauthenticated"})),
        )
            .into_response();
    }
    if stub.calls.len() <= stub.unavailable_for {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "ledger_unavailable"})),
        )
            .into_response();
    }
    if stub.refuse {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"error": "invalid_field", "field": "vaccination.mp", "message": "not in the value set"})),
        )
            .into_response();
    }
    if let Some(certificate) = stub.issued.get(&key) {
        return (StatusCode::OK, axum::Json(certificate.clone())).into_response();
    }
    let certificate = json!({
        "uvci": format!("URN:UVCI:01:VN:{}", random_hex(16).to_uppercase()),
        "hc1": "HC1:stub",
        "exp": T0 + 365 * 86_400,
    });
    stub.issued.insert(key, certificate.clone());
    (StatusCode::CREATED, axum::Json(certificate)).into_response()
}

/// A stub issuer on 127.0.0.1:0: its base URL and its state.
async fn stub_issuer(stub: Stub) -> (String, Shared) {
    let shared = Arc::new(Mutex::new(stub));
    let app = Router::new()
        .route(
            "/internal/v1/dose-confirmations",
            axum::routing::post(stub_confirm),
        )
        .with_state(Arc::clone(&shared));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), shared)
}

const PORTAL: &str = "https://tiemchung.example/citizen/";

fn calls(stub: &Shared) -> Vec<(String, String)> {
    stub.lock().unwrap().calls.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_backs_off_while_the_issuer_is_down_then_records_the_certificate_once() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let id = w.confirmed_dose("Nguyễn Bảo Duy", "001083012345").await;
        let body = w.intake.outbox_entry(&id).await.unwrap().body;
        let (base, stub) = stub_issuer(Stub {
            unavailable_for: 3,
            ..Stub::default()
        })
        .await;
        let client = IssuerClient::new(&base, "issuer-token");

        // Three 503s: 1 s, 2 s, then 4 s (+ up to 25 % jitter) before the next attempt.
        let mut now = T0;
        for (attempt, (low, high)) in [(1, 1), (2, 2), (4, 5)].into_iter().enumerate() {
            let pass = deliver_due(&w.intake, &client, PORTAL, now).await.unwrap();
            assert_eq!(
                pass,
                DeliveryPass {
                    delivered: 0,
                    failed: 0,
                    retried: 1
                }
            );
            let entry = w.intake.outbox_entry(&id).await.unwrap();
            assert_eq!(entry.attempts, i64::try_from(attempt).unwrap() + 1);
            assert_eq!(entry.last_error.as_deref(), Some("status 503"));
            let wait = entry.next_attempt_at - now;
            assert!((low..=high).contains(&wait), "attempt {attempt}: {wait}");
            // Not due yet: no call.
            let before = calls(&stub).len();
            let pass = deliver_due(&w.intake, &client, PORTAL, entry.next_attempt_at - 1)
                .await
                .unwrap();
            assert_eq!(pass, DeliveryPass::default());
            assert_eq!(calls(&stub).len(), before);
            now = entry.next_attempt_at;
        }

        // The issuer is back and issues, but our commit is lost (an attempt whose answer never got
        // recorded): the next attempt gets the same certificate as a 200 replay.
        let lost = {
            let client = client.clone();
            let (id, body) = (id.clone(), body.clone());
            tokio::task::spawn_blocking(move || client.post(&id, &body))
                .await
                .unwrap()
        };
        assert!(matches!(lost, intake::delivery::Answer::Issued { .. }));
        let pass = deliver_due(&w.intake, &client, PORTAL, now).await.unwrap();
        assert_eq!(
            pass,
            DeliveryPass {
                delivered: 1,
                failed: 0,
                retried: 0
            }
        );
        let issued = stub.lock().unwrap().issued.get(&id).cloned().unwrap();
        let dose = w.intake.dose(&id).await.unwrap();
        assert_eq!(dose.uvci.as_deref(), issued["uvci"].as_str());
        assert_eq!(dose.certificate_exp, issued["exp"].as_i64());
        let entry = w.intake.outbox_entry(&id).await.unwrap();
        assert_eq!(entry.delivered_at, Some(now));
        assert_eq!(entry.attempts, 4);

        // Every call carried the same key and the stored body, byte for byte.
        let all = calls(&stub);
        assert_eq!(all.len(), 5);
        assert!(all.iter().all(|(key, sent)| key == &id && sent == &body));

        // Nothing more to do, and nothing doubled.
        let pass = deliver_due(&w.intake, &client, PORTAL, now + 3600)
            .await
            .unwrap();
        assert_eq!(pass, DeliveryPass::default());
        assert_eq!(calls(&stub).len(), 5);
        let kinds = w.message_kinds("001083012345").await;
        assert_eq!(
            kinds
                .iter()
                .filter(|kind| *kind == "certificate_available")
                .count(),
            1
        );
        let texts = w
            .intake
            .notifications_to(&phone_of("001083012345"))
            .await
            .unwrap();
        let available = texts
            .iter()
            .find(|m| m.kind == "certificate_available")
            .unwrap();
        assert!(available.text.contains(PORTAL));
        assert!(!available.text.contains("URN:UVCI"));
        assert!(
            !w.intake
                .record_delivery(&id, "URN:UVCI:01:VN:OTHER", 1, PORTAL, now)
                .await
                .unwrap(),
            "a delivered row is delivered once"
        );
        assert_eq!(
            w.intake.dose(&id).await.unwrap().uvci.as_deref(),
            issued["uvci"].as_str()
        );
        w.intake.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_marks_the_row_failed_and_stops_retrying() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let id = w.confirmed_dose("Hoàng Minh K", "001083099999").await;
        let (base, stub) = stub_issuer(Stub {
            refuse: true,
            ..Stub::default()
        })
        .await;
        let client = IssuerClient::new(&base, "issuer-token");
        let pass = deliver_due(&w.intake, &client, PORTAL, T0).await.unwrap();
        assert_eq!(
            pass,
            DeliveryPass {
                delivered: 0,
                failed: 1,
                retried: 0
            }
        );
        let entry = w.intake.outbox_entry(&id).await.unwrap();
        assert_eq!(
            entry.failed.as_deref(),
            Some("status 422: invalid_field, field vaccination.mp")
        );
        assert_eq!(entry.delivered_at, None);
        let pass = deliver_due(&w.intake, &client, PORTAL, T0 + 86_400)
            .await
            .unwrap();
        assert_eq!(pass, DeliveryPass::default());
        assert_eq!(calls(&stub).len(), 1);
        assert_eq!(w.intake.dose(&id).await.unwrap().uvci, None);

        // A wrong token is refused for good too (401), and a closed port is retried.
        let other = w.confirmed_dose("Hoàng Minh L", "001083088888").await;
        let wrong = IssuerClient::new(&base, "wrong-token");
        let pass = deliver_due(&w.intake, &wrong, PORTAL, T0).await.unwrap();
        assert_eq!(pass.failed, 1);
        assert_eq!(
            w.intake
                .outbox_entry(&other)
                .await
                .unwrap()
                .failed
                .as_deref(),
            Some("status 401: unauthenticated")
        );
        let third = w.confirmed_dose("Hoàng Minh M", "001083077777").await;
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            drop(listener);
            IssuerClient::new(&format!("http://{address}"), "issuer-token")
        };
        let pass = deliver_due(&w.intake, &closed, PORTAL, T0).await.unwrap();
        assert_eq!(pass.retried, 1);
        let entry = w.intake.outbox_entry(&third).await.unwrap();
        assert_eq!(entry.failed, None);
        assert_eq!(entry.attempts, 1);
        assert!(entry.last_error.unwrap().starts_with("no answer"));
        w.intake.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dose_requests_at_once_record_one_dose() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let (registration, appointment) = w.invited("Đặng Văn Q", "001083055555", "HN-0001").await;
        let base = format!("/site/v1/appointments/{appointment}");
        w.check_in(&appointment, &w.site).await;
        w.screen(&appointment, &w.site, eligible()).await;
        let path = format!("{base}/dose");
        let (first, second) = tokio::join!(
            w.call(&path, &w.site, Some(dose_body(1))),
            w.call(&path, &w.site, Some(dose_body(1)))
        );
        let mut statuses = [first.0, second.0];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
        assert_eq!(
            w.number(
                "SELECT COUNT(*) FROM doses WHERE registration_id = $1",
                &registration
            )
            .await,
            1
        );
        assert_eq!(
            w.message_kinds("001083055555").await,
            ["dose_recorded", "next_dose_due"]
        );
        w.intake.close().await;
    }
}

/// A site registers its lots; a dose draws from the lot it names, and an expired, empty or
/// other-product lot is refused with nothing recorded.
#[tokio::test]
async fn doses_draw_from_the_sites_registered_lots() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let lot = |number: &str, product: &str, expires_on: &str, doses: i64| {
            json!({"lot_number": number, "product": product, "doses_per_vial": 6,
                   "expires_on": expires_on, "doses": doses})
        };
        for (body, status) in [
            (lot("FF2587", PFIZER, "2021-12-31", 2), StatusCode::CREATED),
            (lot("FF2587", PFIZER, "2021-12-31", 2), StatusCode::CONFLICT),
            (lot("OLD-1", PFIZER, "2021-09-13", 10), StatusCode::CREATED),
            (lot("EMPTY-1", PFIZER, "2021-12-31", 0), StatusCode::CREATED),
            (
                lot("AZ-1", "EU/1/21/1529", "2021-12-31", 10),
                StatusCode::CREATED,
            ),
            (
                lot("X-1", "J07BX03", "2021-12-31", 10),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                lot("<b>", PFIZER, "2021-12-31", 10),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ] {
            let (answer, _) = w.call("/site/v1/lots", &w.site, Some(body)).await;
            assert_eq!(answer, status);
        }
        let (status, _) = w.call("/site/v1/lots", &w.registry, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (_, appointment) = w.invited("Lê Văn Tám", "001083099999", "HN-0001").await;
        w.check_in(&appointment, &w.site).await;
        let (status, _) = w.screen(&appointment, &w.site, eligible()).await;
        assert_eq!(status, StatusCode::OK);
        for refused in ["OLD-1", "EMPTY-1", "AZ-1"] {
            let mut body = dose_body(1);
            body["lot_number"] = json!(refused);
            let (status, _) = w.dose(&appointment, &w.site, body).await;
            assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        }
        let (status, _) = w.dose(&appointment, &w.site, dose_body(1)).await;
        assert_eq!(status, StatusCode::CREATED);
        let lots = w.intake.lots("HN-0001").await.unwrap();
        let left = |number: &str| {
            lots.iter()
                .find(|lot| lot.lot_number == number)
                .map(|lot| lot.doses_available)
        };
        assert_eq!(left("FF2587"), Some(1), "one dose drawn");
        assert_eq!(left("OLD-1"), Some(10), "nothing drawn from a refused lot");
        assert_eq!(left("AZ-1"), Some(10));
        assert!(w.intake.lots("HN-0002").await.unwrap().is_empty());
    }
}

/// Every site route that takes a body reads it as the public routes do: 415 unless it is
/// `application/json`, 413 beyond 16 KiB, both as `{error}`; nothing is recorded either way, and a 422
/// names the field at fault.
#[tokio::test]
async fn site_bodies_are_json_of_at_most_16_kib() {
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let (registration, appointment) = w.invited("Phan Thị Hà", "001083077777", "HN-0001").await;
        assert_eq!(w.check_in(&appointment, &w.site).await.0, StatusCode::OK);
        let routes = [
            format!("/site/v1/appointments/{appointment}/screening"),
            format!("/site/v1/appointments/{appointment}/dose"),
            format!("/site/v1/registrations/{registration}/classification"),
            "/site/v1/lots".to_owned(),
            "/site/v1/capacity".to_owned(),
        ];
        let valid = [
            eligible(),
            dose_body(1),
            json!({"priority_group": "others", "reason": "checked the papers"}),
            json!({"lot_number": "FF2587", "product": PFIZER, "doses_per_vial": 6,
                   "expires_on": "2021-12-31", "doses": 10}),
            json!({"day": DAY, "session": "afternoon", "product": PFIZER, "slots": 6}),
        ];
        for (path, body) in routes.iter().zip(&valid) {
            let bytes = body.to_string().into_bytes();
            for content_type in [
                None,
                Some("text/plain"),
                Some("application/x-www-form-urlencoded"),
            ] {
                let (status, answer) = w.post_raw(path, &w.site, content_type, bytes.clone()).await;
                assert_eq!(
                    status,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "{path} {content_type:?}"
                );
                assert_eq!(
                    answer,
                    json!({"error": "the body must be application/json"})
                );
            }
            let mut big = body.clone();
            big["padding"] = json!("x".repeat(MAX_JSON_BYTES));
            let big = big.to_string().into_bytes();
            let (status, answer) = w
                .post_raw(path, &w.site, Some("application/json"), big)
                .await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
            assert!(answer["error"].is_string(), "{path}: {answer}");
        }
        assert_eq!(w.appointment_status(&appointment).await, "checked_in");
        assert!(w.intake.lots("HN-0001").await.unwrap().is_empty());
        assert_eq!(
            w.number(
                "SELECT COUNT(*) FROM capacity WHERE site_code = $1",
                "HN-0001"
            )
            .await,
            1
        );

        // A field of the wrong type is named; an unknown key never is.
        for (key, value, field) in [
            ("dose_number", "one", "dose_number"),
            ("nickname", "Hà", "body"),
        ] {
            let mut body = dose_body(1);
            body[key] = json!(value);
            let (status, answer) = w.dose(&appointment, &w.site, body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(answer["field"], field, "{key}");
        }
        w.intake.close().await;
    }
}

/// A check-in is for the appointment's day in Viet Nam: a second before its midnight, or the next day,
/// it is refused (409 naming the day) and nothing moves; from midnight on it is taken.
#[tokio::test]
async fn a_check_in_is_taken_only_on_the_appointments_day() {
    const MIDNIGHT: i64 = T0 - 9 * 3600;
    for (_, url) in support::database_urls().await {
        let w = World::new(&url).await;
        let (_, appointment) = w.invited("Trịnh Văn Bô", "001083088888", "HN-0001").await;
        for now in [MIDNIGHT - 1, MIDNIGHT + 24 * 3600] {
            w.set_now(now);
            let (status, answer) = w.check_in(&appointment, &w.site).await;
            assert_eq!(status, StatusCode::CONFLICT, "at {now}");
            assert_eq!(
                answer,
                json!({"error": format!("the appointment is for {DAY}, not today")})
            );
            assert_eq!(w.appointment_status(&appointment).await, "invited");
        }
        w.set_now(MIDNIGHT);
        assert_eq!(w.check_in(&appointment, &w.site).await.0, StatusCode::OK);
        assert_eq!(w.appointment_status(&appointment).await, "checked_in");
        // Checked in, it is still that day's: the next day it is not taken again.
        w.set_now(MIDNIGHT + 24 * 3600);
        assert_eq!(
            w.check_in(&appointment, &w.site).await.0,
            StatusCode::CONFLICT
        );
        w.intake.close().await;
    }
}
