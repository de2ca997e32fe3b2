//! `vaxcert verify`: the stable CLI contract of `design.md`.
//!
//! Exit codes: one input → 0 valid, 1 invalid (also when stdout was closed before the report was
//! written); batch (`-`) → 0 once every line has its report, or once stdout is closed (`| head`); 2 on a
//! usage or I/O error.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use keys::{Backend, Certificate};
use rayon::prelude::*;
use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};
use trust_list::PinnedKey;
use verifier::{Detail, Input, Report, Verifier};

use crate::fetch;
use crate::trust::{
    DEFAULT_TRUST_LIST_MAX_AGE_HOURS, SignedDocument, TrustDocuments, dscs_from_gateway_list,
    verifier_from_documents,
};
use crate::value_sets::LoadedValueSets;

/// Lines verified together in batch mode, in parallel, before their reports are written in order.
const BATCH_LINES: usize = 4096;

/// Lines one task of a batch verifies in a row, into one output buffer.
const TASK_LINES: usize = 64;

/// The usual length of one report line with its payload, to size the output buffers.
const REPORT_BYTES: usize = 1024;

/// Arguments of `vaxcert verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print the full report as JSON (batch mode always does, one report per line).
    #[arg(long)]
    json: bool,
    /// The validation clock, RFC 3339 / ISO 8601 with an offset (default: now).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<OffsetDateTime>,
    /// Trust exactly this DSC (DER, PEM, or base64 DER); repeatable.
    #[arg(long = "dsc", value_name = "FILE")]
    dscs: Vec<PathBuf>,
    /// Directory of the EU DCC value-set JSON files (default: $DCC_SPEC_DIR/eu-dcc-valuesets, else the
    /// snapshot built into this binary).
    #[arg(long, value_name = "DIR")]
    value_sets: Option<PathBuf>,
    /// Where the signature cannot be checked, show the decoded content under `unverified`.
    #[arg(long)]
    show_unverified: bool,
    /// Trust the DSCs of this signed national trust list (a file or an http(s) URL); needs
    /// `--trust-list-key`.
    #[arg(long, value_name = "FILE|URL", requires = "trust_list_key")]
    trust_list: Option<String>,
    /// The pinned public key (PEM) the trust list and the revocation list must be signed with.
    #[arg(long, value_name = "FILE")]
    trust_list_key: Option<PathBuf>,
    /// Also trust the DSCs of this list in the EU gateway shape (a file or an http(s) URL), as
    /// `vaxcert trust-list import` writes it: each entry is decoded and trusted under its listed kid and
    /// country, with no chain check (the import made it); repeatable.
    #[arg(long = "dsc-list", value_name = "FILE|URL")]
    dsc_lists: Vec<String>,
    /// Check certificates against this signed revocation list (a file or an http(s) URL).
    #[arg(long, value_name = "FILE|URL", requires = "trust_list_key")]
    revocation_list: Option<String>,
    /// How old the trust list may be, in hours, before nothing is called valid.
    #[arg(long, value_name = "HOURS", default_value_t = DEFAULT_TRUST_LIST_MAX_AGE_HOURS)]
    trust_list_max_age_hours: i64,
    /// An `HC1:` string, a path to a PNG or JPEG picture, or `-` for one input per line on stdin.
    input: String,
}

/// Runs `vaxcert verify`.
pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let at = args.at.unwrap_or_else(OffsetDateTime::now_utc);
    let verifier = build_verifier(&args, at)?;
    let detail = Detail {
        payload: true,
        unverified: args.show_unverified,
    };
    if args.input == "-" {
        verify_batch(&verifier, at, detail)?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = verify_one(&verifier, &args.input, at, detail)?;
    let mut out = crate::output::stdout();
    let written = if args.json {
        writeln!(out, "{}", report.to_json_line()).map_err(anyhow::Error::from)
    } else {
        write_human(&mut out, &report)
    };
    crate::output::unless_closed(written)?;
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Verifies one input: a path to a picture when such a file exists (and the text does not start with
/// `HC1:`), else the text itself.
fn verify_one(
    verifier: &Verifier,
    input: &str,
    at: OffsetDateTime,
    detail: Detail,
) -> Result<Report> {
    let path = Path::new(input);
    if !input.starts_with("HC1:") && path.is_file() {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(verifier.verify(Input::Image(&bytes), at, detail));
    }
    Ok(verifier.verify(Input::Text(input), at, detail))
}

/// Batch mode: one input per stdin line (an `HC1:` string or a path to a picture, as for one input),
/// one JSON report per stdout line, in input order, using every core.
///
/// Lines are read [`BATCH_LINES`] at a time into buffers kept from one batch to the next; each rayon task
/// verifies [`TASK_LINES`] lines in a row and writes their reports into one buffer of its own, and the
/// buffers are written to stdout in order.
fn verify_batch(verifier: &Verifier, at: OffsetDateTime, detail: Detail) -> Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut out = crate::output::stdout();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    loop {
        let count = read_lines(&mut stdin, &mut lines)?;
        let Some(batch) = lines.get(..count).filter(|batch| !batch.is_empty()) else {
            break;
        };
        let reports = batch
            .par_chunks(TASK_LINES)
            .map(|task| {
                let mut buffer = Vec::with_capacity(task.len() * REPORT_BYTES);
                for line in task {
                    write_report(&mut buffer, verifier, line, at, detail)?;
                }
                Ok(buffer)
            })
            .collect::<Result<Vec<Vec<u8>>>>()?;
        for report in &reports {
            out.write_all(report)?;
        }
        if count < BATCH_LINES {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

/// Reads up to [`BATCH_LINES`] lines into `lines` (reusing its buffers), each without its `\n`; returns how
/// many were read (fewer at the end of the input).
fn read_lines(input: &mut impl BufRead, lines: &mut Vec<Vec<u8>>) -> std::io::Result<usize> {
    for count in 0..BATCH_LINES {
        if lines.len() == count {
            lines.push(Vec::new());
        }
        let Some(line) = lines.get_mut(count) else {
            return Ok(count);
        };
        line.clear();
        if input.read_until(b'\n', line)? == 0 {
            return Ok(count);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
    }
    Ok(BATCH_LINES)
}

/// Appends the report of one batch line and a newline to `out`: the bytes of [`Report::to_json_line`].
///
/// A line that is not UTF-8 still gets its report (`E_BASE45`, or `E_PREFIX`), not an I/O error; one
/// final `\r` is dropped.
fn write_report(
    out: &mut Vec<u8>,
    verifier: &Verifier,
    line: &[u8],
    at: OffsetDateTime,
    detail: Detail,
) -> Result<()> {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    let report = verify_one(verifier, text, at, detail)?;
    let start = out.len();
    if serde_json::to_writer(&mut *out, &report).is_err() {
        out.truncate(start);
        out.extend_from_slice(report.to_json_line().as_bytes());
    }
    out.push(b'\n');
    Ok(())
}

/// The verifier the arguments describe: a verified trust list (plus any `--dsc` and `--dsc-list`), or
/// exactly those;
/// the revocation list when given; the value sets.
fn build_verifier(args: &VerifyArgs, at: OffsetDateTime) -> Result<Verifier> {
    let value_sets = Some(LoadedValueSets::load(args.value_sets.as_deref())?.sets);
    let pinned = match &args.trust_list_key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            vec![
                PinnedKey::from_pem(Backend::default(), &text)
                    .with_context(|| format!("{} is not a public key", path.display()))?,
            ]
        }
        None => Vec::new(),
    };
    let dscs = read_dscs(&args.dscs)?;
    let mut foreign = Vec::new();
    for source in &args.dsc_lists {
        foreign.extend(dscs_from_gateway_list(
            &fetch::read_document(source)?,
            source,
        )?);
    }
    let trust_list = args
        .trust_list
        .as_deref()
        .map(|source| Ok::<_, anyhow::Error>((fetch::read_document(source)?, source)))
        .transpose()?;
    let revocation_list = args
        .revocation_list
        .as_deref()
        .map(|source| Ok::<_, anyhow::Error>((fetch::read_document(source)?, source)))
        .transpose()?;
    Ok(verifier_from_documents(
        TrustDocuments {
            trust_list: signed(&trust_list),
            revocation_list: signed(&revocation_list),
            pinned: &pinned,
            dscs: &dscs,
            foreign: &foreign,
            max_age_s: args.trust_list_max_age_hours * 3600,
            value_sets,
        },
        at.unix_timestamp(),
    )?)
}

/// A document read from `source`, as [`verifier_from_documents`] takes it.
fn signed<'a>(document: &'a Option<(Vec<u8>, &'a str)>) -> Option<SignedDocument<'a>> {
    document
        .as_ref()
        .map(|(bytes, source)| SignedDocument { bytes, source })
}

fn read_dscs(dscs: &[PathBuf]) -> Result<Vec<Certificate>> {
    dscs.iter()
        .map(|path| {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read DSC {}", path.display()))?;
            Certificate::parse_any(&bytes)
                .with_context(|| format!("{} is not a certificate", path.display()))
        })
        .collect()
}

/// Parses the validation clock: RFC 3339, or ISO 8601 (which also takes offsets such as `+0200`).
pub(crate) fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .map_err(|_| format!("not an RFC 3339 / ISO 8601 time with offset: {text}"))
}

fn write_human(out: &mut impl Write, report: &Report) -> Result<()> {
    if report.valid {
        writeln!(out, "VALID: {}", report.message)?;
    } else {
        writeln!(out, "INVALID {}: {}", report.code, report.message)?;
    }
    if let Some(holder) = &report.holder {
        let names = [&holder.fnt, &holder.gnt].map(|n| n.as_deref().unwrap_or("-"));
        writeln!(out, "holder:  {} {}", names[0], names[1])?;
        writeln!(out, "born:    {}", holder.dob.as_deref().unwrap_or("-"))?;
    }
    for (label, value) in [("type", report.cert_type), ("alg", report.alg)] {
        if let Some(value) = value {
            writeln!(out, "{label:<8} {value}")?;
        }
    }
    if let Some(iss) = &report.iss {
        writeln!(out, "issuer:  {iss}")?;
    }
    if let Some(kid) = &report.kid {
        writeln!(out, "kid:     {kid}")?;
    }
    let checks = serde_json::to_value(&report.checks)?;
    if let Some(checks) = checks.as_object() {
        let line: Vec<String> = checks
            .iter()
            .map(|(name, state)| format!("{name}={}", state.as_str().unwrap_or("?")))
            .collect();
        writeln!(out, "checks:  {}", line.join(" "))?;
    }
    Ok(())
}
