use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tenure_testkit::grpc::{call_empty, call_empty_for, channel, wait_until_serving};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_stream::StreamExt as _;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1 as reflection_v1;
use tonic_reflection::pb::v1alpha as reflection_v1alpha;

use crate::serve::{ORDERS_TOKEN_ARGS, printed};

pub(crate) const TENURE: &str = env!("CARGO_BIN_EXE_tenure");

/// What each listener serves, besides health and reflection.
const SERVED: &[(&str, &[&str])] = &[
    (
        "orders",
        &[
            "tenure.orders.v1.OrderService",
            "tenure.orders.v1.OrderEvents",
            "tenure.orders.v1.SagaAdmin",
            "tenure.purge.v1.PurgeParticipant",
        ],
    ),
    (
        "accounts",
        &[
            "tenure.accounts.v1.AccountService",
            "tenure.purge.v1.PurgeParticipant",
        ],
    ),
    (
        "provisioning",
        &[
            "tenure.provisioning.v1.ProvisioningService",
            "tenure.provisioning.v1.SandboxService",
            "tenure.purge.v1.PurgeParticipant",
        ],
    ),
    (
        "data-purge",
        &[
            "tenure.purge.v1.PurgeService",
            "tenure.purge.v1.PurgeEvents",
            "tenure.purge.v1.PurgeParticipant",
        ],
    ),
];

/// A `tenure up` child process and what it printed.
pub(crate) struct Up {
    pub(crate) child: Child,
    pub(crate) endpoints: BTreeMap<String, SocketAddr>,
    pub(crate) metrics: String,
    pub(crate) token: String,
    directory: tempfile::TempDir,
}

impl Up {
    pub(crate) async fn start() -> Up {
        Self::start_with(|_| {}).await
    }

    /// `tenure up` with `configure` applied to its command last (more variables, a piped stderr).
    pub(crate) async fn start_with(configure: impl FnOnce(&mut Command)) -> Up {
        let directory = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(TENURE);
        command
            .args(["up", "--port-base", "0"])
            .current_dir(directory.path())
            .env("TENURE_TELEMETRY__LOG_FILTER", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        configure(&mut command);
        let mut child = command.spawn().expect("spawn tenure up");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut endpoints = BTreeMap::new();
        let mut metrics = String::new();
        let mut token = String::new();
        let read = async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                let line = line.trim().to_owned();
                if line.starts_with("Press Ctrl-C") {
                    break;
                }
                if let Some(value) = line.strip_prefix("export TENURE_TOKEN=") {
                    token = value.to_owned();
                    continue;
                }
                let mut words = line.split_whitespace();
                if let (Some(name), Some(url), None) = (words.next(), words.next(), words.next()) {
                    if name == "metrics" {
                        metrics = url.to_owned();
                    } else if let Some(address) = url.strip_prefix("http://") {
                        endpoints.insert(name.to_owned(), address.parse().expect("address"));
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .expect("tenure up printed its banner in time");
        assert_eq!(
            endpoints.len(),
            4,
            "one endpoint per service: {endpoints:?}"
        );
        assert!(!token.is_empty(), "a ready-made token is printed");
        Up {
            child,
            endpoints,
            metrics,
            token,
            directory,
        }
    }

    pub(crate) async fn channel(&self, service: &str) -> tonic::transport::Channel {
        channel(self.endpoints[service]).await.expect("channel")
    }

    pub(crate) fn data_dir(&self) -> &Path {
        self.directory.path()
    }
}

#[tokio::test]
async fn every_service_reports_serving_and_its_data_lands_in_sqlite_files() {
    let up = Up::start().await;
    for (name, services) in SERVED {
        let channel = up.channel(name).await;
        wait_until_serving(&channel, "").await.expect("listener");
        for service in *services {
            wait_until_serving(&channel, service)
                .await
                .expect("service");
        }
        // A name the listener does not serve is unknown to it.
        let unknown = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: "tenure.nope.v1.Nothing".to_owned(),
            })
            .await
            .expect_err("unknown service");
        assert_eq!(unknown.code(), Code::NotFound);
    }
    for file in [
        "orders.db",
        "accounts.db",
        "provisioning.db",
        "purge.db",
        "dev-signing-key.pem",
    ] {
        assert!(up.data_dir().join("data").join(file).exists(), "{file}");
    }
    assert!(up.metrics.ends_with("/metrics"));
}

/// Lists the services a listener advertises through one reflection version, and resolves each listed
/// name as clients such as `buf curl` do next: every name must come with its descriptor.
macro_rules! listed_services {
    ($version:ident, $channel:expr) => {{
        use $version::server_reflection_client::ServerReflectionClient;
        use $version::server_reflection_request::MessageRequest;
        use $version::server_reflection_response::MessageResponse;
        let ask = |question: MessageRequest| {
            let channel = $channel.clone();
            async move {
                let request = $version::ServerReflectionRequest {
                    host: String::new(),
                    message_request: Some(question),
                };
                let mut responses = ServerReflectionClient::new(channel)
                    .server_reflection_info(tokio_stream::once(request))
                    .await
                    .expect("reflection")
                    .into_inner();
                responses
                    .next()
                    .await
                    .expect("one answer")
                    .expect("ok")
                    .message_response
            }
        };
        let Some(MessageResponse::ListServicesResponse(list)) =
            ask(MessageRequest::ListServices(String::new())).await
        else {
            panic!("unexpected reflection answer");
        };
        let mut names: Vec<String> = list
            .service
            .into_iter()
            .map(|service| service.name)
            .collect();
        names.sort();
        for name in &names {
            let answer = ask(MessageRequest::FileContainingSymbol(name.clone())).await;
            assert!(
                matches!(answer, Some(MessageResponse::FileDescriptorResponse(_))),
                "no descriptor for {name}: {answer:?}"
            );
        }
        names
    }};
}

#[tokio::test]
async fn reflection_lists_every_contract_service_on_the_listener_that_serves_it() {
    let up = Up::start().await;
    let mut everything = std::collections::BTreeSet::new();
    for (name, services) in SERVED {
        let mut expected: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
        expected.extend(
            [
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ]
            .map(str::to_owned),
        );
        expected.sort();
        let channel = up.channel(name).await;
        assert_eq!(listed_services!(reflection_v1, channel), expected, "{name}");
        assert_eq!(
            listed_services!(reflection_v1alpha, channel),
            expected,
            "{name}"
        );
        everything.extend(services.iter().map(|s| (*s).to_owned()));
    }
    // Together the four listeners serve every service the contracts publish.
    use prost::Message as _;
    let set =
        prost_types::FileDescriptorSet::decode(tenure_proto::FILE_DESCRIPTOR_SET).expect("set");
    let published: std::collections::BTreeSet<String> = set
        .file
        .iter()
        .filter(|file| file.package().starts_with("tenure."))
        .flat_map(|file| {
            file.service
                .iter()
                .map(move |service| format!("{}.{}", file.package(), service.name()))
        })
        .collect();
    assert_eq!(published, everything);
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated_and_the_printed_token_works() {
    let up = Up::start().await;
    let accounts = up.channel("accounts").await;
    wait_until_serving(&accounts, "").await.expect("ready");
    let path = "/tenure.accounts.v1.AccountService/ListTenants";
    assert_eq!(
        call_empty(&accounts, path, None).await.code(),
        Code::Unauthenticated
    );
    assert_eq!(
        call_empty(&accounts, path, Some("not.a.token"))
            .await
            .code(),
        Code::Unauthenticated
    );
    // The printed operator token passes authentication and the policy (operators may list tenants);
    // the answer is whatever the handler says, never an auth failure.
    let answer = call_empty(&accounts, path, Some(&up.token)).await.code();
    assert!(
        !matches!(answer, Code::Unauthenticated | Code::PermissionDenied),
        "{answer:?}"
    );
    // A guessed method is UNIMPLEMENTED once authenticated, like any unknown path.
    let guessed = "/tenure.accounts.v1alpha.AccountService/ListTenants";
    assert_eq!(
        call_empty(&accounts, guessed, Some(&up.token)).await.code(),
        Code::Unimplemented
    );
}

#[tokio::test]
async fn tenure_token_mints_tokens_the_running_stack_accepts() {
    let up = Up::start().await;
    let tenant = uuid::Uuid::new_v4().to_string();
    let key_file = up.data_dir().join("data/dev-signing-key.pem");
    let output = Command::new(TENURE)
        .args([
            "token",
            "--role",
            "customer",
            "--tenant",
            &tenant,
            "--key-file",
        ])
        .arg(&key_file)
        .output()
        .await
        .expect("tenure token");
    let customer = printed(output);
    let customer = customer.as_str();
    let accounts = up.channel("accounts").await;
    wait_until_serving(&accounts, "").await.expect("ready");
    // Customers may read their tenant ...
    let read = call_empty(
        &accounts,
        "/tenure.accounts.v1.AccountService/GetTenant",
        Some(customer),
    )
    .await
    .code();
    assert!(
        !matches!(read, Code::Unauthenticated | Code::PermissionDenied),
        "{read:?}"
    );
    // ... but never call a saga step.
    assert_eq!(
        call_empty(
            &accounts,
            "/tenure.accounts.v1.AccountService/ReserveAccount",
            Some(customer)
        )
        .await
        .code(),
        Code::PermissionDenied
    );
    // A service token reaches the internal RPCs of the service it names, and only that service.
    let minted = Command::new(TENURE)
        .args(ORDERS_TOKEN_ARGS)
        .arg(&key_file)
        .output()
        .await
        .expect("tenure token");
    let service = printed(minted);
    let service = service.as_str();
    let provisioning = up.channel("provisioning").await;
    wait_until_serving(&provisioning, "").await.expect("ready");
    // It names the tenant it acts for: without one, the call is refused.
    assert_eq!(
        call_empty(
            &provisioning,
            "/tenure.provisioning.v1.ProvisioningService/GetOperation",
            Some(service),
        )
        .await
        .code(),
        Code::PermissionDenied
    );
    let internal = call_empty_for(
        &provisioning,
        "/tenure.provisioning.v1.ProvisioningService/GetOperation",
        Some(service),
        Some(uuid::Uuid::new_v4()),
    )
    .await
    .code();
    assert!(
        !matches!(internal, Code::Unauthenticated | Code::PermissionDenied),
        "{internal:?}"
    );
    assert_eq!(
        call_empty(
            &accounts,
            "/tenure.accounts.v1.AccountService/ReserveAccount",
            Some(service)
        )
        .await
        .code(),
        Code::Unauthenticated,
        "a token for provisioning is no token for accounts"
    );
    // A customer token without a tenant cannot be minted.
    let refused = Command::new(TENURE)
        .args(["token", "--role", "customer", "--key-file"])
        .arg(&key_file)
        .output()
        .await
        .expect("tenure token");
    assert!(!refused.status.success());
}

/// One gRPC-web call over HTTP/1.1, as a browser would make it.
async fn grpc_web_call(
    address: SocketAddr,
    path: &str,
    message: Vec<u8>,
    token: Option<&str>,
) -> (http::HeaderMap, Vec<(u8, Bytes)>) {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(&message);
    let mut request = http::Request::post(format!("http://{address}{path}"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", "http://localhost:5173")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(frame)))
        .expect("request");
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("grpc-web response");
    assert_eq!(response.status(), http::StatusCode::OK);
    let headers = response.headers().clone();
    let mut body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let mut frames = Vec::new();
    while body.remaining() >= 5 {
        let flags = body.get_u8();
        let length = usize::try_from(body.get_u32()).expect("length");
        frames.push((flags, body.split_to(length)));
    }
    (headers, frames)
}

/// The grpc-status of a gRPC-web answer: in the trailer frame, or in the headers of a trailers-only answer.
fn grpc_web_status(headers: &http::HeaderMap, frames: &[(u8, Bytes)]) -> String {
    for (flags, payload) in frames {
        if flags & 0x80 != 0 {
            let text = String::from_utf8_lossy(payload);
            for line in text.split("\r\n") {
                if let Some(code) = line.strip_prefix("grpc-status:") {
                    return code.trim().to_owned();
                }
            }
        }
    }
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn grpc_web_requests_reach_the_services_and_get_proper_answers() {
    use prost::Message as _;
    let up = Up::start().await;
    let orders = up.endpoints["orders"];
    wait_until_serving(&up.channel("orders").await, "")
        .await
        .expect("ready");

    let request = HealthCheckRequest {
        service: "tenure.orders.v1.OrderService".to_owned(),
    };
    let (headers, frames) = grpc_web_call(
        orders,
        "/grpc.health.v1.Health/Check",
        request.encode_to_vec(),
        None,
    )
    .await;
    assert_eq!(grpc_web_status(&headers, &frames), "0");
    let (_, message) = frames
        .iter()
        .find(|(flags, _)| flags & 0x80 == 0)
        .expect("a message");
    let answer = tonic_health::pb::HealthCheckResponse::decode(message.clone()).expect("decodes");
    assert_eq!(answer.status(), ServingStatus::Serving);
    // The browser may read the answer, field violations included: the CORS layer echoes the allowed
    // origin and exposes the gRPC status headers.
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://localhost:5173")
    );
    let exposed = headers
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(exposed.contains("grpc-status-details-bin"), "{exposed}");

    let (headers, frames) = grpc_web_call(
        orders,
        "/tenure.orders.v1.OrderService/ListOrders",
        Vec::new(),
        None,
    )
    .await;
    assert_eq!(
        grpc_web_status(&headers, &frames),
        "16",
        "UNAUTHENTICATED without a token"
    );
    let (headers, frames) = grpc_web_call(
        orders,
        "/tenure.orders.v1.OrderService/ListOrders",
        Vec::new(),
        Some(&up.token),
    )
    .await;
    let status = grpc_web_status(&headers, &frames);
    assert!(
        status != "16" && status != "7",
        "the token passes over gRPC-web too: {status}"
    );
}

#[tokio::test]
async fn cors_preflights_allow_trace_and_auth_headers_from_allowed_origins_only() {
    let up = Up::start().await;
    let address = up.endpoints["accounts"];
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let preflight = |origin: &str| {
        http::Request::builder()
            .method("OPTIONS")
            .uri(format!(
                "http://{address}/tenure.accounts.v1.AccountService/GetTenant"
            ))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,traceparent,x-grpc-web",
            )
            .body(Full::new(Bytes::new()))
            .expect("preflight")
    };
    let allowed = client
        .request(preflight("http://localhost:3000"))
        .await
        .expect("answer");
    let header = |name: &str| {
        allowed
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    assert_eq!(
        header("access-control-allow-origin"),
        "http://localhost:3000"
    );
    for needed in ["authorization", "traceparent", "tracestate", "grpc-timeout"] {
        assert!(
            header("access-control-allow-headers").contains(needed),
            "{needed}"
        );
    }

    let refused = client
        .request(preflight("https://evil.example"))
        .await
        .expect("answer");
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn sigterm_turns_health_to_not_serving_and_exits_cleanly() {
    let mut up = Up::start().await;
    let channel = up.channel("accounts").await;
    wait_until_serving(&channel, "").await.expect("ready");
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: "tenure.accounts.v1.AccountService".to_owned(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.expect("first").expect("ok");
    assert_eq!(first.status(), ServingStatus::Serving);

    let pid = up.child.id().expect("running").to_string();
    let signalled = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(signalled.success());
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("Watch reports the drain in time");
    let update = next.expect("the stream is still open").expect("an update");
    assert_eq!(update.status(), ServingStatus::NotServing);
    let exit = tokio::time::timeout(Duration::from_secs(30), up.child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn tenure_health_reports_serving_for_a_running_listener() {
    let up = Up::start().await;
    let endpoint = format!("http://{}", up.endpoints["provisioning"]);
    wait_until_serving(&up.channel("provisioning").await, "")
        .await
        .expect("ready");
    let output = Command::new(TENURE)
        .args([
            "health",
            "--endpoint",
            &endpoint,
            "--service",
            "tenure.provisioning.v1.SandboxService",
        ])
        .output()
        .await
        .expect("tenure health");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "SERVING");
    let unknown = Command::new(TENURE)
        .args([
            "health",
            "--endpoint",
            &endpoint,
            "--service",
            "tenure.orders.v1.OrderService",
        ])
        .output()
        .await
        .expect("tenure health");
    assert!(
        !unknown.status.success(),
        "a service this listener does not serve"
    );
}
