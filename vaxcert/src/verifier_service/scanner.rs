//! The scanner page at `/`: staff point a phone or laptop camera at a QR code, upload a picture of it
//! or paste its `HC1:` text; the page posts it to [`super::VERIFY_PATH`] and shows a large green or red
//! result with the holder's name and date of birth and, on red, the reason in Vietnamese and English.
//!
//! Three files embedded in the binary, served from this origin only under a strict
//! `Content-Security-Policy` (no inline script or style, nothing from another origin; camera frames are
//! drawn to a canvas and posted, never stored).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page.
pub const PAGE: &str = include_str!("scanner.html");

/// The page's script: the camera loop, the upload, the pasted text and the plain-words reason for every
/// [`verifier::Code`].
pub const SCRIPT: &str = include_str!("scanner.js");

/// The page's style sheet.
pub const STYLE: &str = include_str!("scanner.css");

/// The route of the page.
pub const PAGE_PATH: &str = "/";

/// The route of [`SCRIPT`].
pub const SCRIPT_PATH: &str = "/scanner.js";

/// The route of [`STYLE`].
pub const STYLE_PATH: &str = "/scanner.css";

/// The policy of every answer: this origin only; camera frames and pictures as `blob:`/`data:`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// Five minutes: a new release reaches every phone soon, and the page loads once per shift.
const CACHE_CONTROL: &str = "public, max-age=300";

/// `GET /`, `GET /scanner.js` and `GET /scanner.css`.
pub fn scanner_router() -> Router {
    Router::new()
        .route(
            PAGE_PATH,
            get(|| async { asset("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            SCRIPT_PATH,
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            STYLE_PATH,
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

/// `body` as `content_type` with the page's security headers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::CACHE_CONTROL, CACHE_CONTROL),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
