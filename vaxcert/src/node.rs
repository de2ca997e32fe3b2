//! One machine's installation: the data directory, its keys, its ledger, and the issuing stack opened
//! over them. `vaxcert up`, `issue`, `renew`, `revoke` and `tokens` all start here.
//!
//! ```text
//! <data>/                                      0700 when created here
//! <data>/keys/                                 the encrypted keystore (`vaxcert keys`)
//! <data>/DEVELOPMENT-ONLY-keystore-passphrase  0600; written by `vaxcert up` on first run only
//! <data>/ledger.sqlite (-wal, -shm)           0600; the ledger, unless DATABASE_URL points elsewhere
//! <data>/internal-api.token                    0600; the development client's bearer token
//! <data>/verifier-operator.token               0600; unlocks the verifier's full report (`vaxcert up`)
//! <data>/trust-list-signer.pub.pem             the key verifiers pin (`--trust-list-key`)
//! <data>/citizen-portal.secret                 0600; the citizen portal's secret (`crate::citizen_portal`)
//! <data>/outbox/sms.jsonl                      0600; development text messages (`vaxcert up`)
//! ```
//!
//! The EU value sets come built in (`crate::value_sets`) unless `--value-sets` or `DCC_SPEC_DIR` names
//! others.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use issuer::citizen::PortalSecret;
use issuer::ledger::{Ledger, Scope, redacted_url};
use issuer::publication::{PublicationConfig, Publisher};
use issuer::service::{Clock, IssuanceService};
use issuer::tokens::NewToken;
use issuer::{Issuer, IssuerConfig};
use keys::keystore::INDEX_FILE;
use keys::{Backend, Keystore, Passphrase, SignatureAlgorithm, Signer};
use verifier::{TrustStore, Verifier};

use crate::citizen_portal::{PORTAL_SECRET_FILE, portal_secret};
use crate::commands::keys::{
    DIRECTORY_MODE, PASSPHRASE_ENV, PassphraseArgs, SECRET_MODE, open, prepare_empty_directory,
    read_passphrase, write_atomically, write_files,
};
use crate::value_sets::LoadedValueSets;

/// The file `vaxcert up` keeps a generated development passphrase in. Production sets
/// `$VAXCERT_KEYSTORE_PASSPHRASE` or passes `--passphrase-file`.
pub const DEV_PASSPHRASE_FILE: &str = "DEVELOPMENT-ONLY-keystore-passphrase";
/// The development client's bearer token file.
pub const TOKEN_FILE: &str = "internal-api.token";
/// The verifier service's operator token file: callers presenting it get the full report.
pub const OPERATOR_TOKEN_FILE: &str = "verifier-operator.token";
/// The SQLite ledger's file name.
pub const LEDGER_FILE: &str = "ledger.sqlite";
/// The trust-list signing key's public PEM, written by `vaxcert up` for verifiers to pin.
pub const TRUST_LIST_KEY_FILE: &str = "trust-list-signer.pub.pem";
/// The name of the API client `vaxcert up` creates on first run.
pub const DEV_CLIENT: &str = "development";

/// Where the installation lives and how to reach its secrets: the options every service command shares.
/// `Debug` leaves out the database URL, which may hold a password.
#[derive(Args)]
pub struct NodeArgs {
    /// The data directory (keys, ledger, token).
    #[arg(long, value_name = "DIR", env = "VAXCERT_DATA", default_value = "data")]
    pub data: PathBuf,
    /// The ledger database: `postgres://…` or `sqlite:PATH` (default: SQLite under the data directory).
    #[arg(long, value_name = "URL", env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The EU value-set directory (default: `$DCC_SPEC_DIR/eu-dcc-valuesets`, else the snapshot built
    /// into this binary).
    #[arg(long, value_name = "DIR")]
    pub value_sets: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) passphrase: PassphraseArgs,
}

impl std::fmt::Debug for NodeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeArgs")
            .field("data", &self.data)
            .field("ledger", &self.ledger_description())
            .field("value_sets", &self.value_sets)
            .field("passphrase", &self.passphrase)
            .finish()
    }
}

impl NodeArgs {
    /// The keystore directory.
    pub fn keys_dir(&self) -> PathBuf {
        self.data.join("keys")
    }

    /// The ledger URL: `--database-url` / `DATABASE_URL`, else the SQLite file in the data directory.
    pub fn ledger_url(&self) -> String {
        match self.database_url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => url.to_owned(),
            None => format!("sqlite:{}", self.data.join(LEDGER_FILE).display()),
        }
    }

    /// Where the ledger is, for messages: no credentials, no query parameter values
    /// ([`issuer::ledger::redacted_url`]).
    pub fn ledger_description(&self) -> String {
        match self.database_url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => redacted_url(url),
            None => format!("SQLite {}", self.data.join(LEDGER_FILE).display()),
        }
    }

    /// Opens (and migrates) the ledger.
    pub async fn open_ledger(&self) -> Result<Arc<Ledger>> {
        let ledger = Ledger::open(&self.ledger_url())
            .await
            .with_context(|| format!("cannot open the ledger ({})", self.ledger_description()))?;
        Ok(Arc::new(ledger))
    }

    /// The keystore passphrase: `--passphrase-file`, else `$VAXCERT_KEYSTORE_PASSPHRASE`, else the
    /// development passphrase file `vaxcert up` wrote.
    pub fn passphrase(&self) -> Result<Passphrase> {
        let dev_file = self.data.join(DEV_PASSPHRASE_FILE);
        let explicit =
            self.passphrase.passphrase_file.is_some() || std::env::var_os(PASSPHRASE_ENV).is_some();
        if explicit || !dev_file.exists() {
            return read_passphrase(&self.passphrase);
        }
        read_passphrase(&PassphraseArgs {
            passphrase_file: Some(dev_file),
        })
    }

    /// The value sets confirmations are validated against: `--value-sets`, `$DCC_SPEC_DIR`, or the
    /// built-in snapshot.
    pub fn value_sets(&self) -> Result<LoadedValueSets> {
        LoadedValueSets::load(self.value_sets.as_deref())
    }
}

/// What `vaxcert up` created on first run.
#[derive(Debug, Default)]
pub struct Bootstrapped {
    /// A development keystore and its passphrase file.
    pub keystore: bool,
    /// The development client and its token file.
    pub token: bool,
}

/// Creates what a development installation lacks: a keystore (ES256, country VN) whose generated
/// passphrase goes to a 0600 file marked development-only — only when no passphrase was given, so a
/// production keystore is never created this way.
pub fn bootstrap_keys(args: &NodeArgs, now: i64) -> Result<bool> {
    let keys = args.keys_dir();
    if keys.join(INDEX_FILE).exists() {
        return Ok(false);
    }
    let explicit =
        args.passphrase.passphrase_file.is_some() || std::env::var_os(PASSPHRASE_ENV).is_some();
    let passphrase = if explicit {
        read_passphrase(&args.passphrase)?
    } else {
        let generated = NewToken::generate().map_err(|_| anyhow!("no randomness"))?;
        create_data_directory(&args.data)?;
        write_atomically(
            &args.data,
            DEV_PASSPHRASE_FILE,
            generated.expose().as_bytes(),
            SECRET_MODE,
        )
        .context("cannot write the development passphrase")?;
        Passphrase::new(generated.expose().to_owned())?
    };
    prepare_empty_directory(&keys)?;
    let keystore = Keystore::init(
        "VN",
        SignatureAlgorithm::Es256,
        now,
        &passphrase,
        Backend::default(),
    )
    .context("cannot create the keystore")?;
    write_files(&keys, &keystore.to_files()?)?;
    Ok(true)
}

/// Creates the data directory and its missing parents, readable by the owner only (0700); an existing
/// one is left as it is.
pub fn create_data_directory(data: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIRECTORY_MODE)
        .create(data)
        .with_context(|| format!("cannot create {}", data.display()))
}

/// Creates the development API client (all scopes) and writes its token to a 0600 file, unless the
/// file exists.
pub async fn bootstrap_token(args: &NodeArgs, ledger: &Ledger, now: i64) -> Result<bool> {
    if args.data.join(TOKEN_FILE).exists() {
        return Ok(false);
    }
    let token = NewToken::generate().map_err(|_| anyhow!("no randomness"))?;
    let name = format!("{DEV_CLIENT}-{now}");
    ledger
        .create_client(
            &name,
            token.hash(),
            &[Scope::Issue, Scope::Read, Scope::Revoke, Scope::Correct],
            now,
        )
        .await
        .context("cannot register the development API client")?;
    write_atomically(
        &args.data,
        TOKEN_FILE,
        token.expose().as_bytes(),
        SECRET_MODE,
    )
    .context("cannot write the API token file")?;
    Ok(true)
}

/// The verifier's operator token: read from its file, which is created (0600, random) when missing.
/// Returns the token and whether the file was created.
pub fn bootstrap_operator_token(args: &NodeArgs) -> Result<(String, bool)> {
    let path = args.data.join(OPERATOR_TOKEN_FILE);
    if path.exists() {
        let token = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if token.trim().is_empty() {
            bail!("{} is empty", path.display());
        }
        return Ok((token.trim().to_owned(), false));
    }
    let token = NewToken::generate().map_err(|_| anyhow!("no randomness"))?;
    create_data_directory(&args.data)?;
    write_atomically(
        &args.data,
        OPERATOR_TOKEN_FILE,
        token.expose().as_bytes(),
        SECRET_MODE,
    )
    .context("cannot write the verifier operator token file")?;
    Ok((token.expose().to_owned(), true))
}

/// The issuing stack of an installation.
pub struct Node {
    /// The issuing service.
    pub service: Arc<IssuanceService>,
    /// The trust-list and revocation-list publisher.
    pub publisher: Arc<Publisher>,
    /// The trust-list signing key's pin, for verifiers.
    pub trust_list_pin: String,
    /// The trust-list signing key as a `PUBLIC KEY` PEM, what verifiers pass to `--trust-list-key`.
    pub trust_list_key_pem: String,
    /// The value sets confirmations are validated against.
    pub value_sets: LoadedValueSets,
    /// The citizen portal's secret, when the installation has one ([`crate::citizen_portal`]): with it
    /// the service records who may download each certificate.
    pub portal_secret: Option<Arc<PortalSecret>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").finish_non_exhaustive()
    }
}

/// The publishing half of an installation: the keystore's public parts and its trust-list signing key,
/// with revocations from the ledger. All `vaxcert serve trust-list` needs; the DSC key stays locked.
pub struct Publication {
    /// The trust-list and revocation-list publisher.
    pub publisher: Arc<Publisher>,
    /// The trust-list signing key's pin, for verifiers.
    pub trust_list_pin: String,
    /// The trust-list signing key as a `PUBLIC KEY` PEM, what verifiers pass to `--trust-list-key`.
    pub trust_list_key_pem: String,
}

impl std::fmt::Debug for Publication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publication")
            .field("trust_list_pin", &self.trust_list_pin)
            .finish_non_exhaustive()
    }
}

/// Unlocks `keystore`'s trust-list signing key and signs the key documents at `now`: the publisher of
/// its trust list, and of the ledger's revocations.
pub fn open_publication(
    keystore: Keystore,
    passphrase: &Passphrase,
    ledger: Arc<Ledger>,
    now: i64,
) -> Result<Publication> {
    let list_key = keystore
        .trust_list_signer(passphrase)
        .context("cannot unlock the trust-list signing key")?;
    let trust_list_pin = keystore.trust_list_signer_pin();
    let trust_list_key_pem = pem::encode(&pem::Pem::new(
        "PUBLIC KEY",
        keystore.trust_list_signer_spki().to_vec(),
    ));
    let publisher = Publisher::new(
        keystore,
        Arc::new(list_key),
        ledger,
        PublicationConfig::default(),
        now,
    )?;
    Ok(Publication {
        publisher: Arc::new(publisher),
        trust_list_pin,
        trust_list_key_pem,
    })
}

/// Opens the keystore, unlocks the current DSC and the trust-list key, publishes our trust list, and
/// builds the issuer whose self-check trusts exactly what that list says. The passphrase is
/// [`NodeArgs::passphrase`] (the development file `vaxcert up` wrote as the last resort).
pub async fn open_node(args: &NodeArgs, ledger: Arc<Ledger>, clock: Clock) -> Result<Node> {
    let keystore = open(&args.keys_dir())?;
    open_node_with(args, keystore, &args.passphrase()?, ledger, clock).await
}

/// As [`open_node`], over `keystore` unlocked with `passphrase`.
pub async fn open_node_with(
    args: &NodeArgs,
    keystore: Keystore,
    passphrase: &Passphrase,
    ledger: Arc<Ledger>,
    clock: Clock,
) -> Result<Node> {
    let loaded_value_sets = args.value_sets()?;
    let value_sets = Arc::clone(&loaded_value_sets.sets);
    let dsc_key = keystore
        .current_signer(passphrase)
        .context("cannot unlock the current DSC key")?;
    let dsc = keystore.current_dsc().certificate().clone();
    let now = clock();
    if now > dsc.not_after() {
        bail!("the current DSC has expired: rotate it with `vaxcert keys rotate`");
    }
    let backend = keystore.backend();
    let publication = open_publication(keystore, passphrase, Arc::clone(&ledger), now)?;
    let published = publication.publisher.key_documents(now)?;
    let store: TrustStore = published.verified.store(backend);
    let verifier = Verifier::new(Arc::new(store), Some(Arc::clone(&value_sets)));
    let signer: Arc<dyn Signer> = Arc::new(dsc_key);
    let issuer = Issuer::new(signer, dsc, verifier, IssuerConfig::default());
    let mut service = IssuanceService::new(Arc::new(issuer), ledger, value_sets, clock);
    let portal_secret = if args.data.join(PORTAL_SECRET_FILE).exists() {
        let (secret, _) = portal_secret(&args.data, false)?;
        service = service.with_portal_secret(Arc::clone(&secret));
        Some(secret)
    } else {
        None
    };
    Ok(Node {
        portal_secret,
        value_sets: loaded_value_sets,
        trust_list_pin: publication.trust_list_pin,
        trust_list_key_pem: publication.trust_list_key_pem,
        service: Arc::new(service),
        publisher: publication.publisher,
    })
}

/// What a production service (`vaxcert serve issuer`, `serve trust-list`) needs before it opens
/// anything, checked without creating any of it: the keystore, an explicit passphrase
/// (`$VAXCERT_KEYSTORE_PASSPHRASE` or `--passphrase-file`, never the development file) and, for the
/// default SQLite ledger, its file. Each missing piece is an error naming the command that makes it.
pub fn production_prerequisites(args: &NodeArgs) -> Result<(Keystore, Passphrase)> {
    let keys = args.keys_dir();
    if !keys.join(INDEX_FILE).exists() {
        bail!(
            "no keystore in {}: create one with `vaxcert keys init --dir {} --country VN` (with {PASSPHRASE_ENV} set)",
            keys.display(),
            keys.display()
        );
    }
    let keystore = open(&keys)?;
    let passphrase = read_passphrase(&args.passphrase)?;
    let no_database_url = args
        .database_url
        .as_deref()
        .is_none_or(|url| url.is_empty());
    let ledger_file = args.data.join(LEDGER_FILE);
    if no_database_url && !ledger_file.exists() {
        bail!(
            "no ledger at {}: set DATABASE_URL (or --database-url), or create the SQLite ledger and the registry's token with `vaxcert tokens create national-registry --data {}`",
            ledger_file.display(),
            args.data.display()
        );
    }
    Ok((keystore, passphrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_descriptions_never_show_the_database_password() {
        let args = NodeArgs {
            data: PathBuf::from("data"),
            database_url: Some(String::from(
                "postgres://issuer:s3cret-pw@db.example:5432/ledger?password=s3cret-pw",
            )),
            value_sets: None,
            passphrase: PassphraseArgs {
                passphrase_file: None,
            },
        };
        assert_eq!(
            args.ledger_description(),
            "postgres://db.example:5432/ledger?password=***"
        );
        assert!(!format!("{args:?}").contains("s3cret-pw"));
        assert!(
            args.ledger_url().contains("s3cret-pw"),
            "the URL itself is used as given"
        );
    }
}
