//! The citizen portal's HTTP API ([`crate::citizen`]): one-time codes, a session cookie, and the
//! session's certificates as PNG, SVG and `HC1:` text.
//!
//! | method and path | answers |
//! |---|---|
//! | `POST /citizen/v1/code` `{"id_number", "dob"}` | 202 always the same body, known identity or not; 415; 422; 429 |
//! | `POST /citizen/v1/session` `{"id_number", "dob", "code"}` | 200 `{expires_at}` + `Set-Cookie`; 401 wrong or expired code; 429 locked or too many requests |
//! | `DELETE /citizen/v1/session` | 204, the cookie cleared |
//! | `GET /citizen/v1/certificates` | 200 the session's certificates, newest dose first; 401 |
//! | `GET /citizen/v1/certificates/{id}/qr.png`, `qr.svg`, `hc1.txt`, `certificate.pdf` | 200; 401; 404 for an id the session does not hold |
//! | `GET /citizen/` (with `portal.js`, `portal.css`) | the portal's page ([`page`]) |
//!
//! The cookie is `Secure; HttpOnly; SameSite=Strict`, scoped to `/citizen/`; every answer is
//! `Cache-Control: no-store`. Requests are limited per client address ([`CitizenConfig::rate_limit`]),
//! codes and wrong tries per identity ([`crate::citizen::LoginPolicy`]). Log lines carry the status only.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::json;
use tower_http::timeout::TimeoutLayer;

pub mod page;

use super::auth::{RateLimit, rate_key};
use super::{BodyError, read_limited_body};
use crate::citizen::{CitizenCertificate, LoginError, Portal, PortalError};
use crate::printable::{Printable, PrintableError, render_pdf};

/// The OpenAPI 3.1 description of the portal's routes, for a process to merge with its others.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "vaxcert_session";

/// Limits of the portal's HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CitizenConfig {
    /// Requests per client address (IPv6: per /64). Generous: mobile carriers put many phones behind one
    /// address; the per-identity rules are what stop guessing.
    pub rate_limit: RateLimit,
    /// The largest request body, bytes (413 beyond).
    pub max_body_bytes: usize,
    /// A request taking longer is answered 408.
    pub request_timeout: Duration,
}

impl Default for CitizenConfig {
    /// 10 requests/s per client address with bursts of 50, 1 KiB bodies, 10 s per request.
    fn default() -> Self {
        CitizenConfig {
            rate_limit: RateLimit {
                per_second: 10,
                burst: 50,
            },
            max_body_bytes: 1024,
            request_timeout: Duration::from_secs(10),
        }
    }
}

struct App {
    portal: Arc<Portal>,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    max_body_bytes: usize,
    body_timeout: Duration,
}

/// The portal's routes: its API under `/citizen/v1/` and its page at `/citizen/`.
pub fn router(portal: Arc<Portal>, config: CitizenConfig) -> Router {
    let per_second = NonZeroU32::new(config.rate_limit.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(config.rate_limit.burst).unwrap_or(per_second);
    let app = Arc::new(App {
        portal,
        limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        max_body_bytes: config.max_body_bytes,
        body_timeout: config.request_timeout,
    });
    Router::new()
        .route("/citizen/v1/code", post(request_code))
        .route("/citizen/v1/session", post(log_in).delete(log_out))
        .route("/citizen/v1/certificates", get(certificates))
        .route("/citizen/v1/certificates/{id}/{file}", get(download))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .with_state(app)
        .merge(page::routes())
}

/// Why a request was not answered as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotJson,
    TooLarge,
    Invalid(&'static str),
    NoSession,
    WrongCode,
    Locked,
    RateLimited,
    NotFound,
    Unavailable,
    Internal,
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::NoSession | Refusal::WrongCode => StatusCode::UNAUTHORIZED,
            Refusal::Locked | Refusal::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(self) -> serde_json::Value {
        let (error, message) = match self {
            Refusal::NotJson => ("unsupported_media_type", "send application/json"),
            Refusal::TooLarge => ("too_large", "the request is too large"),
            Refusal::Invalid(field) => return json!({"error": "invalid", "field": field}),
            Refusal::NoSession => ("no_session", "log in first"),
            Refusal::WrongCode => ("wrong_code", "wrong or expired code"),
            Refusal::Locked => ("locked", "too many wrong codes; try again later"),
            Refusal::RateLimited => ("rate_limited", "too many requests; try again later"),
            Refusal::NotFound => ("not_found", "no such certificate"),
            Refusal::Unavailable => ("unavailable", "try again later"),
            Refusal::Internal => ("internal", "something went wrong"),
        };
        json!({"error": error, "message": message})
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if self.status() == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        }
        response
    }
}

impl From<PortalError> for Refusal {
    fn from(error: PortalError) -> Refusal {
        match error {
            PortalError::Unavailable(_) => Refusal::Unavailable,
            other => {
                tracing::error!(error = %other, "citizen portal error");
                Refusal::Internal
            }
        }
    }
}

/// Every answer of the portal: no caching anywhere, and a log line with the status only.
fn finish(route: &'static str, answer: Result<Response, Refusal>) -> Response {
    let mut response = answer.unwrap_or_else(IntoResponse::into_response);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tracing::info!(route, status = response.status().as_u16(), "citizen portal");
    response
}

/// An identity as typed: a document number and a date of birth.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    id_number: String,
    dob: String,
}

/// A login: the identity and the code it was sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    id_number: String,
    dob: String,
    code: String,
}

/// `POST /citizen/v1/code`.
async fn request_code(State(app): State<Arc<App>>, request: Request) -> Response {
    let answer = async {
        let identity: Identity = read_json(&app, request).await?;
        check_identity(&identity.id_number, &identity.dob)?;
        app.portal
            .request_code(&identity.id_number, &identity.dob)
            .await?;
        Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "status": "accepted",
                "message": "Nếu thông tin khớp với một người đã tiêm, mã xác thực đã được gửi tới số điện thoại đã đăng ký. \
                            If the details match a vaccinated person, a code was sent to the phone on record."
            })),
        )
            .into_response())
    }
    .await;
    finish("/citizen/v1/code", answer)
}

/// `POST /citizen/v1/session`.
async fn log_in(State(app): State<Arc<App>>, request: Request) -> Response {
    let answer = async {
        let login: Login = read_json(&app, request).await?;
        check_identity(&login.id_number, &login.dob)?;
        if login.code.len() > 32 {
            return Err(Refusal::Invalid("code"));
        }
        let session = app
            .portal
            .log_in(&login.id_number, &login.dob, &login.code)
            .await
            .map_err(|error| match error {
                LoginError::WrongCode => Refusal::WrongCode,
                LoginError::Locked => Refusal::Locked,
                LoginError::Portal(error) => error.into(),
            })?;
        let max_age = app.portal.policy().session_lifetime_s;
        let cookie = format!(
            "{SESSION_COOKIE}={}; Path=/citizen/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict",
            session.token.as_str()
        );
        let mut response = axum::Json(json!({"expires_at": session.expires_at})).into_response();
        let cookie = HeaderValue::from_str(&cookie).map_err(|_| Refusal::Internal)?;
        response.headers_mut().insert(header::SET_COOKIE, cookie);
        Ok(response)
    }
    .await;
    finish("/citizen/v1/session", answer)
}

/// `DELETE /citizen/v1/session`.
async fn log_out(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let answer = async {
        if let Some(token) = session_token(&headers) {
            app.portal.log_out(token).await?;
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        response.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "vaxcert_session=; Path=/citizen/; Max-Age=0; Secure; HttpOnly; SameSite=Strict",
            ),
        );
        Ok(response)
    }
    .await;
    finish("/citizen/v1/session", answer)
}

/// `GET /citizen/v1/certificates`.
async fn certificates(State(app): State<Arc<App>>, request: Request) -> Response {
    let answer = async {
        let (parts, _) = request.into_parts();
        let account = account(&app, &parts).await?;
        let certificates = app.portal.certificates(&account).await?;
        let names = app.portal.value_sets();
        let list: Vec<serde_json::Value> = certificates
            .iter()
            .map(|certificate| summary(certificate, names))
            .collect();
        Ok(axum::Json(json!({"certificates": list})).into_response())
    }
    .await;
    finish("/citizen/v1/certificates", answer)
}

/// `GET /citizen/v1/certificates/{id}/{file}`.
async fn download(
    State(app): State<Arc<App>>,
    Path((id, file)): Path<(String, String)>,
    request: Request,
) -> Response {
    let answer = async {
        let (parts, _) = request.into_parts();
        let account = account(&app, &parts).await?;
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Refusal::NotFound);
        }
        let certificate = app
            .portal
            .certificate(&account, &id)
            .await?
            .ok_or(Refusal::NotFound)?;
        let hc1 = certificate.record.hc1;
        let (content_type, body) = match file.as_str() {
            "qr.png" => (
                "image/png",
                hcert::render_png(&hc1, &print_options())
                    .map_err(|_| Refusal::Internal)?
                    .into(),
            ),
            "qr.svg" => (
                "image/svg+xml",
                hcert::render_svg(&hc1, &print_options())
                    .map_err(|_| Refusal::Internal)?
                    .into_bytes()
                    .into(),
            ),
            "hc1.txt" => ("text/plain; charset=utf-8", Bytes::from(hc1.into_bytes())),
            "certificate.pdf" => (
                "application/pdf",
                printable_pdf(
                    &hc1,
                    certificate.record.iat,
                    certificate.record.exp,
                    app.portal.value_sets(),
                )?
                .into(),
            ),
            _ => return Err(Refusal::NotFound),
        };
        let mut response = Body::from(body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        let disposition = format!("attachment; filename=\"vaxcert-{id}-{file}\"");
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        Ok(response)
    }
    .await;
    finish("/citizen/v1/certificates/{id}/{file}", answer)
}

/// The printable A4 page of one of our certificates ([`crate::printable`]), its payload read back from
/// the `HC1:` text the ledger holds.
fn printable_pdf(
    hc1: &str,
    iat: i64,
    exp: i64,
    value_sets: Option<&hcert::ValueSets>,
) -> Result<Vec<u8>, Refusal> {
    fn broken<E>(what: &'static str) -> impl FnOnce(E) -> Refusal {
        move |_| {
            tracing::error!(what, "a stored certificate does not decode");
            Refusal::Internal
        }
    }
    let cose = hcert::decode_transport(hc1).map_err(broken("transport"))?;
    let sign1 = hcert::CoseSign1::parse(&cose).map_err(broken("COSE"))?;
    let claims = hcert::Claims::decode(sign1.payload()).map_err(broken("claims"))?;
    let payload =
        hcert::DccPayload::deserialize(claims.dcc.as_json()).map_err(broken("payload"))?;
    let mut printable = Printable::new(hc1, &payload, iat, exp);
    if let Some(sets) = value_sets {
        printable = printable.with_value_sets(sets);
    }
    render_pdf(&printable).map_err(|error| match error {
        PrintableError::NotVaccination => Refusal::NotFound,
        other => {
            tracing::error!(error = %other, "printable certificate failed");
            Refusal::Internal
        }
    })
}

/// The QR as printed: 8 px modules and a 4-module quiet zone.
fn print_options() -> hcert::RenderOptions {
    hcert::RenderOptions {
        module_px: 8,
        ..hcert::RenderOptions::default()
    }
}

/// What the list shows of a certificate; the product and manufacturer named by `value_sets` when given.
fn summary(
    certificate: &CitizenCertificate,
    value_sets: Option<&hcert::ValueSets>,
) -> serde_json::Value {
    let person = &certificate.confirmation.person;
    let vaccination = &certificate.confirmation.vaccination;
    let named = |set, code: &str| value_sets.and_then(|sets| sets.display(set, code));
    json!({
        "id": certificate.download_id,
        "uvci": certificate.record.uvci,
        "status": certificate.status.as_str(),
        "holder": {"fn": person.family_name, "gn": person.given_name, "dob": person.dob},
        "vaccination": {"mp": vaccination.mp, "ma": vaccination.ma, "dn": vaccination.dn,
                        "sd": vaccination.sd, "dt": vaccination.dt, "co": vaccination.co,
                        "product": named(hcert::ValueSetId::VaccineMedicinalProduct, &vaccination.mp),
                        "manufacturer": named(hcert::ValueSetId::VaccineMahManf, &vaccination.ma)},
        "iat": certificate.record.iat,
        "exp": certificate.record.exp,
    })
}

/// The account of the request's session cookie, within the client's rate.
async fn account(app: &App, request: &Parts) -> Result<String, Refusal> {
    within_rate(app, &request.extensions)?;
    let token = session_token(&request.headers).ok_or(Refusal::NoSession)?;
    app.portal.account(token).await?.ok_or(Refusal::NoSession)
}

/// The session cookie's value.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty() && value.len() <= 64)
}

/// Refuses a client over its rate.
fn within_rate(app: &App, extensions: &Extensions) -> Result<(), Refusal> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    app.limiter
        .check_key(&rate_key(peer))
        .map_err(|_| Refusal::RateLimited)
}

/// A JSON body of at most `max_body_bytes`, within the client's rate.
async fn read_json<T: for<'de> Deserialize<'de>>(
    app: &App,
    request: Request,
) -> Result<T, Refusal> {
    within_rate(app, request.extensions())?;
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Refusal::NotJson);
    }
    let (parts, body) = request.into_parts();
    let body = read_limited_body(&parts.headers, body, app.max_body_bytes, app.body_timeout)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => Refusal::TooLarge,
            BodyError::Unreadable | BodyError::Timeout => Refusal::Invalid("body"),
        })?;
    serde_json::from_slice(&body).map_err(|_| Refusal::Invalid("body"))
}

/// An identity document number (citizen ID, old ID card or passport: letters and digits) and a date of
/// birth (`YYYY-MM-DD`, `YYYY-MM` or `YYYY`), by shape only.
fn check_identity(id_number: &str, dob: &str) -> Result<(), Refusal> {
    let compact: String = id_number.chars().filter(|c| !c.is_whitespace()).collect();
    if !(6..=20).contains(&compact.len()) || !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Refusal::Invalid("id_number"));
    }
    let shape_ok = match dob.len() {
        4 => dob.bytes().all(|b| b.is_ascii_digit()),
        7 | 10 => dob.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        }),
        _ => false,
    };
    if !shape_ok {
        return Err(Refusal::Invalid("dob"));
    }
    Ok(())
}
