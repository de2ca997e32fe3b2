//! The `vaxcert verify` contract (`design.md`): inputs, batch mode, exit codes, and Viet Nam's real certificate;
//! and a closed stdout (`vaxcert … | head`) ending a command quietly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use keys::Signer;
use keys::test_pki::test_pki;
use serde_json::{Value, json};

const VAXCERT: &str = env!("CARGO_BIN_EXE_vaxcert");
/// The validation clock of these tests, inside the test PKI's DSC validity.
const AT: &str = "2023-11-14T22:13:20Z";
const IAT: i64 = 1_699_920_000;
const EXP: i64 = IAT + 365 * 86_400;

fn dcc() -> Value {
    json!({"ver": "1.3.0", "nam": {"fnt": "NGUYEN", "gnt": "BAO<DUY", "fn": "Nguyễn", "gn": "Bảo Duy"},
           "dob": "1983-10-10",
           "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2,
                  "sd": 2, "dt": "2021-09-14", "co": "VN", "is": "Ministry of Health", "ci": "URN:UVCI:01:VN:AB#C"}]})
}

/// A certificate signed by the test PKI's ES256 DSC, and that DSC's PEM in a temporary file.
fn certificate(exp: i64) -> (String, PathBuf) {
    let dsc = &test_pki().es256;
    let claims = hcert::ClaimsBuilder::new("VN", IAT, exp)
        .encode(&dcc())
        .unwrap();
    let kid = dsc.certificate.kid();
    let cose = hcert::sign1(hcert::Algorithm::Es256, kid.as_bytes(), &claims, |tbs| {
        dsc.key.sign(tbs)
    })
    .unwrap();
    let dir = std::env::temp_dir().join(format!("vaxcert-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: the tests run in parallel, and a file rewritten while another test reads it
    // would be read half-written.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pem = dir.join(format!("dsc-{call}.pem"));
    let encoded = pem::encode(&pem::Pem::new(
        "CERTIFICATE",
        dsc.certificate.der().to_vec(),
    ));
    std::fs::write(&pem, encoded).unwrap();
    (hcert::encode_transport(&cose), pem)
}

fn vaxcert(args: &[&str], stdin: Option<&str>) -> Output {
    run(args, stdin.unwrap_or_default(), false)
}

/// Runs the binary with `args` and its stdout a pipe whose reader has gone (`vaxcert … | head` once
/// `head` has left), feeding `stdin` for as long as the binary reads it.
fn with_stdout_closed(args: &[&str], stdin: &str) -> Output {
    run(args, stdin, true)
}

/// Runs the binary with `args` on `stdin`; with `close_stdout`, its stdout's reader leaves at once (and
/// the binary may stop reading stdin early: a failed write to it is then expected).
fn run(args: &[&str], stdin: &str, close_stdout: bool) -> Output {
    let mut child = Command::new(VAXCERT)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if close_stdout {
        drop(child.stdout.take());
    }
    let mut input = child.stdin.take().unwrap();
    let written = input.write_all(stdin.as_bytes());
    assert!(close_stdout || written.is_ok(), "{written:?}");
    drop(input);
    child.wait_with_output().unwrap()
}

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn single_input_exit_codes_and_report() {
    let (valid, dsc) = certificate(EXP);
    let dsc = dsc.to_str().unwrap();
    let output = vaxcert(
        &["verify", "--json", "--at", AT, "--dsc", dsc, &valid],
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let ok = report(&output);
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["code"], "OK");
    assert_eq!(ok["holder"]["gnt"], "BAO<DUY");
    assert_eq!(ok["dcc"], dcc());

    let (expired, _) = certificate(IAT + 10);
    let output = vaxcert(
        &["verify", "--json", "--at", AT, "--dsc", dsc, &expired],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(report(&output)["code"], "E_EXPIRED");

    // An ISO 8601 clock with a basic offset, as some conformance vectors write it.
    let output = vaxcert(
        &[
            "verify",
            "--json",
            "--at",
            "2023-11-15T00:13:20+0200",
            "--dsc",
            dsc,
            &valid,
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0));

    // Human output says the verdict first.
    let output = vaxcert(&["verify", "--at", AT, "--dsc", dsc, &valid], None);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("VALID"));
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(vaxcert(&["verify"], None).status.code(), Some(2));
    assert_eq!(
        vaxcert(&["verify", "--at", "yesterday", "HC1:"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        vaxcert(&["verify", "--dsc", "/nonexistent/dsc.pem", "HC1:"], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn batch_mode_gives_one_report_per_line_in_order() {
    let (valid, dsc) = certificate(EXP);
    let (expired, _) = certificate(IAT + 10);
    let lines = [
        valid.as_str(),
        "HC2:XYZ",
        expired.as_str(),
        "",
        "HC1:GGW",
        "HC1:\u{0}",
    ];
    let mut input = lines.join("\n");
    input.push_str("\n\u{ff}garbage\r\n");
    let output = vaxcert(
        &["verify", "--at", AT, "--dsc", dsc.to_str().unwrap(), "-"],
        Some(&input),
    );
    assert_eq!(output.status.code(), Some(0));
    let codes: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        codes,
        [
            "OK",
            "E_PREFIX",
            "E_EXPIRED",
            "E_PREFIX",
            "E_BASE45",
            "E_BASE45",
            "E_PREFIX"
        ]
    );
}

/// A batch line may name a picture, as the single input may; each report line is byte for byte the
/// report `verify --json` prints for the same input.
#[test]
fn batch_lines_may_be_picture_paths() {
    let (valid, dsc) = certificate(EXP);
    let (expired, _) = certificate(IAT + 10);
    let png = hcert::render_png(&valid, &hcert::RenderOptions::default()).unwrap();
    let picture = dsc.with_extension("png");
    std::fs::write(&picture, png).unwrap();
    let dsc = dsc.to_str().unwrap();
    // The DSC's PEM file exists but is no picture.
    let inputs = [
        valid.as_str(),
        picture.to_str().unwrap(),
        expired.as_str(),
        dsc,
    ];
    let output = vaxcert(
        &["verify", "--at", AT, "--dsc", dsc, "-"],
        Some(&format!("{}\n", inputs.join("\n"))),
    );
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let reports: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let field = |report: &Value, pointer: &str| report.pointer(pointer).unwrap().clone();
    assert_eq!(
        reports
            .iter()
            .map(|r| field(r, "/code"))
            .collect::<Vec<_>>(),
        ["OK", "OK", "E_EXPIRED", "E_IMAGE"]
    );
    assert_eq!(
        reports
            .iter()
            .map(|r| field(r, "/checks/image"))
            .collect::<Vec<_>>(),
        ["n/a", "pass", "n/a", "fail"]
    );
    for (line, input) in lines.iter().zip(inputs) {
        let single = vaxcert(&["verify", "--json", "--at", AT, "--dsc", dsc, input], None);
        assert_eq!(String::from_utf8(single.stdout).unwrap().trim_end(), *line);
    }
}

#[test]
fn library_and_cli_agree_on_codes() {
    let (valid, dsc) = certificate(EXP);
    let tampered = {
        let mut cose = hcert::decode_transport(&valid).unwrap();
        let last = cose.len() - 1;
        cose[last] ^= 1;
        hcert::encode_transport(&cose)
    };
    let inputs = [
        valid.clone(),
        tampered,
        "HC1:::".to_owned(),
        format!("HC1:{}", "A".repeat(5000)),
    ];
    let mut store = verifier::TrustStore::new(keys::Backend::default());
    store.insert(test_pki().es256.certificate.clone());
    let library = verifier::Verifier::new(std::sync::Arc::new(store), None);
    let at =
        time::OffsetDateTime::parse(AT, &time::format_description::well_known::Rfc3339).unwrap();
    for input in inputs {
        let expected = library.verify(
            verifier::Input::Text(&input),
            at,
            verifier::Detail::default(),
        );
        let output = vaxcert(
            &[
                "verify",
                "--json",
                "--at",
                AT,
                "--dsc",
                dsc.to_str().unwrap(),
                &input,
            ],
            None,
        );
        assert_eq!(report(&output)["code"], expected.code.as_str());
    }
}

#[test]
fn pictures_are_decoded_first() {
    let (valid, dsc) = certificate(EXP);
    let png = hcert::render_png(&valid, &hcert::RenderOptions::default()).unwrap();
    let path = dsc.with_extension("png");
    std::fs::write(&path, png).unwrap();
    let output = vaxcert(
        &[
            "verify",
            "--json",
            "--at",
            AT,
            "--dsc",
            dsc.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
        None,
    );
    let report = report(&output);
    assert_eq!(report["code"], "OK");
    assert_eq!(report["checks"]["image"], "pass");
}

/// Viet Nam's real production certificate: PS256, `iss` VN. Without its DSC we cannot verify it, but we
/// decode it from the photo, show its header and, on request, its unverified content.
#[test]
fn viet_nam_real_certificate() {
    let Some(testdata) = vaxcert_tests::testdata_dir() else {
        return;
    };
    let picture = testdata.join("dcc-quality-assurance/VN/1.3.0/VAC_VN.png");
    assert!(picture.is_file(), "missing {}", picture.display());
    let output = vaxcert(
        &[
            "verify",
            "--json",
            "--show-unverified",
            picture.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let report = report(&output);
    assert_eq!(report["code"], "E_KID_UNKNOWN");
    assert_eq!(report["alg"], "PS256");
    assert_eq!(report["checks"]["image"], "pass");
    assert_eq!(report["checks"]["cose"], "pass");
    assert!(
        report["holder"].is_null(),
        "nothing unverified is shown as fact"
    );
    let unverified = &report["unverified"];
    assert_eq!(unverified["iss"], "VN");
    assert!(
        unverified["holder"]["fnt"]
            .as_str()
            .is_some_and(|name| !name.is_empty())
    );
    let ci = unverified["dcc"]["v"][0]["ci"].as_str().unwrap();
    assert!(ci.starts_with("URN:UVCI:01:VN:"), "{ci}");
    assert_eq!(unverified["dcc"]["ver"], "1.3.0");
}

/// A closed stdout stops a command quietly: no panic, nothing on stderr, exit 0; one input's exit code
/// still says whether it is valid.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let data = std::env::temp_dir().join(format!("vaxcert-cli-closed-{}", std::process::id()));
    let data = data.to_str().unwrap();
    let lines = "HC1:GGW\n".repeat(20_000);
    let site_add = [
        "intake",
        "site-add",
        "--data",
        data,
        "--name",
        "Site",
        "--province",
        "01",
        "HN-0001",
    ];
    for (args, stdin, code) in [
        (&["verify", "-"][..], lines.as_str(), 0),
        (&site_add[..], "", 0),
        (&["verify", "--json", "HC1:GGW"][..], "", 1),
        (&["verify", "HC1:GGW"][..], "", 1),
    ] {
        let output = with_stdout_closed(args, stdin);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
        assert_eq!(output.status.code(), Some(code), "{args:?}");
    }
    std::fs::remove_dir_all(data).ok();
}
