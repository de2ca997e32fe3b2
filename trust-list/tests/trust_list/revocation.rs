//! adversarial.md, "Revocation": UCI, country + UCI and signature hashes listed → revoked; the high-S
//! twin of a revoked ES256 signature is revoked too.

use keys::test_pki::test_pki;
use keys::{Backend, SignatureAlgorithm, Signer};
use sha2::{Digest as _, Sha256};
use trust_list::{
    HashType, JwsError, RevocationError, RevocationList, RevocationListBuilder, RevocationQuery,
    country_uci_hash, signature_hash, uci_hash,
};

use crate::support::{DAY, ListKey, NOW};

const UVCI: &str = "URN:UVCI:01:VN:8F0D3C2A9B7E4F1AA0B1C2D3E4F50617#E";

/// The order n of P-256.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `(r, n − s)`: the other valid ES256 signature of the same message.
fn high_s_twin(signature: &[u8]) -> Vec<u8> {
    let (r, s) = signature.split_at(32);
    let mut twin_s = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        twin_s[i] = digit as u8;
    }
    assert_eq!(borrow, 0);
    [r, &twin_s].concat()
}

fn prefix(bytes: &[u8]) -> [u8; 16] {
    Sha256::digest(bytes)[..16].try_into().unwrap()
}

#[test]
fn hashes() {
    assert_eq!(uci_hash(UVCI), prefix(UVCI.as_bytes()));
    assert_eq!(
        country_uci_hash("VN", UVCI),
        prefix(format!("VN{UVCI}").as_bytes())
    );
    assert_ne!(country_uci_hash("VN", UVCI), uci_hash(UVCI));
    // One published vector (SHA-256 of "abc"), so the truncation is pinned down.
    assert_eq!(
        hex::encode(uci_hash("abc")),
        "ba7816bf8f01cfea414140de5dae2223"
    );
}

#[test]
fn the_high_s_twin_is_valid_and_hashes_the_same() {
    let dsc = &test_pki().es256;
    let message = b"Sig_structure";
    let signature = dsc.key.sign(message).unwrap();
    let twin = high_s_twin(&signature);
    assert_ne!(twin, signature);
    let key = Backend::default().verifying_key(&dsc.certificate).unwrap();
    key.verify(message, &signature).unwrap();
    key.verify(message, &twin).unwrap();
    assert_eq!(
        signature_hash(&twin, true),
        signature_hash(&signature, true)
    );
    assert_eq!(signature_hash(&signature, true), prefix(&signature[..32]));
    // Hashed whole, the two differ: that is why ES256 hashes r only.
    assert_ne!(
        signature_hash(&twin, false),
        signature_hash(&signature, false)
    );
}

#[test]
fn listed_hashes_revoke() {
    let pki = test_pki();
    let message = b"Sig_structure";
    let es256 = pki.es256.key.sign(message).unwrap();
    let ps256 = pki.ps256.key.sign(message).unwrap();
    let key = ListKey::new(SignatureAlgorithm::EdDsa);
    let mut builder = RevocationListBuilder::new();
    builder
        .revoke_uci("URN:UVCI:01:VN:REVOKED-BY-UCI")
        .revoke_country_uci("VN", "URN:UVCI:01:VN:REVOKED-BY-COUNTRY")
        .revoke_signature(&es256, true)
        .revoke_signature(&ps256, false);
    let document = builder
        .build(1, NOW, NOW + DAY, &key.signing, &key.spki())
        .unwrap();
    let list = RevocationList::verify(document.as_bytes(), &key.pins(), NOW).unwrap();
    let other_es256 = pki.es256.key.sign(b"another certificate").unwrap();

    let check = |uvci: &str,
                 iss: Option<&str>,
                 signature: &[u8],
                 is_es256: bool,
                 expected: Option<HashType>| {
        let query = RevocationQuery {
            uvci,
            iss,
            signature,
            is_es256,
        };
        assert_eq!(list.is_revoked(&query), expected, "{uvci} {iss:?}");
    };
    check(
        "URN:UVCI:01:VN:REVOKED-BY-UCI",
        Some("VN"),
        &other_es256,
        true,
        Some(HashType::Uci),
    );
    check(
        "URN:UVCI:01:VN:REVOKED-BY-UCI",
        None,
        &other_es256,
        true,
        Some(HashType::Uci),
    );
    check(
        "URN:UVCI:01:VN:REVOKED-BY-COUNTRY",
        Some("VN"),
        &other_es256,
        true,
        Some(HashType::CountryCodeUci),
    );
    check(
        "URN:UVCI:01:VN:REVOKED-BY-COUNTRY",
        Some("XX"),
        &other_es256,
        true,
        None,
    );
    check(
        "URN:UVCI:01:VN:FINE",
        Some("VN"),
        &es256,
        true,
        Some(HashType::Signature),
    );
    check(
        "URN:UVCI:01:VN:FINE",
        Some("VN"),
        &high_s_twin(&es256),
        true,
        Some(HashType::Signature),
    );
    check(
        "URN:UVCI:01:VN:FINE",
        Some("VN"),
        &ps256,
        false,
        Some(HashType::Signature),
    );
    check("URN:UVCI:01:VN:FINE", Some("VN"), &other_es256, true, None);
}

#[test]
fn revocation_lists_are_checked_like_trust_lists() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let stranger = ListKey::new(SignatureAlgorithm::Es256);
    let mut builder = RevocationListBuilder::new();
    builder.revoke_uci(UVCI);
    let document = builder
        .build(1, NOW - 2 * DAY, NOW - DAY, &key.signing, &key.spki())
        .unwrap();
    assert_eq!(
        RevocationList::verify(document.as_bytes(), &key.pins(), NOW).err(),
        Some(RevocationError::Expired {
            expires_at: NOW - DAY,
            now: NOW
        })
    );
    let document = builder
        .build(1, NOW, NOW + DAY, &stranger.signing, &stranger.spki())
        .unwrap();
    assert_eq!(
        RevocationList::verify(document.as_bytes(), &key.pins(), NOW).err(),
        Some(RevocationError::Jws(JwsError::UnpinnedKey))
    );
    // A trust list offered as a revocation list.
    let trust_list = key.list_of(test_pki(), 1, NOW, NOW + DAY);
    assert_eq!(
        RevocationList::verify(&trust_list, &key.pins(), NOW).err(),
        Some(RevocationError::Jws(JwsError::WrongType {
            expected: "vaxcert-revocation-list+json"
        }))
    );
    // A hash of the wrong length, in a correctly signed list.
    let header = serde_json::json!({"alg": "ES256", "kid": key.pinned.key_id(), "typ": "vaxcert-revocation-list+json"});
    let payload = serde_json::json!({"version": 1, "issuedAt": NOW, "expiresAt": NOW + DAY,
        "entries": [{"hashType": "UCI", "hash": "AAAA"}]});
    let bad = crate::support::jws(
        &header,
        &serde_json::to_vec(&payload).unwrap(),
        &key.signing,
    );
    assert_eq!(
        RevocationList::verify(&bad, &key.pins(), NOW).err(),
        Some(RevocationError::Hash { index: 0 })
    );
    let payload = serde_json::json!({"version": 1, "issuedAt": NOW, "expiresAt": NOW + DAY,
        "entries": [{"hashType": "KID", "hash": "AAAAAAAAAAAAAAAAAAAAAA=="}]});
    let unknown = crate::support::jws(
        &header,
        &serde_json::to_vec(&payload).unwrap(),
        &key.signing,
    );
    assert!(matches!(
        RevocationList::verify(&unknown, &key.pins(), NOW),
        Err(RevocationError::Payload { .. })
    ));
}

#[test]
fn a_dsc_removed_from_the_list_leaves_the_store() {
    let pki = test_pki();
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = trust_list::TrustListState::new(key.pins(), 86_400);
    let both = [pki.es256.certificate.clone(), pki.ps256.certificate.clone()];
    state
        .offer(&key.list(&both, "VN", 1, NOW, NOW + DAY), NOW)
        .unwrap();
    let withdrawn = pki.es256.certificate.kid();
    assert_eq!(
        state
            .current()
            .unwrap()
            .store(Backend::default())
            .get(withdrawn.as_bytes())
            .len(),
        1
    );
    state
        .offer(&key.list(&both[1..], "VN", 2, NOW, NOW + DAY), NOW)
        .unwrap();
    let store = state.current().unwrap().store(Backend::default());
    assert!(
        store.get(withdrawn.as_bytes()).is_empty(),
        "its certificates now fail with E_KID_UNKNOWN"
    );
    assert_eq!(store.get(pki.ps256.certificate.kid().as_bytes()).len(), 1);
}
