//! Certificates signed with the test PKI verify, in both backends, for every type and algorithm.

use keys::Backend;
use serde_json::Value;
use verifier::{CheckState, Code, Detail, Input};

use crate::support::*;

#[test]
fn every_algorithm_type_and_backend() {
    let pki = pki();
    let payloads: [(Payload, &str); 3] = [(vaccination, "v"), (test_result, "t"), (recovery, "r")];
    for dsc in [&pki.es256, &pki.ps256, &pki.eddsa] {
        for (payload, kind) in payloads {
            for signing_backend in Backend::all() {
                let signer = dsc.signer_for(*signing_backend).unwrap();
                let kid = dsc.certificate.kid();
                let cose = hcert::sign1(
                    alg_of(&signer),
                    kid.as_bytes(),
                    &claims(&payload()),
                    |tbs| keys::Signer::sign(&signer, tbs),
                )
                .unwrap();
                let text = hc1(&cose);
                for verifying_backend in Backend::all() {
                    let report = check(&verifier_in(*verifying_backend, &[dsc]), &text, Code::Ok);
                    assert_eq!(report.cert_type, Some(kind));
                    assert_eq!(report.alg, Some(signer.algorithm().name()));
                }
            }
        }
    }
}

#[test]
fn report_carries_the_verified_payload() {
    let dsc = &pki().es256;
    let text = issue(dsc, &vaccination());
    let v = verifier(&[dsc]);
    let detail = Detail {
        payload: true,
        unverified: false,
    };
    let (report, proof) = v.verify_with_proof(Input::Text(&text), at(AT), detail);
    assert!(report.valid);
    assert_eq!(report.iss.as_deref(), Some("VN"));
    assert_eq!((report.iat, report.exp), (Some(IAT), Some(EXP)));
    let holder = report.holder.as_ref().unwrap();
    assert_eq!(holder.fnt.as_deref(), Some("NGUYEN"));
    assert_eq!(holder.gn.as_deref(), Some("Bảo Duy"));
    assert_eq!(holder.dob.as_deref(), Some("1983-10-10"));
    assert_eq!(report.dcc.as_ref(), Some(&vaccination()));
    assert_eq!(report.checks.image, CheckState::NotApplicable);
    assert_eq!(report.checks.revocation, CheckState::NotApplicable);
    let proof = proof.unwrap();
    assert_eq!(proof.kid(), dsc.certificate.kid().as_bytes());
    assert_eq!(proof.claims().dcc.as_json(), &vaccination());

    let json: Value = serde_json::from_str(&report.to_json_line()).unwrap();
    assert_eq!(json["code"], "OK");
    assert_eq!(json["type"], "v");
    assert_eq!(json["checks"]["revocation"], "n/a");
    assert_eq!(json["holder"]["fn"], "Nguyễn");
    let order: Vec<&String> = json["checks"].as_object().unwrap().keys().collect();
    assert_eq!(order.len(), 14);
}

#[test]
fn unverified_content_only_on_request() {
    let text = issue(&pki().es256, &vaccination());
    let stranger = verifier(&[&pki().ps256]);
    let quiet = stranger.verify(Input::Text(&text), at(AT), Detail::default());
    assert_eq!(quiet.code, Code::KidUnknown);
    assert!(quiet.unverified.is_none() && quiet.holder.is_none() && quiet.dcc.is_none());
    let detail = Detail {
        payload: true,
        unverified: true,
    };
    let shown = stranger.verify(Input::Text(&text), at(AT), detail);
    assert_eq!(shown.code, Code::KidUnknown);
    assert!(
        shown.holder.is_none(),
        "unverified content is never shown as fact"
    );
    let unverified = shown.unverified.unwrap();
    assert_eq!(unverified["holder"]["fnt"], "NGUYEN");
    assert_eq!(unverified["iss"], "VN");
}

#[test]
fn pictures_are_read_first() {
    let text = issue(&pki().es256, &vaccination());
    let png = hcert::render_png(&text, &hcert::RenderOptions::default()).unwrap();
    let v = verifier(&[&pki().es256]);
    let report = v.verify(Input::Image(&png), at(AT), Detail::default());
    assert_eq!(report.code, Code::Ok, "{}", report.message);
    assert_eq!(report.checks.image, CheckState::Pass);
    let report = v.verify(Input::Image(b"not a picture"), at(AT), Detail::default());
    assert_eq!(report.code, Code::Image);
    assert_eq!(report.checks.prefix, CheckState::Skipped);
}

#[test]
fn names_are_escaped_for_display() {
    let mut dcc = vaccination();
    dcc["nam"]["gn"] = Value::from("Bảo\u{202E}Duy");
    let report = check(
        &verifier(&[&pki().es256]),
        &issue(&pki().es256, &dcc),
        Code::Ok,
    );
    assert_eq!(
        report.holder.unwrap().gn.as_deref(),
        Some("Bảo\\u{202E}Duy")
    );
}
