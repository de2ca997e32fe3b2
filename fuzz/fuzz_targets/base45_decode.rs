//! Strict Base45: decoding never panics, and whatever decodes is the one encoding of its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes encode, and decode back.
    assert_eq!(
        hcert::base45_decode(&hcert::base45_encode(data)).as_deref(),
        Ok(data)
    );

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match hcert::base45_decode(text) {
        Ok(bytes) => assert_eq!(hcert::base45_encode(&bytes), text),
        Err(hcert::Error::Base45 { position }) => assert!(position < text.len()),
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
