//! The verifier a set of trust documents describes, shared by `vaxcert verify` and the verifier service
//! (`crate::verifier_service`), so that both answer the same report for the same input.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use hcert::ValueSets;
use keys::{Backend, Certificate};
use trust_list::{ImportEntry, ListedDsc, PinnedKey, RevocationList, TrustList, gateway_from_json};
use verifier::{TrustStore, Verifier};

/// How old a trust list may be, in hours, before nothing is called valid (`vaxcert verify`'s default and
/// the verifier service's).
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
    /// DSCs of imported foreign lists ([`dscs_from_gateway_list`]), trusted besides the list's under
    /// their listed kid and country.
    pub foreign: &'a [ListedDsc],
    /// How old the trust list may be, in seconds, before nothing is called valid.
    pub max_age_s: i64,
    /// The EU value sets coded fields are checked against.
    pub value_sets: Option<Arc<ValueSets>>,
}

/// The verifier `documents` describe at the clock `now` (seconds since the epoch).
///
/// # Errors
/// A list that does not verify under the pinned keys (or is expired at `now`), naming its source.
pub fn verifier_from_documents(documents: TrustDocuments<'_>, now: i64) -> Result<Verifier> {
    let mut verifier = match documents.trust_list {
        Some(list) => {
            let verified = TrustList::verify(list.bytes, documents.pinned, now)
                .with_context(|| format!("the trust list {} was refused", list.source))?;
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
        let verified = RevocationList::verify(list.bytes, documents.pinned, now)
            .with_context(|| format!("the revocation list {} was refused", list.source))?;
        verifier = verifier.with_revocation(Arc::new(verified));
    }
    Ok(verifier)
}

/// The verifier of a trust list verified already (here, or by a refresher's `ListState`), trusting
/// `dscs` and the `foreign` DSCs besides the list's; the list may be `max_age_s` seconds old before
/// nothing is called valid.
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

/// The DSCs of a list in the EU gateway shape that `vaxcert trust-list import` wrote, read back from
/// `source` (for messages): every entry is decoded (kid, thumbprint, DER, the DSC's constraints, subject
/// `C` = the listed country). No chain and no clock: the import checked the chains, and the verifier
/// judges each DSC's validity at its own clock. The file is trusted like a `--dsc`.
///
/// # Errors
/// A document that is not a gateway list, or any entry that does not decode (naming its index).
pub fn dscs_from_gateway_list(bytes: &[u8], source: &str) -> Result<Vec<ListedDsc>> {
    let entries = gateway_from_json(bytes)
        .with_context(|| format!("the DSC list {source} is not an EU gateway list"))?;
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            ImportEntry::from(entry)
                .decode()
                .with_context(|| format!("the DSC list {source}: entry {index} refused"))
        })
        .collect()
}
