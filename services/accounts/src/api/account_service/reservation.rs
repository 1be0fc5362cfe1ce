//! Reserving a record for an order: a new account, or the transfer of an existing one.

use tenure_domain::{AwsAccountId, Problems};
use tenure_proto::accounts::v1 as pb;

use crate::api::account_service::records::{AccountResponse, optional_field, record_id};
use crate::api::context::{checked, finish_keyed, keyed};
use crate::api::convert::{self, optional};
use crate::app::{Accounts, Call, Reservation, Reserved};
use crate::domain::{
    AccountName, AccountRole, AccountsError, ReservationKind, RootEmail, unsupported,
};

pub(crate) async fn reserve_account(
    app: &Accounts,
    call: &Call,
    request: pb::ReserveAccountRequest,
) -> Result<pb::ReserveAccountResponse, AccountsError> {
    let mut problems = Problems::new();
    let order_id = record_id(&mut problems, "order_id", &request.order_id);
    let kind = problems.check("kind", convert::reservation_kind_from(request.kind));
    let role = problems.check("role", convert::account_role_from(request.role));
    let relationship = problems.check(
        "relationship",
        convert::relationship_from(request.relationship),
    );
    let root_access = problems.check(
        "root_access",
        optional(request.root_access, convert::root_access_from),
    );
    let management = optional_field(
        &mut problems,
        "management_account_id",
        &request.management_account_id,
        AwsAccountId::parse,
    );
    if role == Some(AccountRole::Management) && !request.management_account_id.is_empty() {
        problems.push(unsupported(
            "management_account_id",
            "only a member account names its management account",
        ));
    }
    let reserved = match kind {
        Some(ReservationKind::NewAccount) => {
            if !request.aws_account_id.is_empty() {
                problems.push(unsupported(
                    "aws_account_id",
                    "AWS assigns the id of a new account; attach it once known",
                ));
            }
            let root_email = problems.check("root_email", RootEmail::parse(&request.root_email));
            let name = problems.check("account_name", AccountName::parse(&request.account_name));
            root_email
                .zip(name)
                .map(|(root_email, name)| Reserved::NewAccount { root_email, name })
        }
        Some(ReservationKind::Transfer) => {
            let aws_account_id = problems.check(
                "aws_account_id",
                AwsAccountId::parse(&request.aws_account_id),
            );
            if !request.root_email.is_empty() {
                problems.push(unsupported(
                    "root_email",
                    "a transferred account keeps the root email AWS has on record",
                ));
            }
            let name = optional_field(
                &mut problems,
                "account_name",
                &request.account_name,
                AccountName::parse,
            );
            aws_account_id
                .zip(name)
                .map(|(aws_account_id, name)| Reserved::Transfer {
                    aws_account_id,
                    name,
                })
        }
        None => None,
    };
    finish_keyed(problems, &request)?;
    let reservation = Reservation {
        order_id: checked(order_id)?,
        reserved: checked(reserved)?,
        role: checked(role)?,
        relationship: checked(relationship)?,
        root_access: checked(root_access)?,
        management_account_id: checked(management)?,
    };
    keyed(
        &request,
        pb::ReserveAccountResponse::of,
        async |idempotent| app.reserve_account(call, idempotent, reservation).await,
    )
    .await
}
