//! adversarial.md, bounds: verifying a text input costs < 256 KiB of extra heap, a zlib bomb at the maximum
//! input size included. Counted deterministically by dhat's heap profiler (its own binary: the profiler is
//! process-wide).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use keys::test_pki::test_pki;
use keys::{Backend, Signer};
use time::OffsetDateTime;
use verifier::{Code, Detail, Input, TrustStore, Verifier};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const LIMIT: usize = 256 * 1024;

#[test]
fn verification_heap_is_bounded() {
    let pki = test_pki();
    let mut store = TrustStore::new(Backend::default());
    for dsc in [&pki.es256, &pki.ps256] {
        store.insert(dsc.certificate.clone());
    }
    let verifier = Verifier::new(Arc::new(store), None);
    let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let dcc = serde_json::json!({"ver": "1.3.0", "nam": {"fnt": "NGUYEN"}, "dob": "1983",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 1,
               "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "MoH", "ci": "URN:UVCI:01:VN:1#2"}]});
    let claims = hcert::ClaimsBuilder::new("VN", 1_690_000_000, 1_710_000_000)
        .encode(&dcc)
        .unwrap();
    let signed = |dsc: &keys::test_pki::TestDsc, alg| {
        let kid = dsc.certificate.kid();
        hcert::encode_transport(
            &hcert::sign1(alg, kid.as_bytes(), &claims, |tbs| dsc.key.sign(tbs)).unwrap(),
        )
    };
    // The largest bomb a QR code can carry: as many zeros as fit 4,296 characters once compressed.
    let bomb = hcert::deflate(&vec![0u8; 2_900_000]);
    assert!(bomb.len() * 3 / 2 + 4 <= hcert::MAX_INPUT_CHARS);
    let deep = hcert::encode_transport(&[vec![0x9f; 2000], vec![0xff; 2000]].concat());
    let wide = hcert::encode_transport(&[vec![0x9f], vec![0x00; 5000], vec![0xff]].concat());
    let inputs: Vec<(String, Code)> = vec![
        (signed(&pki.es256, hcert::Algorithm::Es256), Code::Ok),
        (signed(&pki.ps256, hcert::Algorithm::Ps256), Code::Ok),
        (
            format!("HC1:{}", hcert::base45_encode(&bomb)),
            Code::DecompressedTooLarge,
        ),
        (deep, Code::Cbor),
        (wide, Code::Cbor),
        (format!("HC1:{}", "A".repeat(1 << 20)), Code::InputTooLarge),
    ];

    let _profiler = dhat::Profiler::builder().testing().build();
    for (input, code) in &inputs {
        let before = dhat::HeapStats::get();
        let report = verifier.verify(Input::Text(input), at, Detail::default());
        assert_eq!(report.code, *code, "{}", report.message);
        drop(report);
        let after = dhat::HeapStats::get();
        println!(
            "{code}: {} bytes in {} blocks",
            after.total_bytes - before.total_bytes,
            after.total_blocks - before.total_blocks
        );
    }
    let peak = dhat::HeapStats::get().max_bytes;
    println!("peak extra heap over all inputs: {peak} bytes");
    dhat::assert!(peak < LIMIT, "peak {} bytes", peak);
}
