//! `vaxcert keys`: the key ceremony. `init` creates the encrypted keystore (a CSCA, a first DSC and the
//! trust-list signing key), `rotate` issues a new DSC and retires the current one, `list` shows every key.
//!
//! The logic is `keys::keystore`'s; this module reads the passphrase, reads and writes the files (each
//! atomically: temporary file, fsync, rename; secrets 0600, the rest 0644) and prints. The passphrase
//! comes from `VAXCERT_KEYSTORE_PASSPHRASE` or `--passphrase-file`, never from a flag value, and is never
//! printed. Exit code 0 on success, 2 on any error.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{ErrorKind, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use keys::keystore::{
    DEFAULT_CERTIFICATE_VALIDITY_S, DscRecord, DscState, FileKind, INDEX_FILE, KeystoreFile,
};
use keys::{Backend, Certificate, Keystore, KeystoreError, Passphrase, SignatureAlgorithm};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The environment variable that holds the keystore passphrase.
pub const PASSPHRASE_ENV: &str = "VAXCERT_KEYSTORE_PASSPHRASE";

pub(crate) const SECRET_MODE: u32 = 0o600;
pub(crate) const PUBLIC_MODE: u32 = 0o644;
pub(crate) const DIRECTORY_MODE: u32 = 0o700;
pub(crate) const DAY_S: i64 = 86_400;

/// Arguments of `vaxcert keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a keystore in an empty directory: a CSCA, a first DSC and the trust-list signing key.
    Init(InitArgs),
    /// Issue a new DSC and retire the current one, which stays listed until its certificates expire.
    Rotate(RotateArgs),
    /// Show every key: kid, role, type, validity, state, and when the current DSC must be rotated.
    List(ListArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    /// The keystore directory: created if missing, refused if not empty.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The country code (ISO 3166-1 alpha-2), subject C of every certificate.
    #[arg(long, default_value = "VN")]
    country: String,
    /// The first DSC's signature algorithm.
    #[arg(long, value_enum, default_value_t = Algorithm::Es256)]
    alg: Algorithm,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// The keystore directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The new DSC's signature algorithm.
    #[arg(long, value_enum, default_value_t = Algorithm::Es256)]
    alg: Algorithm,
    /// How long the health certificates the DSCs sign are valid, in days.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_CERTIFICATE_VALIDITY_S / DAY_S)]
    certificate_validity_days: i64,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// The keystore directory.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// Print one JSON document, for scripts.
    #[arg(long)]
    json: bool,
    /// How long the health certificates the DSCs sign are valid, in days.
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_CERTIFICATE_VALIDITY_S / DAY_S)]
    certificate_validity_days: i64,
}

#[derive(Debug, Args)]
pub(crate) struct PassphraseArgs {
    /// Read the passphrase from this file (its first line) instead of $VAXCERT_KEYSTORE_PASSPHRASE.
    #[arg(long, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
}

/// A DSC signature algorithm.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Algorithm {
    /// ECDSA P-256 with SHA-256 (the EU default).
    Es256,
    /// RSASSA-PSS with SHA-256, RSA 2048.
    Ps256,
}

impl From<Algorithm> for SignatureAlgorithm {
    fn from(algorithm: Algorithm) -> SignatureAlgorithm {
        match algorithm {
            Algorithm::Es256 => SignatureAlgorithm::Es256,
            Algorithm::Ps256 => SignatureAlgorithm::Ps256,
        }
    }
}

/// Runs `vaxcert keys`.
pub fn run(args: KeysArgs) -> Result<ExitCode> {
    match args.command {
        KeysCommand::Init(args) => init(&args),
        KeysCommand::Rotate(args) => rotate(&args),
        KeysCommand::List(args) => list(&args),
    }?;
    Ok(ExitCode::SUCCESS)
}

fn init(args: &InitArgs) -> Result<()> {
    prepare_empty_directory(&args.dir)?;
    let passphrase = read_passphrase(&args.passphrase)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let keystore = Keystore::init(
        &args.country,
        args.alg.into(),
        now,
        &passphrase,
        Backend::default(),
    )
    .context("cannot create the keystore")?;
    let written = write_files(&args.dir, &keystore.to_files()?)?;

    let mut out = crate::output::stdout();
    writeln!(
        out,
        "Created the {} keystore in {}:",
        keystore.country(),
        args.dir.display()
    )?;
    for (name, kind) in &written {
        writeln!(out, "  {name:<34} {}", kind_label(*kind))?;
    }
    writeln!(out)?;
    let validity = DEFAULT_CERTIFICATE_VALIDITY_S;
    writeln!(out, "{}", csca_line(&keystore))?;
    writeln!(
        out,
        "{}",
        dsc_line(&keystore, keystore.current_dsc(), now, validity)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Trust-list signing key pin (SHA-256 of its SubjectPublicKeyInfo, base64url):"
    )?;
    writeln!(out, "  {}", keystore.trust_list_signer_pin())?;
    writeln!(
        out,
        "Give this pin to verifiers out of band: they accept trust lists signed by this key only."
    )?;
    Ok(())
}

fn rotate(args: &RotateArgs) -> Result<()> {
    let validity = certificate_validity(args.certificate_validity_days)?;
    let mut keystore = open(&args.dir)?;
    let passphrase = read_passphrase(&args.passphrase)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let retired = keystore.current_dsc().kid();
    keystore
        .rotate(now, &passphrase, args.alg.into())
        .context("cannot rotate the DSC")?;
    let written = write_files(&args.dir, &keystore.to_files()?)?;

    let mut out = crate::output::stdout();
    writeln!(out, "Rotated the DSC in {}:", args.dir.display())?;
    for (name, kind) in &written {
        writeln!(out, "  wrote {name:<28} {}", kind_label(*kind))?;
    }
    writeln!(out)?;
    for record in keystore.dscs() {
        if record.kid() == retired || record.state() == DscState::Current {
            writeln!(out, "{}", dsc_line(&keystore, record, now, validity))?;
        }
    }
    Ok(())
}

fn list(args: &ListArgs) -> Result<()> {
    let validity = certificate_validity(args.certificate_validity_days)?;
    let keystore = open(&args.dir)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut out = crate::output::stdout();
    if args.json {
        writeln!(out, "{}", list_json(&keystore, now, validity))?;
        return Ok(());
    }
    writeln!(
        out,
        "Keystore {} in {} (health certificates valid {} days)",
        keystore.country(),
        args.dir.display(),
        validity / DAY_S
    )?;
    writeln!(out, "{}", csca_line(&keystore))?;
    for record in keystore.dscs() {
        writeln!(out, "{}", dsc_line(&keystore, record, now, validity))?;
    }
    writeln!(
        out,
        "{:<18} {:<12} {:<17} pin {}",
        "trust-list-signer",
        "-",
        "ES256 EC P-256",
        keystore.trust_list_signer_pin()
    )?;
    Ok(())
}

fn list_json(keystore: &Keystore, now: i64, validity: i64) -> Value {
    let csca = keystore.csca();
    let mut keys = vec![json!({
        "role": "csca",
        "kid": csca.kid().to_string(),
        "algorithm": "ES256",
        "key_type": csca.key_type().to_string(),
        "subject": csca.subject_common_name(),
        "not_before": timestamp(csca.not_before()),
        "not_after": timestamp(csca.not_after()),
        "state": "active",
        "issues_dscs_until": timestamp(keystore.csca_signing_ends()),
    })];
    for record in keystore.dscs() {
        let certificate = record.certificate();
        let mut key = json!({
            "role": "dsc",
            "kid": record.kid().to_string(),
            "algorithm": record.algorithm().name(),
            "key_type": certificate.key_type().to_string(),
            "subject": certificate.subject_common_name(),
            "not_before": timestamp(certificate.not_before()),
            "not_after": timestamp(certificate.not_after()),
            "listed": record.is_listed(now, validity),
            "listed_until": timestamp(record.last_certificate_expiry(validity)),
        });
        let fields = match record.state() {
            DscState::Current => json!({
                "state": "current",
                "rotate_by": timestamp(keystore.rotate_by(validity)),
                "rotation_due": keystore.rotation_due(now, validity).is_some(),
            }),
            DscState::Retired { retired_at } => json!({
                "state": "retired",
                "retired_at": timestamp(retired_at),
            }),
        };
        if let (Some(key), Value::Object(fields)) = (key.as_object_mut(), fields) {
            key.extend(fields);
        }
        keys.push(key);
    }
    keys.push(json!({
        "role": "trust-list-signer",
        "kid": null,
        "algorithm": "ES256",
        "key_type": "EC P-256",
        "state": "active",
        "pin_sha256": keystore.trust_list_signer_pin(),
    }));
    json!({
        "country": keystore.country(),
        "certificate_validity_days": validity / DAY_S,
        "keys": keys,
    })
}

fn csca_line(keystore: &Keystore) -> String {
    let csca = keystore.csca();
    format!(
        "{:<18} {:<12} {:<17} {} .. {}  active, issues DSCs until {}",
        "csca",
        csca.kid().to_string(),
        format!("ES256 {}", csca.key_type()),
        timestamp(csca.not_before()),
        timestamp(csca.not_after()),
        timestamp(keystore.csca_signing_ends()),
    )
}

fn dsc_line(keystore: &Keystore, record: &DscRecord, now: i64, validity: i64) -> String {
    let certificate: &Certificate = record.certificate();
    let state = match record.state() {
        DscState::Current => {
            let overdue = if keystore.rotation_due(now, validity).is_some() {
                " (OVERDUE)"
            } else {
                ""
            };
            format!(
                "current, rotate by {}{overdue}",
                timestamp(keystore.rotate_by(validity))
            )
        }
        DscState::Retired { retired_at } => {
            let until = record.last_certificate_expiry(validity);
            let listed = if record.is_listed(now, validity) {
                "listed until"
            } else {
                "unlisted since"
            };
            format!(
                "retired {}, {listed} {}",
                timestamp(retired_at),
                timestamp(until)
            )
        }
    };
    format!(
        "{:<18} {:<12} {:<17} {} .. {}  {state}",
        "dsc",
        record.kid().to_string(),
        format!("{} {}", record.algorithm().name(), certificate.key_type()),
        timestamp(certificate.not_before()),
        timestamp(certificate.not_after()),
    )
}

fn kind_label(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Secret => "secret, encrypted (0600)",
        FileKind::Public => "public (0644)",
    }
}

fn timestamp(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}

pub(crate) fn certificate_validity(days: i64) -> Result<i64> {
    if !(1..=3650).contains(&days) {
        bail!("--certificate-validity-days must be 1 to 3650");
    }
    Ok(days * DAY_S)
}

/// The passphrase from `--passphrase-file`, else from the environment.
pub(crate) fn read_passphrase(args: &PassphraseArgs) -> Result<Passphrase> {
    if let Some(path) = &args.passphrase_file {
        let contents = fs::read(path)
            .with_context(|| format!("cannot read the passphrase file {}", path.display()))?;
        if fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o077 != 0) {
            eprintln!(
                "vaxcert: warning: the passphrase file {} is readable by others",
                path.display()
            );
        }
        return Passphrase::from_file_contents(contents)
            .with_context(|| format!("unusable passphrase in {}", path.display()));
    }
    match std::env::var(PASSPHRASE_ENV) {
        Ok(value) => Passphrase::new(value)
            .with_context(|| format!("unusable passphrase in {PASSPHRASE_ENV}")),
        Err(std::env::VarError::NotPresent) => Err(anyhow!(
            "no keystore passphrase: set {PASSPHRASE_ENV} or pass --passphrase-file FILE"
        )),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(anyhow!("{PASSPHRASE_ENV} is not UTF-8 text"))
        }
    }
}

/// Makes sure `dir` exists (created 0700) and is empty: `init` never overwrites a keystore.
pub(crate) fn prepare_empty_directory(dir: &Path) -> Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "refusing to initialise a keystore in {}: the directory is not empty",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(error) if error.kind() == ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(DIRECTORY_MODE)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display())),
        Err(error) => {
            Err(error).with_context(|| format!("cannot read the directory {}", dir.display()))
        }
    }
}

/// Reads the keystore in `dir`, decrypting nothing.
pub(crate) fn open(dir: &Path) -> Result<Keystore> {
    let mut read_error = None;
    let keystore =
        Keystore::from_files(Backend::default(), |name| match fs::read(dir.join(name)) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                if error.kind() != ErrorKind::NotFound {
                    read_error.get_or_insert((name.to_owned(), error));
                }
                None
            }
        });
    if let Some((name, error)) = read_error {
        return Err(error).with_context(|| format!("cannot read {}", dir.join(name).display()));
    }
    match keystore {
        Err(KeystoreError::MissingFile { name }) if name == INDEX_FILE => bail!(
            "no keystore in {} (no {INDEX_FILE}): create one with `vaxcert keys init`",
            dir.display()
        ),
        other => other.with_context(|| format!("cannot open the keystore in {}", dir.display())),
    }
}

/// Writes the files that are new or changed, in order (the index last), each atomically; returns them.
pub(crate) fn write_files(dir: &Path, files: &[KeystoreFile]) -> Result<Vec<(String, FileKind)>> {
    let mut written = Vec::new();
    for file in files {
        let target = dir.join(&file.name);
        if fs::read(&target).is_ok_and(|existing| existing == file.contents) {
            continue;
        }
        let mode = match file.kind {
            FileKind::Secret => SECRET_MODE,
            FileKind::Public => PUBLIC_MODE,
        };
        write_atomically(dir, &file.name, &file.contents, mode)
            .with_context(|| format!("cannot write {}", target.display()))?;
        written.push((file.name.clone(), file.kind));
    }
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .with_context(|| format!("cannot sync the directory {}", dir.display()))?;
    Ok(written)
}

/// Temporary file created with `mode` (so a secret is never readable by others, whatever the umask),
/// written, fsynced, then renamed over `name`.
pub(crate) fn write_atomically(
    dir: &Path,
    name: &str,
    contents: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let temporary = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        file.set_permissions(Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, dir.join(name))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}
