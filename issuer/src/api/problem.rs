//! Refusals as HTTP answers: a status, a stable `error` code and, for validation, the field.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::FieldError;
use crate::service::ServiceError;

/// The field a refused correction names.
const SUPERSEDES: &str = "supersedes_dose_event_id";

/// Seconds a client should wait after a 503 or 429.
const RETRY_AFTER_S: &str = "5";

/// Why a request was refused.
#[derive(Debug)]
pub(crate) enum Problem {
    /// No usable bearer token (401).
    Unauthenticated,
    /// The client lacks the scope (403).
    Forbidden,
    /// A correction of another client's dose event without the `correct` scope (403).
    CorrectionForbidden,
    /// Over the client's rate (429).
    RateLimited,
    /// Not `application/json` (415).
    UnsupportedMediaType,
    /// The body is over the limit (413).
    PayloadTooLarge,
    /// The body did not arrive in time (408).
    BodyTimeout,
    /// The body could not be read: the client broke it off or sent bad framing (400).
    BodyUnreadable,
    /// Not a JSON body of the expected shape (422); the parser's message, which names the field.
    Malformed(String),
    /// A field failed validation (422).
    Invalid(FieldError),
    /// Same idempotency key, another body (409).
    Conflict,
    /// The superseded dose event was corrected already (409).
    AlreadyCorrected,
    /// Not found (404).
    NotFound,
    /// The certificate's status does not allow the change (409).
    WrongStatus(&'static str),
    /// The ledger is down (503).
    Unavailable,
    /// Issuing or the ledger failed otherwise (500).
    Internal,
}

impl Problem {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Problem::Unauthenticated => StatusCode::UNAUTHORIZED,
            Problem::Forbidden | Problem::CorrectionForbidden => StatusCode::FORBIDDEN,
            Problem::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Problem::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Problem::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Problem::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Problem::BodyUnreadable => StatusCode::BAD_REQUEST,
            Problem::Malformed(_) | Problem::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Problem::Conflict | Problem::AlreadyCorrected | Problem::WrongStatus(_) => {
                StatusCode::CONFLICT
            }
            Problem::NotFound => StatusCode::NOT_FOUND,
            Problem::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable `error` code of the body.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Problem::Unauthenticated => "unauthenticated",
            Problem::Forbidden => "forbidden",
            Problem::CorrectionForbidden => "correction_forbidden",
            Problem::RateLimited => "rate_limited",
            Problem::UnsupportedMediaType => "unsupported_media_type",
            Problem::PayloadTooLarge => "payload_too_large",
            Problem::BodyTimeout => "body_timeout",
            Problem::BodyUnreadable => "unreadable_body",
            Problem::Malformed(_) => "malformed_request",
            Problem::Invalid(_) => "invalid_field",
            Problem::Conflict => "idempotency_conflict",
            Problem::AlreadyCorrected => "already_corrected",
            Problem::NotFound => "not_found",
            Problem::WrongStatus(_) => "wrong_status",
            Problem::Unavailable => "ledger_unavailable",
            Problem::Internal => "issuing_failed",
        }
    }
}

impl From<ServiceError> for Problem {
    fn from(error: ServiceError) -> Problem {
        match error {
            ServiceError::Invalid(field) => Problem::Invalid(field),
            ServiceError::Conflict => Problem::Conflict,
            ServiceError::CorrectionForbidden => Problem::CorrectionForbidden,
            ServiceError::AlreadyCorrected => Problem::AlreadyCorrected,
            ServiceError::NotFound => Problem::NotFound,
            ServiceError::WrongStatus(status) => Problem::WrongStatus(status.as_str()),
            ServiceError::Unavailable(_) => Problem::Unavailable,
            ServiceError::Issue(issue) => {
                tracing::error!(error = %issue, "issuing failed");
                Problem::Internal
            }
            ServiceError::Ledger(ledger) => {
                tracing::error!(error = %ledger, "ledger error");
                Problem::Internal
            }
            ServiceError::Randomness => {
                tracing::error!("no randomness to seal a holder's contact details");
                Problem::Internal
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let body = match &self {
            Problem::Invalid(field) => json!({
                "error": code,
                "field": field.field,
                "message": field.to_string(),
            }),
            Problem::Malformed(message) => json!({"error": code, "message": message}),
            Problem::CorrectionForbidden => json!({
                "error": code,
                "field": SUPERSEDES,
                "message": "the superseded dose event was confirmed by another client: correcting \
                            it needs the correct scope",
            }),
            Problem::AlreadyCorrected => json!({
                "error": code,
                "field": SUPERSEDES,
                "message": "the superseded dose event was corrected already",
            }),
            Problem::WrongStatus(status) => json!({
                "error": code,
                "message": format!("the certificate is {status}"),
            }),
            _ => json!({"error": code}),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Problem::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"vaxcert-internal\""),
                );
            }
            Problem::RateLimited | Problem::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
            }
            _ => {}
        }
        response
    }
}
