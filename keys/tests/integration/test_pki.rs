//! The generated test PKI: every certificate reads back as described, and chains to its CSCA only.

use keys::test_pki::{self, DscSpec, Eku, TestDsc, foreign_test_pki, test_pki};
use keys::{Backend, Certificate, DscUsage, KeyError, KeyType, Kid, Signer as _};

const ALL: DscUsage = DscUsage::Only {
    test: true,
    vaccination: true,
    recovery: true,
};

fn check(
    name: &str,
    dsc: &TestDsc,
    country: &str,
    usage: DscUsage,
    key_type: KeyType,
    validity: (i64, i64),
) {
    let pki = test_pki();
    let certificate = &dsc.certificate;
    let reparsed = Certificate::from_der(certificate.der()).unwrap();
    assert_eq!(&reparsed, certificate, "{name}");
    assert_eq!(
        certificate.kid(),
        Kid::of_certificate(certificate.der()),
        "{name}"
    );
    assert_eq!(certificate.subject_country(), Some(country), "{name}");
    assert_eq!(certificate.issuer_country(), Some("VN"), "{name}");
    assert_eq!(certificate.usage(), &usage, "{name}");
    assert_eq!(certificate.key_type(), key_type, "{name}");
    assert_eq!(
        (certificate.not_before(), certificate.not_after()),
        validity,
        "{name}"
    );
    assert_eq!(
        certificate.authority_key_id(),
        pki.csca.certificate.subject_key_id(),
        "{name}"
    );
    assert!(certificate.subject_key_id().is_some(), "{name}");
    assert!(
        !certificate.is_ca()
            && certificate.can_sign_documents()
            && !certificate.can_sign_certificates(),
        "{name}"
    );
    assert!(
        certificate
            .subject_common_name()
            .unwrap()
            .contains("VaxCert Test DSC VN"),
        "{name}"
    );
    assert_eq!(
        dsc.key.public_key_spki_der(),
        certificate.spki_der(),
        "{name}"
    );
}

#[test]
fn dscs_read_back_as_described() {
    let pki = test_pki();
    let normal = (test_pki::DSC_NOT_BEFORE, test_pki::DSC_NOT_AFTER);
    let only = |test, vaccination, recovery| DscUsage::Only {
        test,
        vaccination,
        recovery,
    };
    check("es256", &pki.es256, "VN", ALL, KeyType::P256, normal);
    check(
        "ps256",
        &pki.ps256,
        "VN",
        ALL,
        KeyType::Rsa { bits: 2048 },
        normal,
    );
    check("eddsa", &pki.eddsa, "VN", ALL, KeyType::Ed25519, normal);
    check(
        "es256_no_eku",
        &pki.es256_no_eku,
        "VN",
        DscUsage::Any,
        KeyType::P256,
        normal,
    );
    check(
        "es256_empty_eku",
        &pki.es256_empty_eku,
        "VN",
        DscUsage::Any,
        KeyType::P256,
        normal,
    );
    check(
        "es256_test_only",
        &pki.es256_test_only,
        "VN",
        only(true, false, false),
        KeyType::P256,
        normal,
    );
    check(
        "es256_vaccination_only_old_arc",
        &pki.es256_vaccination_only_old_arc,
        "VN",
        only(false, true, false),
        KeyType::P256,
        normal,
    );
    check(
        "es256_client_auth_only",
        &pki.es256_client_auth_only,
        "VN",
        DscUsage::Any,
        KeyType::P256,
        normal,
    );
    check(
        "es256_expired",
        &pki.es256_expired,
        "VN",
        ALL,
        KeyType::P256,
        (test_pki::EXPIRED_NOT_BEFORE, test_pki::EXPIRED_NOT_AFTER),
    );
    check(
        "es256_not_yet_valid",
        &pki.es256_not_yet_valid,
        "VN",
        ALL,
        KeyType::P256,
        (
            test_pki::NOT_YET_VALID_NOT_BEFORE,
            test_pki::NOT_YET_VALID_NOT_AFTER,
        ),
    );
    check(
        "es256_wrong_country",
        &pki.es256_wrong_country,
        "XX",
        ALL,
        KeyType::P256,
        normal,
    );

    assert_eq!(pki.p384.certificate.key_type(), KeyType::P384);
    assert_eq!(pki.p384.certificate.usage(), &ALL);
    assert_eq!(pki.rsa_1024.key_type(), KeyType::Rsa { bits: 1024 });
    let kids: std::collections::BTreeSet<Kid> = pki
        .dscs()
        .iter()
        .map(|(_, dsc)| dsc.certificate.kid())
        .collect();
    assert_eq!(kids.len(), pki.dscs().len());
}

#[test]
fn csca_reads_back_as_described() {
    let csca = &test_pki().csca.certificate;
    assert_eq!(test_pki().country, "VN");
    assert_eq!(csca.subject_country(), Some("VN"));
    assert_eq!(csca.key_type(), KeyType::P256);
    assert!(csca.is_ca());
    assert_eq!(csca.path_len(), Some(0));
    assert!(csca.can_sign_certificates());
    assert!(!csca.can_sign_documents());
    assert!(csca.subject_key_id().is_some());
    assert_eq!(
        (csca.not_before(), csca.not_after()),
        (test_pki::CSCA_NOT_BEFORE, test_pki::CSCA_NOT_AFTER)
    );
    for &backend in Backend::all() {
        csca.verify_issued_by(csca, backend).unwrap();
    }
}

#[test]
fn every_dsc_chains_to_its_csca_and_no_other() {
    let pki = test_pki();
    let foreign = foreign_test_pki("XX");
    assert_eq!(foreign.country, "XX");
    assert_eq!(foreign.csca.certificate.subject_country(), Some("XX"));
    let mut certificates: Vec<(&str, &Certificate)> = pki
        .dscs()
        .iter()
        .map(|(name, dsc)| (*name, &dsc.certificate))
        .collect();
    certificates.push(("p384", &pki.p384.certificate));
    certificates.push(("rsa_1024", &pki.rsa_1024));
    for &backend in Backend::all() {
        for (name, certificate) in &certificates {
            assert_eq!(
                certificate.verify_issued_by(&pki.csca.certificate, backend),
                Ok(()),
                "{name} / {}",
                backend.name()
            );
            assert_eq!(
                certificate.verify_issued_by(&foreign.csca.certificate, backend),
                Err(KeyError::IssuerSignature),
                "{name} / {}",
                backend.name()
            );
            assert_eq!(
                certificate.verify_issued_by(&pki.es256.certificate, backend),
                Err(KeyError::IssuerSignature),
                "{name} / {}",
                backend.name()
            );
        }
        assert_eq!(
            pki.csca
                .certificate
                .verify_issued_by(&pki.ps256.certificate, backend),
            Err(KeyError::UnsupportedIssuerAlgorithm),
            "ECDSA signature checked with an RSA key"
        );
        assert_eq!(
            pki.csca
                .certificate
                .verify_issued_by(&pki.rsa_1024, backend),
            Err(KeyError::WeakKey { bits: 1024 })
        );
    }
}

#[test]
fn dsc_keys_sign_in_every_backend() {
    let pki = test_pki();
    for (name, dsc) in pki.dscs() {
        for &signer_backend in Backend::all() {
            let signature = dsc
                .signer_for(signer_backend)
                .unwrap()
                .sign(b"payload")
                .unwrap();
            for &backend in Backend::all() {
                let key = backend.verifying_key(&dsc.certificate).unwrap();
                assert_eq!(key.verify(b"payload", &signature), Ok(()), "{name}");
            }
        }
    }
}

#[test]
fn weak_and_unsupported_dsc_keys_are_refused() {
    let pki = test_pki();
    for &backend in Backend::all() {
        assert_eq!(
            backend.verifying_key(&pki.rsa_1024).map(|_| ()),
            Err(KeyError::WeakKey { bits: 1024 })
        );
        assert_eq!(
            backend.verifying_key(&pki.p384.certificate).map(|_| ()),
            Err(KeyError::UnsupportedKey {
                key_type: KeyType::P384
            })
        );
    }
}

#[test]
fn p384_signs_with_p384() {
    use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
    let pki = test_pki();
    let signature = pki.p384.sign(b"payload").unwrap();
    assert_eq!(signature.len(), 96);
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, pki.p384.certificate.spki_der())
        .verify(b"payload", &signature)
        .unwrap();
}

#[test]
fn test_pki_is_generated_once() {
    assert!(std::ptr::eq(test_pki(), test_pki()));
    assert!(std::ptr::eq(test_pki(), foreign_test_pki("VN")));
    assert!(std::ptr::eq(foreign_test_pki("XX"), foreign_test_pki("XX")));
}

#[test]
fn more_dscs_can_be_issued() {
    let pki = test_pki();
    let spec = DscSpec {
        eku: Eku::Oids(vec![
            "1.3.6.1.4.1.0.1847.2021.1.3".to_owned(),
            "1.3.6.1.4.1.1847.2021.1.1".to_owned(),
        ]),
        ..DscSpec::new("VN", "extra")
    };
    let dsc = pki.issue_dsc(&spec).unwrap();
    assert_eq!(
        dsc.certificate.usage(),
        &DscUsage::Only {
            test: true,
            vaccination: false,
            recovery: true
        }
    );
    assert_eq!(dsc.certificate.subject_common_name(), Some("extra"));
    dsc.certificate
        .verify_issued_by(&pki.csca.certificate, Backend::default())
        .unwrap();
}
