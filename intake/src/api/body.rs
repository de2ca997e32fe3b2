//! Request bodies, read the same way on every route that takes one: the media type first (415), then at
//! most a set number of bytes (413), then the JSON into the request's type (422 naming a field of ours,
//! never a value or an unknown key of the request). Public, site and registry routes all read through here.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::Problem;

/// The largest JSON body, bytes.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

/// 415 unless the request's `Content-Type` is `media_type` (parameters such as `charset` allowed).
pub(super) fn require_media_type(headers: &HeaderMap, media_type: &str) -> Result<(), Problem> {
    let matches = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with(media_type));
    if matches {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body must be {media_type}"),
        ))
    }
}

/// The body, at most `limit` bytes (413 beyond).
pub(super) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is too large or was cut short",
        )
    })
}

/// Reads an `application/json` body of at most [`MAX_JSON_BYTES`] into `T`. A 422 names the JSON path
/// at fault when `known_field` accepts it (the request type's own fields), `body` otherwise: never an
/// unknown key or a value of the request.
pub(super) async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    known_field: impl Fn(&str) -> bool,
) -> Result<T, Problem> {
    require_media_type(headers, "application/json")?;
    let bytes = read_body(body, MAX_JSON_BYTES).await?;
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let value: T = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => value,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() || inner.is_io() {
                return Err(Problem::invalid("body", "the body is not JSON"));
            }
            let message = inner.to_string();
            let candidate = match message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split_once('`'))
            {
                Some((name, _)) if path == "." => name.to_owned(),
                Some((name, _)) => format!("{path}.{name}"),
                None => path,
            };
            let field = if known_field(&candidate) {
                candidate
            } else {
                "body".to_owned()
            };
            return Err(Problem::invalid(
                field,
                "a field is missing, unknown or of the wrong type",
            ));
        }
    };
    deserializer
        .end()
        .map_err(|_| Problem::invalid("body", "the body is not JSON"))?;
    Ok(value)
}

/// A `known_field` for [`read_json`] accepting exactly `fields`, top-level names of the request type.
pub(super) fn one_of(fields: &'static [&'static str]) -> impl Fn(&str) -> bool {
    move |path| fields.contains(&path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use axum::http::HeaderValue;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Small {
        #[allow(dead_code)]
        slots: u32,
    }

    fn json_headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        headers
    }

    /// Reads `body` sent as `content_type` into a one-field request: `None` when it is read, else the
    /// status and the field named.
    async fn check(content_type: &str, body: &str) -> Option<(StatusCode, Option<String>)> {
        let headers = json_headers(content_type);
        let read: Result<Small, Problem> =
            read_json(&headers, Body::from(body.to_owned()), one_of(&["slots"])).await;
        read.err().map(|problem| (problem.status, problem.field))
    }

    /// What reading answers: `None` when the body is read, else the status and the field named.
    type Refusal = Option<(StatusCode, Option<&'static str>)>;

    #[tokio::test]
    async fn media_type_size_and_fields() {
        let big = format!(r#"{{"slots": 3, "pad": "{}"}}"#, "x".repeat(MAX_JSON_BYTES));
        let json = "application/json";
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        let cases: &[(&str, &str, Refusal)] = &[
            (json, r#"{"slots": 3}"#, None),
            ("application/json; charset=utf-8", r#"{"slots": 3}"#, None),
            (
                "text/plain",
                "{}",
                Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, None)),
            ),
            (json, &big, Some((StatusCode::PAYLOAD_TOO_LARGE, None))),
            (
                json,
                r#"{"slots": "x"}"#,
                Some((unprocessable, Some("slots"))),
            ),
            (json, "{}", Some((unprocessable, Some("slots")))),
            (
                json,
                r#"{"slots": 1, "secret": 2}"#,
                Some((unprocessable, Some("body"))),
            ),
            (json, "{", Some((unprocessable, Some("body")))),
        ];
        for (content_type, body, expected) in cases {
            let expected = expected.map(|(status, field)| (status, field.map(str::to_owned)));
            assert_eq!(
                check(content_type, body).await,
                expected,
                "{content_type} {body:.40}"
            );
        }
    }
}
