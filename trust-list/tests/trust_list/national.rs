//! The national list: publish, verify, and every way to tamper with it.

use keys::test_pki::test_pki;
use keys::{Backend, SignatureAlgorithm};
use trust_list::{JwsError, MAX_DOCUMENT_BYTES, TrustList, TrustListError};

use crate::support::{DAY, ListKey, NOW, jws, jws_parts, usable_dscs};

#[test]
fn published_lists_verify_and_load_every_dsc() {
    let pki = test_pki();
    for algorithm in [SignatureAlgorithm::Es256, SignatureAlgorithm::EdDsa] {
        let key = ListKey::new(algorithm);
        let bytes = key.list_of(pki, 42, NOW - DAY, NOW + 7 * DAY);
        let list = TrustList::verify(&bytes, &key.pins(), NOW).unwrap();
        assert_eq!(list.version(), 42);
        assert_eq!(list.issued_at(), NOW - DAY);
        assert_eq!(list.expires_at(), NOW + 7 * DAY);
        let store = list.store(Backend::default());
        for dsc in usable_dscs(pki) {
            let listed = store.get(dsc.kid().as_bytes());
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].certificate(), &dsc);
            assert_eq!(listed[0].country(), Some("VN"));
            assert!(listed[0].key().is_ok());
        }
        assert_eq!(store.len(), usable_dscs(pki).len());
    }
}

#[test]
fn the_document_has_the_documented_shape() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let bytes = key.list(
        &[test_pki().es256.certificate.clone()],
        "VN",
        3,
        NOW,
        NOW + DAY,
    );
    let envelope: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut members: Vec<&String> = envelope.as_object().unwrap().keys().collect();
    members.sort();
    assert_eq!(members, ["payload", "protected", "signature"]);
    let (header, payload, signature) = jws_parts(&bytes);
    assert_eq!(
        header,
        serde_json::json!({"alg": "ES256", "kid": key.pinned.key_id(), "typ": "vaxcert-trust-list+json"})
    );
    assert_eq!(signature.len(), 64, "ES256 in JWS is raw r‖s");
    let dsc = &test_pki().es256.certificate;
    assert_eq!(payload["version"], 3);
    assert_eq!(payload["issuedAt"], NOW);
    assert_eq!(payload["expiresAt"], NOW + DAY);
    assert_eq!(payload["issuerCountry"], "VN");
    let entry = &payload["entries"][0];
    assert_eq!(entry["kid"], dsc.kid().to_string());
    assert_eq!(entry["country"], "VN");
    assert_eq!(entry["certificateType"], "DSC");
    assert_eq!(entry["thumbprint"], hex::encode(dsc.sha256_thumbprint()));
    assert_eq!(entry["notBefore"], dsc.not_before());
    assert_eq!(entry["notAfter"], dsc.not_after());
    assert_eq!(entry["keyUsage"], serde_json::json!(["t", "v", "r"]));
}

#[test]
fn a_list_signed_by_an_unpinned_key_is_refused() {
    let pki = test_pki();
    let ours = ListKey::new(SignatureAlgorithm::Es256);
    let theirs = ListKey::new(SignatureAlgorithm::Es256);
    let bytes = theirs.list_of(pki, 1, NOW, NOW + DAY);
    assert_eq!(
        TrustList::verify(&bytes, &ours.pins(), NOW).err(),
        Some(TrustListError::Jws(JwsError::UnpinnedKey))
    );
    // Their signature under our kid.
    let (_, payload, _) = jws_parts(&bytes);
    let forged = jws(
        &serde_json::json!({"alg": "ES256", "kid": ours.pinned.key_id(), "typ": "vaxcert-trust-list+json"}),
        &serde_json::to_vec(&payload).unwrap(),
        &theirs.signing,
    );
    assert_eq!(
        TrustList::verify(&forged, &ours.pins(), NOW).err(),
        Some(TrustListError::Jws(JwsError::SignatureInvalid))
    );
    // Nothing pinned: nothing verifies.
    assert_eq!(
        TrustList::verify(&bytes, &[], NOW).err(),
        Some(TrustListError::Jws(JwsError::UnpinnedKey))
    );
}

#[test]
fn a_list_signed_by_a_certificate_inside_it_is_refused() {
    use base64::Engine as _;
    let pki = test_pki();
    let ours = ListKey::new(SignatureAlgorithm::Es256);
    let dsc = &pki.es256;
    let payload = jws_parts(&ours.list_of(pki, 2, NOW, NOW + DAY)).1;
    let payload = serde_json::to_vec(&payload).unwrap();
    let std_b64 = base64::engine::general_purpose::STANDARD;
    let url_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let dsc_kid = {
        use sha2::Digest as _;
        url_b64.encode(sha2::Sha256::digest(dsc.certificate.spki_der()))
    };
    let header = |extra: serde_json::Value| {
        let mut header =
            serde_json::json!({"alg": "ES256", "kid": dsc_kid, "typ": "vaxcert-trust-list+json"});
        header
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        header
    };
    let cases = [
        (
            serde_json::json!({"x5c": [std_b64.encode(dsc.certificate.der())]}),
            JwsError::KeyInHeader { parameter: "x5c" },
        ),
        (
            serde_json::json!({"jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}),
            JwsError::KeyInHeader { parameter: "jwk" },
        ),
        (
            serde_json::json!({"x5t#S256": hex::encode(dsc.certificate.sha256_thumbprint())}),
            JwsError::KeyInHeader {
                parameter: "x5t#S256",
            },
        ),
        (
            serde_json::json!({"x5u": "https://example.invalid/dsc.pem"}),
            JwsError::KeyInHeader { parameter: "x5u" },
        ),
        // Signed by the DSC's key, naming it by kid, no certificate attached: still not pinned.
        (serde_json::json!({}), JwsError::UnpinnedKey),
    ];
    for (extra, expected) in cases {
        let bytes = jws(&header(extra.clone()), &payload, &dsc.key);
        assert_eq!(
            TrustList::verify(&bytes, &ours.pins(), NOW).err(),
            Some(TrustListError::Jws(expected)),
            "{extra}"
        );
    }
    // Even under our own kid, a key in the header is refused before any signature is looked at.
    let bytes = jws(
        &serde_json::json!({"alg": "ES256", "kid": ours.pinned.key_id(), "typ": "vaxcert-trust-list+json",
                            "x5c": [std_b64.encode(dsc.certificate.der())]}),
        &payload,
        &ours.signing,
    );
    assert_eq!(
        TrustList::verify(&bytes, &ours.pins(), NOW).err(),
        Some(TrustListError::Jws(JwsError::KeyInHeader {
            parameter: "x5c"
        }))
    );
}

#[test]
fn one_flipped_bit_anywhere_in_a_part_is_refused() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let bytes = key.list(
        &[test_pki().es256.certificate.clone()],
        "VN",
        1,
        NOW,
        NOW + DAY,
    );
    let text = String::from_utf8(bytes.clone()).unwrap();
    let envelope: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    for part in ["protected", "payload", "signature"] {
        let value = envelope[part].as_str().unwrap();
        for position in (0..value.len()).step_by(97) {
            let mut altered = value.to_owned().into_bytes();
            altered[position] = if altered[position] == b'A' {
                b'B'
            } else {
                b'A'
            };
            let altered = text.replace(value, std::str::from_utf8(&altered).unwrap());
            let result = TrustList::verify(altered.as_bytes(), &key.pins(), NOW);
            // Mostly SignatureInvalid; a changed header may fail earlier (kid, typ, JSON), a changed
            // last character may not be canonical base64url.
            assert!(
                matches!(result, Err(TrustListError::Jws(_))),
                "{part}[{position}]: {result:?}"
            );
        }
    }
}

#[test]
fn empty_truncated_and_huge_inputs_are_refused_without_parsing_the_huge() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let bytes = key.list_of(test_pki(), 1, NOW, NOW + DAY);
    for len in (0..bytes.len()).step_by(13) {
        let result = TrustList::verify(&bytes[..len], &key.pins(), NOW);
        assert!(
            matches!(result, Err(TrustListError::Jws(JwsError::Envelope { .. }))),
            "{len}: {result:?}"
        );
    }
    let huge = vec![b'['; 100 * 1024 * 1024];
    let started = std::time::Instant::now();
    assert_eq!(
        TrustList::verify(&huge, &key.pins(), NOW).err(),
        Some(TrustListError::Jws(JwsError::TooLarge {
            len: huge.len(),
            max: MAX_DOCUMENT_BYTES
        }))
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(50),
        "refused by length alone"
    );
    let limit = bytes.len() - 1;
    assert_eq!(
        TrustList::verify_with_limit(&bytes, &key.pins(), NOW, limit).err(),
        Some(TrustListError::Jws(JwsError::TooLarge {
            len: bytes.len(),
            max: limit
        }))
    );
    assert!(TrustList::verify_with_limit(&bytes, &key.pins(), NOW, bytes.len()).is_ok());
}

#[test]
fn expired_lists_are_refused() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let bytes = key.list_of(test_pki(), 1, NOW - 2 * DAY, NOW - DAY);
    assert_eq!(
        TrustList::verify(&bytes, &key.pins(), NOW).err(),
        Some(TrustListError::Expired {
            expires_at: NOW - DAY,
            now: NOW
        })
    );
}

#[test]
fn duplicate_payload_keys_are_refused() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let bytes = key.list(
        &[test_pki().es256.certificate.clone()],
        "VN",
        1,
        NOW,
        NOW + DAY,
    );
    let payload = serde_json::to_string(&jws_parts(&bytes).1).unwrap();
    let doubled = payload.replacen('{', "{\"version\":99,", 1);
    let header = serde_json::json!({"alg": "ES256", "kid": key.pinned.key_id(), "typ": "vaxcert-trust-list+json"});
    let forged = jws(&header, doubled.as_bytes(), &key.signing);
    assert!(matches!(
        TrustList::verify(&forged, &key.pins(), NOW),
        Err(TrustListError::Payload { .. })
    ));
    // The same payload, undoubled, verifies: the refusal is the duplicate key.
    assert!(
        TrustList::verify(
            &jws(&header, payload.as_bytes(), &key.signing),
            &key.pins(),
            NOW
        )
        .is_ok()
    );
}
