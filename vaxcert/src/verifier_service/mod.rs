//! The verifier HTTP service: `POST /v1/verify` answers the verification report of
//! [`verifier::Verifier::verify`] — the same code as the library and `vaxcert verify` — for an `HC1:`
//! string (`{"hc1": "HC1:…"}`, `application/json`) or a PNG/JPEG picture of the QR code (`image/png`,
//! `image/jpeg` or `application/octet-stream`).
//!
//! | answer | when |
//! |---|---|
//! | 200 minimal report: `valid`, `code`, `message`, `type`, `holder` (names, date of birth) | any caller |
//! | 200 full report (`checks`, `kid`, `iss`, `iat`, `exp`, `trust_list`, `dcc`, …) | `Authorization: Bearer <operator token>` |
//! | 401 `unauthenticated` | an `Authorization` header that is not the operator token (never downgraded to minimal) |
//! | 408 / 413 / 415 / 400 / 422 | body too slow / over [`VerifierConfig::max_json_bytes`] or [`VerifierConfig::max_image_bytes`] / another content type / broken body / not `{"hc1": string}` |
//! | 429 `rate_limited` | over [`VerifierConfig::rate_limit`] for the client's address (IPv6: its /64) |
//! | 503 `busy` | [`VerifierConfig::max_concurrent_verifications`] running (pictures: one a core) and none freed within [`VerifierConfig::queue_timeout`] |
//!
//! The scanner page for staff is at `/` ([`scanner`]); built with the WebAssembly verifier, it verifies
//! on the device from the published lists and the key at [`TRUST_LIST_KEY_PATH`], and posts here only
//! when told to.
//!
//! Every answer of `POST /v1/verify` is `Cache-Control: no-store`. The service holds its trust in memory ([`VerifierHandle`],
//! replaced whole by whoever refreshes it — see [`published`] and
//! [`refreshed`]): no request makes it fetch anything.
//! Log lines carry the status and the report's code, never a name, a date of birth, a UVCI or a token;
//! the service counts its answers, their latency and the reports' codes in a shared
//! [`issuer::api::metrics::Metrics`] ([`VerifierService::with_metrics`]).
//! Run it with [`issuer::api::serve`], which adds the header timeout, the connection limit and the
//! client's address.

pub mod dsc_lists;
pub mod limits;
pub mod published;
pub mod refreshed;
pub mod scanner;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use issuer::api::metrics::{ListAges, Metrics, count_requests};
use issuer::api::{BodyError, RateLimit, rate_key, read_limited_body};
use issuer::service::Clock;
use issuer::tokens::token_hash;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;
use verifier::{Detail, Input, Report, Verifier};

/// The OpenAPI 3.1 description of [`router`].
pub const OPENAPI: &str = include_str!("openapi.json");

/// The route of the verification endpoint.
pub const VERIFY_PATH: &str = "/v1/verify";

/// The route of the pinned trust-list key (`PUBLIC KEY` PEM) the scanner page checks the lists under,
/// when the service was given it ([`VerifierService::with_trust_list_key`]).
pub const TRUST_LIST_KEY_PATH: &str = "/trust-list-signer.pub.pem";

/// Seconds a client should wait after a 429 or 503.
const RETRY_AFTER_S: &str = "1";

/// The rate limiter forgets clients idle long enough once per this many requests.
const LIMITER_SWEEP_EVERY: u64 = 4_096;

/// The validation clock of the service.
pub type ValidationClock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The system clock, for production.
pub fn system_validation_clock() -> ValidationClock {
    Arc::new(OffsetDateTime::now_utc)
}

/// Limits of the verifier service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The largest `application/json` body, bytes (413 beyond).
    pub max_json_bytes: usize,
    /// The largest picture, bytes (413 beyond).
    pub max_image_bytes: usize,
    /// Verifications running at once; 0 refuses every verification (503).
    pub max_concurrent_verifications: usize,
    /// How long a request waits for a verification slot before 503.
    pub queue_timeout: Duration,
    /// Requests per client address (IPv6: per /64); `per_second` 0 turns the limit off (a `burst` of 0
    /// means `per_second`).
    pub rate_limit: RateLimit,
    /// A request taking longer is answered 408.
    pub request_timeout: Duration,
    /// The whole body must arrive within this (408 otherwise).
    pub body_timeout: Duration,
}

impl Default for VerifierConfig {
    /// 8 KiB JSON, 2 MiB pictures, 64 verifications at once (1 s queue), 100 requests/s per client
    /// address with bursts of 200, 30 s per request, 10 s for the body.
    fn default() -> Self {
        VerifierConfig {
            max_json_bytes: 8 * 1024,
            max_image_bytes: 2 * 1024 * 1024,
            max_concurrent_verifications: 64,
            queue_timeout: Duration::from_secs(1),
            rate_limit: RateLimit {
                per_second: 100,
                burst: 200,
            },
            request_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// The verifier in use, shared between the service and whoever refreshes its trust: replaced whole, so
/// a verification sees one consistent trust list and revocation list.
#[derive(Debug, Clone)]
pub struct VerifierHandle(Arc<RwLock<Arc<Verifier>>>);

impl VerifierHandle {
    /// A handle on `verifier`.
    pub fn new(verifier: Verifier) -> VerifierHandle {
        VerifierHandle(Arc::new(RwLock::new(Arc::new(verifier))))
    }

    /// The verifier in use now.
    pub fn current(&self) -> Arc<Verifier> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `verifier` in use for the requests that start from now on.
    pub fn replace(&self, verifier: Verifier) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(verifier);
    }
}

/// The operator bearer token that unlocks the full report, kept as its SHA-256 only.
#[derive(Clone)]
pub struct OperatorToken {
    hash: [u8; 32],
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorToken(..)")
    }
}

impl OperatorToken {
    /// The operator token `secret` (surrounding whitespace, such as a file's final newline, ignored).
    pub fn new(secret: &str) -> OperatorToken {
        OperatorToken {
            hash: token_hash(secret.trim()),
        }
    }

    /// Whether `presented` is the token: the SHA-256 digests compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        let presented = token_hash(presented);
        self.hash
            .iter()
            .zip(presented.iter())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
    }
}

/// What the verifier service runs on.
#[derive(Clone)]
pub struct VerifierService {
    verifier: VerifierHandle,
    clock: ValidationClock,
    operator: Option<OperatorToken>,
    config: VerifierConfig,
    metrics: Arc<Metrics>,
    trust_list_key: Option<Arc<str>>,
}

impl std::fmt::Debug for VerifierService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierService")
            .field("operator", &self.operator)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl VerifierService {
    /// A service verifying with `verifier` at `clock`, without an operator token (minimal reports only).
    pub fn new(
        verifier: VerifierHandle,
        clock: ValidationClock,
        config: VerifierConfig,
    ) -> VerifierService {
        VerifierService {
            verifier,
            clock,
            operator: None,
            config,
            metrics: Metrics::shared(),
            trust_list_key: None,
        }
    }

    /// The same service counting its requests, their latency and the reports' codes in `metrics` (by
    /// default in a registry of its own, shown nowhere: mount [`issuer::api::metrics::metrics_router`]).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> VerifierService {
        self.metrics = metrics;
        self
    }

    /// The same service serving `pem`, the trust-list key it pins, at [`TRUST_LIST_KEY_PATH`]: the key
    /// the scanner page checks the lists it caches under when it verifies on the device.
    pub fn with_trust_list_key(mut self, pem: &str) -> VerifierService {
        self.trust_list_key = Some(Arc::from(pem));
        self
    }

    /// The same service giving the full report to callers presenting `token`.
    pub fn with_operator_token(mut self, token: OperatorToken) -> VerifierService {
        self.operator = Some(token);
        self
    }
}

/// What every request shares.
struct App {
    service: VerifierService,
    /// `None` when the rate limit is off.
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    permits: Semaphore,
    /// Pictures decoded at once, at most one a core: decoding is CPU-bound, and each picture in flight
    /// holds its decoded pixels (a photo: tens of MB).
    picture_permits: Semaphore,
    requests: AtomicU64,
}

/// The router of the verifier: `POST /v1/verify` and the scanner page at `/` ([`scanner`]; no
/// `/openapi.json`: see [`openapi_router`]), its answers counted in the service's metrics
/// ([`VerifierService::with_metrics`]).
pub fn router(service: VerifierService) -> Router {
    let metrics = Arc::clone(&service.metrics);
    let rate = service.config.rate_limit;
    let limiter = NonZeroU32::new(rate.per_second).map(|per_second| {
        let burst = NonZeroU32::new(rate.burst).unwrap_or(per_second);
        RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
    });
    let app = Arc::new(App {
        limiter,
        permits: Semaphore::new(service.config.max_concurrent_verifications),
        picture_permits: Semaphore::new(
            std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(service.config.max_concurrent_verifications),
        ),
        requests: AtomicU64::new(0),
        service,
    });
    let request_timeout = app.service.config.request_timeout;
    let trust_list_key = app.service.trust_list_key.clone();
    let mut routes = Router::new()
        .route(VERIFY_PATH, post(verify))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(axum::middleware::map_response(no_store))
        .with_state(app)
        .merge(scanner::scanner_router());
    if let Some(pem) = trust_list_key {
        routes = routes.route(
            TRUST_LIST_KEY_PATH,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/x-pem-file"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    pem.to_string(),
                )
            }),
        );
    }
    count_requests(routes, &metrics)
}

/// The ages of the lists the verifier in `handle` uses at `clock`, for
/// `vaxcert_trust_list_age_seconds{list="trust_list"|"revocation_list"}` ([`Metrics::set_list_ages`]).
pub fn list_ages(handle: VerifierHandle, clock: Clock) -> ListAges {
    Arc::new(move || {
        let verifier = handle.current();
        let now = clock();
        [
            ("trust_list", verifier.trust_list_issued_at()),
            ("revocation_list", verifier.revocation_list_issued_at()),
        ]
        .into_iter()
        .filter_map(|(list, issued_at)| Some((list, now.saturating_sub(issued_at?))))
        .collect()
    })
}

/// `GET /openapi.json` serving [`OPENAPI`], for the verifier running alone (`vaxcert up` serves one
/// document for all its routes: [`merge_openapi`]).
pub fn openapi_router() -> Router {
    openapi_document_router(OPENAPI)
}

/// `GET /openapi.json` serving `document` (for instance [`OPENAPI`] merged with
/// [`refreshed::HEALTH_OPENAPI`] by [`merge_openapi`]).
pub fn openapi_document_router(document: impl Into<Arc<str>>) -> Router {
    let document: Arc<str> = document.into();
    Router::new().route(
        "/openapi.json",
        get(move || {
            let document = Arc::clone(&document);
            async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    document.to_string(),
                )
            }
        }),
    )
}

/// `base` with the paths and components of `extra` added and its title replaced by `title`: one
/// OpenAPI document for a process serving both.
///
/// # Errors
/// Either document is not a JSON object.
pub fn merge_openapi(base: &str, extra: &str, title: &str) -> Result<String, serde_json::Error> {
    let mut merged: Map<String, Value> = serde_json::from_str(base)?;
    let extra: Map<String, Value> = serde_json::from_str(extra)?;
    if let Some(info) = object_at(&mut merged, "info") {
        info.insert(String::from("title"), json!(title));
    }
    if let (Some(paths), Some(Value::Object(extra_paths))) =
        (object_at(&mut merged, "paths"), extra.get("paths"))
    {
        paths.extend(extra_paths.clone());
    }
    if let Some(Value::Object(extra_components)) = extra.get("components") {
        for (kind, entries) in extra_components {
            let merged_components = object_at(&mut merged, "components");
            if let (Some(target), Value::Object(entries)) = (
                merged_components.and_then(|components| object_at(components, kind)),
                entries,
            ) {
                target.extend(entries.clone());
            }
        }
    }
    serde_json::to_string_pretty(&merged)
}

/// The object under `key`, created when missing; `None` when something else is there.
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    map.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// `Cache-Control: no-store` on every answer: reports name a person.
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The body of `POST /v1/verify` as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    hc1: String,
}

/// What was posted.
enum Posted {
    Text(String),
    Image(Bytes),
}

/// The media types `POST /v1/verify` takes.
#[derive(Clone, Copy)]
enum MediaType {
    Json,
    Image,
}

/// Why a request was refused.
#[derive(Debug)]
enum Refusal {
    RateLimited,
    Unauthenticated,
    UnsupportedMediaType,
    PayloadTooLarge(usize),
    BodyTimeout,
    BodyUnreadable,
    Malformed(String),
    Busy,
    Internal,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            Refusal::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::BodyUnreadable => StatusCode::BAD_REQUEST,
            Refusal::Malformed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Refusal::RateLimited => "rate_limited",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::UnsupportedMediaType => "unsupported_media_type",
            Refusal::PayloadTooLarge(_) => "payload_too_large",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::BodyUnreadable => "unreadable_body",
            Refusal::Malformed(_) => "malformed_request",
            Refusal::Busy => "busy",
            Refusal::Internal => "internal_error",
        }
    }

    fn message(&self) -> String {
        match self {
            Refusal::RateLimited => String::from("too many requests from this address"),
            Refusal::Unauthenticated => String::from(
                "the bearer token is not the operator token (send none for the minimal report)",
            ),
            Refusal::UnsupportedMediaType => String::from(
                "send application/json {\"hc1\": \"HC1:...\"}, or a picture as image/png, image/jpeg or application/octet-stream",
            ),
            Refusal::PayloadTooLarge(limit) => format!("the body is over {limit} bytes"),
            Refusal::BodyTimeout => String::from("the body did not arrive in time"),
            Refusal::BodyUnreadable => String::from("the body could not be read"),
            Refusal::Malformed(reason) => {
                format!("expected a JSON object {{\"hc1\": \"HC1:...\"}}: {reason}")
            }
            Refusal::Busy => String::from("too many verifications at once; retry"),
            Refusal::Internal => String::from("the verification failed"),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code(), "message": self.message()});
        let mut response = (self.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Refusal::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vaxcert-verifier\""),
                );
            }
            Refusal::RateLimited | Refusal::Busy => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
            }
            _ => {}
        }
        response
    }
}

/// `POST /v1/verify`.
async fn verify(State(app): State<Arc<App>>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let (parts, body) = request.into_parts();
    match answer(&app, peer, &parts.headers, body).await {
        Ok((report, full)) => {
            app.service
                .metrics
                .record_verification(report.code.as_str());
            tracing::info!(
                status = 200,
                code = report.code.as_str(),
                full,
                "verification"
            );
            if full {
                axum::Json(report).into_response()
            } else {
                axum::Json(report.minimal_view()).into_response()
            }
        }
        Err(refusal) => {
            tracing::info!(
                status = refusal.status().as_u16(),
                error = refusal.code(),
                "verification refused"
            );
            refusal.into_response()
        }
    }
}

/// The report and whether it is the full one, or why the request was refused.
async fn answer(
    app: &App,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Report, bool), Refusal> {
    if let Some(limiter) = &app.limiter {
        if app
            .requests
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(LIMITER_SWEEP_EVERY)
        {
            limiter.retain_recent();
        }
        if limiter.check_key(&rate_key(peer)).is_err() {
            return Err(Refusal::RateLimited);
        }
    }
    let full = operator(&app.service, headers)?;
    let config = &app.service.config;
    let (media, limit) = match media_type(headers) {
        Some(MediaType::Json) => (MediaType::Json, config.max_json_bytes),
        Some(MediaType::Image) => (MediaType::Image, config.max_image_bytes),
        None => return Err(Refusal::UnsupportedMediaType),
    };
    let bytes = read_limited_body(headers, body, limit, config.body_timeout)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => Refusal::PayloadTooLarge(limit),
            BodyError::Unreadable => Refusal::BodyUnreadable,
            BodyError::Timeout => Refusal::BodyTimeout,
        })?;
    let posted = match media {
        MediaType::Json => Posted::Text(parse_request(&bytes)?.hc1),
        MediaType::Image => Posted::Image(bytes),
    };
    let permit = tokio::time::timeout(config.queue_timeout, app.permits.acquire())
        .await
        .map_err(|_| Refusal::Busy)?
        .map_err(|_| Refusal::Busy)?;
    let verifier = app.service.verifier.current();
    let at = (app.service.clock)();
    let detail = Detail {
        payload: full,
        unverified: false,
    };
    let report = match posted {
        Posted::Text(text) => verifier.verify(Input::Text(&text), at, detail),
        // Decoding a picture takes milliseconds: off the async workers.
        Posted::Image(bytes) => {
            let picture_permit =
                tokio::time::timeout(config.queue_timeout, app.picture_permits.acquire())
                    .await
                    .map_err(|_| Refusal::Busy)?
                    .map_err(|_| Refusal::Busy)?;
            let report = tokio::task::spawn_blocking(move || {
                verifier.verify(Input::Image(&bytes), at, detail)
            })
            .await
            .map_err(|_| Refusal::Internal)?;
            drop(picture_permit);
            report
        }
    };
    drop(permit);
    Ok((report, full))
}

/// The JSON body: an object with exactly `hc1`. Serde would also take `["HC1:…"]` for the struct, so
/// anything but an object is refused first, without parsing it twice.
fn parse_request(bytes: &[u8]) -> Result<VerifyRequest, Refusal> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(Refusal::Malformed(String::from("not a JSON object")));
    }
    serde_json::from_slice(bytes).map_err(|error| Refusal::Malformed(error.to_string()))
}

/// Whether the caller presented the operator token (full report); `Unauthenticated` for any other
/// `Authorization` header.
fn operator(service: &VerifierService, headers: &HeaderMap) -> Result<bool, Refusal> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(false);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match (token, &service.operator) {
        (Some(token), Some(operator)) if operator.matches(token) => Ok(true),
        _ => Err(Refusal::Unauthenticated),
    }
}

/// The media type of the body, parameters ignored.
fn media_type(headers: &HeaderMap) -> Option<MediaType> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next()?.trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" => Some(MediaType::Json),
        "image/png" | "image/jpeg" | "application/octet-stream" => Some(MediaType::Image),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operator_token_matches_itself_only_and_never_shows() {
        let token = OperatorToken::new("s3cret-operator\n");
        assert!(token.matches("s3cret-operator"));
        assert!(!token.matches("s3cret-operatoR"));
        assert!(!token.matches(""));
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let key = |address: &str| rate_key(Some(address.parse().unwrap()));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::9"));
        assert_ne!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }
}
