//! The portal's page at `/citizen/`: log in with a one-time code, list, download. Plain HTML, a style
//! sheet and a little JavaScript embedded in the binary, served from this origin only under a strict
//! `Content-Security-Policy`; Vietnamese first, with English.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The page.
pub const PAGE: &str = include_str!("portal.html");

/// The page's script.
pub const SCRIPT: &str = include_str!("portal.js");

/// The page's style sheet.
pub const STYLE: &str = include_str!("portal.css");

/// The route of the page.
pub const PAGE_PATH: &str = "/citizen/";

/// This origin only: no inline script or style, nothing from elsewhere, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The page, its script and its style sheet, and `/citizen` sent on to the page.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            PAGE_PATH,
            get(|| async { asset(PAGE, "text/html; charset=utf-8") }),
        )
        .route("/citizen", get(|| async { Redirect::permanent(PAGE_PATH) }))
        .route(
            "/citizen/portal.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/citizen/portal.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
