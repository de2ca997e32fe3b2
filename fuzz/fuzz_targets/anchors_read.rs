//! CSCA anchor files (`anchors_from_json`): base64, thumbprint, DER and country of every anchor. Never
//! panics; what reads is under its own subject `C`, goes through the import's anchor checks, and writes
//! back to the same certificates when it is a CA.
#![no_main]

use fuzz_support::NOW;
use keys::Backend;
use libfuzzer_sys::fuzz_target;
use trust_list::{anchors_from_json, anchors_to_json, import};

fuzz_target!(|data: &[u8]| {
    if let Ok(anchors) = anchors_from_json(data) {
        for anchor in &anchors {
            assert!(anchor.subject_country().is_some());
        }
        let outcome = import(&[], &anchors, NOW, Backend::default());
        assert!(outcome.accepted.is_empty() && outcome.rejected.is_empty());
        if let Ok(json) = anchors_to_json(&anchors) {
            let again = anchors_from_json(&json).expect("written anchors read");
            assert!(
                again
                    .iter()
                    .map(|c| c.der())
                    .eq(anchors.iter().map(|c| c.der()))
            );
        }
    }
});
