//! DSC and CSCA certificates from foreign lists and `--dsc` files: DER, PEM or base64 DER. Never panics;
//! what parses has a kid of its own DER and a validity window that reads back.
#![no_main]

use keys::{Certificate, Kid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(certificate) = Certificate::parse_any(data) {
        assert_eq!(certificate.kid(), Kid::of_certificate(certificate.der()));
        let _ = (certificate.not_before(), certificate.not_after(), certificate.usage(), certificate.key_type());
        let reparsed = Certificate::from_der(certificate.der()).expect("its own DER parses");
        assert_eq!(reparsed.der(), certificate.der());
    }
});
