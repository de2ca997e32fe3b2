//! Keeping the list fresh: rollbacks, expired and bad lists are refused and the last good list stays;
//! staleness is reported after the configured window.

use keys::SignatureAlgorithm;
use keys::test_pki::test_pki;
use trust_list::{Accepted, Freshness, JwsError, Refused, TrustListError, TrustListState};

use crate::support::{DAY, ListKey, NOW, jws, jws_parts};

const MAX_AGE: u64 = 2 * DAY as u64;

fn state(key: &ListKey) -> TrustListState {
    TrustListState::new(key.pins(), MAX_AGE)
}

/// A list of version `version` issued at `NOW - age`, valid a week.
fn list(key: &ListKey, version: u64, age: i64) -> Vec<u8> {
    key.list_of(test_pki(), version, NOW - age, NOW - age + 7 * DAY)
}

fn current_version(state: &TrustListState) -> Option<u64> {
    state.current().map(|list| list.version())
}

#[test]
fn newer_lists_replace_older_ones() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = state(&key);
    assert!(state.current().is_none());
    assert_eq!(state.status(NOW), None);
    assert_eq!(
        state.offer(&list(&key, 1, 0), NOW),
        Ok(Accepted::Updated {
            version: 1,
            previous: None
        })
    );
    assert_eq!(
        state.offer(&list(&key, 3, 0), NOW),
        Ok(Accepted::Updated {
            version: 3,
            previous: Some(1)
        })
    );
    assert_eq!(current_version(&state), Some(3));
}

#[test]
fn a_rollback_is_refused_and_the_last_good_list_kept() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = state(&key);
    let v5 = list(&key, 5, 0);
    state.offer(&v5, NOW).unwrap();
    assert_eq!(
        state.offer(&list(&key, 4, 0), NOW),
        Err(Refused::Rollback {
            offered: 4,
            current: 5
        })
    );
    assert_eq!(current_version(&state), Some(5));
    // The same list again (a re-fetch), or its payload re-signed: nothing changes.
    assert_eq!(
        state.offer(&v5, NOW),
        Ok(Accepted::Unchanged { version: 5 })
    );
    let (_, payload, _) = jws_parts(&v5);
    let header = serde_json::json!({"alg": "ES256", "kid": key.pinned.key_id(), "typ": "vaxcert-trust-list+json"});
    let resigned = jws(
        &header,
        &serde_json::to_vec(&payload).unwrap(),
        &key.signing,
    );
    assert_ne!(resigned, v5);
    assert_eq!(
        state.offer(&resigned, NOW),
        Ok(Accepted::Unchanged { version: 5 })
    );
    // The same version with other content: a publisher must bump the version.
    let other = key.list(
        &[test_pki().es256.certificate.clone()],
        "VN",
        5,
        NOW,
        NOW + DAY,
    );
    assert_eq!(
        state.offer(&other, NOW),
        Err(Refused::ConflictingVersion { version: 5 })
    );
    assert_eq!(
        state.current().unwrap().len(),
        jws_parts(&v5).1["entries"].as_array().unwrap().len()
    );
}

#[test]
fn expired_unpinned_and_self_signed_lists_are_refused_and_the_last_good_list_kept() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let stranger = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = state(&key);
    state.offer(&list(&key, 1, 0), NOW).unwrap();

    let expired = key.list_of(test_pki(), 2, NOW - 9 * DAY, NOW - 2 * DAY);
    assert_eq!(
        state.offer(&expired, NOW),
        Err(Refused::Invalid(TrustListError::Expired {
            expires_at: NOW - 2 * DAY,
            now: NOW
        }))
    );
    assert_eq!(
        state.offer(&list(&stranger, 2, 0), NOW),
        Err(Refused::Invalid(TrustListError::Jws(JwsError::UnpinnedKey)))
    );
    let dsc = &test_pki().es256;
    let payload = serde_json::to_vec(&jws_parts(&list(&key, 2, 0)).1).unwrap();
    let carrying_its_key = jws(
        &serde_json::json!({"alg": "ES256", "kid": key.pinned.key_id(), "typ": "vaxcert-trust-list+json",
                            "x5c": [base64::Engine::encode(&base64::engine::general_purpose::STANDARD, dsc.certificate.der())]}),
        &payload,
        &dsc.key,
    );
    assert_eq!(
        state.offer(&carrying_its_key, NOW),
        Err(Refused::Invalid(TrustListError::Jws(
            JwsError::KeyInHeader { parameter: "x5c" }
        )))
    );
    assert_eq!(current_version(&state), Some(1));
}

#[test]
fn empty_truncated_and_huge_inputs_keep_the_last_good_list() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = state(&key).with_max_bytes(4 * 1024 * 1024);
    state.offer(&list(&key, 1, 0), NOW).unwrap();
    let next = list(&key, 2, 0);
    for bad in [
        &b""[..],
        &next[..next.len() / 2],
        &next[..next.len() - 1],
        b"null",
        b"{}",
    ] {
        assert!(
            matches!(
                state.offer(bad, NOW),
                Err(Refused::Invalid(TrustListError::Jws(
                    JwsError::Envelope { .. }
                )))
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    let huge = vec![b' '; 100 * 1024 * 1024];
    assert_eq!(
        state.offer(&huge, NOW),
        Err(Refused::Invalid(TrustListError::Jws(JwsError::TooLarge {
            len: huge.len(),
            max: 4 * 1024 * 1024
        })))
    );
    assert_eq!(current_version(&state), Some(1));
    assert_eq!(
        state.offer(&next, NOW),
        Ok(Accepted::Updated {
            version: 2,
            previous: Some(1)
        })
    );
}

#[test]
fn staleness_is_reported_after_the_window() {
    let key = ListKey::new(SignatureAlgorithm::Es256);
    let mut state = state(&key);
    state.offer(&list(&key, 1, 0), NOW).unwrap();
    let max_age = MAX_AGE as i64;
    let status = |at: i64| state.status(at).unwrap();
    assert_eq!(
        status(NOW),
        Freshness {
            version: 1,
            age_s: 0,
            stale: false,
            expired: false
        }
    );
    assert_eq!(
        status(NOW + max_age),
        Freshness {
            version: 1,
            age_s: MAX_AGE,
            stale: false,
            expired: false
        }
    );
    assert_eq!(
        status(NOW + max_age + 1),
        Freshness {
            version: 1,
            age_s: MAX_AGE + 1,
            stale: true,
            expired: false
        }
    );
    // Past its expiry a list is stale whatever the window.
    let mut lenient = TrustListState::new(key.pins(), u64::MAX);
    lenient.offer(&list(&key, 1, 0), NOW).unwrap();
    let after_expiry = lenient.status(NOW + 7 * DAY + 1).unwrap();
    assert!(after_expiry.stale && after_expiry.expired);
    // A list issued "in the future" (the publisher's clock ahead) has age 0.
    assert_eq!(status(NOW - 100).age_s, 0);
}
