//! The verifier a set of trust documents describes: a signed national trust list and revocation list,
//! each checked under the pinned keys, plus DSCs trusted one by one. `vaxcert verify`, the verifier
//! service and the scanner page's in-browser verifier (`verifier-wasm`) all build theirs here, so that
//! they answer the same report for the same input.

use std::sync::Arc;

use hcert::ValueSets;
use keys::{Backend, Certificate};
use trust_list::{
    ListedDsc, PinnedKey, RevocationError, RevocationList, TrustList, TrustListError, TrustStore,
};

use crate::Verifier;

/// How old a trust list may be, in hours, before nothing is called valid: the default of `vaxcert verify`,
/// the verifier service and the scanner page's in-browser verifier.
pub const DEFAULT_TRUST_LIST_MAX_AGE_HOURS: i64 = 48;

/// A signed document and where it came from (a path, a URL, "published by this node"), for messages.
#[derive(Debug, Clone, Copy)]
pub struct SignedDocument<'a> {
    /// The document as published (a JWS).
    pub bytes: &'a [u8],
    /// Where it came from.
    pub source: &'a str,
}

/// What a verifier trusts: a signed national trust list and revocation list, each checked under the
/// pinned keys at `now`, and DSCs trusted one by one.
#[derive(Debug)]
pub struct TrustDocuments<'a> {
    /// The signed national trust list; without it, exactly `dscs` are trusted.
    pub trust_list: Option<SignedDocument<'a>>,
    /// The signed revocation list.
    pub revocation_list: Option<SignedDocument<'a>>,
    /// The keys both lists must be signed with.
    pub pinned: &'a [PinnedKey],
    /// DSCs trusted besides the list's.
    pub dscs: &'a [Certificate],
    /// DSCs of imported foreign lists, trusted besides the list's under their listed kid and country.
    pub foreign: &'a [ListedDsc],
    /// How old the trust list may be, in seconds, before nothing is called valid.
    pub max_age_s: i64,
    /// The EU value sets coded fields are checked against.
    pub value_sets: Option<Arc<ValueSets>>,
}

/// Why [`verifier_from_documents`] made no verifier. Messages name the document's source, never its
/// content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentsError {
    /// The trust list does not verify under the pinned keys, or is expired.
    #[error("the trust list {source_name} was refused")]
    TrustList {
        /// Where the list came from.
        source_name: String,
        /// Why it was refused.
        #[source]
        error: TrustListError,
    },
    /// The revocation list does not verify under the pinned keys, or is expired.
    #[error("the revocation list {source_name} was refused")]
    RevocationList {
        /// Where the list came from.
        source_name: String,
        /// Why it was refused.
        #[source]
        error: RevocationError,
    },
}

/// The verifier `documents` describe at the clock `now` (seconds since the epoch), with the default
/// signature backend.
///
/// # Errors
/// A list that does not verify under the pinned keys (or is expired at `now`), naming its source.
pub fn verifier_from_documents(
    documents: TrustDocuments<'_>,
    now: i64,
) -> Result<Verifier, DocumentsError> {
    let mut verifier = match documents.trust_list {
        Some(list) => {
            let verified =
                TrustList::verify(list.bytes, documents.pinned, now).map_err(|error| {
                    DocumentsError::TrustList {
                        source_name: list.source.to_owned(),
                        error,
                    }
                })?;
            verifier_from_trust_list(
                &verified,
                documents.dscs,
                documents.foreign,
                documents.max_age_s,
                documents.value_sets,
            )
        }
        None => {
            let mut store = TrustStore::new(Backend::default());
            add_dscs(&mut store, documents.dscs, documents.foreign);
            Verifier::new(Arc::new(store), documents.value_sets)
        }
    };
    if let Some(list) = documents.revocation_list {
        let verified =
            RevocationList::verify(list.bytes, documents.pinned, now).map_err(|error| {
                DocumentsError::RevocationList {
                    source_name: list.source.to_owned(),
                    error,
                }
            })?;
        verifier = verifier.with_revocation(Arc::new(verified));
    }
    Ok(verifier)
}

/// The verifier of a trust list verified already (by [`verifier_from_documents`], or by a refresher),
/// trusting `dscs` and the `foreign` DSCs besides the list's; the list may be `max_age_s` seconds old
/// before nothing is called valid.
pub fn verifier_from_trust_list(
    list: &TrustList,
    dscs: &[Certificate],
    foreign: &[ListedDsc],
    max_age_s: i64,
    value_sets: Option<Arc<ValueSets>>,
) -> Verifier {
    let verifier = Verifier::from_trust_list(list, Backend::default(), max_age_s, value_sets);
    if dscs.is_empty() && foreign.is_empty() {
        return verifier;
    }
    let mut store = list.store(Backend::default());
    add_dscs(&mut store, dscs, foreign);
    verifier.with_trust_store(Arc::new(store))
}

fn add_dscs(store: &mut TrustStore, dscs: &[Certificate], foreign: &[ListedDsc]) {
    for certificate in dscs {
        store.insert(certificate.clone());
    }
    for dsc in foreign {
        dsc.add_to(store);
    }
}
