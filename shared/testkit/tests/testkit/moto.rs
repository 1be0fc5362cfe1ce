use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use tenure_testkit::moto::{ACCOUNT_ID_HEADER, MotoServer, fresh_account_id};

const NOT_IN_USE: &str = "AWSOrganizationsNotInUseException";

/// Fails, rather than skips, without `TENURE_TEST_MOTO_VENV`: a suite that silently drops its AWS
/// tests would pass on a machine where they never ran.
#[tokio::test]
async fn reset_forgets_every_account_and_the_account_header_isolates() {
    let moto = MotoServer::start().await.unwrap();
    let endpoint = moto.endpoint();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    let (ours, theirs) = (fresh_account_id(), fresh_account_id());

    let (status, body) = organizations(
        &moto,
        &ours,
        "CreateOrganization",
        r#"{"FeatureSet":"ALL"}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&ours), "{body}");
    let (status, body) = describe_organization(&moto, &ours).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, body) = describe_organization(&moto, &theirs).await.unwrap();
    assert!(body.contains(NOT_IN_USE), "{body}");

    moto.reset().await.unwrap();
    let (_, body) = describe_organization(&moto, &ours).await.unwrap();
    assert!(body.contains(NOT_IN_USE), "{body}");
}

#[tokio::test]
async fn two_servers_run_side_by_side() {
    let (first, second) = tokio::join!(MotoServer::start(), MotoServer::start());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_ne!(first.endpoint(), second.endpoint());
    first.reset().await.unwrap();
    second.reset().await.unwrap();
}

#[test]
fn fresh_account_ids_differ() {
    assert_ne!(fresh_account_id(), fresh_account_id());
}

async fn describe_organization(moto: &MotoServer, account: &str) -> std::io::Result<(u16, String)> {
    organizations(moto, account, "DescribeOrganization", "{}").await
}

/// One unsigned Organizations call as `account`; moto checks no signature, only the credential scope
/// that routes the request to its Organizations backend. Returns the status code and the body.
async fn organizations(
    moto: &MotoServer,
    account: &str,
    action: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let endpoint = moto.endpoint();
    let authority = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).await?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/organizations/aws4_request, \
         SignedHeaders=host, Signature=00\r\n\
         X-Amz-Target: AWSOrganizationsV20161128.{action}\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         {ACCOUNT_ID_HEADER}: {account}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or_else(String::new, |(_, body)| body.to_owned());
    Ok((status, body))
}
