//! The national trust list (`TrustList::verify`) under a key pinned once per process: the raw document
//! (envelope, header, base64, signature), or the input signed as a payload (JSON, validity, every DSC
//! entry). Never panics; what verifies is valid at the clock, signed by the pinned key, and its DSCs go
//! into a store and through an import.
#![no_main]

use fuzz_support::{NOW, TYP_TRUST_LIST, document, pinned};
use keys::Backend;
use libfuzzer_sys::fuzz_target;
use trust_list::{ImportEntry, TrustList, import};

fuzz_target!(|data: &[u8]| {
    let document = document(TYP_TRUST_LIST, data);
    if let Ok(list) = TrustList::verify(&document, pinned(), NOW) {
        assert!(list.issued_at() <= list.expires_at());
        assert!(NOW <= list.expires_at());
        assert_eq!(list.key_id(), pinned()[0].key_id());
        let store = list.store(Backend::default());
        for dsc in list.dscs() {
            assert!(!store.get(dsc.kid().as_bytes()).is_empty());
        }
        // No anchors: every listed DSC is rejected, none panics.
        let entries: Vec<ImportEntry> = list.dscs().iter().map(ImportEntry::from).collect();
        let outcome = import(&entries, &[], NOW, Backend::default());
        assert!(outcome.accepted.is_empty());
        assert_eq!(outcome.rejected.len(), entries.len());
    }
});
