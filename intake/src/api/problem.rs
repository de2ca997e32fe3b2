//! Error answers: a status and `{"error": "...", "field": "..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::{Conflict, StoreError};

/// An error answer. `error` is a fixed text of ours; `field` names the request field at fault, if one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in a fixed text that never quotes the request.
    pub error: String,
    /// The JSON path or CSV column of the field at fault.
    pub field: Option<String>,
}

impl Problem {
    /// A problem without a field.
    pub fn new(status: StatusCode, error: impl Into<String>) -> Problem {
        Problem {
            status,
            error: error.into(),
            field: None,
        }
    }

    /// 422 naming `field`.
    pub fn invalid(field: impl Into<String>, error: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: error.into(),
            field: Some(field.into()),
        }
    }

    /// 401: no valid token or session.
    pub fn unauthorized() -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "missing or invalid credentials")
    }

    /// 403: a valid token for something else.
    pub fn forbidden() -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "not allowed for this token")
    }

    /// 404.
    pub fn not_found() -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not found")
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Problem {
        match error {
            StoreError::NotFound => Problem::not_found(),
            StoreError::Conflict(conflict) => Problem::conflict(conflict),
            StoreError::Storage(error) => {
                tracing::warn!(%error, "intake database unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable",
                )
            }
        }
    }
}

impl Problem {
    /// 409 for a conflict with what is recorded.
    pub fn conflict(conflict: Conflict) -> Problem {
        Problem::new(StatusCode::CONFLICT, conflict.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(field) => json!({"error": self.error, "field": field}),
            None => json!({"error": self.error}),
        };
        (self.status, Json(body)).into_response()
    }
}
