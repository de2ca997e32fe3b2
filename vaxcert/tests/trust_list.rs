//! The key ceremony and the national trust list, end to end through the binary: `keys init`, `keys rotate`,
//! `trust-list build`, and `verify --trust-list`; certificates signed before and after a rotation verify, and
//! the retired DSC leaves the list once its last certificate has expired. `trust-list import` of foreign lists
//! (the EU gateway shape built from every real DSC of dgc-testdata, tampered entries, CSCA anchors, our own
//! JWS) and `verify --dsc-list` on what it wrote.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keys::keystore::{Keystore, Passphrase};
use keys::test_pki::{foreign_test_pki, test_pki};
use keys::{Backend, Certificate, KeyType, Signer};
use serde_json::{Value, json};
use trust_list::{GatewayEntry, anchors_to_json, gateway_from_json, gateway_to_json};

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

// ---- `trust-list import`: foreign lists in the EU gateway shape (and our JWS), then `verify --dsc-list`.

/// The gateway entry for `certificate` listed under `country`, as the EU gateway lists it (`signature`
/// left empty: importing never relies on it).
fn gateway_entry(certificate: &Certificate, country: &str) -> GatewayEntry {
    GatewayEntry {
        kid: certificate.kid().to_string(),
        country: country.to_owned(),
        certificate_type: "DSC".to_owned(),
        thumbprint: hex::encode(certificate.sha256_thumbprint()),
        timestamp: "2021-06-01T00:00:00Z".to_owned(),
        raw_data: STANDARD.encode(certificate.der()),
        signature: String::new(),
    }
}

fn write_gateway_list(path: &Path, entries: &[GatewayEntry]) {
    std::fs::write(path, gateway_to_json(entries).unwrap()).unwrap();
}

/// The thumbprints a written gateway list lists, in order.
fn listed_thumbprints(path: &Path) -> Vec<String> {
    gateway_from_json(&std::fs::read(path).unwrap())
        .unwrap()
        .into_iter()
        .map(|entry| entry.thumbprint)
        .collect()
}

/// A real DSC of the corpus: the country folder it came from, the certificate, and the vectors it signed.
struct RealDsc {
    country: String,
    certificate: Certificate,
    vectors: Vec<Value>,
}

/// Every distinct `TESTCTX.CERTIFICATE` of the dgc-testdata country folders (`common/` holds synthetic
/// self-signed certificates without a country, no country's DSCs), keyed by thumbprint.
fn real_dscs(testdata: &Path) -> BTreeMap<String, RealDsc> {
    let root = testdata.join("dgc-testdata");
    let mut dscs: BTreeMap<String, RealDsc> = BTreeMap::new();
    for path in vaxcert_tests::conformance_vectors(testdata) {
        let relative = path.strip_prefix(&root).unwrap();
        let country = relative.iter().next().unwrap().to_str().unwrap().to_owned();
        if country == "common" || !relative.to_string_lossy().contains("2DCode/raw/") {
            continue;
        }
        let vector: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let Some(text) = vector["TESTCTX"]["CERTIFICATE"].as_str() else {
            continue;
        };
        let certificate = Certificate::parse_any(text.as_bytes()).unwrap();
        dscs.entry(hex::encode(certificate.sha256_thumbprint()))
            .or_insert_with(|| RealDsc {
                country,
                certificate,
                vectors: Vec::new(),
            })
            .vectors
            .push(vector);
    }
    dscs
}

/// Why a DSC of the corpus is not a production DSC its country could list, if it is not: the three
/// Spanish test artefacts the EU gateway would not take either.
fn not_a_production_dsc(dsc: &RealDsc) -> Option<&'static str> {
    let certificate = &dsc.certificate;
    if certificate.subject_country() != Some(dsc.country.as_str()) {
        // "My Certificate", a demo certificate of C=US.
        Some("DSC subject C is not the listed country")
    } else if certificate.is_ca() {
        // CSCA_DGC_ES_01: the CSCA itself signed the vectors.
        Some("a DSC must not be a CA")
    } else if certificate.key_type() == KeyType::P384 {
        // ES256 and PS256 only (dgc-testdata known issue 228).
        Some("DSC key EC P-384 not allowed: P-256 or RSA 2048-8192 only")
    } else {
        None
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_real_dsc_of_a_gateway_list_imports_and_verifies_its_certificates() {
    let Some(testdata) = vaxcert_tests::testdata_dir() else {
        return;
    };
    let dscs = real_dscs(&testdata);
    let countries: BTreeSet<&str> = dscs.values().map(|dsc| dsc.country.as_str()).collect();
    assert!(
        dscs.len() >= 15 && countries.len() >= 12,
        "{} DSCs of {countries:?}",
        dscs.len()
    );
    let artefacts: Vec<(&str, &str)> = dscs
        .values()
        .filter_map(|dsc| Some((dsc.country.as_str(), not_a_production_dsc(dsc)?)))
        .collect();
    assert_eq!(artefacts.len(), 3, "{artefacts:?}");
    assert!(artefacts.iter().all(|(country, _)| *country == "ES"));

    let dir = temp_dir("import-real");
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("gateway.json");
    let entries: Vec<GatewayEntry> = dscs
        .values()
        .map(|dsc| gateway_entry(&dsc.certificate, &dsc.country))
        .collect();
    write_gateway_list(&list, &entries);
    // As of the day the first of them expires: expiry is the one check that depends on the clock.
    let at = rfc3339(
        dscs.values()
            .map(|dsc| dsc.certificate.not_after())
            .min()
            .unwrap(),
    );
    let imported = dir.join("imported.json");
    let import = |extra: &[&str]| {
        let mut args = vec![
            "trust-list",
            "import",
            "--from",
            list.to_str().unwrap(),
            "--at",
            &at,
            "--out",
            imported.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        vaxcert(&args)
    };

    // Without anchors, the CSCA check must be waived explicitly.
    let refused = import(&[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--anchors"));
    assert!(!imported.exists());

    let output = ok(import(&["--no-csca-check"]));
    let summary = stdout(&output);
    assert!(
        summary.contains("CSCA check: NONE (--no-csca-check)"),
        "{summary}"
    );
    let production: Vec<&String> = dscs
        .iter()
        .filter(|(_, dsc)| not_a_production_dsc(dsc).is_none())
        .map(|(thumbprint, _)| thumbprint)
        .collect();
    assert!(
        summary.contains(&format!("imported: {}\n", production.len())),
        "{summary}"
    );
    assert!(summary.contains("refused: 3\n"), "{summary}");
    for (country, reason) in &artefacts {
        assert!(
            summary.contains(&format!("  {country}: 1 — {reason}")),
            "{summary}"
        );
    }
    for country in countries {
        let count = dscs
            .values()
            .filter(|dsc| dsc.country == country && not_a_production_dsc(dsc).is_none())
            .count();
        assert!(
            summary.contains(&format!("  {country}: {count}\n")),
            "{country}: {summary}"
        );
    }
    let mut listed = listed_thumbprints(&imported);
    listed.sort();
    assert_eq!(listed.iter().collect::<Vec<_>>(), production);

    // The imported list is what `verify --dsc-list` trusts: every vector its DSCs signed and the EU
    // expects to verify has a good signature (one batch, in corpus order).
    let signed: Vec<&Value> = dscs
        .values()
        .filter(|dsc| not_a_production_dsc(dsc).is_none())
        .flat_map(|dsc| &dsc.vectors)
        .filter(|vector| {
            vector["EXPECTEDRESULTS"]["EXPECTEDVERIFY"] == true && vector["PREFIX"].is_string()
        })
        .collect();
    assert!(signed.len() > 100, "{}", signed.len());
    let input: String = signed
        .iter()
        .map(|vector| format!("{}\n", vector["PREFIX"].as_str().unwrap()))
        .collect();
    let mut child = Command::new(VAXCERT)
        .args(["verify", "--dsc-list", imported.to_str().unwrap(), "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let batch = child.wait_with_output().unwrap();
    assert!(batch.status.success());
    let reports: Vec<Value> = stdout(&batch)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(reports.len(), signed.len());
    for report in &reports {
        assert_eq!(report["checks"]["signature"], "pass", "{report}");
        assert_eq!(report["checks"]["country"], "pass", "{report}");
    }

    // A real AT and a real DE certificate are valid at their VALIDATIONCLOCK, and only with the list.
    for country in ["AT", "DE"] {
        let vector: Value = serde_json::from_slice(
            &std::fs::read(
                testdata
                    .join("dgc-testdata")
                    .join(country)
                    .join("2DCode/raw/1.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let clock = vector["TESTCTX"]["VALIDATIONCLOCK"].as_str().unwrap();
        let prefix = vector["PREFIX"].as_str().unwrap();
        let verify = |extra: &[&str]| {
            let mut args = vec!["verify", "--json", "--at", clock];
            args.extend_from_slice(extra);
            args.push(prefix);
            let output = vaxcert(&args);
            serde_json::from_slice::<Value>(&output.stdout).unwrap()
        };
        let report = verify(&["--dsc-list", imported.to_str().unwrap()]);
        assert_eq!(report["code"], "OK", "{country}: {report}");
        assert_eq!(report["valid"], true);
        assert_eq!(verify(&[])["code"], "E_KID_UNKNOWN", "{country}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tampered_entries_are_refused_with_their_reason() {
    let vn = test_pki();
    let dir = temp_dir("import-tampered");
    std::fs::create_dir_all(&dir).unwrap();
    let good = gateway_entry(&vn.es256.certificate, "VN");
    let other = gateway_entry(&vn.ps256.certificate, "VN");
    let raw_data_changed = GatewayEntry {
        raw_data: other.raw_data.clone(),
        ..good.clone()
    };
    let kid_mismatch = GatewayEntry {
        kid: other.kid.clone(),
        ..good.clone()
    };
    let list = dir.join("gateway.json");
    let out = dir.join("imported.json");
    let import = |entries: &[GatewayEntry]| {
        write_gateway_list(&list, entries);
        vaxcert(&[
            "trust-list",
            "import",
            "--from",
            list.to_str().unwrap(),
            "--no-csca-check",
            "--at",
            "2025-01-01T00:00:00Z",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let summary = stdout(&ok(import(&[
        raw_data_changed.clone(),
        good.clone(),
        kid_mismatch.clone(),
    ])));
    assert!(summary.contains("imported: 1\n  VN: 1\n"), "{summary}");
    assert!(summary.contains("refused: 2\n"), "{summary}");
    assert!(
        summary.contains("VN: 1 — thumbprint does not match the certificate"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "VN: 1 — listed kid {} is not the certificate's kid {}",
            other.kid, good.kid
        )),
        "{summary}"
    );
    assert_eq!(listed_thumbprints(&out), [good.thumbprint]);

    // Nothing acceptable: nothing written, and the exit status says so.
    std::fs::remove_file(&out).unwrap();
    let output = import(&[raw_data_changed, kid_mismatch]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing written"));
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn with_anchors_a_dsc_must_chain_to_a_csca_of_its_own_country() {
    let vn = test_pki();
    let xx = foreign_test_pki("XX");
    let dir = temp_dir("import-anchors");
    let pem_dir = dir.join("cscas");
    std::fs::create_dir_all(&pem_dir).unwrap();
    let anchors = dir.join("anchors.json");
    std::fs::write(
        &anchors,
        anchors_to_json(&[vn.csca.certificate.clone(), xx.csca.certificate.clone()]).unwrap(),
    )
    .unwrap();
    for (name, csca) in [
        ("vn.pem", &vn.csca.certificate),
        ("xx.pem", &xx.csca.certificate),
    ] {
        let text = pem::encode(&pem::Pem::new("CERTIFICATE", csca.der().to_vec()));
        std::fs::write(pem_dir.join(name), text).unwrap();
    }
    let mut entries = vec![
        gateway_entry(&vn.es256.certificate, "VN"),
        gateway_entry(&xx.ps256.certificate, "XX"),
        // Subject C=XX, issued by the VN CSCA.
        gateway_entry(&vn.es256_wrong_country.certificate, "XX"),
    ];
    let real_at = vaxcert_tests::testdata_dir().map(|testdata| {
        let dscs = real_dscs(&testdata);
        let at = dscs.values().find(|dsc| dsc.country == "AT").unwrap();
        at.certificate.clone()
    });
    if let Some(certificate) = &real_at {
        entries.push(gateway_entry(certificate, "AT"));
    }
    let list = dir.join("gateway.json");
    write_gateway_list(&list, &entries);
    let out = dir.join("imported.json");
    for source in [&anchors, &pem_dir] {
        let summary = stdout(&ok(vaxcert(&[
            "trust-list",
            "import",
            "--from",
            list.to_str().unwrap(),
            "--anchors",
            source.to_str().unwrap(),
            "--at",
            "2021-06-15T00:00:00Z",
            "--out",
            out.to_str().unwrap(),
        ])));
        assert!(
            summary.contains(
                "CSCA check: each DSC must chain to a CSCA of its own country (2 anchor(s))"
            ),
            "{summary}"
        );
        assert!(
            summary.contains("imported: 2\n  VN: 1\n  XX: 1\n"),
            "{summary}"
        );
        assert!(
            summary.contains("XX: 1 — DSC issued by the CSCA of VN, not of its own country"),
            "{summary}"
        );
        if real_at.is_some() {
            // The corpus holds no CSCA: the real AT DSC has none to chain to.
            assert!(
                summary.contains("AT: 1 — no CSCA for the DSC's country"),
                "{summary}"
            );
        }
        assert_eq!(
            listed_thumbprints(&out),
            [entries[0].thumbprint.clone(), entries[1].thumbprint.clone()]
        );
    }
    let conflicting = vaxcert(&[
        "trust-list",
        "import",
        "--from",
        list.to_str().unwrap(),
        "--anchors",
        anchors.to_str().unwrap(),
        "--no-csca-check",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(conflicting.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn our_own_published_lists_import_under_our_csca_and_verify() {
    let keys = temp_dir("import-own-keys");
    let out = temp_dir("import-own-out");
    ok(vaxcert(&[
        "keys",
        "init",
        "--dir",
        keys.to_str().unwrap(),
        "--country",
        "VN",
    ]));
    ok(vaxcert(&[
        "trust-list",
        "build",
        "--keys",
        keys.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let certificate = issue(&keys, "URN:UVCI:01:VN:IMPORT#1", now);
    let dsc = hex::encode(open(&keys).current_dsc().certificate().sha256_thumbprint());
    let anchors = out.join("anchors.json");
    let pin = out.join("trust-list-signer.pub.pem");
    // The JWS (format sniffed, signature checked under the pin) and the gateway view, both under our CSCA.
    for (name, format) in [
        ("trust-list.jws", None),
        ("trust-list-dsc.json", Some("gateway")),
    ] {
        let imported = out.join(format!("imported-{name}"));
        let from = out.join(name);
        let mut args = vec![
            "trust-list",
            "import",
            "--from",
            from.to_str().unwrap(),
            "--anchors",
            anchors.to_str().unwrap(),
            "--trust-list-key",
            pin.to_str().unwrap(),
            "--out",
            imported.to_str().unwrap(),
        ];
        if let Some(format) = format {
            args.extend(["--format", format]);
        }
        let summary = stdout(&ok(vaxcert(&args)));
        assert!(summary.contains("imported: 1\n  VN: 1\n"), "{summary}");
        assert_eq!(listed_thumbprints(&imported), std::slice::from_ref(&dsc));
        let output = vaxcert(&[
            "verify",
            "--json",
            "--dsc-list",
            imported.to_str().unwrap(),
            &certificate,
        ]);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["code"], "OK", "{report}");
    }
    // A JWS under another key is refused before any DSC is looked at.
    let other = temp_dir("import-own-other");
    ok(vaxcert(&["keys", "init", "--dir", other.to_str().unwrap()]));
    let other_out = other.join("out");
    ok(vaxcert(&[
        "trust-list",
        "build",
        "--keys",
        other.to_str().unwrap(),
        "--out",
        other_out.to_str().unwrap(),
    ]));
    let refused = vaxcert(&[
        "trust-list",
        "import",
        "--from",
        out.join("trust-list.jws").to_str().unwrap(),
        "--no-csca-check",
        "--trust-list-key",
        other_out
            .join("trust-list-signer.pub.pem")
            .to_str()
            .unwrap(),
        "--out",
        out.join("never.json").to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("was refused"));
    for dir in [keys, out, other] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}
