//! The production services end to end: `vaxcert serve issuer` issues and revokes over the internal API on
//! a keystore and ledger made beforehand (and refuses to start, naming the command to run, when one is
//! missing); `vaxcert serve trust-list` on the same data directory publishes lists that `vaxcert verify`
//! accepts for that certificate, and re-signs the revocation list when it is revoked; a `serve verifier`
//! started from a configuration file follows a rewritten `--dsc-list` file; the configuration file is
//! below the environment, which is below the flags, and an unknown key is an error naming it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::process::Command;

use keys::test_pki::{foreign_test_pki, test_pki};
use serde_json::{Value, json};
use support::running::{
    Running, certificate_of, eventually, gateway_list, get, health, spawn, verifier_inputs, verify,
};
use support::{command, http, ok, percent_encode, temp_dir, value_sets};

const PASSPHRASE: &str = "correct horse battery staple";

/// `vaxcert` with the production passphrase in its environment.
fn with_passphrase(args: &[&str]) -> Command {
    let mut command = command(args);
    command.env("VAXCERT_KEYSTORE_PASSPHRASE", PASSPHRASE);
    command
}

/// `command` on the ledger at `database_url` (else the data directory's SQLite file).
fn on_ledger(mut command: Command, database_url: Option<&str>) -> Command {
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

/// The standard error of a command that must have failed with exit code 2.
fn refused(mut command: Command) -> String {
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

fn start_service(args: &[&str], service: &str, database_url: Option<&str>) -> Running {
    spawn(
        &mut on_ledger(with_passphrase(args), database_url),
        &format!("vaxcert serve {service}: listening on "),
        &format!("vaxcert serve {service}: ready"),
    )
}

fn openapi_paths(base: &str) -> Vec<String> {
    let (status, body) = get(&format!("{base}/openapi.json"));
    assert_eq!(status, 200);
    let document: Value = serde_json::from_slice(&body).unwrap();
    document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn serve_issuer_issues_and_serve_trust_list_publishes_what_verify_accepts() {
    issue_and_publish(None);
}

#[test]
fn serve_issuer_and_serve_trust_list_share_a_postgres_ledger() {
    let Some(database_url) = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "DATABASE_URL must be set in CI"
        );
        eprintln!("skipped: DATABASE_URL is not set");
        return;
    };
    issue_and_publish(Some(&database_url));
}

/// `serve issuer` and `serve trust-list` on one data directory and the ledger at `database_url` (else
/// SQLite): issued, published, verified, revoked.
fn issue_and_publish(database_url: Option<&str>) {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("serve-issuer");
    let data_arg = data.to_str().unwrap();
    let keys_dir = data.join("keys");
    let serve_issuer = [
        "serve",
        "issuer",
        "--data",
        data_arg,
        "--listen",
        "127.0.0.1:0",
        "--value-sets",
        value_sets.to_str().unwrap(),
    ];

    // Nothing is created: each missing piece names the command that makes it.
    assert!(refused(with_passphrase(&serve_issuer)).contains("vaxcert keys init"));
    std::fs::create_dir_all(&data).unwrap();
    ok(with_passphrase(&[
        "keys",
        "init",
        "--dir",
        keys_dir.to_str().unwrap(),
        "--country",
        "VN",
    ])
    .output()
    .unwrap());
    assert!(refused(command(&serve_issuer)).contains("VAXCERT_KEYSTORE_PASSPHRASE"));
    assert!(
        refused(on_ledger(with_passphrase(&serve_issuer), database_url))
            .contains("vaxcert tokens create")
    );
    assert!(!data.join("ledger.sqlite").exists(), "no ledger created");
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).unwrap();
    let client = format!("national-registry-{}", hex::encode(suffix));
    let dose_event_id = format!("dose-serve-issuer-{}", hex::encode(suffix));
    let token = ok(on_ledger(
        command(&[
            "tokens", "create", &client, "--scope", "issue", "--scope", "read", "--scope",
            "revoke", "--data", data_arg,
        ]),
        database_url,
    )
    .output()
    .unwrap());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let mut issuer = start_service(&serve_issuer, "issuer", database_url);
    assert!(!data.join("internal-api.token").exists());
    assert!(!data.join("DEVELOPMENT-ONLY-keystore-passphrase").exists());

    // Issued through the internal API.
    let confirmation = json!({
        "dose_event_id": dose_event_id,
        "person": {"fn": "Trần", "gn": "Thị Đào", "dob": "1990-02-03"},
        "vaccination": {"tg": "840539006", "vp": "28531000087107", "mp": "EU/1/21/1529",
                        "ma": "ORG-100001699", "dn": 1, "sd": 2, "dt": "2021-08-01", "co": "VN",
                        "lot_number": "AZ123"},
        "provenance": {"site_code": "HCM-0007", "registry_record_id": "R-2021-000778",
                       "record_hash": "sha256:00"}
    });
    let response = http()
        .post(format!("{}/internal/v1/dose-confirmations", issuer.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("Idempotency-Key", &dose_event_id)
        .header("Content-Type", "application/json")
        .send(confirmation.to_string())
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let issued: Value =
        serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
    let hc1 = issued["hc1"].as_str().unwrap().to_owned();
    let uvci = issued["uvci"].as_str().unwrap().to_owned();

    // Health, metrics and an OpenAPI document of the routes it serves, and no others.
    let (status, body) = get(&format!("{}/healthz", issuer.base));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, metrics) = get(&format!("{}/metrics", issuer.base));
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(
        metrics.contains("vaxcert_certificates_issued_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"vaxcert_http_requests_total{route="/internal/v1/dose-confirmations",status="201"} 1"#
        ),
        "{metrics}"
    );
    let paths = openapi_paths(&issuer.base);
    assert!(paths.contains(&"/internal/v1/dose-confirmations".to_owned()));
    assert!(paths.contains(&"/healthz".to_owned()));
    assert!(!paths.contains(&"/trust-list".to_owned()), "{paths:?}");
    assert_eq!(get(&format!("{}/trust-list", issuer.base)).0, 404);
    assert_eq!(get(&format!("{}/v1/verify", issuer.base)).0, 404);

    // The published documents, from another process on the same data directory.
    let lists = start_service(
        &[
            "serve",
            "trust-list",
            "--data",
            data_arg,
            "--listen",
            "127.0.0.1:0",
        ],
        "trust-list",
        database_url,
    );
    let response = http()
        .get(format!("{}/trust-list", lists.base))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let not_modified = http()
        .get(format!("{}/trust-list", lists.base))
        .header("If-None-Match", &etag)
        .call()
        .unwrap();
    assert_eq!(not_modified.status().as_u16(), 304);
    for path in ["/trust-list/dsc", "/trust-list/anchors", "/revocation-list"] {
        assert_eq!(get(&format!("{}{path}", lists.base)).0, 200, "{path}");
    }
    assert_eq!(health(&lists).0, 200);
    let paths = openapi_paths(&lists.base);
    assert!(paths.contains(&"/revocation-list".to_owned()));
    assert!(
        !paths.contains(&"/internal/v1/dose-confirmations".to_owned()),
        "{paths:?}"
    );
    assert_eq!(
        get(&format!("{}/internal/v1/certificates/x", lists.base)).0,
        404
    );
    let (_, metrics) = get(&format!("{}/metrics", lists.base));
    assert!(
        String::from_utf8(metrics)
            .unwrap()
            .contains(r#"vaxcert_http_requests_total{route="/trust-list",status="304"} 1"#)
    );

    // `vaxcert verify` accepts the certificate under the lists served, pinned out of band.
    let published = data.join("published");
    ok(with_passphrase(&[
        "trust-list",
        "build",
        "--keys",
        keys_dir.to_str().unwrap(),
        "--out",
        published.to_str().unwrap(),
    ])
    .output()
    .unwrap());
    let pin = published.join("trust-list-signer.pub.pem");
    let verify_cli = |hc1: &str| {
        let output = command(&[
            "verify",
            "--json",
            "--trust-list",
            &format!("{}/trust-list", lists.base),
            "--trust-list-key",
            pin.to_str().unwrap(),
            "--revocation-list",
            &format!("{}/revocation-list", lists.base),
            "--value-sets",
            value_sets.to_str().unwrap(),
            hc1,
        ])
        .output()
        .unwrap();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        (output.status.code(), report)
    };
    let (code, report) = verify_cli(&hc1);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["code"], "OK");

    // Revoked through the issuer: the trust-list service re-signs its revocation list.
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let revoked = http()
        .post(format!(
            "{}/internal/v1/certificates/{}/revocation",
            issuer.base,
            percent_encode(&uvci)
        ))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(json!({"reason": "fraud"}).to_string())
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    let (code, report) = verify_cli(&hc1);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["code"], "E_REVOKED");

    // SIGTERM drains and exits cleanly.
    let pid = issuer.child.id().to_string();
    ok(Command::new("kill").args(["-TERM", &pid]).output().unwrap());
    assert!(issuer.child.wait().unwrap().success());
    assert!(
        issuer
            .lines
            .iter()
            .any(|line| line == "vaxcert serve issuer: stopped")
    );
    drop(lists);
    let _ = std::fs::remove_dir_all(&data);
}

fn start_verifier_with(command: &mut Command) -> Running {
    spawn(
        command,
        "vaxcert serve verifier: listening on ",
        "vaxcert serve verifier: ready",
    )
}

#[test]
fn serve_verifier_from_a_config_file_follows_a_rewritten_dsc_list() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let (dir, list_file, key_file) = verifier_inputs("serve-dsc-refresh");
    let dsc_list = dir.join("foreign-dscs.json");
    let config = dir.join("verifier.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ntrust_list = {list_file:?}\ntrust_list_key = {key_file:?}\n\
             dsc_list = [{:?}]\nrefresh_every = \"1s\"\nvalue_sets = {:?}\nlog_format = \"json\"\n",
            dsc_list.to_str().unwrap(),
            value_sets.to_str().unwrap()
        ),
    )
    .unwrap();
    let verifier = start_verifier_with(&mut command(&[
        "serve",
        "verifier",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert!(
        !verifier.base.ends_with(":8081"),
        "the file's listen address: {}",
        verifier.base
    );

    // The foreign list is not there yet: foreign certificates are unknown, domestic ones valid.
    let de = foreign_test_pki("DE");
    let german = certificate_of("DE", &de.es256);
    let vietnamese = certificate_of("VN", &test_pki().es256);
    assert_eq!(verify(&verifier, &german)["code"], "E_KID_UNKNOWN");
    assert_eq!(verify(&verifier, &vietnamese)["valid"], true);
    let (status, body) = health(&verifier);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["dsc_lists"][0]["loaded"], false, "{body}");

    // Written: picked up by the next refresh.
    std::fs::write(&dsc_list, gateway_list("DE", &de.es256)).unwrap();
    eventually("the verifier trusts the rewritten DSC list", || {
        verify(&verifier, &german)["valid"] == true
    });
    let (status, body) = health(&verifier);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dsc_lists"][0]["loaded"], true, "{body}");
    assert_eq!(body["dsc_lists"][0]["count"], 1, "{body}");
    assert!(body["dsc_lists"][0]["age_s"].is_u64(), "{body}");

    // A broken rewrite is logged (as JSON, from the file's log_format) and the last good list kept.
    std::fs::write(&dsc_list, b"[{\"kid\": 1}]").unwrap();
    eventually("the broken list is refused", || {
        verifier.log.try_iter().any(|line| {
            line.contains("DSC list refused") && serde_json::from_str::<Value>(&line).is_ok()
        })
    });
    assert_eq!(verify(&verifier, &german)["valid"], true);
    assert_eq!(health(&verifier).0, 200);
    drop(verifier);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_file_is_below_the_environment_below_the_flags_and_knows_its_keys() {
    let (dir, list_file, key_file) = verifier_inputs("serve-config");
    let config = dir.join("verifier.toml");
    let write_config = |listen: &str| {
        std::fs::write(
            &config,
            format!(
                "listen = {listen:?}\ntrust_list = {list_file:?}\ntrust_list_key = {key_file:?}\n"
            ),
        )
        .unwrap();
    };
    let config_arg = config.to_str().unwrap();

    // An unknown key is an error naming it; so is a bad value from the file, when the file is used.
    std::fs::write(&config, "listne = \"127.0.0.1:0\"\n").unwrap();
    let message = refused(command(&["serve", "verifier", "--config", config_arg]));
    assert!(message.contains("unknown key `listne`"), "{message}");
    write_config("not an address");
    let message = refused(command(&["serve", "verifier", "--config", config_arg]));
    assert!(message.contains("not an address"), "{message}");

    // The environment wins over the file ($VAXCERT_CONFIG names it).
    let mut from_env = command(&["serve", "verifier"]);
    from_env
        .env("VAXCERT_CONFIG", config_arg)
        .env("VAXCERT_LISTEN", "127.0.0.1:0");
    let env_wins = start_verifier_with(&mut from_env);
    assert_eq!(health(&env_wins).1["trust_list"]["loaded"], true);

    // The flag wins over the environment and the file.
    let mut from_flag = command(&[
        "serve",
        "verifier",
        "--config",
        config_arg,
        "--listen",
        "127.0.0.1:0",
    ]);
    from_flag.env("VAXCERT_LISTEN", "not an address either");
    let flag_wins = start_verifier_with(&mut from_flag);
    assert_eq!(health(&flag_wins).1["trust_list"]["loaded"], true);
    drop((env_wins, flag_wins));

    // Secrets never come from the file itself.
    std::fs::write(&config, "operator_token = \"s3cret-token\"\n").unwrap();
    let message = refused(command(&["serve", "verifier", "--config", config_arg]));
    assert!(message.contains("`operator_token`"), "{message}");
    assert!(!message.contains("s3cret-token"), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn up_trusts_a_refreshed_foreign_dsc_list() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("up-dsc-list");
    std::fs::create_dir_all(&data).unwrap();
    let dsc_list = data.join("foreign-dscs.json");
    let up = spawn(
        &mut command(&[
            "up",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--value-sets",
            value_sets.to_str().unwrap(),
            "--dsc-list",
            dsc_list.to_str().unwrap(),
            "--refresh-every",
            "1s",
        ]),
        "vaxcert up: listening on ",
        "vaxcert up: ready",
    );
    let de = foreign_test_pki("DE");
    let german = certificate_of("DE", &de.es256);
    assert_eq!(verify(&up, &german)["code"], "E_KID_UNKNOWN");
    // A configured list never loaded makes `up`'s /healthz 503, naming it (and nothing else).
    let (status, body) = health(&up);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["unhealthy"], json!(["dsc_lists"]), "{body}");
    assert_eq!(body["dsc_lists"][0]["loaded"], false, "{body}");
    std::fs::write(&dsc_list, gateway_list("DE", &de.es256)).unwrap();
    eventually("up trusts the imported DSC list", || {
        verify(&up, &german)["valid"] == true
    });
    eventually("up's /healthz sees the DSC list loaded", || {
        health(&up).0 == 200
    });
    assert_eq!(health(&up).1["dsc_lists"][0]["count"], 1);
    drop(up);
    let _ = std::fs::remove_dir_all(&data);
}
