//! Standard output for a reader that may leave early (`vaxcert verify - < lines | head -1`).
//!
//! `println!` panics when stdout is a closed pipe. Commands write through [`stdout`] or [`outln!`]
//! instead: the error of a closed stdout carries [`StdoutClosed`], and [`crate::run`] ends the command
//! quietly on it (exit 0, nothing on stderr), as `grep` or `rg` do. Servers print their banner with
//! [`banner!`], which never fails: a closed stdout is logged once, and the server goes on serving.

use std::fmt;
use std::io::{self, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// The reader of stdout has gone: carried inside the [`io::Error`] (kind `BrokenPipe`) of a write
/// through [`stdout`].
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// The locked standard output; a write to a closed pipe fails with [`StdoutClosed`] inside.
pub struct Stdout(StdoutLock<'static>);

/// Standard output, locked until the value is dropped.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

fn mark_closed(error: io::Error) -> io::Error {
    if error.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        error
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark_closed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark_closed)
    }
}

/// Whether `error`, or anything it wraps, is a write to a closed stdout.
pub fn is_stdout_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<StdoutClosed>()
            || cause
                .downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}

/// `result`, with a closed stdout counted as done: for output that is a courtesy, where the exit code
/// says what matters (`verify` of one input: valid or not).
pub fn unless_closed<E: Into<anyhow::Error>>(result: Result<(), E>) -> anyhow::Result<()> {
    match result.map_err(Into::into) {
        Err(error) if is_stdout_closed(&error) => Ok(()),
        other => other,
    }
}

/// Whether a banner line failed already (the rest are not tried).
static BANNER_CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints one line of a server's banner. Never fails: the first line stdout does not take is logged
/// (the server keeps running), and later lines are dropped.
pub fn banner_line(line: fmt::Arguments<'_>) {
    if BANNER_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(error) = writeln!(stdout(), "{line}")
        && !BANNER_CLOSED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(%error, "stdout does not take the banner; the service goes on");
    }
}

/// `println!` for commands: writes a line through [`stdout`], giving its `io::Result` for `?`.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!($crate::output::stdout(), $($arg)*)
    }};
}

/// `println!` for a server's banner, through [`banner_line`]: never fails, never panics.
macro_rules! banner {
    ($($arg:tt)*) => {
        $crate::output::banner_line(format_args!($($arg)*))
    };
}

pub(crate) use {banner, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_stdout_is_recognised() {
        let closed = mark_closed(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(closed.kind(), io::ErrorKind::BrokenPipe);
        assert!(is_stdout_closed(
            &anyhow::Error::from(closed).context("cannot print")
        ));
        // A broken pipe elsewhere (a socket, a child's stdin) is an error like any other.
        let socket = io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(!is_stdout_closed(&anyhow::Error::from(socket)));
        let denied = mark_closed(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(unless_closed(Err(denied)).is_err());
        let closed = mark_closed(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(unless_closed(Err(closed)).is_ok());
    }
}
