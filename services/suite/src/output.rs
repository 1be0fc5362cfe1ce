//! Everything the binary prints for people. Logs go through tracing; this is the human channel.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line's own output, written on purpose"
)]

/// Prints one line to standard output.
pub fn line(text: impl std::fmt::Display) {
    println!("{text}");
}

/// Prints an error and its causes to standard error.
pub fn error(error: &anyhow::Error) {
    eprintln!("error: {error:#}");
}
