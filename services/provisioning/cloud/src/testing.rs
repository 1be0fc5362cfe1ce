//! Test fixtures for the `aws` backend and the engine above it: the backend on an emulator
//! ([`static_sdk_config`], [`emulator_settings`], [`EmulatorAdmin`]) and fault injection at the HTTP
//! layer.
//!
//! [`FaultInjector`] is an SDK [`HttpClient`] that wraps a real one (usually pointed at moto_server).
//! Rules name an operation (`CreateAccount`, `CreateStack`, ...) and a [`Fault`] for its next few
//! requests: an error response that never reaches the backend (throttling,
//! `ConcurrentModificationException`, 5xx), or a request that does reach the backend and whose response
//! is then dropped ("succeeded but response lost", reported to the SDK as a timeout). Everything else
//! passes through unchanged. Build an [`AwsCloud`](crate::AwsCloud) on it with
//! `aws_config::SdkConfig::builder().http_client(injector.clone())` and `AwsCloud::from_sdk_config`.
//!
//! Error bodies are written in each service's own protocol (awsJson1_1 for Organizations, awsQuery for
//! CloudFormation), so the SDK's real error parsing and retry classification run on them.

mod emulator;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

pub use self::emulator::{EmulatorAdmin, emulator_settings, static_sdk_config};

/// What happens to a request that a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this error at once; the backend never sees the request.
    Reject {
        /// The HTTP status, e.g. 400 or 503.
        status: u16,
        /// The exception name the body carries, e.g. `TooManyRequestsException`.
        code: String,
    },
    /// Forward the request to the backend, which executes it, then drop the response and report a
    /// timeout: the caller cannot know whether the effect exists.
    ResponseLost,
}

impl Fault {
    /// Organizations' throttling answer (400 `TooManyRequestsException`).
    pub fn too_many_requests() -> Self {
        Self::reject(400, "TooManyRequestsException")
    }

    /// CloudFormation's throttling answer (400 `Throttling`).
    pub fn throttling() -> Self {
        Self::reject(400, "Throttling")
    }

    /// 400 `ConcurrentModificationException`, which the SDK alone would not retry.
    pub fn concurrent_modification() -> Self {
        Self::reject(400, "ConcurrentModificationException")
    }

    /// A server error: `status` (500, 503, ...) with `ServiceException`.
    pub fn server_error(status: u16) -> Self {
        Self::reject(status, "ServiceException")
    }

    /// Any error response.
    pub fn reject(status: u16, code: &str) -> Self {
        Self::Reject {
            status,
            code: code.to_owned(),
        }
    }
}

/// An SDK HTTP client that injects [`Fault`]s into the requests of chosen operations. Clones share
/// their rules and counters.
#[derive(Debug, Clone)]
pub struct FaultInjector {
    inner: SharedHttpClient,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    /// Requests per operation, faulted or not (each SDK attempt counts).
    attempts: BTreeMap<String, u64>,
    /// Requests per operation that reached the backend.
    forwarded: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct Rule {
    operation: String,
    fault: Fault,
    remaining: u32,
}

impl FaultInjector {
    /// Wraps `inner`, the client that reaches the backend.
    pub fn new(inner: SharedHttpClient) -> Self {
        Self {
            inner,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// Applies `fault` to the next `times` requests of `operation` (its API name, e.g. `CreateStack`).
    /// Rules for one operation apply in the order they were added.
    pub fn inject(&self, operation: &str, fault: Fault, times: u32) {
        self.with_state(|state| {
            state.rules.push(Rule {
                operation: operation.to_owned(),
                fault,
                remaining: times,
            });
        });
    }

    /// Drops every rule that has not fired yet.
    pub fn clear(&self) {
        self.with_state(|state| state.rules.clear());
    }

    /// How many faults are still to be injected.
    pub fn pending(&self) -> u64 {
        self.with_state(|state| {
            state
                .rules
                .iter()
                .map(|rule| u64::from(rule.remaining))
                .sum()
        })
    }

    /// Requests of `operation` the SDK sent, faulted or not: each retry attempt counts.
    pub fn attempts(&self, operation: &str) -> u64 {
        self.with_state(|state| state.attempts.get(operation).copied().unwrap_or(0))
    }

    /// Requests of every operation the SDK sent, faulted or not: what crossed the HTTP boundary.
    pub fn total_attempts(&self) -> u64 {
        self.with_state(|state| state.attempts.values().sum())
    }

    /// Requests of `operation` that reached the backend (passed through, or forwarded and lost).
    pub fn forwarded(&self, operation: &str) -> u64 {
        self.with_state(|state| state.forwarded.get(operation).copied().unwrap_or(0))
    }

    fn with_state<T>(&self, action: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        action(&mut state)
    }

    /// Counts the request and takes the fault due for it, if any.
    fn next_fault(&self, operation: &str) -> Option<Fault> {
        self.with_state(|state| {
            *state.attempts.entry(operation.to_owned()).or_insert(0) += 1;
            let rule = state
                .rules
                .iter_mut()
                .find(|rule| rule.operation == operation && rule.remaining > 0)?;
            rule.remaining -= 1;
            let fault = rule.fault.clone();
            state.rules.retain(|rule| rule.remaining > 0);
            Some(fault)
        })
    }

    fn count_forwarded(&self, operation: &str) {
        self.with_state(|state| *state.forwarded.entry(operation.to_owned()).or_insert(0) += 1);
    }
}

impl HttpClient for FaultInjector {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultConnector {
            injector: self.clone(),
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct FaultConnector {
    injector: FaultInjector,
    inner: SharedHttpConnector,
}

impl HttpConnector for FaultConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let protocol = Protocol::of(&request);
        let operation = operation_name(&request, protocol);
        let injector = self.injector.clone();
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            match injector.next_fault(&operation) {
                None => {
                    injector.count_forwarded(&operation);
                    inner.call(request).await
                }
                Some(Fault::Reject { status, code }) => error_response(protocol, status, &code),
                Some(Fault::ResponseLost) => {
                    injector.count_forwarded(&operation);
                    // The backend executes the request; only its answer goes missing.
                    let executed = inner.call(request).await;
                    drop(executed);
                    Err(ConnectorError::timeout(
                        format!("fault injector: the response to {operation} was lost").into(),
                    ))
                }
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// awsJson1_1: the operation in `x-amz-target`, errors as `{"__type": ...}`.
    Json,
    /// awsQuery: the operation as `Action=` in the form body, errors as XML.
    Query,
}

impl Protocol {
    fn of(request: &HttpRequest) -> Self {
        if request.headers().get("x-amz-target").is_some() {
            Self::Json
        } else {
            Self::Query
        }
    }
}

fn operation_name(request: &HttpRequest, protocol: Protocol) -> String {
    match protocol {
        Protocol::Json => request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or_default()
            .to_owned(),
        Protocol::Query => request
            .body()
            .bytes()
            .and_then(|body| std::str::from_utf8(body).ok())
            .and_then(|form| {
                form.split('&')
                    .find_map(|pair| pair.strip_prefix("Action="))
            })
            .unwrap_or_default()
            .to_owned(),
    }
}

fn error_response(
    protocol: Protocol,
    status: u16,
    code: &str,
) -> Result<HttpResponse, ConnectorError> {
    let message = "injected by the Tenure fault injector";
    let (content_type, body) = match protocol {
        Protocol::Json => (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{code}","Message":"{message}"}}"#),
        ),
        Protocol::Query => (
            "text/xml",
            format!(
                "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
                 <Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
                 <RequestId>tenure-fault-injector</RequestId></ErrorResponse>",
                if status >= 500 { "Receiver" } else { "Sender" }
            ),
        ),
    };
    let status = StatusCode::try_from(status)
        .map_err(|error| ConnectorError::other(Box::new(error), None))?;
    let mut response = HttpResponse::new(status, SdkBody::from(body));
    response.headers_mut().insert("content-type", content_type);
    Ok(response)
}
