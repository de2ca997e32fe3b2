//! The in-memory store a verifier looks kids up in: kid → every DSC listed under it.

use std::collections::HashMap;
use std::sync::Arc;

use keys::{Backend, Certificate, Kid, KeyError, VerifyingKey};

/// A DSC the verifier trusts, with its verifying key prepared once.
#[derive(Debug, Clone)]
pub struct TrustedDsc {
    certificate: Certificate,
    country: Option<String>,
    key: Result<Arc<dyn VerifyingKey>, KeyError>,
}

impl TrustedDsc {
    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The DSC's country: the trust-list entry's, else the certificate subject's `C`.
    pub fn country(&self) -> Option<&str> {
        self.country.as_deref().or(self.certificate.subject_country())
    }

    /// The prepared verifying key, or why the certificate's key cannot verify anything (unsupported type).
    pub fn key(&self) -> Result<&Arc<dyn VerifyingKey>, &KeyError> {
        self.key.as_ref()
    }
}

/// Trusted DSCs by kid. Kids can collide, so a kid maps to every DSC listed under it; lookups are O(1).
#[derive(Debug, Clone)]
pub struct TrustStore {
    backend: Backend,
    by_kid: HashMap<Kid, Vec<TrustedDsc>>,
}

impl TrustStore {
    /// An empty store whose keys use `backend`.
    pub fn new(backend: Backend) -> Self {
        TrustStore {
            backend,
            by_kid: HashMap::new(),
        }
    }

    /// Trusts a DSC under its own kid (the first 8 bytes of the SHA-256 of its DER).
    pub fn insert(&mut self, certificate: Certificate) {
        let kid = certificate.kid();
        self.insert_listed(kid, certificate, None);
    }

    /// Trusts a DSC as a trust list lists it: under the list's kid and country, which may differ from
    /// what the certificate itself would give.
    pub fn insert_listed(&mut self, kid: Kid, certificate: Certificate, country: Option<String>) {
        let key = self.backend.verifying_key(&certificate);
        self.by_kid.entry(kid).or_default().push(TrustedDsc {
            certificate,
            country,
            key,
        });
    }

    /// Every DSC listed under `kid` (empty when none is, or when `kid` is not 8 bytes long).
    pub fn get(&self, kid: &[u8]) -> &[TrustedDsc] {
        Kid::from_slice(kid)
            .and_then(|kid| self.by_kid.get(&kid))
            .map_or(&[], Vec::as_slice)
    }

    /// How many DSCs the store holds.
    pub fn len(&self) -> usize {
        self.by_kid.values().map(Vec::len).sum()
    }

    /// Whether the store holds no DSC.
    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// The backend the keys are prepared with.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}
