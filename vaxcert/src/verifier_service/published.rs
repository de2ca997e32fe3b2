//! The verifier of `vaxcert up`: it trusts the trust list and the revocation list this node's
//! [`Publisher`] serves, read in-process and checked under the pinned trust-list key exactly as an
//! outside verifier checks them ([`crate::trust::verifier_from_documents`]). [`follow_publisher`]
//! re-reads them every few seconds and puts a new verifier in use when the publisher re-signed either
//! (a re-signed key list, a new revocation), or when the imported foreign DSC lists (`--dsc-list`,
//! [`ForeignDscs`]) changed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use hcert::ValueSets;
use issuer::publication::Publisher;
use issuer::service::Clock;
use trust_list::PinnedKey;
use verifier::Verifier;

use super::VerifierHandle;
use super::dsc_lists::ForeignDscs;
use crate::trust::{SignedDocument, TrustDocuments, verifier_from_documents};

/// How often [`follow_publisher`] re-reads the published lists.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Where the lists come from, for messages.
const SOURCE: &str = "published by this node";

/// The lists of this node's publisher, as the verifier service trusts them.
pub struct PublishedTrust {
    publisher: Arc<Publisher>,
    pinned: Vec<PinnedKey>,
    value_sets: Option<Arc<ValueSets>>,
    max_age_s: i64,
    foreign: ForeignDscs,
}

impl std::fmt::Debug for PublishedTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedTrust")
            .field("max_age_s", &self.max_age_s)
            .finish_non_exhaustive()
    }
}

/// The ETags of the lists a verifier was built from, and the generation of the foreign DSCs.
type Versions = (String, String, u64);

impl PublishedTrust {
    /// Trust in what `publisher` publishes, checked under `pinned`; the trust list may be `max_age_s`
    /// seconds old.
    pub fn new(
        publisher: Arc<Publisher>,
        pinned: PinnedKey,
        value_sets: Option<Arc<ValueSets>>,
        max_age_s: i64,
    ) -> PublishedTrust {
        PublishedTrust {
            publisher,
            pinned: vec![pinned],
            value_sets,
            max_age_s,
            foreign: ForeignDscs::default(),
        }
    }

    /// The same, also trusting the DSCs of imported foreign lists, followed as they change.
    #[must_use]
    pub fn with_foreign(mut self, foreign: ForeignDscs) -> PublishedTrust {
        self.foreign = foreign;
        self
    }

    /// The verifier the publisher's current lists describe at `now`, and their versions.
    ///
    /// # Errors
    /// Publishing failed (the ledger is down), or a list does not verify under the pinned key.
    pub async fn verifier(&self, now: i64) -> Result<(Verifier, Versions)> {
        // With nothing known, the lists always make a verifier.
        self.verifier_unless(None, now)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the published lists made no verifier"))
    }

    /// As [`PublishedTrust::verifier`], but `None` when the lists are still those of `known`.
    async fn verifier_unless(
        &self,
        known: Option<&Versions>,
        now: i64,
    ) -> Result<Option<(Verifier, Versions)>> {
        let keys = self.publisher.key_documents(now)?;
        let revocation = self.publisher.revocation_list(now).await?;
        let (generation, foreign) = self.foreign.current();
        let versions = (
            keys.trust_list.etag.clone(),
            revocation.etag.clone(),
            generation,
        );
        if known == Some(&versions) {
            return Ok(None);
        }
        let verifier = verifier_from_documents(
            TrustDocuments {
                trust_list: Some(SignedDocument {
                    bytes: &keys.trust_list.bytes,
                    source: SOURCE,
                }),
                revocation_list: Some(SignedDocument {
                    bytes: &revocation.bytes,
                    source: SOURCE,
                }),
                pinned: &self.pinned,
                dscs: &[],
                foreign: &foreign,
                max_age_s: self.max_age_s,
                value_sets: self.value_sets.clone(),
            },
            now,
        )?;
        Ok(Some((verifier, versions)))
    }
}

/// Keeps `handle` on the publisher's current lists: every `every`, re-reads them and, when either was
/// re-signed since `versions`, puts the verifier they describe in use. A failure keeps the verifier in
/// use (it turns stale on its own when the list ages past its maximum) and is logged. Runs until
/// dropped.
pub async fn follow_publisher(
    trust: PublishedTrust,
    handle: VerifierHandle,
    mut versions: Versions,
    clock: Clock,
    every: Duration,
) {
    let mut ticks = crate::serving::ticks(every).await;
    loop {
        ticks.tick().await;
        match trust.verifier_unless(Some(&versions), clock()).await {
            Ok(Some((verifier, current))) => {
                handle.replace(verifier);
                versions = current;
                tracing::info!("verifier: trust re-read from the published lists");
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(error = %error, "verifier: the published lists could not be re-read");
            }
        }
    }
}
