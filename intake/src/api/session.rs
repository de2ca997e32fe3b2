//! Registrants' sessions: the `intake_session` cookie a one-time code opens (`public`'s
//! `POST /intake/v1/sessions`), which every route acting for a phone reads through [`session_phone`].

use axum::http::{HeaderMap, header};

use super::{IntakeState, Problem};
use crate::store::StoreError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "intake_session";

/// The session token of the request's `intake_session` cookie, if it has one.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty() && token.len() <= 128)
}

/// The `Set-Cookie` value of a new session.
pub(crate) fn session_cookie(token: &str, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/intake/; Max-Age={max_age}"
    )
}

/// The `Set-Cookie` value that clears the session cookie.
pub(crate) const CLEARED_COOKIE: &str =
    "intake_session=; HttpOnly; Secure; SameSite=Strict; Path=/intake/; Max-Age=0";

/// The phone (E.164) of the request's live session.
///
/// # Errors
/// 401 without a cookie or with an unknown or expired session; 503 when the database is unavailable.
pub async fn session_phone(state: &IntakeState, headers: &HeaderMap) -> Result<String, Problem> {
    let token = session_token(headers).ok_or_else(Problem::unauthorized)?;
    match state.intake.phone_session(token, state.now()).await {
        Ok(phone) => Ok(phone),
        Err(StoreError::NotFound) => Err(Problem::unauthorized()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::session_token;
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_token(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; intake_sessionx=2"),
        );
        assert_eq!(session_token(&headers), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("b=3;intake_session=tok; c=4"),
        );
        assert_eq!(session_token(&headers), Some("tok"));
    }
}
