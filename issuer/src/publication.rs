//! What the issuing country publishes about its keys: the signed national trust list, the same DSCs in
//! the EU gateway shape, the CSCA anchors, and the signed revocation list fed by the ledger.

use std::sync::{Arc, Mutex, PoisonError};

use keys::Signer;
use keys::keystore::Keystore;
use sha2::Digest as _;
use trust_list::{
    BuildError, PinnedKey, RevocationListBuilder, TrustList, TrustListBuilder, anchors_to_json,
    gateway_to_json,
};

use crate::ledger::{Ledger, LedgerError, RevokedHashes};

/// A published document: its bytes, its strong ETag (quoted) and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The bytes served.
    pub bytes: Arc<[u8]>,
    /// The ETag, quoted: `"base64url(SHA-256)"`.
    pub etag: String,
    /// The `Content-Type`.
    pub content_type: &'static str,
}

impl Document {
    /// A document of `content_type` with its ETag computed from `bytes`.
    pub fn new(bytes: Vec<u8>, content_type: &'static str) -> Document {
        use base64::Engine as _;
        let digest = sha2::Sha256::digest(&bytes);
        Document {
            etag: format!(
                "\"{}\"",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
            ),
            bytes: Arc::from(bytes),
            content_type,
        }
    }
}

/// Media type of the JWS documents (trust and revocation lists).
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// Media type of the JSON documents (gateway entries, anchors).
pub const JSON_MEDIA_TYPE: &str = "application/json";

/// How long published documents are valid and which DSCs they list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicationConfig {
    /// Validity of the trust and revocation lists, seconds.
    pub list_validity_s: i64,
    /// Lists are re-signed when older than this, seconds.
    pub refresh_after_s: i64,
    /// The longest certificate validity: a retired DSC stays listed until its last certificate expires.
    pub certificate_validity_s: i64,
}

impl Default for PublicationConfig {
    /// Lists valid 7 days, re-signed hourly; certificates valid up to 365 days.
    fn default() -> Self {
        PublicationConfig {
            list_validity_s: 7 * 86_400,
            refresh_after_s: 3_600,
            certificate_validity_s: keys::keystore::DEFAULT_CERTIFICATE_VALIDITY_S,
        }
    }
}

/// Why a document could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Signing or serialising a list failed.
    #[error("cannot build the list: {0}")]
    Build(#[from] BuildError),
    /// The CSCA anchors could not be written.
    #[error("cannot write the anchors: {0}")]
    Anchors(#[from] trust_list::AnchorError),
    /// The list just signed does not verify under the pinned key.
    #[error("the signed trust list does not verify under its own key: {0}")]
    SelfCheck(String),
    /// The ledger (revoked hashes) is unavailable.
    #[error("the ledger is unavailable")]
    Ledger(#[from] LedgerError),
}

/// The key documents of one moment: the national list (and its verified form, for the issuer's own
/// self-check), the gateway view and the anchors.
#[derive(Debug, Clone)]
pub struct KeyDocuments {
    /// The signed national trust list.
    pub trust_list: Document,
    /// The DSCs in the EU gateway entry shape.
    pub gateway: Document,
    /// The CSCA anchors.
    pub anchors: Document,
    /// The trust list as a verifier reads it after checking it under the pinned key.
    pub verified: Arc<TrustList>,
    /// When they were signed.
    pub issued_at: i64,
}

/// Signs the key documents of `keystore` at `now` with the trust-list `signer` (version = `now`).
///
/// # Errors
/// [`PublishError`].
pub fn key_documents(
    keystore: &Keystore,
    signer: &dyn Signer,
    config: &PublicationConfig,
    now: i64,
) -> Result<KeyDocuments, PublishError> {
    let spki = keystore.trust_list_signer_spki();
    let version = u64::try_from(now).unwrap_or_default();
    let mut builder = TrustListBuilder::new(keystore.country())?;
    for dsc in keystore.listed_dscs(now, config.certificate_validity_s) {
        builder.add(dsc.certificate().clone(), keystore.country())?;
    }
    let national = builder.build(
        version,
        now,
        now.saturating_add(config.list_validity_s),
        signer,
        spki,
    )?;
    let pinned = PinnedKey::from_spki_der(keystore.backend(), spki)
        .map_err(|error| PublishError::SelfCheck(error.to_string()))?;
    let verified = TrustList::verify(national.as_bytes(), &[pinned], now)
        .map_err(|error| PublishError::SelfCheck(error.to_string()))?;
    let gateway = gateway_to_json(&builder.gateway_entries(now, signer)?)?;
    let anchors = anchors_to_json(std::slice::from_ref(keystore.csca()))?;
    Ok(KeyDocuments {
        trust_list: Document::new(national.as_bytes().to_vec(), JWS_MEDIA_TYPE),
        gateway: Document::new(gateway, JSON_MEDIA_TYPE),
        anchors: Document::new(anchors, JSON_MEDIA_TYPE),
        verified: Arc::new(verified),
        issued_at: now,
    })
}

/// Signs a revocation list of `revoked` at `now` (version = `now`).
///
/// # Errors
/// [`PublishError::Build`].
pub fn revocation_document(
    revoked: &[RevokedHashes],
    signer: &dyn Signer,
    signer_spki: &[u8],
    config: &PublicationConfig,
    now: i64,
) -> Result<Document, PublishError> {
    let mut builder = RevocationListBuilder::new();
    for hashes in revoked {
        builder
            .add(trust_list::HashType::Uci, hashes.uci)
            .add(trust_list::HashType::CountryCodeUci, hashes.country_uci)
            .add(trust_list::HashType::Signature, hashes.signature);
    }
    let version = u64::try_from(now).unwrap_or_default();
    let list = builder.build(
        version,
        now,
        now.saturating_add(config.list_validity_s),
        signer,
        signer_spki,
    )?;
    Ok(Document::new(list.as_bytes().to_vec(), JWS_MEDIA_TYPE))
}

/// The publisher a running service serves from: key documents re-signed when they age, the revocation
/// list re-signed whenever the ledger revokes something.
pub struct Publisher {
    keystore: Keystore,
    signer: Arc<dyn Signer>,
    ledger: Arc<Ledger>,
    config: PublicationConfig,
    keys: Mutex<Arc<KeyDocuments>>,
    revocation: tokio::sync::Mutex<Option<(i64, i64, Document)>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher of `keystore`'s documents, signed by the trust-list `signer`, with revocations from
    /// `ledger`; signs the key documents at `now`.
    ///
    /// # Errors
    /// [`PublishError`].
    pub fn new(
        keystore: Keystore,
        signer: Arc<dyn Signer>,
        ledger: Arc<Ledger>,
        config: PublicationConfig,
        now: i64,
    ) -> Result<Publisher, PublishError> {
        let keys = key_documents(&keystore, signer.as_ref(), &config, now)?;
        Ok(Publisher {
            keystore,
            signer,
            ledger,
            config,
            keys: Mutex::new(Arc::new(keys)),
            revocation: tokio::sync::Mutex::new(None),
        })
    }

    /// The key documents, re-signed first if older than the refresh interval.
    ///
    /// # Errors
    /// [`PublishError`] when re-signing fails (the previous documents stay in place).
    pub fn key_documents(&self, now: i64) -> Result<Arc<KeyDocuments>, PublishError> {
        let mut current = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_sub(current.issued_at) >= self.config.refresh_after_s {
            *current = Arc::new(key_documents(
                &self.keystore,
                self.signer.as_ref(),
                &self.config,
                now,
            )?);
        }
        Ok(Arc::clone(&current))
    }

    /// The revocation list, re-signed when the ledger has revoked something since, or when it ages.
    ///
    /// # Errors
    /// [`PublishError::Ledger`] when the ledger is unavailable; [`PublishError::Build`].
    pub async fn revocation_list(&self, now: i64) -> Result<Document, PublishError> {
        let version = self.ledger.revocation_version().await?;
        let mut cached = self.revocation.lock().await;
        if let Some((cached_version, signed_at, document)) = cached.as_ref() {
            let fresh = now.saturating_sub(*signed_at) < self.config.refresh_after_s;
            if *cached_version == version && fresh {
                return Ok(document.clone());
            }
        }
        let revoked = self.ledger.revoked_hashes(now).await?;
        let document = revocation_document(
            &revoked,
            self.signer.as_ref(),
            self.keystore.trust_list_signer_spki(),
            &self.config,
            now,
        )?;
        *cached = Some((version, now, document.clone()));
        Ok(document)
    }
}
