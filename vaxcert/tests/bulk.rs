//! `vaxcert issue --from`: bulk issuance through the real binary. Counts and exit codes, reports that
//! name lines and fields but never a person's data, idempotent re-runs (same body: already issued; other
//! body: conflict), certificates that verify against the trust list the keys publish, and durability:
//! `kill -9` in the middle of a run leaves every certificate handed out with its ledger row, no UVCI twice,
//! an intact database, and a re-run that finishes the job with each dose event handed out once.
//!
//! Needs the EU value sets (`DCC_SPEC_DIR`): skipped with a message without them, a failure under CI. The
//! PostgreSQL variant runs when `DATABASE_URL` is set (in a fresh schema of its own).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use issuer::ledger::Ledger;
use serde_json::{Value, json};
use sqlx::Connection as _;

const VAXCERT: &str = env!("CARGO_BIN_EXE_vaxcert");

/// The EU value sets, or `None` (with a message) when `DCC_SPEC_DIR` is unset; a failure in CI.
fn value_sets() -> Option<PathBuf> {
    let Some(spec) = std::env::var_os("DCC_SPEC_DIR") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "DCC_SPEC_DIR must be set in CI"
        );
        eprintln!("skipped: DCC_SPEC_DIR is not set");
        return None;
    };
    Some(PathBuf::from(spec).join("eu-dcc-valuesets"))
}

/// A new directory of this test's own (the tests run in parallel).
fn temp_dir(name: &str) -> PathBuf {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let dir = std::env::temp_dir().join(format!("vaxcert-bulk-{name}-{}", hex::encode(bytes)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where a test's installation lives: its data directory and, for PostgreSQL, its ledger URL.
struct Node {
    dir: PathBuf,
    value_sets: PathBuf,
    database_url: Option<String>,
}

impl Node {
    fn new(name: &str, value_sets: PathBuf) -> Node {
        Node {
            dir: temp_dir(name),
            value_sets,
            database_url: None,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    /// `vaxcert issue` with this node's options, the SQLite ledger of the data directory unless a
    /// database URL is set, and the development passphrase `issue` creates on first use.
    fn issue_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(VAXCERT);
        command
            .arg("issue")
            .args(args)
            .args(["--data", self.data().to_str().unwrap()])
            .args(["--value-sets", self.value_sets.to_str().unwrap()])
            .env_remove("DATABASE_URL")
            .env_remove("VAXCERT_KEYSTORE_PASSPHRASE");
        if let Some(url) = &self.database_url {
            command.env("DATABASE_URL", url);
        }
        command
    }

    fn issue(&self, args: &[&str]) -> Output {
        self.issue_command(args).output().unwrap()
    }

    /// Removes the test's directory (on success: a failed test leaves it to look at).
    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite:{}", self.data().join("ledger.sqlite").display())
    }
}

/// The four counts of the summary line.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    issued: u64,
    already_issued: u64,
    conflicts: u64,
    invalid: u64,
}

fn summary(output: &Output) -> Summary {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with("issued "))
        .unwrap_or_else(|| {
            panic!(
                "no summary in {stdout:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let count = |label: &str| -> u64 {
        let rest = line.split(label).nth(1).unwrap();
        rest.split([',', ';'])
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    Summary {
        issued: count("issued "),
        already_issued: count("already issued "),
        conflicts: count("conflicts "),
        invalid: count("invalid "),
    }
}

fn summary_of(issued: u64, already_issued: u64, conflicts: u64, invalid: u64) -> Summary {
    Summary {
        issued,
        already_issued,
        conflicts,
        invalid,
    }
}

const FAMILY_NAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
];
const GIVEN_NAMES: &[&str] = &[
    "Bảo Duy",
    "Thị Hương",
    "Văn Đức",
    "Ngọc Ánh",
    "Minh Tuấn",
    "Thu Thảo",
    "Quốc Việt",
    "Hữu Nghĩa",
];
/// (mp, ma, an allowed vp, doses in the series): domain.md's products.
const PRODUCTS: &[(&str, &str, &str, u32)] = &[
    ("EU/1/20/1528", "ORG-100030215", "1119349007", 2),
    ("EU/1/20/1507", "ORG-100031184", "28531000087107", 2),
    ("EU/1/21/1529", "ORG-100001699", "29061000087103", 2),
    ("EU/1/20/1525", "ORG-100001417", "28531000087107", 1),
    ("BBIBP-CorV", "ORG-100020693", "1157024006", 2),
    (
        "Sputnik-V",
        "Gamaleya-Research-Institute",
        "29061000087103",
        2,
    ),
    ("Hayat-Vax", "ORG-100023050", "1157024006", 2),
    ("Abdala", "CIGB", "28531000087107", 3),
];

/// The `n`th confirmation of a test file: names with diacritics, one of domain.md's products; the dose
/// event id carries `tag` so that every file is its own.
fn confirmation(tag: &str, n: usize) -> Value {
    let (mp, ma, vp, series) = PRODUCTS[n % PRODUCTS.len()];
    let dn = 1 + u32::try_from(n).unwrap() % series;
    json!({
        "dose_event_id": format!("{tag}-{n:06}"),
        "supersedes_dose_event_id": null,
        "person": {"fn": FAMILY_NAMES[n % FAMILY_NAMES.len()],
                   "gn": GIVEN_NAMES[(n / 7) % GIVEN_NAMES.len()],
                   "dob": format!("{}-{:02}-{:02}", 1940 + n % 70, 1 + n % 12, 1 + n % 28),
                   "id_number": format!("0010830{n:05}"), "phone": format!("+849123{n:05}")},
        "vaccination": {"tg": "840539006", "vp": vp, "mp": mp, "ma": ma, "dn": dn, "sd": series,
                        "dt": format!("2021-{:02}-{:02}", 3 + n % 10, 1 + n % 28), "co": "VN",
                        "lot_number": format!("FF{:04}", n % 10_000)},
        "provenance": {"site_code": "HN-0123", "registry_record_id": format!("R-2021-{n:06}"),
                       "record_hash": "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"},
    })
}

fn write_lines(path: &str, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn valid_lines(tag: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| confirmation(tag, n).to_string())
        .collect()
}

/// The `--out` file: its complete lines, parsed.
fn out_lines(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    complete
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Verifies `hc1s` with `vaxcert verify -` against the trust list built from the node's keystore.
fn verify_all(node: &Node, hc1s: &[String]) {
    let published = node.path("published");
    let passphrase = node.data().join("DEVELOPMENT-ONLY-keystore-passphrase");
    let built = Command::new(VAXCERT)
        .args(["trust-list", "build", "--keys"])
        .arg(node.data().join("keys"))
        .args(["--out", &published, "--passphrase-file"])
        .arg(&passphrase)
        .env_remove("VAXCERT_KEYSTORE_PASSPHRASE")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    let mut child = Command::new(VAXCERT)
        .args(["verify", "--trust-list"])
        .arg(Path::new(&published).join("trust-list.jws"))
        .arg("--trust-list-key")
        .arg(Path::new(&published).join("trust-list-signer.pub.pem"))
        .arg("--value-sets")
        .arg(&node.value_sets)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(format!("{}\n", hc1s.join("\n")).as_bytes())
        .unwrap();
    drop(input);
    let output = child.wait_with_output().unwrap();
    let reports: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(reports.len(), hc1s.len(), "{}", stderr(&output));
    for report in &reports {
        assert_eq!(report["valid"], true, "{report}");
        assert_eq!(report["iss"], "VN");
    }
    assert_eq!(output.status.code(), Some(0));
}

/// 200 valid confirmations, a duplicate of the first, and invalid lines of every kind, on `node`.
fn basic(node: &Node) {
    let from = node.path("doses.jsonl");
    let out = node.path("certificates.jsonl");
    let mut lines = valid_lines("basic", 200);
    let with = |n: usize, edit: &dyn Fn(&mut Value)| {
        let mut value = confirmation("basic-bad", n);
        edit(&mut value);
        value.to_string()
    };
    let invalid = vec![
        // 202: not JSON at all (and a name in it, which must not be echoed).
        String::from(r#"{"dose_event_id": "x", "person": {"fn": "Nguyễn"#),
        // 203: a product outside the value sets.
        with(1, &|v| v["vaccination"]["mp"] = json!("CoronaVac-X")),
        // 204: a vp the encoding instructions do not allow for Comirnaty.
        with(2, &|v| {
            v["vaccination"]["mp"] = json!("EU/1/20/1528");
            v["vaccination"]["ma"] = json!("ORG-100030215");
            v["vaccination"]["vp"] = json!("1157024006");
        }),
        // 205: a name that does not transliterate.
        with(3, &|v| v["person"]["gn"] = json!("王小明")),
        // 206: no date of birth.
        with(4, &|v| {
            v["person"].as_object_mut().unwrap().remove("dob");
        }),
        // 207: the deprecated vp, never issued.
        with(5, &|v| v["vaccination"]["vp"] = json!("J07BX03")),
        // 208: a dose number of the wrong type.
        with(6, &|v| v["vaccination"]["dn"] = json!("hai")),
        // 209: a booster encoded 3/2 instead of 3/3: refused, never rewritten.
        with(7, &|v| {
            v["vaccination"]["dn"] = json!(3);
            v["vaccination"]["sd"] = json!(2);
        }),
    ];
    lines.push(lines[0].clone()); // 201: the same request again: already issued.
    lines.extend(invalid);
    lines.push(String::new()); // a blank line: skipped, not counted.
    write_lines(&from, &lines);

    let output = node.issue(&["--from", &from, "--out", &out]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert_eq!(summary(&output), summary_of(200, 1, 0, 8), "{errors}");
    for expected in [
        "line 202: invalid: not a JSON object",
        "line 203: invalid: vaccination.mp: not in the value set",
        "line 204: invalid: vaccination.mp: combination not allowed",
        "line 205: invalid: person.gn: ",
        "line 206: invalid: person.dob: missing",
        "line 207: invalid: vaccination.vp: ",
        "line 208: invalid: vaccination.dn: wrong type or value",
        "line 209: invalid: vaccination.dn: greater than sd: a booster",
    ] {
        assert!(errors.contains(expected), "{expected:?} not in {errors}");
    }
    // Reports name lines and fields, never the person: no name, date of birth, id or UVCI.
    for personal in [
        "Nguy", "王", "Trần", "1940-", "0010830", "+849", "URN:UVCI", "hai",
    ] {
        assert!(
            !errors.contains(personal),
            "{personal:?} leaked into {errors}"
        );
    }
    assert_eq!(errors.lines().count(), 8, "{errors}");

    let handed = out_lines(&out);
    assert_eq!(handed.len(), 200);
    let uvcis: HashSet<&str> = handed.iter().map(|l| l["uvci"].as_str().unwrap()).collect();
    assert_eq!(uvcis.len(), 200);
    let ids: HashSet<&str> = handed
        .iter()
        .map(|l| l["dose_event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 200);
    for line in &handed {
        let uvci = line["uvci"].as_str().unwrap();
        assert!(uvci.starts_with("URN:UVCI:01:VN:"), "{uvci}");
        assert!(line["hc1"].as_str().unwrap().starts_with("HC1:"));
        assert!(line["exp"].as_i64().unwrap() > 1_700_000_000);
    }
    let hc1s: Vec<String> = handed
        .iter()
        .map(|l| l["hc1"].as_str().unwrap().to_owned())
        .collect();
    verify_all(node, &hc1s);

    // The same file again: nothing new, nothing handed out again.
    let again = node.path("again.jsonl");
    let output = node.issue(&["--from", &from, "--out", &again]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(summary(&output), summary_of(0, 201, 0, 8));
    assert!(out_lines(&again).is_empty());
}

#[test]
fn counts_reports_and_certificates_that_verify() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let node = Node::new("basic", value_sets);
    basic(&node);
    node.remove();
}

#[test]
fn counts_reports_and_certificates_that_verify_on_postgres() {
    let Some(value_sets) = value_sets() else {
        return;
    };
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
    let mut node = Node::new("basic-pg", value_sets);
    let (url, schema) = fresh_schema(&database_url);
    node.database_url = Some(url);
    basic(&node);
    runtime().block_on(async {
        let mut conn = sqlx::PgConnection::connect(&database_url).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
    node.remove();
}

/// A new, empty schema on the server at `database_url`: the URL with it as the search path, and its name.
fn fresh_schema(database_url: &str) -> (String, String) {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    let schema = format!("vaxcert_bulk_{}", hex::encode(bytes));
    runtime().block_on(async {
        let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
    let separator = if database_url.contains('?') { '&' } else { '?' };
    let url = format!("{database_url}{separator}options=-c%20search_path%3D{schema}");
    (url, schema)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn reruns_are_idempotent_and_changed_lines_conflict() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let node = Node::new("rerun", value_sets);
    let from = node.path("doses.jsonl");
    let mut lines = valid_lines("rerun", 60);
    write_lines(&from, &lines);
    let output = node.issue(&["--from", &from]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(summary(&output), summary_of(60, 0, 0, 0));

    let output = node.issue(&["--from", &from]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(summary(&output), summary_of(0, 60, 0, 0));

    // The same request in another key order and Unicode form (NFD) is the same request.
    let mut reordered = confirmation("rerun", 0);
    assert_eq!(reordered["person"]["fn"], "Nguyễn");
    reordered["person"]["fn"] = json!("Nguye\u{0302}\u{0303}n");
    let object = reordered.as_object().unwrap();
    let mut keys: Vec<&String> = object.keys().collect();
    keys.reverse();
    let fields: Vec<String> = keys
        .iter()
        .map(|key| format!("{}: {}", json!(key), object[key.as_str()]))
        .collect();
    lines[0] = format!("{{ {} }}", fields.join(", "));
    // And one changed line: the same dose event, another lot number.
    let mut changed = confirmation("rerun", 41);
    changed["vaccination"]["lot_number"] = json!("FF9999");
    lines[41] = changed.to_string();
    write_lines(&from, &lines);
    let out = node.path("out.jsonl");
    let output = node.issue(&["--from", &from, "--out", &out]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert_eq!(summary(&output), summary_of(0, 59, 1, 0));
    assert!(errors.contains("line 42: conflict"), "{errors}");
    assert!(
        !errors.contains("FF9999") && !errors.contains("rerun-"),
        "{errors}"
    );
    assert!(out_lines(&out).is_empty());
    node.remove();
}

/// A correction line: `n`'s confirmation under a new dose event id, superseding `superseded`.
fn correction(tag: &str, n: usize, id: &str, superseded: &str) -> Value {
    let mut value = confirmation(tag, n);
    value["dose_event_id"] = json!(id);
    value["supersedes_dose_event_id"] = json!(superseded);
    value["person"]["gn"] = json!("Bảo Dũng");
    value
}

#[test]
fn bulk_corrections_follow_the_api_rules_line_by_line() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let node = Node::new("corrections", value_sets);
    let from = node.path("doses.jsonl");
    write_lines(&from, &valid_lines("corr", 3));
    let output = node.issue(&["--from", &from]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // As if the registry had confirmed them over the API: the operator may still correct them.
    runtime().block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&node.sqlite_url())
            .await
            .unwrap();
        sqlx::query("UPDATE dose_events SET confirmed_by = 'national-registry'")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });

    let mut stranger = correction("corr", 1, "corr-fix-3", "corr-000001");
    stranger["person"]["dob"] = json!("1999-01-01");
    let lines = [
        // 1: corrects corr-000000 (the same person, a corrected given name).
        correction("corr", 0, "corr-fix-1", "corr-000000"),
        // 2: corrects it again: only one correction wins.
        correction("corr", 0, "corr-fix-2", "corr-000000"),
        // 3: another person's date of birth.
        stranger,
        // 4: a dose event the ledger does not hold.
        correction("corr", 2, "corr-fix-4", "corr-never-seen"),
        // 5: a new dose event.
        confirmation("corr", 3),
    ];
    let lines: Vec<String> = lines.iter().map(Value::to_string).collect();
    write_lines(&from, &lines);
    let out = node.path("out.jsonl");
    let output = node.issue(&["--from", &from, "--out", &out]);
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert_eq!(summary(&output), summary_of(2, 0, 1, 2));
    assert!(
        errors.contains("line 2: conflict: the superseded dose event was corrected already"),
        "{errors}"
    );
    assert!(
        errors.contains("line 3: invalid: supersedes_dose_event_id: not the same person"),
        "{errors}"
    );
    assert!(
        errors.contains("line 4: invalid: supersedes_dose_event_id: no such dose event"),
        "{errors}"
    );
    let handed: Vec<String> = out_lines(&out)
        .iter()
        .map(|line| line["dose_event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(handed, ["corr-fix-1", "corr-000003"]);

    runtime().block_on(async {
        let ledger = Ledger::open(&node.sqlite_url()).await.unwrap();
        let (original, certificate) = ledger.dose_event("corr-000000").await.unwrap().unwrap();
        assert_eq!(original.superseded_by.as_deref(), Some("corr-fix-1"));
        assert_eq!(certificate.status.as_str(), "revoked");
        let (_, untouched) = ledger.dose_event("corr-000001").await.unwrap().unwrap();
        assert_eq!(untouched.status.as_str(), "active");
        for refused in ["corr-fix-2", "corr-fix-3", "corr-fix-4"] {
            assert!(ledger.dose_event(refused).await.unwrap().is_none());
        }
        ledger.close().await;
    });
    node.remove();
}

#[test]
fn a_resumed_out_file_gets_back_what_a_crash_lost_and_loses_its_torn_line() {
    let Some(value_sets) = value_sets() else {
        return;
    };
    let node = Node::new("resume", value_sets);
    let from = node.path("doses.jsonl");
    let out = node.path("certificates.jsonl");
    write_lines(&from, &valid_lines("resume", 300));
    let output = node.issue(&["--from", &from, "--out", &out, "--batch", "100"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let complete = std::fs::read_to_string(&out).unwrap();
    let handed: Vec<&str> = complete.lines().collect();
    assert_eq!(handed.len(), 300);

    // A crash after the last two commits but before their lines were written, in the middle of a line.
    let kept = handed[..180].join("\n");
    std::fs::write(&out, format!("{kept}\n{}", &handed[180][..57])).unwrap();
    let output = node.issue(&["--from", &from, "--out", &out, "--batch", "100"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(summary(&output), summary_of(0, 300, 0, 0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("120 certificate(s) the ledger already held written to --out"),
        "{stdout}"
    );
    let mut resumed: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(resumed[..180], handed[..180]);
    resumed.sort();
    let mut expected: Vec<String> = handed.iter().map(|line| (*line).to_owned()).collect();
    expected.sort();
    assert_eq!(
        resumed, expected,
        "each certificate once, as the ledger holds it"
    );

    // Resuming a complete file adds nothing.
    let output = node.issue(&["--from", &from, "--out", &out]);
    assert_eq!(summary(&output), summary_of(0, 300, 0, 0));
    assert_eq!(out_lines(&out).len(), 300);
    node.remove();
}

/// Every complete `--out` line has its ledger row with the same UVCI and text; no UVCI twice; the
/// database passes its integrity check. Returns the dose event ids handed out.
async fn check_handed_out(ledger: &Ledger, handed: &[Value]) -> HashSet<String> {
    let mut uvcis = HashSet::new();
    let mut ids = HashSet::new();
    for line in handed {
        let id = line["dose_event_id"].as_str().unwrap();
        let uvci = line["uvci"].as_str().unwrap();
        assert!(uvcis.insert(uvci.to_owned()), "a UVCI handed out twice");
        assert!(
            ids.insert(id.to_owned()),
            "dose event {id} handed out twice"
        );
        let (_, certificate) = ledger
            .dose_event(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("dose event {id} handed out without its ledger row"));
        assert_eq!(certificate.uvci, uvci, "dose event {id}");
        assert_eq!(certificate.hc1, line["hc1"].as_str().unwrap());
        assert_eq!(certificate.exp, line["exp"].as_i64().unwrap());
        assert_eq!(ledger.certificates_of(id).await.unwrap().len(), 1);
    }
    ledger.integrity_check().await.unwrap();
    let (events, certificates) = ledger.counts().await.unwrap();
    assert_eq!(events, certificates, "each dose event has one certificate");
    ids
}

#[test]
fn kill_9_mid_run_loses_nothing_and_a_rerun_finishes_the_job() {
    const COUNT: usize = 20_000;
    let Some(value_sets) = value_sets() else {
        return;
    };
    let node = Node::new("kill", value_sets);
    let from = node.path("doses.jsonl");
    let out = node.path("certificates.jsonl");
    write_lines(&from, &valid_lines("kill", COUNT));

    // Small batches, so that the kill lands between commits, inside one, or between a commit and its
    // --out write; the threshold varies from run to run.
    let mut bytes = [0u8; 2];
    getrandom::fill(&mut bytes).unwrap();
    let threshold = 1 + usize::from(u16::from_le_bytes(bytes)) % 3_000;
    let mut child = node
        .issue_command(&["--from", &from, "--out", &out, "--batch", "250"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let handed = std::fs::read(&out).unwrap_or_default();
        if handed.iter().filter(|&&b| b == b'\n').count() >= threshold {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no certificate handed out"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");

    let first = out_lines(&out);
    assert!(first.len() >= threshold && first.len() < COUNT);
    let runtime = runtime();
    runtime.block_on(async {
        let ledger = Ledger::open(&node.sqlite_url()).await.unwrap();
        check_handed_out(&ledger, &first).await;
        let (events, _) = ledger.counts().await.unwrap();
        assert!(events < i64::try_from(COUNT).unwrap());
        ledger.close().await;
    });

    // The same command again finishes the job.
    let output = node.issue(&["--from", &from, "--out", &out, "--batch", "250"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    eprintln!(
        "killed after {} line(s) handed out; re-run: {}",
        first.len(),
        String::from_utf8_lossy(&output.stdout).trim()
    );
    let totals = summary(&output);
    assert_eq!(totals.issued + totals.already_issued, COUNT as u64);
    assert_eq!((totals.conflicts, totals.invalid), (0, 0));
    assert!(totals.already_issued >= first.len() as u64);

    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.ends_with('\n'), "no torn line left");
    let all = out_lines(&out);
    assert_eq!(all.len(), COUNT, "each dose event handed out exactly once");
    assert_eq!(all[..first.len()], first[..], "lines handed out stay");
    runtime.block_on(async {
        let ledger = Ledger::open(&node.sqlite_url()).await.unwrap();
        let ids = check_handed_out(&ledger, &all).await;
        let expected: HashSet<String> = (0..COUNT).map(|n| format!("kill-{n:06}")).collect();
        assert_eq!(ids, expected);
        assert_eq!(ledger.counts().await.unwrap(), (COUNT as i64, COUNT as i64));
        let by_id: HashMap<&str, &str> = all
            .iter()
            .map(|l| {
                (
                    l["dose_event_id"].as_str().unwrap(),
                    l["uvci"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(by_id.len(), COUNT);
        ledger.close().await;
    });
    node.remove();
}
