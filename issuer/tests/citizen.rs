//! The citizen portal over HTTP, on every ledger backend (SQLite always, PostgreSQL when `DATABASE_URL` is
//! set): the "citizen download" lines of adversarial.md — codes are single-use, expire and lock after 3
//! wrong tries; an unknown identity answers like a known one (status, body, timing); another person's
//! certificate is a 404; ids are 128-bit; nothing of the identity or phone is stored in the clear.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod fixtures;
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fixtures::{TestSystem, confirmation_body, dose_event_id, system};
use issuer::DoseConfirmation;
use issuer::api::citizen::{CitizenConfig, SESSION_COOKIE, router};
use issuer::api::{ApiConfig, RateLimit};
use issuer::citizen::{LoginPolicy, Portal, SmsMessage, SmsSender};
use issuer::ledger::{CorrectionRights, LedgerBackend};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// Captures the messages the portal sends.
#[derive(Default)]
struct Outbox(Mutex<Vec<(String, String)>>);

impl SmsSender for Outbox {
    fn send(&self, message: SmsMessage) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .lock()
            .unwrap()
            .push((message.to.to_string(), message.text.to_string()));
        Ok(())
    }
}

impl Outbox {
    /// The code of the next message to `phone` after the first `seen` messages (waits for it: messages
    /// are sent off the request path).
    async fn code_for(&self, phone: &str, seen: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found = self
                .0
                .lock()
                .unwrap()
                .iter()
                .skip(seen)
                .find(|(to, _)| to == phone)
                .map(|(_, text)| text.clone());
            if let Some(text) = found {
                let digits: String = text
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|part| part.len() >= 6)
                    .unwrap()
                    .to_owned();
                return digits;
            }
            assert!(Instant::now() < deadline, "no code was sent to {phone}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

struct Citizens {
    system: TestSystem,
    router: Router,
    outbox: Arc<Outbox>,
}

async fn citizens(ledger: issuer::ledger::Ledger) -> Citizens {
    let system = system(ledger, ApiConfig::default()).await;
    let outbox = Arc::new(Outbox::default());
    let clock = Arc::clone(&system.clock);
    let portal = Portal::new(
        Arc::clone(&system.ledger),
        Arc::clone(&system.portal_secret),
        LoginPolicy::default(),
        Arc::clone(&outbox) as Arc<dyn SmsSender>,
        Arc::new(move || clock.load(std::sync::atomic::Ordering::SeqCst)),
    );
    let config = CitizenConfig {
        rate_limit: RateLimit {
            per_second: 100_000,
            burst: 100_000,
        },
        ..CitizenConfig::default()
    };
    let portal = portal.with_value_sets(Arc::new(fixtures::inline_value_sets()));
    let router = router(Arc::new(portal), config);
    Citizens {
        system,
        router,
        outbox,
    }
}

/// A person: a fresh identity document number under `phone`.
struct Person {
    id_number: String,
    dob: &'static str,
    phone: String,
    family_name: String,
}

fn person(phone: &str) -> Person {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let id_number = format!("{:012}", u64::from_le_bytes(bytes) % 1_000_000_000_000);
    Person {
        // Unique per person, letters only (names carry no digits).
        family_name: format!(
            "Nguyễn {}",
            id_number[6..]
                .bytes()
                .map(|digit| char::from(b'A' + (digit - b'0')))
                .collect::<String>()
        ),
        id_number,
        dob: "1983-10-10",
        phone: phone.to_owned(),
    }
}

fn random_phone() -> String {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).unwrap();
    format!("+849{:08}", u32::from_le_bytes(bytes) % 100_000_000)
}

/// Issues a certificate for `person`'s dose `dn` (dated by `dt`); returns its UVCI.
async fn vaccinate(system: &TestSystem, person: &Person, dn: u32, dt: &str) -> String {
    let mut body = confirmation_body(&dose_event_id());
    body["person"]["id_number"] = json!(person.id_number);
    body["person"]["phone"] = json!(person.phone);
    body["person"]["dob"] = json!(person.dob);
    body["person"]["fn"] = json!(person.family_name);
    body["vaccination"]["dn"] = json!(dn);
    body["vaccination"]["dt"] = json!(dt);
    let confirmation: DoseConfirmation = serde_json::from_value(body).unwrap();
    match system
        .service
        .confirm(confirmation, "registry", CorrectionRights::OwnOnly)
        .await
        .unwrap()
    {
        issuer::service::Confirmed::Issued(record) => record.uvci,
        other => panic!("not issued: {other:?}"),
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
    bytes: Vec<u8>,
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
        bytes,
    }
}

fn post(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn get(path: &str, session: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(session) = session {
        request = request.header(header::COOKIE, format!("{SESSION_COOKIE}={session}"));
    }
    request.body(Body::empty()).unwrap()
}

async fn request_code(router: &Router, person: &Person) -> Answer {
    send(
        router,
        post(
            "/citizen/v1/code",
            &json!({"id_number": person.id_number, "dob": person.dob}),
        ),
    )
    .await
}

async fn log_in(router: &Router, person: &Person, code: &str) -> Answer {
    send(
        router,
        post(
            "/citizen/v1/session",
            &json!({"id_number": person.id_number, "dob": person.dob, "code": code}),
        ),
    )
    .await
}

/// The session cookie's value of a login answer.
fn session_of(answer: &Answer) -> String {
    let cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/citizen/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let value = cookie.split(';').next().unwrap();
    value.split_once('=').unwrap().1.to_owned()
}

/// Logs `person` in through the outbox; the session cookie.
async fn session(citizens: &Citizens, person: &Person) -> String {
    let seen = citizens.outbox.len();
    assert_eq!(
        request_code(&citizens.router, person).await.status,
        StatusCode::ACCEPTED
    );
    let code = citizens.outbox.code_for(&person.phone, seen).await;
    let answer = log_in(&citizens.router, person, &code).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    session_of(&answer)
}

async fn list(router: &Router, session: &str) -> Vec<Value> {
    let answer = send(router, get("/citizen/v1/certificates", Some(session))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
    answer.json["certificates"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_citizen_logs_in_with_a_code_sees_their_certificates_and_downloads_them() {
    for (backend, ledger) in support::ledgers().await {
        let citizens = citizens(ledger).await;
        let me = person(&random_phone());
        let first = vaccinate(&citizens.system, &me, 1, "2021-08-01").await;
        let second = vaccinate(&citizens.system, &me, 2, "2021-09-14").await;

        let session = session(&citizens, &me).await;
        let certificates = list(&citizens.router, &session).await;
        let uvcis: Vec<&str> = certificates
            .iter()
            .map(|c| c["uvci"].as_str().unwrap())
            .collect();
        assert_eq!(
            uvcis,
            [second.as_str(), first.as_str()],
            "{backend:?}: newest dose first"
        );
        assert_eq!(certificates[0]["status"], "active");
        assert_eq!(certificates[0]["holder"]["fn"], me.family_name.as_str());
        assert_eq!(certificates[0]["vaccination"]["dn"], 2);
        assert_eq!(certificates[0]["vaccination"]["mp"], "EU/1/20/1528");
        let id = certificates[0]["id"].as_str().unwrap();
        assert_eq!(id.len(), 32, "128-bit ids");

        let record = citizens
            .system
            .ledger
            .certificate(&second)
            .await
            .unwrap()
            .unwrap();
        let text = send(
            &citizens.router,
            get(
                &format!("/citizen/v1/certificates/{id}/hc1.txt"),
                Some(&session),
            ),
        )
        .await;
        assert_eq!(text.status, StatusCode::OK);
        assert_eq!(String::from_utf8(text.bytes).unwrap(), record.hc1);

        let png = send(
            &citizens.router,
            get(
                &format!("/citizen/v1/certificates/{id}/qr.png"),
                Some(&session),
            ),
        )
        .await;
        assert_eq!(png.status, StatusCode::OK);
        assert_eq!(png.headers[header::CONTENT_TYPE], "image/png");
        assert_eq!(png.headers[header::CACHE_CONTROL], "no-store");
        let read = hcert::read_qr(&png.bytes, &hcert::ImageLimits::default()).unwrap();
        assert_eq!(read, record.hc1, "the PNG scans back to the certificate");

        let svg = send(
            &citizens.router,
            get(
                &format!("/citizen/v1/certificates/{id}/qr.svg"),
                Some(&session),
            ),
        )
        .await;
        assert_eq!(svg.status, StatusCode::OK);
        assert!(String::from_utf8(svg.bytes).unwrap().starts_with("<svg"));

        let pdf = send(
            &citizens.router,
            get(
                &format!("/citizen/v1/certificates/{id}/certificate.pdf"),
                Some(&session),
            ),
        )
        .await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert_eq!(pdf.headers[header::CONTENT_TYPE], "application/pdf");
        assert!(pdf.bytes.starts_with(b"%PDF-"));

        // Logging out ends the session.
        let out = send(
            &citizens.router,
            Request::delete("/citizen/v1/session")
                .header(header::COOKIE, format!("{SESSION_COOKIE}={session}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        let after = send(
            &citizens.router,
            get("/citizen/v1/certificates", Some(&session)),
        )
        .await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn relatives_under_one_phone_share_an_account_and_nobody_else_sees_it() {
    for (backend, ledger) in support::ledgers().await {
        let citizens = citizens(ledger).await;
        let phone = random_phone();
        let (parent, child, stranger) = (person(&phone), person(&phone), person(&random_phone()));
        let parents = vaccinate(&citizens.system, &parent, 1, "2021-08-01").await;
        let childs = vaccinate(&citizens.system, &child, 1, "2021-08-02").await;
        let strangers = vaccinate(&citizens.system, &stranger, 1, "2021-08-03").await;

        let family = session(&citizens, &child).await;
        let mut seen: Vec<String> = list(&citizens.router, &family)
            .await
            .iter()
            .map(|c| c["uvci"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        let mut expected = vec![parents.clone(), childs.clone()];
        expected.sort();
        assert_eq!(seen, expected, "{backend:?}");

        // The stranger's certificate id, from the stranger's own session: 404 for the family.
        let own = session(&citizens, &stranger).await;
        let theirs = list(&citizens.router, &own).await;
        assert_eq!(theirs.len(), 1);
        assert_eq!(theirs[0]["uvci"], strangers.as_str());
        let id = theirs[0]["id"].as_str().unwrap();
        for file in ["qr.png", "qr.svg", "hc1.txt", "certificate.pdf"] {
            let answer = send(
                &citizens.router,
                get(
                    &format!("/citizen/v1/certificates/{id}/{file}"),
                    Some(&family),
                ),
            )
            .await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{file}");
            assert!(!String::from_utf8_lossy(&answer.bytes).contains("HC1:"));
        }
        let unknown = send(
            &citizens.router,
            get(
                "/citizen/v1/certificates/00000000000000000000000000000000/qr.png",
                Some(&family),
            ),
        )
        .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        let no_session = send(
            &citizens.router,
            get(&format!("/citizen/v1/certificates/{id}/qr.png"), None),
        )
        .await;
        assert_eq!(no_session.status, StatusCode::UNAUTHORIZED);
        let forged = send(
            &citizens.router,
            get(
                "/citizen/v1/certificates",
                Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ),
        )
        .await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn codes_are_single_use_expire_and_lock_after_three_wrong_tries() {
    for (backend, ledger) in support::ledgers().await {
        let citizens = citizens(ledger).await;
        let me = person(&random_phone());
        vaccinate(&citizens.system, &me, 1, "2021-08-01").await;

        // Single use.
        let seen = citizens.outbox.len();
        request_code(&citizens.router, &me).await;
        let code = citizens.outbox.code_for(&me.phone, seen).await;
        assert_eq!(
            log_in(&citizens.router, &me, &code).await.status,
            StatusCode::OK
        );
        let again = log_in(&citizens.router, &me, &code).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{backend:?}");

        // A new code is not made within the resend interval; then it is, and it expires in 10 minutes.
        let seen = citizens.outbox.len();
        request_code(&citizens.router, &me).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            citizens.outbox.len(),
            seen,
            "no second code within a minute"
        );
        citizens.system.advance(61);
        request_code(&citizens.router, &me).await;
        let code = citizens.outbox.code_for(&me.phone, seen).await;
        citizens.system.advance(10 * 60);
        assert_eq!(
            log_in(&citizens.router, &me, &code).await.status,
            StatusCode::UNAUTHORIZED,
            "expired"
        );

        // Three wrong tries lock the identity, counted across codes until a login succeeds: the used
        // and the expired code above were two. Then even the right code is refused, until the lock ends.
        let seen = citizens.outbox.len();
        request_code(&citizens.router, &me).await;
        let code = citizens.outbox.code_for(&me.phone, seen).await;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let third = log_in(&citizens.router, &me, wrong).await;
        assert_eq!(third.status, StatusCode::UNAUTHORIZED);
        let locked = log_in(&citizens.router, &me, &code).await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(locked.json["error"], "locked");
        // No new code while locked.
        let seen = citizens.outbox.len();
        citizens.system.advance(61);
        request_code(&citizens.router, &me).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(citizens.outbox.len(), seen);
        // The lock is for a limited time: nobody can lock a citizen out for good.
        citizens.system.advance(15 * 60);
        let session = session(&citizens, &me).await;
        assert_eq!(list(&citizens.router, &session).await.len(), 1);
    }
}

#[tokio::test]
async fn an_unknown_identity_is_answered_exactly_like_a_known_one() {
    for (backend, ledger) in support::ledgers().await {
        let citizens = citizens(ledger).await;
        let known = person(&random_phone());
        vaccinate(&citizens.system, &known, 1, "2021-08-01").await;
        let unknown = person(&random_phone());

        let (a, b) = (
            request_code(&citizens.router, &known).await,
            request_code(&citizens.router, &unknown).await,
        );
        assert_eq!(a.status, StatusCode::ACCEPTED, "{backend:?}");
        assert_eq!((a.status, &a.bytes), (b.status, &b.bytes));
        assert_eq!(
            a.headers.get(header::SET_COOKIE),
            b.headers.get(header::SET_COOKIE)
        );

        // Wrong codes: the same answers, and both lock after three.
        for _ in 0..3 {
            let (a, b) = (
                log_in(&citizens.router, &known, "123456").await,
                log_in(&citizens.router, &unknown, "123456").await,
            );
            assert_eq!((a.status, &a.bytes), (b.status, &b.bytes));
        }
        let (a, b) = (
            log_in(&citizens.router, &known, "123456").await,
            log_in(&citizens.router, &unknown, "123456").await,
        );
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!((a.status, &a.bytes), (b.status, &b.bytes));
    }
}

#[tokio::test]
async fn known_and_unknown_identities_take_the_same_time() {
    let citizens = citizens(support::sqlite_ledger().await).await;
    let known = person(&random_phone());
    vaccinate(&citizens.system, &known, 1, "2021-08-01").await;
    let unknown = person("+84900000000");
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..1_000 {
        // Each round both ask for a new code (the clock moves past the resend interval), in alternating
        // order, so that both do the same writes under the same conditions.
        citizens.system.advance(61);
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for kind in order {
            let someone = if kind == 0 { &known } else { &unknown };
            let started = Instant::now();
            let answer = request_code(&citizens.router, someone).await;
            times[kind].push(started.elapsed());
            assert_eq!(answer.status, StatusCode::ACCEPTED);
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (known_median, unknown_median) = (median(&mut times[0]), median(&mut times[1]));
    let difference = known_median.abs_diff(unknown_median);
    println!(
        "median known {known_median:?}, unknown {unknown_median:?}, difference {difference:?}"
    );
    assert!(
        difference < Duration::from_millis(5),
        "median known {known_median:?}, unknown {unknown_median:?}"
    );
}

#[tokio::test]
async fn two_hundred_interleaved_sessions_never_see_each_other() {
    let citizens = Arc::new(citizens(support::sqlite_ledger().await).await);
    let mut people = Vec::new();
    for _ in 0..200 {
        let someone = person(&random_phone());
        let uvci = vaccinate(&citizens.system, &someone, 1, "2021-08-01").await;
        people.push((someone, uvci));
    }
    let mut sessions = Vec::new();
    for (someone, uvci) in &people {
        sessions.push((
            session(&citizens, someone).await,
            uvci.clone(),
            someone.family_name.clone(),
        ));
    }
    let all_uvcis: Vec<String> = people.iter().map(|(_, uvci)| uvci.clone()).collect();
    let mut tasks = Vec::new();
    for round in 0..3 {
        for (session, uvci, name) in sessions.iter().cloned() {
            let citizens = Arc::clone(&citizens);
            let all_uvcis = all_uvcis.clone();
            tasks.push(tokio::spawn(async move {
                let answer = send(
                    &citizens.router,
                    get("/citizen/v1/certificates", Some(&session)),
                )
                .await;
                let body = String::from_utf8(answer.bytes).unwrap();
                let foreign = all_uvcis
                    .iter()
                    .filter(|other| **other != uvci)
                    .any(|other| body.contains(other.as_str()));
                assert!(
                    !foreign,
                    "round {round}: another person's certificate in a list"
                );
                assert!(body.contains(&uvci) && body.contains(&name));
                let list: Value = serde_json::from_str(&body).unwrap();
                let id = list["certificates"][0]["id"].as_str().unwrap().to_owned();
                let text = send(
                    &citizens.router,
                    get(
                        &format!("/citizen/v1/certificates/{id}/hc1.txt"),
                        Some(&session),
                    ),
                )
                .await;
                let record = citizens
                    .system
                    .ledger
                    .certificate(&uvci)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(String::from_utf8(text.bytes).unwrap(), record.hc1);
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn the_ledger_keeps_no_document_or_phone_number_in_the_clear() {
    let directory = support::temp_dir("citizen-clear");
    let url = format!(
        "sqlite:{}?mode=rwc",
        directory.join("ledger.sqlite").display()
    );
    let ledger = issuer::ledger::Ledger::open(&url).await.unwrap();
    assert_eq!(ledger.backend(), LedgerBackend::Sqlite);
    let citizens = citizens(ledger).await;
    let me = person("+84987654321");
    vaccinate(&citizens.system, &me, 1, "2021-08-01").await;
    let _session = session(&citizens, &me).await;
    citizens.system.ledger.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&directory).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let haystack = String::from_utf8_lossy(&bytes);
    assert!(haystack.contains("HC1:"), "the ledger was written");
    assert!(!haystack.contains(&me.id_number));
    assert!(!haystack.contains("987654321"));
}

#[tokio::test]
async fn certificates_issued_in_bulk_can_be_downloaded_too() {
    for (backend, ledger) in support::ledgers().await {
        let citizens = citizens(ledger).await;
        let me = person(&random_phone());
        let mut body = confirmation_body(&dose_event_id());
        body["person"]["id_number"] = json!(me.id_number);
        body["person"]["phone"] = json!(me.phone);
        body["person"]["fn"] = json!(me.family_name);
        let line = issuer::bulk::Line {
            number: 1,
            text: Ok(body.to_string().into_bytes()),
        };
        let batch = issuer::bulk::prepare(&citizens.system.service, vec![line])
            .await
            .unwrap();
        let recorded = issuer::bulk::record(&citizens.system.ledger, batch).await;
        assert!(recorded.error.is_none());
        let session = session(&citizens, &me).await;
        let certificates = list(&citizens.router, &session).await;
        assert_eq!(certificates.len(), 1, "{backend:?}");
        assert_eq!(certificates[0]["holder"]["fn"], me.family_name.as_str());
    }
}

#[tokio::test]
async fn the_page_comes_from_this_origin_only() {
    let citizens = citizens(support::sqlite_ledger().await).await;
    for (path, content_type) in [
        ("/citizen/", "text/html; charset=utf-8"),
        ("/citizen/portal.js", "text/javascript; charset=utf-8"),
        ("/citizen/portal.css", "text/css; charset=utf-8"),
    ] {
        let answer = send(&citizens.router, get(path, None)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.headers[header::CONTENT_TYPE], content_type);
        let policy = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
        assert!(
            !String::from_utf8_lossy(&answer.bytes).contains("http://"),
            "{path}"
        );
    }
    let page =
        String::from_utf8(send(&citizens.router, get("/citizen/", None)).await.bytes).unwrap();
    for id in [
        "code-form",
        "id-number",
        "dob",
        "session-form",
        "code",
        "certificate-list",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    for label in ["for=\"id-number\"", "for=\"dob\"", "for=\"code\""] {
        assert!(page.contains(label), "every input has a label: {label}");
    }
    let redirect = send(&citizens.router, get("/citizen", None)).await;
    assert_eq!(redirect.status, StatusCode::PERMANENT_REDIRECT);
}

#[tokio::test]
async fn the_openapi_document_describes_routes_the_portal_answers() {
    let citizens = citizens(support::sqlite_ledger().await).await;
    let document: Value = serde_json::from_str(issuer::api::citizen::OPENAPI).unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 5);
    for (path, operations) in paths {
        let concrete = path
            .replace("{id}", "00000000000000000000000000000000")
            .replace("{file}", "qr.png");
        for method in operations.as_object().unwrap().keys() {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let status = send(&citizens.router, request).await.status;
            assert!(
                ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status),
                "{method} {path}: {status}"
            );
        }
    }
}
