//! The in-memory store a verifier looks kids up in: kid → every DSC listed under it.

use std::collections::HashMap;
use std::sync::Arc;

use keys::{Backend, Certificate, KeyError, Kid, VerifyingKey};

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
        self.country
            .as_deref()
            .or(self.certificate.subject_country())
    }

    /// The prepared verifying key, or why the certificate's key cannot verify anything (unsupported type).
    pub fn key(&self) -> Result<&Arc<dyn VerifyingKey>, &KeyError> {
        self.key.as_ref()
    }
}

/// Trusted DSCs by kid. Kids can collide, so a kid maps to every DSC listed under it; lookups are O(1)
/// in the number of DSCs held.
///
/// The same certificate listed twice under the same kid and country (our own list and the EU gateway
/// both carrying one DSC, say) is kept once.
#[derive(Debug, Clone)]
pub struct TrustStore {
    backend: Backend,
    by_kid: HashMap<Kid, Vec<TrustedDsc>>,
    len: usize,
}

impl TrustStore {
    /// An empty store whose keys use `backend`.
    pub fn new(backend: Backend) -> Self {
        TrustStore {
            backend,
            by_kid: HashMap::new(),
            len: 0,
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
        let listed = self.by_kid.entry(kid).or_default();
        if listed
            .iter()
            .any(|dsc| dsc.certificate == certificate && dsc.country == country)
        {
            return;
        }
        let key = self.backend.verifying_key(&certificate);
        listed.push(TrustedDsc {
            certificate,
            country,
            key,
        });
        self.len += 1;
    }

    /// Every DSC listed under `kid` (empty when none is, or when `kid` is not 8 bytes long).
    pub fn get(&self, kid: &[u8]) -> &[TrustedDsc] {
        Kid::from_slice(kid)
            .and_then(|kid| self.by_kid.get(&kid))
            .map_or(&[], Vec::as_slice)
    }

    /// How many DSCs the store holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the store holds no DSC.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The backend the keys are prepared with.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

#[cfg(test)]
mod tests {
    use keys::test_pki::test_pki;

    use super::*;

    #[test]
    fn kids_map_to_every_dsc_listed_under_them() {
        let pki = test_pki();
        let mut store = TrustStore::new(Backend::default());
        assert!(store.is_empty());
        store.insert(pki.es256.certificate.clone());
        let shared = pki.es256.certificate.kid();
        store.insert_listed(shared, pki.ps256.certificate.clone(), Some("VN".to_owned()));
        assert_eq!(store.len(), 2);
        let listed = store.get(shared.as_bytes());
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].certificate(), &pki.ps256.certificate);
        assert_eq!(listed[1].country(), Some("VN"));
        assert!(listed.iter().all(|dsc| dsc.key().is_ok()));
        assert!(store.get(&shared.as_bytes()[..7]).is_empty());
        assert!(store.get(pki.eddsa.certificate.kid().as_bytes()).is_empty());
    }

    #[test]
    fn the_same_listing_twice_is_kept_once() {
        let pki = test_pki();
        let mut store = TrustStore::new(Backend::default());
        for _ in 0..2 {
            store.insert(pki.es256.certificate.clone());
        }
        store.insert_listed(
            pki.es256.certificate.kid(),
            pki.es256.certificate.clone(),
            Some("VN".to_owned()),
        );
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn unusable_keys_are_kept_with_the_reason() {
        let pki = test_pki();
        let mut store = TrustStore::new(Backend::default());
        store.insert(pki.rsa_1024.clone());
        let listed = store.get(pki.rsa_1024.kid().as_bytes());
        assert_eq!(
            listed[0].key().err(),
            Some(&KeyError::WeakKey { bits: 1024 })
        );
        assert_eq!(listed[0].country(), Some("VN"));
    }
}
