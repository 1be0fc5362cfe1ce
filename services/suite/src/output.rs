//! Everything the binary prints for people. Logs go through tracing; this is the human channel.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line's own output, written on purpose"
)]

use std::io::{IsTerminal as _, Write as _};

/// Prints one line to standard output. A failed write is dropped: `println!` would panic on a
/// closed pipe (`tenure up | head -3`), and a banner nobody reads is no reason to stop a stack.
pub fn line(text: impl std::fmt::Display) {
    let _ = write(&format!("{text}\n"));
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

/// Whether `error` is a write to a pipe whose reader has gone (`tenure events tail | head -1`). The
/// reader got what it wanted; the command ends quietly and successfully, as `cat` would under
/// `SIGPIPE`, which Rust programs ignore.
pub fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The columns and rows a terminal view may use when nothing better is known.
pub const DEFAULT_TERMINAL: TerminalSize = TerminalSize {
    columns: 80,
    rows: 24,
};

/// The size of the terminal standard output draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    /// Characters per row.
    pub columns: usize,
    /// Rows on the screen.
    pub rows: usize,
}

/// Where a view learns the terminal's size: `COLUMNS` and `LINES` when the environment sets them (as
/// GNU tools honour them, and how a test or a user forces a size), else the terminal itself, asked
/// again at each call since it may be resized, else 80×24.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalSizer {
    columns: Option<usize>,
    rows: Option<usize>,
}

impl TerminalSizer {
    /// The sizer of a process with the environment `env`.
    pub fn from_env(env: &[(String, String)]) -> Self {
        let positive = |name: &str| {
            env.iter()
                .find(|(key, _)| key == name)
                .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                .filter(|value| *value > 0)
        };
        Self {
            columns: positive("COLUMNS"),
            rows: positive("LINES"),
        }
    }

    /// The size now.
    pub fn size(self) -> TerminalSize {
        let asked = rustix::termios::tcgetwinsize(std::io::stdout()).ok();
        let from_terminal = |value: Option<u16>| value.map(usize::from).filter(|value| *value > 0);
        TerminalSize {
            columns: self
                .columns
                .or_else(|| from_terminal(asked.map(|size| size.ws_col)))
                .unwrap_or(DEFAULT_TERMINAL.columns),
            rows: self
                .rows
                .or_else(|| from_terminal(asked.map(|size| size.ws_row)))
                .unwrap_or(DEFAULT_TERMINAL.rows),
        }
    }
}
