//! `vaxcert trust-list import`: reads a foreign DSC list — the EU gateway shape (a JSON array of
//! `{kid, country, certificateType, thumbprint, timestamp, rawData, signature}`) or a national list
//! signed as ours is (a JWS under a pinned key) — checks every DSC with the `trust-list` library, and
//! writes the accepted ones in the gateway shape for `vaxcert verify --dsc-list`.
//!
//! With `--anchors`, a DSC is accepted only when it chains to a CSCA of its own country
//! ([`trust_list::import`]). Without anchors the operator must say `--no-csca-check`: every other check
//! still applies ([`trust_list::import_without_csca`]), and the summary says that no chain was checked.
//! The written file is unsigned (`signature` empty): a local record of what was checked, trusted like a
//! `--dsc`. The summary names countries, kids and reasons only: a DSC list holds no personal data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use keys::{Backend, Certificate};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use trust_list::{
    GatewayEntry, ImportEntry, ImportOutcome, PinnedKey, TrustList, anchors_from_json,
    gateway_from_json, gateway_to_json, import, import_without_csca,
};

use crate::commands::keys::{PUBLIC_MODE, write_atomically};
use crate::fetch;
use crate::output::outln;

/// Arguments of `vaxcert trust-list import`.
#[derive(Debug, Args)]
pub(super) struct ImportArgs {
    /// The foreign list: a file or an http(s) URL.
    #[arg(long, value_name = "FILE|URL")]
    from: String,
    /// The list's format (default: sniffed — a JSON array is a gateway list, a JSON object a JWS).
    #[arg(long, value_enum)]
    format: Option<ListFormat>,
    /// The CSCAs the DSCs must chain to, each DSC to one of its own country: an anchor file
    /// (`anchors.json`, as `trust-list build` writes) or a directory of PEM or DER certificates.
    #[arg(
        long,
        value_name = "FILE|DIR",
        required_unless_present = "no_csca_check"
    )]
    anchors: Option<PathBuf>,
    /// Accept DSCs without checking that a CSCA issued them (every other check still applies): only
    /// for a list trusted for how it was obtained.
    #[arg(long, conflicts_with = "anchors")]
    no_csca_check: bool,
    /// The pinned public key (PEM) a JWS list must be signed with.
    #[arg(long, value_name = "FILE")]
    trust_list_key: Option<PathBuf>,
    /// Import as of this time (RFC 3339) instead of now: DSCs expired then are refused.
    #[arg(long, value_name = "TIME", value_parser = crate::commands::verify::parse_time)]
    at: Option<OffsetDateTime>,
    /// Where to write the accepted DSCs (EU gateway shape), for `vaxcert verify --dsc-list`.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// The shapes of foreign lists `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    /// The EU gateway's JSON array of DSC entries.
    Gateway,
    /// A national list signed as ours is: JWS, flattened JSON serialization.
    Jws,
}

impl ListFormat {
    fn sniff(bytes: &[u8]) -> Option<ListFormat> {
        match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
            Some(b'[') => Some(ListFormat::Gateway),
            Some(b'{') => Some(ListFormat::Jws),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ListFormat::Gateway => "EU gateway list",
            ListFormat::Jws => "JWS national list",
        }
    }
}

/// Runs `vaxcert trust-list import`.
pub(super) fn run(args: &ImportArgs) -> Result<()> {
    let now = args
        .at
        .unwrap_or_else(OffsetDateTime::now_utc)
        .unix_timestamp();
    let bytes = fetch::read_document(&args.from)?;
    let format = match args.format {
        Some(format) => format,
        None => ListFormat::sniff(&bytes).with_context(|| {
            format!(
                "{} is neither a JSON array (gateway) nor a JSON object (JWS): give --format",
                args.from
            )
        })?,
    };
    let entries = read_entries(&bytes, format, args, now)?;
    let anchors = args.anchors.as_deref().map(read_anchors).transpose()?;
    let outcome = match &anchors {
        Some(anchors) => import(&entries, anchors, now, Backend::default()),
        None => import_without_csca(&entries, now),
    };
    // The summary is a courtesy: a closed stdout does not stop the list from being written.
    crate::output::unless_closed(print_summary(
        args,
        format,
        anchors.as_deref(),
        &entries,
        &outcome,
    ))?;
    if outcome.accepted.is_empty() && !entries.is_empty() {
        bail!("no DSC of {} was accepted: nothing written", args.from);
    }
    write_list(&args.out, &outcome, now)?;
    outln!(
        "written: {} DSC(s) to {} (use with `vaxcert verify --dsc-list`)",
        outcome.accepted.len(),
        args.out.display()
    )?;
    Ok(())
}

fn read_entries(
    bytes: &[u8],
    format: ListFormat,
    args: &ImportArgs,
    now: i64,
) -> Result<Vec<ImportEntry>> {
    match format {
        ListFormat::Gateway => Ok(gateway_from_json(bytes)
            .with_context(|| format!("{} is not an EU gateway list", args.from))?
            .into_iter()
            .map(ImportEntry::from)
            .collect()),
        ListFormat::Jws => {
            let Some(path) = &args.trust_list_key else {
                bail!("a JWS list needs --trust-list-key, the key it must be signed with");
            };
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let pinned = PinnedKey::from_pem(Backend::default(), &text)
                .with_context(|| format!("{} is not a public key", path.display()))?;
            let list = TrustList::verify(bytes, &[pinned], now)
                .with_context(|| format!("the trust list {} was refused", args.from))?;
            Ok(list.dscs().iter().map(ImportEntry::from).collect())
        }
    }
}

/// CSCAs from an anchor file, or from every file of a directory (PEM, DER or base64 DER).
fn read_anchors(path: &Path) -> Result<Vec<Certificate>> {
    if !path.is_dir() {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        return anchors_from_json(&bytes)
            .with_context(|| format!("{} is not an anchor file", path.display()));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|file| file.is_file());
    files.sort();
    files
        .iter()
        .map(|file| {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            Certificate::parse_any(&bytes)
                .with_context(|| format!("{} is not a certificate", file.display()))
        })
        .collect()
}

fn print_summary(
    args: &ImportArgs,
    format: ListFormat,
    anchors: Option<&[Certificate]>,
    entries: &[ImportEntry],
    outcome: &ImportOutcome,
) -> std::io::Result<()> {
    outln!(
        "{}: {} entr(ies) read from {}",
        format.name(),
        entries.len(),
        args.from
    )?;
    match anchors {
        Some(anchors) => outln!(
            "CSCA check: each DSC must chain to a CSCA of its own country ({} anchor(s))",
            anchors.len()
        )?,
        None => outln!(
            "CSCA check: NONE (--no-csca-check) — DSCs were accepted without checking who issued them"
        )?,
    }
    let mut imported: BTreeMap<&str, usize> = BTreeMap::new();
    for dsc in &outcome.accepted {
        *imported.entry(dsc.country()).or_default() += 1;
    }
    outln!("imported: {}", outcome.accepted.len())?;
    for (country, count) in &imported {
        outln!("  {country}: {count}")?;
    }
    outln!("refused: {}", outcome.rejected.len())?;
    let mut refused: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for rejection in &outcome.rejected {
        *refused
            .entry((&rejection.country, rejection.reason.to_string()))
            .or_default() += 1;
    }
    for ((country, reason), count) in &refused {
        outln!("  {country}: {count} — {reason}")?;
    }
    Ok(())
}

/// Writes the accepted DSCs in the gateway shape, stamped `now`, unsigned.
fn write_list(out: &Path, outcome: &ImportOutcome, now: i64) -> Result<()> {
    let timestamp = OffsetDateTime::from_unix_timestamp(now)?.format(&Rfc3339)?;
    let entries: Vec<GatewayEntry> = outcome
        .accepted
        .iter()
        .map(|dsc| {
            let entry = ImportEntry::from(dsc);
            GatewayEntry {
                kid: entry.kid,
                country: entry.country,
                certificate_type: entry.certificate_type,
                thumbprint: entry.thumbprint,
                timestamp: timestamp.clone(),
                raw_data: entry.raw_data,
                signature: String::new(),
            }
        })
        .collect();
    let json = gateway_to_json(&entries)?;
    let name = out
        .file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("{} names no file", out.display()))?;
    let dir = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    write_atomically(dir, name, &json, PUBLIC_MODE)
        .with_context(|| format!("cannot write {}", out.display()))
}
