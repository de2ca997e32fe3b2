//! adversarial.md, "Revocation": UCI, country + UCI and signature hashes listed → revoked; the high-S
//! twin of a revoked ES256 signature is revoked too.

use keys::test_pki::test_pki;
use keys::{Backend, SignatureAlgorithm, Signer};
use sha2::{Digest as _, Sha256};
use trust_list::{
    Accepted, Freshness, HashType, JwsError, Refused, RevocationError, RevocationList,
    RevocationListBuilder, RevocationListState, RevocationQuery, country_uci_hash, signature_hash,
    uci_hash,
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

/// A revocation list of `version` issued at `issued_at`, valid a day, revoking these UVCIs.
fn revocations(key: &ListKey, version: u64, issued_at: i64, uvcis: &[&str]) -> Vec<u8> {
    let mut builder = RevocationListBuilder::new();
    for uvci in uvcis {
        builder.revoke_uci(uvci);
    }
    builder
        .build(
            version,
            issued_at,
            issued_at + DAY,
            &key.signing,
            &key.spki(),
        )
        .unwrap()
        .into_bytes()
}

fn revoked(state: &RevocationListState, uvci: &str) -> bool {
    state
        .current()
        .unwrap()
        .is_revoked(&RevocationQuery {
            uvci,
            iss: None,
            signature: &[0; 64],
            is_es256: true,
        })
        .is_some()
}

#[test]
fn revocation_state_takes_newer_lists_and_keeps_the_same_version() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = RevocationListState::new(key.pins(), 6 * 3600);
    assert!(state.current().is_none());
    let v1 = revocations(&key, 1, NOW, &[]);
    assert_eq!(
        state.offer(&v1, NOW),
        Ok(Accepted::Updated {
            version: 1,
            previous: None
        })
    );
    assert!(!revoked(&state, UVCI));
    assert_eq!(
        state.offer(&revocations(&key, 2, NOW, &[UVCI]), NOW),
        Ok(Accepted::Updated {
            version: 2,
            previous: Some(1)
        })
    );
    assert!(revoked(&state, UVCI));
    // A re-fetch of the current list changes nothing; the same version with other hashes is refused.
    assert_eq!(
        state.offer(&revocations(&key, 2, NOW, &[UVCI]), NOW),
        Ok(Accepted::Unchanged { version: 2 })
    );
    assert_eq!(
        state.offer(&revocations(&key, 2, NOW, &[]), NOW),
        Err(Refused::ConflictingVersion { version: 2 })
    );
    assert!(revoked(&state, UVCI));
}

#[test]
fn an_older_revocation_list_is_refused_and_the_revocation_stays() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = RevocationListState::new(key.pins(), 6 * 3600);
    state
        .offer(&revocations(&key, 7, NOW, &[UVCI]), NOW)
        .unwrap();
    // An attacker replays version 6, from before the certificate was revoked, signed and unexpired.
    assert_eq!(
        state.offer(&revocations(&key, 6, NOW, &[]), NOW),
        Err(Refused::Rollback {
            offered: 6,
            current: 7
        })
    );
    assert_eq!(state.current().unwrap().version(), 7);
    assert!(revoked(&state, UVCI));
}

#[test]
fn expired_and_unpinned_revocation_lists_are_refused() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let stranger = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = RevocationListState::new(key.pins(), 6 * 3600);
    state
        .offer(&revocations(&key, 1, NOW, &[UVCI]), NOW)
        .unwrap();
    let expired = revocations(&key, 2, NOW - 2 * DAY, &[]);
    assert_eq!(
        state.offer(&expired, NOW),
        Err(Refused::Invalid(RevocationError::Expired {
            expires_at: NOW - DAY,
            now: NOW
        }))
    );
    assert_eq!(
        state.offer(&revocations(&stranger, 2, NOW, &[]), NOW),
        Err(Refused::Invalid(RevocationError::Jws(
            JwsError::UnpinnedKey
        )))
    );
    assert_eq!(state.current().unwrap().version(), 1);
    assert!(revoked(&state, UVCI));
}

#[test]
fn revocation_state_reports_staleness() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = RevocationListState::new(key.pins(), 3600);
    assert_eq!(state.status(NOW), None);
    state.offer(&revocations(&key, 1, NOW, &[]), NOW).unwrap();
    assert_eq!(
        state.status(NOW + 3600),
        Some(Freshness {
            version: 1,
            age_s: 3600,
            stale: false,
            expired: false
        })
    );
    assert!(state.status(NOW + 3601).unwrap().stale);
    let after_expiry = state.status(NOW + DAY + 1).unwrap();
    assert!(after_expiry.stale && after_expiry.expired);
}
