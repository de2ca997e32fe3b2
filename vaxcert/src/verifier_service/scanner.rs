//! The scanner page at `/`: staff point a phone or laptop camera at a QR code, upload a picture of it
//! or paste its `HC1:` text; the page posts it to [`super::VERIFY_PATH`] and shows a large green or red
//! result with the holder's name and date of birth and, on red, the reason in Vietnamese and English.
//!
//! Three files embedded in the binary, served from this origin only under a strict
//! `Content-Security-Policy` (no inline script or style, nothing from another origin; camera frames are
//! drawn to a canvas and posted, never stored).
//!
//! When the binary was built with the WebAssembly verifier (`scripts/build-wasm` before `cargo build`:
//! [`WASM_ASSETS`]), the page verifies on the device instead: it loads [`WASM_SCRIPT_PATH`] and
//! [`WASM_MODULE_PATH`], fetches `/trust-list`, `/revocation-list` and the pinned key
//! ([`super::TRUST_LIST_KEY_PATH`]), keeps them in `localStorage` for offline use, and posts nothing
//! unless staff tick "check on the server". [`WORKER_PATH`] is its service worker, so the page and the
//! verifier load offline too. The policy then allows exactly what compiling WebAssembly needs
//! (`'wasm-unsafe-eval'`), nothing more.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest as _, Sha256};

/// The page.
pub const PAGE: &str = include_str!("scanner.html");

/// The page's script: the camera loop, the upload, the pasted text and the plain-words reason for every
/// [`verifier::Code`].
pub const SCRIPT: &str = include_str!("scanner.js");

/// The page's style sheet.
pub const STYLE: &str = include_str!("scanner.css");

/// The page's service worker: keeps the page, its script and style and the WebAssembly verifier in the
/// Cache API so that they load offline (network first, the cache when offline).
pub const WORKER: &str = include_str!("scanner-sw.js");

/// The WebAssembly verifier (crate `verifier-wasm`), as `wasm-bindgen --target web` wrote it.
#[derive(Debug, Clone, Copy)]
pub struct WasmAssets {
    /// The glue script (an ES module).
    pub script: &'static str,
    /// The module.
    pub module: &'static [u8],
}

/// The WebAssembly verifier embedded at build time, or `None` when it had not been built
/// (`vaxcert/build.rs`).
pub const WASM_ASSETS: Option<WasmAssets> = include!(concat!(env!("OUT_DIR"), "/wasm_assets.rs"));

/// The route of the page.
pub const PAGE_PATH: &str = "/";

/// The route of [`SCRIPT`].
pub const SCRIPT_PATH: &str = "/scanner.js";

/// The route of [`STYLE`].
pub const STYLE_PATH: &str = "/scanner.css";

/// The route of [`WORKER`] (at the root, so that its scope is the page).
pub const WORKER_PATH: &str = "/scanner-sw.js";

/// The route of [`WasmAssets::script`].
pub const WASM_SCRIPT_PATH: &str = "/wasm/verifier_wasm.js";

/// The route of [`WasmAssets::module`].
pub const WASM_MODULE_PATH: &str = "/wasm/verifier_wasm_bg.wasm";

/// The policy of every answer: this origin only; camera frames and pictures as `blob:`/`data:`;
/// WebAssembly may be compiled (`'wasm-unsafe-eval'`, which allows no JavaScript `eval`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; \
     worker-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Five minutes: a new release reaches every phone soon, and the page loads once per shift.
const CACHE_CONTROL: &str = "public, max-age=300";

/// The WebAssembly verifier's files: revalidated on every load (`no-cache`, answered 304 while their
/// ETag holds), so that the glue script and the module of one build always go together.
const WASM_CACHE_CONTROL: &str = "no-cache";

/// `GET /`, `GET /scanner.js`, `GET /scanner.css`, `GET /scanner-sw.js`, and the WebAssembly verifier
/// under `/wasm/` when it was built in.
pub fn scanner_router() -> Router {
    let router = Router::new()
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
        .route(
            WORKER_PATH,
            get(|| async { asset("text/javascript; charset=utf-8", WORKER) }),
        );
    match WASM_ASSETS {
        Some(assets) => {
            let script = WasmFile::new("text/javascript; charset=utf-8", assets.script.as_bytes());
            let module = WasmFile::new("application/wasm", assets.module);
            router
                .route(
                    WASM_SCRIPT_PATH,
                    get(move |headers: HeaderMap| async move { script.answer(&headers) }),
                )
                .route(
                    WASM_MODULE_PATH,
                    get(move |headers: HeaderMap| async move { module.answer(&headers) }),
                )
        }
        None => router,
    }
}

/// A file of the WebAssembly verifier and its ETag (a SHA-256 prefix, computed once).
#[derive(Clone)]
struct WasmFile {
    content_type: &'static str,
    body: &'static [u8],
    etag: HeaderValue,
}

impl WasmFile {
    fn new(content_type: &'static str, body: &'static [u8]) -> WasmFile {
        let digest = Sha256::digest(body);
        let tag: String = digest
            .iter()
            .take(12)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        WasmFile {
            content_type,
            body,
            etag: HeaderValue::from_str(&format!("\"{tag}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\"")),
        }
    }

    /// The file, or 304 when the client holds this version.
    fn answer(&self, headers: &HeaderMap) -> Response {
        let etag = self.etag.as_bytes();
        let fresh = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&byte| byte == b','))
            .any(|candidate| candidate.trim_ascii() == etag);
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            self.body.into_response()
        };
        secure(&mut response, self.content_type, WASM_CACHE_CONTROL);
        response
            .headers_mut()
            .insert(header::ETAG, self.etag.clone());
        response
    }
}

/// `body` as `content_type` with the page's security headers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    secure(&mut response, content_type, CACHE_CONTROL);
    response
}

/// The type, the caching and the page's security headers on `response`.
fn secure(response: &mut Response, content_type: &'static str, cache_control: &'static str) {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::CACHE_CONTROL, cache_control),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
