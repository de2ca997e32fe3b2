//! Registration through the public intake API, driven through the axum router: phone login by one-time
//! code, registering oneself and relatives, validation of every field, cancelling, another phone's
//! registrations, the lock after wrong codes, the outbox message, organisations' staff lists.
//!
//! Every test runs on a fresh SQLite database, and also on PostgreSQL (a schema of its own) when
//! `DATABASE_URL` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use intake::api::{IntakeConfig, IntakeState, router};
use intake::notify::{SendError, Sender};
use intake::policy::PolicyBook;
use intake::registration::MEDICAL_ITEMS;
use intake::store::{Intake, Role, Site};
use serde_json::{Value, json};
use tower::ServiceExt as _;

mod support;

/// 2021-08-01 10:00 in Viet Nam: Decision 3355/QĐ-BYT is in force.
const T0: i64 = 1_627_786_800;
const PHONE_A: &str = "+84912345678";
const PHONE_B: &str = "+84987654321";

/// Records every message it is handed.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, String, String)>>,
}

impl Sender for Recorder {
    fn send(&self, phone: &str, kind: &str, text: &str) -> Result<(), SendError> {
        self.sent
            .lock()
            .unwrap()
            .push((phone.to_owned(), kind.to_owned(), text.to_owned()));
        Ok(())
    }
}

impl Recorder {
    /// The code in the last message to `phone`.
    fn last_code(&self, phone: &str) -> String {
        let sent = self.sent.lock().unwrap();
        let (_, kind, text) = sent
            .iter()
            .rev()
            .find(|(to, _, _)| to == phone)
            .expect("a code was sent");
        assert_eq!(kind, "one_time_code");
        assert!(text.is_ascii());
        text.split(|c: char| !c.is_ascii_digit())
            .find(|word| word.len() == 6)
            .expect("six digits")
            .to_owned()
    }
}

struct App {
    router: Router,
    intake: Intake,
    sms: Arc<Recorder>,
    now: Arc<AtomicI64>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl App {
    async fn new(intake: Intake) -> App {
        let now = Arc::new(AtomicI64::new(T0));
        let clock_now = Arc::clone(&now);
        let sms = Arc::new(Recorder::default());
        for (code, hospital_grade) in [("HN-0001", false), ("HN-0002", true)] {
            intake
                .add_site(
                    &Site {
                        site_code: code.into(),
                        name: format!("Site {code}"),
                        province_code: "01".into(),
                        hospital_grade,
                    },
                    T0,
                )
                .await
                .unwrap();
        }
        let state = IntakeState {
            intake: intake.clone(),
            clock: Arc::new(move || {
                time::OffsetDateTime::from_unix_timestamp(clock_now.load(Ordering::SeqCst)).unwrap()
            }),
            sms: Arc::clone(&sms) as Arc<dyn Sender>,
            policies: Arc::new(PolicyBook::builtin().unwrap()),
            config: Arc::new(IntakeConfig::default()),
        };
        App {
            router: router(state),
            intake,
            sms,
            now,
        }
    }

    fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(header::HeaderName, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        assert_eq!(
            headers
                .get(header::CACHE_CONTROL)
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{path}"
        );
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn json(&self, method: Method, path: &str, cookie: Option<&str>, body: &Value) -> Answer {
        let headers: Vec<(header::HeaderName, &str)> =
            cookie.map(|c| (header::COOKIE, c)).into_iter().collect();
        self.call(
            method,
            path,
            &headers,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let headers: Vec<(header::HeaderName, &str)> =
            cookie.map(|c| (header::COOKIE, c)).into_iter().collect();
        self.call(Method::GET, path, &headers, None).await
    }

    async fn delete(&self, path: &str, cookie: Option<&str>) -> Answer {
        let headers: Vec<(header::HeaderName, &str)> =
            cookie.map(|c| (header::COOKIE, c)).into_iter().collect();
        self.call(Method::DELETE, path, &headers, None).await
    }

    async fn request_code(&self, phone: &str) -> Answer {
        self.json(
            Method::POST,
            "/intake/v1/phone-codes",
            None,
            &json!({"phone": phone}),
        )
        .await
    }

    async fn submit_code(&self, phone: &str, code: &str) -> Answer {
        self.json(
            Method::POST,
            "/intake/v1/sessions",
            None,
            &json!({"phone": phone, "code": code}),
        )
        .await
    }

    /// Logs in `phone` (as typed) by code; returns the `Cookie` header value.
    async fn login(&self, phone: &str) -> String {
        let answer = self.request_code(phone).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        assert_eq!(answer.body, json!({"sent": true}));
        let e164 = intake::registration::normalise_phone(phone).unwrap();
        let code = self.sms.last_code(&e164);
        let answer = self.submit_code(phone, &code).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(answer.body["phone"], e164);
        let set_cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
        let pair = set_cookie.split(';').next().unwrap().to_owned();
        assert!(pair.starts_with("intake_session="));
        pair
    }

    async fn register(&self, cookie: &str, form: &Value) -> Answer {
        self.json(Method::POST, "/intake/v1/registrations", Some(cookie), form)
            .await
    }
}

/// A good form for the citizen ID `id_number`.
fn form(id_number: &str) -> Value {
    let history: serde_json::Map<String, Value> = MEDICAL_ITEMS
        .iter()
        .map(|item| ((*item).to_owned(), json!("no")))
        .collect();
    json!({
        "full_name": "Nguyễn Thị Ánh Tuyết",
        "dob": "1960-05-17",
        "sex": "female",
        "id_kind": "citizen_id",
        "id_number": id_number,
        "occupation": "Giáo viên",
        "address": {"province_code": "01", "commune_code": "00004", "admin_scheme": "2021"},
        "priority_group": "teachers-public-facing",
        "preferred_site": "HN-0001",
        "preferred_date": "2021-08-10",
        "health_insurance": "GD4010112345678",
        "ethnicity": "Kinh",
        "nationality": "VN",
        "medical_history": Value::Object(history),
        "consent": true,
    })
}

/// `value` with the field at dotted `path` set to `new` (or removed with `None`).
fn with(mut value: Value, path: &str, new: Option<Value>) -> Value {
    let mut target = &mut value;
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    for part in parts {
        target = target.get_mut(part).unwrap();
    }
    let object = target.as_object_mut().unwrap();
    match new {
        Some(new) => {
            object.insert(last.to_owned(), new);
        }
        None => {
            object.remove(last);
        }
    }
    value
}

#[tokio::test]
async fn a_phone_registers_itself_and_relatives_up_to_the_cap() {
    for intake in support::databases().await {
        let app = App::new(intake).await;
        let cookie = app.login("0912 345 678").await;
        let mut ids = Vec::new();
        for i in 1..=4 {
            let answer = app
                .register(&cookie, &form(&format!("00116000000{i}")))
                .await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
            assert_eq!(answer.body["status"], "waiting");
            assert_eq!(answer.body["policy_id"], "qd-3355-byt");
            assert_eq!(answer.body["policy_version"], 1);
            ids.push(answer.body["registration_id"].as_str().unwrap().to_owned());
            // The list is oldest first.
            app.advance(1);
        }
        let answer = app.register(&cookie, &form("001160000005")).await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);

        let list = app.get("/intake/v1/registrations", Some(&cookie)).await;
        assert_eq!(list.status, StatusCode::OK);
        assert_eq!(list.body["max_people"], 4);
        let registrations = list.body["registrations"].as_array().unwrap();
        assert_eq!(registrations.len(), 4);
        let first = &registrations[0];
        assert_eq!(first["registration_id"], ids[0].as_str());
        assert_eq!(first["full_name"], "Nguyễn Thị Ánh Tuyết");
        assert_eq!(first["dob"], "1960-05-17");
        assert_eq!(first["declared_group"], "teachers-public-facing");
        assert_eq!(first["priority_group"], "teachers-public-facing");
        assert_eq!(first["preferred_site"], "HN-0001");
        assert_eq!(first["preferred_date"], "2021-08-10");

        let one = app
            .get(
                &format!("/intake/v1/registrations/{}", ids[2]),
                Some(&cookie),
            )
            .await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(one.body["registration_id"], ids[2].as_str());

        // Every registration wrote its message to the outbox, the name masked.
        let messages = app.intake.notifications_to(PHONE_A).await.unwrap();
        assert_eq!(messages.len(), 4);
        assert!(messages.iter().all(|m| m.kind == "registration_received"));
        assert!(
            messages[0].text.starts_with("N* T* A* Tuyet:"),
            "{}",
            messages[0].text
        );
        // The code went to the SMS sender only, never to the outbox.
        assert!(messages.iter().all(|m| !m.text.contains("xac thuc")));
        assert_eq!(app.intake.registration_count().await.unwrap(), 4);
    }
}

#[tokio::test]
async fn the_session_cookie_is_strict_and_logging_out_ends_it() {
    for intake in support::databases().await {
        let app = App::new(intake).await;
        app.request_code(PHONE_A).await;
        let code = app.sms.last_code(PHONE_A);
        let answer = app.submit_code(PHONE_A, &code).await;
        assert_eq!(answer.status, StatusCode::CREATED);
        assert_eq!(answer.body["expires_at"], T0 + 1800);
        let set_cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/intake/",
            "Max-Age=1800",
        ] {
            assert!(set_cookie.contains(attribute), "{set_cookie}");
        }
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let sent = app.sms.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].2.starts_with("Ma xac thuc dang ky tiem chung: "));

        assert_eq!(
            app.get("/intake/v1/registrations", None).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get("/intake/v1/registrations", Some("intake_session=forged"))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.get("/intake/v1/registrations", Some(&cookie))
                .await
                .status,
            StatusCode::OK
        );
        // The session ends after 30 minutes.
        app.advance(1800);
        assert_eq!(
            app.get("/intake/v1/registrations", Some(&cookie))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        let cookie = app.login(PHONE_A).await;
        let out = app.delete("/intake/v1/sessions", Some(&cookie)).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(
            out.headers[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_eq!(
            app.get("/intake/v1/registrations", Some(&cookie))
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn a_document_is_registered_once_across_phones_until_cancelled() {
    for intake in support::databases().await {
        let app = App::new(intake).await;
        let a = app.login(PHONE_A).await;
        let b = app.login(PHONE_B).await;
        let created = app.register(&a, &form("001160000001")).await;
        assert_eq!(created.status, StatusCode::CREATED);
        let id = created.body["registration_id"].as_str().unwrap().to_owned();
        let path = format!("/intake/v1/registrations/{id}");

        let duplicate = app.register(&b, &form("001160000001")).await;
        assert_eq!(duplicate.status, StatusCode::CONFLICT);
        assert!(!duplicate.body.to_string().contains("001160000001"));
        assert_eq!(
            app.register(&a, &form("001160000001")).await.status,
            StatusCode::CONFLICT
        );

        // Another phone's registration does not exist for it.
        assert_eq!(app.get(&path, Some(&b)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            app.delete(&path, Some(&b)).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("/intake/v1/registrations/nothex", Some(&a))
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        let cancelled = app.delete(&path, Some(&a)).await;
        assert_eq!(cancelled.status, StatusCode::OK);
        assert_eq!(cancelled.body, json!({"status": "cancelled"}));
        assert_eq!(
            app.delete(&path, Some(&a)).await.status,
            StatusCode::CONFLICT
        );
        assert_eq!(app.get(&path, Some(&a)).await.body["status"], "cancelled");

        // The document is free again, under either phone.
        let again = app.register(&b, &form("001160000001")).await;
        assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
        assert_ne!(again.body["registration_id"], id.as_str());
    }
}

#[tokio::test]
async fn every_field_is_validated_and_named() {
    for intake in support::databases().await {
        let app = App::new(intake).await;
        let cookie = app.login(PHONE_A).await;
        let long = "x".repeat(41);
        let cases: Vec<(&str, Option<Value>, &str)> = vec![
            ("full_name", Some(json!("A")), "full_name"),
            ("full_name", Some(json!("Nguyen \u{202E}Van")), "full_name"),
            (
                "full_name",
                Some(json!("Robert'); DROP TABLE--")),
                "full_name",
            ),
            ("full_name", None, "full_name"),
            ("dob", Some(json!("1960-02-30")), "dob"),
            ("dob", Some(json!("2021-08-02")), "dob"),
            ("dob", Some(json!("1899-12-31")), "dob"),
            ("dob", Some(json!("2010-01-01")), "dob"),
            ("sex", Some(json!("F")), "sex"),
            ("sex", Some(json!(5)), "sex"),
            ("id_kind", Some(json!("cmnd")), "id_kind"),
            ("id_number", Some(json!("12345678901")), "id_number"),
            ("occupation", Some(json!("")), "occupation"),
            (
                "address.province_code",
                Some(json!("1")),
                "address.province_code",
            ),
            (
                "address.commune_code",
                Some(json!("12345a")),
                "address.commune_code",
            ),
            (
                "address.admin_scheme",
                Some(json!("2019")),
                "address.admin_scheme",
            ),
            ("address.province_code", None, "address.province_code"),
            ("priority_group", Some(json!("vip")), "priority_group"),
            ("preferred_site", Some(json!("hn 1")), "preferred_site"),
            ("preferred_site", Some(json!("HN-9999")), "preferred_site"),
            (
                "preferred_date",
                Some(json!("2021-07-31")),
                "preferred_date",
            ),
            (
                "health_insurance",
                Some(json!("GD40101123456")),
                "health_insurance",
            ),
            ("ethnicity", Some(json!(long)), "ethnicity"),
            ("nationality", Some(json!("VNM")), "nationality"),
            (
                "medical_history.pregnant",
                Some(json!("maybe")),
                "medical_history.pregnant",
            ),
            (
                "medical_history.acute_illness",
                None,
                "medical_history.acute_illness",
            ),
            (
                "medical_history.smoker",
                Some(json!("no")),
                "medical_history",
            ),
            ("consent", Some(json!(false)), "consent"),
            ("consent", None, "consent"),
            ("salary", Some(json!("SECRETVALUE")), "body"),
        ];
        for (path, value, field) in cases {
            let shown = value.as_ref().map(Value::to_string);
            let answer = app
                .register(&cookie, &with(form("001160000001"), path, value))
                .await;
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {}",
                answer.body
            );
            assert_eq!(answer.body["field"], field, "{path}");
            assert!(answer.body["error"].is_string());
            if let Some(shown) = shown.filter(|s| s.len() > 4) {
                assert!(
                    !answer.body.to_string().contains(shown.trim_matches('"')),
                    "{path} echoed"
                );
            }
        }
        // A caution case needs a hospital-grade site.
        let caution = with(
            form("001160000001"),
            "medical_history.severe_allergy",
            Some(json!("yes")),
        );
        let answer = app.register(&cookie, &caution).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.body["field"], "preferred_site");
        let answer = app
            .register(
                &cookie,
                &with(caution, "preferred_site", Some(json!("HN-0002"))),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);

        // Not JSON, too large, no session.
        let answer = app
            .call(
                Method::POST,
                "/intake/v1/registrations",
                &[(header::COOKIE, cookie.as_str())],
                Some(("application/json", b"{not json".to_vec())),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        let big = with(
            form("001160000002"),
            "occupation",
            Some(json!("x".repeat(20_000))),
        );
        assert_eq!(
            app.register(&cookie, &big).await.status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let answer = app
            .call(
                Method::POST,
                "/intake/v1/registrations",
                &[(header::COOKIE, cookie.as_str())],
                Some(("text/plain", form("001160000002").to_string().into_bytes())),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let answer = app
            .json(
                Method::POST,
                "/intake/v1/registrations",
                None,
                &form("001160000002"),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.intake.registration_count().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn codes_are_rate_limited_and_three_wrong_tries_lock_the_phone() {
    for intake in support::databases().await {
        let app = App::new(intake).await;
        assert_eq!(
            app.request_code("0212345678").await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(app.request_code("0212345678").await.body["field"], "phone");
        assert_eq!(app.request_code(PHONE_A).await.status, StatusCode::ACCEPTED);
        app.advance(30);
        assert_eq!(
            app.request_code(PHONE_A).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        let code = app.sms.last_code(PHONE_A);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        for _ in 0..3 {
            assert_eq!(
                app.submit_code(PHONE_A, wrong).await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        // Locked: even the right code, and no new code.
        assert_eq!(
            app.submit_code(PHONE_A, &code).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        app.advance(120);
        assert_eq!(
            app.request_code(PHONE_A).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(app.sms.sent.lock().unwrap().len(), 1);
        // Another phone is not locked.
        app.login(PHONE_B).await;
        // After 15 minutes a new code works.
        app.advance(900);
        app.login(PHONE_A).await;
        // A code expires after 10 minutes.
        app.advance(60);
        assert_eq!(app.request_code(PHONE_A).await.status, StatusCode::ACCEPTED);
        let code = app.sms.last_code(PHONE_A);
        app.advance(600);
        assert_eq!(
            app.submit_code(PHONE_A, &code).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn the_policy_in_force_and_the_sites_are_public() {
    for intake in support::databases().await {
        let app = App::new(intake).await;
        let policy = app.get("/intake/v1/policy", None).await;
        assert_eq!(policy.status, StatusCode::OK);
        assert_eq!(policy.body["id"], "qd-3355-byt");
        assert_eq!(policy.body["min_age"], 18);
        let groups = policy.body["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 16);
        assert_eq!(groups[0]["code"], "health-workers");
        assert_eq!(groups[0]["rank"], 1);
        assert!(groups[0]["vi"].is_string() && groups[0]["en"].is_string());
        let sites = app.get("/intake/v1/sites", None).await;
        assert_eq!(sites.body["sites"].as_array().unwrap().len(), 2);
        assert_eq!(sites.body["sites"][1]["hospital_grade"], true);
    }
}

/// A staff list: a header and one row per citizen ID given.
fn staff_file(ids: &[&str]) -> String {
    let mut text = String::from(
        "full_name,dob,sex,id_kind,id_number,occupation,province_code,commune_code,admin_scheme,\
         priority_group,preferred_site,phone,consent",
    );
    for item in MEDICAL_ITEMS {
        text.push(',');
        text.push_str(item);
    }
    text.push('\n');
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!(
            "Phạm Minh Châu,1990-01-1{i},male,citizen_id,{id},Kỹ sư,01,00004,2021,enterprise-workers,\
             HN-0001,09123450{i:02},yes"
        ));
        for _ in MEDICAL_ITEMS {
            text.push_str(",no");
        }
        text.push('\n');
    }
    text
}

async fn upload(app: &App, token: Option<&str>, csv: &str) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(header::HeaderName, &str)> = bearer
        .as_deref()
        .map(|b| (header::AUTHORIZATION, b))
        .into_iter()
        .collect();
    app.call(
        Method::POST,
        "/intake/v1/organisations/staff",
        &headers,
        Some(("text/csv; charset=utf-8", csv.as_bytes().to_vec())),
    )
    .await
}

#[tokio::test]
async fn an_organisation_imports_a_whole_staff_list_or_nothing() {
    for intake in support::databases().await {
        let app = App::new(intake).await;
        let token = app
            .intake
            .create_token(Role::Organisation, "Công ty May 10", "hr-officer", T0)
            .await
            .unwrap();
        let site_token = app
            .intake
            .create_token(Role::Site, "HN-0001", "nurse", T0)
            .await
            .unwrap();
        let good = staff_file(&["001090000001", "001090000002", "001090000003"]);
        assert_eq!(
            upload(&app, None, &good).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            upload(&app, Some(&site_token), &good).await.status,
            StatusCode::FORBIDDEN
        );

        let broken = staff_file(&["001090000011", "0010900000", "001090000013", "001090000011"])
            .replace("1990-01-12", "1990-02-30")
            .replacen("Kỹ sư,01,00004", "Kỹ sư,1,00004", 1);
        let answer = upload(&app, Some(&token), &broken).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        let rejected: Vec<(u64, String)> = answer.body["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["row"].as_u64().unwrap(),
                    r["field"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            rejected,
            vec![
                (1, "province_code".to_owned()),
                (2, "id_number".to_owned()),
                (3, "dob".to_owned()),
                (4, "id_number".to_owned()),
            ]
        );
        assert!(!answer.body.to_string().contains("0010900000"));
        assert_eq!(app.intake.registration_count().await.unwrap(), 0);

        // A document already registered online refuses the whole file too.
        let cookie = app.login(PHONE_A).await;
        assert_eq!(
            app.register(&cookie, &form("001090000002")).await.status,
            StatusCode::CREATED
        );
        let answer = upload(&app, Some(&token), &good).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        assert_eq!(answer.body["rejected"][0]["row"], 2);
        assert_eq!(answer.body["rejected"][0]["field"], "id_number");
        assert_eq!(app.intake.registration_count().await.unwrap(), 1);
        assert!(
            app.intake
                .notifications_to("+84912345000")
                .await
                .unwrap()
                .is_empty()
        );

        let fresh = staff_file(&["001090000004", "001090000005", "001090000006"]);
        let answer = upload(&app, Some(&token), &fresh).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(answer.body, json!({"imported": 3}));
        assert_eq!(app.intake.registration_count().await.unwrap(), 4);
        let messages = app.intake.notifications_to("+84912345001").await.unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].kind, "registration_received");
        let answer = app
            .call(
                Method::POST,
                "/intake/v1/organisations/staff",
                &[(header::AUTHORIZATION, format!("Bearer {token}").as_str())],
                Some(("application/json", b"{}".to_vec())),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_keep_the_cap_and_one_registration_per_document() {
    for intake in support::databases().await {
        let app = Arc::new(App::new(intake).await);
        let cookie = app.login(PHONE_A).await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let app = Arc::clone(&app);
            let cookie = cookie.clone();
            tasks.push(tokio::spawn(async move {
                app.register(&cookie, &form(&format!("00116000010{i}")))
                    .await
                    .status
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        assert_eq!(created, 4, "{statuses:?}");
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT)
        );

        // One document from several phones at once: one registration.
        let mut cookies = Vec::new();
        for i in 0..4 {
            cookies.push(app.login(&format!("+8497000000{i}")).await);
        }
        let mut tasks = Vec::new();
        for cookie in cookies {
            let app = Arc::clone(&app);
            tasks.push(tokio::spawn(async move {
                app.register(&cookie, &form("001160000999")).await.status
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        let created = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "{statuses:?}");
        assert_eq!(app.intake.registration_count().await.unwrap(), 5);
    }
}

/// The people of one group transaction (what SQLite's group writer writes together) each get their own
/// outcome: a duplicate document and a full phone fail alone, the others are recorded with their
/// messages, and nothing of the failed ones remains.
#[tokio::test]
async fn one_group_of_registrations_gives_each_its_own_outcome() {
    use intake::registration::{RegistrationForm, validate};
    use intake::store::{Conflict, NewRegistration, StoreError};

    let policies = PolicyBook::builtin().unwrap();
    let person = |id: &str| {
        let form: RegistrationForm = serde_json::from_value(form(id)).unwrap();
        validate(&form, time::macros::date!(2021 - 08 - 01), &policies).unwrap()
    };
    let (a1, a2, a3, c1) = (
        person("001160000201"),
        person("001160000202"),
        person("001160000203"),
        person("001160000204"),
    );
    const PHONE_C: &str = "+84933333333";
    for intake in support::databases().await {
        let new = |phone, registration| NewRegistration {
            campaign: "covid-19",
            phone,
            max_people_per_phone: 2,
            registration,
            now: T0,
        };
        let people = [
            new(PHONE_A, &a1),
            new(PHONE_B, &a1), // the same document under another phone
            new(PHONE_A, &a2),
            new(PHONE_A, &a3), // the phone's third: over its cap of 2
            new(PHONE_C, &c1),
        ];
        let outcomes = intake.create_registrations_each(&people).await.unwrap();
        assert_eq!(outcomes.len(), 5);
        assert!(matches!(
            outcomes[1],
            Err(StoreError::Conflict(Conflict::DuplicateDocument))
        ));
        assert!(matches!(
            outcomes[3],
            Err(StoreError::Conflict(Conflict::PhoneFull))
        ));
        let mut recorded = Vec::new();
        for (index, phone) in [(0, PHONE_A), (2, PHONE_A), (4, PHONE_C)] {
            let id = outcomes[index].as_ref().unwrap();
            let registration = intake.registration_of(phone, id).await.unwrap();
            assert_eq!(registration.status, "waiting");
            recorded.push(id.clone());
        }
        assert_eq!(intake.registration_count().await.unwrap(), 3);
        let mut listed: Vec<String> = intake
            .registrations_of(PHONE_A)
            .await
            .unwrap()
            .into_iter()
            .chain(intake.registrations_of(PHONE_C).await.unwrap())
            .map(|registration| registration.registration_id)
            .collect();
        listed.sort();
        recorded.sort();
        assert_eq!(listed, recorded);
        assert!(intake.registrations_of(PHONE_B).await.unwrap().is_empty());
        // One "registration received" message per recorded person, none for the refused ones.
        assert_eq!(intake.notifications_to(PHONE_A).await.unwrap().len(), 2);
        assert_eq!(intake.notifications_to(PHONE_C).await.unwrap().len(), 1);
        assert!(intake.notifications_to(PHONE_B).await.unwrap().is_empty());
        // The first registration of the document stands: a later group refuses it again, and records
        // the phone's other person.
        let again = intake
            .create_registrations_each(&[new(PHONE_B, &a1), new(PHONE_B, &a3)])
            .await
            .unwrap();
        assert!(matches!(
            again[0],
            Err(StoreError::Conflict(Conflict::DuplicateDocument))
        ));
        assert!(again[1].is_ok());
        assert_eq!(intake.registration_count().await.unwrap(), 4);
    }
}
