use std::collections::BTreeSet;
use std::sync::OnceLock;

use prost::Message;
use prost_types::FileDescriptorSet;

/// One method of a published service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MethodInfo {
    /// The HTTP/2 path, `/tenure.orders.v1.OrderService/CreateOrder`.
    pub path: String,
    /// True when the server streams its response.
    pub server_streaming: bool,
    /// True when the client streams its request.
    pub client_streaming: bool,
    /// True when the request message has an `idempotency_key` field: every mutating method takes
    /// one (quality.md §3.1), so this is what makes a method a mutation to the rate limits.
    pub takes_idempotency_key: bool,
}

impl MethodInfo {
    /// The `grpc_type` label of the RED metrics.
    pub fn grpc_type(&self) -> &'static str {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => "unary",
            (false, true) => "server_stream",
            (true, false) => "client_stream",
            (true, true) => "bidi_stream",
        }
    }
}

/// The request field every mutating method carries.
const IDEMPOTENCY_KEY_FIELD: &str = "idempotency_key";

fn catalogue() -> &'static [MethodInfo] {
    static CATALOGUE: OnceLock<Vec<MethodInfo>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        // The set is produced by our own build script; a decode failure cannot happen at run time
        // without the build having failed first, and an empty catalogue fails the policy tests loudly.
        let Ok(set) = FileDescriptorSet::decode(tenure_proto::FILE_DESCRIPTOR_SET) else {
            return Vec::new();
        };
        // Request messages are top-level messages of the contracts, named `.package.Message`.
        let keyed: BTreeSet<String> = set
            .file
            .iter()
            .flat_map(|file| {
                file.message_type
                    .iter()
                    .filter(|message| {
                        message
                            .field
                            .iter()
                            .any(|field| field.name() == IDEMPOTENCY_KEY_FIELD)
                    })
                    .map(move |message| format!(".{}.{}", file.package(), message.name()))
            })
            .collect();
        let mut methods = Vec::new();
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    methods.push(MethodInfo {
                        path: format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                        server_streaming: method.server_streaming(),
                        client_streaming: method.client_streaming(),
                        takes_idempotency_key: keyed.contains(method.input_type()),
                    });
                }
            }
        }
        methods.sort();
        methods
    })
}

/// Every method of one service, by its full name (`tenure.orders.v1.OrderService`).
pub fn methods_of_service(service: &str) -> Vec<MethodInfo> {
    let prefix = format!("/{service}/");
    catalogue()
        .iter()
        .filter(|method| method.path.starts_with(&prefix))
        .cloned()
        .collect()
}

/// The paths of every method of the given services.
pub fn served_methods<'a>(services: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    services
        .into_iter()
        .flat_map(methods_of_service)
        .map(|method| method.path)
        .collect()
}

/// Looks a path up in the published contracts.
pub(crate) fn method_info(path: &str) -> Option<&'static MethodInfo> {
    catalogue().iter().find(|method| method.path == path)
}

/// Splits `/pkg.Service/Method` into its service and method parts.
pub(crate) fn split_path(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix('/')?.split_once('/')
}

/// `google/rpc/status.proto` and `google/rpc/error_details.proto`, with the two files they import,
/// under their canonical names. tonic-types ships them as `status.proto` and `error_details.proto`,
/// which clients that already know `google/rpc/...` (buf curl, grpcurl with googleapis) would see as a
/// second definition of the same symbols.
pub(crate) fn rpc_error_details() -> FileDescriptorSet {
    let rename = |name: &str| match name {
        "status.proto" | "error_details.proto" => format!("google/rpc/{name}"),
        _ => name.to_owned(),
    };
    let mut set =
        FileDescriptorSet::decode(tonic_types::pb::FILE_DESCRIPTOR_SET).unwrap_or_default();
    for file in &mut set.file {
        file.name = file.name.as_deref().map(rename);
        for import in &mut file.dependency {
            *import = rename(import);
        }
    }
    if let Ok(imports) = FileDescriptorSet::decode(tenure_proto::RPC_IMPORTS_FILE_DESCRIPTOR_SET) {
        set.file.extend(imports.file);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_knows_streaming_kinds() {
        let subscribe = method_info("/tenure.orders.v1.OrderEvents/Subscribe").expect("published");
        assert_eq!(subscribe.grpc_type(), "server_stream");
        let create = method_info("/tenure.orders.v1.OrderService/CreateOrder").expect("published");
        assert_eq!(create.grpc_type(), "unary");
        assert!(methods_of_service("tenure.purge.v1.PurgeParticipant").len() >= 4);
    }

    #[test]
    fn mutations_are_the_methods_that_take_an_idempotency_key() {
        let keyed = |path: &str| method_info(path).expect("published").takes_idempotency_key;
        assert!(keyed("/tenure.orders.v1.OrderService/CreateOrder"));
        assert!(keyed("/tenure.orders.v1.OrderService/CancelOrder"));
        assert!(keyed("/tenure.accounts.v1.AccountService/CreateTenant"));
        assert!(!keyed("/tenure.orders.v1.OrderService/GetOrder"));
        assert!(!keyed("/tenure.orders.v1.OrderService/WatchOrder"));
        assert!(!keyed("/tenure.orders.v1.OrderEvents/Subscribe"));
    }
}
