//! A `moto_server` child process for tests that drive the `aws` provisioning backend.
//!
//! `tests/run.sh` installs moto into a virtualenv and hands its path over in `TENURE_TEST_MOTO_VENV`;
//! each [`MotoServer`] runs its own `moto_server` on a free loopback port and kills it on drop.
//!
//! Tests that share one server stay apart by acting as different AWS accounts: every request that
//! carries the header [`ACCOUNT_ID_HEADER`] with a value from [`fresh_account_id`] sees only that
//! account's organization, accounts and stacks.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tempfile::NamedTempFile;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep, timeout};

/// The request header that makes moto act as the AWS account it names (12 digits).
pub const ACCOUNT_ID_HEADER: &str = "x-moto-account-id";

/// The variable through which `tests/run.sh` hands over the moto virtualenv.
const VENV_VARIABLE: &str = "TENURE_TEST_MOTO_VENV";

/// A cold start with a cached virtualenv takes well under a second; the margin covers a loaded
/// 2-core CI machine importing moto's many modules.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Another process may grab the probed port before moto binds it; a few tries make that harmless.
const START_ATTEMPTS: usize = 3;

/// A running `moto_server` on `127.0.0.1`, killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    address: SocketAddr,
    // Kept only so that dropping the server kills the child (`kill_on_drop`).
    _child: Child,
    // Kept so that the log lives as long as the server and is removed with it.
    _log: NamedTempFile,
}

impl MotoServer {
    /// Starts `moto_server` from the virtualenv named by `TENURE_TEST_MOTO_VENV` and waits until it
    /// answers.
    ///
    /// Fails, with the command to run, when the variable is not set.
    pub async fn start() -> anyhow::Result<Self> {
        let venv = moto_venv_from_env()?;
        let program = venv.join("bin").join("moto_server");
        if !program.is_file() {
            bail!(
                "{} not found: {VENV_VARIABLE} must name a virtualenv with moto[server] installed \
                 (tests/run.sh creates one)",
                program.display()
            );
        }
        let mut last_failure = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&program).await {
                Ok(server) => return Ok(server),
                Err(StartFailure::Exited(error)) => last_failure = Some(error),
                Err(StartFailure::Fatal(error)) => return Err(error),
            }
        }
        Err(last_failure.unwrap_or_else(|| anyhow::anyhow!("moto_server did not start")))
    }

    /// The base URL to give an SDK client as its endpoint, e.g. `http://127.0.0.1:40123`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Forgets every account, organization and stack of every account id (`POST /moto-api/reset`).
    pub async fn reset(&self) -> anyhow::Result<()> {
        let status = http_status(self.address, "POST", "/moto-api/reset")
            .await
            .context("reset moto_server")?;
        if status != 200 {
            bail!("moto_server answered the reset with HTTP {status}");
        }
        Ok(())
    }

    async fn start_once(program: &Path) -> Result<Self, StartFailure> {
        let port = free_loopback_port().map_err(StartFailure::Fatal)?;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log = tempfile::Builder::new()
            .prefix("tenure-moto-")
            .suffix(".log")
            .tempfile()
            .context("create the moto_server log file")
            .map_err(StartFailure::Fatal)?;
        let stdout = log
            .reopen()
            .context("open the moto_server log file")
            .map_err(StartFailure::Fatal)?;
        let stderr = stdout
            .try_clone()
            .context("open the moto_server log file")
            .map_err(StartFailure::Fatal)?;
        let mut child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {}", program.display()))
            .map_err(StartFailure::Fatal)?;

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(exit) = child
                .try_wait()
                .context("poll moto_server")
                .map_err(StartFailure::Fatal)?
            {
                return Err(StartFailure::Exited(anyhow::anyhow!(
                    "moto_server exited with {exit} before answering; its log:\n{}",
                    log_text(&log)
                )));
            }
            if matches!(http_status(address, "GET", "/moto-api/").await, Ok(200)) {
                return Ok(Self {
                    address,
                    _child: child,
                    _log: log,
                });
            }
            if Instant::now() >= deadline {
                return Err(StartFailure::Fatal(anyhow::anyhow!(
                    "moto_server did not answer on {address} within {READY_TIMEOUT:?}; its log:\n{}",
                    log_text(&log)
                )));
            }
            sleep(POLL_INTERVAL).await;
        }
    }
}

/// Returns a random 12-digit AWS account id, leading zeros allowed (real and moto ids have them too).
///
/// Send it as [`ACCOUNT_ID_HEADER`] on every request of one test (an SDK interceptor does that), and
/// moto gives the test its own account and organization on a shared server.
#[must_use]
pub fn fresh_account_id() -> String {
    const TWELVE_DIGITS: u128 = 1_000_000_000_000;
    // A v4 UUID carries 122 random bits, so the modulo bias is far below anything a test can notice.
    let value = uuid::Uuid::new_v4().as_u128() % TWELVE_DIGITS;
    format!("{value:012}")
}

enum StartFailure {
    /// The child exited early, most likely because its port was taken: worth another try.
    Exited(anyhow::Error),
    /// Trying again would fail the same way.
    Fatal(anyhow::Error),
}

#[allow(
    clippy::disallowed_methods,
    reason = "the test handoff from tests/run.sh is the one place the testkit reads the environment"
)]
fn moto_venv_from_env() -> anyhow::Result<PathBuf> {
    match std::env::var(VENV_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => Ok(PathBuf::from(value)),
        _ => bail!("set {VENV_VARIABLE} or run tests/run.sh"),
    }
}

fn free_loopback_port() -> anyhow::Result<u16> {
    let listener =
        StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("probe a free loopback port")?;
    Ok(listener
        .local_addr()
        .context("read the probed port")?
        .port())
}

/// Sends a body-less HTTP/1.1 request and returns the response's status code.
///
/// A raw request keeps the launcher free of an HTTP client for two fixed calls to a local server.
async fn http_status(address: SocketAddr, method: &str, path: &str) -> anyhow::Result<u16> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = timeout(REQUEST_TIMEOUT, exchange)
        .await
        .with_context(|| format!("{method} {path} on {address} timed out"))?
        .with_context(|| format!("{method} {path} on {address}"))?;
    parse_status(&response)
        .with_context(|| format!("{method} {path} on {address}: not an HTTP response"))
}

fn parse_status(response: &[u8]) -> anyhow::Result<u16> {
    let status_line = response
        .split(|&byte| byte == b'\n')
        .next()
        .unwrap_or_default();
    let code = std::str::from_utf8(status_line)
        .ok()
        .filter(|line| line.starts_with("HTTP/"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok());
    code.context("no status line")
}

fn log_text(log: &NamedTempFile) -> String {
    std::fs::read_to_string(log.path()).unwrap_or_else(|error| format!("(unreadable: {error})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_twelve_digits() {
        for _ in 0..1_000 {
            let id = fresh_account_id();
            assert_eq!(id.len(), 12, "{id}");
            assert!(id.bytes().all(|byte| byte.is_ascii_digit()), "{id}");
        }
    }

    #[test]
    fn status_codes_parse_from_the_status_line() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n").unwrap(),
            200
        );
        assert_eq!(
            parse_status(b"HTTP/1.0 500 INTERNAL SERVER ERROR\r\n").unwrap(),
            500
        );
        assert!(parse_status(b"garbage").is_err());
        assert!(parse_status(b"").is_err());
    }
}
