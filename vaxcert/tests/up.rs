//! `vaxcert up` end to end over real HTTP: first run creates the development keys, passphrase, token and
//! SQLite ledger; a dose confirmation is answered with a certificate that `vaxcert verify` accepts against
//! the trust list the running service publishes; `vaxcert revoke` puts it on the revocation list; a
//! restart keeps everything.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use support::{command, http, ok, percent_encode, temp_dir, value_sets};

/// A running `vaxcert up`, killed when dropped.
struct Up {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &Path, value_sets: &Path) -> Up {
    let mut command = command(&[
        "up",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--value-sets",
        value_sets.to_str().unwrap(),
    ]);
    spawn(&mut command)
}

/// Starts `vaxcert up` and reads its startup lines up to "ready".
fn spawn(command: &mut Command) -> Up {
    spawn_logging_to(command, Stdio::null())
}

/// As [`spawn`], the log lines (stderr) going to `logs`.
fn spawn_logging_to(command: &mut Command, logs: Stdio) -> Up {
    let mut child = command.stdout(Stdio::piped()).stderr(logs).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = Vec::new();
    let mut base = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(url) = line.strip_prefix("vaxcert up: listening on ") {
            base = Some(url.to_owned());
        }
        let done = line.starts_with("vaxcert up: ready");
        stdout.push(line);
        if done {
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let base = base.unwrap_or_else(|| panic!("no address printed: {stdout:?}"));
    Up {
        child,
        base,
        stdout,
    }
}

fn post(up: &Up, token: &str, body: &Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/internal/v1/dose-confirmations", up.base))
        .header("Authorization", format!("Bearer {token}"))
        .header("Idempotency-Key", body["dose_event_id"].as_str().unwrap())
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn confirmation(dose_event_id: &str) -> Value {
    json!({
        "dose_event_id": dose_event_id,
        "person": {"fn": "Trần", "gn": "Thị Đào", "dob": "1990-02-03"},
        "vaccination": {"tg": "840539006", "vp": "28531000087107", "mp": "EU/1/21/1529",
                        "ma": "ORG-100001699", "dn": 1, "sd": 2, "dt": "2021-08-01", "co": "VN",
                        "lot_number": "AZ123"},
        "provenance": {"site_code": "HCM-0007", "registry_record_id": "R-2021-000777",
                       "record_hash": "sha256:00"}
    })
}

fn verify(up: &Up, data: &Path, hc1: &str) -> Value {
    let key = data.join("trust-list-signer.pub.pem");
    let output = command(&[
        "verify",
        "--json",
        "--trust-list",
        &format!("{}/trust-list", up.base),
        "--trust-list-key",
        key.to_str().unwrap(),
        "--revocation-list",
        &format!("{}/revocation-list", up.base),
        hc1,
    ])
    .output()
    .unwrap();
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)))
}

/// A newcomer's first run: a fresh directory, no value sets anywhere but the ones built into the binary.
#[test]
fn up_runs_from_an_empty_directory_with_the_built_in_value_sets() {
    let cwd = temp_dir("fresh");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut up = command(&["up", "--listen", "127.0.0.1:0"]);
    up.current_dir(&cwd).env_remove("DCC_SPEC_DIR");
    let up = spawn(&mut up);
    assert!(
        up.stdout.iter().any(|line| line.contains("EU value sets")
            && line.contains("2023-05-05 (built in, eu-dcc-valuesets 60ea3d8)")),
        "{:?}",
        up.stdout
    );
    let data = cwd.join("data");
    let token = std::fs::read_to_string(data.join("internal-api.token")).unwrap();
    let (status, issued) = post(&up, &token, &confirmation("dose-fresh-1"));
    assert_eq!(status, 201, "{issued}");

    let health = http().get(format!("{}/healthz", up.base)).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let health = health.into_body().read_to_string().unwrap();
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["value_sets"]["version"], "2023-05-05", "{health}");
    // Everything `up` runs answers for itself: the verifier's lists and both databases.
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["unhealthy"], json!([]), "{health}");
    assert_eq!(
        health["databases"],
        json!({"ledger": "ok", "intake": "ok"}),
        "{health}"
    );
    for list in ["trust_list", "revocation_list"] {
        assert_eq!(health[list]["loaded"], true, "{health}");
        assert_eq!(health[list]["stale"], false, "{health}");
    }
    assert!(health.get("dsc_lists").is_none(), "{health}");

    // The scanner page shares the port with the issuer's routes.
    let page = http().get(format!("{}/", up.base)).call().unwrap();
    assert!(page.headers().contains_key("content-security-policy"));
    let page = page.into_body().read_to_string().unwrap();
    assert!(page.contains("/scanner.js"), "{page}");
    // What the page verifies on the device with: the published lists and the key they are pinned to, on
    // the same origin.
    let key = http()
        .get(format!("{}/trust-list-signer.pub.pem", up.base))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert_eq!(
        key,
        std::fs::read_to_string(data.join("trust-list-signer.pub.pem")).unwrap()
    );

    // A code outside the value sets is refused by the built-in sets too.
    let mut unknown = confirmation("dose-fresh-2");
    unknown["vaccination"]["mp"] = json!("EU/1/99/9999");
    let (status, problem) = post(&up, &token, &unknown);
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "vaccination.mp");

    let mut verify = command(&[
        "verify",
        "--json",
        "--trust-list",
        &format!("{}/trust-list", up.base),
        "--trust-list-key",
        data.join("trust-list-signer.pub.pem").to_str().unwrap(),
        issued["hc1"].as_str().unwrap(),
    ]);
    let output = verify
        .current_dir(&cwd)
        .env_remove("DCC_SPEC_DIR")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["checks"]["schema"], "pass");
    drop(up);
    std::fs::remove_dir_all(&cwd).unwrap();
}

#[test]
fn up_issues_publishes_revokes_and_survives_a_restart() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("up");
    let up = start(&data, &value_sets);
    assert!(
        up.stdout
            .iter()
            .any(|l| l.contains("created development keys")),
        "{:?}",
        up.stdout
    );

    // First run created the secrets, readable by the owner only.
    for secret in ["DEVELOPMENT-ONLY-keystore-passphrase", "internal-api.token"] {
        let mode = std::fs::metadata(data.join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{secret}");
    }
    assert!(data.join("ledger.sqlite").exists());
    assert!(data.join("keys/keystore.json").exists());
    let token = std::fs::read_to_string(data.join("internal-api.token")).unwrap();

    let body = confirmation("dose-up-1");
    let (status, issued) = post(&up, &token, &body);
    assert_eq!(status, 201, "{issued}");

    // The ledger holds personal data: the data directory is the owner's, the database files too.
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let hc1 = issued["hc1"].as_str().unwrap().to_owned();
    let uvci = issued["uvci"].as_str().unwrap().to_owned();
    let report = verify(&up, &data, &hc1);
    assert_eq!(report["valid"], true, "{report}");
    assert_eq!(report["holder"]["fnt"], "TRAN");
    assert_eq!(report["holder"]["gnt"], "THI<DAO");
    assert_eq!(post(&up, "vxc_wrong", &body).0, 401);

    // Restart: the same keys, the same ledger, the same answer to a replay.
    drop(up);
    let up = start(&data, &value_sets);
    assert!(
        !up.stdout
            .iter()
            .any(|l| l.contains("created development keys"))
    );
    let (status, replay) = post(&up, &token, &body);
    assert_eq!(status, 200);
    assert_eq!(replay, issued);

    // Revoked from the command line while the service runs: the next revocation list carries it.
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
    let report = verify(&up, &data, &hc1);
    assert_eq!(report["valid"], false);
    assert_eq!(report["code"], "E_REVOKED", "{report}");
    let again = command(&[
        "revoke",
        &uvci,
        "--reason",
        "fraud",
        "--data",
        data.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(again.status.code(), Some(1));

    // The published files carry the revocation too (`trust-list build --ledger`).
    let published = data.join("published");
    let built = ok(command(&[
        "trust-list",
        "build",
        "--keys",
        data.join("keys").to_str().unwrap(),
        "--out",
        published.to_str().unwrap(),
        "--ledger",
        &format!("sqlite:{}", data.join("ledger.sqlite").display()),
        "--passphrase-file",
        data.join("DEVELOPMENT-ONLY-keystore-passphrase")
            .to_str()
            .unwrap(),
    ])
    .output()
    .unwrap());
    assert!(String::from_utf8_lossy(&built.stdout).contains("1 revoked certificate(s)"));
    let output = command(&[
        "verify",
        "--json",
        "--trust-list",
        published.join("trust-list.jws").to_str().unwrap(),
        "--trust-list-key",
        published
            .join("trust-list-signer.pub.pem")
            .to_str()
            .unwrap(),
        "--revocation-list",
        published.join("revocation-list.jws").to_str().unwrap(),
        &hc1,
    ])
    .output()
    .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["code"], "E_REVOKED", "{report}");

    // Renewal re-signs what expires within the window: the revoked one is not renewed.
    let (status, second) = post(&up, &token, &confirmation("dose-up-2"));
    assert_eq!(status, 201);
    // A second later, a renewal expires later than the certificate it replaces.
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let renewed = ok(command(&[
        "renew",
        "--expiring-within",
        "400d",
        "--data",
        data.to_str().unwrap(),
        "--value-sets",
        value_sets.to_str().unwrap(),
    ])
    .output()
    .unwrap());
    let text = String::from_utf8_lossy(&renewed.stdout);
    assert!(text.contains("renewed 1 certificate(s)"), "{text}");
    let status = http()
        .get(format!(
            "{}/internal/v1/certificates/{}",
            up.base,
            percent_encode(second["uvci"].as_str().unwrap())
        ))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["status"], "superseded", "{status}");
    assert!(
        status["superseded_by"]
            .as_str()
            .unwrap()
            .starts_with("URN:UVCI:01:VN:")
    );
    drop(up);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn tokens_create_prints_a_token_once_that_the_service_accepts() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("tokens");
    let up = start(&data, &value_sets);
    let created = ok(command(&[
        "tokens",
        "create",
        "national-registry",
        "--scope",
        "issue",
        "--scope",
        "correct",
        "--data",
        data.to_str().unwrap(),
    ])
    .output()
    .unwrap());
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("vxc_"));
    let (status, _) = post(&up, &token, &confirmation("dose-tokens-1"));
    assert_eq!(status, 201);

    // The token is stored hashed: it appears nowhere in the data directory.
    for entry in walk(&data) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{} holds the token",
            entry.display()
        );
    }
    let duplicate = command(&[
        "tokens",
        "create",
        "national-registry",
        "--data",
        data.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(duplicate.status.code(), Some(2));

    // Disabled, the token is refused; the list shows the client without its token.
    ok(command(&[
        "tokens",
        "disable",
        "national-registry",
        "--data",
        data.to_str().unwrap(),
    ])
    .output()
    .unwrap());
    assert_eq!(post(&up, &token, &confirmation("dose-tokens-2")).0, 401);
    let listed = ok(
        command(&["tokens", "list", "--data", data.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed
            .lines()
            .any(|line| line.starts_with("national-registry")
                && line.contains("disabled")
                && line.ends_with("issue,correct")),
        "{listed}"
    );
    assert!(!listed.contains(&token));
    drop(up);
    let _ = std::fs::remove_dir_all(&data);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `POST /v1/verify` on `up`'s port, with an optional bearer token.
fn verify_over_http(up: &Up, token: Option<&str>, hc1: &str) -> (u16, Value) {
    let mut request = http()
        .post(format!("{}/v1/verify", up.base))
        .header("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send(json!({ "hc1": hc1 }).to_string()).unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let text = response.into_body().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn up_verifies_what_it_issued_on_the_same_port() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("up-verify");
    let up = start(&data, &value_sets);
    assert!(
        up.stdout.iter().any(|line| line.contains("verifier")
            && line.contains("POST ")
            && line.contains("/v1/verify")
            && line.contains("verifier-operator.token, created")),
        "{:?}",
        up.stdout
    );
    let operator_file = data.join("verifier-operator.token");
    let mode = std::fs::metadata(&operator_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let operator = std::fs::read_to_string(&operator_file).unwrap();
    let token = std::fs::read_to_string(data.join("internal-api.token")).unwrap();

    let (status, issued) = post(&up, &token, &confirmation("dose-verify-1"));
    assert_eq!(status, 201, "{issued}");
    let hc1 = issued["hc1"].as_str().unwrap();

    // Anyone: the minimal answer, valid, with the holder's names and date of birth.
    let (status, minimal) = verify_over_http(&up, None, hc1);
    assert_eq!(status, 200, "{minimal}");
    assert_eq!(minimal["valid"], true, "{minimal}");
    assert_eq!(minimal["code"], "OK");
    assert_eq!(minimal["type"], "v");
    assert_eq!(minimal["holder"]["fn"], "Trần");
    assert_eq!(minimal["holder"]["gn"], "Thị Đào");
    assert_eq!(minimal["holder"]["fnt"], "TRAN");
    assert_eq!(minimal["holder"]["dob"], "1990-02-03");
    assert!(
        !minimal
            .to_string()
            .contains(issued["uvci"].as_str().unwrap()),
        "no UVCI in the minimal answer: {minimal}"
    );
    assert_eq!(
        minimal.as_object().unwrap().len(),
        5,
        "valid, code, message, type, holder: {minimal}"
    );

    // The operator: the full report, the same as `vaxcert verify` against the published lists.
    let (status, full) = verify_over_http(&up, Some(operator.trim()), hc1);
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["dcc"]["v"][0]["ci"], issued["uvci"], "{full}");
    let cli = verify(&up, &data, hc1);
    for field in ["valid", "code", "kid", "iss", "holder", "dcc", "checks"] {
        assert_eq!(full[field], cli[field], "{field}");
    }
    assert_eq!(verify_over_http(&up, Some("vxc_wrong"), hc1).0, 401);

    // One OpenAPI document for the port: the issuer's routes and the verifier's.
    let openapi: Value = serde_json::from_str(
        &http()
            .get(format!("{}/openapi.json", up.base))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    assert!(openapi["paths"]["/v1/verify"]["post"].is_object());
    assert!(openapi["paths"]["/internal/v1/dose-confirmations"]["post"].is_object());
    // `/healthz` described as `up` answers it, with the list schemas it refers to.
    assert_eq!(
        openapi.pointer("/paths/~1healthz/get/responses/200/content/application~1json/schema/$ref"),
        Some(&json!("#/components/schemas/NodeHealth")),
        "{openapi}"
    );
    for schema in ["NodeHealth", "ListFreshness", "DscListState"] {
        assert!(
            openapi["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }

    // Revoked through the API: the verifier re-reads the re-signed revocation list within seconds.
    let uvci = issued["uvci"].as_str().unwrap().replace('#', "%23");
    let revoked = http()
        .post(format!(
            "{}/internal/v1/certificates/{uvci}/revocation",
            up.base
        ))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(json!({"reason": "fraud"}).to_string())
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, answer) = verify_over_http(&up, None, hc1);
        if answer["code"] == "E_REVOKED" {
            assert_eq!(answer["valid"], false);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still not revoked: {answer}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    drop(up);
    std::fs::remove_dir_all(&data).unwrap();
}

/// The value of the sample line `series` (name and labels exactly) in a Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// Configured by the environment alone (`VAXCERT_DATA`, `VAXCERT_LISTEN`, `VAXCERT_LOG_FORMAT=json`):
/// the log lines are JSON objects without names or UVCIs, and one `/metrics` covers the issuer and the
/// verifier — certificates issued, verifications by code, the published lists' ages.
#[test]
fn up_configured_by_environment_logs_json_and_serves_one_metrics() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("up-ops");
    std::fs::create_dir_all(&data).unwrap();
    let log_path = data.with_extension("log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut command = command(&["up", "--value-sets", value_sets.to_str().unwrap()]);
    command
        .env("VAXCERT_DATA", &data)
        .env("VAXCERT_LISTEN", "127.0.0.1:0")
        .env("VAXCERT_LOG_FORMAT", "json");
    let up = spawn_logging_to(&mut command, Stdio::from(log_file));
    assert!(
        data.join("internal-api.token").exists(),
        "VAXCERT_DATA used"
    );
    let token = std::fs::read_to_string(data.join("internal-api.token")).unwrap();

    let (status, issued) = post(&up, &token, &confirmation("dose-ops-1"));
    assert_eq!(status, 201, "{issued}");
    let uvci = issued["uvci"].as_str().unwrap().to_owned();
    let hc1 = issued["hc1"].as_str().unwrap();
    assert_eq!(post(&up, &token, &confirmation("dose-ops-1")).0, 200);
    assert_eq!(verify_over_http(&up, None, hc1).1["code"], "OK");
    assert_eq!(verify_over_http(&up, None, hc1).1["code"], "OK");
    let (_, broken) = verify_over_http(&up, None, "HC1:NOT-BASE45~~");
    let broken_code = broken["code"].as_str().unwrap().to_owned();
    assert_ne!(broken_code, "OK");

    let metrics = http()
        .get(format!("{}/metrics", up.base))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert_eq!(
        sample(&metrics, "vaxcert_certificates_issued_total"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, r#"vaxcert_verifications_total{code="OK"}"#),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("vaxcert_verifications_total{{code=\"{broken_code}\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    for series in [
        r#"vaxcert_http_requests_total{route="/internal/v1/dose-confirmations",status="201"}"#,
        r#"vaxcert_http_requests_total{route="/v1/verify",status="200"}"#,
        r#"vaxcert_http_request_duration_seconds_count{route="/v1/verify"}"#,
    ] {
        assert!(
            sample(&metrics, series).is_some(),
            "{series} in:\n{metrics}"
        );
    }
    for list in ["trust_list", "revocation_list"] {
        let age = sample(
            &metrics,
            &format!("vaxcert_trust_list_age_seconds{{list=\"{list}\"}}"),
        )
        .unwrap_or_else(|| panic!("{list} age in:\n{metrics}"));
        assert!((0.0..3600.0).contains(&age), "{list}: {age}");
    }
    assert!(!metrics.contains(&uvci) && !metrics.contains("Trần") && !metrics.contains("TRAN"));
    drop(up);

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"))
        })
        .collect();
    assert!(
        lines
            .iter()
            .all(|line| line["level"].is_string() && line["fields"]["message"].is_string()),
        "{logs}"
    );
    let messages: Vec<&str> = lines
        .iter()
        .map(|line| line["fields"]["message"].as_str().unwrap())
        .collect();
    assert!(messages.contains(&"dose confirmation"), "{logs}");
    assert!(
        lines
            .iter()
            .any(|line| line["fields"]["message"] == "verification"
                && line["fields"]["code"] == "OK"),
        "{logs}"
    );
    for personal in [uvci.as_str(), "Trần", "TRAN", "1990-02-03", token.trim()] {
        assert!(!logs.contains(personal), "{personal} in the logs:\n{logs}");
    }
    std::fs::remove_dir_all(&data).unwrap();
    std::fs::remove_file(&log_path).unwrap();
}

#[test]
fn up_lets_a_citizen_log_in_with_the_code_from_the_outbox_and_download_their_certificate() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let data = temp_dir("up-citizen");
    let up = start(&data, &value_sets);
    assert!(up.stdout.iter().any(|line| line.contains("citizen portal")));
    let mode = std::fs::metadata(data.join("citizen-portal.secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(data.join("internal-api.token")).unwrap();
    let mut body = confirmation("up-citizen-dose-1");
    body["person"]["id_number"] = json!("079190001234");
    body["person"]["phone"] = json!("+84901234567");
    let (status, issued) = post(&up, token.trim(), &body);
    assert_eq!(status, 201, "{issued}");

    let agent = http();
    let identity = json!({"id_number": "079190001234", "dob": "1990-02-03"});
    let answer = agent
        .post(format!("{}/citizen/v1/code", up.base))
        .header("Content-Type", "application/json")
        .send(identity.to_string())
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);

    // The development sender appends the message to <data>/outbox/sms.jsonl, off the request path.
    let outbox = data.join("outbox/sms.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let line = loop {
        if let Some(line) = std::fs::read_to_string(&outbox)
            .ok()
            .and_then(|text| text.lines().last().map(str::to_owned))
        {
            break line;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no message in the outbox"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let message: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(message["to"], "+84901234567");
    let code: String = message["text"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 6)
        .unwrap()
        .to_owned();

    let mut login = identity.clone();
    login["code"] = json!(code);
    let answer = agent
        .post(format!("{}/citizen/v1/session", up.base))
        .header("Content-Type", "application/json")
        .send(login.to_string())
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = cookie.split(';').next().unwrap().to_owned();

    let mut list = agent
        .get(format!("{}/citizen/v1/certificates", up.base))
        .header("Cookie", &session)
        .call()
        .unwrap();
    let list: Value = serde_json::from_str(&list.body_mut().read_to_string().unwrap()).unwrap();
    let certificates = list["certificates"].as_array().unwrap();
    assert_eq!(certificates.len(), 1);
    assert_eq!(certificates[0]["uvci"], issued["uvci"]);
    assert_eq!(certificates[0]["vaccination"]["product"], "Vaxzevria");
    let id = certificates[0]["id"].as_str().unwrap();
    let mut png = agent
        .get(format!("{}/citizen/v1/certificates/{id}/qr.png", up.base))
        .header("Cookie", &session)
        .call()
        .unwrap();
    let png = png.body_mut().read_to_vec().unwrap();
    let read = hcert::read_qr(&png, &hcert::ImageLimits::default()).unwrap();
    assert_eq!(read, issued["hc1"].as_str().unwrap());
    let mut pdf = agent
        .get(format!(
            "{}/citizen/v1/certificates/{id}/certificate.pdf",
            up.base
        ))
        .header("Cookie", &session)
        .call()
        .unwrap();
    assert!(pdf.body_mut().read_to_vec().unwrap().starts_with(b"%PDF-"));
    // The picture verifies like any certificate.
    assert_eq!(verify(&up, &data, &read)["valid"], true);
}
