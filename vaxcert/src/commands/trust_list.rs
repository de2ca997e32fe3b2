//! `vaxcert trust-list build`: publishes the national trust list from the keystore; `vaxcert trust-list
//! import` ([`import`]) checks a foreign list and keeps the DSCs that pass.
//!
//! Writes, into the output directory:
//! - `trust-list.jws`: the signed national list (JWS, flattened JSON), the document `GET /trust-list` serves;
//! - `trust-list-dsc.json`: the same DSCs in the EU gateway entry shape (`GET /trust-list/dsc`);
//! - `anchors.json`: our CSCA (`GET /trust-list/anchors`);
//! - `revocation-list.jws`: the signed revocation list (`GET /revocation-list`), empty until the issuer
//!   revokes certificates;
//! - `trust-list-signer.pub.pem`: the public key verifiers pin out of band.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use issuer::ledger::{Ledger, RevokedHashes};
use keys::keystore::DEFAULT_CERTIFICATE_VALIDITY_S;
use time::OffsetDateTime;
use trust_list::{
    HashType, RevocationListBuilder, TrustListBuilder, anchors_to_json, gateway_to_json,
};

mod import;

use super::keys::{
    DAY_S, PUBLIC_MODE, PassphraseArgs, certificate_validity, open, read_passphrase,
    write_atomically,
};
use crate::output::outln;

/// Arguments of `vaxcert trust-list`.
#[derive(Debug, Args)]
pub struct TrustListArgs {
    #[command(subcommand)]
    command: TrustListCommand,
}

#[derive(Debug, Subcommand)]
enum TrustListCommand {
    /// Build and sign the national trust list, its gateway and anchor views, and the revocation list.
    Build(BuildArgs),
    /// Import a foreign DSC list (EU gateway shape or JWS), checking each DSC against the countries'
    /// CSCAs, and write the accepted DSCs for `vaxcert verify --dsc-list`.
    Import(import::ImportArgs),
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// The keystore directory (`vaxcert keys init`).
    #[arg(long = "keys", value_name = "DIR")]
    keys: PathBuf,
    /// Where to write the published documents.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The list's version; must grow with every publication (default: the current Unix time).
    #[arg(long)]
    version: Option<u64>,
    /// How long the published list is valid, in days; verifiers must fetch a new one before then.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    validity_days: i64,
    /// Build as of this time (RFC 3339) instead of now: for rehearsing a rotation.
    #[arg(long, value_name = "TIME", value_parser = super::verify::parse_time)]
    at: Option<OffsetDateTime>,
    /// How long the health certificates the DSCs sign are valid, in days (keeps retired DSCs listed).
    #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_CERTIFICATE_VALIDITY_S / DAY_S)]
    certificate_validity_days: i64,
    /// Put the certificates this ledger has revoked on the revocation list (`sqlite:PATH` or
    /// `postgres://…`; `vaxcert up` serves the same list live at `/revocation-list`).
    #[arg(long, value_name = "URL")]
    ledger: Option<String>,
    #[command(flatten)]
    passphrase: PassphraseArgs,
}

/// Runs `vaxcert trust-list`.
pub fn run(args: TrustListArgs) -> Result<ExitCode> {
    match args.command {
        TrustListCommand::Build(args) => build(&args)?,
        TrustListCommand::Import(args) => import::run(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn build(args: &BuildArgs) -> Result<()> {
    if args.validity_days < 1 {
        bail!("--validity-days must be at least 1");
    }
    let keystore = open(&args.keys)?;
    let passphrase = read_passphrase(&args.passphrase)?;
    let signer = keystore
        .trust_list_signer(&passphrase)
        .context("cannot unlock the trust-list signing key")?;
    let spki = keystore.trust_list_signer_spki();
    let now = args
        .at
        .unwrap_or_else(OffsetDateTime::now_utc)
        .unix_timestamp();
    let version = args
        .version
        .unwrap_or(u64::try_from(now).unwrap_or_default());
    let expires_at = now + args.validity_days * DAY_S;
    let validity = certificate_validity(args.certificate_validity_days)?;

    let mut builder = TrustListBuilder::new(keystore.country())?;
    for dsc in keystore.listed_dscs(now, validity) {
        builder.add(dsc.certificate().clone(), keystore.country())?;
    }
    let national = builder.build(version, now, expires_at, &signer, spki)?;
    let gateway = gateway_to_json(&builder.gateway_entries(now, &signer)?)?;
    let anchors = anchors_to_json(std::slice::from_ref(keystore.csca()))?;
    let mut revocations = RevocationListBuilder::new();
    for hashes in revoked_hashes(args.ledger.as_deref(), now)? {
        revocations
            .add(HashType::Uci, hashes.uci)
            .add(HashType::CountryCodeUci, hashes.country_uci)
            .add(HashType::Signature, hashes.signature);
    }
    let revocation = revocations.build(version, now, expires_at, &signer, spki)?;
    let pin = pem::encode(&pem::Pem::new("PUBLIC KEY", spki.to_vec()));

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let files: [(&str, &[u8]); 5] = [
        ("trust-list.jws", national.as_bytes()),
        ("trust-list-dsc.json", &gateway),
        ("anchors.json", &anchors),
        ("revocation-list.jws", revocation.as_bytes()),
        ("trust-list-signer.pub.pem", pin.as_bytes()),
    ];
    for (name, contents) in files {
        write_atomically(&args.out, name, contents, PUBLIC_MODE)
            .with_context(|| format!("cannot write {}", args.out.join(name).display()))?;
    }
    outln!(
        "trust list version {version}: {} DSC(s), valid until {} — written to {}",
        builder.len(),
        OffsetDateTime::from_unix_timestamp(expires_at)
            .ok()
            .and_then(|t| t
                .format(&time::format_description::well_known::Rfc3339)
                .ok())
            .unwrap_or_default(),
        args.out.display()
    )?;
    outln!(
        "revocation list: {} revoked certificate(s)",
        revocations.len() / 3
    )?;
    outln!(
        "pin of the trust-list signing key: {}",
        keystore.trust_list_signer_pin()
    )?;
    Ok(())
}

/// The hashes of the unexpired certificates the ledger at `url` has revoked; none without a ledger.
fn revoked_hashes(url: Option<&str>, now: i64) -> Result<Vec<RevokedHashes>> {
    let Some(url) = url else {
        return Ok(Vec::new());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let ledger = Ledger::open(url).await.context("cannot open the ledger")?;
        let hashes = ledger.revoked_hashes(now).await;
        ledger.close().await;
        hashes.context("cannot read the revoked certificates")
    })
}
