//! `vaxcert issue --from confirmations.jsonl [--out certificates.jsonl]`: bulk issuance, for back-filling a
//! campaign. Each line is one dose confirmation, the JSON body of `POST /internal/v1/dose-confirmations`.
//!
//! The rules are the issuer's ([`issuer::bulk`], the same as the internal API's, the run being the
//! operator who may correct any client's dose event); this command reads the file, reports each line by number and field (never by content), writes `--out` and pipelines the
//! batches. The run goes on after a bad line, so a file can be re-run after a crash, or after fixing its
//! bad lines, and finishes the job with no duplicates.
//!
//! Batches are pipelined: while the ledger records batch *k* in one transaction, batch *k + 1* is parsed,
//! looked up, validated, signed and self-checked on every core. A certificate reaches `--out` only after
//! the transaction that recorded it committed — every certificate handed out has its ledger row.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use issuer::bulk::{
    self, Line, LineOutcome, LineProblem, MAX_LINE_BYTES, PreparedBatch, RecordedBatch,
};
use issuer::ledger::CertificateRecord;
use issuer::service::system_clock;
use tokio::task::JoinHandle;

use crate::node::{NodeArgs, bootstrap_keys, open_node};
use crate::output::outln;

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
    // A closed stdout loses the summary, not the exit code.
    let printed = outln!("{}", counts.summary(elapsed)).and_then(|()| {
        if args.timings {
            outln!("{}", run.timings)
        } else {
            Ok(())
        }
    });
    crate::output::unless_closed(printed)?;
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

    fn add(&mut self, outcome: &LineOutcome) {
        self.lines += 1;
        match outcome {
            LineOutcome::Issued => self.issued += 1,
            LineOutcome::AlreadyIssued => self.already_issued += 1,
            LineOutcome::Conflict | LineOutcome::CorrectionRefused(_) => self.conflicts += 1,
            LineOutcome::Invalid(_) => self.invalid += 1,
            LineOutcome::SelfCheckFailed(_) => self.failed += 1,
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
                    text: Err(LineProblem::TooLong),
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
fn out_line(out: &mut String, certificate: &CertificateRecord) {
    let line = serde_json::json!({"dose_event_id": certificate.dose_event_id, "uvci": certificate.uvci,
                                  "hc1": certificate.hc1, "exp": certificate.exp});
    out.push_str(&line.to_string());
    out.push('\n');
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
        let mut pending: Option<JoinHandle<(Pending, Duration)>> = None;
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
                let (done, recorded_in) = handle
                    .await
                    .map_err(|_| anyhow!("the ledger task was interrupted"))?;
                self.timings.wait += start.elapsed();
                self.timings.record += recorded_in;
                let start = Instant::now();
                let finished = self.finish(done);
                self.timings.out += start.elapsed();
                finished?;
            }
            match prepared? {
                None => break,
                Some((batch, recovered, consumed)) => {
                    let ledger = Arc::clone(self.service.ledger());
                    pending = Some(tokio::spawn(async move {
                        let start = Instant::now();
                        let recorded = bulk::record(&ledger, batch).await;
                        let done = Pending {
                            recorded,
                            recovered,
                            consumed,
                        };
                        (done, start.elapsed())
                    }));
                }
            }
        }
        self.progress.finish(&self.counts, self.started.elapsed());
        Ok(())
    }

    /// Prepares a batch (nothing is recorded yet) and reads from the ledger the already-issued
    /// certificates `--out` lacks (resuming after a crash).
    async fn prepare(
        &mut self,
        lines: Vec<Line>,
    ) -> Result<(PreparedBatch, Vec<CertificateRecord>, u64)> {
        let consumed = self.input.consumed;
        let batch = bulk::prepare(self.service, lines).await?;
        let stages = batch.timings();
        self.timings.parse += stages.parse;
        self.timings.lookup += stages.lookup;
        self.timings.sign += stages.sign;
        let mut recovered = Vec::new();
        if let Some(handed) = self.out.as_mut().and_then(|out| out.handed_out.as_mut()) {
            let ledger = self.service.ledger();
            for id in batch.already_issued() {
                if handed.insert(id.clone())
                    && let Some((_, certificate)) = ledger
                        .dose_event(id)
                        .await
                        .context("cannot read the ledger")?
                {
                    recovered.push(certificate);
                }
            }
            handed.extend(batch.to_record().map(str::to_owned));
        }
        Ok((batch, recovered, consumed))
    }

    /// Hands out what the ledger recorded, counts and reports every line of the batch.
    fn finish(&mut self, done: Pending) -> Result<()> {
        let mut out = String::new();
        for certificate in done.recovered.iter().chain(&done.recorded.issued) {
            out_line(&mut out, certificate);
        }
        if let Some(file) = self.out.as_mut() {
            file.append(&out)?;
        }
        self.counts.recovered += done.recovered.len() as u64;

        for (number, outcome) in &done.recorded.outcomes {
            match outcome {
                LineOutcome::Invalid(problem) => {
                    self.progress.report(&format!("line {number}: invalid: {problem}"));
                }
                LineOutcome::Conflict => self.progress.report(&format!(
                    "line {number}: conflict: its dose event was issued before with a different body"
                )),
                LineOutcome::CorrectionRefused(refusal) => self
                    .progress
                    .report(&format!("line {number}: conflict: {refusal}")),
                LineOutcome::SelfCheckFailed(code) => self.progress.report(&format!(
                    "line {number}: not issued: the certificate failed the self-check ({})",
                    code.as_str()
                )),
                LineOutcome::Issued | LineOutcome::AlreadyIssued => {}
            }
            self.counts.add(outcome);
        }
        if let Some(error) = done.recorded.error {
            return Err(anyhow::Error::new(error).context("cannot record in the ledger"));
        }
        self.progress
            .update(&self.counts, done.consumed, self.started.elapsed());
        Ok(())
    }
}

/// A batch the ledger has answered, with what `--out` must also receive.
struct Pending {
    recorded: RecordedBatch,
    /// Already-issued certificates missing from `--out`.
    recovered: Vec<CertificateRecord>,
    /// Input bytes consumed up to the end of the batch.
    consumed: u64,
}
