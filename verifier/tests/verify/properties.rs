//! Properties over arbitrary input: no panic, and nothing altered ever verifies.

use proptest::prelude::*;
use verifier::Code;

use crate::support::*;

fn certificate_bytes() -> Vec<u8> {
    sign(&pki().es256, &claims(&vaccination()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_gets_a_report_and_is_never_valid(text in ".{0,600}") {
        let report = run(&verifier(&[&pki().es256]), &text);
        prop_assert!(!report.valid);
    }

    #[test]
    fn any_hc1_text_is_never_valid(body in "[0-9A-Z $%*+./:-]{0,900}") {
        let report = run(&verifier(&[&pki().es256]), &format!("HC1:{body}"));
        prop_assert!(!report.valid);
    }

    #[test]
    fn one_flipped_bit_anywhere_never_verifies(bit in 0usize..10_000) {
        let mut cose = certificate_bytes();
        let bit = bit % (cose.len() * 8);
        cose[bit / 8] ^= 1 << (bit % 8);
        let report = run(&verifier(&[&pki().es256]), &hc1(&cose));
        prop_assert!(!report.valid, "bit {} flipped still verifies", bit);
        prop_assert_ne!(report.code, Code::Ok);
    }

    #[test]
    fn truncations_never_verify(cut in 1usize..400) {
        let cose = certificate_bytes();
        let keep = cose.len().saturating_sub(cut);
        let report = run(&verifier(&[&pki().es256]), &hc1(&cose[..keep]));
        prop_assert!(!report.valid);
    }
}
