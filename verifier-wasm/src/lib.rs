//! The verifier library compiled to WebAssembly for the scanner page: the page verifies on the phone, from
//! a signed trust list and revocation list it cached, and no certificate content leaves the device.
//!
//! [`OfflineVerifier`] is the whole API, plain Rust so that it is tested on the host
//! (`cargo test -p verifier-wasm`); [`Scanner`] is its JavaScript face (`wasm-bindgen`), built by
//! `scripts/build-wasm` into `target/wasm-verifier/` and served by `vaxcert` under `/wasm/`.
//!
//! Nothing is duplicated from the services: the lists are checked under the pinned key and turned into a
//! [`Verifier`] by [`verifier::verifier_from_documents`] (what `vaxcert verify` and the verifier service
//! run), with the signature backend RustCrypto (AWS-LC is C and has no `wasm32-unknown-unknown` build);
//! reports are [`verifier::Report`]s, answered privacy-minimal ([`verifier::Report::minimal`], the
//! service's answer to callers without the operator token) unless the full report is asked for.
//!
//! # WebAssembly specifics
//! - The clock is the caller's: every call takes `now` (seconds since the epoch). The library never
//!   reads the system clock (`time`'s `now_utc` has no source on `wasm32-unknown-unknown`).
//! - rxing (the QR reader) stamps each code it decodes with `chrono::Utc::now()`; chrono's `wasmbind`
//!   feature (a target-specific dependency here) makes that read JavaScript's `Date` instead of panicking.
//! - Randomness: verification needs none, but `keys` links `getrandom` (key generation); on
//!   `wasm32-unknown-unknown` it is wired to the browser's `crypto.getRandomValues` (this crate's
//!   target-specific dependencies), never reached by a verification.
//! - The workspace forbids `unsafe_code`, and this crate keeps the rule: the `#[wasm_bindgen]` glue
//!   compiles under it (its generated `unsafe` lives in `wasm-bindgen`'s own crates), so there is no lint
//!   exception here.

use std::sync::Arc;

use hcert::ValueSets;
use keys::Backend;
use time::OffsetDateTime;
use trust_list::{PinnedKey, PinnedKeyError};
use verifier::{
    DEFAULT_TRUST_LIST_MAX_AGE_HOURS, Detail, DocumentsError, Input, Report, SignedDocument,
    TrustDocuments, Verifier, verifier_from_documents,
};
use wasm_bindgen::prelude::wasm_bindgen;

/// The EU value sets coded fields are checked against: the snapshot `vaxcert` builds in too
/// ([`verifier::BUILT_IN_VALUE_SETS`]), so the page judges `E_SCHEMA` as the server does.
const VALUE_SETS: [&str; 9] = verifier::BUILT_IN_VALUE_SETS;

/// Where the lists came from, for messages: the page's own cache or the server it fetched them from.
const SOURCE: &str = "cached by the scanner page";

/// Why [`OfflineVerifier::load`] made no verifier. Messages never quote a document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The pinned key is not a `PUBLIC KEY` PEM of an ES256 or EdDSA key.
    #[error("the pinned trust-list key is not usable")]
    PinnedKey(#[source] PinnedKeyError),
    /// A list does not verify under the pinned key, or has expired.
    #[error(transparent)]
    Documents(#[from] DocumentsError),
    /// The built-in value sets do not parse (a broken build).
    #[error("the built-in value sets are invalid")]
    ValueSets,
}

/// A verifier built from the signed lists the page holds.
#[derive(Debug)]
pub struct OfflineVerifier {
    verifier: Verifier,
}

impl OfflineVerifier {
    /// Checks `trust_list` and `revocation_list` (signed JWS documents, as `GET /trust-list` and
    /// `GET /revocation-list` serve them) under `pinned_key_pem` at `now`, and builds the verifier they
    /// describe; the trust list may be [`DEFAULT_TRUST_LIST_MAX_AGE_HOURS`] old before nothing is called
    /// valid, as on the server.
    ///
    /// # Errors
    /// [`LoadError::PinnedKey`] for an unusable key; [`LoadError::Documents`] for a list that is not
    /// signed with it or has expired at `now`.
    pub fn load(
        trust_list: &[u8],
        revocation_list: Option<&[u8]>,
        pinned_key_pem: &str,
        now: OffsetDateTime,
    ) -> Result<OfflineVerifier, LoadError> {
        let pinned = [PinnedKey::from_pem(Backend::default(), pinned_key_pem)
            .map_err(LoadError::PinnedKey)?];
        let value_sets = ValueSets::from_documents(VALUE_SETS).map_err(|_| LoadError::ValueSets)?;
        let verifier = verifier_from_documents(
            TrustDocuments {
                trust_list: Some(SignedDocument {
                    bytes: trust_list,
                    source: SOURCE,
                }),
                revocation_list: revocation_list.map(|bytes| SignedDocument {
                    bytes,
                    source: SOURCE,
                }),
                pinned: &pinned,
                dscs: &[],
                foreign: &[],
                max_age_s: DEFAULT_TRUST_LIST_MAX_AGE_HOURS * 3600,
                value_sets: Some(Arc::new(value_sets)),
            },
            now.unix_timestamp(),
        )?;
        Ok(OfflineVerifier { verifier })
    }

    /// The report on `input` at `now`: minimal ([`Report::minimal`]) unless `full`, then the whole report
    /// with the verified payload, as `vaxcert verify --json` prints it.
    pub fn verify(&self, input: Input<'_>, now: OffsetDateTime, full: bool) -> String {
        let detail = Detail {
            payload: full,
            unverified: false,
        };
        let report = self.verifier.verify(input, now, detail);
        if full {
            report.to_json_line()
        } else {
            minimal_json(&report)
        }
    }

    /// When the trust list in use was issued, seconds since the epoch.
    pub fn trust_list_issued_at(&self) -> Option<i64> {
        self.verifier.trust_list_issued_at()
    }

    /// When the revocation list in use was issued, seconds since the epoch.
    pub fn revocation_list_issued_at(&self) -> Option<i64> {
        self.verifier.revocation_list_issued_at()
    }
}

/// The minimal report as one line of JSON.
fn minimal_json(report: &Report) -> String {
    serde_json::to_string(&report.minimal())
        .unwrap_or_else(|_| String::from("{\"valid\":false,\"code\":\"E_INTERNAL\"}"))
}

/// Why a JavaScript call was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// `now` is not a number of seconds a date can have.
    #[error("`now` is not a time (seconds since the epoch)")]
    Clock,
    /// The lists were refused.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// `now` (seconds since the epoch, as JavaScript's `Date.now() / 1000`) as a date.
///
/// # Errors
/// [`CallError::Clock`] for a value that is not finite or out of `time`'s range.
pub fn clock(now: f64) -> Result<OffsetDateTime, CallError> {
    if !now.is_finite() {
        return Err(CallError::Clock);
    }
    // Saturating: out-of-range values become i64::MIN/MAX, which `time` refuses.
    let seconds = now.floor() as i64;
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| CallError::Clock)
}

/// The scanner page's verifier, as JavaScript sees it (`new Scanner(trustList, revocationList, pem, now)`).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Scanner {
    inner: OfflineVerifier,
}

#[wasm_bindgen]
impl Scanner {
    /// [`OfflineVerifier::load`]: `trust_list` and `revocation_list` as fetched (bytes), the pinned key's
    /// PEM text, `now` in seconds since the epoch. Throws a message (a string) naming the refused list.
    #[wasm_bindgen(constructor)]
    pub fn new(
        trust_list: &[u8],
        revocation_list: Option<Vec<u8>>,
        pinned_key_pem: &str,
        now: f64,
    ) -> Result<Scanner, String> {
        let load = || -> Result<Scanner, CallError> {
            let inner = OfflineVerifier::load(
                trust_list,
                revocation_list.as_deref(),
                pinned_key_pem,
                clock(now)?,
            )?;
            Ok(Scanner { inner })
        };
        load().map_err(|error| describe(&error))
    }

    /// The minimal report (JSON) on the `HC1:` text at `now`.
    pub fn verify(&self, hc1: &str, now: f64) -> Result<String, String> {
        let now = clock(now).map_err(|error| describe(&error))?;
        Ok(self.inner.verify(Input::Text(hc1), now, false))
    }

    /// The full report (JSON, with the verified payload) on the `HC1:` text at `now`, as
    /// `vaxcert verify --json` prints it.
    #[wasm_bindgen(js_name = verifyFull)]
    pub fn verify_full(&self, hc1: &str, now: f64) -> Result<String, String> {
        let now = clock(now).map_err(|error| describe(&error))?;
        Ok(self.inner.verify(Input::Text(hc1), now, true))
    }

    /// The minimal report (JSON) on the QR code in RGBA pixels (a canvas's `getImageData().data`) at
    /// `now`; `E_IMAGE` when the frame holds no readable code.
    #[wasm_bindgen(js_name = verifyImage)]
    pub fn verify_image(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        now: f64,
    ) -> Result<String, String> {
        let now = clock(now).map_err(|error| describe(&error))?;
        let input = Input::Rgba {
            pixels: rgba,
            width,
            height,
        };
        Ok(self.inner.verify(input, now, false))
    }

    /// When the trust list in use was issued (seconds since the epoch).
    #[wasm_bindgen(js_name = trustListIssuedAt)]
    pub fn trust_list_issued_at(&self) -> Option<f64> {
        self.inner.trust_list_issued_at().map(seconds)
    }

    /// When the revocation list in use was issued (seconds since the epoch).
    #[wasm_bindgen(js_name = revocationListIssuedAt)]
    pub fn revocation_list_issued_at(&self) -> Option<f64> {
        self.inner.revocation_list_issued_at().map(seconds)
    }
}

/// Seconds as a JavaScript number (exact below 2^53 seconds, some 285 million years).
fn seconds(value: i64) -> f64 {
    value as f64
}

/// The error and its causes on one line, as JavaScript receives it.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
