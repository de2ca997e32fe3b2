//! The public documents, served with strong ETags and conditional GET.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Published;
use super::problem::Problem;
use crate::publication::{Document, KeyDocuments, PublishError};

/// How long caches may keep a document before revalidating, seconds.
const MAX_AGE: &str = "public, max-age=300";

pub(super) async fn trust_list(State(app): State<Arc<Published>>, headers: HeaderMap) -> Response {
    serve_key_document(&app, &headers, |docs| &docs.trust_list)
}

pub(super) async fn gateway(State(app): State<Arc<Published>>, headers: HeaderMap) -> Response {
    serve_key_document(&app, &headers, |docs| &docs.gateway)
}

pub(super) async fn anchors(State(app): State<Arc<Published>>, headers: HeaderMap) -> Response {
    serve_key_document(&app, &headers, |docs| &docs.anchors)
}

pub(super) async fn revocation_list(
    State(app): State<Arc<Published>>,
    headers: HeaderMap,
) -> Response {
    match app.publisher.revocation_list((app.clock)()).await {
        Ok(document) => serve(&document, &headers),
        Err(error) => publish_failed(&error),
    }
}

fn serve_key_document(
    app: &Published,
    headers: &HeaderMap,
    pick: impl Fn(&KeyDocuments) -> &Document,
) -> Response {
    match app.publisher.key_documents((app.clock)()) {
        Ok(documents) => serve(pick(&documents), headers),
        Err(error) => publish_failed(&error),
    }
}

/// `GET /healthz` of the documents alone: 200 while the revocation list can be published.
pub(super) async fn health(State(app): State<Arc<Published>>) -> Response {
    match app.publisher.revocation_list((app.clock)()).await {
        Ok(_) => axum::Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(error) => publish_failed(&error),
    }
}

fn publish_failed(error: &PublishError) -> Response {
    match error {
        PublishError::Ledger(_) => Problem::Unavailable.into_response(),
        other => {
            tracing::error!(error = %other, "cannot publish");
            Problem::Internal.into_response()
        }
    }
}

/// 304 when `If-None-Match` names the document's ETag (or `*`), else the document.
fn serve(document: &Document, headers: &HeaderMap) -> Response {
    let etag = HeaderValue::from_str(&document.etag).ok();
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == document.etag);
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Body::from(document.bytes.to_vec()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(document.content_type),
        );
        response
    };
    let response_headers = response.headers_mut();
    if let Some(etag) = etag {
        response_headers.insert(header::ETAG, etag);
    }
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    response
}
