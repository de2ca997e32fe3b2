//! Fetching published documents (trust lists, revocation lists) over HTTP(S) with conditional GET, and the
//! refresher a service runs to keep its trust list and revocation list fresh.
//!
//! The verification of what is fetched is the `trust-list` library's job: this module only moves bytes and
//! remembers the validators (`ETag`, `Last-Modified`) of the last good answer.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use trust_list::{Accepted, ListState, Refused, TrustList, TrustListError, VersionedList};

/// The most bytes a published document may have (a list of 100,000 DSCs is about 100 MB; ours is far
/// smaller). Larger answers are cut off and refused without being parsed.
pub const MAX_DOCUMENT_BYTES: u64 = trust_list::MAX_DOCUMENT_BYTES as u64;

/// What a conditional GET answered.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the document has not changed since the validators we sent.
    NotModified,
    /// 200: a new document and its validators.
    Document {
        /// The body.
        bytes: Vec<u8>,
        /// The `ETag` header, if any.
        etag: Option<String>,
        /// The `Last-Modified` header, if any.
        last_modified: Option<String>,
    },
}

/// Validators of the last good answer, sent back as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` to send as `If-None-Match`.
    pub etag: Option<String>,
    /// The `Last-Modified` to send as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// An HTTP(S) agent with rustls on AWS-LC (the TLS provider the rest of the system uses), short timeouts,
/// and no redirects to other schemes.
pub fn agent() -> ureq::Agent {
    let crypto = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(crypto)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// GETs `url`, conditionally on `validators`.
pub fn fetch(agent: &ureq::Agent, url: &str, validators: &Validators) -> Result<Fetched> {
    let mut request = agent.get(url);
    if let Some(etag) = &validators.etag {
        request = request.header("If-None-Match", etag);
    }
    if let Some(last_modified) = &validators.last_modified {
        request = request.header("If-Modified-Since", last_modified);
    }
    let mut response = request
        .call()
        .with_context(|| format!("cannot fetch {url}"))?;
    let status = response.status().as_u16();
    if status == 304 {
        return Ok(Fetched::NotModified);
    }
    if status != 200 {
        bail!("{url} answered HTTP {status}");
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (etag, last_modified) = (header("etag"), header("last-modified"));
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the answer of {url}"))?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        bail!("{url} answered more than {MAX_DOCUMENT_BYTES} bytes");
    }
    Ok(Fetched::Document {
        bytes,
        etag,
        last_modified,
    })
}

/// Reads a document from a file path or an `http(s)://` URL.
pub fn read_document(source: &str) -> Result<Vec<u8>> {
    if is_url(source) {
        match fetch(&agent(), source, &Validators::default())? {
            Fetched::Document { bytes, .. } => Ok(bytes),
            Fetched::NotModified => bail!("{source} answered 304 to an unconditional GET"),
        }
    } else {
        let metadata =
            std::fs::metadata(source).with_context(|| format!("cannot read {source}"))?;
        if metadata.len() > MAX_DOCUMENT_BYTES {
            bail!("{source} is larger than {MAX_DOCUMENT_BYTES} bytes");
        }
        std::fs::read(source).with_context(|| format!("cannot read {source}"))
    }
}

/// Whether `source` is an `http(s)://` URL rather than a file path.
fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// What one refresh did. `E` is the list's verification error (the trust list's by default).
#[derive(Debug)]
pub enum Refresh<E = TrustListError> {
    /// The server answered 304: the list in use is still the latest.
    NotModified,
    /// A new list was verified and is now in use.
    Updated(Accepted),
    /// The server's answer was refused; the last good list stays in use.
    Refused(Refused<E>),
}

/// A document source polled for changes: an `http(s)://` URL fetched with conditional GET (the validators
/// of the last answer [`Source::accept`]ed sent back), or else a file, re-read on every poll.
#[derive(Debug)]
pub struct Source {
    url: String,
    agent: ureq::Agent,
    validators: Validators,
}

impl Source {
    /// A source for `url` (or a file path).
    pub fn new(url: &str) -> Source {
        Source {
            url: url.to_owned(),
            agent: agent(),
            validators: Validators::default(),
        }
    }

    /// The URL or path, as given.
    pub fn location(&self) -> &str {
        &self.url
    }

    /// Fetches once: `None` when the server answered 304, else the document and the validators to
    /// [`Source::accept`] once it proved good.
    ///
    /// # Errors
    /// A network, HTTP or file failure.
    pub fn poll(&self) -> Result<Option<(Vec<u8>, Validators)>> {
        if !is_url(&self.url) {
            return Ok(Some((read_document(&self.url)?, Validators::default())));
        }
        Ok(match fetch(&self.agent, &self.url, &self.validators)? {
            Fetched::NotModified => None,
            Fetched::Document {
                bytes,
                etag,
                last_modified,
            } => Some((
                bytes,
                Validators {
                    etag,
                    last_modified,
                },
            )),
        })
    }

    /// Remembers the validators of a document that was accepted, for the next conditional GET.
    pub fn accept(&mut self, validators: Validators) {
        self.validators = validators;
    }
}

/// Keeps a signed list fresh from a URL — the trust list (the default) or the revocation list
/// (`Refresher<RevocationList>`): conditional GET, verification against the pinned keys, no rollback, no
/// expired list, and the last good list kept on any failure (network, HTTP, or a bad list). A source
/// that is not an `http(s)://` URL is a file, re-read on every refresh.
#[derive(Debug)]
pub struct Refresher<L = TrustList> {
    source: Source,
    state: ListState<L>,
}

impl<L: VersionedList> Refresher<L> {
    /// A refresher for `url`, verifying with `state`'s pinned keys.
    pub fn new(url: &str, state: ListState<L>) -> Self {
        Refresher {
            source: Source::new(url),
            state,
        }
    }

    /// Fetches once at `now` (Unix seconds). A network, HTTP or file failure is an error and changes
    /// nothing.
    pub fn refresh(&mut self, now: i64) -> Result<Refresh<L::Error>> {
        let Some((bytes, validators)) = self.source.poll()? else {
            return Ok(Refresh::NotModified);
        };
        match self.state.offer(&bytes, now) {
            Ok(accepted) => {
                self.source.accept(validators);
                Ok(Refresh::Updated(accepted))
            }
            Err(refused) => Ok(Refresh::Refused(refused)),
        }
    }

    /// The list state: the list in use and its freshness.
    pub fn state(&self) -> &ListState<L> {
        &self.state
    }
}
