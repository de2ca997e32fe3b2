//! The verifier service over HTTP: for every dgc-testdata vector, posted as text and as its picture, the
//! full answer is the library's report for the same input and clock and the minimal answer carries
//! exactly the minimal fields; the limits and refusals of `adversarial.md` ("verifier"); and no request
//! makes the service connect anywhere.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hcert::ValueSets;
use issuer::api::{ApiConfig, RateLimit, serve};
use keys::{Backend, Certificate};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};
use tower::ServiceExt as _;
use vaxcert::verifier_service::{
    self, OperatorToken, VERIFY_PATH, VerifierConfig, VerifierHandle, VerifierService,
};
use vaxcert_tests::{conformance_vectors, spec_dir, testdata_dir, value_set_documents};
use verifier::{Detail, Input, TrustStore, Verifier};

const OPERATOR: &str = "operator-token-for-tests";
const MINIMAL_FIELDS: [&str; 5] = ["code", "holder", "message", "type", "valid"];

/// An answer: status, `Cache-Control`, body as JSON.
struct Answer {
    status: StatusCode,
    cache_control: Option<String>,
    body: Value,
}

async fn call(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cache_control = response
        .headers()
        .get(header::CACHE_CONTROL)
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        cache_control,
        body,
    }
}

fn request(content_type: Option<&str>, token: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::post(VERIFY_PATH);
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body)).unwrap()
}

fn text_request(hc1: &str, token: Option<&str>) -> Request<Body> {
    let body = serde_json::to_vec(&json!({ "hc1": hc1 })).unwrap();
    request(Some("application/json"), token, body)
}

fn service(verifier: Verifier, at: OffsetDateTime, config: VerifierConfig) -> Router {
    verifier_service::router(
        VerifierService::new(VerifierHandle::new(verifier), Arc::new(move || at), config)
            .with_operator_token(OperatorToken::new(OPERATOR)),
    )
}

fn parse_clock(clock: &str) -> OffsetDateTime {
    OffsetDateTime::parse(clock, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(clock, &Iso8601::DEFAULT))
        .unwrap()
}

/// The verifier and clock of a vector, as tests/tests/conformance.rs builds them.
fn vector_verifier(
    vector: &Value,
    value_sets: Option<Arc<ValueSets>>,
) -> (Verifier, OffsetDateTime) {
    let mut trust = TrustStore::new(Backend::default());
    if let Some(certificate) = vector["TESTCTX"]["CERTIFICATE"].as_str()
        && let Ok(certificate) = Certificate::parse_any(certificate.as_bytes())
    {
        trust.insert(certificate);
    }
    let at = vector["TESTCTX"]["VALIDATIONCLOCK"]
        .as_str()
        .map(parse_clock)
        .unwrap_or_else(OffsetDateTime::now_utc);
    (Verifier::new(Arc::new(trust), value_sets), at)
}

/// Checks one posted input: the full answer is the library's report, the minimal one its minimal part.
async fn check_input(
    router: &Router,
    library: &Verifier,
    at: OffsetDateTime,
    input: Input<'_>,
    name: &str,
) -> bool {
    let make = |token: Option<&str>| match input {
        Input::Text(text) => text_request(text, token),
        Input::Image(bytes) => request(Some("image/png"), token, bytes.to_vec()),
        Input::Rgba { .. } => panic!("the service takes no raw pixels"),
    };
    let full_report = library.verify(
        input,
        at,
        Detail {
            payload: true,
            unverified: false,
        },
    );
    let expected: Value = serde_json::from_str(&full_report.to_json_line()).unwrap();
    let full = call(router, make(Some(OPERATOR))).await;
    assert_eq!(full.status, StatusCode::OK, "{name}");
    assert_eq!(full.cache_control.as_deref(), Some("no-store"), "{name}");
    assert_eq!(full.body, expected, "{name}: full report");

    let minimal = call(router, make(None)).await;
    assert_eq!(minimal.status, StatusCode::OK, "{name}");
    assert_eq!(minimal.cache_control.as_deref(), Some("no-store"), "{name}");
    let fields: BTreeSet<&str> = minimal
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, BTreeSet::from(MINIMAL_FIELDS), "{name}");
    for field in MINIMAL_FIELDS {
        assert_eq!(minimal.body[field], expected[field], "{name}: {field}");
    }
    full_report.valid
}

#[tokio::test]
async fn every_vector_gets_the_library_report_as_text_and_as_picture() {
    let Some(testdata) = testdata_dir() else {
        return;
    };
    let value_sets = spec_dir().map(|spec| {
        let documents = value_set_documents(&spec);
        Arc::new(ValueSets::from_documents(documents.iter().map(String::as_str)).unwrap())
    });
    let (mut texts, mut pictures, mut valid) = (0, 0, 0);
    for path in conformance_vectors(&testdata) {
        let name = path.display().to_string();
        let vector: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(prefix) = vector["PREFIX"].as_str().filter(|p| !p.is_empty()) else {
            continue;
        };
        let (library, at) = vector_verifier(&vector, value_sets.clone());
        let router = service(library.clone(), at, VerifierConfig::default());
        texts += 1;
        if check_input(&router, &library, at, Input::Text(prefix), &name).await {
            valid += 1;
        }
        if let Some(picture) = vector["2DCODE"].as_str().filter(|p| !p.is_empty()) {
            let png = STANDARD.decode(picture).unwrap();
            pictures += 1;
            check_input(&router, &library, at, Input::Image(&png), &name).await;
        }
    }
    println!("verifier service: {texts} texts ({valid} valid), {pictures} pictures");
    assert!(texts > 200, "the whole corpus: {texts}");
    assert!(pictures > 100, "pictures: {pictures}");
    assert!(valid > 50, "valid vectors: {valid}");
}

/// A verifier trusting nothing, for the refusals (whose answers do not depend on trust).
fn empty_service(config: VerifierConfig) -> Router {
    service(
        Verifier::new(Arc::new(TrustStore::new(Backend::default())), None),
        OffsetDateTime::now_utc(),
        config,
    )
}

fn assert_refused(answer: &Answer, status: StatusCode, error: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["error"], error, "{}", answer.body);
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        answer.body
    );
    assert_eq!(answer.cache_control.as_deref(), Some("no-store"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let router = empty_service(VerifierConfig::default());
    let long = format!("HC1:{}", "A".repeat(9 * 1024));
    let answer = call(&router, text_request(&long, None)).await;
    assert_refused(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Announced by Content-Length (the request above has none: found while reading): refused at once.
    let announced = Request::post(VERIFY_PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "1000000")
        .body(Body::from("{\"hc1\": \"HC1:6BF\"}"))
        .unwrap();
    let answer = call(&router, announced).await;
    assert_refused(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Pictures may be larger than JSON, up to 2 MiB.
    let picture = vec![0u8; 100 * 1024];
    let answer = call(&router, request(Some("image/png"), None, picture)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["valid"], false);
    let picture = vec![0u8; 2 * 1024 * 1024 + 1];
    let answer = call(&router, request(Some("image/jpeg"), None, picture)).await;
    assert_refused(&answer, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn other_content_types_and_malformed_json_are_refused() {
    let router = empty_service(VerifierConfig::default());
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let answer = call(&router, request(content_type, None, b"HC1:6BF".to_vec())).await;
        assert_refused(
            &answer,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
    for (body, mentions) in [
        (&b"{\"hc1\": "[..], "EOF"),
        (b"[\"HC1:6BF\"]", "not a JSON object"),
        (b"{\"hc1\": 42}", "invalid type"),
        (b"{}", "missing field `hc1`"),
        (
            b"{\"hc1\": \"HC1:6BF\", \"url\": \"x\"}",
            "unknown field `url`",
        ),
    ] {
        let answer = call(
            &router,
            request(Some("application/json; charset=utf-8"), None, body.to_vec()),
        )
        .await;
        assert_refused(
            &answer,
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_request",
        );
        let message = answer.body["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{message}");
    }
}

#[tokio::test]
async fn only_the_operator_token_unlocks_the_full_report() {
    let router = empty_service(VerifierConfig::default());
    let minimal = call(&router, text_request("HC1:6BF", None)).await;
    assert_eq!(minimal.status, StatusCode::OK);
    assert!(minimal.body.get("checks").is_none());
    let full = call(&router, text_request("HC1:6BF", Some(OPERATOR))).await;
    assert_eq!(full.status, StatusCode::OK);
    assert!(full.body["checks"].is_object(), "{}", full.body);

    // A wrong token is refused, never downgraded to the minimal answer.
    let wrong = call(&router, text_request("HC1:6BF", Some("not-the-token"))).await;
    assert_refused(&wrong, StatusCode::UNAUTHORIZED, "unauthenticated");
    let basic = Request::post(VERIFY_PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Basic {OPERATOR}"))
        .body(Body::from("{\"hc1\": \"HC1:6BF\"}"))
        .unwrap();
    assert_refused(
        &call(&router, basic).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    // Without a configured operator token, every token is refused.
    let no_operator = verifier_service::router(VerifierService::new(
        VerifierHandle::new(Verifier::new(
            Arc::new(TrustStore::new(Backend::default())),
            None,
        )),
        verifier_service::system_validation_clock(),
        VerifierConfig::default(),
    ));
    let answer = call(&no_operator, text_request("HC1:6BF", Some(OPERATOR))).await;
    assert_refused(&answer, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn saturation_is_503_and_a_flood_is_429() {
    let busy = empty_service(VerifierConfig {
        max_concurrent_verifications: 0,
        queue_timeout: Duration::ZERO,
        ..VerifierConfig::default()
    });
    let answer = call(&busy, text_request("HC1:6BF", None)).await;
    assert_refused(&answer, StatusCode::SERVICE_UNAVAILABLE, "busy");

    let limited = empty_service(VerifierConfig {
        rate_limit: RateLimit {
            per_second: 1,
            burst: 3,
        },
        ..VerifierConfig::default()
    });
    for _ in 0..3 {
        let answer = call(&limited, text_request("HC1:6BF", None)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let answer = call(&limited, text_request("HC1:6BF", None)).await;
    assert_refused(&answer, StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    // `per_second` 0 turns the limit off (`--verifier-rate-limit 0`), whatever the burst.
    let unlimited = empty_service(VerifierConfig {
        rate_limit: RateLimit {
            per_second: 0,
            burst: 1,
        },
        ..VerifierConfig::default()
    });
    for _ in 0..50 {
        let answer = call(&unlimited, text_request("HC1:6BF", None)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_openapi_documents_describe_the_verify_route() {
    let answer = call(
        &verifier_service::openapi_router(),
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body["paths"][VERIFY_PATH]["post"].is_object());
    assert!(answer.body["paths"]["/"]["get"].is_object());

    let merged =
        verifier_service::merge_openapi(issuer::api::OPENAPI, verifier_service::OPENAPI, "vaxcert")
            .unwrap();
    let merged: Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(merged["info"]["title"], "vaxcert");
    assert!(merged["paths"][VERIFY_PATH]["post"].is_object());
    assert!(merged["paths"]["/internal/v1/dose-confirmations"]["post"].is_object());
    assert!(merged["components"]["schemas"]["MinimalReport"].is_object());
    assert!(merged["components"]["schemas"]["DoseConfirmation"].is_object());
    assert!(merged["components"]["securitySchemes"]["bearer"].is_object());
    assert!(merged["components"]["securitySchemes"]["operator"].is_object());
}

/// Over a real socket, through `issuer::api::serve` (the client's address reaches the rate limiter):
/// inputs that name a loopback listener's URL never make the service connect to it.
#[test]
fn no_request_makes_the_service_fetch_anything() {
    let bait = StdListener::bind("127.0.0.1:0").unwrap();
    bait.set_nonblocking(true).unwrap();
    let url = format!("http://{}/", bait.local_addr().unwrap());

    let server = Server::start(empty_service(VerifierConfig {
        rate_limit: RateLimit {
            per_second: 1,
            burst: 20,
        },
        ..VerifierConfig::default()
    }));
    let base = format!("http://{}", server.address);

    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let post = |content_type: &str, token: Option<&str>, body: Vec<u8>| {
        let mut request = agent
            .post(format!("{base}{VERIFY_PATH}"))
            .header("Content-Type", content_type);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send(body).unwrap();
        assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
        response.status().as_u16()
    };
    let mut statuses = Vec::new();
    for hc1 in [
        format!("HC1:{url}"),
        url.clone(),
        format!("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH{url}"),
    ] {
        for token in [None, Some(OPERATOR)] {
            let body = serde_json::to_vec(&json!({ "hc1": hc1 })).unwrap();
            statuses.push(post("application/json", token, body));
        }
    }
    for body in [
        json!({"hc1": "HC1:6BF", "trust_list": url, "revocation_list": url, "kid_url": url}),
        json!({"hc1": url, "x5u": url, "jku": url}),
    ] {
        statuses.push(post(
            "application/json",
            None,
            serde_json::to_vec(&body).unwrap(),
        ));
    }
    for content_type in ["image/png", "application/octet-stream"] {
        let mut picture = b"\x89PNG\r\n\x1a\n".to_vec();
        picture.extend_from_slice(url.as_bytes());
        statuses.push(post(content_type, Some(OPERATOR), picture));
    }
    // Over the rate of this address (burst 20): refused, still without a connection anywhere.
    for _ in 0..12 {
        let body = serde_json::to_vec(&json!({ "hc1": url })).unwrap();
        statuses.push(post("application/json", None, body));
    }
    assert!(
        statuses.iter().take(6).all(|status| *status == 200),
        "{statuses:?}"
    );
    assert_eq!(&statuses[6..8], &[422, 422], "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");

    std::thread::sleep(Duration::from_millis(200));
    match bait.accept() {
        Err(error) if error.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the service connected to the bait listener: {other:?}"),
    }
    drop(server);
}

/// A server on loopback through `issuer::api::serve`, stopped when dropped (with its runtime).
struct Server {
    address: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start(router: Router) -> Server {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(async move {
            serve(listener, router, &ApiConfig::default(), async {
                let _ = stopped.await;
            })
            .await;
        });
        Server {
            address,
            stop: Some(stop),
            _runtime: runtime,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Sends `head` and `body_start`, then (when `trickle`) one more body byte every 100 ms, and returns the
/// status line the server answers with.
fn slow_request(
    address: std::net::SocketAddr,
    head: &str,
    body_start: &[u8],
    trickle: bool,
) -> String {
    use std::io::{BufRead as _, BufReader, Write as _};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body_start).unwrap();
    if trickle {
        let mut writer = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            // An endless chunked body: one-byte chunks until the server hangs up.
            while writer.write_all(b"1\r\nA\r\n").is_ok() {
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    }
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status).unwrap();
    status
}

#[test]
fn slow_and_endless_bodies_time_out() {
    let server = Server::start(empty_service(VerifierConfig {
        body_timeout: Duration::from_millis(500),
        ..VerifierConfig::default()
    }));
    // Announces 100 bytes, sends 8, then nothing.
    let slow = slow_request(
        server.address,
        "POST /v1/verify HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        b"{\"hc1\": ",
        false,
    );
    assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
    // A chunked picture that never ends.
    let endless = slow_request(
        server.address,
        "POST /v1/verify HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"",
        true,
    );
    assert!(endless.starts_with("HTTP/1.1 408"), "{endless}");
}

/// The value of the sample line `series` (name and labels exactly) in a Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// `/metrics` after valid and invalid verifications: the reports by code, a consistent latency histogram
/// of `/v1/verify`, requests by status; no name and no UVCI anywhere.
#[tokio::test]
async fn metrics_count_verifications_by_code_and_their_latency() {
    use issuer::api::metrics::{Metrics, metrics_router};
    let Some(testdata) = testdata_dir() else {
        return;
    };
    // The first vector the library calls valid, with its trust and clock.
    let (vector, library, at) = conformance_vectors(&testdata)
        .into_iter()
        .find_map(|path| {
            let vector: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let prefix = vector["PREFIX"].as_str().filter(|p| !p.is_empty())?;
            let (library, at) = vector_verifier(&vector, None);
            let valid = library
                .verify(Input::Text(prefix), at, Detail::default())
                .valid;
            valid.then_some((vector, library, at))
        })
        .unwrap();
    let prefix = vector["PREFIX"].as_str().unwrap();
    let dcc = &vector["JSON"];
    let family_name = dcc["nam"]["fn"].as_str().unwrap();
    let uvci = ["v", "t", "r"]
        .iter()
        .find_map(|kind| dcc[*kind][0]["ci"].as_str())
        .unwrap();

    let metrics = Metrics::shared();
    let router = verifier_service::router(
        VerifierService::new(
            VerifierHandle::new(library.clone()),
            Arc::new(move || at),
            VerifierConfig::default(),
        )
        .with_operator_token(OperatorToken::new(OPERATOR))
        .with_metrics(Arc::clone(&metrics)),
    )
    .merge(metrics_router(Arc::clone(&metrics)));

    let broken = "HC1:NOT-BASE45~~";
    let code_of = |text: &str| {
        library
            .verify(Input::Text(text), at, Detail::default())
            .code
            .as_str()
    };
    assert_eq!(code_of(prefix), "OK");
    let (broken_code, unprefixed_code) = (code_of(broken), code_of("hello"));
    assert_ne!(broken_code, "OK");
    for (hc1, token) in [
        (prefix, None),
        (prefix, Some(OPERATOR)),
        (broken, None),
        ("hello", None),
    ] {
        assert_eq!(
            call(&router, text_request(hc1, token)).await.status,
            StatusCode::OK
        );
    }
    let refused = call(&router, request(Some("text/plain"), None, b"x".to_vec())).await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let response = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();

    let mut expected_codes = std::collections::BTreeMap::new();
    for code in ["OK", "OK", broken_code, unprefixed_code] {
        *expected_codes.entry(code).or_insert(0.0) += 1.0;
    }
    for (code, count) in &expected_codes {
        let series = format!("vaxcert_verifications_total{{code=\"{code}\"}}");
        assert_eq!(sample(&text, &series), Some(*count), "{series} in:\n{text}");
    }
    let verifications = text
        .lines()
        .filter(|line| line.starts_with("vaxcert_verifications_total{"))
        .count();
    assert_eq!(verifications, expected_codes.len(), "{text}");
    let route = "route=\"/v1/verify\"";
    assert_eq!(
        sample(
            &text,
            &format!("vaxcert_http_requests_total{{{route},status=\"200\"}}")
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("vaxcert_http_requests_total{{{route},status=\"415\"}}")
        ),
        Some(1.0)
    );

    let histogram = "vaxcert_http_request_duration_seconds";
    let count = sample(&text, &format!("{histogram}_count{{{route}}}")).unwrap();
    let sum = sample(&text, &format!("{histogram}_sum{{{route}}}")).unwrap();
    assert_eq!(count, 5.0);
    assert!(sum > 0.0, "{sum}");
    let buckets: Vec<(String, f64)> = text
        .lines()
        .filter_map(|line| line.strip_prefix(&format!("{histogram}_bucket{{{route},le=\"")))
        .map(|rest| {
            let (le, value) = rest.split_once("\"} ").unwrap();
            (le.to_owned(), value.parse().unwrap())
        })
        .collect();
    assert_eq!(buckets.last().map(|(le, _)| le.as_str()), Some("+Inf"));
    assert_eq!(buckets.last().map(|(_, value)| *value), Some(count));
    assert!(
        buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
        "cumulative buckets: {buckets:?}"
    );
    let bounds: Vec<f64> = buckets[..buckets.len() - 1]
        .iter()
        .map(|(le, _)| le.parse().unwrap())
        .collect();
    assert!(
        bounds.windows(2).all(|pair| pair[0] < pair[1]),
        "{bounds:?}"
    );
    // A verifier built without a trust list shows no list age.
    assert!(!text.contains("vaxcert_trust_list_age_seconds{"), "{text}");

    assert!(!text.contains(family_name), "a name in:\n{text}");
    assert!(!text.contains(uvci), "a UVCI in:\n{text}");
    assert!(!text.contains(OPERATOR), "the token in:\n{text}");
}

/// `GET path` on the verifier: status, headers and body as text.
async fn get_text(path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let router = empty_service(VerifierConfig::default());
    let response = router
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn header_of(headers: &axum::http::HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn the_scanner_page_is_served_at_the_root_under_a_strict_policy() {
    let (status, headers, page) = get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(header_of(&headers, header::CONTENT_TYPE).starts_with("text/html"));
    let policy = header_of(&headers, header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} not in {policy}");
    }
    // WebAssembly may be compiled, and nothing else is relaxed: no `eval`, no inline code.
    assert!(
        policy.contains("script-src 'self' 'wasm-unsafe-eval';"),
        "{policy}"
    );
    assert_eq!(policy.matches("unsafe").count(), 1, "{policy}");
    assert!(!policy.contains("http"), "{policy}");
    assert_eq!(
        header_of(&headers, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    assert_eq!(header_of(&headers, header::REFERRER_POLICY), "no-referrer");
    assert!(header_of(&headers, header::CACHE_CONTROL).contains("max-age"));
    // Nothing from another origin, and no inline script or style the policy would block.
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(page.contains(r#"<script src="/scanner.js" defer></script>"#));
    assert!(page.contains(r#"<link rel="stylesheet" href="/scanner.css">"#));
    assert_eq!(page.matches("<script").count(), 1);
    assert!(!page.contains("<style") && !page.contains("style="));
    let inline_handler = page.split(" on").skip(1).find(|rest| {
        rest.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase())
        })
    });
    assert_eq!(inline_handler, None, "an inline event handler");
}

#[tokio::test]
async fn the_scanner_script_and_style_are_served_with_their_types() {
    for (path, media_type, needle) in [
        ("/scanner.js", "text/javascript", "getUserMedia"),
        ("/scanner.css", "text/css", "@media"),
    ] {
        let (status, headers, body) = get_text(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            header_of(&headers, header::CONTENT_TYPE).starts_with(media_type),
            "{path}"
        );
        assert_eq!(
            header_of(&headers, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff"
        );
        assert!(
            headers.contains_key(header::CONTENT_SECURITY_POLICY),
            "{path}"
        );
        assert!(body.contains(needle), "{path}");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_scanner_explains_every_report_code_in_both_languages() {
    let (_, _, script) = get_text("/scanner.js").await;
    for code in verifier::Code::ALL {
        // `"E_EXPIRED": ["<Vietnamese>", "<English>"]`: a new code cannot go unexplained.
        let entry = format!("\"{}\": [\"", code.as_str());
        let start = script
            .find(&entry)
            .unwrap_or_else(|| panic!("{code} is not explained in scanner.js"));
        let line = script[start..].lines().next().unwrap();
        assert_eq!(line.matches("\", \"").count(), 1, "{code}: {line}");
    }
    // The camera loop sends frames as JPEG and keeps looking while no QR code is found.
    assert!(script.contains(r#"facingMode: "environment""#));
    assert!(script.contains(r#"toBlob("#) && script.contains(r#""image/jpeg""#));
    assert!(script.contains(r#"report.code !== "E_IMAGE""#));
}

#[tokio::test]
async fn the_scanner_page_offers_camera_upload_and_text_with_bilingual_labels() {
    let (_, _, page) = get_text("/").await;
    assert!(page.contains(r#"<html lang="vi">"#));
    assert!(page.contains(r#"id="result""#) && page.contains(r#"aria-live="assertive""#));
    for (control, vietnamese, english) in [
        (
            r#"<button type="button" id="camera-button""#,
            "Quét bằng máy ảnh",
            "Scan with the camera",
        ),
        (
            r#"<input type="file" id="upload-input" accept="image/*">"#,
            "Chọn ảnh mã QR",
            "Choose a picture of the QR code",
        ),
        (
            r#"<textarea id="text-input""#,
            "Dán nội dung HC1:",
            "Paste the HC1: text",
        ),
    ] {
        assert!(page.contains(control), "{control}");
        assert!(page.contains(vietnamese), "{vietnamese}");
        assert!(page.contains(english), "{english}");
    }
    assert!(page.contains(r#"<label for="upload-input""#));
    assert!(page.contains(r#"<label for="text-input""#));
    assert!(page.contains(r#"name="viewport""#));
}

#[tokio::test]
async fn the_webassembly_verifier_is_served_with_its_types_when_built() {
    use vaxcert::verifier_service::scanner::{WASM_ASSETS, WASM_MODULE_PATH, WASM_SCRIPT_PATH};
    let router = empty_service(VerifierConfig::default());
    let get = |path: &str, etag: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        router.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    let Some(assets) = WASM_ASSETS else {
        // Built without `scripts/build-wasm`: nothing under /wasm/, and the page verifies on the server.
        for path in [WASM_SCRIPT_PATH, WASM_MODULE_PATH] {
            assert_eq!(
                get(path, None).await.unwrap().status(),
                StatusCode::NOT_FOUND
            );
        }
        println!("skipped: the WebAssembly verifier is not built in (run scripts/build-wasm)");
        return;
    };
    for (path, media_type, body) in [
        (
            WASM_SCRIPT_PATH,
            "text/javascript",
            assets.script.as_bytes(),
        ),
        (WASM_MODULE_PATH, "application/wasm", assets.module),
    ] {
        let response = get(path, None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        assert!(
            header_of(&headers, header::CONTENT_TYPE).starts_with(media_type),
            "{path}"
        );
        assert_eq!(
            header_of(&headers, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff"
        );
        assert_eq!(header_of(&headers, header::CACHE_CONTROL), "no-cache");
        assert!(
            header_of(&headers, header::CONTENT_SECURITY_POLICY).contains("'wasm-unsafe-eval'")
        );
        let etag = header_of(&headers, header::ETAG).to_owned();
        let served = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(served.as_ref(), body, "{path}");
        // The client that holds this version revalidates for nothing; another version gets the file.
        let again = get(path, Some(&etag)).await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(
            get(path, Some("\"other\"")).await.unwrap().status(),
            StatusCode::OK
        );
    }
    assert!(assets.module.starts_with(b"\0asm"));
    assert!(assets.script.contains("class Scanner") && assets.script.contains("verifyImage"));
}

#[tokio::test]
async fn the_scanner_page_verifies_on_the_device_unless_told_to_use_the_server() {
    let (_, _, page) = get_text("/").await;
    assert!(page.contains(r#"<input type="checkbox" id="mode-server">"#));
    assert!(page.contains(r#"id="mode-status""#));
    assert!(page.contains("Kiểm tra trên máy chủ") && page.contains("Check on the server"));
    let (_, _, script) = get_text("/scanner.js").await;
    for needle in [
        r#""/wasm/verifier_wasm.js""#,
        r#""/trust-list""#,
        r#""/revocation-list""#,
        r#""/trust-list-signer.pub.pem""#,
        "localStorage",
        "scanner.verifyImage(",
        "serviceWorker.register(",
    ] {
        assert!(script.contains(needle), "{needle} not in scanner.js");
    }
    let (status, headers, worker) = get_text("/scanner-sw.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(header_of(&headers, header::CONTENT_TYPE).starts_with("text/javascript"));
    assert!(worker.contains("/wasm/verifier_wasm_bg.wasm") && !worker.contains("/v1/verify\""));
}

#[tokio::test]
async fn the_pinned_key_is_served_only_when_given() {
    use vaxcert::verifier_service::TRUST_LIST_KEY_PATH;
    let pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
    let verifier = || Verifier::new(Arc::new(TrustStore::new(Backend::default())), None);
    let service = |with_key: bool| {
        let service = VerifierService::new(
            VerifierHandle::new(verifier()),
            Arc::new(OffsetDateTime::now_utc),
            VerifierConfig::default(),
        );
        verifier_service::router(if with_key {
            service.with_trust_list_key(pem)
        } else {
            service
        })
    };
    let request = || {
        Request::get(TRUST_LIST_KEY_PATH)
            .body(Body::empty())
            .unwrap()
    };
    let response = service(true).oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_of(response.headers(), header::CONTENT_TYPE),
        "application/x-pem-file"
    );
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(body.as_ref(), pem.as_bytes());
    let response = service(false).oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}
