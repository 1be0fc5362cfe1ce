//! CreateOrder: validation of every field at once, then the use case in `app::placing`, whose
//! order (placed now or by an earlier request with the same key) is answered as the API shows it.

use tenure_domain::{AccountName, AwsAccountId, FreeText, Problems, RootEmail, field_problem};
use tenure_proto::Keyed as _;
use tenure_proto::orders::v1 as pb;

use crate::api::context::{Call, Orders, at, checked, finish_keyed};
use crate::api::convert;
use crate::app::PlaceOrder;
use crate::domain::OrdersError;
use crate::domain::order::{Money, OrderDetails};

/// The most accounts an organization transfer names one by one (domain.md §7, TNR005).
const MAX_LINKED_ACCOUNTS: usize = 20;

fn account(problems: &mut Problems, field: &str, raw: &str) -> Option<AwsAccountId> {
    problems.check(field, AwsAccountId::parse(raw))
}

fn unsupported(field: &str, description: &'static str) -> tenure_domain::FieldProblem {
    at(
        field,
        field_problem("UNSUPPORTED_COMBINATION", description, "TNR008"),
    )
}

/// Up to `max` characters of free text with no control characters; empty allowed.
fn short_text(problems: &mut Problems, field: &str, raw: &str, max: usize) -> Option<String> {
    if raw.chars().count() > max {
        problems.push(at(
            field,
            field_problem("TEXT_LENGTH", "this text is too long", "TNR013"),
        ));
        return None;
    }
    problems
        .check(field, FreeText::reason(raw))
        .map(|text| text.as_str().to_owned())
}

/// 1 to 20 valid, distinct account ids.
pub(crate) fn linked_accounts(
    problems: &mut Problems,
    field: &str,
    raw: &[String],
) -> Option<Vec<AwsAccountId>> {
    if raw.is_empty() || raw.len() > MAX_LINKED_ACCOUNTS {
        problems.push(at(
            field,
            field_problem(
                "COUNT",
                "up to 20 accounts can be transferred individually; to move more, transfer the whole organization",
                "TNR005",
            ),
        ));
    }
    let mut accounts: Vec<AwsAccountId> = Vec::new();
    let mut valid = true;
    for (index, id) in raw.iter().enumerate() {
        let field = format!("{field}[{index}]");
        match account(problems, &field, id) {
            Some(id) if accounts.contains(&id) => {
                valid = false;
                problems.push(at(
                    field,
                    field_problem(
                        "DUPLICATE",
                        "this account is listed more than once",
                        "TNR006",
                    ),
                ));
            }
            Some(id) => accounts.push(id),
            None => valid = false,
        }
    }
    (valid && !raw.is_empty() && raw.len() <= MAX_LINKED_ACCOUNTS).then_some(accounts)
}

/// An amount the customer confirms: a three-letter upper-case ISO 4217 currency and any amount.
fn money(
    problems: &mut Problems,
    field: &str,
    raw: &tenure_proto::common::v1::Money,
) -> Option<Money> {
    let currency = &raw.currency_code;
    if currency.len() != 3 || !currency.bytes().all(|byte| byte.is_ascii_uppercase()) {
        problems.push(at(
            format!("{field}.currency_code"),
            field_problem(
                "CURRENCY_FORMAT",
                "a currency is a three-letter ISO 4217 code in upper case, e.g. USD",
                "TNR004",
            ),
        ));
        return None;
    }
    Some(Money {
        currency: currency.clone(),
        amount_micros: raw.amount_micros,
    })
}

/// Reads what was ordered, recording every problem.
fn details(
    problems: &mut Problems,
    raw: Option<&pb::create_order_request::Details>,
) -> Option<OrderDetails> {
    use pb::create_order_request::Details;
    match raw {
        None => {
            problems.push(at("details", tenure_domain::required()));
            None
        }
        Some(Details::NewAccount(order)) => {
            let root_email = problems.check(
                "new_account.root_email",
                RootEmail::parse(&order.root_email),
            );
            let account_name = problems.check(
                "new_account.account_name",
                AccountName::parse(&order.account_name),
            );
            let support_contact = short_text(
                problems,
                "new_account.support_contact",
                &order.support_contact,
                200,
            );
            Some(OrderDetails::NewAccount {
                root_email: Some(root_email?),
                account_name: account_name?.into_inner(),
                support_contact: support_contact?,
            })
        }
        Some(Details::BillingTransfer(order)) => {
            let management = account(
                problems,
                "billing_transfer.management_account_id",
                &order.management_account_id,
            );
            let printable = order
                .transfer_name
                .bytes()
                .all(|byte| (0x20..=0x7e).contains(&byte));
            if order.transfer_name.len() > 128 || !printable {
                problems.push(at(
                    "billing_transfer.transfer_name",
                    field_problem(
                        "TRANSFER_NAME_FORMAT",
                        "a transfer name has up to 128 printable ASCII characters",
                        "TNR013",
                    ),
                ));
                return None;
            }
            Some(OrderDetails::BillingTransfer {
                management_account_id: management?,
                transfer_name: order.transfer_name.clone(),
            })
        }
        Some(Details::OrganizationTransfer(order)) => {
            if order.uses_organizations {
                if !order.linked_account_ids.is_empty() {
                    problems.push(unsupported(
                        "organization_transfer.linked_account_ids",
                        "a whole organization is named by its management account, not by its members",
                    ));
                }
                let management = account(
                    problems,
                    "organization_transfer.management_account_id",
                    &order.management_account_id,
                );
                Some(OrderDetails::OrganizationTransfer {
                    uses_organizations: true,
                    management_account_id: Some(management?),
                    linked_account_ids: Vec::new(),
                })
            } else {
                if !order.management_account_id.is_empty() {
                    problems.push(unsupported(
                        "organization_transfer.management_account_id",
                        "a management account is named only when the whole organization moves",
                    ));
                }
                let linked = linked_accounts(
                    problems,
                    "organization_transfer.linked_account_ids",
                    &order.linked_account_ids,
                );
                Some(OrderDetails::OrganizationTransfer {
                    uses_organizations: false,
                    management_account_id: None,
                    linked_account_ids: linked?,
                })
            }
        }
        Some(Details::Terminate(order)) => {
            let aws_account_id =
                account(problems, "terminate.aws_account_id", &order.aws_account_id);
            let mode = problems.check("terminate.mode", convert::termination_mode_from(order.mode));
            let mut acknowledgements = Vec::new();
            for (index, raw) in order.acknowledgements.iter().enumerate() {
                if let Some(ack) = problems.check(
                    format!("terminate.acknowledgements[{index}]"),
                    convert::acknowledgement_from(*raw),
                ) && !acknowledgements.contains(&ack)
                {
                    acknowledgements.push(ack);
                }
            }
            acknowledgements.sort();
            let reason = problems.check("terminate.reason", FreeText::reason(&order.reason));
            let balance = match &order.acknowledged_open_balance {
                None => Some(None),
                Some(raw) => money(problems, "terminate.acknowledged_open_balance", raw).map(Some),
            };
            Some(OrderDetails::Terminate {
                aws_account_id: aws_account_id?,
                mode: mode?,
                acknowledgements,
                reason: reason?.as_str().to_owned(),
                acknowledged_open_balance: balance?,
            })
        }
    }
}

impl Orders {
    pub(crate) async fn create_order(
        &self,
        call: &Call,
        request: pb::CreateOrderRequest,
    ) -> Result<pb::CreateOrderResponse, OrdersError> {
        let mut problems = Problems::new();
        let details = details(&mut problems, request.details.as_ref());
        finish_keyed(problems, &request)?;
        let details = checked(details)?;
        let record = self
            .place_order(
                call,
                PlaceOrder {
                    details,
                    key: request.idempotency_key.clone(),
                    request_hash: tenure_db::idempotency::request_hash(&request.canonical()),
                },
            )
            .await?;
        Ok(pb::CreateOrderResponse {
            order: Some(convert::order(&self.registry, &record)?),
        })
    }
}
