//! What the client says when the stack refuses a call: the status code, and the google.rpc details
//! Tenure attaches (field violations, the catalogue code and its metadata), so the message names the
//! field or the state at fault.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// A call the stack answered with an error status.
#[derive(Debug)]
pub struct RpcError {
    code: Code,
    message: String,
    violations: Vec<(String, String)>,
    reason: Option<String>,
    metadata: Vec<(String, String)>,
    transport: bool,
}

impl RpcError {
    /// The gRPC status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// True when the client never got an answer (no listener, a broken connection), as opposed to
    /// a status the stack sent.
    pub fn is_transport(&self) -> bool {
        self.transport
    }
}

impl From<Status> for RpcError {
    fn from(status: Status) -> Self {
        // tonic keeps the cause of the statuses it makes up on the client side; statuses decoded
        // from a server's answer have none.
        let transport = std::error::Error::source(&status).is_some();
        let details = status.get_error_details();
        let violations = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|violation| (violation.field.clone(), violation.description.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let (reason, metadata) = match details.error_info() {
            Some(info) => {
                let mut metadata: Vec<(String, String)> = info
                    .metadata
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect();
                metadata.sort();
                (Some(info.reason.clone()), metadata)
            }
            None => (None, Vec::new()),
        };
        Self {
            code: status.code(),
            message: status.message().to_owned(),
            violations,
            reason: reason.filter(|reason| !reason.is_empty()),
            metadata,
            transport,
        }
    }
}

/// `InvalidArgument` as `invalid argument`.
fn code_words(code: Code) -> String {
    let name = format!("{code:?}");
    let mut words = String::with_capacity(name.len() + 4);
    for (index, character) in name.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            words.push(' ');
        }
        words.push(character.to_ascii_lowercase());
    }
    words
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", code_words(self.code))?;
        match self.violations.as_slice() {
            [(field, description)] => write!(f, "{field}: {description}")?,
            _ => f.write_str(&self.message)?,
        }
        if let Some(reason) = &self.reason {
            write!(f, " [{reason}")?;
            for (key, value) in &self.metadata {
                write!(f, ", {key}={value}")?;
            }
            f.write_str("]")?;
        }
        if self.violations.len() > 1 {
            for (field, description) in &self.violations {
                write!(f, "\n  {field}: {description}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for RpcError {}

/// Unwraps a unary answer, turning an error status into an [`RpcError`].
pub(crate) trait Answer<T> {
    /// The message, or the refusal.
    fn answer(self) -> Result<T, RpcError>;
}

impl<T> Answer<T> for Result<tonic::Response<T>, Status> {
    fn answer(self) -> Result<T, RpcError> {
        self.map(tonic::Response::into_inner)
            .map_err(RpcError::from)
    }
}

/// `error`, and when it is the policy's PERMISSION_DENIED, which names no role, what to do about it:
/// `command` is for operations staff alone, so the usual cause is a customer's or billing's token.
pub(crate) fn operators_only(error: RpcError, command: &str) -> anyhow::Error {
    if error.code() == Code::PermissionDenied && !error.is_transport() {
        anyhow::Error::new(error).context(format!(
            "`tenure {command}` is for operations staff only; call it with an operator token \
             (`tenure token --role operator`, or the one `tenure up` prints)"
        ))
    } else {
        error.into()
    }
}

/// A response's required message, which the contracts always set on success.
pub(crate) fn present<T>(message: Option<T>, what: &str) -> anyhow::Result<T> {
    message.ok_or_else(|| anyhow::anyhow!("the server's answer holds no {what}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    #[test]
    fn one_field_violation_reads_as_one_line() {
        let details = ErrorDetails::with_bad_request(vec![FieldViolation::new(
            "root_email",
            "must be a valid email address",
        )]);
        let status = Status::with_error_details(Code::InvalidArgument, "bad order", details);
        assert_eq!(
            RpcError::from(status).to_string(),
            "invalid argument: root_email: must be a valid email address"
        );
    }

    #[test]
    fn several_violations_and_the_catalogue_code_are_all_shown() {
        let mut details = ErrorDetails::with_bad_request(vec![
            FieldViolation::new("root_email", "too short"),
            FieldViolation::new("account_name", "required"),
        ]);
        details.set_error_info("TNR001", "tenure", HashMap::new());
        let status = Status::with_error_details(Code::InvalidArgument, "2 problems", details);
        let text = RpcError::from(status).to_string();
        assert_eq!(
            text,
            "invalid argument: 2 problems [TNR001]\n  root_email: too short\n  account_name: required"
        );
    }

    #[test]
    fn error_info_metadata_names_the_state_at_fault() {
        let details = ErrorDetails::with_error_info(
            "TNR011",
            "tenure",
            HashMap::from([("current_state".to_owned(), "offboarding".to_owned())]),
        );
        let status = Status::with_error_details(
            Code::FailedPrecondition,
            "Subscription not active",
            details,
        );
        let error = RpcError::from(status);
        assert_eq!(error.code(), Code::FailedPrecondition);
        assert_eq!(
            error.to_string(),
            "failed precondition: Subscription not active [TNR011, current_state=offboarding]"
        );
    }

    #[test]
    fn a_plain_status_keeps_its_message() {
        let error = RpcError::from(Status::unauthenticated("missing bearer token"));
        assert_eq!(error.to_string(), "unauthenticated: missing bearer token");
    }
}
