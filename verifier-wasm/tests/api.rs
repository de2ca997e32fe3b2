//! The WebAssembly verifier's API on the host: from the signed lists the page caches it answers the report
//! the library answers (minimal by default, full on request), reads the QR code of raw RGBA frames,
//! applies the revocation list, and refuses lists under another key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use keys::test_pki::test_pki;
use keys::{Backend, SignatureAlgorithm, Signer, SigningKey};
use time::OffsetDateTime;
use trust_list::{PinnedKey, RevocationList, RevocationListBuilder, TrustList, TrustListBuilder};
use verifier::{Detail, Input, Verifier};
use verifier_wasm::{LoadError, OfflineVerifier, clock};

const UVCI: &str = "URN:UVCI:01:VN:0123456789ABCDEF0123456789ABCDEF#X";
const REVOKED_UVCI: &str = "URN:UVCI:01:VN:FEDCBA9876543210FEDCBA9876543210#Q";

/// The same snapshot the crate builds in, for the library's own verifier.
const VALUE_SETS: [&str; 9] = verifier::BUILT_IN_VALUE_SETS;

/// The signed lists, the pinned key's PEM, and the clock they are good at.
struct Lists {
    trust_list: Vec<u8>,
    revocation_list: Vec<u8>,
    pem: String,
    now: i64,
}

fn lists(key: &SigningKey) -> Lists {
    let spki = key.public_key_spki_der();
    let dsc = &test_pki().es256.certificate;
    let now = dsc.not_before() + 86_400;
    let mut builder = TrustListBuilder::new("VN").unwrap();
    builder.add(dsc.clone(), "VN").unwrap();
    let trust_list = builder
        .build(1, now - 60, now + 30 * 86_400, key, &spki)
        .unwrap();
    let mut revocations = RevocationListBuilder::new();
    revocations.revoke_uci(REVOKED_UVCI);
    let revocation_list = revocations
        .build(1, now - 60, now + 86_400, key, &spki)
        .unwrap();
    Lists {
        trust_list: trust_list.as_bytes().to_vec(),
        revocation_list: revocation_list.as_bytes().to_vec(),
        pem: pem::encode(&pem::Pem::new("PUBLIC KEY", spki.to_vec())),
        now,
    }
}

/// An `HC1:` vaccination certificate for `uvci`, signed by the test PKI's ES256 DSC at `now`.
fn certificate(uvci: &str, now: i64) -> String {
    let dsc = &test_pki().es256;
    let dcc = serde_json::json!({
        "ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Bảo Duy", "gnt": "BAO<DUY"},
        "dob": "1983-10-10",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health of Viet Nam",
               "ci": uvci}]
    });
    let claims = hcert::ClaimsBuilder::new("VN", now - 3600, now + 365 * 86_400)
        .encode(&dcc)
        .unwrap();
    let kid = dsc.certificate.kid();
    let cose = hcert::sign1(hcert::Algorithm::Es256, kid.as_bytes(), &claims, |tbs| {
        dsc.key.sign(tbs)
    })
    .unwrap();
    hcert::encode_transport(&cose)
}

/// The library's verifier on the same lists, built without this crate.
fn library(lists: &Lists) -> Verifier {
    let pinned = [PinnedKey::from_pem(Backend::default(), &lists.pem).unwrap()];
    let trust_list = TrustList::verify(&lists.trust_list, &pinned, lists.now).unwrap();
    let revocation = RevocationList::verify(&lists.revocation_list, &pinned, lists.now).unwrap();
    let value_sets = hcert::ValueSets::from_documents(VALUE_SETS).unwrap();
    Verifier::from_trust_list(
        &trust_list,
        Backend::default(),
        verifier::DEFAULT_TRUST_LIST_MAX_AGE_HOURS * 3600,
        Some(Arc::new(value_sets)),
    )
    .with_revocation(Arc::new(revocation))
}

fn load(lists: &Lists) -> OfflineVerifier {
    OfflineVerifier::load(
        &lists.trust_list,
        Some(&lists.revocation_list),
        &lists.pem,
        at(lists.now),
    )
    .unwrap()
}

fn at(now: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(now).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn answers_the_library_report_for_a_valid_and_a_tampered_certificate() {
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let lists = lists(&key);
    let offline = load(&lists);
    let library = library(&lists);
    let now = at(lists.now);

    let valid = certificate(UVCI, lists.now);
    // One character of the signed payload changed: the Base45 still decodes, the signature fails.
    let mut tampered: Vec<char> = valid.chars().collect();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();

    for (text, expect_valid) in [(&valid, true), (&tampered, false)] {
        let full = library.verify(
            Input::Text(text),
            now,
            Detail {
                payload: true,
                unverified: false,
            },
        );
        assert_eq!(full.valid, expect_valid, "{}", full.code);
        assert_eq!(
            json(&offline.verify(Input::Text(text), now, true)),
            json(&full.to_json_line()),
            "the full report is the library's"
        );
        let minimal = offline.verify(Input::Text(text), now, false);
        assert_eq!(
            json(&minimal),
            full.minimal(),
            "the minimal report is the service's"
        );
    }

    let minimal = json(&offline.verify(Input::Text(&valid), now, false));
    assert_eq!(minimal["valid"], true);
    assert_eq!(minimal["holder"]["dob"], "1983-10-10");
    assert!(minimal.get("dcc").is_none() && minimal.get("kid").is_none());
    assert!(
        !offline
            .verify(Input::Text(&valid), now, false)
            .contains(UVCI)
    );
    assert_eq!(offline.trust_list_issued_at(), Some(lists.now - 60));
    assert_eq!(offline.revocation_list_issued_at(), Some(lists.now - 60));
}

#[test]
fn applies_the_revocation_list_and_the_staleness_of_the_trust_list() {
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let lists = lists(&key);
    let offline = load(&lists);
    let revoked = certificate(REVOKED_UVCI, lists.now);
    let report = json(&offline.verify(Input::Text(&revoked), at(lists.now), false));
    assert_eq!(report["code"], "E_REVOKED");

    // Offline for three days with a list made for thirty: the list is too old to call anything valid.
    let later = lists.now + 3 * 86_400;
    let offline = OfflineVerifier::load(&lists.trust_list, None, &lists.pem, at(later)).unwrap();
    let report =
        json(&offline.verify(Input::Text(&certificate(UVCI, lists.now)), at(later), false));
    assert_eq!(report["valid"], false);
    assert_eq!(report["code"], "E_TRUST_LIST_STALE");
}

#[test]
fn reads_the_code_of_a_camera_frame() {
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let lists = lists(&key);
    let offline = load(&lists);
    let now = at(lists.now);
    let text = certificate(UVCI, lists.now);
    let png = hcert::render_png(&text, &hcert::RenderOptions::DEFAULT).unwrap();
    let frame = image::load_from_memory(&png).unwrap().to_rgba8();
    let (width, height) = frame.dimensions();
    let input = Input::Rgba {
        pixels: frame.as_raw(),
        width,
        height,
    };
    assert_eq!(
        json(&offline.verify(input, now, false)),
        json(&offline.verify(Input::Text(&text), now, false))
    );
    assert_eq!(json(&offline.verify(input, now, false))["valid"], true);

    let blank = vec![255u8; frame.as_raw().len()];
    let input = Input::Rgba {
        pixels: &blank,
        width,
        height,
    };
    assert_eq!(json(&offline.verify(input, now, false))["code"], "E_IMAGE");
}

#[test]
fn refuses_lists_under_another_key_and_a_bad_pem() {
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let stranger = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let lists = lists(&key);
    let theirs = self::lists(&stranger);
    let now = at(lists.now);

    let refused = OfflineVerifier::load(&theirs.trust_list, None, &lists.pem, now).unwrap_err();
    assert!(matches!(refused, LoadError::Documents(_)), "{refused}");
    assert!(refused.to_string().contains("trust list"));

    let refused = OfflineVerifier::load(
        &lists.trust_list,
        Some(&theirs.revocation_list),
        &lists.pem,
        now,
    )
    .unwrap_err();
    assert!(refused.to_string().contains("revocation list"), "{refused}");

    let refused = OfflineVerifier::load(&lists.trust_list, None, "not a key", now).unwrap_err();
    assert!(matches!(refused, LoadError::PinnedKey(_)));

    // Expired lists are refused too: the page must fetch new ones.
    let expired = at(lists.now + 31 * 86_400);
    assert!(OfflineVerifier::load(&lists.trust_list, None, &lists.pem, expired).is_err());
}

#[test]
fn the_clock_is_seconds_since_the_epoch() {
    assert_eq!(
        clock(1_700_000_000.9).unwrap().unix_timestamp(),
        1_700_000_000
    );
    assert!(clock(f64::NAN).is_err());
    assert!(clock(f64::INFINITY).is_err());
    assert!(clock(1e300).is_err());
}
