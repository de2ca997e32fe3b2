//! adversarial.md, "Trust list ingestion": an empty, truncated or 100 MB list leaves the last good list in
//! place with memory bounded. Counted by dhat's heap profiler, in its own binary (the profiler is
//! process-wide, so it cannot share the main test binary's threads).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keys::{Backend, SignatureAlgorithm, SigningKey};
use trust_list::{MAX_DOCUMENT_BYTES, PinnedKey, TrustListBuilder, TrustListState};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const NOW: i64 = 1_700_000_000;

#[test]
fn refused_inputs_cost_bounded_memory_and_keep_the_last_good_list() {
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let spki = key.public_key_spki_der();
    let pinned = PinnedKey::from_spki_der(Backend::default(), &spki).unwrap();
    let pki = keys::test_pki::test_pki();
    let mut builder = TrustListBuilder::new("VN").unwrap();
    builder.add(pki.es256.certificate.clone(), "VN").unwrap();
    let good = builder
        .build(1, NOW, NOW + 86_400, &key, &spki)
        .unwrap()
        .into_bytes();
    let mut state = TrustListState::new(vec![pinned.clone()], 86_400);
    state.offer(&good, NOW).unwrap();

    let huge = vec![b'{'; 100 * 1024 * 1024];
    // Just under the bound: a well-formed envelope whose signature is wrong, so everything up to the
    // signature check runs over a maximal input.
    let header = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"alg":"ES256","kid":"{}","typ":"vaxcert-trust-list+json"}}"#,
        pinned.key_id()
    ));
    let filler = "A".repeat(MAX_DOCUMENT_BYTES - 200 - header.len());
    let maximal = format!(
        r#"{{"protected":"{header}","payload":"{filler}","signature":"{}"}}"#,
        "A".repeat(86)
    );
    assert!(maximal.len() <= MAX_DOCUMENT_BYTES);
    let truncated = &good[..good.len() / 2];
    let inputs: [(&str, &[u8], usize); 4] = [
        ("empty", b"", 4 * 1024),
        ("truncated", truncated, 4 * 1024),
        ("100 MB", &huge, 1024),
        // The signing input is one copy of the parts; nothing else grows with the input.
        (
            "maximal, bad signature",
            maximal.as_bytes(),
            MAX_DOCUMENT_BYTES + 64 * 1024,
        ),
    ];

    let _profiler = dhat::Profiler::builder().testing().build();
    for (name, input, limit) in inputs {
        let before = dhat::HeapStats::get();
        assert!(state.offer(input, NOW).is_err(), "{name}");
        let after = dhat::HeapStats::get();
        // Everything allocated during the offer: an upper bound of its peak.
        let allocated = after.total_bytes - before.total_bytes;
        println!(
            "{name}: {allocated} bytes allocated in {} blocks",
            after.total_blocks - before.total_blocks
        );
        assert!(
            allocated as usize <= limit,
            "{name}: {allocated} bytes > {limit}"
        );
        assert_eq!(
            state.current().map(|list| list.version()),
            Some(1),
            "{name}: last good list kept"
        );
    }
}
