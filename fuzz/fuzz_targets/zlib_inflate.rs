//! Capped inflate: never panics, never exceeds the cap, and what inflates deflates back to itself.
//!
//! Under `cfg(fuzzing)` miniz_oxide skips the Adler-32 check, so that random input reaches the deflate
//! decoder: a checksum mismatch is not a finding here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match hcert::inflate(data) {
        Ok(bytes) => {
            assert!(bytes.len() <= hcert::MAX_INFLATED_BYTES);
            assert_eq!(hcert::inflate(&hcert::deflate(&bytes)), Ok(bytes));
        }
        Err(hcert::Error::Zlib { .. } | hcert::Error::DecompressedTooLarge { .. }) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
