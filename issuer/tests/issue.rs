//! Issuing end to end: dose confirmation → validated dose → signed, self-checked `HC1:` certificate,
//! verified again with the `verifier` library, with the generated test PKI.

mod fixtures;

use std::path::PathBuf;
use std::sync::Arc;

use hcert::ValueSets;
use issuer::{
    DoseConfirmation, FieldError, FieldReason, IssueError, Issuer, IssuerConfig, Uvci,
    ValidatedDose,
};
use keys::test_pki::{DSC_NOT_AFTER, DSC_NOT_BEFORE, TestDsc, test_pki};
use keys::{Backend, SignatureAlgorithm, Signer, SigningKey};
use serde_json::json;
use time::OffsetDateTime;
use verifier::{Code, Detail, Input, TrustStore, Verifier};

use fixtures::inline_value_sets;

/// 2021-10-01T00:00:00Z, inside the test DSCs' validity.
const NOW: i64 = 1_633_046_400;

/// The EU value sets from `$DCC_SPEC_DIR/eu-dcc-valuesets/`; `None` (with a message) when the variable
/// is unset, a failure when `CI` is set.
fn real_value_sets() -> Option<ValueSets> {
    let Some(dir) = std::env::var_os("DCC_SPEC_DIR") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "DCC_SPEC_DIR must be set in CI"
        );
        eprintln!("skipped: DCC_SPEC_DIR is not set (point it at the shared spec directory)");
        return None;
    };
    let dir = PathBuf::from(dir).join("eu-dcc-valuesets");
    let mut docs = Vec::new();
    let entries = std::fs::read_dir(&dir);
    assert!(entries.is_ok(), "cannot read {}", dir.display());
    for entry in entries.into_iter().flatten().flatten() {
        let path = entry.path();
        // test-manf-example.json is an example, not a value set.
        let is_example = path.file_name() == Some(std::ffi::OsStr::new("test-manf-example.json"));
        let is_set = path.extension().is_some_and(|e| e == "json") && !is_example;
        if is_set {
            docs.push(std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
    let loaded = ValueSets::from_documents(docs.iter().map(String::as_str));
    assert!(loaded.is_ok(), "{loaded:?}");
    loaded.ok()
}

fn confirmation(fn_: &str, gn: &str, mp: &str, ma: &str, vp: &str) -> DoseConfirmation {
    let body = json!({
        "dose_event_id": "0190f0b2-7a3c-7d1e-9f00-2b8e5c1d4a10",
        "supersedes_dose_event_id": null,
        "person": {"fn": fn_, "gn": gn, "dob": "1983-10-10", "id_number": "001083012345",
                   "phone": "+84912345678"},
        "vaccination": {"tg": "840539006", "vp": vp, "mp": mp, "ma": ma, "dn": 2, "sd": 2,
                        "dt": "2021-09-14", "co": "VN", "lot_number": "FF2587"},
        "provenance": {"site_code": "HN-0123", "registry_record_id": "R-2021-000123",
                       "record_hash": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
    });
    let parsed = serde_json::from_value(body);
    assert!(parsed.is_ok(), "{parsed:?}");
    parsed.unwrap_or_else(|_| unreachable!())
}

fn pfizer(fn_: &str, gn: &str) -> DoseConfirmation {
    confirmation(fn_, gn, "EU/1/20/1528", "ORG-100030215", "1119349007")
}

fn validated(dose: &DoseConfirmation, value_sets: &ValueSets) -> ValidatedDose {
    let validated = dose.validate(value_sets, NOW);
    assert!(validated.is_ok(), "{validated:?}");
    validated.unwrap_or_else(|_| unreachable!())
}

/// A verifier trusting every DSC of the test PKI, as our published trust list would.
fn verifier(value_sets: ValueSets) -> Verifier {
    let pki = test_pki();
    let mut store = TrustStore::new(Backend::default());
    for (_, dsc) in pki.dscs() {
        store.insert(dsc.certificate.clone());
    }
    Verifier::new(Arc::new(store), Some(Arc::new(value_sets)))
}

fn signer(dsc: &TestDsc) -> Arc<dyn Signer> {
    let key = dsc.signer_for(Backend::AwsLc);
    assert!(key.is_ok());
    Arc::new(key.unwrap_or_else(|_| unreachable!()))
}

fn issuer_for(dsc: &TestDsc, value_sets: ValueSets) -> Issuer {
    Issuer::new(
        signer(dsc),
        dsc.certificate.clone(),
        verifier(value_sets),
        IssuerConfig::default(),
    )
}

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[track_caller]
fn round_trip(dsc: &TestDsc, alg: &str) {
    let sets = inline_value_sets();
    let issuer = issuer_for(dsc, sets.clone());
    let dose = validated(&pfizer("Nguyễn", "Thị Minh Khai"), &sets);
    let uvci = Uvci::from_bytes([7; 16]);
    let issued = issuer.issue(&dose, NOW, uvci.clone());
    assert!(issued.is_ok(), "{issued:?}");
    let Ok(issued) = issued else { return };

    assert!(issued.hc1().starts_with("HC1:"));
    assert_eq!(issued.uvci(), &uvci);
    assert_eq!(issued.iat(), NOW);
    assert_eq!(issued.exp(), NOW + 365 * 86_400);
    assert_eq!(issued.kid(), dsc.certificate.kid());
    assert_eq!(issued.uci_hash(), trust_list::uci_hash(uvci.as_str()));
    assert_eq!(
        issued.country_uci_hash(),
        trust_list::country_uci_hash("VN", uvci.as_str())
    );

    let report = verifier(sets).verify(
        Input::Text(issued.hc1()),
        at(NOW + 86_400),
        Detail {
            payload: true,
            unverified: false,
        },
    );
    assert!(report.valid, "{}", report.to_json_line());
    assert_eq!(report.alg, Some(alg));
    assert_eq!(report.iss.as_deref(), Some("VN"));
    assert_eq!(report.iat, Some(issued.iat()));
    assert_eq!(report.exp, Some(issued.exp()));
    let expected = json!({
        "ver": "1.3.0",
        "nam": {"fn": "Nguyễn", "fnt": "NGUYEN", "gn": "Thị Minh Khai", "gnt": "THI<MINH<KHAI"},
        "dob": "1983-10-10",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
               "dn": 2, "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health of Viet Nam",
               "ci": uvci.as_str()}]
    });
    assert_eq!(report.dcc, Some(expected));
}

#[test]
fn round_trip_es256() {
    round_trip(&test_pki().es256, "ES256");
}

#[test]
fn round_trip_ps256() {
    round_trip(&test_pki().ps256, "PS256");
}

#[test]
fn registry_names_and_apostrophes() {
    let sets = inline_value_sets();
    let issuer = issuer_for(&test_pki().es256, sets.clone());
    let dose = validated(&pfizer("Niê", "H'Hen"), &sets);
    assert_eq!((dose.fnt(), dose.gnt()), ("NIE", Some("HHEN")));
    let issued = issuer.issue(&dose, NOW, Uvci::from_bytes([1; 16]));
    assert!(issued.is_ok(), "{issued:?}");
}

#[test]
fn exp_is_capped_at_the_dsc_not_after() {
    let sets = inline_value_sets();
    let issuer = issuer_for(&test_pki().es256, sets.clone());
    let dose = validated(&pfizer("Đặng", "Văn Ngữ"), &sets);
    let now = DSC_NOT_AFTER - 10 * 86_400;
    let issued = issuer.issue(&dose, now, Uvci::from_bytes([2; 16]));
    assert!(issued.is_ok(), "{issued:?}");
    if let Ok(issued) = issued {
        assert_eq!(issued.exp(), DSC_NOT_AFTER);
        let report = verifier(sets).verify(Input::Text(issued.hc1()), at(now), Detail::default());
        assert!(report.valid, "{}", report.to_json_line());
    }
}

#[test]
fn refused_outside_the_dsc_validity() {
    let sets = inline_value_sets();
    let pki = test_pki();
    let dose = validated(&pfizer("Lê", "Lợi"), &sets);

    let issuer = issuer_for(&pki.es256, sets.clone());
    assert!(matches!(
        issuer.issue(&dose, DSC_NOT_BEFORE - 1, Uvci::from_bytes([3; 16])),
        Err(IssueError::DscNotYetValid { .. })
    ));
    assert!(matches!(
        issuer.issue(&dose, DSC_NOT_AFTER + 1, Uvci::from_bytes([3; 16])),
        Err(IssueError::DscExpired { .. })
    ));
    let expired = issuer_for(&pki.es256_expired, sets.clone());
    assert!(matches!(
        expired.issue(&dose, NOW, Uvci::from_bytes([3; 16])),
        Err(IssueError::DscExpired { .. })
    ));
    let not_yet = issuer_for(&pki.es256_not_yet_valid, sets);
    assert!(matches!(
        not_yet.issue(&dose, NOW, Uvci::from_bytes([3; 16])),
        Err(IssueError::DscNotYetValid { .. })
    ));
}

#[test]
fn self_check_catches_a_signer_with_the_wrong_key() {
    let sets = inline_value_sets();
    let pki = test_pki();
    let other_key = SigningKey::generate(Backend::AwsLc, SignatureAlgorithm::Es256);
    assert!(other_key.is_ok());
    let Ok(other_key) = other_key else { return };
    let issuer = Issuer::new(
        Arc::new(other_key),
        pki.es256.certificate.clone(),
        verifier(sets.clone()),
        IssuerConfig::default(),
    );
    let dose = validated(&pfizer("Trần", "Hưng Đạo"), &sets);
    let result = issuer.issue(&dose, NOW, Uvci::from_bytes([4; 16]));
    assert!(
        matches!(
            result,
            Err(IssueError::SelfCheck {
                code: Code::SigInvalid
            })
        ),
        "{result:?}"
    );
    if let Err(err) = result {
        assert_eq!(err.to_string(), "self-check failed: E_SIG_INVALID");
    }
}

#[test]
fn self_check_catches_a_dsc_missing_from_our_trust_list() {
    let sets = inline_value_sets();
    let pki = test_pki();
    let issuer = Issuer::new(
        signer(&pki.es256),
        pki.es256.certificate.clone(),
        Verifier::new(
            Arc::new(TrustStore::new(Backend::default())),
            Some(Arc::new(sets.clone())),
        ),
        IssuerConfig::default(),
    );
    let dose = validated(&pfizer("Hồ", "Xuân Hương"), &sets);
    assert!(matches!(
        issuer.issue(&dose, NOW, Uvci::from_bytes([5; 16])),
        Err(IssueError::SelfCheck {
            code: Code::KidUnknown
        })
    ));
}

#[test]
fn self_check_catches_a_dsc_without_vaccination_key_usage() {
    let sets = inline_value_sets();
    let issuer = issuer_for(&test_pki().es256_test_only, sets.clone());
    let dose = validated(&pfizer("Bùi", "Thị Xuân"), &sets);
    let result = issuer.issue(&dose, NOW, Uvci::from_bytes([8; 16]));
    assert!(
        matches!(
            result,
            Err(IssueError::SelfCheck {
                code: Code::KeyUsage
            })
        ),
        "{result:?}"
    );
}

#[test]
fn debug_output_quotes_no_personal_data() {
    let sets = inline_value_sets();
    let issuer = issuer_for(&test_pki().es256, sets.clone());
    let dose = validated(&pfizer("Nguyễn", "Bảo Duy"), &sets);
    let issued = issuer.issue(&dose, NOW, Uvci::from_bytes([10; 16]));
    let printed = format!("{dose:?} {issued:?}");
    for secret in [
        "Nguy", "NGUYEN", "BAO", "1983", "URN:UVCI", "HC1:", "0010830",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
}

#[test]
fn eddsa_is_not_issued() {
    let sets = inline_value_sets();
    let issuer = issuer_for(&test_pki().eddsa, sets.clone());
    let dose = validated(&pfizer("Ngô", "Quyền"), &sets);
    assert!(matches!(
        issuer.issue(&dose, NOW, Uvci::from_bytes([6; 16])),
        Err(IssueError::UnsupportedAlgorithm("EdDSA"))
    ));
}

#[test]
fn impossible_product_manufacturer_pair_is_refused() {
    let sets = inline_value_sets();
    // Pfizer's product from AstraZeneca's manufacturer: each code exists, the pair does not.
    let dose = confirmation(
        "Lý",
        "Công Uẩn",
        "EU/1/20/1528",
        "ORG-100001699",
        "1119349007",
    );
    assert_eq!(
        dose.validate(&sets, NOW).err(),
        Some(FieldError {
            field: "vaccination.mp",
            reason: FieldReason::CombinationNotAllowed
        })
    );
}

/// The products Viet Nam used, with the `vp` the encoding instructions allow for each (domain.md).
#[test]
fn real_value_sets_viet_nam_products() {
    let Some(sets) = real_value_sets() else {
        return;
    };
    let products: [(&str, &str, &[&str]); 8] = [
        (
            "EU/1/20/1528",
            "ORG-100030215",
            &["1119349007", "28531000087107"],
        ),
        (
            "EU/1/20/1507",
            "ORG-100031184",
            &["1119349007", "28531000087107"],
        ),
        (
            "EU/1/21/1529",
            "ORG-100001699",
            &["28531000087107", "29061000087103"],
        ),
        (
            "EU/1/20/1525",
            "ORG-100001417",
            &["28531000087107", "29061000087103"],
        ),
        (
            "Sputnik-V",
            "Gamaleya-Research-Institute",
            &["28531000087107", "29061000087103"],
        ),
        (
            "BBIBP-CorV",
            "ORG-100020693",
            &["28531000087107", "1157024006"],
        ),
        (
            "Hayat-Vax",
            "ORG-100023050",
            &["28531000087107", "1157024006"],
        ),
        ("Abdala", "CIGB", &["28531000087107"]),
    ];
    let all_vp = [
        "1119349007",
        "28531000087107",
        "29061000087103",
        "1157024006",
    ];
    for (mp, ma, allowed) in products {
        for vp in all_vp {
            let result = confirmation("Phạm", "Văn Đồng", mp, ma, vp).validate(&sets, NOW);
            if allowed.contains(&vp) {
                assert!(result.is_ok(), "{mp} {vp}: {result:?}");
            } else {
                assert_eq!(
                    result.err().map(|e| (e.field, e.reason)),
                    Some(("vaccination.mp", FieldReason::CombinationNotAllowed)),
                    "{mp} {vp}"
                );
            }
        }
    }
    let deprecated = confirmation(
        "Phạm",
        "Văn Đồng",
        "EU/1/20/1528",
        "ORG-100030215",
        "J07BX03",
    );
    assert_eq!(
        deprecated.validate(&sets, NOW).err().map(|e| e.reason),
        Some(FieldReason::Deprecated)
    );

    // Issued with the real value sets, the certificate passes the verifier's schema check with them.
    let issuer = issuer_for(&test_pki().es256, sets.clone());
    let dose = validated(&pfizer("Nguyễn", "Bảo Duy"), &sets);
    let issued = issuer.issue(&dose, NOW, Uvci::from_bytes([9; 16]));
    assert!(issued.is_ok(), "{issued:?}");
}

/// A certificate we issue with `dsc`, as its `HC1:` text.
fn issued_text(dsc: &TestDsc) -> String {
    let sets = inline_value_sets();
    let dose = validated(&pfizer("Nguyễn", "Bảo Duy"), &sets);
    let issued = issuer_for(dsc, sets).issue(&dose, NOW, Uvci::from_bytes([9; 16]));
    assert!(issued.is_ok(), "{issued:?}");
    issued
        .map(|issued| issued.hc1().to_owned())
        .unwrap_or_default()
}

/// Interoperability: an ES256 certificate we issue verifies with the independent `dgc` crate, given
/// nothing but our published DSC.
#[test]
fn es256_certificates_verify_with_the_dgc_crate() {
    use base64::Engine as _;
    let dsc = &test_pki().es256;
    let text = issued_text(dsc);
    let mut trust = dgc::TrustList::default();
    let der = base64::engine::general_purpose::STANDARD.encode(dsc.certificate.der());
    assert!(trust.add_key_from_certificate(&der).is_ok());
    let validated = dgc::validate(&text, &trust);
    assert!(validated.is_ok(), "dgc cannot decode our certificate");
    let Ok((container, validity)) = validated else {
        return;
    };
    assert!(validity.is_valid(), "dgc: {validity:?}");
    let payload = serde_json::to_value(&container).unwrap_or_default();
    assert!(payload.to_string().contains("NGUYEN"), "{payload}");
}

/// Interoperability: a PS256 certificate we issue (signed by the AWS-LC backend) verifies with the
/// RustCrypto `rsa` crate directly, over a Sig_structure built here from the raw COSE bytes.
#[test]
fn ps256_certificates_verify_with_an_independent_rsa_pss() {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    let dsc = &test_pki().ps256;
    let text = issued_text(dsc);
    let cose = hcert::decode_transport(&text).unwrap_or_default();
    let parsed = hcert::CoseSign1::parse(&cose);
    assert!(parsed.is_ok());
    let Ok(parsed) = parsed else { return };
    assert_eq!(parsed.algorithm(), hcert::Algorithm::Ps256);
    let bstr = |bytes: &[u8]| {
        let mut out = match bytes.len() {
            len @ 0..=23 => vec![0x40 | len as u8],
            len @ 24..=255 => vec![0x58, len as u8],
            len => [vec![0x59], (len as u16).to_be_bytes().to_vec()].concat(),
        };
        out.extend_from_slice(bytes);
        out
    };
    let mut to_be_signed = vec![0x84, 0x6a];
    to_be_signed.extend_from_slice(b"Signature1");
    to_be_signed.extend(bstr(parsed.protected_header()));
    to_be_signed.push(0x40);
    to_be_signed.extend(bstr(parsed.payload()));
    let public = rsa::RsaPublicKey::from_public_key_der(dsc.certificate.spki_der());
    assert!(public.is_ok());
    let Ok(public) = public else { return };
    let key = rsa::pss::VerifyingKey::<sha2::Sha256>::new(public);
    let signature = rsa::pss::Signature::try_from(parsed.signature());
    assert!(signature.is_ok());
    let Ok(signature) = signature else { return };
    assert!(
        key.verify(&to_be_signed, &signature).is_ok(),
        "the rsa crate rejects our PS256 signature"
    );
    let mut tampered = to_be_signed.clone();
    if let Some(last) = tampered.last_mut() {
        *last ^= 1;
    }
    assert!(key.verify(&tampered, &signature).is_err());
}
