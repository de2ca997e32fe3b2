//! adversarial.md, "kid and trust": where the kid comes from, colliding kids, key usage, country.

use std::sync::Arc;

use hcert::Algorithm;
use keys::test_pki::TestDsc;
use keys::{Backend, Kid};
use verifier::{CheckState, Code, TrustStore, Verifier};

use crate::support::*;

fn kid_of(dsc: &TestDsc) -> Vec<u8> {
    dsc.certificate.kid().as_bytes().to_vec()
}

#[test]
fn kid_placement() {
    let dsc = &pki().es256;
    let v = verifier(&[dsc]);
    let right = kid_of(dsc);
    let wrong = b"wrongkid".to_vec();
    let alg_only = [0xa1, 0x01, 0x26];
    let with_kid = |kid: &[u8]| protected_alg_kid(Algorithm::Es256, kid);
    // CO18-CO21: protected only, unprotected only, both equal, protected right + unprotected wrong.
    check(
        &v,
        &signed_with_headers(dsc, &[0xd2], &with_kid(&right), NO_HEADER),
        Code::Ok,
    );
    check(
        &v,
        &signed_with_headers(dsc, &[0xd2], &alg_only, &unprotected_kid(&right)),
        Code::Ok,
    );
    check(
        &v,
        &signed_with_headers(dsc, &[0xd2], &with_kid(&right), &unprotected_kid(&right)),
        Code::Ok,
    );
    check(
        &v,
        &signed_with_headers(dsc, &[0xd2], &with_kid(&right), &unprotected_kid(&wrong)),
        Code::Ok,
    );
    // CO22: protected wrong + unprotected right; CO23: unprotected wrong only.
    check(
        &v,
        &signed_with_headers(dsc, &[0xd2], &with_kid(&wrong), &unprotected_kid(&right)),
        Code::KidUnknown,
    );
    check(
        &v,
        &signed_with_headers(dsc, &[0xd2], &alg_only, &unprotected_kid(&wrong)),
        Code::KidUnknown,
    );
}

#[test]
fn missing_and_odd_sized_kids() {
    let dsc = &pki().es256;
    let v = verifier(&[dsc]);
    let report = check(
        &v,
        &signed_with_headers(dsc, &[0xd2], &[0xa1, 0x01, 0x26], NO_HEADER),
        Code::KidMissing,
    );
    assert_eq!(report.checks.signature, CheckState::Skipped);
    let kid = kid_of(dsc);
    for odd in [&kid[..7], &[kid.clone(), vec![0]].concat()[..], &[]] {
        check(
            &v,
            &signed_with_headers(
                dsc,
                &[0xd2],
                &protected_alg_kid(Algorithm::Es256, odd),
                NO_HEADER,
            ),
            Code::KidUnknown,
        );
    }
}

/// A store listing `first` and then `second` under `second`'s kid.
fn colliding(first: &TestDsc, second: &TestDsc) -> Verifier {
    let kid = Kid::from_slice(&kid_of(second)).unwrap();
    let mut store = TrustStore::new(Backend::default());
    store.insert_listed(kid, first.certificate.clone(), None);
    store.insert_listed(kid, second.certificate.clone(), None);
    assert_eq!(store.get(kid.as_bytes()).len(), 2);
    Verifier::new(Arc::new(store), None)
}

#[test]
fn colliding_kids_try_every_dsc_and_judge_by_the_one_that_verified() {
    let pki = pki();
    let certificate = issue(&pki.es256, &vaccination());
    // The first DSC may sign tests only and is expired: neither may leak into the verdict.
    check(
        &colliding(&pki.es256_test_only, &pki.es256),
        &certificate,
        Code::Ok,
    );
    check(
        &colliding(&pki.es256_expired, &pki.es256),
        &certificate,
        Code::Ok,
    );
    check(&colliding(&pki.ps256, &pki.es256), &certificate, Code::Ok);
    // And the other way round: the DSC that verified is the one judged.
    let by_test_only = issue(&pki.es256_test_only, &vaccination());
    check(
        &colliding(&pki.es256, &pki.es256_test_only),
        &by_test_only,
        Code::KeyUsage,
    );
}

#[test]
fn key_usage() {
    let pki = pki();
    let cases: [(&TestDsc, Payload, Code); 10] = [
        (&pki.es256_test_only, vaccination, Code::KeyUsage),
        (&pki.es256_test_only, recovery, Code::KeyUsage),
        (&pki.es256_test_only, test_result, Code::Ok),
        (&pki.es256_vaccination_only_old_arc, vaccination, Code::Ok),
        (
            &pki.es256_vaccination_only_old_arc,
            test_result,
            Code::KeyUsage,
        ),
        (&pki.es256_client_auth_only, test_result, Code::Ok),
        (&pki.es256_client_auth_only, vaccination, Code::Ok),
        (&pki.es256_no_eku, recovery, Code::Ok),
        (&pki.es256_empty_eku, recovery, Code::Ok),
        (&pki.es256, recovery, Code::Ok),
    ];
    for (dsc, dcc, code) in cases {
        let report = check(&verifier(&[dsc]), &issue(dsc, &dcc()), code);
        let expected = if code == Code::Ok {
            CheckState::Pass
        } else {
            CheckState::Fail
        };
        assert_eq!(report.checks.key_usage, expected);
        assert_eq!(report.checks.schema, CheckState::Pass, "{}", report.message);
    }
}

#[test]
fn country() {
    let pki = pki();
    let dsc = &pki.es256_wrong_country; // subject C=XX, iss VN
    let report = check(
        &verifier(&[dsc]),
        &issue(dsc, &vaccination()),
        Code::CountryMismatch,
    );
    assert_eq!(report.checks.country, CheckState::Fail);
    // A trust-list entry's country wins over the certificate's subject.
    let mut store = TrustStore::new(Backend::default());
    store.insert_listed(
        dsc.certificate.kid(),
        dsc.certificate.clone(),
        Some("VN".into()),
    );
    check(
        &Verifier::new(Arc::new(store), None),
        &issue(dsc, &vaccination()),
        Code::Ok,
    );
    // No iss: nothing to compare.
    let no_iss = hcert::ClaimsBuilder::new("VN", IAT, EXP)
        .encode(&vaccination())
        .unwrap();
    let mut without = no_iss.clone();
    without[0] = 0xa3; // drop the leading iss entry: {1: "VN"} is 01 62 56 4e
    without.drain(1..5);
    let report = check(&verifier(&[dsc]), &hc1(&sign(dsc, &without)), Code::Ok);
    assert_eq!(report.checks.country, CheckState::NotApplicable);
    assert_eq!(report.iss, None);
}
