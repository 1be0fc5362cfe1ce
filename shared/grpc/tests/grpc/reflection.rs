//! Reflection describes what the services send, not only what they serve: the `google.rpc` error
//! details in `grpc-status-details-bin` resolve with everything they import, so grpcurl and buf curl
//! print a BadRequest's field violations as text.

use prost::Message as _;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use super::{quick_settings, serve_probe};

/// The files reflection answers `question` with.
async fn ask(channel: &Channel, question: MessageRequest) -> Vec<prost_types::FileDescriptorProto> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(question.clone()),
    };
    let mut answers = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("answer")
        .expect("one answer");
    let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response else {
        panic!(
            "{question:?} did not resolve: {:?}",
            answer.message_response
        );
    };
    files
        .file_descriptor_proto
        .iter()
        .map(|bytes| {
            prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("descriptor")
        })
        .collect()
}

/// The file defining `symbol` and, fetched as a client fetches them next, every file it imports.
async fn files_for(channel: &Channel, symbol: &str) -> Vec<prost_types::FileDescriptorProto> {
    let mut files = ask(
        channel,
        MessageRequest::FileContainingSymbol(symbol.to_owned()),
    )
    .await;
    let mut next = 0;
    while next < files.len() {
        let imports = files[next].dependency.clone();
        for import in imports {
            if !files.iter().any(|file| file.name() == import) {
                files.extend(ask(channel, MessageRequest::FileByFilename(import)).await);
            }
        }
        next += 1;
    }
    files
}

#[tokio::test]
async fn error_details_resolve_with_every_file_they_import() {
    let (host, channel) = serve_probe(super::ServerSettings {
        reflection: true,
        ..quick_settings()
    })
    .await;
    for (symbol, file, message) in [
        (
            "google.rpc.BadRequest",
            "google/rpc/error_details.proto",
            "BadRequest",
        ),
        (
            "google.rpc.RetryInfo",
            "google/rpc/error_details.proto",
            "RetryInfo",
        ),
        ("google.rpc.Status", "google/rpc/status.proto", "Status"),
    ] {
        let files = files_for(&channel, symbol).await;
        let defining = files
            .iter()
            .find(|candidate| candidate.name() == file)
            .unwrap_or_else(|| panic!("{symbol}: no {file} among {files:#?}"));
        assert!(
            defining.message_type.iter().any(|m| m.name() == message),
            "{file} lacks {message}"
        );
        // Every import resolved under the name it is imported by.
        let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
        for import in files.iter().flat_map(|f| f.dependency.iter()) {
            assert!(
                names.contains(&import.as_str()),
                "{symbol}: {import} missing from {names:?}"
            );
        }
        assert!(names.len() >= 2, "{symbol} imports nothing? {names:?}");
    }
    host.shutdown().await;
}
