//! The issuer's HTTP surface, request by request, on every ledger backend (SQLite always, PostgreSQL
//! when `DATABASE_URL` is set): the answers of domain.md and the "issuer internal API" and "durability"
//! lines of adversarial.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod bulk;
mod fixtures;
mod slow_clients;
mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fixtures::{TestSystem, confirmation_body, dose_event_id, system};
use issuer::api::{ApiConfig, RateLimit};
use issuer::ledger::Scope;
use keys::Backend;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt as _;
use trust_list::{PinnedKey, RevocationList, RevocationQuery, TrustList};
use verifier::{Detail, Input, Verifier};

const CONFIRMATIONS: &str = "/internal/v1/dose-confirmations";

/// One answer: status, headers, body as JSON (or `Null`) and raw bytes.
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

fn post_json(path: &str, token: Option<&str>, key: Option<&str>, body: &[u8]) -> Request<Body> {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.body(Body::from(body.to_vec())).unwrap()
}

fn confirm_request(token: &str, body: &Value) -> Request<Body> {
    let key = body["dose_event_id"].as_str().unwrap();
    post_json(
        CONFIRMATIONS,
        Some(token),
        Some(key),
        body.to_string().as_bytes(),
    )
}

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

/// `/internal/v1/certificates/{uvci}` with the UVCI percent-encoded (its `#` would start a fragment).
fn certificate_path(uvci: &str) -> String {
    let encoded =
        percent_encoding::utf8_percent_encode(uvci, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!("/internal/v1/certificates/{encoded}")
}

/// Every backend's system, with the default API limits.
async fn systems() -> Vec<TestSystem> {
    systems_with(ApiConfig::default()).await
}

async fn systems_with(config: ApiConfig) -> Vec<TestSystem> {
    logs();
    let mut systems = Vec::new();
    for (_, ledger) in support::ledgers().await {
        systems.push(system(ledger, config).await);
    }
    systems
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A verifier that trusts only what the published trust list says, as a foreign verifier would.
async fn foreign_verifier(system: &TestSystem) -> Verifier {
    let answer = send(&system.router, get("/trust-list", None)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let pinned = PinnedKey::from_spki_der(Backend::default(), &system.pin_spki).unwrap();
    let list = TrustList::verify(&answer.bytes, &[pinned], now().unix_timestamp()).unwrap();
    Verifier::new(Arc::new(list.store(Backend::default())), None)
}

/// A certificate is not kept by caches on the way: the 201 and the 200 of a replay are `no-store`.
#[tokio::test]
async fn confirmation_answers_are_not_stored_by_caches() {
    for system in systems().await {
        let body = confirmation_body(&dose_event_id());
        for expected in [StatusCode::CREATED, StatusCode::OK] {
            let answer = send(
                &system.router,
                confirm_request(&system.tokens.registry, &body),
            )
            .await;
            assert_eq!(answer.status, expected, "{}", answer.json);
            assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
        }
    }
}

#[tokio::test]
async fn first_confirmation_is_201_and_an_identical_replay_is_200_with_the_same_body() {
    for system in systems().await {
        let body = confirmation_body(&dose_event_id());
        let first = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
        let uvci = first.json["uvci"].as_str().unwrap();
        assert!(uvci.starts_with("URN:UVCI:01:VN:"));
        assert!(first.json["hc1"].as_str().unwrap().starts_with("HC1:"));
        assert!(first.json["exp"].as_i64().unwrap() <= system.dsc_not_after);

        let again = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.bytes, first.bytes);

        // The same meaning in another key order and another Unicode normalisation form: identical.
        let mut reordered = String::from("{");
        let object = body.as_object().unwrap();
        for (index, (key, value)) in object.iter().rev().enumerate() {
            if index > 0 {
                reordered.push(',');
            }
            reordered.push_str(&format!("{}:{}", Value::from(key.as_str()), value));
        }
        reordered.push('}');
        let nfd: String =
            unicode_normalization::UnicodeNormalization::nfd(reordered.as_str()).collect();
        assert_ne!(nfd, body.to_string());
        let key = body["dose_event_id"].as_str().unwrap();
        let replay = send(
            &system.router,
            post_json(
                CONFIRMATIONS,
                Some(&system.tokens.registry),
                Some(key),
                nfd.as_bytes(),
            ),
        )
        .await;
        assert_eq!(replay.status, StatusCode::OK, "{}", replay.json);
        assert_eq!(replay.bytes, first.bytes);

        // What we hand out verifies against what we publish.
        let report = foreign_verifier(&system).await.verify(
            Input::Text(first.json["hc1"].as_str().unwrap()),
            now(),
            Detail::default(),
        );
        assert!(report.valid, "{}", report.to_json_line());
    }
}

#[tokio::test]
async fn the_same_key_with_another_body_is_409() {
    for system in systems().await {
        let mut body = confirmation_body(&dose_event_id());
        let first = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED);
        body["vaccination"]["lot_number"] = json!("FF2588");
        let other = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        assert_eq!(other.status, StatusCode::CONFLICT);
        assert_eq!(other.json["error"], "idempotency_conflict");
        assert!(other.json.get("hc1").is_none());
    }
}

#[tokio::test]
async fn no_or_wrong_credentials_are_401_and_a_missing_scope_is_403() {
    for system in systems().await {
        let body = confirmation_body(&dose_event_id());
        let key = body["dose_event_id"].as_str().unwrap();
        let bytes = body.to_string();
        for token in [None, Some("vxc_not-a-token"), Some("")] {
            let answer = send(
                &system.router,
                post_json(CONFIRMATIONS, token, Some(key), bytes.as_bytes()),
            )
            .await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{token:?}");
            assert!(answer.headers.contains_key(header::WWW_AUTHENTICATE));
        }
        let basic = Request::post(CONFIRMATIONS)
            .header(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .body(Body::from(bytes.clone()))
            .unwrap();
        assert_eq!(
            send(&system.router, basic).await.status,
            StatusCode::UNAUTHORIZED
        );
        let reader = send(
            &system.router,
            confirm_request(&system.tokens.reader, &body),
        )
        .await;
        assert_eq!(reader.status, StatusCode::FORBIDDEN);
        let revoker = send(
            &system.router,
            confirm_request(&system.tokens.revoker, &body),
        )
        .await;
        assert_eq!(revoker.status, StatusCode::FORBIDDEN);
        // Nothing was issued by the refused requests.
        assert!(system.ledger.dose_event(key).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_disabled_clients_token_is_refused() {
    for system in systems().await {
        let path = certificate_path("URN:UVCI:01:VN:00000000000000000000000000000000#0");
        let before = send(&system.router, get(&path, Some(&system.tokens.reader))).await;
        assert_eq!(before.status, StatusCode::NOT_FOUND);
        let clients = system.ledger.clients().await.unwrap();
        let reader = clients
            .iter()
            .find(|client| client.name.starts_with("reader-") && !client.disabled)
            .unwrap();
        assert_eq!(reader.scopes, [Scope::Read]);
        let now = system.service.now();
        system
            .ledger
            .disable_client(&reader.name, now)
            .await
            .unwrap();
        let after = send(&system.router, get(&path, Some(&system.tokens.reader))).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
        assert!(matches!(
            system.ledger.disable_client(&reader.name, now).await,
            Err(issuer::ledger::LedgerError::NotFound)
        ));
        let audit = system.ledger.audit_log(0, 1_000).await.unwrap();
        assert!(audit.iter().any(|entry| entry.action == "client_disabled"
            && entry.detail.as_deref() == Some(&format!("client={}", reader.name))));
    }
}

#[tokio::test]
async fn invalid_fields_are_422_naming_the_field() {
    for system in systems().await {
        type Case = (&'static str, fn(&mut Value), &'static str);
        let cases: [Case; 6] = [
            (
                "product outside the value set",
                |b| b["vaccination"]["mp"] = json!("EU/1/99/9999"),
                "vaccination.mp",
            ),
            (
                "manufacturer not allowed for the product",
                |b| b["vaccination"]["ma"] = json!("ORG-100001699"),
                // The product is what the encoding instructions are keyed by.
                "vaccination.mp",
            ),
            (
                "future vaccination date",
                |b| b["vaccination"]["dt"] = json!("2999-01-01"),
                "vaccination.dt",
            ),
            (
                "invalid registry transliteration",
                |b| b["person"]["fnt"] = json!("nguyen"),
                "person.fnt",
            ),
            (
                "bidi control in a name",
                |b| b["person"]["gn"] = json!("B\u{202e}ảo"),
                "person.gn",
            ),
            (
                "unknown superseded dose event",
                |b| b["supersedes_dose_event_id"] = json!("dose-never-seen"),
                "supersedes_dose_event_id",
            ),
        ];
        for (what, change, field) in cases {
            let mut body = confirmation_body(&dose_event_id());
            change(&mut body);
            let answer = send(
                &system.router,
                confirm_request(&system.tokens.registry, &body),
            )
            .await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
            assert_eq!(answer.json["field"], field, "{what}: {}", answer.json);
            let key = body["dose_event_id"].as_str().unwrap();
            assert!(
                system.ledger.dose_event(key).await.unwrap().is_none(),
                "{what}"
            );
        }

        // Shape errors name the field, never the input (an unknown key may be a name): unknown
        // field, wrong type, key and body disagreeing, no key.
        let mut unknown = confirmation_body(&dose_event_id());
        unknown["person"]["Trần Thị Mai"] = json!("Duy");
        let answer = send(
            &system.router,
            confirm_request(&system.tokens.registry, &unknown),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.json["message"], "person: unknown field");
        assert!(!String::from_utf8_lossy(&answer.bytes).contains("Trần"));
        let mut mistyped = confirmation_body(&dose_event_id());
        mistyped["person"]["dob"] = json!(1983);
        let answer = send(
            &system.router,
            confirm_request(&system.tokens.registry, &mistyped),
        )
        .await;
        assert_eq!(answer.json["message"], "person.dob: wrong type or value");

        let body = confirmation_body(&dose_event_id());
        let bytes = body.to_string();
        let mismatch = post_json(
            CONFIRMATIONS,
            Some(&system.tokens.registry),
            Some("another-key"),
            bytes.as_bytes(),
        );
        let answer = send(&system.router, mismatch).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.json["field"], "Idempotency-Key");
        let keyless = post_json(
            CONFIRMATIONS,
            Some(&system.tokens.registry),
            None,
            bytes.as_bytes(),
        );
        let answer = send(&system.router, keyless).await;
        assert_eq!(answer.json["field"], "Idempotency-Key");
    }
}

#[tokio::test]
async fn implausible_names_and_doses_are_422_naming_the_field() {
    for system in systems().await {
        type Case = (&'static str, fn(&mut Value), &'static str, &'static str);
        let cases: [Case; 11] = [
            (
                "registry transliteration not that of fn",
                |b| b["person"]["fnt"] = json!("NGUYEN<VAN"),
                "person.fnt",
                "not the ICAO 9303 transliteration",
            ),
            (
                "zero-width space",
                |b| b["person"]["gn"] = json!("Bảo\u{200B}Duy"),
                "person.gn",
                "invisible",
            ),
            (
                "line separator",
                |b| b["person"]["fn"] = json!("Nguyễn\u{2028}"),
                "person.fn",
                "line break",
            ),
            (
                "variation selector",
                |b| b["person"]["gn"] = json!("Bảo Duy\u{FE0F}"),
                "person.gn",
                "variation selector",
            ),
            (
                "three combining marks on one letter",
                |b| b["person"]["fn"] = json!("Nguye\u{302}\u{303}\u{323}n"),
                "person.fn",
                "combining marks",
            ),
            (
                "vaccinated before birth",
                |b| b["person"]["dob"] = json!("2021-09-15"),
                "vaccination.dt",
                "date of birth",
            ),
            (
                "vaccinated before vaccination began",
                |b| b["vaccination"]["dt"] = json!("2020-11-30"),
                "vaccination.dt",
                "2020-12-01",
            ),
            (
                "dose number above the schema's 9",
                |b| {
                    b["vaccination"]["dn"] = json!(10);
                    b["vaccination"]["sd"] = json!(10);
                },
                "vaccination.dn",
                "between 1 and 9",
            ),
            (
                "booster encoded 3/2",
                |b| b["vaccination"]["dn"] = json!(3),
                "vaccination.dn",
                "encoded n/n",
            ),
            (
                "no name at all",
                |b| {
                    let person = b["person"].as_object_mut().unwrap();
                    person.remove("fn");
                    person.remove("gn");
                },
                "person.fn",
                "missing",
            ),
            (
                "invisible character in the lot number",
                |b| b["vaccination"]["lot_number"] = json!("\u{FEFF}FF2587"),
                "vaccination.lot_number",
                "invisible",
            ),
        ];
        for (what, change, field, message) in cases {
            let mut body = confirmation_body(&dose_event_id());
            change(&mut body);
            let answer = send(
                &system.router,
                confirm_request(&system.tokens.registry, &body),
            )
            .await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
            assert_eq!(answer.json["error"], "invalid_field", "{what}");
            assert_eq!(answer.json["field"], field, "{what}: {}", answer.json);
            let text = answer.json["message"].as_str().unwrap();
            assert!(text.contains(message), "{what}: {text}");
            let key = body["dose_event_id"].as_str().unwrap();
            assert!(
                system.ledger.dose_event(key).await.unwrap().is_none(),
                "{what}"
            );
        }
    }
}

/// Issues `body` and returns the `nam` and `v[0]` of the certificate, as a foreign verifier reads them.
async fn issued_names_and_dose(system: &TestSystem, body: &Value) -> (Value, Value) {
    let answer = send(
        &system.router,
        confirm_request(&system.tokens.registry, body),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
    let report = foreign_verifier(system).await.verify(
        Input::Text(answer.json["hc1"].as_str().unwrap()),
        now(),
        Detail {
            payload: true,
            unverified: false,
        },
    );
    assert!(report.valid, "{}", report.to_json_line());
    let dcc = report.dcc.unwrap();
    (dcc["nam"].clone(), dcc["v"][0].clone())
}

#[tokio::test]
async fn names_are_signed_tidied_a_single_name_as_fn_and_boosters_n_over_n() {
    for system in systems().await {
        let mut body = confirmation_body(&dose_event_id());
        body["person"]["fn"] = json!("  Nguyễn   Văn  ");
        body["person"]["gn"] = json!("\u{a0}Bảo  Duy ");
        body["person"]["gnt"] = json!("BAO<DUY");
        let (nam, _) = issued_names_and_dose(&system, &body).await;
        assert_eq!(
            nam,
            json!({"fn": "Nguyễn Văn", "fnt": "NGUYEN<VAN", "gn": "Bảo Duy", "gnt": "BAO<DUY"})
        );

        // Someone with one name only: the registry sends it as gn; it is signed as fn/fnt.
        let mut body = confirmation_body(&dose_event_id());
        body["person"].as_object_mut().unwrap().remove("fn");
        body["person"]["gn"] = json!("H'Hen");
        let (nam, _) = issued_names_and_dose(&system, &body).await;
        assert_eq!(nam, json!({"fn": "H'Hen", "fnt": "HHEN"}));

        // A first booster after two doses, as the EU guidance of December 2021 encodes it.
        let mut body = confirmation_body(&dose_event_id());
        body["vaccination"]["dn"] = json!(3);
        body["vaccination"]["sd"] = json!(3);
        let (_, dose) = issued_names_and_dose(&system, &body).await;
        assert_eq!((&dose["dn"], &dose["sd"]), (&json!(3), &json!(3)));
    }
}

#[tokio::test]
async fn oversized_bodies_are_413_and_other_media_types_415() {
    for system in systems().await {
        let key = dose_event_id();
        let mut body = confirmation_body(&key);
        body["provenance"]["registry_record_id"] = json!("R".repeat(20_000));
        let answer = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

        let body = confirmation_body(&key);
        let text = Request::post(CONFIRMATIONS)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", system.tokens.registry),
            )
            .header(header::CONTENT_TYPE, "text/plain")
            .header("Idempotency-Key", key.as_str())
            .body(Body::from(body.to_string()))
            .unwrap();
        let answer = send(&system.router, text).await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(system.ledger.dose_event(&key).await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_identical_confirmations_make_exactly_one_certificate() {
    for system in systems().await {
        let body = confirmation_body(&dose_event_id());
        let key = body["dose_event_id"].as_str().unwrap().to_owned();
        let mut tasks = Vec::new();
        for _ in 0..1_000 {
            let router = system.router.clone();
            let request = confirm_request(&system.tokens.registry, &body);
            tasks.push(tokio::spawn(async move { send(&router, request).await }));
        }
        let mut created = 0;
        let mut bodies = std::collections::HashSet::new();
        for task in tasks {
            let answer = task.await.unwrap();
            match answer.status {
                StatusCode::CREATED => created += 1,
                StatusCode::OK => {}
                other => panic!("unexpected {other}: {}", answer.json),
            }
            bodies.insert(answer.bytes);
        }
        assert_eq!(created, 1);
        assert_eq!(bodies.len(), 1, "every answer carries the same certificate");
        let certificates = system.ledger.certificates_of(&key).await.unwrap();
        assert_eq!(certificates.len(), 1);
    }
}

#[tokio::test]
async fn a_correction_issues_a_new_certificate_and_revokes_the_old_one() {
    for system in systems().await {
        let original = confirmation_body(&dose_event_id());
        let first = send(
            &system.router,
            confirm_request(&system.tokens.registry, &original),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let old_uvci = first.json["uvci"].as_str().unwrap().to_owned();

        let mut corrected = confirmation_body(&dose_event_id());
        corrected["supersedes_dose_event_id"] = original["dose_event_id"].clone();
        corrected["person"]["gn"] = json!("Bảo Dũng");
        let second = send(
            &system.router,
            confirm_request(&system.tokens.registry, &corrected),
        )
        .await;
        assert_eq!(second.status, StatusCode::CREATED, "{}", second.json);
        assert_ne!(second.json["uvci"].as_str().unwrap(), old_uvci);

        let old = send(
            &system.router,
            get(&certificate_path(&old_uvci), Some(&system.tokens.reader)),
        )
        .await;
        assert_eq!(old.status, StatusCode::OK);
        assert_eq!(old.json["status"], "revoked");
        assert_eq!(old.json["status_reason"], "corrected");
        assert!(
            old.json.get("hc1").is_none(),
            "status answers carry no certificate"
        );

        // The old certificate is on the published revocation list.
        let list = send(&system.router, get("/revocation-list", None)).await;
        assert_eq!(list.status, StatusCode::OK);
        let pinned = PinnedKey::from_spki_der(Backend::default(), &system.pin_spki).unwrap();
        let revocations =
            RevocationList::verify(&list.bytes, &[pinned], now().unix_timestamp()).unwrap();
        let query = RevocationQuery {
            uvci: &old_uvci,
            iss: Some("VN"),
            signature: &[],
            is_es256: true,
        };
        assert!(revocations.is_revoked(&query).is_some());
    }
}

/// The status (`active`, `revoked`, …) of the certificate with this UVCI, read by the reader client.
async fn status_of(system: &TestSystem, uvci: &str) -> String {
    let answer = send(
        &system.router,
        get(&certificate_path(uvci), Some(&system.tokens.reader)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["status"].as_str().unwrap().to_owned()
}

/// A correction of `original` (a new dose event id), by the same person with a corrected given name.
fn correction_of(original: &Value) -> Value {
    let mut corrected = confirmation_body(&dose_event_id());
    corrected["supersedes_dose_event_id"] = original["dose_event_id"].clone();
    corrected["person"]["gn"] = json!("Bảo Dũng");
    corrected
}

#[tokio::test]
async fn correcting_another_clients_dose_event_needs_the_correct_scope() {
    for system in systems().await {
        let original = confirmation_body(&dose_event_id());
        let first = send(
            &system.router,
            confirm_request(&system.tokens.registry, &original),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let old_uvci = first.json["uvci"].as_str().unwrap().to_owned();

        // Another registry, without `correct`: 403 naming the field, nothing recorded.
        let foreign = correction_of(&original);
        let refused = send(
            &system.router,
            confirm_request(&system.tokens.other_registry, &foreign),
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.json);
        assert_eq!(refused.json["error"], "correction_forbidden");
        assert_eq!(refused.json["field"], "supersedes_dose_event_id");
        assert!(refused.json.get("hc1").is_none());
        let foreign_id = foreign["dose_event_id"].as_str().unwrap();
        assert!(
            system
                .ledger
                .dose_event(foreign_id)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(status_of(&system, &old_uvci).await, "active");

        // A client with `correct`: 201, the original's certificate revoked.
        let fixed = correction_of(&original);
        let accepted = send(
            &system.router,
            confirm_request(&system.tokens.corrector, &fixed),
        )
        .await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.json);
        assert_eq!(status_of(&system, &old_uvci).await, "revoked");
        let new_uvci = accepted.json["uvci"].as_str().unwrap();
        assert_eq!(status_of(&system, new_uvci).await, "active");

        // Only one correction wins: correcting the original again is 409, nothing recorded.
        let late = correction_of(&original);
        let conflict = send(
            &system.router,
            confirm_request(&system.tokens.corrector, &late),
        )
        .await;
        assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.json);
        assert_eq!(conflict.json["error"], "already_corrected");
        assert_eq!(conflict.json["field"], "supersedes_dose_event_id");
        let late_id = late["dose_event_id"].as_str().unwrap();
        assert!(system.ledger.dose_event(late_id).await.unwrap().is_none());
        assert_eq!(status_of(&system, new_uvci).await, "active");

        // The client that confirmed a dose event corrects it without `correct`.
        let own = confirmation_body(&dose_event_id());
        let own_answer = send(
            &system.router,
            confirm_request(&system.tokens.other_registry, &own),
        )
        .await;
        assert_eq!(own_answer.status, StatusCode::CREATED);
        let own_fix = send(
            &system.router,
            confirm_request(&system.tokens.other_registry, &correction_of(&own)),
        )
        .await;
        assert_eq!(own_fix.status, StatusCode::CREATED, "{}", own_fix.json);
    }
}

#[tokio::test]
async fn correcting_another_persons_dose_event_is_422() {
    for system in systems().await {
        let original = confirmation_body(&dose_event_id());
        let first = send(
            &system.router,
            confirm_request(&system.tokens.registry, &original),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let old_uvci = first.json["uvci"].as_str().unwrap().to_owned();

        for token in [&system.tokens.registry, &system.tokens.corrector] {
            let mut stranger = correction_of(&original);
            stranger["person"]["dob"] = json!("1983-10-11");
            let refused = send(&system.router, confirm_request(token, &stranger)).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(refused.json["error"], "invalid_field");
            assert_eq!(refused.json["field"], "supersedes_dose_event_id");
            let id = stranger["dose_event_id"].as_str().unwrap();
            assert!(system.ledger.dose_event(id).await.unwrap().is_none());
        }
        assert_eq!(status_of(&system, &old_uvci).await, "active");

        // The same date of birth with less precision is the same person.
        let mut year_only = correction_of(&original);
        year_only["person"]["dob"] = json!("1983");
        let accepted = send(
            &system.router,
            confirm_request(&system.tokens.registry, &year_only),
        )
        .await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.json);
        assert_eq!(status_of(&system, &old_uvci).await, "revoked");
    }
}

#[tokio::test]
async fn twenty_concurrent_corrections_leave_exactly_one_active_certificate() {
    for system in systems().await {
        let original = confirmation_body(&dose_event_id());
        let first = send(
            &system.router,
            confirm_request(&system.tokens.registry, &original),
        )
        .await;
        assert_eq!(first.status, StatusCode::CREATED);
        let original_id = original["dose_event_id"].as_str().unwrap().to_owned();

        let corrections: Vec<Value> = (0..20).map(|_| correction_of(&original)).collect();
        let tasks: Vec<_> = corrections
            .iter()
            .map(|body| {
                let router = system.router.clone();
                let request = confirm_request(&system.tokens.registry, body);
                tokio::spawn(async move { send(&router, request).await })
            })
            .collect();
        let mut created = Vec::new();
        let mut conflicts = 0;
        for (task, body) in tasks.into_iter().zip(&corrections) {
            let answer = task.await.unwrap();
            let id = body["dose_event_id"].as_str().unwrap().to_owned();
            match answer.status {
                StatusCode::CREATED => created.push(id),
                StatusCode::CONFLICT => {
                    assert_eq!(answer.json["error"], "already_corrected");
                    assert_eq!(answer.json["field"], "supersedes_dose_event_id");
                    assert!(system.ledger.dose_event(&id).await.unwrap().is_none());
                    conflicts += 1;
                }
                other => panic!("unexpected {other}: {}", answer.json),
            }
        }
        assert_eq!(created.len(), 1);
        assert_eq!(conflicts, 19);

        let ids = std::iter::once(original_id.clone()).chain(
            corrections
                .iter()
                .map(|body| body["dose_event_id"].as_str().unwrap().to_owned()),
        );
        let mut active = Vec::new();
        for id in ids {
            for certificate in system.ledger.certificates_of(&id).await.unwrap() {
                if certificate.status.as_str() == "active" {
                    active.push(certificate.dose_event_id);
                }
            }
        }
        assert_eq!(
            active, created,
            "exactly one active certificate: the winner's"
        );
        let (event, _) = system
            .ledger
            .dose_event(&original_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(event.superseded_by.as_ref(), created.first());
    }
}

#[tokio::test]
async fn certificate_status_by_percent_encoded_uvci() {
    for system in systems().await {
        let body = confirmation_body(&dose_event_id());
        let issued = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        let uvci = issued.json["uvci"].as_str().unwrap();
        let status = send(
            &system.router,
            get(&certificate_path(uvci), Some(&system.tokens.reader)),
        )
        .await;
        assert_eq!(status.status, StatusCode::OK);
        assert_eq!(status.json["uvci"], uvci);
        assert_eq!(status.json["status"], "active");
        assert_eq!(status.json["generation"], 0);
        assert_eq!(status.json["dose_event_id"], body["dose_event_id"]);

        let unknown = send(
            &system.router,
            get(
                &certificate_path("URN:UVCI:01:VN:00000000000000000000000000000000#0"),
                Some(&system.tokens.reader),
            ),
        )
        .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        let anonymous = send(&system.router, get(&certificate_path(uvci), None)).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn revocation_endpoint_feeds_the_revocation_list() {
    for system in systems().await {
        let body = confirmation_body(&dose_event_id());
        let issued = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        let uvci = issued.json["uvci"].as_str().unwrap();
        let path = format!("{}/revocation", certificate_path(uvci));
        let before = send(&system.router, get("/revocation-list", None)).await;

        let refused = send(
            &system.router,
            post_json(
                &path,
                Some(&system.tokens.registry),
                None,
                br#"{"reason":"fraud"}"#,
            ),
        )
        .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let bad_reason = send(
            &system.router,
            post_json(
                &path,
                Some(&system.tokens.revoker),
                None,
                br#"{"reason":"bored"}"#,
            ),
        )
        .await;
        assert_eq!(bad_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
        let revoked = send(
            &system.router,
            post_json(
                &path,
                Some(&system.tokens.revoker),
                None,
                br#"{"reason":"fraud"}"#,
            ),
        )
        .await;
        assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.json);
        assert_eq!(revoked.json["status"], "revoked");
        let twice = send(
            &system.router,
            post_json(
                &path,
                Some(&system.tokens.revoker),
                None,
                br#"{"reason":"fraud"}"#,
            ),
        )
        .await;
        assert_eq!(twice.status, StatusCode::CONFLICT);

        let after = send(&system.router, get("/revocation-list", None)).await;
        assert_ne!(after.headers[header::ETAG], before.headers[header::ETAG]);
        let pinned = PinnedKey::from_spki_der(Backend::default(), &system.pin_spki).unwrap();
        let list = RevocationList::verify(&after.bytes, &[pinned], now().unix_timestamp()).unwrap();
        let query = RevocationQuery {
            uvci,
            iss: Some("VN"),
            signature: &[],
            is_es256: true,
        };
        assert!(list.is_revoked(&query).is_some());

        // A verifier with the list refuses the certificate.
        let verifier = foreign_verifier(&system)
            .await
            .with_revocation(Arc::new(list));
        let report = verifier.verify(
            Input::Text(issued.json["hc1"].as_str().unwrap()),
            now(),
            Detail::default(),
        );
        assert_eq!(report.code.as_str(), "E_REVOKED");
    }
}

#[tokio::test]
async fn published_documents_answer_conditional_gets() {
    for system in systems().await {
        for path in [
            "/trust-list",
            "/trust-list/dsc",
            "/trust-list/anchors",
            "/revocation-list",
        ] {
            let first = send(&system.router, get(path, None)).await;
            assert_eq!(first.status, StatusCode::OK, "{path}");
            let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
            assert!(etag.starts_with('"') && etag.ends_with('"'));
            assert!(!first.bytes.is_empty());
            let conditional = Request::get(path)
                .header(header::IF_NONE_MATCH, format!("\"other\", {etag}"))
                .body(Body::empty())
                .unwrap();
            let second = send(&system.router, conditional).await;
            assert_eq!(second.status, StatusCode::NOT_MODIFIED, "{path}");
            assert!(second.bytes.is_empty());
            let stale = Request::get(path)
                .header(header::IF_NONE_MATCH, "\"other\"")
                .body(Body::empty())
                .unwrap();
            assert_eq!(send(&system.router, stale).await.status, StatusCode::OK);
        }
    }
}

/// The OpenAPI document describes exactly the routes the router answers.
#[tokio::test]
async fn openapi_describes_every_route() {
    logs();
    let system = system(support::sqlite_ledger().await, ApiConfig::default()).await;
    let answer = send(&system.router, get("/openapi.json", None)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let paths = answer.json["paths"].as_object().unwrap();
    let uvci = "URN%3AUVCI%3A01%3AVN%3A00000000000000000000000000000000%230";
    for (path, operations) in paths {
        let concrete = path.replace("{uvci}", uvci);
        for method in operations.as_object().unwrap().keys() {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(Body::empty())
                .unwrap();
            let status = send(&system.router, request).await.status;
            if !path.starts_with("/internal") {
                assert_eq!(status, StatusCode::OK, "{method} {path}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path}: routed, then authenticated"
                );
            }
        }
    }
    assert_eq!(paths.len(), 10);
}

/// `/metrics` counts answers and their latency by route template (never a UVCI), and certificates
/// issued (a 201, not a replay).
#[tokio::test]
async fn metrics_count_answers_by_route_template() {
    logs();
    let system = system(support::sqlite_ledger().await, ApiConfig::default()).await;
    let before = send(&system.router, get("/metrics", None)).await;
    let before = String::from_utf8(before.bytes).unwrap();
    assert!(
        before
            .lines()
            .any(|l| l == "vaxcert_certificates_issued_total 0"),
        "{before}"
    );
    let body = confirmation_body(&dose_event_id());
    let issued = send(
        &system.router,
        confirm_request(&system.tokens.registry, &body),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED);
    send(
        &system.router,
        confirm_request(&system.tokens.registry, &body),
    )
    .await;
    send(&system.router, confirm_request("vxc_wrong", &body)).await;
    let uvci = issued.json["uvci"].as_str().unwrap();
    send(
        &system.router,
        get(&certificate_path(uvci), Some(&system.tokens.reader)),
    )
    .await;
    let answer = send(&system.router, get("/metrics", None)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let text = String::from_utf8(answer.bytes).unwrap();
    for line in [
        r#"vaxcert_http_requests_total{route="/internal/v1/dose-confirmations",status="201"} 1"#,
        r#"vaxcert_http_requests_total{route="/internal/v1/dose-confirmations",status="200"} 1"#,
        r#"vaxcert_http_requests_total{route="/internal/v1/dose-confirmations",status="401"} 1"#,
        r#"vaxcert_http_requests_total{route="/internal/v1/certificates/{uvci}",status="200"} 1"#,
        r#"vaxcert_http_request_duration_seconds_count{route="/internal/v1/dose-confirmations"} 3"#,
        r#"vaxcert_http_request_duration_seconds_bucket{route="/internal/v1/dose-confirmations",le="+Inf"} 3"#,
        // The replay answers 200: one certificate issued, not two.
        "vaxcert_certificates_issued_total 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from:\n{text}"
        );
    }
    assert!(!text.contains("URN") && !text.contains(uvci));
}

#[tokio::test]
async fn each_client_is_rate_limited() {
    let config = ApiConfig {
        rate_limit: RateLimit {
            per_second: 1,
            burst: 2,
        },
        ..ApiConfig::default()
    };
    for system in systems_with(config).await {
        let path = certificate_path("URN:UVCI:01:VN:00000000000000000000000000000000#0");
        let statuses: Vec<StatusCode> = {
            let mut statuses = Vec::new();
            for _ in 0..3 {
                statuses.push(
                    send(&system.router, get(&path, Some(&system.tokens.reader)))
                        .await
                        .status,
                );
            }
            statuses
        };
        assert_eq!(
            statuses,
            [
                StatusCode::NOT_FOUND,
                StatusCode::NOT_FOUND,
                StatusCode::TOO_MANY_REQUESTS
            ]
        );
        // Another client has its own budget.
        let other = send(&system.router, get(&path, Some(&system.tokens.registry))).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn database_down_is_503_and_no_certificate_leaves() {
    for system in systems().await {
        system.ledger.close().await;
        let body = confirmation_body(&dose_event_id());
        let answer = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(answer.headers.contains_key(header::RETRY_AFTER));
        let text = String::from_utf8_lossy(&answer.bytes);
        assert!(
            !text.contains("HC1:") && !text.contains("URN:UVCI"),
            "{text}"
        );
        let health = send(&system.router, get("/healthz", None)).await;
        assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    }
}

#[tokio::test]
async fn exp_is_never_past_the_dscs_not_after() {
    for system in systems().await {
        // Ten days before the DSC expires, a certificate valid for a year would outlive it.
        let now = system.service.now();
        system.advance(system.dsc_not_after - now - 10 * 86_400);
        let body = confirmation_body(&dose_event_id());
        let issued = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.json);
        assert_eq!(issued.json["exp"].as_i64().unwrap(), system.dsc_not_after);

        // Past it, nothing is issued at all.
        system.advance(11 * 86_400);
        let late = confirmation_body(&dose_event_id());
        let refused = send(
            &system.router,
            confirm_request(&system.tokens.registry, &late),
        )
        .await;
        assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(refused.json.get("hc1").is_none());
        let key = late["dose_event_id"].as_str().unwrap();
        assert!(system.ledger.dose_event(key).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn renewal_resigns_certificates_about_to_expire_and_supersedes_the_old_ones() {
    for system in systems().await {
        let soon = confirmation_body(&dose_event_id());
        let issued = send(
            &system.router,
            confirm_request(&system.tokens.registry, &soon),
        )
        .await;
        let old_uvci = issued.json["uvci"].as_str().unwrap().to_owned();
        let old_exp = issued.json["exp"].as_i64().unwrap();

        // 340 days later the first certificate expires within 30 days; one issued now does not.
        system.advance(340 * 86_400);
        let later = confirmation_body(&dose_event_id());
        let fresh = send(
            &system.router,
            confirm_request(&system.tokens.registry, &later),
        )
        .await;
        assert_eq!(fresh.status, StatusCode::CREATED);

        let mut seen = 0;
        let summary = system
            .service
            .renew_expiring(30 * 86_400, "test", |_| seen += 1)
            .await
            .unwrap();
        assert_eq!((summary.renewed, summary.failed), (1, 0));
        assert_eq!(seen, 1);

        let key = soon["dose_event_id"].as_str().unwrap();
        let generations = system.ledger.certificates_of(key).await.unwrap();
        assert_eq!(generations.len(), 2);
        let (old, new) = (&generations[0], &generations[1]);
        assert_eq!(old.uvci, old_uvci);
        assert_eq!(old.status.as_str(), "superseded");
        assert_eq!(old.superseded_by.as_deref(), Some(new.uvci.as_str()));
        assert_eq!(new.status.as_str(), "active");
        assert_eq!(new.generation, 1);
        assert_ne!(new.uvci, old.uvci);
        assert!(new.exp > old_exp);
        assert!(new.exp <= system.dsc_not_after);

        // The renewal verifies; the superseded one stays valid until its own expiry.
        let verifier = foreign_verifier(&system).await;
        let at = OffsetDateTime::from_unix_timestamp(system.service.now()).unwrap();
        for hc1 in [&new.hc1, &old.hc1] {
            let report = verifier.verify(Input::Text(hc1), at, Detail::default());
            assert!(report.valid, "{}", report.to_json_line());
        }
        // A replay of the original confirmation still answers with the original certificate.
        let replay = send(
            &system.router,
            confirm_request(&system.tokens.registry, &soon),
        )
        .await;
        assert_eq!(replay.status, StatusCode::OK);
        assert_eq!(replay.json["uvci"], old_uvci.as_str());

        // Nothing left to renew.
        let again = system
            .service
            .renew_expiring(30 * 86_400, "test", |_| {})
            .await
            .unwrap();
        assert_eq!((again.renewed, again.failed), (0, 0));

        // A window longer than the validity ends: what this run signs is not renewed again.
        system.advance(86_400);
        let long = system
            .service
            .renew_expiring(400 * 86_400, "test", |_| {})
            .await
            .unwrap();
        assert_eq!((long.renewed, long.failed), (2, 0));
    }
}

/// Log lines name clients and outcomes, never a UVCI, a name, a date of birth or an id number. The
/// capture is process-wide (tracing's callsite cache makes per-thread capture unreliable beside other
/// tests), so what is checked is every line every test of this binary has logged so far.
#[tokio::test]
async fn logs_carry_no_personal_data_and_no_uvci() {
    let mut uvcis = Vec::new();
    for system in systems().await {
        let body = confirmation_body(&dose_event_id());
        let issued = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        assert_eq!(issued.status, StatusCode::CREATED);
        let uvci = issued.json["uvci"].as_str().unwrap().to_owned();
        send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        let mut conflicting = body.clone();
        conflicting["person"]["dob"] = json!("1983-10-11");
        send(
            &system.router,
            confirm_request(&system.tokens.registry, &conflicting),
        )
        .await;
        let mut invalid = confirmation_body(&dose_event_id());
        invalid["vaccination"]["mp"] = json!("EU/1/99/9999");
        send(
            &system.router,
            confirm_request(&system.tokens.registry, &invalid),
        )
        .await;
        send(&system.router, confirm_request("vxc_wrong", &body)).await;
        send(
            &system.router,
            get(&certificate_path(&uvci), Some(&system.tokens.reader)),
        )
        .await;
        let path = format!("{}/revocation", certificate_path(&uvci));
        send(
            &system.router,
            post_json(
                &path,
                Some(&system.tokens.revoker),
                None,
                br#"{"reason":"fraud"}"#,
            ),
        )
        .await;
        uvcis.push(uvci);
    }
    let logs = String::from_utf8(logs().0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("dose confirmation"),
        "the requests were logged: {logs}"
    );
    assert!(logs.contains("refused"));
    for secret in [
        "Nguyễn",
        "NGUYEN",
        "Bảo",
        "1983-10-1",
        "001083012345",
        "+8491",
        "HC1:",
        "URN:UVCI",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain(uvcis)
    {
        assert!(
            !logs.contains(&secret),
            "a log line carries {secret:?}:\n{logs}"
        );
    }
}

/// Every log line of this test binary, from the first test that builds a system on.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide log capture, installed on first use.
fn logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        captured
    })
}

/// A TCP proxy in front of PostgreSQL that can be cut, as a network partition or a crashed server would.
struct Partition {
    address: std::net::SocketAddr,
    tasks: Arc<Mutex<tokio::task::JoinSet<()>>>,
    acceptor: tokio::task::JoinHandle<()>,
}

impl Partition {
    async fn start(target: String, address: Option<std::net::SocketAddr>) -> Partition {
        let listener = tokio::net::TcpListener::bind(address.unwrap_or(([127, 0, 0, 1], 0).into()))
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let tasks = Arc::new(Mutex::new(tokio::task::JoinSet::new()));
        let connections = Arc::clone(&tasks);
        let acceptor = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                connections.lock().unwrap().spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Partition {
            address,
            tasks,
            acceptor,
        }
    }

    /// Refuses new connections and drops the open ones.
    fn cut(&self) {
        self.acceptor.abort();
        self.tasks.lock().unwrap().abort_all();
    }
}

/// `url` with its `host:port` replaced by `address`.
fn through(url: &str, address: std::net::SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (credentials, rest) = rest.rsplit_once('@').map_or(("", rest), |(c, r)| (c, r));
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (target, path) = rest.split_at(end);
    let at = if credentials.is_empty() { "" } else { "@" };
    (
        format!("{scheme}://{credentials}{at}{address}{path}"),
        target.to_owned(),
    )
}

/// The database going away mid-service (PostgreSQL behind a cut connection): 503, no certificate leaves,
/// and once it is back the same request is issued — nothing half-done was left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_is_503_and_nothing_is_half_done() {
    let Some(url) = support::postgres_url().await else {
        eprintln!("skipped: DATABASE_URL is not set");
        return;
    };
    logs();
    let (_, target) = through(&url, ([127, 0, 0, 1], 0).into());
    let proxy = Partition::start(target.clone(), None).await;
    let (proxied, _) = through(&url, proxy.address);
    let ledger = issuer::ledger::Ledger::open(&proxied).await.unwrap();
    let system = system(ledger, ApiConfig::default()).await;

    let before = confirmation_body(&dose_event_id());
    let issued = send(
        &system.router,
        confirm_request(&system.tokens.registry, &before),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED);

    proxy.cut();
    let body = confirmation_body(&dose_event_id());
    let started = std::time::Instant::now();
    let down = send(
        &system.router,
        confirm_request(&system.tokens.registry, &body),
    )
    .await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.json
    );
    let text = String::from_utf8_lossy(&down.bytes);
    assert!(
        !text.contains("HC1:") && !text.contains("URN:UVCI"),
        "{text}"
    );
    eprintln!("503 after {:?}", started.elapsed());

    // Back on the same address: the request that failed is issued now, exactly once.
    let _proxy = Partition::start(target, Some(proxy.address)).await;
    let mut answer = down;
    for _ in 0..50 {
        answer = send(
            &system.router,
            confirm_request(&system.tokens.registry, &body),
        )
        .await;
        if answer.status != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
    let key = body["dose_event_id"].as_str().unwrap();
    assert_eq!(system.ledger.certificates_of(key).await.unwrap().len(), 1);
}
