//! The `HC1:` transport: never panics, fails only with the errors of its own layers, checks the size
//! first, and what decodes encodes back to the same COSE bytes.
#![no_main]

use hcert::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match hcert::decode_transport(text) {
        Ok(cose) => {
            assert!(text.starts_with(hcert::HC1_PREFIX));
            assert!(cose.len() <= hcert::MAX_INFLATED_BYTES);
            let again = hcert::encode_transport(&cose);
            if again.len() <= hcert::MAX_INPUT_CHARS {
                assert_eq!(hcert::decode_transport(&again), Ok(cose));
            }
        }
        Err(Error::InputTooLarge { len, max }) => assert!(len > max && len == text.len()),
        Err(Error::Prefix) => {
            assert!(!text.starts_with(hcert::HC1_PREFIX) || text == hcert::HC1_PREFIX)
        }
        Err(Error::Base45 { position }) => assert!(position < text.len() - hcert::HC1_PREFIX.len()),
        Err(Error::Zlib { .. } | Error::DecompressedTooLarge { .. }) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
