//! Split mode: `tenure migrate` and `tenure serve <service>` as separate processes against PostgreSQL,
//! configured only through `TENURE_` environment variables, as the deployment manifests do it.

use std::process::{Output, Stdio};
use std::time::Duration;

use tenure_testkit::TestDatabase;
use tenure_testkit::grpc::{call_empty, channel, wait_until_serving};
use tokio::process::{Child, Command};
use tonic::Code;
use tonic::transport::Channel;

const TENURE: &str = env!("CARGO_BIN_EXE_tenure");

/// A channel to the listener on `port`, once it accepts connections (within 30 seconds).
pub(crate) async fn connect(port: u16) -> Channel {
    let address = format!("127.0.0.1:{port}").parse().expect("address");
    let connected = async {
        loop {
            if let Ok(channel) = channel(address).await {
                return channel;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), connected)
        .await
        .expect("the listener comes up")
}

/// Fails the test, showing what the command wrote to stderr, unless it exited successfully.
#[track_caller]
pub(crate) fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What a successful command printed, trimmed.
#[track_caller]
pub(crate) fn printed(output: Output) -> String {
    assert_success(&output);
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// `tenure token` for the orders service calling provisioning, before the key file's path.
pub(crate) const ORDERS_TOKEN_ARGS: [&str; 6] = [
    "token",
    "--as-service",
    "orders",
    "--for",
    "provisioning",
    "--key-file",
];

/// Starts a `tenure serve` command with its output discarded; it is killed when dropped.
pub(crate) fn spawn_server(command: &mut Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tenure serve")
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

#[tokio::test]
async fn split_mode_migrates_then_serves_one_service_from_environment_configuration() {
    let database = TestDatabase::create().await.expect("database");
    let directory = tempfile::tempdir().expect("temp dir");
    let key_file = directory.path().join("dev-key.pem");
    let port = free_port();
    let url = database.url().expose().to_owned();
    let environment = [
        ("TENURE_ENVIRONMENT", "development".to_owned()),
        ("TENURE_AUTH__DEV_KEY_FILE", key_file.display().to_string()),
        ("TENURE_ACCOUNTS__DATABASE__URL", url.clone()),
        ("TENURE_ACCOUNTS__LISTEN", format!("127.0.0.1:{port}")),
        ("TENURE_TELEMETRY__METRICS_LISTEN", "127.0.0.1:0".to_owned()),
        ("TENURE_TELEMETRY__LOG_FILTER", "warn".to_owned()),
    ];

    let migrated = Command::new(TENURE)
        .args(["migrate", "--service", "accounts"])
        .envs(
            environment
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        )
        .output()
        .await
        .expect("tenure migrate");
    assert_success(&migrated);
    // The exact table set is the accounts crate's own test; here it is enough that `migrate` ran the
    // accounts migrations into the accounts schema.
    let tables = database.tables("accounts").await.expect("tables");
    for expected in ["accounts_migrations", "tenant", "aws_account"] {
        assert!(
            tables.iter().any(|table| table == expected),
            "{expected} missing from {tables:?}"
        );
    }
    assert!(
        key_file.exists(),
        "migrate creates the shared development key"
    );

    let mut server = spawn_server(
        Command::new(TENURE).args(["serve", "accounts"]).envs(
            environment
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        ),
    );
    let channel = connect(port).await;
    wait_until_serving(&channel, "tenure.accounts.v1.AccountService")
        .await
        .expect("ready once migrated");
    assert_eq!(
        call_empty(
            &channel,
            "/tenure.accounts.v1.AccountService/ListTenants",
            None
        )
        .await
        .code(),
        Code::Unauthenticated
    );

    // Production refuses the development key outright, before binding anything.
    let refused = Command::new(TENURE)
        .args(["serve", "accounts"])
        .envs(
            environment
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        )
        .env("TENURE_ENVIRONMENT", "production")
        .output()
        .await
        .expect("tenure serve");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("dev_key_file"));

    server.start_kill().expect("stop");
}
