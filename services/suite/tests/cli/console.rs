//! What `tenure up` writes to its console and says about its configuration: the lines a person reads.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::process::Command;

use crate::client::Client;
use crate::up::{TENURE, Up};

#[tokio::test]
async fn a_short_run_with_a_stream_reader_keeps_the_console_free_of_sqlite_noise() {
    let mut up = Up::start_with(|command| {
        command
            .env("TENURE_TELEMETRY__LOG_FILTER", "info")
            .stderr(Stdio::piped());
    })
    .await;
    let mut stderr = up.child.stderr.take().expect("stderr");
    // The console is read while the stack runs, so a full pipe never stalls it.
    let read = async {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    };
    let drive = async {
        // A stream reader polls the event log in snapshot transactions, the source of the flood.
        let cli = Client { up: &up };
        let tail = cli
            .command(&up.token, &["events", "tail"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("events tail");
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(tail);
        let pid = up.child.id().expect("running").to_string();
        let signalled = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill");
        assert!(signalled.success());
    };
    let (console, ()) = tokio::join!(read, drive);
    tokio::time::timeout(Duration::from_secs(30), up.child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert!(
        console.contains("ready"),
        "the console was captured:\n{console}"
    );
    assert!(
        console.contains("shutdown requested"),
        "the run lasted until the signal:\n{console}"
    );
    let noise: Vec<&str> = console
        .lines()
        .filter(|line| line.contains("isn't supported") || line.contains("sqlx_sqlite"))
        .collect();
    assert!(noise.is_empty(), "{} noisy lines: {noise:#?}", noise.len());
}

#[tokio::test]
async fn a_list_setting_takes_a_comma_separated_variable_and_a_bad_value_is_explained() {
    let up = Up::start_with(|command| {
        command.env(
            "TENURE_SERVER__CORS__ALLOWED_ORIGINS",
            "https://market.example,https://admin.example",
        );
    })
    .await;
    assert_eq!(up.endpoints.len(), 4);
    drop(up);

    let directory = tempfile::tempdir().expect("temp dir");
    let output = Command::new(TENURE)
        .args(["up", "--port-base", "0"])
        .current_dir(directory.path())
        .env("TENURE_SERVER__CORS__ALLOW_LOCALHOST", "sometimes")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run tenure up");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "server.cors.allow_localhost (set by TENURE_SERVER__CORS__ALLOW_LOCALHOST) takes true \
             or false, not \"sometimes\""
        ),
        "{stderr}"
    );
    // Nothing of the program's insides: no source paths, no Rust type names.
    assert!(!stderr.contains(".rs:"), "{stderr}");
    assert!(!stderr.contains("::"), "{stderr}");
}
