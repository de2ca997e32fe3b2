//! The national trust list: our DSCs, versioned, dated, and signed as a JWS by a key verifiers pin.
//!
//! ```json
//! {"version": 42, "issuedAt": 1700000000, "expiresAt": 1700604800, "issuerCountry": "VN",
//!  "entries": [{"kid": "base64", "country": "VN", "certificateType": "DSC", "rawData": "base64 DER",
//!               "thumbprint": "sha-256 hex", "notBefore": 1609459200, "notAfter": 1924992000,
//!               "keyUsage": ["t", "v", "r"]}]}
//! ```
//!
//! The payload is the JWS payload of [`crate::jws`]'s envelope with `typ` `vaxcert-trust-list+json`.

use std::collections::HashSet;

use keys::{Backend, Certificate, Kid, Signer};
use serde::{Deserialize, Serialize};

use crate::encoding::{b64_encode, hex_encode, is_country_code, json_position};
use crate::entry::{self, EntryError, RawEntry, usage_codes};
use crate::gateway::GatewayEntry;
use crate::jws::{
    self, BuildError, JwsError, MAX_DOCUMENT_BYTES, PinnedKey, SignedDocument, TYP_TRUST_LIST,
};
use crate::store::TrustStore;

/// The payload of the national trust list, as serialised (camelCase keys, as the EU gateway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustListPayload {
    /// Increases with every list published; verifiers refuse a lower one (rollback).
    pub version: u64,
    /// When the list was made, Unix seconds.
    pub issued_at: i64,
    /// After this second the list must not be used, Unix seconds.
    pub expires_at: i64,
    /// The publishing country (ISO 3166-1 alpha-2).
    pub issuer_country: String,
    /// The DSCs.
    pub entries: Vec<DscEntry>,
}

/// One DSC of the national list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DscEntry {
    /// The kid, standard base64 of the first 8 bytes of the SHA-256 of the DER.
    pub kid: String,
    /// The DSC's country (ISO 3166-1 alpha-2).
    pub country: String,
    /// Always `"DSC"`.
    pub certificate_type: String,
    /// The certificate, standard base64 of its DER.
    pub raw_data: String,
    /// SHA-256 of the DER, lower-case hex.
    pub thumbprint: String,
    /// The certificate's notBefore, Unix seconds.
    pub not_before: i64,
    /// The certificate's notAfter, Unix seconds.
    pub not_after: i64,
    /// What the DSC may sign, from its extended key usage: a subset of `["t", "v", "r"]`, or `["any"]`.
    pub key_usage: Vec<String>,
}

impl DscEntry {
    /// The entry for `certificate`, listed under `country`.
    pub fn new(certificate: &Certificate, country: &str) -> DscEntry {
        DscEntry {
            kid: certificate.kid().to_string(),
            country: country.to_owned(),
            certificate_type: "DSC".to_owned(),
            raw_data: b64_encode(certificate.der()),
            thumbprint: hex_encode(&certificate.sha256_thumbprint()),
            not_before: certificate.not_before(),
            not_after: certificate.not_after(),
            key_usage: usage_codes(certificate.usage()),
        }
    }

    /// Decodes and checks the entry on its own: every field against the certificate, and the DSC's own
    /// constraints (P-256 or RSA 2048-8192, not a CA).
    fn decode(&self) -> Result<ListedDsc, EntryError> {
        let (kid, certificate) = entry::decode(&RawEntry {
            kid: &self.kid,
            country: &self.country,
            certificate_type: &self.certificate_type,
            raw_data: &self.raw_data,
            thumbprint: &self.thumbprint,
        })?;
        if (self.not_before, self.not_after) != (certificate.not_before(), certificate.not_after())
        {
            return Err(EntryError::ValidityMismatch);
        }
        if self.key_usage != usage_codes(certificate.usage()) {
            return Err(EntryError::KeyUsageMismatch);
        }
        Ok(ListedDsc {
            kid,
            country: self.country.clone(),
            certificate,
        })
    }
}

/// A DSC as a checked list lists it: under its kid, with the list's country. Ready for a [`TrustStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDsc {
    kid: Kid,
    country: String,
    certificate: Certificate,
}

impl ListedDsc {
    pub(crate) fn new(kid: Kid, country: String, certificate: Certificate) -> ListedDsc {
        ListedDsc {
            kid,
            country,
            certificate,
        }
    }

    /// The kid it is listed under (always the certificate's own kid: lists listing another are refused).
    pub fn kid(&self) -> Kid {
        self.kid
    }

    /// The country the list gives it.
    pub fn country(&self) -> &str {
        &self.country
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Adds it to `store`, under its kid and country.
    pub fn add_to(&self, store: &mut TrustStore) {
        store.insert_listed(
            self.kid,
            self.certificate.clone(),
            Some(self.country.clone()),
        );
    }
}

/// Collects our DSCs and signs them into the national list (and its EU gateway shape).
///
/// Strict in what it writes: it refuses what [`TrustList::verify`] would refuse (a CA, a key other than
/// P-256 or RSA 2048-8192, a malformed country, the same DSC twice).
#[derive(Debug, Clone)]
pub struct TrustListBuilder {
    issuer_country: String,
    dscs: Vec<ListedDsc>,
    seen: HashSet<[u8; 32]>,
}

impl TrustListBuilder {
    /// An empty list published by `issuer_country`.
    ///
    /// # Errors
    /// [`BuildError::InvalidCountry`] unless the code is two upper-case ASCII letters.
    pub fn new(issuer_country: &str) -> Result<TrustListBuilder, BuildError> {
        if !is_country_code(issuer_country) {
            return Err(BuildError::InvalidCountry);
        }
        Ok(TrustListBuilder {
            issuer_country: issuer_country.to_owned(),
            dscs: Vec::new(),
            seen: HashSet::new(),
        })
    }

    /// Adds a DSC listed under `country` (usually the issuer country).
    ///
    /// # Errors
    /// [`BuildError::InvalidCountry`], [`BuildError::DuplicateDsc`], or [`BuildError::Dsc`] for a
    /// certificate readers would refuse.
    pub fn add(
        &mut self,
        certificate: Certificate,
        country: &str,
    ) -> Result<&mut TrustListBuilder, BuildError> {
        if !is_country_code(country) {
            return Err(BuildError::InvalidCountry);
        }
        let kid = certificate.kid();
        entry::check_dsc(&certificate).map_err(|reason| BuildError::Dsc { kid, reason })?;
        if !self.seen.insert(certificate.sha256_thumbprint()) {
            return Err(BuildError::DuplicateDsc { kid });
        }
        self.dscs
            .push(ListedDsc::new(kid, country.to_owned(), certificate));
        Ok(self)
    }

    /// How many DSCs have been added.
    pub fn len(&self) -> usize {
        self.dscs.len()
    }

    /// Whether no DSC has been added (an empty list is valid: it withdraws every DSC).
    pub fn is_empty(&self) -> bool {
        self.dscs.is_empty()
    }

    /// The payload the list will carry.
    pub fn payload(&self, version: u64, issued_at: i64, expires_at: i64) -> TrustListPayload {
        TrustListPayload {
            version,
            issued_at,
            expires_at,
            issuer_country: self.issuer_country.clone(),
            entries: self
                .dscs
                .iter()
                .map(|dsc| DscEntry::new(&dsc.certificate, &dsc.country))
                .collect(),
        }
    }

    /// Signs the list with `signer`, whose public key is `signer_spki_der` (its SHA-256 becomes the JWS
    /// `kid`). The signature is checked under that key before the document is returned.
    ///
    /// # Errors
    /// [`BuildError::InvalidValidity`] if `expires_at < issued_at`; signer errors as
    /// [`BuildError::UnsupportedSigner`] (only ES256 and EdDSA sign lists), [`BuildError::SignerKey`],
    /// [`BuildError::SignerKeyMismatch`], [`BuildError::Sign`], [`BuildError::SelfCheck`].
    pub fn build(
        &self,
        version: u64,
        issued_at: i64,
        expires_at: i64,
        signer: &dyn Signer,
        signer_spki_der: &[u8],
    ) -> Result<SignedDocument, BuildError> {
        if expires_at < issued_at {
            return Err(BuildError::InvalidValidity {
                issued_at,
                expires_at,
            });
        }
        let payload = serde_json::to_vec(&self.payload(version, issued_at, expires_at))
            .map_err(|_| BuildError::Serialize)?;
        jws::sign(TYP_TRUST_LIST, version, &payload, signer, signer_spki_der)
    }

    /// The same DSCs in the EU gateway entry shape, each `signature` made by `signer` over the DER, and
    /// `timestamp` (Unix seconds) written as RFC 3339. See [`GatewayEntry`].
    ///
    /// # Errors
    /// [`BuildError::Timestamp`] for a time RFC 3339 cannot write; [`BuildError::Sign`].
    pub fn gateway_entries(
        &self,
        timestamp: i64,
        signer: &dyn Signer,
    ) -> Result<Vec<GatewayEntry>, BuildError> {
        self.dscs
            .iter()
            .map(|dsc| GatewayEntry::new(&dsc.certificate, &dsc.country, timestamp, signer))
            .collect()
    }
}

/// A national trust list whose signature verified under a pinned key and whose every entry checked out.
///
/// Only [`TrustList::verify`] makes one: holding a `TrustList` is the proof.
#[derive(Debug, Clone)]
pub struct TrustList {
    version: u64,
    issued_at: i64,
    expires_at: i64,
    issuer_country: String,
    dscs: Vec<ListedDsc>,
    key_id: String,
}

/// Why a national trust list was refused. The whole list is refused for one bad entry: a signed list
/// with a bad entry is a broken publisher, and a verifier keeps its last good list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustListError {
    /// The envelope or its signature.
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The signed payload is not a trust-list payload.
    #[error("malformed trust-list payload (line {line}, column {column})")]
    Payload {
        /// Line of the first problem.
        line: usize,
        /// Column of the first problem.
        column: usize,
    },
    /// `issuerCountry` is not two upper-case ASCII letters.
    #[error("issuerCountry is not an ISO 3166-1 alpha-2 code")]
    IssuerCountry,
    /// `expiresAt` is before `issuedAt`.
    #[error("expiresAt {expires_at} is before issuedAt {issued_at}")]
    InvalidValidity {
        /// `issuedAt`.
        issued_at: i64,
        /// `expiresAt`.
        expires_at: i64,
    },
    /// The list expired before `now`.
    #[error("trust list expired at {expires_at} (now {now})")]
    Expired {
        /// `expiresAt`.
        expires_at: i64,
        /// The clock passed in.
        now: i64,
    },
    /// An entry is unusable.
    #[error("entry {index}: {reason}")]
    Entry {
        /// Its position in `entries`, from 0.
        index: usize,
        /// Why.
        #[source]
        reason: EntryError,
    },
    /// An entry lists the same certificate as an earlier one.
    #[error("entry {index} repeats an earlier certificate")]
    DuplicateEntry {
        /// Its position in `entries`, from 0.
        index: usize,
    },
}

impl TrustList {
    /// Checks a published list at `now` (Unix seconds), with inputs up to [`MAX_DOCUMENT_BYTES`]; see
    /// [`TrustList::verify_with_limit`].
    ///
    /// # Errors
    /// As [`TrustList::verify_with_limit`].
    pub fn verify(
        bytes: &[u8],
        pinned: &[PinnedKey],
        now: i64,
    ) -> Result<TrustList, TrustListError> {
        TrustList::verify_with_limit(bytes, pinned, now, MAX_DOCUMENT_BYTES)
    }

    /// Checks a published list at `now` (Unix seconds), refusing inputs over `max_bytes` before parsing.
    ///
    /// In order: the size; the JWS envelope; a protected header of `alg` (ES256 or EdDSA), `kid` and
    /// `typ` `vaxcert-trust-list+json`, carrying no key or certificate of its own (`jwk`, `x5c`, … are
    /// refused: only pinned keys count); the pinned key named by `kid`, of the header's algorithm; the
    /// signature; then the payload: `issuerCountry`, `issuedAt ≤ expiresAt`, `now ≤ expiresAt`, and each
    /// entry — `certificateType` DSC, country, `rawData` a certificate whose SHA-256 is `thumbprint` and
    /// whose kid is `kid` (a list listing a certificate under another kid is refused), validity and key
    /// usage as listed, key P-256 or RSA 2048-8192, not a CA — with no certificate listed twice.
    ///
    /// An `issuedAt` in the future is accepted (the publisher's clock may run ahead).
    ///
    /// # Errors
    /// [`TrustListError`], the first problem found.
    pub fn verify_with_limit(
        bytes: &[u8],
        pinned: &[PinnedKey],
        now: i64,
        max_bytes: usize,
    ) -> Result<TrustList, TrustListError> {
        let verified = jws::verify(bytes, TYP_TRUST_LIST, pinned, max_bytes)?;
        let payload: TrustListPayload =
            serde_json::from_slice(&verified.payload).map_err(|error| {
                let (line, column) = json_position(&error);
                TrustListError::Payload { line, column }
            })?;
        if !is_country_code(&payload.issuer_country) {
            return Err(TrustListError::IssuerCountry);
        }
        if payload.expires_at < payload.issued_at {
            return Err(TrustListError::InvalidValidity {
                issued_at: payload.issued_at,
                expires_at: payload.expires_at,
            });
        }
        if now > payload.expires_at {
            return Err(TrustListError::Expired {
                expires_at: payload.expires_at,
                now,
            });
        }
        let mut seen = HashSet::with_capacity(payload.entries.len());
        let mut dscs = Vec::with_capacity(payload.entries.len());
        for (index, entry) in payload.entries.iter().enumerate() {
            let dsc = entry
                .decode()
                .map_err(|reason| TrustListError::Entry { index, reason })?;
            if !seen.insert(dsc.certificate.sha256_thumbprint()) {
                return Err(TrustListError::DuplicateEntry { index });
            }
            dscs.push(dsc);
        }
        Ok(TrustList {
            version: payload.version,
            issued_at: payload.issued_at,
            expires_at: payload.expires_at,
            issuer_country: payload.issuer_country,
            dscs,
            key_id: verified.key_id,
        })
    }

    /// The list's version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the list was made, Unix seconds.
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }

    /// When the list expires, Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The publishing country.
    pub fn issuer_country(&self) -> &str {
        &self.issuer_country
    }

    /// The DSCs, in list order.
    pub fn dscs(&self) -> &[ListedDsc] {
        &self.dscs
    }

    /// How many DSCs the list holds.
    pub fn len(&self) -> usize {
        self.dscs.len()
    }

    /// Whether the list holds no DSC.
    pub fn is_empty(&self) -> bool {
        self.dscs.is_empty()
    }

    /// The id of the pinned key that verified the list.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A store of the list's DSCs, keys prepared with `backend`.
    pub fn store(&self, backend: Backend) -> TrustStore {
        let mut store = TrustStore::new(backend);
        self.add_to(&mut store);
        store
    }

    /// Adds the list's DSCs to `store` (to merge them with imported foreign DSCs, say).
    pub fn add_to(&self, store: &mut TrustStore) {
        for dsc in &self.dscs {
            dsc.add_to(store);
        }
    }

    /// Whether two lists say the same: times, issuer, and the same DSCs under the same countries in the
    /// same order. How the JSON was written (key order, spacing) and the signature do not count.
    pub(crate) fn same_content(&self, other: &TrustList) -> bool {
        (
            self.issued_at,
            self.expires_at,
            &self.issuer_country,
            &self.dscs,
        ) == (
            other.issued_at,
            other.expires_at,
            &other.issuer_country,
            &other.dscs,
        )
    }
}

#[cfg(test)]
mod tests {
    use keys::test_pki::test_pki;
    use keys::{SignatureAlgorithm, SigningKey};

    use super::*;

    const NOW: i64 = 1_700_000_000;

    struct ListKey {
        signing: SigningKey,
        pinned: Vec<PinnedKey>,
    }

    fn list_key() -> ListKey {
        let signing = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
        let pinned = vec![
            PinnedKey::from_spki_der(Backend::default(), &signing.public_key_spki_der()).unwrap(),
        ];
        ListKey { signing, pinned }
    }

    /// A correctly signed list carrying exactly this payload, however wrong.
    fn signed_payload(key: &ListKey, payload: &TrustListPayload) -> Vec<u8> {
        let json = serde_json::to_vec(payload).unwrap();
        jws::sign(
            TYP_TRUST_LIST,
            payload.version,
            &json,
            &key.signing,
            &key.signing.public_key_spki_der(),
        )
        .unwrap()
        .into_bytes()
    }

    fn good_payload() -> TrustListPayload {
        let pki = test_pki();
        let mut builder = TrustListBuilder::new("VN").unwrap();
        builder.add(pki.es256.certificate.clone(), "VN").unwrap();
        builder.add(pki.ps256.certificate.clone(), "VN").unwrap();
        builder.payload(1, NOW - 10, NOW + 10)
    }

    fn check(change: impl FnOnce(&mut TrustListPayload), expected: TrustListError) {
        let key = list_key();
        let mut payload = good_payload();
        change(&mut payload);
        let bytes = signed_payload(&key, &payload);
        assert_eq!(
            TrustList::verify(&bytes, &key.pinned, NOW).err(),
            Some(expected)
        );
    }

    #[test]
    fn built_lists_verify_and_load() {
        let pki = test_pki();
        let key = list_key();
        let mut builder = TrustListBuilder::new("VN").unwrap();
        builder
            .add(pki.es256.certificate.clone(), "VN")
            .unwrap()
            .add(pki.es256_wrong_country.certificate.clone(), "VN")
            .unwrap();
        let document = builder
            .build(
                9,
                NOW - 5,
                NOW + 5,
                &key.signing,
                &key.signing.public_key_spki_der(),
            )
            .unwrap();
        let list = TrustList::verify(document.as_bytes(), &key.pinned, NOW).unwrap();
        assert_eq!(
            (list.version(), list.issued_at(), list.expires_at()),
            (9, NOW - 5, NOW + 5)
        );
        assert_eq!(list.issuer_country(), "VN");
        assert_eq!(list.key_id(), key.pinned[0].key_id());
        assert_eq!(list.len(), 2);
        let store = list.store(Backend::default());
        let wrong_country = &pki.es256_wrong_country.certificate;
        let listed = store.get(wrong_country.kid().as_bytes());
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].country(),
            Some("VN"),
            "the list's country wins over the subject's"
        );
        // Valid through the second of its expiry.
        assert!(TrustList::verify(document.as_bytes(), &key.pinned, NOW + 5).is_ok());
        assert_eq!(
            TrustList::verify(document.as_bytes(), &key.pinned, NOW + 6).err(),
            Some(TrustListError::Expired {
                expires_at: NOW + 5,
                now: NOW + 6
            })
        );
    }

    #[test]
    fn payload_checks() {
        let pki = test_pki();
        check(
            |p| p.issuer_country = "Viet Nam".into(),
            TrustListError::IssuerCountry,
        );
        check(
            |p| p.expires_at = p.issued_at - 1,
            TrustListError::InvalidValidity {
                issued_at: NOW - 10,
                expires_at: NOW - 11,
            },
        );
        check(
            |p| p.entries[1].certificate_type = "CSCA".into(),
            TrustListError::Entry {
                index: 1,
                reason: EntryError::CertificateType,
            },
        );
        check(
            |p| p.entries[0].not_after += 1,
            TrustListError::Entry {
                index: 0,
                reason: EntryError::ValidityMismatch,
            },
        );
        check(
            |p| p.entries[0].key_usage = vec!["any".into()],
            TrustListError::Entry {
                index: 0,
                reason: EntryError::KeyUsageMismatch,
            },
        );
        check(
            |p| p.entries[1].thumbprint = p.entries[0].thumbprint.clone(),
            TrustListError::Entry {
                index: 1,
                reason: EntryError::ThumbprintMismatch,
            },
        );
        check(
            |p| p.entries[1].kid = p.entries[0].kid.clone(),
            TrustListError::Entry {
                index: 1,
                reason: EntryError::KidMismatch {
                    listed: pki.es256.certificate.kid(),
                    computed: pki.ps256.certificate.kid(),
                },
            },
        );
        check(
            |p| p.entries.push(p.entries[0].clone()),
            TrustListError::DuplicateEntry { index: 2 },
        );
        check(
            |p| p.entries.push(DscEntry::new(&pki.p384.certificate, "VN")),
            TrustListError::Entry {
                index: 2,
                reason: EntryError::DscKey {
                    key_type: keys::KeyType::P384,
                },
            },
        );
        check(
            |p| p.entries.push(DscEntry::new(&pki.csca.certificate, "VN")),
            TrustListError::Entry {
                index: 2,
                reason: EntryError::DscIsCa,
            },
        );
    }

    #[test]
    fn payloads_that_are_not_trust_lists() {
        let key = list_key();
        for json in [
            &b"[]"[..],
            b"{\"version\":1}",
            b"{\"version\":1,\"version\":2}",
            b"\xff",
        ] {
            let bytes = jws::sign(
                TYP_TRUST_LIST,
                1,
                json,
                &key.signing,
                &key.signing.public_key_spki_der(),
            )
            .unwrap()
            .into_bytes();
            assert!(
                matches!(
                    TrustList::verify(&bytes, &key.pinned, NOW),
                    Err(TrustListError::Payload { .. })
                ),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn the_builder_refuses_what_readers_would() {
        let pki = test_pki();
        let key = list_key();
        assert_eq!(
            TrustListBuilder::new("vn").err(),
            Some(BuildError::InvalidCountry)
        );
        let mut builder = TrustListBuilder::new("VN").unwrap();
        assert!(builder.is_empty());
        assert_eq!(
            builder.add(pki.es256.certificate.clone(), "Viet Nam").err(),
            Some(BuildError::InvalidCountry)
        );
        builder.add(pki.es256.certificate.clone(), "VN").unwrap();
        assert_eq!(
            builder.add(pki.es256.certificate.clone(), "VN").err(),
            Some(BuildError::DuplicateDsc {
                kid: pki.es256.certificate.kid()
            })
        );
        for (certificate, reason) in [
            (
                &pki.rsa_1024,
                EntryError::DscKey {
                    key_type: keys::KeyType::Rsa { bits: 1024 },
                },
            ),
            (
                &pki.eddsa.certificate,
                EntryError::DscKey {
                    key_type: keys::KeyType::Ed25519,
                },
            ),
            (&pki.csca.certificate, EntryError::DscIsCa),
        ] {
            assert_eq!(
                builder.add(certificate.clone(), "VN").err(),
                Some(BuildError::Dsc {
                    kid: certificate.kid(),
                    reason
                })
            );
        }
        assert_eq!(builder.len(), 1);
        assert_eq!(
            builder
                .build(1, 10, 9, &key.signing, &key.signing.public_key_spki_der())
                .err(),
            Some(BuildError::InvalidValidity {
                issued_at: 10,
                expires_at: 9
            })
        );
        // An empty list is a valid list: it withdraws every DSC.
        let empty = TrustListBuilder::new("VN")
            .unwrap()
            .build(
                2,
                NOW,
                NOW,
                &key.signing,
                &key.signing.public_key_spki_der(),
            )
            .unwrap();
        assert!(
            TrustList::verify(empty.as_bytes(), &key.pinned, NOW)
                .unwrap()
                .is_empty()
        );
    }
}
