//! `vaxcert serve verifier` end to end: a `vaxcert up` issues a certificate and publishes the lists, a
//! loopback server re-serves them, and the stand-alone verifier pointed at it calls the certificate
//! valid, follows a newer revocation list to E_REVOKED, refuses an older one (no rollback), reports the
//! list versions on `/healthz` and drains on SIGTERM; `/healthz` answers 503 while the trust list is
//! stale (every answer then `E_TRUST_LIST_STALE`) or was never loaded (nothing trusted); with `--dsc-list`,
//! it also trusts the DSCs `vaxcert trust-list import` accepted from a foreign list.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keys::test_pki::test_pki;
use keys::{Backend, SignatureAlgorithm, Signer as _, SigningKey};
use serde_json::{Value, json};
use support::running::{
    certificate_of, eventually, gateway_list, get, health, now, start_up, start_verifier,
    verifier_inputs, verify,
};
use support::{command, http, ok, temp_dir, value_sets};
use trust_list::{PinnedKey, RevocationList, TrustList, TrustListBuilder};

/// The documents a loopback server serves, by path.
type Documents = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// Serves `documents` on a loopback port until the test ends (404 for any other path); its base URL.
fn serve_documents(documents: Documents) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request_line.split(' ').nth(1).unwrap_or_default();
            let answer = match documents.lock().unwrap().get(path) {
                Some(body) => [
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes(),
                    body.clone(),
                ]
                .concat(),
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&answer);
        }
    });
    format!("http://{address}")
}

#[test]
fn serve_verifier_follows_the_lists_and_refuses_a_rollback() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("serve");
    let up = start_up(&data, &value_sets);
    let token = std::fs::read_to_string(data.join("internal-api.token")).unwrap();
    let confirmation = json!({
        "dose_event_id": "dose-serve-1",
        "person": {"fn": "Trần", "gn": "Thị Đào", "dob": "1990-02-03"},
        "vaccination": {"tg": "840539006", "vp": "28531000087107", "mp": "EU/1/21/1529",
                        "ma": "ORG-100001699", "dn": 1, "sd": 2, "dt": "2021-08-01", "co": "VN",
                        "lot_number": "AZ123"},
        "provenance": {"site_code": "HCM-0007", "registry_record_id": "R-2021-000777",
                       "record_hash": "sha256:00"}
    });
    let response = http()
        .post(format!("{}/internal/v1/dose-confirmations", up.base))
        .header("Authorization", format!("Bearer {}", token.trim()))
        .header("Idempotency-Key", "dose-serve-1")
        .header("Content-Type", "application/json")
        .send(confirmation.to_string())
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let issued: Value =
        serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
    let hc1 = issued["hc1"].as_str().unwrap().to_owned();
    let uvci = issued["uvci"].as_str().unwrap().to_owned();

    // The lists `vaxcert up` publishes, re-served by a loopback server the test controls.
    let key_file = data.join("trust-list-signer.pub.pem");
    let pinned = vec![
        PinnedKey::from_pem(
            Backend::default(),
            &std::fs::read_to_string(&key_file).unwrap(),
        )
        .unwrap(),
    ];
    let (status, trust_list) = get(&format!("{}/trust-list", up.base));
    assert_eq!(status, 200);
    let (status, first_revocation) = get(&format!("{}/revocation-list", up.base));
    assert_eq!(status, 200);
    let trust_version = TrustList::verify(&trust_list, &pinned, now())
        .unwrap()
        .version();
    let revocation_version = |bytes: &[u8]| {
        RevocationList::verify(bytes, &pinned, now())
            .unwrap()
            .version()
    };
    let first_version = revocation_version(&first_revocation);
    let documents: Documents = Arc::default();
    let publish = |path: &str, bytes: &[u8]| {
        documents
            .lock()
            .unwrap()
            .insert(path.to_owned(), bytes.to_vec());
    };
    publish("/trust-list", &trust_list);
    publish("/revocation-list", &first_revocation);
    let lists = serve_documents(Arc::clone(&documents));

    let mut verifier = start_verifier(&[
        "--trust-list",
        &format!("{lists}/trust-list"),
        "--trust-list-key",
        key_file.to_str().unwrap(),
        "--revocation-list",
        &format!("{lists}/revocation-list"),
        "--refresh-every",
        "1s",
        "--value-sets",
        value_sets.to_str().unwrap(),
    ]);
    let report = verify(&verifier, &hc1);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["holder"]["fnt"], "TRAN");
    assert!(report.get("uvci").is_none(), "minimal report: {report}");
    let (status, body) = health(&verifier);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["trust_list"]["version"], trust_version, "{body}");
    assert_eq!(body["trust_list"]["stale"], false);
    assert!(body["trust_list"]["age_s"].is_u64(), "{body}");
    assert_eq!(body["revocation_list"]["version"], first_version, "{body}");
    assert!(body["value_sets"]["version"].is_string(), "{body}");
    let (status, openapi) = get(&format!("{}/openapi.json", verifier.base));
    assert_eq!(status, 200);
    let openapi: Value = serde_json::from_slice(&openapi).unwrap();
    assert!(openapi["paths"]["/v1/verify"]["post"].is_object());
    assert!(openapi["paths"]["/healthz"]["get"].is_object());
    assert!(openapi["components"]["schemas"]["VerifierHealth"].is_object());

    // Revoked: versions are seconds, so the newer list is signed at least a second later.
    std::thread::sleep(Duration::from_millis(1_100));
    ok(command(&[
        "revoke",
        &uvci,
        "--reason",
        "issued-in-error",
        "--data",
        data.to_str().unwrap(),
    ])
    .output()
    .unwrap());
    let (status, second_revocation) = get(&format!("{}/revocation-list", up.base));
    assert_eq!(status, 200);
    let second_version = revocation_version(&second_revocation);
    assert!(second_version > first_version);
    publish("/revocation-list", &second_revocation);
    eventually("the verifier follows the newer revocation list", || {
        verify(&verifier, &hc1)["code"] == "E_REVOKED"
    });
    let (status, body) = health(&verifier);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revocation_list"]["version"], second_version, "{body}");

    // `/metrics` of the verifier alone: verifications by code, requests by route, the lists' ages.
    let (status, metrics) = get(&format!("{}/metrics", verifier.base));
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    let has = |prefix: &str| metrics.lines().any(|line| line.starts_with(prefix));
    for series in [
        r#"vaxcert_verifications_total{code="OK"} "#,
        r#"vaxcert_verifications_total{code="E_REVOKED"} "#,
        r#"vaxcert_http_requests_total{route="/v1/verify",status="200"} "#,
        r#"vaxcert_http_requests_total{route="/healthz",status="200"} "#,
        r#"vaxcert_http_request_duration_seconds_count{route="/v1/verify"} "#,
        r#"vaxcert_trust_list_age_seconds{list="trust_list"} "#,
        r#"vaxcert_trust_list_age_seconds{list="revocation_list"} "#,
    ] {
        assert!(has(series), "{series} in:\n{metrics}");
    }
    assert!(!has("vaxcert_certificates_issued_total"), "{metrics}");
    assert!(
        !metrics.contains(&uvci) && !metrics.contains("TRAN"),
        "{metrics}"
    );

    // The older list served again is refused: the certificate stays revoked. The log says so.
    publish("/revocation-list", &first_revocation);
    eventually("the rollback is refused", || {
        verifier
            .log
            .try_iter()
            .any(|line| line.contains("rollback refused"))
    });
    assert_eq!(verify(&verifier, &hc1)["code"], "E_REVOKED");
    let (_, body) = health(&verifier);
    assert_eq!(body["revocation_list"]["version"], second_version, "{body}");

    // SIGTERM drains and exits cleanly.
    let pid = verifier.child.id().to_string();
    ok(Command::new("kill").args(["-TERM", &pid]).output().unwrap());
    let status = verifier.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        verifier
            .lines
            .iter()
            .any(|line| line == "vaxcert serve verifier: stopped")
    );
    drop(up);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn serve_verifier_is_unhealthy_while_the_trust_list_is_stale_or_missing() {
    // A trust list issued a minute ago, in a file.
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let spki = key.public_key_spki_der();
    let mut builder = TrustListBuilder::new("VN").unwrap();
    builder
        .add(test_pki().es256.certificate.clone(), "VN")
        .unwrap();
    let issued_at = now() - 60;
    let list = builder
        .build(7, issued_at, issued_at + 30 * 86_400, &key, &spki)
        .unwrap();
    let dir = temp_dir("serve-stale");
    std::fs::create_dir_all(&dir).unwrap();
    let list_file = dir.join("trust-list.jws");
    std::fs::write(&list_file, list.as_bytes()).unwrap();
    let key_file = dir.join("trust-list-signer.pub.pem");
    let pinned = PinnedKey::from_spki_der(Backend::default(), &spki).unwrap();
    std::fs::write(&key_file, pinned.to_pem()).unwrap();
    let serve = |list: &Path, max_age_hours: &str| {
        start_verifier(&[
            "--trust-list",
            list.to_str().unwrap(),
            "--trust-list-key",
            key_file.to_str().unwrap(),
            "--trust-list-max-age-hours",
            max_age_hours,
        ])
    };

    // A certificate signed by the listed DSC.
    let dsc = &test_pki().es256;
    let dcc = json!({"ver": "1.3.0", "nam": {"fnt": "NGUYEN", "gnt": "BAO<DUY", "fn": "Nguyễn", "gn": "Bảo Duy"},
           "dob": "1983-10-10",
           "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2,
                  "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health", "ci": "URN:UVCI:01:VN:AB#C"}]});
    let claims = hcert::ClaimsBuilder::new("VN", issued_at, issued_at + 86_400)
        .encode(&dcc)
        .unwrap();
    let cose = hcert::sign1(
        hcert::Algorithm::Es256,
        dsc.certificate.kid().as_bytes(),
        &claims,
        |tbs| dsc.key.sign(tbs),
    )
    .unwrap();
    let hc1 = hcert::encode_transport(&cose);

    let fresh = serve(&list_file, "48");
    assert_eq!(verify(&fresh, &hc1)["valid"], true);
    let (status, body) = health(&fresh);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["trust_list"]["version"], 7);
    assert!(
        body["trust_list"]["age_s"].as_u64().unwrap() >= 60,
        "{body}"
    );
    assert!(body.get("revocation_list").is_none(), "{body}");

    // Older than the maximum age (zero hours): stale, and nothing is valid.
    let stale = serve(&list_file, "0");
    let (status, body) = health(&stale);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["trust_list"]["version"], 7);
    assert_eq!(body["trust_list"]["stale"], true, "{body}");
    assert_eq!(verify(&stale, &hc1)["code"], "E_TRUST_LIST_STALE");

    // Never loaded.
    let missing = serve(&dir.join("no-such-list.jws"), "48");
    let (status, body) = health(&missing);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["trust_list"]["loaded"], false, "{body}");
    assert_eq!(verify(&missing, &hc1)["valid"], false, "nothing is trusted");
    drop((fresh, stale, missing));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_verifier_trusts_the_dscs_of_an_imported_foreign_list() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let (dir, list_file, key_file) = verifier_inputs("serve-foreign");

    // A German list in the EU gateway shape, imported under the German CSCA.
    let de = keys::test_pki::foreign_test_pki("DE");
    let gateway = dir.join("de-gateway.json");
    std::fs::write(&gateway, gateway_list("DE", &de.es256)).unwrap();
    let anchors = dir.join("de-anchors.json");
    std::fs::write(
        &anchors,
        trust_list::anchors_to_json(std::slice::from_ref(&de.csca.certificate)).unwrap(),
    )
    .unwrap();
    let imported = dir.join("de-dscs.json");
    ok(command(&[
        "trust-list",
        "import",
        "--from",
        gateway.to_str().unwrap(),
        "--anchors",
        anchors.to_str().unwrap(),
        "--out",
        imported.to_str().unwrap(),
    ])
    .output()
    .unwrap());

    let serve = |extra: &[&str]| {
        let mut args = vec![
            "--trust-list",
            &list_file,
            "--trust-list-key",
            &key_file,
            "--value-sets",
            value_sets.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        start_verifier(&args)
    };
    let german = certificate_of("DE", &de.es256);
    let vietnamese = certificate_of("VN", &test_pki().es256);
    let with_import = serve(&["--dsc-list", imported.to_str().unwrap()]);
    let report = verify(&with_import, &german);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(verify(&with_import, &vietnamese)["valid"], true);
    let without = serve(&[]);
    assert_eq!(verify(&without, &german)["code"], "E_KID_UNKNOWN");
    assert_eq!(verify(&without, &vietnamese)["valid"], true);
    drop((with_import, without));
    let _ = std::fs::remove_dir_all(&dir);
}
