//! CWT claims and the DCC inside: never panics, fails only with `Claims`, and decoded dates are sane.
#![no_main]

use hcert::{Claims, Error};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Claims::decode(data) {
        Ok(claims) => {
            for date in [claims.issued_at, claims.expires_at].into_iter().flatten() {
                assert!((0..=1 << 53).contains(&date));
            }
            if let (Some(iat), Some(exp)) = (claims.issued_at, claims.expires_at) {
                assert!(exp >= iat);
            }
            // The schema check takes any payload without panicking.
            let _ = hcert::validate_schema(&claims.dcc, None);
        }
        Err(Error::Claims { .. }) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
