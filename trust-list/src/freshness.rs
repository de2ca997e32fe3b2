//! Keeping a signed list fresh — the trust list and the revocation list alike: a pure state machine that
//! a service's refresher drives. The refresher fetches (conditional GET, timeouts, retries are its
//! business) and offers the bytes; the state verifies them, refuses rollbacks and expired lists, and
//! keeps the last good list on any failure.

use crate::jws::{MAX_DOCUMENT_BYTES, PinnedKey};
use crate::national::{TrustList, TrustListError};
use crate::revocation::{RevocationError, RevocationList};

/// A signed, versioned list a verifier keeps fresh with a [`ListState`]: [`TrustList`] or
/// [`RevocationList`]. Sealed: only this crate's lists implement it.
pub trait VersionedList: Sized + sealed::Sealed {
    /// Why a document is not a valid list.
    type Error;

    /// Verifies a published document at `now` under `pinned`, refusing inputs over `max_bytes`.
    ///
    /// # Errors
    /// The list's own verification error (an expired list included).
    fn verify_document(
        bytes: &[u8],
        pinned: &[PinnedKey],
        now: i64,
        max_bytes: usize,
    ) -> Result<Self, Self::Error>;

    /// The list's version.
    fn list_version(&self) -> u64;

    /// When the list was made, Unix seconds.
    fn list_issued_at(&self) -> i64;

    /// When the list expires, Unix seconds.
    fn list_expires_at(&self) -> i64;

    /// Whether `other` says the same as this list (ignoring the envelope and its signature).
    fn same_content_as(&self, other: &Self) -> bool;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::national::TrustList {}
    impl Sealed for crate::revocation::RevocationList {}
}

impl VersionedList for TrustList {
    type Error = TrustListError;

    fn verify_document(
        bytes: &[u8],
        pinned: &[PinnedKey],
        now: i64,
        max_bytes: usize,
    ) -> Result<TrustList, TrustListError> {
        TrustList::verify_with_limit(bytes, pinned, now, max_bytes)
    }

    fn list_version(&self) -> u64 {
        self.version()
    }

    fn list_issued_at(&self) -> i64 {
        self.issued_at()
    }

    fn list_expires_at(&self) -> i64 {
        self.expires_at()
    }

    fn same_content_as(&self, other: &TrustList) -> bool {
        self.same_content(other)
    }
}

impl VersionedList for RevocationList {
    type Error = RevocationError;

    fn verify_document(
        bytes: &[u8],
        pinned: &[PinnedKey],
        now: i64,
        max_bytes: usize,
    ) -> Result<RevocationList, RevocationError> {
        RevocationList::verify_with_limit(bytes, pinned, now, max_bytes)
    }

    fn list_version(&self) -> u64 {
        self.version()
    }

    fn list_issued_at(&self) -> i64 {
        self.issued_at()
    }

    fn list_expires_at(&self) -> i64 {
        self.expires_at()
    }

    fn same_content_as(&self, other: &RevocationList) -> bool {
        self.same_content(other)
    }
}

/// The current list of a verifier, and the rules for replacing it.
#[derive(Debug, Clone)]
pub struct ListState<L> {
    pinned: Vec<PinnedKey>,
    max_age_s: u64,
    max_bytes: usize,
    current: Option<L>,
}

/// The current national trust list of a verifier, and the rules for replacing it.
pub type TrustListState = ListState<TrustList>;

/// The current revocation list of a verifier, and the rules for replacing it.
pub type RevocationListState = ListState<RevocationList>;

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

/// A list offered was refused; the last good list stays current. `E` is the list's verification error:
/// [`TrustListError`] (the default) or [`RevocationError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused<E = TrustListError> {
    /// The list does not verify (size, envelope, pinned key, signature, payload, expiry, entries).
    #[error("list refused: {0}")]
    Invalid(#[from] E),
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
    /// then calls nothing valid (`E_TRUST_LIST_STALE` for the trust list).
    pub stale: bool,
    /// Whether the list is past its `expiresAt`.
    pub expired: bool,
}

impl Freshness {
    /// The freshness at `now` (Unix seconds) of list `version`, issued at `issued_at` and expiring at
    /// `expires_at`, that may be `max_age_s` seconds old: stale past that age or once expired.
    pub fn at(
        version: u64,
        issued_at: i64,
        expires_at: i64,
        max_age_s: u64,
        now: i64,
    ) -> Freshness {
        let age_s = u64::try_from(now.saturating_sub(issued_at)).unwrap_or(0);
        let expired = now > expires_at;
        Freshness {
            version,
            age_s,
            stale: expired || age_s > max_age_s,
            expired,
        }
    }
}

impl<L: VersionedList> ListState<L> {
    /// No list yet; lists must verify under one of `pinned`, and become stale `max_age_s` seconds after
    /// they were issued.
    pub fn new(pinned: Vec<PinnedKey>, max_age_s: u64) -> ListState<L> {
        ListState {
            pinned,
            max_age_s,
            max_bytes: MAX_DOCUMENT_BYTES,
            current: None,
        }
    }

    /// Refuses offered documents over `max_bytes` (default [`MAX_DOCUMENT_BYTES`]) before parsing.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> ListState<L> {
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
    pub fn offer(&mut self, bytes: &[u8], now: i64) -> Result<Accepted, Refused<L::Error>> {
        let list = L::verify_document(bytes, &self.pinned, now, self.max_bytes)?;
        let version = list.list_version();
        let previous = match &self.current {
            Some(current) if version < current.list_version() => {
                return Err(Refused::Rollback {
                    offered: version,
                    current: current.list_version(),
                });
            }
            Some(current) if version == current.list_version() => {
                return if list.same_content_as(current) {
                    Ok(Accepted::Unchanged { version })
                } else {
                    Err(Refused::ConflictingVersion { version })
                };
            }
            Some(current) => Some(current.list_version()),
            None => None,
        };
        self.current = Some(list);
        Ok(Accepted::Updated { version, previous })
    }

    /// The last good list, if any was ever accepted.
    pub fn current(&self) -> Option<&L> {
        self.current.as_ref()
    }

    /// The current list's freshness at `now`; `None` before any list was accepted.
    pub fn status(&self, now: i64) -> Option<Freshness> {
        self.current.as_ref().map(|list| {
            Freshness::at(
                list.list_version(),
                list.list_issued_at(),
                list.list_expires_at(),
                self.max_age_s,
                now,
            )
        })
    }
}
