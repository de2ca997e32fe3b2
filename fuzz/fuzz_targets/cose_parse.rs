//! COSE_Sign1 parsing: never panics, fails only with COSE-layer errors, and what parses re-signs to a
//! message that parses to the same algorithm, kid and payload.
#![no_main]

use hcert::{CoseSign1, Error};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match CoseSign1::parse(data) {
        Ok(cose) => {
            let tbs = cose.to_be_signed();
            assert!(tbs.len() > cose.payload().len());
            let kid = cose.kid().unwrap_or_default();
            let again = hcert::sign1(cose.algorithm(), kid, cose.payload(), |_| {
                Ok::<_, ()>(cose.signature().to_vec())
            })
            .unwrap_or_default();
            let reparsed = CoseSign1::parse(&again).expect("our own encoding parses");
            assert_eq!(reparsed.algorithm(), cose.algorithm());
            assert_eq!(reparsed.payload(), cose.payload());
            assert_eq!(reparsed.signature(), cose.signature());
        }
        Err(
            Error::Cbor { .. }
            | Error::CoseStructure { .. }
            | Error::ProtectedHeader { .. }
            | Error::AlgMissing
            | Error::AlgUnsupported { .. },
        ) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
