//! EU gateway entries (`gateway_from_json`), the shape foreign DSC lists arrive in. Never panics; what
//! reads writes back to the same entries, and every entry goes through the import's entry checks (no
//! anchors, so each is rejected with a reason).
#![no_main]

use fuzz_support::{NOW, pinned};
use keys::Backend;
use libfuzzer_sys::fuzz_target;
use trust_list::{ImportEntry, gateway_from_json, gateway_to_json, import};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = gateway_from_json(data) {
        let json = gateway_to_json(&entries).expect("read entries write back");
        assert_eq!(
            gateway_from_json(&json).expect("written entries read"),
            entries
        );
        for entry in entries.iter().take(4) {
            let _ = entry.verify_signature(&pinned()[0]);
        }
        let imported: Vec<ImportEntry> = entries.iter().map(ImportEntry::from).collect();
        let outcome = import(&imported, &[], NOW, Backend::default());
        assert!(outcome.accepted.is_empty());
        assert_eq!(outcome.rejected.len(), imported.len());
    }
});
