//! The revocation list (`RevocationList::verify`) under a key pinned once per process: the raw document,
//! or the input signed as a payload (JSON, validity, hash types, base64 hashes). Never panics; what
//! verifies is valid at the clock and answers lookups.
#![no_main]

use fuzz_support::{NOW, TYP_REVOCATION_LIST, document, pinned};
use libfuzzer_sys::fuzz_target;
use trust_list::{RevocationList, RevocationQuery};

fuzz_target!(|data: &[u8]| {
    let document = document(TYP_REVOCATION_LIST, data);
    if let Ok(list) = RevocationList::verify(&document, pinned(), NOW) {
        assert!(list.issued_at() <= list.expires_at());
        assert!(NOW <= list.expires_at());
        assert_eq!(list.is_empty(), list.len() == 0);
        let uvci = String::from_utf8_lossy(data);
        for is_es256 in [true, false] {
            let _ = list.is_revoked(&RevocationQuery {
                uvci: &uvci,
                iss: Some("VN"),
                signature: data,
                is_es256,
            });
        }
    }
});
