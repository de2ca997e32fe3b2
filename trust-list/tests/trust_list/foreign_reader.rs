//! A foreign system reads our published list with none of this project's types: serde_json, base64, and
//! a signature check done directly with aws-lc-rs under the public key it pinned (received as PEM).

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey, VerificationAlgorithm,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keys::SignatureAlgorithm;
use keys::test_pki::test_pki;
use serde_json::Value;

use crate::support::{DAY, ListKey, NOW, usable_dscs};

/// The pinned key's SubjectPublicKeyInfo, from the PEM text handed over out of band.
fn spki_from_pem(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    STANDARD.decode(body).unwrap()
}

/// Whether the JWS signature holds under the pinned key, checked by hand.
fn signature_holds(document: &[u8], pinned_pem: &str) -> bool {
    let spki = spki_from_pem(pinned_pem);
    let jws: Value = serde_json::from_slice(document).unwrap();
    let protected = jws["protected"].as_str().unwrap();
    let payload_b64 = jws["payload"].as_str().unwrap();
    let signature = URL_SAFE_NO_PAD
        .decode(jws["signature"].as_str().unwrap())
        .unwrap();

    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(protected).unwrap()).unwrap();
    assert_eq!(header["typ"], "vaxcert-trust-list+json");
    assert_eq!(
        header["kid"],
        URL_SAFE_NO_PAD.encode(digest(&SHA256, &spki)),
        "kid names the pinned key"
    );
    let (algorithm, public_key): (&'static dyn VerificationAlgorithm, &[u8]) =
        match header["alg"].as_str().unwrap() {
            // The uncompressed point and the raw Ed25519 key are the last bytes of their SPKIs.
            "ES256" => (&ECDSA_P256_SHA256_FIXED, &spki[spki.len() - 65..]),
            "EdDSA" => (&ED25519, &spki[spki.len() - 32..]),
            other => panic!("unexpected alg {other}"),
        };
    let signing_input = format!("{protected}.{payload_b64}");
    UnparsedPublicKey::new(algorithm, public_key)
        .verify(signing_input.as_bytes(), &signature)
        .is_ok()
}

/// What a foreign system does, step by step. Returns the (kid, country, DER) of every entry.
fn read_by_hand(document: &[u8], pinned_pem: &str, now: i64) -> Vec<(Vec<u8>, String, Vec<u8>)> {
    assert!(
        signature_holds(document, pinned_pem),
        "the list verifies under the pinned key"
    );
    let jws: Value = serde_json::from_slice(document).unwrap();
    let payload_b64 = jws["payload"].as_str().unwrap();
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload_b64).unwrap()).unwrap();
    assert!(payload["expiresAt"].as_i64().unwrap() >= now, "not expired");
    assert!(payload["version"].as_u64().is_some());
    payload["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            assert_eq!(entry["certificateType"], "DSC");
            let der = STANDARD.decode(entry["rawData"].as_str().unwrap()).unwrap();
            let sha256 = digest(&SHA256, &der);
            let thumbprint: String = sha256
                .as_ref()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            assert_eq!(entry["thumbprint"].as_str().unwrap(), thumbprint);
            let kid = STANDARD.decode(entry["kid"].as_str().unwrap()).unwrap();
            assert_eq!(
                kid,
                sha256.as_ref()[..8],
                "kid = first 8 bytes of SHA-256(DER)"
            );
            (kid, entry["country"].as_str().unwrap().to_owned(), der)
        })
        .collect()
}

#[test]
fn the_national_list_reads_with_nothing_but_json_base64_and_the_pinned_key() {
    let pki = test_pki();
    for algorithm in [SignatureAlgorithm::Es256, SignatureAlgorithm::EdDsa] {
        let key = ListKey::new(algorithm);
        let document = key.list_of(pki, 7, NOW, NOW + DAY);
        let entries = read_by_hand(&document, &key.pinned.to_pem(), NOW);
        let expected: Vec<(Vec<u8>, String, Vec<u8>)> = usable_dscs(pki)
            .iter()
            .map(|dsc| {
                (
                    dsc.kid().as_bytes().to_vec(),
                    "VN".to_owned(),
                    dsc.der().to_vec(),
                )
            })
            .collect();
        assert_eq!(entries, expected);
    }
}

#[test]
fn a_tampered_list_fails_the_hand_check_too() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let document = key.list_of(test_pki(), 7, NOW, NOW + DAY);
    let mut jws: Value = serde_json::from_slice(&document).unwrap();
    let payload = URL_SAFE_NO_PAD
        .decode(jws["payload"].as_str().unwrap())
        .unwrap();
    let altered = String::from_utf8(payload)
        .unwrap()
        .replace("\"version\":7", "\"version\":8");
    jws["payload"] = Value::String(URL_SAFE_NO_PAD.encode(altered));
    let tampered = serde_json::to_vec(&jws).unwrap();
    assert!(signature_holds(&document, &key.pinned.to_pem()));
    assert!(!signature_holds(&tampered, &key.pinned.to_pem()));
}
