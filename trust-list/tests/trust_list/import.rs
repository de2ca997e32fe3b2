//! adversarial.md, "Trust list ingestion": every DSC must chain directly to a CSCA of its own country.
//! Each case is imported alone and must be rejected with its reason, and never reach the store.

use keys::test_pki::{foreign_test_pki, test_pki};
use keys::{Backend, Certificate, KeyError, KeyType};
use rcgen::{IsCa, KeyUsagePurpose};
use sha2::Digest as _;
use trust_list::{EntryError, ImportEntry, ImportError, TrustStore, import};

use crate::support::{
    BRAINPOOL_P256R1, Ca, NOW, SECT283K1, csca_params, dsc_params, ec_spki, entry, p256_key, vn_ca,
    with_spki,
};

/// Imports `entry` alone against `anchors`: `None` if accepted (and then in the store), else the reason.
fn outcome(entry: &ImportEntry, anchors: &[Certificate]) -> Option<ImportError> {
    let outcome = import(
        std::slice::from_ref(entry),
        anchors,
        NOW,
        Backend::default(),
    );
    let mut store = TrustStore::new(Backend::default());
    outcome.add_to(&mut store);
    match outcome.rejected.first() {
        Some(rejection) => {
            assert!(outcome.accepted.is_empty());
            assert!(store.is_empty(), "a rejected DSC is never listed");
            assert_eq!(rejection.kid, entry.kid);
            assert_eq!(rejection.country, entry.country);
            Some(rejection.reason.clone())
        }
        None => {
            assert_eq!(store.len(), 1);
            None
        }
    }
}

fn check(cases: &[(&str, ImportEntry, Option<ImportError>)], anchors: &[Certificate]) {
    for (name, entry, expected) in cases {
        assert_eq!(&outcome(entry, anchors), expected, "{name}");
    }
}

fn anchors() -> Vec<Certificate> {
    vec![
        test_pki().csca.certificate.clone(),
        foreign_test_pki("XX").csca.certificate.clone(),
    ]
}

#[test]
fn good_dscs_of_each_country_are_accepted() {
    let vn = test_pki();
    let xx = foreign_test_pki("XX");
    check(
        &[
            ("VN ES256", entry(&vn.es256.certificate, "VN"), None),
            (
                "VN PS256 (RSA 2048)",
                entry(&vn.ps256.certificate, "VN"),
                None,
            ),
            (
                "VN empty EKU",
                entry(&vn.es256_empty_eku.certificate, "VN"),
                None,
            ),
            ("XX ES256", entry(&xx.es256.certificate, "XX"), None),
            (
                "not yet valid: kept, the verifier judges validity",
                entry(&vn.es256_not_yet_valid.certificate, "VN"),
                None,
            ),
        ],
        &anchors(),
    );
}

#[test]
fn a_dsc_not_signed_by_a_csca_of_its_own_country_is_rejected() {
    let vn = test_pki();
    let vn_ca = vn_ca();
    // A stranger's CA with the VN CSCA's name and key id: the AKI matches, the signature does not.
    let stranger = Ca::self_signed(
        csca_params("VN", "VaxCert Test CSCA VN"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
    );
    let impostor = stranger.sign_as(&vn_ca, &dsc_params("VN", "impostor"), &p256_key());
    assert_eq!(
        impostor.authority_key_id(),
        vn.csca.certificate.subject_key_id()
    );
    check(
        &[
            (
                "signed by another key under the CSCA's name",
                entry(&impostor, "VN"),
                Some(ImportError::SignatureInvalid),
            ),
            (
                "subject C=XX, issued by the VN CSCA",
                entry(&vn.es256_wrong_country.certificate, "XX"),
                Some(ImportError::IssuedByOtherCountry {
                    csca_country: "VN".into(),
                }),
            ),
            (
                "a VN DSC listed as XX",
                entry(&vn.es256.certificate, "XX"),
                Some(ImportError::CountryMismatch),
            ),
        ],
        &anchors(),
    );
    // Without the CSCA that issued it, nothing names a CSCA of its country.
    check(
        &[(
            "no VN anchor",
            entry(&vn.es256.certificate, "VN"),
            Some(ImportError::NoCscaForCountry),
        )],
        &anchors()[1..],
    );
}

#[test]
fn aki_other_than_the_csca_ski_is_rejected() {
    let vn_ca = vn_ca();
    let forged_aki =
        vn_ca.sign_claiming_aki(&dsc_params("VN", "forged AKI"), &p256_key(), &[0xaa; 20]);
    let mut params = dsc_params("VN", "no AKI");
    params.use_authority_key_identifier_extension = false;
    let no_aki = vn_ca.sign(&params, &p256_key());
    assert_eq!(no_aki.authority_key_id(), None);
    check(
        &[
            (
                "AKI names no CSCA",
                entry(&forged_aki, "VN"),
                Some(ImportError::NoMatchingCsca),
            ),
            (
                "no AKI",
                entry(&no_aki, "VN"),
                Some(ImportError::MissingAuthorityKeyId),
            ),
        ],
        &anchors(),
    );
}

#[test]
fn a_csca_without_ca_or_key_cert_sign_is_no_anchor() {
    let mut not_ca = csca_params("YY", "not a CA");
    not_ca.is_ca = IsCa::ExplicitNoCa;
    let mut no_key_cert_sign = csca_params("YY", "no keyCertSign");
    no_key_cert_sign.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    let mut no_key_usage = csca_params("YY", "no key usage");
    no_key_usage.key_usages = Vec::new();
    for (params, expected) in [
        (not_ca, ImportError::CscaNotCa),
        (no_key_cert_sign, ImportError::CscaWithoutKeyCertSign),
        (no_key_usage, ImportError::CscaWithoutKeyCertSign),
    ] {
        let name = params.distinguished_name.clone();
        let ca = Ca::self_signed(params, &rcgen::PKCS_ECDSA_P256_SHA256);
        let dsc = ca.dsc("YY", "DSC");
        assert_eq!(
            outcome(&entry(&dsc, "YY"), std::slice::from_ref(&ca.certificate)),
            Some(expected),
            "{name:?}"
        );
    }
}

#[test]
fn three_level_chains_are_rejected() {
    let xx = Ca::of(foreign_test_pki("XX"));
    let intermediate = xx.intermediate("XX", "XX intermediate");
    let dsc = intermediate.dsc("XX", "DSC under an intermediate");
    check(
        &[
            (
                "DSC under an intermediate",
                entry(&dsc, "XX"),
                Some(ImportError::NoMatchingCsca),
            ),
            (
                "the intermediate listed as a DSC",
                entry(&intermediate.certificate, "XX"),
                Some(EntryError::DscIsCa.into()),
            ),
        ],
        &anchors(),
    );
    // Even with the intermediate handed over as an anchor: it is not self-signed.
    let with_intermediate = [anchors(), vec![intermediate.certificate.clone()]].concat();
    assert_eq!(
        outcome(&entry(&dsc, "XX"), &with_intermediate),
        Some(ImportError::CscaNotSelfSigned)
    );
}

#[test]
fn dsc_keys_other_than_p256_or_rsa_2048_are_rejected() {
    let vn = test_pki();
    let vn_ca = vn_ca();
    let binary = with_spki(
        &vn_ca.dsc("VN", "binary curve"),
        &ec_spki(SECT283K1, 73),
        Some(&vn.csca.pkcs8),
    );
    let brainpool = with_spki(
        &vn_ca.dsc("VN", "brainpool"),
        &ec_spki(BRAINPOOL_P256R1, 65),
        Some(&vn.csca.pkcs8),
    );
    // The re-signed certificates chain correctly: only their keys are at fault.
    binary
        .verify_issued_by(&vn.csca.certificate, Backend::default())
        .unwrap();
    let key = |key_type| Some(ImportError::Entry(EntryError::DscKey { key_type }));
    check(
        &[
            (
                "P-384",
                entry(&vn.p384.certificate, "VN"),
                key(KeyType::P384),
            ),
            (
                "RSA 1024",
                entry(&vn.rsa_1024, "VN"),
                key(KeyType::Rsa { bits: 1024 }),
            ),
            ("sect283k1", entry(&binary, "VN"), key(KeyType::OtherEc)),
            (
                "brainpoolP256r1",
                entry(&brainpool, "VN"),
                key(KeyType::OtherEc),
            ),
            (
                "Ed25519",
                entry(&vn.eddsa.certificate, "VN"),
                key(KeyType::Ed25519),
            ),
        ],
        &anchors(),
    );
}

#[test]
fn malformed_entries_are_rejected() {
    let vn = test_pki();
    let good = entry(&vn.es256.certificate, "VN");
    let with_der = |der: &[u8]| ImportEntry {
        raw_data: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der),
        thumbprint: hex::encode(sha2::Sha256::digest(der)),
        ..good.clone()
    };
    let der = vn.es256.certificate.der();
    let malformed = Some(ImportError::Entry(EntryError::Certificate(
        KeyError::Malformed {
            what: "certificate",
        },
    )));
    check(
        &[
            ("garbage", with_der(b"not a certificate"), malformed.clone()),
            (
                "truncated DER",
                with_der(&der[..der.len() - 1]),
                malformed.clone(),
            ),
            ("empty", with_der(b""), malformed),
            (
                "trailing bytes",
                with_der(&[der, b"\0"].concat()),
                Some(ImportError::Entry(EntryError::Certificate(
                    KeyError::Malformed {
                        what: "certificate (trailing bytes)",
                    },
                ))),
            ),
            (
                "rawData not base64",
                ImportEntry {
                    raw_data: "%%%".into(),
                    ..good.clone()
                },
                Some(EntryError::RawData.into()),
            ),
            (
                "thumbprint of another certificate",
                ImportEntry {
                    thumbprint: hex::encode(vn.ps256.certificate.sha256_thumbprint()),
                    ..good.clone()
                },
                Some(EntryError::ThumbprintMismatch.into()),
            ),
            (
                "no thumbprint",
                ImportEntry {
                    thumbprint: String::new(),
                    ..good.clone()
                },
                Some(EntryError::Thumbprint.into()),
            ),
            (
                "kid of another certificate",
                ImportEntry {
                    kid: vn.ps256.certificate.kid().to_string(),
                    ..good.clone()
                },
                Some(
                    EntryError::KidMismatch {
                        listed: vn.ps256.certificate.kid(),
                        computed: vn.es256.certificate.kid(),
                    }
                    .into(),
                ),
            ),
            (
                "kid of 7 bytes",
                ImportEntry {
                    kid: "AAAAAAAAAA==".into(),
                    ..good.clone()
                },
                Some(EntryError::Kid.into()),
            ),
            (
                "certificateType CSCA",
                ImportEntry {
                    certificate_type: "CSCA".into(),
                    ..good.clone()
                },
                Some(EntryError::CertificateType.into()),
            ),
            (
                "country vn",
                ImportEntry {
                    country: "vn".into(),
                    ..good.clone()
                },
                Some(EntryError::Country.into()),
            ),
        ],
        &anchors(),
    );
}

#[test]
fn expired_dscs_are_rejected() {
    let vn = test_pki();
    assert_eq!(
        outcome(&entry(&vn.es256_expired.certificate, "VN"), &anchors()),
        Some(ImportError::Expired {
            not_after: keys::test_pki::EXPIRED_NOT_AFTER,
            now: NOW
        })
    );
}

#[test]
fn csca_key_types() {
    let cases: [(&str, Ca, Option<ImportError>); 3] = [
        (
            "P-384 CSCA",
            Ca::self_signed(csca_params("YY", "P-384"), &rcgen::PKCS_ECDSA_P384_SHA384),
            None,
        ),
        (
            "RSA 4096 CSCA",
            Ca::self_signed_with(
                csca_params("YY", "RSA 4096"),
                rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)
                    .unwrap(),
            ),
            None,
        ),
        (
            "Ed25519 CSCA",
            Ca::self_signed(csca_params("YY", "Ed25519"), &rcgen::PKCS_ED25519),
            Some(ImportError::CscaKey {
                key_type: KeyType::Ed25519,
            }),
        ),
    ];
    for (name, ca, expected) in cases {
        let dsc = ca.dsc("YY", name);
        assert_eq!(
            outcome(&entry(&dsc, "YY"), std::slice::from_ref(&ca.certificate)),
            expected,
            "{name}"
        );
    }
    // A brainpool CSCA parses, but no backend here checks brainpool signatures: its DSCs cannot chain.
    let ca = Ca::self_signed(
        csca_params("YY", "brainpool"),
        &rcgen::PKCS_ECDSA_P256_SHA256,
    );
    let dsc = ca.dsc("YY", "under brainpool");
    let brainpool_csca = with_spki(&ca.certificate, &ec_spki(BRAINPOOL_P256R1, 65), None);
    assert_eq!(brainpool_csca.key_type(), KeyType::OtherEc);
    assert_eq!(
        outcome(&entry(&dsc, "YY"), &[brainpool_csca]),
        Some(ImportError::SignatureUnsupported)
    );
}

#[test]
fn one_import_keeps_the_good_and_reports_the_bad() {
    let vn = test_pki();
    let xx = foreign_test_pki("XX");
    let entries = [
        entry(&vn.es256.certificate, "VN"),
        entry(&vn.p384.certificate, "VN"),
        entry(&xx.es256.certificate, "XX"),
        entry(&vn.es256_wrong_country.certificate, "XX"),
        entry(&xx.ps256.certificate, "XX"),
    ];
    let outcome = import(&entries, &anchors(), NOW, Backend::default());
    let accepted: Vec<_> = outcome
        .accepted
        .iter()
        .map(|dsc| dsc.certificate().clone())
        .collect();
    assert_eq!(
        accepted,
        [
            vn.es256.certificate.clone(),
            xx.es256.certificate.clone(),
            xx.ps256.certificate.clone()
        ]
    );
    let rejected: Vec<_> = outcome
        .rejected
        .iter()
        .map(|r| (r.kid.clone(), r.country.clone()))
        .collect();
    assert_eq!(
        rejected,
        [
            (vn.p384.certificate.kid().to_string(), "VN".to_owned()),
            (
                vn.es256_wrong_country.certificate.kid().to_string(),
                "XX".to_owned()
            ),
        ]
    );
    // Rejections print without personal data: a kid, a country and a reason.
    let line = format!("{}", outcome.rejected[0].reason);
    assert_eq!(
        line,
        "DSC key EC P-384 not allowed: P-256 or RSA 2048-8192 only"
    );
}
