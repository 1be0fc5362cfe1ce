//! Everything the binary prints for people. Logs go through tracing; this is the human channel.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line's own output, written on purpose"
)]

use std::io::{IsTerminal as _, Write as _};

/// Prints one line to standard output.
pub fn line(text: impl std::fmt::Display) {
    println!("{text}");
}

/// Prints an error and its causes to standard error.
pub fn error(error: &anyhow::Error) {
    eprintln!("error: {error:#}");
}

/// Writes `text` as it is and flushes, so that a pipe sees each line at once; a closed pipe is an
/// error to stop on rather than a panic.
pub fn write(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes one JSON value on its own line and flushes.
pub fn json_line(value: &serde_json::Value) -> std::io::Result<()> {
    write(&format!("{value}\n"))
}

/// Whether standard output is a terminal a view may redraw in place.
pub fn is_terminal() -> bool {
    std::io::stdout().is_terminal()
}
