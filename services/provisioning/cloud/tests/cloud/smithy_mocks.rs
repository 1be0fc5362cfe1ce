//! What moto 5.2.5 does not emulate (handshakes, billing transfers), shown on a real `AwsCloud` whose
//! SDK clients answer from aws-smithy-mocks rules. Every answer is a raw awsJson1_1 HTTP response, so the
//! SDK's own deserialisation and error parsing run exactly as they do against AWS.

use aws_sdk_organizations::Client;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use chrono::{TimeZone as _, Utc};
use tenure_domain::AwsAccountId;
use tenure_provisioning_cloud::testing::static_sdk_config;
use tenure_provisioning_cloud::{
    AwsCloud, AwsSettings, Cloud, CloudError, HandshakeAction, HandshakeState, TransferInvitation,
    TransferStatus,
};

const MANAGEMENT: &str = "111111111111";
const CUSTOMER: &str = "012345678901";
const HANDSHAKE: &str = "h-0123456789abcdef";
const TRANSFER: &str = "rt-0123456789abcdef";

fn account(id: &str) -> AwsAccountId {
    AwsAccountId::parse(id).expect("a valid account id")
}

/// A backend whose calls are answered by `rules` (any order), with a single attempt per call.
fn mocked_cloud(rules: &[&Rule]) -> AwsCloud {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |interceptor, rule| interceptor.with_rule(rule),
    );
    let settings = AwsSettings {
        max_attempts: 1,
        initial_backoff_ms: 1,
        ..AwsSettings::default()
    };
    AwsCloud::from_sdk_config(&static_sdk_config(create_mock_http_client()), &settings)
        .with_interceptor(SharedInterceptor::new(interceptor))
}

fn json(status: u16, body: String) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("a valid status"),
        SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    response
}

fn exception(code: &str, reason: Option<&str>) -> HttpResponse {
    let reason = reason.map_or_else(String::new, |reason| format!(r#","Reason":"{reason}""#));
    json(
        400,
        format!(r#"{{"__type":"{code}","Message":"mocked {code}"{reason}}}"#),
    )
}

/// A handshake as AWS writes it: epoch-second timestamps, both parties, notes and (for transfers) the
/// transfer it carries.
fn handshake_json(id: &str, action: &str, state: &str, transfer: Option<&str>) -> String {
    let transfer = transfer.map_or_else(String::new, |transfer| {
        format!(r#",{{"Type":"RESPONSIBILITY_TRANSFER","Value":"{transfer}"}}"#)
    });
    format!(
        r#"{{"Id":"{id}","Arn":"arn:aws:organizations::{MANAGEMENT}:handshake/o-abcdefghij/{id}",
            "Parties":[{{"Id":"o-abcdefghij","Type":"ORGANIZATION"}},{{"Id":"{CUSTOMER}","Type":"ACCOUNT"}}],
            "State":"{state}","Action":"{action}",
            "RequestedTimestamp":1767225600,"ExpirationTimestamp":1768521600,
            "Resources":[{{"Type":"ORGANIZATION","Value":"o-abcdefghij","Resources":[{{"Type":"NOTES","Value":"order-42"}}]}}{transfer}]}}"#
    )
}

fn handshake_response(state: &str) -> HttpResponse {
    json(
        200,
        format!(
            r#"{{"Handshake":{}}}"#,
            handshake_json(HANDSHAKE, "INVITE", state, None)
        ),
    )
}

fn assert_error(error: &CloudError, code: &str, reason: Option<&str>) {
    assert_eq!(error.code.as_deref(), Some(code), "{error:?}");
    assert_eq!(error.reason.as_deref(), reason, "{error:?}");
    assert_eq!(error.http_status, Some(400), "{error:?}");
    assert!(!error.ambiguous, "{error:?}");
}

#[tokio::test]
async fn handshake_flow_not_emulated_by_moto_uses_smithy_mocks() {
    let invite = mock!(Client::invite_account_to_organization)
        .match_requests(|input| {
            input
                .target()
                .is_some_and(|party| party.id() == CUSTOMER && party.r#type().as_str() == "ACCOUNT")
                && input.notes() == Some("order-42")
        })
        .then_http_response(|| handshake_response("REQUESTED"));
    let describe = mock!(Client::describe_handshake)
        .match_requests(|input| input.handshake_id() == Some(HANDSHAKE))
        .then_http_response(|| handshake_response("OPEN"));
    // An empty first page with a token: only a missing token ends a listing.
    let list_first_page = mock!(Client::list_handshakes_for_organization)
        .match_requests(|input| input.next_token().is_none())
        .then_http_response(|| json(200, r#"{"Handshakes":[],"NextToken":"page-2"}"#.to_owned()));
    let list_second_page = mock!(Client::list_handshakes_for_organization)
        .match_requests(|input| {
            input.next_token() == Some("page-2")
                && input
                    .filter()
                    .and_then(|filter| filter.action_type())
                    .is_some_and(|action| action.as_str() == "INVITE")
        })
        .then_http_response(|| {
            json(
                200,
                format!(
                    r#"{{"Handshakes":[{}]}}"#,
                    handshake_json(HANDSHAKE, "INVITE", "OPEN", None)
                ),
            )
        });
    let cancel = mock!(Client::cancel_handshake)
        .match_requests(|input| input.handshake_id() == Some(HANDSHAKE))
        .then_http_response(|| handshake_response("CANCELED"));
    let cloud = mocked_cloud(&[
        &invite,
        &describe,
        &list_first_page,
        &list_second_page,
        &cancel,
    ]);
    let management = account(MANAGEMENT);

    let sent = cloud
        .invite_account(&management, &account(CUSTOMER), "order-42")
        .await
        .expect("the invitation is sent");
    assert_eq!(sent.id, HANDSHAKE);
    assert_eq!(sent.action, HandshakeAction::Invite);
    assert_eq!(sent.state, HandshakeState::Requested);
    assert_eq!(sent.target, account(CUSTOMER));
    assert_eq!(sent.notes.as_deref(), Some("order-42"));
    assert_eq!(sent.transfer_id, None);
    assert_eq!(
        sent.requested_at,
        Utc.timestamp_opt(1_767_225_600, 0)
            .single()
            .expect("a time")
    );
    assert_eq!(
        sent.expires_at - sent.requested_at,
        chrono::Duration::days(15)
    );

    let described = cloud
        .describe_handshake(&management, HANDSHAKE)
        .await
        .expect("the handshake is described");
    assert_eq!(described.state, HandshakeState::Open);

    let listed = cloud
        .list_handshakes(&management, HandshakeAction::Invite)
        .await
        .expect("the handshakes are listed");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed.first().map(|handshake| handshake.id.as_str()),
        Some(HANDSHAKE)
    );
    assert_eq!(list_first_page.num_calls(), 1);
    assert_eq!(list_second_page.num_calls(), 1);

    let canceled = cloud
        .cancel_handshake(&management, HANDSHAKE)
        .await
        .expect("the handshake is cancelled");
    assert_eq!(canceled.state, HandshakeState::Canceled);
    assert_eq!(invite.num_calls(), 1);
}

#[tokio::test]
async fn handshake_errors_not_emulated_by_moto_keep_codes_and_reasons() {
    let duplicate = mock!(Client::invite_account_to_organization)
        .match_requests(|input| input.notes() == Some("duplicate"))
        .then_http_response(|| exception("DuplicateHandshakeException", None));
    let in_organization = mock!(Client::invite_account_to_organization)
        .match_requests(|input| input.notes() == Some("member"))
        .then_http_response(|| {
            exception(
                "HandshakeConstraintViolationException",
                Some("ALREADY_IN_AN_ORGANIZATION"),
            )
        });
    let rate_limited = mock!(Client::invite_account_to_organization)
        .match_requests(|input| input.notes() == Some("rate"))
        .then_http_response(|| {
            exception(
                "HandshakeConstraintViolationException",
                Some("HANDSHAKE_RATE_LIMIT_EXCEEDED"),
            )
        });
    let already_canceled = mock!(Client::cancel_handshake)
        .then_http_response(|| exception("HandshakeAlreadyInStateException", None));
    let invalid_transition = mock!(Client::describe_handshake)
        .then_http_response(|| exception("HandshakeNotFoundException", None));
    let cloud = mocked_cloud(&[
        &duplicate,
        &in_organization,
        &rate_limited,
        &already_canceled,
        &invalid_transition,
    ]);
    let management = account(MANAGEMENT);
    let customer = account(CUSTOMER);

    let error = cloud
        .invite_account(&management, &customer, "duplicate")
        .await
        .expect_err("a duplicate invitation is refused");
    assert_error(&error, "DuplicateHandshakeException", None);
    let error = cloud
        .invite_account(&management, &customer, "member")
        .await
        .expect_err("a member account cannot be invited");
    assert_error(
        &error,
        "HandshakeConstraintViolationException",
        Some("ALREADY_IN_AN_ORGANIZATION"),
    );
    let error = cloud
        .invite_account(&management, &customer, "rate")
        .await
        .expect_err("the handshake rate limit applies");
    assert_error(
        &error,
        "HandshakeConstraintViolationException",
        Some("HANDSHAKE_RATE_LIMIT_EXCEEDED"),
    );
    let error = cloud
        .cancel_handshake(&management, HANDSHAKE)
        .await
        .expect_err("a cancelled handshake stays cancelled");
    assert_error(&error, "HandshakeAlreadyInStateException", None);
    let error = cloud
        .describe_handshake(&management, HANDSHAKE)
        .await
        .expect_err("an old handshake is no longer found");
    assert_error(&error, "HandshakeNotFoundException", None);
}

#[tokio::test]
async fn billing_transfer_not_emulated_by_moto_uses_smithy_mocks() {
    let start = Utc
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("a time");
    let end = Utc
        .with_ymd_and_hms(2026, 5, 31, 23, 59, 59)
        .single()
        .expect("a time")
        + chrono::Duration::milliseconds(999);
    let transfer_json = |status: &str, end: &str| {
        format!(
            r#"{{"Id":"{TRANSFER}","Name":"Customer","Type":"BILLING","Status":"{status}",
                "Source":{{"ManagementAccountId":"{CUSTOMER}"}},"Target":{{"ManagementAccountId":"{MANAGEMENT}"}},
                "StartTimestamp":1772323200{end},"ActiveHandshakeId":"{HANDSHAKE}"}}"#
        )
    };
    let invite = mock!(Client::invite_organization_to_transfer_responsibility)
        .match_requests(move |input| {
            input
                .r#type()
                .is_some_and(|kind| kind.as_str() == "BILLING")
                && input.target().is_some_and(|party| party.id() == CUSTOMER)
                && input
                    .start_timestamp()
                    .is_some_and(|at| at.secs() == start.timestamp())
                && input.source_name() == Some("Customer")
                && input.notes() == Some("order-42")
        })
        .then_http_response(|| {
            json(
                200,
                format!(
                    r#"{{"Handshake":{}}}"#,
                    handshake_json(
                        HANDSHAKE,
                        "TRANSFER_RESPONSIBILITY",
                        "REQUESTED",
                        Some(TRANSFER)
                    )
                ),
            )
        });
    let too_early = mock!(Client::invite_organization_to_transfer_responsibility)
        .match_requests(|input| input.notes() == Some("too-early"))
        .then_http_response(|| exception("InvalidInputException", Some("START_DATE_TOO_EARLY")));
    let describe = {
        let body = transfer_json("ACCEPTED", "");
        mock!(Client::describe_responsibility_transfer)
            .match_requests(|input| input.id() == Some(TRANSFER))
            .then_http_response(move || {
                json(200, format!(r#"{{"ResponsibilityTransfer":{body}}}"#))
            })
    };
    let list = {
        let body = transfer_json("ACCEPTED", "");
        mock!(Client::list_inbound_responsibility_transfers)
            .match_requests(|input| {
                input
                    .r#type()
                    .is_some_and(|kind| kind.as_str() == "BILLING")
            })
            .then_http_response(move || {
                json(200, format!(r#"{{"ResponsibilityTransfers":[{body}]}}"#))
            })
    };
    let terminate = {
        let body = transfer_json("ACCEPTED", r#","EndTimestamp":1780271999.999"#);
        mock!(Client::terminate_responsibility_transfer)
            .match_requests(move |input| {
                input.id() == Some(TRANSFER)
                    && input.end_timestamp().is_some_and(|at| {
                        at.secs() == end.timestamp() && at.subsec_nanos() == 999_000_000
                    })
            })
            .then_http_response(move || {
                json(200, format!(r#"{{"ResponsibilityTransfer":{body}}}"#))
            })
    };
    let cloud = mocked_cloud(&[&invite, &too_early, &describe, &list, &terminate]);
    let management = account(MANAGEMENT);
    let invitation = TransferInvitation {
        source_management_account: account(CUSTOMER),
        start_at: start,
        source_name: "Customer".to_owned(),
        notes: "order-42".to_owned(),
    };

    let handshake = cloud
        .invite_billing_transfer(&management, &invitation)
        .await
        .expect("the transfer invitation is sent");
    assert_eq!(handshake.action, HandshakeAction::TransferResponsibility);
    assert_eq!(handshake.transfer_id.as_deref(), Some(TRANSFER));
    assert_eq!(handshake.target, account(CUSTOMER));

    let error = cloud
        .invite_billing_transfer(
            &management,
            &TransferInvitation {
                notes: "too-early".to_owned(),
                ..invitation.clone()
            },
        )
        .await
        .expect_err("a start too soon is refused");
    assert_error(
        &error,
        "InvalidInputException",
        Some("START_DATE_TOO_EARLY"),
    );

    let described = cloud
        .describe_billing_transfer(&management, TRANSFER)
        .await
        .expect("the transfer is described");
    assert_eq!(described.status, TransferStatus::Accepted);
    assert_eq!(described.source_management_account, account(CUSTOMER));
    assert_eq!(described.start_at, start);
    assert_eq!(described.end_at, None);
    assert_eq!(described.active_handshake_id.as_deref(), Some(HANDSHAKE));

    let inbound = cloud
        .list_inbound_billing_transfers(&management)
        .await
        .expect("the inbound transfers are listed");
    assert_eq!(inbound, vec![described]);

    let terminated = cloud
        .terminate_billing_transfer(&management, TRANSFER, end)
        .await
        .expect("the transfer is terminated");
    assert_eq!(terminated.end_at, Some(end));
    assert_eq!(terminate.num_calls(), 1);
}

#[tokio::test]
async fn error_conversion_keeps_codes_reasons_and_status() {
    let quota = mock!(Client::close_account).then_http_response(|| {
        exception(
            "ConstraintViolationException",
            Some("CLOSE_ACCOUNT_QUOTA_EXCEEDED"),
        )
    });
    let wait_period = mock!(Client::remove_account_from_organization).then_http_response(|| {
        exception("ConstraintViolationException", Some("WAIT_PERIOD_ACTIVE"))
    });
    let email = mock!(Client::describe_create_account_status).then_http_response(|| {
        json(
            200,
            r#"{"CreateAccountStatus":{"Id":"car-0123456789","AccountName":"Acme","State":"FAILED",
                "RequestedTimestamp":1767225600,"FailureReason":"EMAIL_ALREADY_EXISTS"}}"#
                .to_owned(),
        )
    });
    let server_error = mock!(Client::describe_account).then_http_response(|| {
        json(
            500,
            r#"{"__type":"ServiceException","Message":"oops"}"#.to_owned(),
        )
    });
    let cloud = mocked_cloud(&[&quota, &wait_period, &email, &server_error]);
    let management = account(MANAGEMENT);
    let customer = account(CUSTOMER);

    let error = cloud
        .close_account(&management, &customer)
        .await
        .expect_err("the close quota applies");
    assert_error(
        &error,
        "ConstraintViolationException",
        Some("CLOSE_ACCOUNT_QUOTA_EXCEEDED"),
    );
    let error = cloud
        .remove_account(&management, &customer)
        .await
        .expect_err("the waiting period applies");
    assert_error(
        &error,
        "ConstraintViolationException",
        Some("WAIT_PERIOD_ACTIVE"),
    );

    let failed = cloud
        .describe_create_account_status(&management, "car-0123456789")
        .await
        .expect("a failed creation is a status, not an error");
    assert_eq!(
        failed.failure_reason.as_deref(),
        Some("EMAIL_ALREADY_EXISTS")
    );

    let error = cloud
        .describe_account(&management, &customer)
        .await
        .expect_err("a server error");
    assert_eq!(error.code.as_deref(), Some("ServiceException"));
    assert_eq!(error.http_status, Some(500));
    assert!(error.ambiguous, "a 5xx leaves the outcome open: {error:?}");
}

#[tokio::test]
async fn identifiers_breaking_their_pattern_are_never_passed_on() {
    let bad_handshake = mock!(Client::describe_handshake).then_http_response(|| {
        json(
            200,
            format!(
                r#"{{"Handshake":{}}}"#,
                handshake_json("h-SHOUTING", "INVITE", "OPEN", None)
            ),
        )
    });
    let bad_request = mock!(Client::create_account).then_http_response(|| {
        json(
            200,
            r#"{"CreateAccountStatus":{"Id":"car-0123456789","AccountName":"Acme","State":"SUCCEEDED",
                "RequestedTimestamp":1767225600,"AccountId":" 12345678901"}}"#
                .to_owned(),
        )
    });
    let cloud = mocked_cloud(&[&bad_handshake, &bad_request]);
    let management = account(MANAGEMENT);

    let error = cloud
        .describe_handshake(&management, HANDSHAKE)
        .await
        .expect_err("an invalid handshake id is refused");
    assert_eq!(error.code, None);
    assert!(error.message.contains("h-SHOUTING"), "{error}");
    let error = cloud
        .create_account(&management, "a@example.com", "Acme")
        .await
        .expect_err("an invalid account id is refused");
    assert!(
        error.ambiguous,
        "the account may exist although its answer is unusable: {error:?}"
    );
}
