//! Verifying against a signed trust list and revocation list: staleness, withdrawal, revocation
//! (adversarial.md, "Revocation"; design.md, `E_TRUST_LIST_STALE`).

use std::sync::Arc;

use keys::{Backend, SignatureAlgorithm, SigningKey};
use trust_list::{PinnedKey, RevocationList, RevocationListBuilder, TrustList, TrustListBuilder};
use verifier::{CheckState, Code, Detail, Input, Verifier};

use crate::cose::high_s_twin;
use crate::support::*;

const MAX_AGE: i64 = 2 * 86_400;

/// The trust-list signing key that verifiers pin out of band.
fn list_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap())
}

fn pinned() -> Vec<PinnedKey> {
    vec![PinnedKey::from_spki_der(Backend::default(), &list_key().public_key_spki_der()).unwrap()]
}

/// A verified national list of these DSCs, issued one hour before [`AT`].
fn trust_list(dscs: &[&keys::test_pki::TestDsc]) -> TrustList {
    let mut builder = TrustListBuilder::new("VN").unwrap();
    for dsc in dscs {
        builder.add(dsc.certificate.clone(), "VN").unwrap();
    }
    let key = list_key();
    let document = builder
        .build(
            7,
            AT - 3600,
            AT + 86_400 * 30,
            key,
            &key.public_key_spki_der(),
        )
        .unwrap();
    TrustList::verify(document.as_bytes(), &pinned(), AT).unwrap()
}

fn revocation(build: impl FnOnce(&mut RevocationListBuilder)) -> Arc<RevocationList> {
    let mut builder = RevocationListBuilder::new();
    build(&mut builder);
    let key = list_key();
    let document = builder
        .build(3, AT - 60, AT + 86_400, key, &key.public_key_spki_der())
        .unwrap();
    Arc::new(RevocationList::verify(document.as_bytes(), &pinned(), AT).unwrap())
}

fn from_list(list: &TrustList) -> Verifier {
    Verifier::from_trust_list(list, Backend::default(), MAX_AGE, None)
}

#[test]
fn a_listed_dsc_verifies_and_the_report_names_the_list() {
    let list = trust_list(&[&pki().es256, &pki().ps256]);
    let report = check(
        &from_list(&list),
        &issue(&pki().ps256, &vaccination()),
        Code::Ok,
    );
    let status = report.trust_list.unwrap();
    assert_eq!(
        (status.version, status.age_s, status.stale),
        (7, 3600, false)
    );
}

#[test]
fn a_stale_list_calls_nothing_valid() {
    let list = trust_list(&[&pki().es256]);
    let text = issue(&pki().es256, &vaccination());
    let verifier = from_list(&list);
    let stale_at = at(AT - 3600 + MAX_AGE + 1);
    let report = verifier.verify(Input::Text(&text), stale_at, Detail::default());
    assert_eq!(report.code, Code::TrustListStale);
    assert!(!report.valid);
    assert!(report.trust_list.unwrap().stale);
    assert_eq!(
        report.checks.signature,
        CheckState::Pass,
        "every check still ran"
    );
    let at_limit = verifier.verify(
        Input::Text(&text),
        at(AT - 3600 + MAX_AGE),
        Detail::default(),
    );
    assert_eq!(at_limit.code, Code::Ok);
}

/// What a service's `/healthz` reads of the lists in use: stale past the maximum age or the expiry,
/// the revocation list held to the trust list's maximum age too.
#[test]
fn the_lists_freshness_follows_age_and_expiry() {
    let list = trust_list(&[&pki().es256]);
    let verifier = from_list(&list);
    let check = |freshness: Option<trust_list::Freshness>, expected: (u64, u64, bool, bool)| {
        let freshness = freshness.unwrap();
        assert_eq!(
            (
                freshness.version,
                freshness.age_s,
                freshness.stale,
                freshness.expired
            ),
            expected
        );
    };
    check(verifier.trust_list_freshness(AT), (7, 3600, false, false));
    let limit = AT - 3600 + MAX_AGE;
    check(
        verifier.trust_list_freshness(limit + 1),
        (7, 3600 + MAX_AGE as u64 - 3600 + 1, true, false),
    );
    check(
        verifier.trust_list_freshness(AT + 86_400 * 30 + 1),
        (7, 3600 + 86_400 * 30 + 1, true, true),
    );
    assert!(verifier.revocation_list_freshness(AT).is_none());

    let verifier = verifier.with_revocation(revocation(|_| {}));
    check(
        verifier.revocation_list_freshness(AT),
        (3, 60, false, false),
    );
    check(
        verifier.revocation_list_freshness(AT + 86_400 + 1),
        (3, 60 + 86_400 + 1, true, true),
    );
    let untrusting = Verifier::new(
        Arc::new(trust_list::TrustStore::new(Backend::default())),
        None,
    );
    assert!(untrusting.trust_list_freshness(AT).is_none());
}

#[test]
fn a_dsc_removed_from_the_list_invalidates_what_it_signed() {
    let without_es256 = trust_list(&[&pki().ps256]);
    check(
        &from_list(&without_es256),
        &issue(&pki().es256, &vaccination()),
        Code::KidUnknown,
    );
}

#[test]
fn revoked_by_uci_country_uci_or_signature() {
    let list = trust_list(&[&pki().es256]);
    let dsc = &pki().es256;
    let payload = claims(&vaccination());
    let cose = sign(dsc, &payload);
    let text = hc1(&cose);
    let uvci = vaccination()["v"][0]["ci"].as_str().unwrap().to_owned();
    let signature = hcert::CoseSign1::parse(&cose).unwrap().signature().to_vec();

    let none = revocation(|b| {
        b.revoke_uci("URN:UVCI:01:VN:SOMEONE-ELSE");
    });
    let report = check(&from_list(&list).with_revocation(none), &text, Code::Ok);
    assert_eq!(report.checks.revocation, CheckState::Pass);

    let by_uci = revocation(|b| {
        b.revoke_uci(&uvci);
    });
    check(
        &from_list(&list).with_revocation(by_uci),
        &text,
        Code::Revoked,
    );
    let by_country = revocation(|b| {
        b.revoke_country_uci("VN", &uvci);
    });
    check(
        &from_list(&list).with_revocation(by_country),
        &text,
        Code::Revoked,
    );
    let by_signature = revocation(|b| {
        b.revoke_signature(&signature, true);
    });
    let verifier = from_list(&list).with_revocation(by_signature);
    let report = check(&verifier, &text, Code::Revoked);
    assert_eq!(
        report.checks.expiry,
        CheckState::Pass,
        "later checks still ran"
    );

    // The high-S twin of a revoked certificate is revoked too: only `r` is hashed.
    let protected = hcert::CoseSign1::parse(&cose)
        .unwrap()
        .protected_header()
        .to_vec();
    let twin = cose_raw(
        &[0xd2],
        &protected,
        NO_HEADER,
        &payload,
        &high_s_twin(&signature),
    );
    check(&verifier, &hc1(&twin), Code::Revoked);
    check(&from_list(&list), &hc1(&twin), Code::Ok);
    // Another country's revocation of the same UVCI does not touch ours.
    let other_country = revocation(|b| {
        b.revoke_country_uci("XX", &uvci);
    });
    check(
        &from_list(&list).with_revocation(other_country),
        &text,
        Code::Ok,
    );
}
