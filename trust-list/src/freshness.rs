//! Keeping a trust list fresh: a pure state machine that a service's refresher drives. The refresher
//! fetches (conditional GET, timeouts, retries are its business) and offers the bytes; the state
//! verifies them, refuses rollbacks and expired lists, and keeps the last good list on any failure.

use crate::jws::{MAX_DOCUMENT_BYTES, PinnedKey};
use crate::national::{TrustList, TrustListError};

/// The current trust list of a verifier, and the rules for replacing it.
#[derive(Debug, Clone)]
pub struct TrustListState {
    pinned: Vec<PinnedKey>,
    max_age_s: u64,
    max_bytes: usize,
    current: Option<TrustList>,
}

/// A list offered was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accepted {
    /// The list replaced the previous one (or is the first).
    Updated {
        /// Its version.
        version: u64,
        /// The version it replaced.
        previous: Option<u64>,
    },
    /// The list has the current version and the same content (a re-fetch, or the same payload
    /// re-signed): nothing changed.
    Unchanged {
        /// The version.
        version: u64,
    },
}

/// A list offered was refused; the last good list stays current.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The list does not verify (size, envelope, pinned key, signature, payload, expiry, entries).
    #[error("trust list refused: {0}")]
    Invalid(#[from] TrustListError),
    /// The list is older than the current one.
    #[error("rollback refused: offered version {offered}, current {current}")]
    Rollback {
        /// The version offered.
        offered: u64,
        /// The current version.
        current: u64,
    },
    /// The list has the current version but other content: a publisher must bump the version.
    #[error("version {version} offered with content other than the current list's")]
    ConflictingVersion {
        /// The version.
        version: u64,
    },
}

/// How fresh the current list is, for the verification report's `trust_list` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// The current list's version.
    pub version: u64,
    /// Seconds since the list was issued (0 if it claims to be issued in the future).
    pub age_s: u64,
    /// Whether the list may no longer be relied on: older than the maximum age, or expired. A verifier
    /// then calls nothing valid (`E_TRUST_LIST_STALE`).
    pub stale: bool,
    /// Whether the list is past its `expiresAt`.
    pub expired: bool,
}

impl TrustListState {
    /// No list yet; lists must verify under one of `pinned`, and become stale `max_age_s` seconds after
    /// they were issued.
    pub fn new(pinned: Vec<PinnedKey>, max_age_s: u64) -> TrustListState {
        TrustListState {
            pinned,
            max_age_s,
            max_bytes: MAX_DOCUMENT_BYTES,
            current: None,
        }
    }

    /// Refuses offered documents over `max_bytes` (default [`MAX_DOCUMENT_BYTES`]) before parsing.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> TrustListState {
        self.max_bytes = max_bytes;
        self
    }

    /// Offers a fetched document at `now` (Unix seconds). On success it becomes current; on any failure
    /// the current list stays.
    ///
    /// # Errors
    /// [`Refused::Invalid`] if the document does not verify (an expired list included),
    /// [`Refused::Rollback`] for a lower version, [`Refused::ConflictingVersion`] for the current version
    /// with other content.
    pub fn offer(&mut self, bytes: &[u8], now: i64) -> Result<Accepted, Refused> {
        let list = TrustList::verify_with_limit(bytes, &self.pinned, now, self.max_bytes)?;
        let previous = match &self.current {
            Some(current) if list.version() < current.version() => {
                return Err(Refused::Rollback {
                    offered: list.version(),
                    current: current.version(),
                });
            }
            Some(current) if list.version() == current.version() => {
                return if list.same_content(current) {
                    Ok(Accepted::Unchanged {
                        version: list.version(),
                    })
                } else {
                    Err(Refused::ConflictingVersion {
                        version: list.version(),
                    })
                };
            }
            Some(current) => Some(current.version()),
            None => None,
        };
        let version = list.version();
        self.current = Some(list);
        Ok(Accepted::Updated { version, previous })
    }

    /// The last good list, if any was ever accepted.
    pub fn current(&self) -> Option<&TrustList> {
        self.current.as_ref()
    }

    /// The current list's freshness at `now`; `None` before any list was accepted.
    pub fn status(&self, now: i64) -> Option<Freshness> {
        self.current.as_ref().map(|list| {
            let age_s = u64::try_from(now.saturating_sub(list.issued_at())).unwrap_or(0);
            let expired = now > list.expires_at();
            Freshness {
                version: list.version(),
                age_s,
                stale: expired || age_s > self.max_age_s,
                expired,
            }
        })
    }
}
