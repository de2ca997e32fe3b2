//! The key ceremony and the national trust list, end to end through the binary: `keys init`, `keys rotate`,
//! `trust-list build`, and `verify --trust-list`; certificates signed before and after a rotation verify, and
//! the retired DSC leaves the list once its last certificate has expired.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keys::keystore::{Keystore, Passphrase};
use keys::{Backend, Signer};
use serde_json::{Value, json};

const VAXCERT: &str = env!("CARGO_BIN_EXE_vaxcert");
const PASSPHRASE: &str = "correct horse battery staple";
const DAY: i64 = 86_400;

fn vaxcert(args: &[&str]) -> Output {
    Command::new(VAXCERT)
        .args(args)
        .env("VAXCERT_KEYSTORE_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap()
}

fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vaxcert-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn open(dir: &Path) -> Keystore {
    Keystore::from_files(Backend::default(), |name| {
        std::fs::read(dir.join(name)).ok()
    })
    .unwrap()
}

/// A vaccination certificate signed by the keystore's current DSC, issued at `iat`.
fn issue(dir: &Path, uvci: &str, iat: i64) -> String {
    let keystore = open(dir);
    let signer = keystore
        .current_signer(&Passphrase::new(PASSPHRASE).unwrap())
        .unwrap();
    let dcc = json!({"ver": "1.3.0", "nam": {"fnt": "TRAN", "gnt": "AN"}, "dob": "1990-01-01",
        "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 1,
               "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health", "ci": uvci}]});
    let claims = hcert::ClaimsBuilder::new("VN", iat, iat + 365 * DAY)
        .encode(&dcc)
        .unwrap();
    let kid = keystore.current_dsc().kid();
    let cose = hcert::sign1(hcert::Algorithm::Es256, kid.as_bytes(), &claims, |tbs| {
        signer.sign(tbs)
    })
    .unwrap();
    hcert::encode_transport(&cose)
}

fn rfc3339(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn verify(out: &Path, certificate: &str, at: i64) -> Value {
    let output = vaxcert(&[
        "verify",
        "--json",
        "--at",
        &rfc3339(at),
        "--trust-list",
        out.join("trust-list.jws").to_str().unwrap(),
        "--trust-list-key",
        out.join("trust-list-signer.pub.pem").to_str().unwrap(),
        "--revocation-list",
        out.join("revocation-list.jws").to_str().unwrap(),
        certificate,
    ]);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)))
}

#[test]
fn certificates_signed_before_and_after_a_rotation_verify_until_the_old_dsc_leaves_the_list() {
    let keys = temp_dir("ceremony-keys");
    let out = temp_dir("ceremony-out");
    ok(vaxcert(&[
        "keys",
        "init",
        "--dir",
        keys.to_str().unwrap(),
        "--country",
        "VN",
    ]));
    let start = time::OffsetDateTime::now_utc().unix_timestamp();
    let before = issue(&keys, "URN:UVCI:01:VN:BEFORE#1", start);
    ok(vaxcert(&[
        "keys",
        "rotate",
        "--dir",
        keys.to_str().unwrap(),
    ]));
    // Issued once the new DSC is valid: the shell model refuses a certificate older than its DSC.
    let rotated = open(&keys).current_dsc().certificate().not_before();
    let after = issue(&keys, "URN:UVCI:01:VN:AFTER#2", rotated);

    let build = |at: i64| {
        let at = rfc3339(at);
        let args = [
            "trust-list",
            "build",
            "--keys",
            keys.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--at",
            &at,
        ];
        let output = ok(vaxcert(&args));
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("pin of the trust-list signing key")
        );
    };
    build(rotated);
    for certificate in [&before, &after] {
        let report = verify(&out, certificate, rotated + 60);
        assert_eq!(report["code"], "OK", "{report}");
        assert_eq!(report["checks"]["revocation"], "pass");
        assert_eq!(report["trust_list"]["stale"], false);
    }
    let listed: Value =
        serde_json::from_slice(&std::fs::read(out.join("trust-list-dsc.json")).unwrap()).unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "the retired DSC stays listed"
    );

    // A year and a day later, every certificate the retired DSC signed has expired: it leaves the list.
    let later = rotated + 366 * DAY;
    build(later);
    let listed: Value =
        serde_json::from_slice(&std::fs::read(out.join("trust-list-dsc.json")).unwrap()).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(verify(&out, &before, later)["code"], "E_KID_UNKNOWN");

    // The published list reads with a standard JSON library: a JWS whose payload lists the DSCs.
    let jws: Value =
        serde_json::from_slice(&std::fs::read(out.join("trust-list.jws")).unwrap()).unwrap();
    assert!(
        jws["protected"].is_string() && jws["payload"].is_string() && jws["signature"].is_string()
    );
    std::fs::remove_dir_all(&keys).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn a_list_signed_by_another_key_is_refused() {
    let keys = temp_dir("other-keys");
    let other = temp_dir("other-keys-2");
    let out = temp_dir("other-out");
    let out_other = temp_dir("other-out-2");
    for (dir, out) in [(&keys, &out), (&other, &out_other)] {
        ok(vaxcert(&["keys", "init", "--dir", dir.to_str().unwrap()]));
        ok(vaxcert(&[
            "trust-list",
            "build",
            "--keys",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]));
    }
    let certificate = issue(
        &keys,
        "URN:UVCI:01:VN:X#1",
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    let output = vaxcert(&[
        "verify",
        "--trust-list",
        out.join("trust-list.jws").to_str().unwrap(),
        "--trust-list-key",
        out_other
            .join("trust-list-signer.pub.pem")
            .to_str()
            .unwrap(),
        &certificate,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("refused"));
    for dir in [keys, other, out, out_other] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
