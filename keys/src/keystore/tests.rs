//! Unit tests of the keystore: round trips, lifecycle, tampering and secrecy.

use std::collections::BTreeMap;

use super::files::pem_text;
use super::files::{CSCA_KEY_FILE, TRUST_LIST_SIGNER_KEY_FILE};
use super::*;
use crate::ceremony::{CSCA_VALIDITY_S, DSC_SIGNING_PERIOD_S, DSC_VALIDITY_S};
use crate::certificate::KeyType;
use crate::usage::DscUsage;

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const SECRET: &str = "correct horse battery staple";
const VALIDITY: i64 = DEFAULT_CERTIFICATE_VALIDITY_S;

fn passphrase() -> Passphrase {
    Passphrase::new(SECRET).unwrap()
}

fn keystore(algorithm: SignatureAlgorithm) -> Keystore {
    Keystore::init_with_kdf(
        "VN",
        algorithm,
        NOW,
        &passphrase(),
        Backend::default(),
        Kdf::MINIMUM,
    )
    .unwrap()
}

fn files(keystore: &Keystore) -> BTreeMap<String, KeystoreFile> {
    keystore
        .to_files()
        .unwrap()
        .into_iter()
        .map(|file| (file.name.clone(), file))
        .collect()
}

fn reload(files: &BTreeMap<String, KeystoreFile>) -> Result<Keystore, KeystoreError> {
    Keystore::from_files(Backend::default(), |name| {
        files.get(name).map(|file| file.contents.clone())
    })
}

#[test]
fn init_round_trips_through_files() {
    let keystore = keystore(SignatureAlgorithm::Es256);
    let files = files(&keystore);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    let stem = keystore.current_dsc().file_stem();
    let mut expected = vec![
        "csca.key.p8".to_owned(),
        "csca.pem".to_owned(),
        format!("{stem}.key.p8"),
        format!("{stem}.pem"),
        "keystore.json".to_owned(),
        "trust-list-signer.key.p8".to_owned(),
        "trust-list-signer.pub.pem".to_owned(),
    ];
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(
        keystore.to_files().unwrap().last().unwrap().name,
        INDEX_FILE
    );
    for file in files.values() {
        let secret = file.name.ends_with(".key.p8");
        assert_eq!(file.kind == FileKind::Secret, secret, "{}", file.name);
    }

    let reloaded = reload(&files).unwrap();
    assert_eq!(reloaded.country(), "VN");
    assert_eq!(reloaded.csca(), keystore.csca());
    assert_eq!(reloaded.kdf(), Kdf::MINIMUM);
    assert_eq!(
        reloaded.trust_list_signer_pin(),
        keystore.trust_list_signer_pin()
    );
    assert_eq!(
        reloaded.current_dsc().certificate(),
        keystore.current_dsc().certificate()
    );
    assert_eq!(reloaded.current_dsc().state(), DscState::Current);
    assert_eq!(reloaded.to_files().unwrap(), keystore.to_files().unwrap());

    let signer = reloaded.current_signer(&passphrase()).unwrap();
    assert_eq!(
        signer.public_key_spki_der(),
        keystore.current_dsc().certificate().spki_der()
    );
    let list_signer = reloaded.trust_list_signer(&passphrase()).unwrap();
    assert_eq!(list_signer.algorithm(), SignatureAlgorithm::Es256);
    assert_eq!(
        spki_pin(&list_signer.public_key_spki_der()),
        keystore.trust_list_signer_pin()
    );
}

#[test]
fn issued_certificates_have_the_expected_facts() {
    let keystore = keystore(SignatureAlgorithm::Es256);
    let csca = keystore.csca();
    assert!(csca.is_ca() && csca.can_sign_certificates());
    assert_eq!(csca.path_len(), Some(0));
    assert_eq!(csca.subject_country(), Some("VN"));
    assert_eq!(csca.key_type(), KeyType::P256);
    assert_eq!(csca.not_after() - csca.not_before(), CSCA_VALIDITY_S);
    let dsc = keystore.current_dsc().certificate();
    assert!(!dsc.is_ca() && dsc.can_sign_documents());
    assert_eq!(dsc.authority_key_id(), csca.subject_key_id());
    assert_eq!(dsc.subject_country(), Some("VN"));
    assert_eq!(
        *dsc.usage(),
        DscUsage::Only {
            test: true,
            vaccination: true,
            recovery: true
        }
    );
    assert_eq!(
        (dsc.not_before(), dsc.not_after()),
        (NOW, NOW + DSC_VALIDITY_S)
    );
    dsc.verify_issued_by(csca, Backend::default()).unwrap();
    assert_eq!(
        keystore.current_dsc().algorithm(),
        SignatureAlgorithm::Es256
    );
    assert_eq!(keystore.rotate_by(VALIDITY), NOW + DSC_SIGNING_PERIOD_S);
    assert_eq!(keystore.csca_signing_ends(), NOW + CSCA_SIGNING_PERIOD_S);
}

#[test]
fn wrong_passphrase_is_refused_without_revealing_it() {
    let keystore = keystore(SignatureAlgorithm::Es256);
    let other = Passphrase::new("not the right passphrase").unwrap();
    for error in [
        keystore.current_signer(&other).unwrap_err(),
        keystore.trust_list_signer(&other).unwrap_err(),
        keystore.csca_signer(&other).unwrap_err(),
    ] {
        assert!(
            matches!(error, KeystoreError::WrongPassphrase { .. }),
            "{error:?}"
        );
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(
                !text.contains("not the right") && !text.contains("horse"),
                "{text}"
            );
        }
    }
    let mut rotated = keystore;
    assert!(matches!(
        rotated.rotate(NOW + 1, &other, SignatureAlgorithm::Es256),
        Err(KeystoreError::WrongPassphrase { .. })
    ));
    assert_eq!(rotated.dscs().count(), 1);
}

#[test]
fn secrets_never_in_debug_output() {
    let keystore = keystore(SignatureAlgorithm::Es256);
    let secret = passphrase();
    assert_eq!(format!("{secret:?}"), "Passphrase([redacted])");
    let signer = keystore.current_signer(&secret).unwrap();
    let pkcs8 = signer.to_pkcs8_der();
    let debug = format!(
        "{keystore:?} {:?} {signer:?} {:?}",
        keystore.to_files().unwrap(),
        keystore.current_dsc()
    );
    assert!(!debug.contains(SECRET));
    assert!(debug.contains("SigningKey { algorithm: ES256, key: [redacted] }"));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&*pkcs8);
    assert!(!debug.contains(&encoded));
    let hex: String = pkcs8.iter().map(|byte| format!("{byte:02x}")).collect();
    assert!(!debug.contains(&hex));
    assert!(!debug.contains(&format!("{:?}", &pkcs8[pkcs8.len() - 16..])));
}

#[test]
fn key_files_are_encrypted_pkcs8() {
    let keystore = keystore(SignatureAlgorithm::Es256);
    let secret = passphrase();
    let signer = keystore.current_signer(&secret).unwrap();
    let plaintext = signer.to_pkcs8_der();
    for file in keystore.to_files().unwrap() {
        let text = String::from_utf8(file.contents.clone()).unwrap();
        assert!(!text.contains("BEGIN PRIVATE KEY"), "{}", file.name);
        assert!(!text.contains("BEGIN EC PRIVATE KEY"), "{}", file.name);
        assert!(!text.contains(SECRET), "{}", file.name);
        assert!(
            !file
                .contents
                .windows(plaintext.len())
                .any(|window| window == plaintext.as_slice())
        );
        if file.kind == FileKind::Secret {
            assert!(
                text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"),
                "{}",
                file.name
            );
            let encrypted = EncryptedKey::from_pem(&text).unwrap();
            assert!(
                !encrypted
                    .der()
                    .windows(plaintext.len())
                    .any(|window| window == plaintext.as_slice())
            );
        }
    }
    // decrypt(encrypt(k)) = k, and two encryptions differ (fresh salt and IV).
    let first = EncryptedKey::encrypt(&signer, &secret, Kdf::MINIMUM).unwrap();
    let second = EncryptedKey::encrypt(&signer, &secret, Kdf::MINIMUM).unwrap();
    assert_ne!(first.der(), second.der());
    for encrypted in [first, second] {
        let round_trip = encrypted
            .decrypt(Backend::default(), &secret, "DSC")
            .unwrap();
        assert_eq!(*round_trip.to_pkcs8_der(), *plaintext);
        assert_eq!(EncryptedKey::from_der(encrypted.der()).unwrap(), encrypted);
    }
}

#[test]
fn rotation_keeps_the_old_dsc_listed_until_its_certificates_expire() {
    let mut keystore = keystore(SignatureAlgorithm::Es256);
    let first = keystore.current_dsc().kid();
    let rotated_at = NOW + DSC_SIGNING_PERIOD_S;
    assert_eq!(keystore.rotation_due(rotated_at - 1, VALIDITY), None);
    assert_eq!(
        keystore.rotation_due(rotated_at, VALIDITY),
        Some(rotated_at)
    );
    assert!(matches!(
        keystore.rotate(NOW - 1, &passphrase(), SignatureAlgorithm::Es256),
        Err(KeystoreError::ClockBeforeCurrentDsc { .. })
    ));
    let second = keystore
        .rotate(rotated_at, &passphrase(), SignatureAlgorithm::Es256)
        .unwrap()
        .kid();
    assert_ne!(first, second);
    let states: Vec<(Kid, DscState)> = keystore
        .dscs()
        .map(|record| (record.kid(), record.state()))
        .collect();
    assert_eq!(
        states,
        [
            (
                first,
                DscState::Retired {
                    retired_at: rotated_at
                }
            ),
            (second, DscState::Current)
        ]
    );
    assert_eq!(
        keystore.rotate_by(VALIDITY),
        rotated_at + DSC_SIGNING_PERIOD_S
    );

    let listed = |at| -> Vec<Kid> {
        keystore
            .listed_dscs(at, VALIDITY)
            .iter()
            .map(|r| r.kid())
            .collect()
    };
    assert_eq!(listed(rotated_at), [first, second]);
    assert_eq!(listed(rotated_at + VALIDITY), [first, second]);
    assert_eq!(listed(rotated_at + VALIDITY + 1), [second]);
    // Capped by notAfter: a validity longer than the DSC's remaining life ends at notAfter.
    let first_record = keystore.dscs().next().unwrap();
    assert_eq!(
        first_record.last_certificate_expiry(10 * DSC_VALIDITY_S),
        NOW + DSC_VALIDITY_S
    );

    // Files round trip with the retired DSC, and the new DSC is issued by the same CSCA.
    let reloaded = reload(&files(&keystore)).unwrap();
    let states: Vec<(Kid, DscState)> = reloaded
        .dscs()
        .map(|record| (record.kid(), record.state()))
        .collect();
    assert_eq!(
        states[0],
        (
            first,
            DscState::Retired {
                retired_at: rotated_at
            }
        )
    );
    assert_eq!(states[1], (second, DscState::Current));
    reloaded
        .current_dsc()
        .certificate()
        .verify_issued_by(reloaded.csca(), Backend::default())
        .unwrap();
    reloaded.current_signer(&passphrase()).unwrap();
}

#[test]
fn rotation_is_due_early_when_the_dsc_would_be_outlived() {
    let mut keystore = keystore(SignatureAlgorithm::Es256);
    // Near the end of the CSCA, the new DSC is cut at the CSCA's notAfter.
    let late = keystore.csca().not_after() - 200 * 86_400;
    let record = keystore
        .rotate(late, &passphrase(), SignatureAlgorithm::Es256)
        .unwrap();
    assert_eq!(record.certificate().not_after(), late + 200 * 86_400);
    assert_eq!(keystore.rotate_by(VALIDITY), late + 200 * 86_400 - VALIDITY);
    assert!(keystore.rotation_due(late, VALIDITY).is_some());
    let expired = keystore.csca().not_after();
    assert!(matches!(
        keystore.rotate(expired, &passphrase(), SignatureAlgorithm::Es256),
        Err(KeystoreError::CscaExpired { .. })
    ));
}

#[test]
fn ps256_on_request() {
    let mut keystore = keystore(SignatureAlgorithm::Ps256);
    let dsc = keystore.current_dsc();
    assert_eq!(dsc.algorithm(), SignatureAlgorithm::Ps256);
    assert_eq!(dsc.certificate().key_type(), KeyType::Rsa { bits: 2048 });
    assert_eq!(keystore.csca().key_type(), KeyType::P256);
    let signer = keystore.current_signer(&passphrase()).unwrap();
    assert_eq!(signer.algorithm(), SignatureAlgorithm::Ps256);
    keystore
        .rotate(NOW + 10, &passphrase(), SignatureAlgorithm::Es256)
        .unwrap();
    let reloaded = reload(&files(&keystore)).unwrap();
    let algorithms: Vec<_> = reloaded.dscs().map(DscRecord::algorithm).collect();
    assert_eq!(
        algorithms,
        [SignatureAlgorithm::Ps256, SignatureAlgorithm::Es256]
    );
    assert!(matches!(
        Keystore::init(
            "VN",
            SignatureAlgorithm::EdDsa,
            NOW,
            &passphrase(),
            Backend::default()
        ),
        Err(KeystoreError::UnsupportedAlgorithm { .. })
    ));
}

#[test]
fn tampered_files_are_refused() {
    let keystore = keystore(SignatureAlgorithm::Es256);
    let files = files(&keystore);
    let with = |name: &str, contents: Vec<u8>| {
        let mut files = files.clone();
        files.get_mut(name).unwrap().contents = contents;
        reload(&files)
    };
    let index = String::from_utf8(files[INDEX_FILE].contents.clone()).unwrap();
    let dsc_name = format!("{}.pem", keystore.current_dsc().file_stem());

    let mut missing = files.clone();
    missing.remove(&dsc_name);
    assert_eq!(
        reload(&missing).unwrap_err(),
        KeystoreError::MissingFile {
            name: dsc_name.clone()
        }
    );
    assert!(matches!(
        with(INDEX_FILE, b"{}".to_vec()),
        Err(KeystoreError::InvalidFile { .. })
    ));
    let traversal = index.replace("\"csca.pem\"", "\"../csca.pem\"");
    assert!(matches!(
        with(INDEX_FILE, traversal.into_bytes()),
        Err(KeystoreError::InvalidFile { .. })
    ));
    let swapped = index.replace("\"current\"", "\"retired\"");
    assert!(matches!(
        with(INDEX_FILE, swapped.into_bytes()),
        Err(KeystoreError::InvalidFile { .. })
    ));
    // A DSC certificate from another CSCA.
    let foreign = Keystore::init_with_kdf(
        "VN",
        SignatureAlgorithm::Es256,
        NOW,
        &passphrase(),
        Backend::default(),
        Kdf::MINIMUM,
    )
    .unwrap();
    let foreign_pem = pem_text("CERTIFICATE", foreign.current_dsc().certificate().der());
    assert!(matches!(
        with(&dsc_name, foreign_pem.into_bytes()),
        Err(KeystoreError::InvalidFile { .. })
    ));
    // A plaintext key in place of an encrypted one.
    let signer = keystore.current_signer(&passphrase()).unwrap();
    let plaintext = pem_text("PRIVATE KEY", &signer.to_pkcs8_der());
    assert!(matches!(
        with(CSCA_KEY_FILE, plaintext.into_bytes()),
        Err(KeystoreError::InvalidFile { .. })
    ));
    // A swapped key file: opens, but is not the certificate's key.
    let mut swapped_keys = files.clone();
    let tls_key = swapped_keys[TRUST_LIST_SIGNER_KEY_FILE].contents.clone();
    swapped_keys.get_mut(CSCA_KEY_FILE).unwrap().contents = tls_key;
    let reloaded = reload(&swapped_keys).unwrap();
    assert!(matches!(
        reloaded.csca_signer(&passphrase()),
        Err(KeystoreError::KeyMismatch { .. })
    ));
}

#[test]
fn kdf_and_passphrase_bounds() {
    assert!(Kdf::scrypt(13, 8, 1).is_err());
    assert!(Kdf::scrypt(21, 8, 1).is_err());
    assert!(Kdf::scrypt(20, 16, 1).is_err());
    assert_eq!(Kdf::scrypt(14, 8, 5).unwrap(), Kdf::RECOMMENDED);
    assert_eq!(Kdf::default(), Kdf::RECOMMENDED);
    assert!(matches!(
        Passphrase::new("short"),
        Err(KeystoreError::WeakPassphrase { min: 12 })
    ));
    let from_file = Passphrase::from_file_contents(format!("{SECRET}\r\n").into_bytes()).unwrap();
    assert_eq!(from_file.as_bytes(), SECRET.as_bytes());
    assert!(matches!(
        Passphrase::from_file_contents(vec![0xff; 20]),
        Err(KeystoreError::PassphraseEncoding)
    ));
}

#[test]
fn pin_is_base64url_sha256_of_spki() {
    assert_eq!(
        spki_pin(b"abc"),
        "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
    );
}
