//! `vaxcert keys`: the key ceremony driven through the real binary in a temporary directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use keys::{Backend, Keystore, Passphrase, Signer as _};
use serde_json::Value;

const VAXCERT: &str = env!("CARGO_BIN_EXE_vaxcert");
const PASSPHRASE: &str = "a long test passphrase 7f3c";
const PASSPHRASE_ENV: &str = "VAXCERT_KEYSTORE_PASSPHRASE";

/// A fresh directory under the system temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("vaxcert-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn keystore(&self) -> PathBuf {
        self.0.join("keystore")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs vaxcert with `args`, the passphrase in the environment when given, no other passphrase source.
fn vaxcert(args: &[&str], passphrase: Option<&str>) -> Output {
    let mut command = Command::new(VAXCERT);
    command
        .args(args)
        .env_remove(PASSPHRASE_ENV)
        .stdin(Stdio::null());
    if let Some(passphrase) = passphrase {
        command.env(PASSPHRASE_ENV, passphrase);
    }
    let output = command.output().unwrap();
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains(PASSPHRASE),
            "passphrase printed by {args:?}: {text}"
        );
        assert!(
            !text.contains("BEGIN PRIVATE KEY"),
            "private key printed by {args:?}"
        );
    }
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

fn list_json(dir: &Path) -> Value {
    let output = vaxcert(
        &["keys", "list", "--dir", dir.to_str().unwrap(), "--json"],
        None,
    );
    serde_json::from_str(&succeeded(&output)).unwrap()
}

fn dscs(list: &Value) -> Vec<&Value> {
    list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|key| key["role"] == "dsc")
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn init_list_rotate_list() {
    let temp = TempDir::new("lifecycle");
    let dir = temp.keystore();
    let dir_arg = dir.to_str().unwrap();

    let stdout = succeeded(&vaxcert(
        &["keys", "init", "--dir", dir_arg],
        Some(PASSPHRASE),
    ));
    assert!(stdout.contains("csca.pem"), "{stdout}");
    assert!(stdout.contains("trust-list-signer.key.p8"), "{stdout}");

    // Files: secrets 0600, public 0644, no temporary file left, no plaintext key.
    let names = file_names(&dir);
    assert_eq!(names.len(), 7, "{names:?}");
    for name in &names {
        let path = dir.join(name);
        let contents = text(&std::fs::read(&path).unwrap());
        assert!(!contents.contains(PASSPHRASE));
        assert!(!contents.contains("BEGIN PRIVATE KEY"), "{name}");
        if name.ends_with(".key.p8") {
            assert_eq!(mode(&path), 0o600, "{name}");
            assert!(
                contents.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
                "{name}"
            );
        } else {
            assert_eq!(mode(&path), 0o644, "{name}");
        }
    }

    // The pin printed is the trust-list signer's, as the library computes it.
    let files = |name: &str| std::fs::read(dir.join(name)).ok();
    let keystore = Keystore::from_files(Backend::default(), files).unwrap();
    let pin = keystore.trust_list_signer_pin();
    assert!(stdout.contains(&pin), "{stdout}");

    // list --json: CSCA, one current ES256 DSC, the trust-list signer.
    let list = list_json(&dir);
    assert_eq!(list["country"], "VN");
    let roles: Vec<&str> = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["csca", "dsc", "trust-list-signer"]);
    let first = dscs(&list)[0].clone();
    assert_eq!(first["state"], "current");
    assert_eq!(first["algorithm"], "ES256");
    assert_eq!(first["key_type"], "EC P-256");
    assert_eq!(first["rotation_due"], false);
    assert_eq!(first["kid"], keystore.current_dsc().kid().to_string());
    assert!(first["rotate_by"].as_str().unwrap() > first["not_before"].as_str().unwrap());
    assert_eq!(list["keys"][2]["pin_sha256"], pin);
    assert_eq!(list["keys"][0]["key_type"], "EC P-256");

    // The human list names the same keys.
    let human = succeeded(&vaxcert(&["keys", "list", "--dir", dir_arg], None));
    assert!(human.contains(first["kid"].as_str().unwrap()), "{human}");
    assert!(human.contains("current, rotate by"), "{human}");

    // rotate with PS256: two DSCs, the first retired and still listed, the new one current.
    succeeded(&vaxcert(
        &["keys", "rotate", "--dir", dir_arg, "--alg", "ps256"],
        Some(PASSPHRASE),
    ));
    let list = list_json(&dir);
    let dscs = dscs(&list);
    assert_eq!(dscs.len(), 2);
    assert_eq!(dscs[0]["kid"], first["kid"]);
    assert_eq!(dscs[0]["state"], "retired");
    assert_eq!(dscs[0]["listed"], true);
    assert!(dscs[0]["retired_at"].is_string());
    assert_eq!(dscs[1]["state"], "current");
    assert_eq!(dscs[1]["algorithm"], "PS256");
    assert_eq!(dscs[1]["key_type"], "RSA-2048");
    assert_eq!(file_names(&dir).len(), 9);
    for name in file_names(&dir)
        .iter()
        .filter(|name| name.ends_with(".key.p8"))
    {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }

    // The new DSC signs, and the keystore still opens with the passphrase.
    let keystore = Keystore::from_files(Backend::default(), |name| {
        std::fs::read(dir.join(name)).ok()
    })
    .unwrap();
    let signer = keystore
        .current_signer(&Passphrase::new(PASSPHRASE).unwrap())
        .unwrap();
    let verifying = Backend::default()
        .verifying_key(keystore.current_dsc().certificate())
        .unwrap();
    verifying
        .verify(b"message", &signer.sign(b"message").unwrap())
        .unwrap();
}

#[test]
fn init_refuses_a_non_empty_directory() {
    let temp = TempDir::new("again");
    let dir = temp.keystore();
    let dir_arg = dir.to_str().unwrap();
    succeeded(&vaxcert(
        &["keys", "init", "--dir", dir_arg, "--country", "XX"],
        Some(PASSPHRASE),
    ));
    let before: Vec<(String, Vec<u8>)> = file_names(&dir)
        .into_iter()
        .map(|name| (name.clone(), std::fs::read(dir.join(&name)).unwrap()))
        .collect();
    let again = vaxcert(&["keys", "init", "--dir", dir_arg], Some(PASSPHRASE));
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("not empty"),
        "{}",
        text(&again.stderr)
    );
    let after: Vec<(String, Vec<u8>)> = file_names(&dir)
        .into_iter()
        .map(|name| (name.clone(), std::fs::read(dir.join(&name)).unwrap()))
        .collect();
    assert_eq!(before, after);
    assert_eq!(list_json(&dir)["country"], "XX");
}

#[test]
fn missing_or_wrong_passphrase() {
    let temp = TempDir::new("passphrase");
    let dir = temp.keystore();
    let dir_arg = dir.to_str().unwrap();

    let missing = vaxcert(&["keys", "init", "--dir", dir_arg], None);
    assert_eq!(missing.status.code(), Some(2));
    let message = text(&missing.stderr);
    assert!(
        message.contains(PASSPHRASE_ENV) && message.contains("--passphrase-file"),
        "{message}"
    );
    assert!(file_names(&dir).is_empty());

    let short = vaxcert(&["keys", "init", "--dir", dir_arg], Some("short"));
    assert_eq!(short.status.code(), Some(2));
    assert!(
        text(&short.stderr).contains("too short"),
        "{}",
        text(&short.stderr)
    );

    // A passphrase file (first line) works in place of the environment.
    let passphrase_file = temp.0.join("passphrase");
    std::fs::write(&passphrase_file, format!("{PASSPHRASE}\n")).unwrap();
    std::fs::set_permissions(&passphrase_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file_arg = passphrase_file.to_str().unwrap();
    succeeded(&vaxcert(
        &[
            "keys",
            "init",
            "--dir",
            dir_arg,
            "--passphrase-file",
            file_arg,
        ],
        None,
    ));

    let missing = vaxcert(&["keys", "rotate", "--dir", dir_arg], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains(PASSPHRASE_ENV));

    let wrong = vaxcert(
        &["keys", "rotate", "--dir", dir_arg],
        Some("another long passphrase"),
    );
    assert_eq!(wrong.status.code(), Some(2));
    let message = text(&wrong.stderr);
    assert!(message.contains("wrong passphrase"), "{message}");
    assert!(!message.contains("another long passphrase"), "{message}");
    assert_eq!(dscs(&list_json(&dir)).len(), 1);

    succeeded(&vaxcert(
        &[
            "keys",
            "rotate",
            "--dir",
            dir_arg,
            "--passphrase-file",
            file_arg,
        ],
        None,
    ));
    assert_eq!(dscs(&list_json(&dir)).len(), 2);
}

#[test]
fn list_without_a_keystore() {
    let temp = TempDir::new("empty");
    let output = vaxcert(&["keys", "list", "--dir", temp.0.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("vaxcert keys init"),
        "{}",
        text(&output.stderr)
    );
}
