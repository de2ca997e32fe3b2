//! `vaxcert issue --from confirmations.jsonl [--out certificates.jsonl]`: bulk issuance, for back-filling a
//! campaign. Each line is one dose confirmation, the JSON body of `POST /internal/v1/dose-confirmations`.
//!
//! The same rules as the internal API: a dose event the ledger holds with the same canonical hash is
//! *already issued* (no new signature), with another hash a *conflict*; a line that does not parse or
//! validate is *invalid*, reported by line number and field, never by content. A correction follows the
//! rules of `issuer::correction` with the run as the operator, who may correct any client's dose event:
//! another person's is *invalid*, one corrected already a *conflict*. The run goes on after
//! either, so a file can be re-run after a crash, or after fixing its bad lines, and finishes the job with
//! no duplicates.
//!
//! Batches are pipelined: while the ledger records batch *k* in one transaction, batch *k + 1* is parsed,
//! looked up, validated, signed and self-checked on every core. A certificate reaches `--out` only after
//! the transaction that recorded it committed — every certificate handed out has its ledger row.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use clap::Args;
use hcert::ValueSets;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use issuer::ledger::{
    CertificateRecord, CorrectionRefusal, CorrectionRights, Issuance, Ledger, LedgerError, Recorded,
};
use issuer::service::system_clock;
use issuer::{DoseConfirmation, FieldError, IssueError, IssuedCertificate, Issuer, Uvci};
use rayon::prelude::*;
use tokio::task::JoinHandle;

use crate::node::{NodeArgs, bootstrap_keys, open_node};

/// The actor of the audit entries a bulk run writes. The operator may correct any dose event (the
/// same-person rule still holds).
const ACTOR: &str = "cli";

/// A line longer than this is refused unread (a dose confirmation is well under 2 KiB).
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Arguments of `vaxcert issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The dose confirmations: a JSON-lines file, one request body of the internal API per line.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// Append one JSON line per certificate handed out (`dose_event_id`, `uvci`, `hc1`, `exp`), each
    /// written only after the ledger transaction that recorded it committed. When FILE exists the run
    /// resumes it: a torn last line is cut off, and certificates the ledger holds for lines of the input
    /// that FILE lacks (a crash between a commit and its write) are appended too, so FILE ends up with
    /// each dose event once.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Lines per batch: signed in parallel, recorded in one ledger transaction. Large batches spread
    /// the ledger's index writes over more rows (BENCHMARKS.md, "Bulk issuance").
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=50_000))]
    batch: u32,
    /// Also print a machine-readable progress line to stderr every N lines (counts and seconds only).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    progress_every: Option<u64>,
    /// Print where the time went at the end (wall-clock time per stage), for profiling.
    #[arg(long)]
    timings: bool,
    #[command(flatten)]
    node: NodeArgs,
}

/// Runs `vaxcert issue`: exit 0 when every line is issued or already issued, 1 when some were invalid,
/// conflicting or failed the self-check; errors (I/O, ledger, keys) exit 2 through the caller.
pub fn run(args: IssueArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(issue(args))
}

async fn issue(args: IssueArgs) -> Result<ExitCode> {
    let input = Input::open(&args.from)?;
    let out = args.out.as_deref().map(OutFile::open).transpose()?;
    let clock = system_clock();
    bootstrap_keys(&args.node, clock())?;
    let ledger = args.node.open_ledger().await?;
    let node = open_node(&args.node, Arc::clone(&ledger), clock).await;
    let node = match node {
        Ok(node) => node,
        Err(error) => {
            ledger.close().await;
            return Err(error);
        }
    };
    let mut run = Run::new(&args, &node.service, input, out);
    let outcome = run.all().await;
    let elapsed = run.started.elapsed();
    ledger.close().await;
    run.progress.bar.finish_and_clear();
    let counts = run.counts;
    println!("{}", counts.summary(elapsed));
    if args.timings {
        println!("{}", run.timings);
    }
    outcome?;
    Ok(if counts.all_issued() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What a run has done so far.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// Lines read and settled (blank lines are not counted).
    lines: u64,
    issued: u64,
    already_issued: u64,
    conflicts: u64,
    invalid: u64,
    failed: u64,
    /// Already-issued certificates written to `--out` from the ledger (resuming after a crash).
    recovered: u64,
}

impl Counts {
    fn all_issued(&self) -> bool {
        self.conflicts == 0 && self.invalid == 0 && self.failed == 0
    }

    fn add(&mut self, outcome: &Outcome) {
        self.lines += 1;
        match outcome {
            Outcome::Issued => self.issued += 1,
            Outcome::AlreadyIssued => self.already_issued += 1,
            Outcome::Conflict | Outcome::CorrectionRefused(_) => self.conflicts += 1,
            Outcome::Invalid(_) => self.invalid += 1,
            Outcome::SelfCheckFailed(_) => self.failed += 1,
        }
    }

    fn summary(&self, elapsed: Duration) -> String {
        let seconds = elapsed.as_secs_f64();
        let lines_per_s = rate(self.lines, seconds);
        let mut text = format!(
            "issued {}, already issued {}, conflicts {}, invalid {}",
            self.issued, self.already_issued, self.conflicts, self.invalid
        );
        if self.failed > 0 {
            text.push_str(&format!(", self-check failures {}", self.failed));
        }
        text.push_str(&format!(
            "; {} lines in {seconds:.2} s ({lines_per_s:.0} lines/s, {:.0} issued/s)",
            self.lines,
            rate(self.issued, seconds)
        ));
        if self.recovered > 0 {
            text.push_str(&format!(
                "; {} certificate(s) the ledger already held written to --out",
                self.recovered
            ));
        }
        text
    }
}

/// `count` per second.
fn rate(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Wall-clock time per stage, summed over batches. The ledger writes overlap the other stages; the
/// time the pipeline stood still waiting for them is `waiting for the ledger`.
#[derive(Debug, Default, Clone, Copy)]
struct Timings {
    read: Duration,
    parse: Duration,
    lookup: Duration,
    sign: Duration,
    record: Duration,
    wait: Duration,
    out: Duration,
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timings (s): read {:.2}, parse+hash {:.2}, ledger lookup {:.2}, validate+sign+self-check \
             {:.2}, ledger record (overlapped) {:.2}, waiting for the ledger {:.2}, --out and \
             reports {:.2}",
            self.read.as_secs_f64(),
            self.parse.as_secs_f64(),
            self.lookup.as_secs_f64(),
            self.sign.as_secs_f64(),
            self.record.as_secs_f64(),
            self.wait.as_secs_f64(),
            self.out.as_secs_f64()
        )
    }
}

/// What became of one line.
#[derive(Debug)]
enum Outcome {
    Issued,
    AlreadyIssued,
    Conflict,
    /// A correction refused for what the ledger holds, not for a field (corrected already).
    CorrectionRefused(CorrectionRefusal),
    Invalid(Problem),
    SelfCheckFailed(verifier::Code),
}

/// Why a line is invalid, in words that quote nothing from the line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Problem {
    NotUtf8,
    TooLong,
    /// Not JSON, or more than one value.
    Syntax {
        column: usize,
    },
    /// Well-formed JSON that is not a dose confirmation: a missing, unknown or mistyped field.
    Shape {
        path: String,
        what: &'static str,
    },
    /// A rule of validation.
    Field(FieldError),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NotUtf8 => f.write_str("not UTF-8 text"),
            Problem::TooLong => write!(f, "longer than {MAX_LINE_BYTES} bytes"),
            Problem::Syntax { column } => write!(f, "not a JSON object (column {column})"),
            Problem::Shape { path, what } if path.is_empty() => f.write_str(what),
            Problem::Shape { path, what } => write!(f, "{path}: {what}"),
            Problem::Field(error) => write!(f, "{error}"),
        }
    }
}

/// Every field name of a dose confirmation: the only keys a report may name.
const KNOWN_FIELDS: &[&str] = &[
    "dose_event_id",
    "supersedes_dose_event_id",
    "person",
    "fn",
    "gn",
    "fnt",
    "gnt",
    "dob",
    "id_number",
    "phone",
    "vaccination",
    "tg",
    "vp",
    "mp",
    "ma",
    "dn",
    "sd",
    "dt",
    "co",
    "lot_number",
    "provenance",
    "site_code",
    "registry_record_id",
    "record_hash",
];

/// Parses one line into a confirmation and its canonical hash.
fn parse(text: &[u8]) -> Result<(DoseConfirmation, [u8; 32]), Problem> {
    match serde_json::from_slice::<DoseConfirmation>(text) {
        Ok(confirmation) => {
            let hash = confirmation.canonical_hash();
            Ok((confirmation, hash))
        }
        Err(_) => Err(diagnose(text)),
    }
}

/// Why `text` is not a dose confirmation: parsed again, slowly, keeping the path to the failure.
fn diagnose(text: &[u8]) -> Problem {
    if std::str::from_utf8(text).is_err() {
        return Problem::NotUtf8;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let error = match serde_path_to_error::deserialize::<_, DoseConfirmation>(&mut deserializer) {
        Ok(_) => match deserializer.end() {
            Ok(()) => {
                return Problem::Shape {
                    path: String::new(),
                    what: "not a dose confirmation",
                };
            }
            Err(error) => {
                return Problem::Syntax {
                    column: error.column(),
                };
            }
        },
        Err(error) => error,
    };
    let inner = error.inner();
    if !inner.is_data() {
        return Problem::Syntax {
            column: inner.column(),
        };
    }
    let message = inner.to_string();
    let mut segments: Vec<Option<&str>> = error
        .path()
        .iter()
        .map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => KNOWN_FIELDS
                .iter()
                .find(|known| **known == key.as_str())
                .copied(),
            _ => None,
        })
        .collect();
    let what = if let Some(rest) = message.strip_prefix("missing field `") {
        // serde names the missing field in backticks; it is named here only if it is ours.
        let missing = rest
            .split('`')
            .next()
            .and_then(|name| KNOWN_FIELDS.iter().find(|known| **known == name).copied());
        segments.push(missing);
        "missing"
    } else if message.starts_with("unknown field `") {
        // The last segment is the unknown key itself: the data's, never repeated.
        segments.pop();
        "unknown field"
    } else {
        "wrong type or value"
    };
    let path: Vec<&str> = segments.into_iter().flatten().collect();
    Problem::Shape {
        path: path.join("."),
        what,
    }
}

/// One line of the input, not yet parsed.
struct Line {
    number: u64,
    text: Result<Vec<u8>, Problem>,
}

/// The input file, read line by line with a bound on each line.
struct Input {
    reader: BufReader<File>,
    /// The last line number handed out.
    number: u64,
    /// The file's length, for the progress bar (0 when unknown).
    len: u64,
    /// Bytes consumed so far.
    consumed: u64,
}

impl Input {
    fn open(path: &Path) -> Result<Input> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = file
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map_or(0, |meta| meta.len());
        Ok(Input {
            reader: BufReader::with_capacity(1 << 20, file),
            number: 0,
            len,
            consumed: 0,
        })
    }

    /// Up to `count` non-blank lines; fewer only at the end of the file.
    fn batch(&mut self, count: usize) -> Result<Vec<Line>> {
        let mut lines = Vec::with_capacity(count);
        while lines.len() < count {
            let mut text = Vec::with_capacity(1024);
            let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX);
            let read = (&mut self.reader)
                .take(limit.saturating_add(1))
                .read_until(b'\n', &mut text)
                .context("cannot read the input")?;
            if read == 0 {
                break;
            }
            self.consumed = self.consumed.saturating_add(read as u64);
            self.number += 1;
            let complete = text.last() == Some(&b'\n');
            if !complete && text.len() > MAX_LINE_BYTES {
                self.skip_rest_of_line()?;
                lines.push(Line {
                    number: self.number,
                    text: Err(Problem::TooLong),
                });
                continue;
            }
            while matches!(text.last(), Some(b'\n' | b'\r')) {
                text.pop();
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            lines.push(Line {
                number: self.number,
                text: Ok(text),
            });
        }
        Ok(lines)
    }

    fn skip_rest_of_line(&mut self) -> Result<()> {
        loop {
            let mut scratch = Vec::new();
            let read = (&mut self.reader)
                .take(1 << 16)
                .read_until(b'\n', &mut scratch)
                .context("cannot read the input")?;
            self.consumed = self.consumed.saturating_add(read as u64);
            if read == 0 || scratch.last() == Some(&b'\n') {
                return Ok(());
            }
        }
    }
}

/// The `--out` file: appended to, a batch at a time, after each commit.
struct OutFile {
    file: File,
    path: PathBuf,
    /// When resuming an existing file: the dose events it holds, and every one this run sent to the
    /// ledger (so an already-issued dose event missing from both was lost to a crash: recover it).
    handed_out: Option<HashSet<String>>,
}

impl OutFile {
    fn open(path: &Path) -> Result<OutFile> {
        let existing = match std::fs::metadata(path) {
            Ok(_) => true,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot open {}", path.display()));
            }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let handed_out = if existing {
            Some(
                Self::resume(&mut file)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            )
        } else {
            None
        };
        Ok(OutFile {
            file,
            path: path.to_owned(),
            handed_out,
        })
    }

    /// Reads the dose event ids of an existing file, cutting off a torn last line (a crash mid-write: it
    /// was never a complete hand-out).
    fn resume(file: &mut File) -> Result<HashSet<String>> {
        file.seek(SeekFrom::Start(0))?;
        let mut reader = BufReader::with_capacity(1 << 20, &*file);
        let mut ids = HashSet::new();
        let mut complete_len = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader.read_until(b'\n', &mut line)?;
            if read == 0 || line.last() != Some(&b'\n') {
                break;
            }
            complete_len += read as u64;
            let handed = serde_json::from_slice::<serde_json::Value>(&line);
            if let Some(id) = handed
                .as_ref()
                .ok()
                .and_then(|value| value.get("dose_event_id")?.as_str())
            {
                ids.insert(id.to_owned());
            }
        }
        drop(reader);
        if file.metadata()?.len() != complete_len {
            file.set_len(complete_len)?;
        }
        Ok(ids)
    }

    /// Appends `lines` and flushes them to the operating system.
    fn append(&mut self, lines: &str) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(lines.as_bytes())
            .and_then(|()| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// One `--out` line.
fn out_line(out: &mut String, dose_event_id: &str, uvci: &str, hc1: &str, exp: i64) {
    let line =
        serde_json::json!({"dose_event_id": dose_event_id, "uvci": uvci, "hc1": hc1, "exp": exp});
    out.push_str(&line.to_string());
    out.push('\n');
}

/// A certificate signed for a line, waiting for its transaction.
struct Signed {
    line: u64,
    dose_event_id: String,
    request_hash: [u8; 32],
    request_json: String,
    supersedes: Option<String>,
    certificate: IssuedCertificate,
}

/// A batch ready for the ledger.
struct Batch {
    now: i64,
    /// Lines whose outcome is known before recording.
    settled: Vec<(u64, Outcome)>,
    /// Lines to record.
    signed: Vec<Signed>,
    /// Already-issued certificates missing from `--out` (resuming after a crash).
    recovered: Vec<CertificateRecord>,
    /// Input bytes consumed up to the end of this batch.
    consumed: u64,
}

/// What the ledger answered for a signed line.
enum Written {
    Recorded(Box<Recorded>),
    /// The correction was refused: nothing recorded for this line.
    Refused(CorrectionRefusal),
}

/// The ledger's answers, in order, and the error that stopped it (answers before it are committed).
type Recording = (Vec<Written>, Option<LedgerError>);

/// Records a batch in one transaction. A batch refused because of a correction (an unknown dose event,
/// another person's, one corrected already) is recorded again line by line, so that only that line
/// fails.
async fn record(ledger: &Ledger, batch: &Batch) -> Recording {
    let issuances: Vec<Issuance<'_>> = batch
        .signed
        .iter()
        .map(|signed| Issuance {
            dose_event_id: &signed.dose_event_id,
            request_hash: signed.request_hash,
            request_json: &signed.request_json,
            supersedes: signed.supersedes.as_deref(),
            certificate: &signed.certificate,
            actor: ACTOR,
            corrections: CorrectionRights::Any,
        })
        .collect();
    if issuances.is_empty() {
        return (Vec::new(), None);
    }
    match ledger.record_issuances(&issuances, batch.now).await {
        Ok(recorded) if recorded.len() == issuances.len() => (
            recorded
                .into_iter()
                .map(|r| Written::Recorded(Box::new(r)))
                .collect(),
            None,
        ),
        Ok(_) => (
            Vec::new(),
            Some(LedgerError::Corrupt(
                "record_issuances answered a different count",
            )),
        ),
        Err(LedgerError::Correction(_)) => {
            let mut written = Vec::with_capacity(issuances.len());
            for issuance in &issuances {
                match ledger.record_issuance(issuance, batch.now).await {
                    Ok(recorded) => written.push(Written::Recorded(Box::new(recorded))),
                    Err(LedgerError::Correction(refusal)) => {
                        written.push(Written::Refused(refusal));
                    }
                    Err(error) => return (written, Some(error)),
                }
            }
            (written, None)
        }
        Err(error) => (Vec::new(), Some(error)),
    }
}

/// The progress shown on stderr: a bar on a terminal, and machine-readable lines on request.
struct Progress {
    bar: ProgressBar,
    every: Option<u64>,
    next_mark: u64,
    /// The line count of the last machine-readable line.
    marked: Option<u64>,
}

impl Progress {
    fn new(len: u64, every: Option<u64>) -> Progress {
        let target = ProgressDrawTarget::stderr_with_hz(4);
        let bar = if len > 0 {
            let bar = ProgressBar::with_draw_target(Some(len), target);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {percent:>3}%  {msg}  ETA {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        } else {
            let bar = ProgressBar::with_draw_target(None, target);
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise}  {msg}") {
                bar.set_style(style);
            }
            bar
        };
        Progress {
            bar,
            every,
            next_mark: every.unwrap_or(u64::MAX),
            marked: None,
        }
    }

    fn update(&mut self, counts: &Counts, consumed: u64, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        self.bar.set_position(consumed);
        self.bar.set_message(format!(
            "{} lines, {} issued, {:.0}/s",
            counts.lines,
            counts.issued,
            rate(counts.lines, seconds)
        ));
        if let Some(every) = self.every {
            while counts.lines >= self.next_mark {
                self.mark(counts, seconds);
                self.next_mark = self.next_mark.saturating_add(every);
            }
        }
    }

    /// The final machine-readable line, unless the last mark already said it all.
    fn finish(&mut self, counts: &Counts, elapsed: Duration) {
        if self.every.is_some() && self.marked != Some(counts.lines) {
            self.mark(counts, elapsed.as_secs_f64());
        }
    }

    fn mark(&mut self, counts: &Counts, seconds: f64) {
        self.marked = Some(counts.lines);
        let line = format!(
            "progress lines={} issued={} already_issued={} conflicts={} invalid={} failed={} \
             elapsed_s={seconds:.3}",
            counts.lines,
            counts.issued,
            counts.already_issued,
            counts.conflicts,
            counts.invalid,
            counts.failed
        );
        self.bar.suspend(|| eprintln!("{line}"));
    }

    fn report(&self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }
}

/// One bulk run.
struct Run<'a> {
    service: &'a issuer::service::IssuanceService,
    input: Input,
    out: Option<OutFile>,
    batch_size: usize,
    counts: Counts,
    progress: Progress,
    started: Instant,
    timings: Timings,
}

impl<'a> Run<'a> {
    fn new(
        args: &IssueArgs,
        service: &'a issuer::service::IssuanceService,
        input: Input,
        out: Option<OutFile>,
    ) -> Run<'a> {
        let progress = Progress::new(input.len, args.progress_every);
        Run {
            service,
            batch_size: usize::try_from(args.batch).unwrap_or(10_000),
            input,
            out,
            counts: Counts::default(),
            progress,
            started: Instant::now(),
            timings: Timings::default(),
        }
    }

    /// Every batch: batch k + 1 is prepared while batch k is being recorded.
    async fn all(&mut self) -> Result<()> {
        self.started = Instant::now();
        let mut pending: Option<JoinHandle<(Batch, Recording, Duration)>> = None;
        loop {
            let start = Instant::now();
            let lines = self.input.batch(self.batch_size);
            self.timings.read += start.elapsed();
            let prepared = match lines {
                Ok(lines) if lines.is_empty() => Ok(None),
                Ok(lines) => self.prepare(lines).await.map(Some),
                Err(error) => Err(error),
            };
            if let Some(handle) = pending.take() {
                let start = Instant::now();
                let (batch, recording, recorded_in) = handle
                    .await
                    .map_err(|_| anyhow!("the ledger task was interrupted"))?;
                self.timings.wait += start.elapsed();
                self.timings.record += recorded_in;
                let start = Instant::now();
                let finished = self.finish(batch, recording);
                self.timings.out += start.elapsed();
                finished?;
            }
            match prepared? {
                None => break,
                Some(batch) => {
                    let ledger = Arc::clone(self.service.ledger());
                    pending = Some(tokio::spawn(async move {
                        let start = Instant::now();
                        let recording = record(&ledger, &batch).await;
                        (batch, recording, start.elapsed())
                    }));
                }
            }
        }
        self.progress.finish(&self.counts, self.started.elapsed());
        Ok(())
    }

    /// Parses, looks up, validates and signs a batch; nothing is recorded yet.
    async fn prepare(&mut self, lines: Vec<Line>) -> Result<Batch> {
        let now = self.service.now();
        let consumed = self.input.consumed;
        let start = Instant::now();
        let parsed = blocking(move || {
            lines
                .into_par_iter()
                .map(|line| (line.number, line.text.and_then(|text| parse(&text))))
                .collect::<Vec<_>>()
        })
        .await?;
        self.timings.parse += start.elapsed();

        let start = Instant::now();
        let ids: Vec<&str> = parsed
            .iter()
            .filter_map(|(_, parsed)| parsed.as_ref().ok())
            .map(|(confirmation, _)| confirmation.dose_event_id.as_str())
            .collect();
        let ledger = self.service.ledger();
        let recorded: HashMap<String, [u8; 32]> = ledger
            .recorded_dose_events(&ids)
            .await
            .context("cannot look up the ledger")?
            .into_iter()
            .collect();
        drop(ids);
        self.timings.lookup += start.elapsed();

        let mut settled = Vec::new();
        let mut to_sign = Vec::new();
        let mut to_recover = Vec::new();
        for (number, parsed) in parsed {
            let (confirmation, hash) = match parsed {
                Ok(parsed) => parsed,
                Err(problem) => {
                    settled.push((number, Outcome::Invalid(problem)));
                    continue;
                }
            };
            match recorded.get(&confirmation.dose_event_id) {
                Some(recorded_hash) if *recorded_hash == hash => {
                    settled.push((number, Outcome::AlreadyIssued));
                    if let Some(handed) = self.out.as_mut().and_then(|out| out.handed_out.as_mut())
                        && handed.insert(confirmation.dose_event_id.clone())
                    {
                        to_recover.push(confirmation.dose_event_id);
                    }
                }
                Some(_) => settled.push((number, Outcome::Conflict)),
                None => to_sign.push((number, confirmation, hash)),
            }
        }
        let mut recovered = Vec::with_capacity(to_recover.len());
        for id in &to_recover {
            if let Some((_, certificate)) = ledger
                .dose_event(id)
                .await
                .context("cannot read the ledger")?
            {
                recovered.push(certificate);
            }
        }

        let issuer = Arc::clone(self.service.issuer());
        let value_sets = Arc::clone(self.service.value_sets());
        let start = Instant::now();
        let results = blocking(move || {
            to_sign
                .into_par_iter()
                .map(|(number, confirmation, hash)| {
                    (
                        number,
                        sign(&issuer, &value_sets, now, number, confirmation, hash),
                    )
                })
                .collect::<Vec<_>>()
        })
        .await?;
        self.timings.sign += start.elapsed();
        let mut signed = Vec::with_capacity(results.len());
        for (number, result) in results {
            match result {
                Ok(Ok(one)) => {
                    if let Some(handed) = self.out.as_mut().and_then(|out| out.handed_out.as_mut())
                    {
                        handed.insert(one.dose_event_id.clone());
                    }
                    signed.push(one);
                }
                Ok(Err(outcome)) => settled.push((number, outcome)),
                Err(error) => {
                    return Err(
                        anyhow::Error::new(error).context(format!("cannot issue (line {number})"))
                    );
                }
            }
        }
        Ok(Batch {
            now,
            settled,
            signed,
            recovered,
            consumed,
        })
    }

    /// Hands out what the ledger recorded, counts and reports every line of the batch.
    fn finish(&mut self, batch: Batch, recording: Recording) -> Result<()> {
        let (written, error) = recording;
        let mut out = String::new();
        for certificate in &batch.recovered {
            out_line(
                &mut out,
                &certificate.dose_event_id,
                &certificate.uvci,
                &certificate.hc1,
                certificate.exp,
            );
        }
        let mut outcomes = batch.settled;
        for (signed, written) in batch.signed.iter().zip(written) {
            let outcome = match written {
                Written::Recorded(recorded) => match *recorded {
                    Recorded::Issued(record) => {
                        out_line(
                            &mut out,
                            &record.dose_event_id,
                            &record.uvci,
                            &record.hc1,
                            record.exp,
                        );
                        Outcome::Issued
                    }
                    Recorded::AlreadyRecorded { event, .. } => {
                        if event.request_hash == signed.request_hash {
                            Outcome::AlreadyIssued
                        } else {
                            Outcome::Conflict
                        }
                    }
                },
                Written::Refused(refusal) => {
                    let invalid = |reason| {
                        Outcome::Invalid(Problem::Field(FieldError {
                            field: "supersedes_dose_event_id",
                            reason,
                        }))
                    };
                    match refusal {
                        CorrectionRefusal::UnknownDoseEvent => {
                            invalid(issuer::FieldReason::UnknownDoseEvent)
                        }
                        CorrectionRefusal::DifferentPerson => {
                            invalid(issuer::FieldReason::DifferentPerson)
                        }
                        other => Outcome::CorrectionRefused(other),
                    }
                }
            };
            outcomes.push((signed.line, outcome));
        }
        if let Some(file) = self.out.as_mut() {
            file.append(&out)?;
        }
        self.counts.recovered += batch.recovered.len() as u64;

        outcomes.sort_by_key(|(number, _)| *number);
        for (number, outcome) in &outcomes {
            match outcome {
                Outcome::Invalid(problem) => {
                    self.progress.report(&format!("line {number}: invalid: {problem}"));
                }
                Outcome::Conflict => self.progress.report(&format!(
                    "line {number}: conflict: its dose event was issued before with a different body"
                )),
                Outcome::CorrectionRefused(refusal) => {
                    self.progress
                        .report(&format!("line {number}: conflict: {refusal}"));
                }
                Outcome::SelfCheckFailed(code) => self.progress.report(&format!(
                    "line {number}: not issued: the certificate failed the self-check ({})",
                    code.as_str()
                )),
                Outcome::Issued | Outcome::AlreadyIssued => {}
            }
            self.counts.add(outcome);
        }
        if let Some(error) = error {
            return Err(anyhow::Error::new(error).context("cannot record in the ledger"));
        }
        self.progress
            .update(&self.counts, batch.consumed, self.started.elapsed());
        Ok(())
    }
}

/// Validates and signs one confirmation. The outer error stops the run (keys, clock, randomness); the
/// inner one is the line's outcome.
fn sign(
    issuer: &Issuer,
    value_sets: &ValueSets,
    now: i64,
    line: u64,
    confirmation: DoseConfirmation,
    request_hash: [u8; 32],
) -> Result<Result<Signed, Outcome>, IssueError> {
    let dose = match confirmation.validate(value_sets, now) {
        Ok(dose) => dose,
        Err(error) => return Ok(Err(Outcome::Invalid(Problem::Field(error)))),
    };
    let certificate = match issuer.issue(&dose, now, Uvci::generate()?) {
        Ok(certificate) => certificate,
        Err(IssueError::SelfCheck { code }) => return Ok(Err(Outcome::SelfCheckFailed(code))),
        Err(error) => return Err(error),
    };
    let request_json = confirmation.without_contact_details().canonical_json();
    Ok(Ok(Signed {
        line,
        request_hash,
        request_json,
        supersedes: confirmation.supersedes_dose_event_id,
        dose_event_id: confirmation.dose_event_id,
        certificate,
    }))
}

/// Runs CPU work off the async runtime (on rayon's pool when `work` uses it).
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| anyhow!("a worker thread failed"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::{Problem, diagnose};

    fn describe(text: &str) -> String {
        diagnose(text.as_bytes()).to_string()
    }

    #[test]
    fn problems_name_fields_never_values() {
        assert_eq!(describe("{"), "not a JSON object (column 1)");
        assert_eq!(diagnose(b"\xff{}"), Problem::NotUtf8);
        let body = r#"{"dose_event_id": "e1", "person": {"fn": "Nguyễn", "dob": 1983},
            "vaccination": {}, "provenance": {}}"#;
        assert_eq!(describe(body), "person.dob: wrong type or value");
        let missing = r#"{"dose_event_id": "e1", "person": {"fn": "Nguyễn"}}"#;
        assert_eq!(describe(missing), "person.dob: missing");
        let unknown = r#"{"dose_event_id": "e1", "Nguyễn Văn A": 1}"#;
        assert_eq!(describe(unknown), "unknown field");
        let unknown = r#"{"dose_event_id": "e1", "person": {"Nguyễn": 1}}"#;
        assert_eq!(describe(unknown), "person: unknown field");
        let string_for_number = r#"{"dose_event_id": "e1", "person": {"fn": "Nguyễn", "dob": "1983"},
            "vaccination": {"dn": "Trần"}}"#;
        let text = describe(string_for_number);
        assert_eq!(text, "vaccination.dn: wrong type or value");
        assert_eq!(describe("[1, 2]"), "wrong type or value");
        assert_eq!(describe(r#"{"dose_event_id": "e1"}"#), "person: missing");
        let valid = r#"{"dose_event_id": "e1", "person": {"fn": "Nguyễn", "dob": "1983"},
            "vaccination": {"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528",
                "ma": "ORG-100030215", "dn": 1, "sd": 2, "dt": "2021-09-14", "co": "VN",
                "lot_number": "FF2587"},
            "provenance": {"site_code": "HN-0123", "registry_record_id": "R-1", "record_hash": "sha256:00"}}"#;
        assert!(super::parse(valid.as_bytes()).is_ok());
        assert!(matches!(
            diagnose(format!("{valid} {{}}").as_bytes()),
            Problem::Syntax { .. }
        ));
    }
}
