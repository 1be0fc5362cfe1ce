//! gRPC status codes by number, so the crate classifies outcomes without depending on tonic.

/// Each code's canonical name (spans, logs) and the name go-grpc-prometheus puts in `grpc_code`.
const CODES: [(&str, &str); 17] = [
    ("OK", "OK"),
    ("CANCELLED", "Canceled"),
    ("UNKNOWN", "Unknown"),
    ("INVALID_ARGUMENT", "InvalidArgument"),
    ("DEADLINE_EXCEEDED", "DeadlineExceeded"),
    ("NOT_FOUND", "NotFound"),
    ("ALREADY_EXISTS", "AlreadyExists"),
    ("PERMISSION_DENIED", "PermissionDenied"),
    ("RESOURCE_EXHAUSTED", "ResourceExhausted"),
    ("FAILED_PRECONDITION", "FailedPrecondition"),
    ("ABORTED", "Aborted"),
    ("OUT_OF_RANGE", "OutOfRange"),
    ("UNIMPLEMENTED", "Unimplemented"),
    ("INTERNAL", "Internal"),
    ("UNAVAILABLE", "Unavailable"),
    ("DATA_LOSS", "DataLoss"),
    ("UNAUTHENTICATED", "Unauthenticated"),
];

const UNKNOWN: i32 = 2;

/// The code a peer meant: gRPC reads any number outside the defined range as `UNKNOWN`.
pub(crate) fn normalize(code: i32) -> i32 {
    if usize::try_from(code).is_ok_and(|index| index < CODES.len()) {
        code
    } else {
        UNKNOWN
    }
}

fn entry(code: i32) -> (&'static str, &'static str) {
    usize::try_from(normalize(code))
        .ok()
        .and_then(|index| CODES.get(index))
        .copied()
        .unwrap_or(("UNKNOWN", "Unknown"))
}

/// The canonical name of a gRPC status code (`tonic::Code as i32`), e.g. `NOT_FOUND`; numbers outside
/// the defined range read as `UNKNOWN`. Used for `rpc.response.status_code` and `error.type`.
pub fn grpc_code_name(code: i32) -> &'static str {
    entry(code).0
}

/// Whether a server answering with `code` failed (quality.md §5.5): only `UNKNOWN`,
/// `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE` and `DATA_LOSS`. Client mistakes
/// such as `INVALID_ARGUMENT` or `NOT_FOUND` are not server errors, for spans, metrics and alerts alike.
pub fn is_grpc_server_error(code: i32) -> bool {
    matches!(normalize(code), 2 | 4 | 12 | 13 | 14 | 15)
}

/// The go-grpc-prometheus `grpc_code` label value (`NotFound`) for a canonical name (`NOT_FOUND`);
/// anything unrecognised counts as `Unknown`, which also keeps the label's values bounded.
pub(crate) fn metric_label(name: &str) -> &'static str {
    CODES
        .iter()
        .find(|(canonical, _)| *canonical == name)
        .map_or("Unknown", |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_grpc_numbering() {
        assert_eq!(grpc_code_name(0), "OK");
        assert_eq!(grpc_code_name(5), "NOT_FOUND");
        assert_eq!(grpc_code_name(16), "UNAUTHENTICATED");
        assert_eq!(grpc_code_name(17), "UNKNOWN");
        assert_eq!(grpc_code_name(-1), "UNKNOWN");
    }

    #[test]
    fn metric_labels_use_the_go_spelling() {
        assert_eq!(metric_label("OK"), "OK");
        assert_eq!(metric_label("CANCELLED"), "Canceled");
        assert_eq!(metric_label("RESOURCE_EXHAUSTED"), "ResourceExhausted");
        assert_eq!(metric_label("tenant-1234"), "Unknown");
    }
}
