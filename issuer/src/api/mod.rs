//! The issuer's HTTP surface: the internal API the registry calls (bearer tokens, idempotent per dose
//! event) and the public trust-list documents (with ETags).
//!
//! | method and path | scope | answers |
//! |---|---|---|
//! | `POST /internal/v1/dose-confirmations` | `issue` (+ `correct` to correct other clients' dose events) | 201 / 200 replay / 401 / 403 / 408 / 409 / 413 / 415 / 422 / 429 / 503 |
//! | `GET /internal/v1/certificates/{uvci}` (percent-encoded) | `read` | 200 status / 404 |
//! | `POST /internal/v1/certificates/{uvci}/revocation` `{"reason": "fraud"}` | `revoke` | 200 / 404 / 408 / 409 / 413 |
//! | `GET /trust-list`, `/trust-list/dsc`, `/trust-list/anchors`, `/revocation-list` | public | 200 / 304 |
//! | `GET /healthz` | public | 200 / 503 |
//! | `GET /openapi.json` | public | this table as OpenAPI 3.1 |
//! | `GET /metrics` | operators | request counts and latency by route template, certificates issued (Prometheus; [`metrics`]) |
//!
//! A request body is read only after its bearer token is accepted (an unauthenticated slow body is
//! answered 401 at once), at most [`ApiConfig::max_body_bytes`] of it (413) within
//! [`ApiConfig::body_timeout`] (408). Answers carrying a certificate or its UVCI are `Cache-Control:
//! no-store`. [`serve`] runs the router with header timeouts and a connection limit.
//!
//! Log lines name the client and the outcome, never a UVCI, a name or a date of birth.

mod auth;
pub mod citizen;
mod documents;
pub mod metrics;
mod problem;
mod serve;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::Deserialize;
use serde_json::json;
use tower_http::timeout::TimeoutLayer;

use crate::error::{FieldError, FieldReason};
use crate::ledger::{CertificateRecord, CorrectionRights, Scope};
use crate::parse::parse_confirmation;
use crate::publication::Publisher;
use crate::service::{Clock, Confirmed, IssuanceService, RevocationReason};

use auth::Authenticator;
pub use auth::{RateLimit, rate_key};
use problem::Problem;
pub use serve::serve;

/// Limits of the HTTP surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiConfig {
    /// The largest request body accepted, bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Requests per client.
    pub rate_limit: RateLimit,
    /// A request taking longer is answered 408; also how long [`serve`] drains at shutdown.
    pub request_timeout: Duration,
    /// A request's headers must arrive within this, from the connection's start or the previous answer;
    /// the connection is closed otherwise (so it is also the keep-alive idle timeout). Used by [`serve`].
    pub header_read_timeout: Duration,
    /// A request's whole body must arrive within this, once authenticated (408 otherwise).
    pub body_timeout: Duration,
    /// Connections open at once; [`serve`] closes one over the limit as soon as it is accepted.
    pub max_connections: usize,
}

impl Default for ApiConfig {
    /// 16 KiB bodies, 500 requests/s per client with bursts of 1,000, 30 s per request, 10 s for the
    /// headers and 10 s for the body, 1,024 connections.
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 16 * 1024,
            rate_limit: RateLimit {
                per_second: 500,
                burst: 1_000,
            },
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 1_024,
        }
    }
}

/// What the internal API's handlers share.
struct App {
    service: Arc<IssuanceService>,
    auth: Authenticator,
    max_body_bytes: usize,
    body_timeout: Duration,
    metrics: Arc<metrics::Metrics>,
}

/// What the public documents' handlers share.
struct Published {
    publisher: Arc<Publisher>,
    clock: Clock,
}

/// The router of the issuer: internal API, trust-list documents, health, and [`OPENAPI`] at
/// `/openapi.json`.
pub fn router(
    service: Arc<IssuanceService>,
    publisher: Arc<Publisher>,
    config: ApiConfig,
) -> Router {
    router_with_openapi(service, publisher, config, OPENAPI)
}

/// The router of the issuer serving `openapi` at `/openapi.json`: a process mounting more routes next to
/// the issuer's (`vaxcert up`) describes them all in one document.
pub fn router_with_openapi(
    service: Arc<IssuanceService>,
    publisher: Arc<Publisher>,
    config: ApiConfig,
    openapi: impl Into<Arc<str>>,
) -> Router {
    router_sharing_metrics(
        service,
        publisher,
        config,
        openapi,
        metrics::Metrics::shared(),
    )
}

/// As [`router_with_openapi`], counting in `metrics` and showing them at `/metrics`: a process mounting
/// more routes next to the issuer's counts them in the same registry
/// ([`metrics::count_requests`]). The union of [`internal_router`], [`documents_router`] and
/// [`openapi_router`].
pub fn router_sharing_metrics(
    service: Arc<IssuanceService>,
    publisher: Arc<Publisher>,
    config: ApiConfig,
    openapi: impl Into<Arc<str>>,
    metrics: Arc<metrics::Metrics>,
) -> Router {
    let health = health_router(Arc::clone(&service), &config);
    router_with_health(service, publisher, config, openapi, metrics, health)
}

/// As [`router_sharing_metrics`], with `GET /healthz` answered by `health` instead of
/// [`health_router`] (`health` routes nothing else this router routes): `vaxcert up` reports on
/// everything it runs, not the ledger alone.
pub fn router_with_health(
    service: Arc<IssuanceService>,
    publisher: Arc<Publisher>,
    config: ApiConfig,
    openapi: impl Into<Arc<str>>,
    metrics: Arc<metrics::Metrics>,
    health: Router,
) -> Router {
    let clock = service.clock();
    let routes = internal_routes(service, config, &metrics)
        .merge(health)
        .merge(documents_router(publisher, clock, &config))
        .merge(openapi_router(openapi));
    metrics::count_requests(routes, &metrics).merge(metrics::metrics_router(metrics))
}

/// The internal API alone — dose confirmations, certificate status, revocation — and `GET /healthz`
/// (200 while the ledger answers), certificates issued counted in `metrics`. Requests are not counted
/// here: the caller wraps the routes it serves in [`metrics::count_requests`].
pub fn internal_router(
    service: Arc<IssuanceService>,
    config: ApiConfig,
    metrics: &Arc<metrics::Metrics>,
) -> Router {
    let health = health_router(Arc::clone(&service), &config);
    internal_routes(service, config, metrics).merge(health)
}

/// `GET /healthz` of the issuer: 200 while the ledger answers, with the release of the value sets in
/// use; 503 otherwise.
pub fn health_router(service: Arc<IssuanceService>, config: &ApiConfig) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .layer(request_timeout(config))
        .with_state(service)
}

/// [`internal_router`] without `GET /healthz`.
fn internal_routes(
    service: Arc<IssuanceService>,
    config: ApiConfig,
    metrics: &Arc<metrics::Metrics>,
) -> Router {
    metrics.enable_certificates_issued();
    let auth = Authenticator::new(Arc::clone(service.ledger()), config.rate_limit);
    let app = Arc::new(App {
        service,
        auth,
        max_body_bytes: config.max_body_bytes,
        body_timeout: config.body_timeout,
        metrics: Arc::clone(metrics),
    });
    Router::new()
        .route("/internal/v1/dose-confirmations", post(confirm))
        .route("/internal/v1/certificates/{uvci}", get(certificate_status))
        .route("/internal/v1/certificates/{uvci}/revocation", post(revoke))
        .layer(request_timeout(&config))
        .with_state(app)
}

/// The public documents alone — `GET /trust-list`, `/trust-list/dsc`, `/trust-list/anchors`,
/// `/revocation-list` with strong ETags and `If-None-Match` — published by `publisher` at `clock`.
pub fn documents_router(publisher: Arc<Publisher>, clock: Clock, config: &ApiConfig) -> Router {
    Router::new()
        .route("/trust-list", get(documents::trust_list))
        .route("/trust-list/dsc", get(documents::gateway))
        .route("/trust-list/anchors", get(documents::anchors))
        .route("/revocation-list", get(documents::revocation_list))
        .layer(request_timeout(config))
        .with_state(Arc::new(Published { publisher, clock }))
}

/// `GET /healthz` of a process serving the documents alone: 200 while the revocation list can be
/// published (the ledger answers), 503 otherwise.
pub fn documents_health_router(publisher: Arc<Publisher>, clock: Clock) -> Router {
    Router::new()
        .route("/healthz", get(documents::health))
        .with_state(Arc::new(Published { publisher, clock }))
}

/// `GET /openapi.json` answering `openapi`.
pub fn openapi_router(openapi: impl Into<Arc<str>>) -> Router {
    let openapi: Arc<str> = openapi.into();
    Router::new().route(
        "/openapi.json",
        get(move || std::future::ready(openapi_response(&openapi))),
    )
}

fn request_timeout(config: &ApiConfig) -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout)
}

/// `POST /internal/v1/dose-confirmations`.
async fn confirm(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let (client, corrections) = match app.auth.authorize_client(&headers, Scope::Issue).await {
        Ok(client) if client.scopes.contains(&Scope::Correct) => {
            (client.name, CorrectionRights::Any)
        }
        Ok(client) => (client.name, CorrectionRights::OwnOnly),
        Err(problem) => return problem.into_response(),
    };
    let answer = confirm_as(&app, &client, corrections, &headers, body).await;
    match &answer {
        Ok((status, _)) => {
            if *status == StatusCode::CREATED {
                app.metrics.record_certificate_issued();
            }
            tracing::info!(client = %client, status = status.as_u16(), "dose confirmation")
        }
        Err(problem) => {
            tracing::info!(client = %client, status = problem.status().as_u16(), error = problem.code(), "dose confirmation refused")
        }
    }
    match answer {
        Ok((status, record)) => no_store(
            (
                status,
                axum::Json(json!({"uvci": record.uvci, "hc1": record.hc1, "exp": record.exp})),
            )
                .into_response(),
        ),
        Err(problem) => problem.into_response(),
    }
}

async fn confirm_as(
    app: &App,
    client: &str,
    corrections: CorrectionRights,
    headers: &HeaderMap,
    body: Body,
) -> Result<(StatusCode, CertificateRecord), Problem> {
    if !is_json(headers) {
        return Err(Problem::UnsupportedMediaType);
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .ok_or(Problem::Invalid(FieldError {
            field: "Idempotency-Key",
            reason: FieldReason::Missing,
        }))?;
    let body = read_body(app, headers, body).await?;
    let confirmation =
        parse_confirmation(&body).map_err(|error| Problem::Malformed(error.to_string()))?;
    if confirmation.dose_event_id != key {
        return Err(Problem::Invalid(FieldError {
            field: "Idempotency-Key",
            reason: FieldReason::KeyMismatch,
        }));
    }
    match app
        .service
        .confirm(confirmation, client, corrections)
        .await?
    {
        Confirmed::Issued(record) => Ok((StatusCode::CREATED, record)),
        Confirmed::Replayed(record) => Ok((StatusCode::OK, record)),
    }
}

/// `GET /internal/v1/certificates/{uvci}`: the status of one certificate (not the certificate itself).
async fn certificate_status(
    State(app): State<Arc<App>>,
    Path(uvci): Path<String>,
    headers: HeaderMap,
) -> Response {
    let client = match app.auth.authorize(&headers, Scope::Read).await {
        Ok(client) => client,
        Err(problem) => return problem.into_response(),
    };
    let answer = app.service.certificate(&uvci).await.map_err(Problem::from);
    respond_with_status(&client, "certificate status", answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationRequest {
    reason: String,
}

/// `POST /internal/v1/certificates/{uvci}/revocation`.
async fn revoke(
    State(app): State<Arc<App>>,
    Path(uvci): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let client = match app.auth.authorize(&headers, Scope::Revoke).await {
        Ok(client) => client,
        Err(problem) => return problem.into_response(),
    };
    let answer = async {
        if !is_json(&headers) {
            return Err(Problem::UnsupportedMediaType);
        }
        let body = read_body(&app, &headers, body).await?;
        let request: RevocationRequest =
            serde_json::from_slice(&body).map_err(|error| Problem::Malformed(error.to_string()))?;
        let reason =
            RevocationReason::parse(&request.reason).ok_or(Problem::Invalid(FieldError {
                field: "reason",
                reason: FieldReason::NotInValueSet,
            }))?;
        Ok(app.service.revoke(&uvci, reason, &client).await?)
    }
    .await;
    respond_with_status(&client, "revocation", answer)
}

fn respond_with_status(
    client: &str,
    what: &'static str,
    answer: Result<CertificateRecord, Problem>,
) -> Response {
    match answer {
        Ok(record) => {
            tracing::info!(client = %client, status = 200, "{what}");
            no_store(axum::Json(status_json(&record)).into_response())
        }
        Err(problem) => {
            tracing::info!(client = %client, status = problem.status().as_u16(), error = problem.code(), "{what} refused");
            problem.into_response()
        }
    }
}

/// Reads the body of an authenticated request: at most `max_body_bytes` (413, at once when the
/// `Content-Length` says so) within `body_timeout` (408).
async fn read_body(app: &App, headers: &HeaderMap, body: Body) -> Result<Bytes, Problem> {
    read_limited_body(headers, body, app.max_body_bytes, app.body_timeout)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => Problem::PayloadTooLarge,
            BodyError::Unreadable => Problem::BodyUnreadable,
            BodyError::Timeout => Problem::BodyTimeout,
        })
}

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit, announced by `Content-Length` or found while reading (413).
    TooLarge,
    /// The client broke the body off or sent bad framing (400).
    Unreadable,
    /// The whole body did not arrive in time (408).
    Timeout,
}

/// Reads a request body: at most `max_bytes` (refused at once when the `Content-Length` announces more)
/// within `timeout`.
///
/// # Errors
/// [`BodyError`].
pub async fn read_limited_body(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max_bytes as u64) {
        return Err(BodyError::TooLarge);
    }
    let limited = Limited::new(body, max_bytes);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Ok(Err(_)) => Err(BodyError::Unreadable),
        Err(_) => Err(BodyError::Timeout),
    }
}

/// `response` with `Cache-Control: no-store`: it carries a certificate or a UVCI.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the registry may read about a certificate.
fn status_json(record: &CertificateRecord) -> serde_json::Value {
    json!({
        "uvci": record.uvci,
        "dose_event_id": record.dose_event_id,
        "generation": record.generation,
        "status": record.status.as_str(),
        "status_reason": record.status_reason,
        "status_changed_at": record.status_changed_at,
        "superseded_by": record.superseded_by,
        "kid": record.kid,
        "iat": record.iat,
        "exp": record.exp,
    })
}

/// `GET /healthz`: 200 when the ledger answers, with the release of the value sets in use.
async fn health(State(service): State<Arc<IssuanceService>>) -> Response {
    match service.ledger().ping().await {
        Ok(()) => axum::Json(json!({
            "status": "ok",
            "value_sets": {"version": service.value_sets().version()},
        }))
        .into_response(),
        Err(_) => Problem::Unavailable.into_response(),
    }
}

/// The OpenAPI 3.1 description of this router.
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /openapi.json`.
fn openapi_response(openapi: &Arc<str>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi.to_string(),
    )
        .into_response()
}

/// `Content-Type: application/json` (parameters allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}
