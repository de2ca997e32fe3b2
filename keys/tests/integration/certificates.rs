//! Reading certificates: DER, PEM, base64 text; strictness where it matters; signature checks.

use base64::Engine as _;
use keys::test_pki::test_pki;
use keys::{Backend, Certificate, KeyError};
use proptest::prelude::*;

fn der() -> &'static [u8] {
    test_pki().es256.certificate.der()
}

fn pem_of(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
}

#[test]
fn parse_any_reads_der_pem_and_base64() {
    let expected = &test_pki().es256.certificate;
    let base64 = base64::engine::general_purpose::STANDARD.encode(der());
    let wrapped: String = base64
        .as_bytes()
        .chunks(64)
        .map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap()))
        .collect();
    let unpadded = base64.trim_end_matches('=').to_owned();
    let pem_after_text = format!("subject=VN\n{}", pem_of(der()));
    let inputs: [(&str, Vec<u8>); 7] = [
        ("DER", der().to_vec()),
        ("PEM", pem_of(der()).into_bytes()),
        (
            "PEM with surrounding blanks",
            format!("\n\n  {}\n\n", pem_of(der())).into_bytes(),
        ),
        ("base64", base64.clone().into_bytes()),
        ("base64 with blanks", format!(" \n{base64}\n ").into_bytes()),
        ("base64 in lines", wrapped.into_bytes()),
        ("base64 without padding", unpadded.into_bytes()),
    ];
    for (name, input) in &inputs {
        assert_eq!(&Certificate::parse_any(input).unwrap(), expected, "{name}");
    }
    assert_eq!(&Certificate::from_pem(&pem_after_text).unwrap(), expected);
}

#[test]
fn strictness() {
    let with_trailing = [der(), b"\x00"].concat();
    assert!(matches!(
        Certificate::from_der(&with_trailing),
        Err(KeyError::Malformed { .. })
    ));
    assert!(matches!(
        Certificate::from_der(&der()[..der().len() - 1]),
        Err(KeyError::Malformed { .. })
    ));
    assert_eq!(
        Certificate::parse_any(b"not base64 at all!"),
        Err(KeyError::Base64)
    );
    assert_eq!(
        Certificate::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        Err(KeyError::Pem)
    );
    assert_eq!(Certificate::from_pem(""), Err(KeyError::Pem));
}

#[test]
fn a_changed_certificate_no_longer_verifies() {
    let pki = test_pki();
    let mut der = pki.es256.certificate.der().to_vec();
    let name = pki
        .es256
        .certificate
        .subject_common_name()
        .unwrap()
        .as_bytes()
        .to_vec();
    let at = der
        .windows(name.len())
        .position(|window| window == name.as_slice())
        .unwrap();
    der[at] ^= 0x01;
    let forged = Certificate::from_der(&der).unwrap();
    for &backend in Backend::all() {
        assert_eq!(
            forged.verify_issued_by(&pki.csca.certificate, backend),
            Err(KeyError::IssuerSignature)
        );
    }
}

#[test]
fn debug_is_short_and_useful() {
    let printed = format!("{:?}", test_pki().es256.certificate);
    assert!(printed.contains("kid"), "{printed}");
    assert!(printed.len() < 400, "{printed}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Certificate::parse_any(&bytes);
    }

    #[test]
    fn mutated_certificates_parse_or_fail_cleanly(index in 0usize..4096, value in any::<u8>(), cut in 0usize..4096) {
        let mut bytes = der().to_vec();
        let index = index % bytes.len();
        bytes[index] = value;
        if let Ok(certificate) = Certificate::from_der(&bytes) {
            prop_assert_eq!(certificate.der(), bytes.as_slice());
        }
        let _ = Certificate::parse_any(&bytes[..cut % bytes.len()]);
    }
}

/// DER whose last byte is ASCII whitespace must parse as it is (a real DSC's signature ends anywhere):
/// re-sign until the DER ends in each of the bytes `trim_ascii` would strip.
#[test]
fn der_ending_in_a_whitespace_byte_parses() {
    use keys::test_pki::{DscSpec, test_pki};
    let pki = test_pki();
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..4000 {
        let dsc = pki
            .issue_dsc(&DscSpec::new("VN", &format!("DSC {n}")))
            .unwrap();
        let der = dsc.certificate.der();
        let last = *der.last().unwrap();
        if last.is_ascii_whitespace() {
            assert_eq!(
                Certificate::parse_any(der).unwrap().der(),
                der,
                "DER ending in {last:#04x}"
            );
            seen.insert(last);
        }
        if seen.len() >= 2 {
            return;
        }
    }
    panic!("no DER ending in whitespace was generated: {seen:?}");
}
