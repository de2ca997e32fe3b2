//! adversarial.md, "Time": the injected clock, `iat`/`exp`, and the DSC validity shell model.

use hcert::ClaimsBuilder;
use keys::test_pki::{DSC_NOT_AFTER, DSC_NOT_BEFORE, TestDsc};
use time::UtcOffset;
use verifier::{CheckState, Code, Detail, Input};

use crate::support::*;

fn certificate(dsc: &TestDsc, iat: i64, exp: i64) -> String {
    hc1(&sign(
        dsc,
        &ClaimsBuilder::new("VN", iat, exp)
            .encode(&vaccination())
            .unwrap(),
    ))
}

fn at_clock(text: &str, clock: i64) -> verifier::Report {
    verifier(&[
        &pki().es256,
        &pki().es256_expired,
        &pki().es256_not_yet_valid,
    ])
    .verify(Input::Text(text), at(clock), Detail::default())
}

#[test]
fn expiry_boundaries() {
    let text = certificate(&pki().es256, IAT, EXP);
    assert_eq!(at_clock(&text, IAT - 1).code, Code::NotYetValid);
    assert_eq!(at_clock(&text, IAT).code, Code::Ok);
    assert_eq!(
        at_clock(&text, EXP).code,
        Code::Ok,
        "valid at the second of exp"
    );
    let expired = at_clock(&text, EXP + 1);
    assert_eq!(expired.code, Code::Expired);
    assert_eq!(expired.checks.expiry, CheckState::Fail);
    // Every later check still ran.
    assert_eq!(expired.checks.dsc_validity, CheckState::Pass);
    assert_eq!(expired.checks.schema, CheckState::Pass);
    assert!(expired.message.contains("expired at"));
}

#[test]
fn shell_model() {
    let dsc = &pki().es256;
    let exp_after_dsc = certificate(dsc, IAT, DSC_NOT_AFTER + 1);
    let report = at_clock(&exp_after_dsc, AT);
    assert_eq!(report.code, Code::DscValidity);
    assert_eq!(report.checks.expiry, CheckState::Pass);
    let iat_before_dsc = certificate(dsc, DSC_NOT_BEFORE - 1, EXP);
    assert_eq!(at_clock(&iat_before_dsc, AT).code, Code::DscValidity);
    let inside = certificate(dsc, DSC_NOT_BEFORE, DSC_NOT_AFTER);
    assert_eq!(at_clock(&inside, DSC_NOT_AFTER).code, Code::Ok);
}

#[test]
fn expired_and_future_dscs() {
    let pki = pki();
    let expired_dsc = &pki.es256_expired;
    let (nb, na) = (
        expired_dsc.certificate.not_before(),
        expired_dsc.certificate.not_after(),
    );
    let text = certificate(expired_dsc, nb + 10, na - 10);
    let report = at_clock(&text, AT);
    assert_eq!(report.code, Code::Expired);
    assert_eq!(report.checks.dsc_validity, CheckState::Fail);
    assert_eq!(
        at_clock(&text, nb + 20).code,
        Code::Ok,
        "valid while its DSC was"
    );

    let future = &pki.es256_not_yet_valid;
    let nb = future.certificate.not_before();
    let text = certificate(future, nb + 10, nb + 1000);
    let report = at_clock(&text, AT);
    assert_eq!(report.code, Code::NotYetValid);
    assert_eq!(report.checks.dsc_validity, CheckState::Fail);
}

#[test]
fn results_do_not_depend_on_the_clock_offset() {
    let text = certificate(&pki().es256, IAT, EXP);
    let v = verifier(&[&pki().es256]);
    for clock in [IAT - 1, AT, EXP, EXP + 1] {
        let utc = v.verify(Input::Text(&text), at(clock), Detail::default());
        for hours in [-12, 7, 14] {
            let offset = UtcOffset::from_hms(hours, 0, 0).unwrap();
            let local = v.verify(
                Input::Text(&text),
                at(clock).to_offset(offset),
                Detail::default(),
            );
            assert_eq!(utc, local);
        }
    }
}
