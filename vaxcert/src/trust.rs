//! The verifier a set of trust documents describes, shared by `vaxcert verify` and the verifier service
//! (`crate::verifier_service`), so that both answer the same report for the same input. Building a verifier
//! from signed documents is the library's ([`verifier_from_documents`]), shared with the scanner page's
//! in-browser verifier.

use anyhow::{Context as _, Result};
use trust_list::{ImportEntry, ListedDsc, gateway_from_json};
pub use verifier::{
    DEFAULT_TRUST_LIST_MAX_AGE_HOURS, SignedDocument, TrustDocuments, verifier_from_documents,
    verifier_from_trust_list,
};

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
