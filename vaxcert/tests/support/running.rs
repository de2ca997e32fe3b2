//! Running services in end-to-end tests: `vaxcert up` and `vaxcert serve …` started on a free port,
//! their output read on threads, requests to them, and certificates of test DSCs.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keys::Signer as _;
use serde_json::{Value, json};

use keys::test_pki::test_pki;
use keys::{Backend, SignatureAlgorithm, SigningKey};
use trust_list::{PinnedKey, TrustListBuilder};

use super::{command, http, temp_dir};

/// How long a refresh (every second in these tests) may take to show.
pub const REFRESH_DEADLINE: Duration = Duration::from_secs(20);

/// A running `vaxcert up` or `vaxcert serve verifier`, killed when dropped.
pub struct Running {
    pub child: Child,
    pub base: String,
    /// Standard output after the `ready` line.
    pub lines: std::sync::mpsc::Receiver<String>,
    /// The log (standard error).
    pub log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` and reads its stdout up to the line starting with `ready`; later lines stay readable.
pub fn spawn(command: &mut Command, listening: &str, ready: &str) -> Running {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = forward(child.stderr.take().unwrap());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut base = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(url) = line.strip_prefix(listening) {
            base = Some(url.to_owned());
        }
        let done = line.starts_with(ready);
        seen.push(line);
        if done {
            break;
        }
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let base = base.unwrap_or_else(|| panic!("no address printed: {seen:?}"));
    Running {
        child,
        base,
        lines: receiver,
        log,
    }
}

/// The lines of `stream`, read on a thread so that the child never blocks on a full pipe.
pub fn forward(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    receiver
}

pub fn start_up(data: &Path, value_sets: &Path) -> Running {
    let mut up = command(&[
        "up",
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--value-sets",
        value_sets.to_str().unwrap(),
    ]);
    spawn(&mut up, "vaxcert up: listening on ", "vaxcert up: ready")
}

pub fn start_verifier(args: &[&str]) -> Running {
    let mut all = vec!["serve", "verifier", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    spawn(
        &mut command(&all),
        "vaxcert serve verifier: listening on ",
        "vaxcert serve verifier: ready",
    )
}

pub fn get(url: &str) -> (u16, Vec<u8>) {
    let mut response = http().get(url).call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_vec().unwrap())
}

pub fn health(verifier: &Running) -> (u16, Value) {
    let (status, body) = get(&format!("{}/healthz", verifier.base));
    (status, serde_json::from_slice(&body).unwrap())
}

pub fn verify(verifier: &Running, hc1: &str) -> Value {
    let response = http()
        .post(format!("{}/v1/verify", verifier.base))
        .header("Content-Type", "application/json")
        .send(json!({ "hc1": hc1 }).to_string())
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap()
}

/// Polls `condition` until it holds or [`REFRESH_DEADLINE`] passes.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < REFRESH_DEADLINE, "never: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A vaccination certificate of `country` issued an hour ago, signed by `dsc`.
pub fn certificate_of(country: &str, dsc: &keys::test_pki::TestDsc) -> String {
    let issued_at = now() - 3600;
    let dcc = json!({"ver": "1.3.0", "nam": {"fnt": "MUSTER", "gnt": "ERIKA"}, "dob": "1980-01-01",
           "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2,
                  "sd": 2, "dt": "2021-09-14", "co": country, "is": "Health ministry", "ci": "URN:UVCI:01:XY:1#A"}]});
    let claims = hcert::ClaimsBuilder::new(country, issued_at, issued_at + 86_400)
        .encode(&dcc)
        .unwrap();
    let cose = hcert::sign1(
        hcert::Algorithm::Es256,
        dsc.certificate.kid().as_bytes(),
        &claims,
        |tbs| dsc.key.sign(tbs),
    )
    .unwrap();
    hcert::encode_transport(&cose)
}

/// A directory holding a trust list of the test PKI's VN DSC and its pin, for `serve verifier`.
pub fn verifier_inputs(name: &str) -> (std::path::PathBuf, String, String) {
    let key = SigningKey::generate(Backend::default(), SignatureAlgorithm::Es256).unwrap();
    let spki = key.public_key_spki_der();
    let mut builder = TrustListBuilder::new("VN").unwrap();
    builder
        .add(test_pki().es256.certificate.clone(), "VN")
        .unwrap();
    let list = builder
        .build(1, now() - 60, now() + 30 * 86_400, &key, &spki)
        .unwrap();
    let dir = temp_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let list_file = dir.join("trust-list.jws");
    std::fs::write(&list_file, list.as_bytes()).unwrap();
    let key_file = dir.join("trust-list-signer.pub.pem");
    std::fs::write(
        &key_file,
        PinnedKey::from_spki_der(Backend::default(), &spki)
            .unwrap()
            .to_pem(),
    )
    .unwrap();
    let list_file = list_file.to_str().unwrap().to_owned();
    let key_file = key_file.to_str().unwrap().to_owned();
    (dir, list_file, key_file)
}

/// A DSC list in the EU gateway shape holding `dsc` of `country`, as `vaxcert trust-list import` writes it.
pub fn gateway_list(country: &str, dsc: &keys::test_pki::TestDsc) -> Vec<u8> {
    let entry = trust_list::GatewayEntry {
        kid: dsc.certificate.kid().to_string(),
        country: country.to_owned(),
        certificate_type: "DSC".to_owned(),
        thumbprint: hex::encode(dsc.certificate.sha256_thumbprint()),
        timestamp: "2024-01-01T00:00:00Z".to_owned(),
        raw_data: base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            dsc.certificate.der(),
        ),
        signature: String::new(),
    };
    trust_list::gateway_to_json(&[entry]).unwrap()
}
