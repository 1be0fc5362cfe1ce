//! The two tenants the sweep works on: each with real objects of every kind an id can name (orders
//! completed and in flight, tasks, sagas, account records, subscriptions, users, purges scheduled and
//! completed with a receipt, a legal hold, provisioning operations, a handshake and a billing
//! transfer), and the ids of each, harvested through the API.

use std::collections::BTreeMap;

use tenure_grpc::ServiceKind;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::common::v1 as common;
use tenure_proto::orders::v1 as pb;
use tenure_proto::provisioning::v1 as prov;
use tenure_proto::purge::v1 as purge;
use uuid::Uuid;

use crate::orders::{close_member_acknowledgements, fresh_account};
use crate::stack::{As, Stack, key};

/// What a request field can name, for choosing a base value and for the cross-tenant twins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum IdKind {
    Order,
    Task,
    Saga,
    Query,
    Record,
    AwsAccount,
    Tenant,
    Subscription,
    User,
    Purge,
    Hold,
    Operation,
    Handshake,
    Transfer,
    PageToken,
}

impl IdKind {
    /// The kind a request field names, from its name (the contracts name id fields consistently).
    pub(crate) fn of_field(message: &str, field: &str) -> Option<Self> {
        Some(match field {
            "order_id" | "order_ids" => Self::Order,
            "task_id" => Self::Task,
            "saga_id" => Self::Saga,
            "query_id" => Self::Query,
            "account_id" => Self::Record,
            "id" if message.ends_with("GetAccountRequest") => Self::Record,
            "aws_account_id"
            | "aws_account_ids"
            | "target_account_id"
            | "management_account_id"
            | "source_management_account_id"
            | "linked_account_ids" => Self::AwsAccount,
            "tenant_id" => Self::Tenant,
            "subscription_id" => Self::Subscription,
            "user_id" => Self::User,
            "purge_id" => Self::Purge,
            "hold_id" => Self::Hold,
            "operation_id" => Self::Operation,
            "handshake_id" => Self::Handshake,
            "transfer_id" => Self::Transfer,
            "page_token" => Self::PageToken,
            _ => return None,
        })
    }

    /// A random id of the same shape as the real ones, naming nothing.
    pub(crate) fn random(self, rng: &mut super::values::Rng, like: &str) -> String {
        match self {
            Self::AwsAccount => format!("{:012}", rng.below(1_000_000_000_000)),
            Self::Handshake | Self::Transfer => {
                // The sandbox's ids: a prefix and lower-case alphanumerics, as long as the real one.
                let (prefix, rest) = like.split_once('-').unwrap_or(("h", like));
                format!("{prefix}-{}", rng.alphanumeric(rest.len()))
            }
            Self::PageToken => rng.same_alphabet(like),
            _ => rng.uuid().to_string(),
        }
    }
}

/// One seeded tenant and the ids of its objects.
pub(crate) struct TenantWorld {
    pub(crate) tenant: Uuid,
    /// The administrator's subject: customers call as this user, who may remove accounts.
    pub(crate) admin_subject: String,
    pub(crate) ids: BTreeMap<IdKind, Vec<String>>,
    /// A page token of each list method, issued to this tenant's customer or services (keyed by
    /// method label and caller kind); filled by the cross-tenant sweep.
    pub(crate) page_tokens: BTreeMap<String, String>,
    /// Values of this tenant's data that no answer to another tenant may carry.
    pub(crate) markers: Vec<String>,
}

impl TenantWorld {
    pub(crate) fn first(&self, kind: IdKind) -> String {
        self.ids
            .get(&kind)
            .and_then(|ids| ids.first())
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn all(&self, kind: IdKind) -> &[String] {
        self.ids.get(&kind).map_or(&[], Vec::as_slice)
    }

    fn add(&mut self, kind: IdKind, id: impl Into<String>) {
        let id = id.into();
        if !id.is_empty() {
            self.ids.entry(kind).or_default().push(id);
        }
    }

    pub(crate) fn customer(&self) -> As {
        As::User(self.tenant, self.admin_subject.clone())
    }
}

/// Seeds one tenant with an object of every kind; returns it with every id harvested.
pub(crate) async fn seed(stack: &Stack) -> TenantWorld {
    let seeded = stack.seed(2).await;
    let tenant = seeded.tenant;
    let mut world = TenantWorld {
        tenant,
        admin_subject: seeded.admin_subject.clone(),
        ids: BTreeMap::new(),
        page_tokens: BTreeMap::new(),
        markers: vec![
            tenant.to_string(),
            seeded.admin_email.clone(),
            seeded.admin_name.clone(),
        ],
    };
    world.add(IdKind::Tenant, tenant.to_string());
    for account in &seeded.accounts {
        world.add(IdKind::Record, account.record_id.clone());
        world.add(IdKind::AwsAccount, account.aws_account_id.clone());
        world.markers.extend([
            account.record_id.clone(),
            account.aws_account_id.clone(),
            account.root_email.clone(),
            account.name.clone(),
        ]);
    }
    let completed = completed_order(stack, tenant).await;
    world.add(IdKind::Order, completed.id.clone());
    world.add(IdKind::AwsAccount, completed.aws_account_id.clone());
    world.markers.push(completed.aws_account_id.clone());
    for task in stack.open_tasks_of(&As::Operator, &completed.id, 0).await {
        world.add(IdKind::Task, task.id);
    }
    // A termination waits for operations to confirm with the customer: in flight, with an open task.
    let terminate = stack
        .place(
            tenant,
            pb::create_order_request::Details::Terminate(pb::TerminateOrder {
                aws_account_id: seeded.accounts[1].aws_account_id.clone(),
                mode: common::TerminationMode::Close as i32,
                acknowledgements: close_member_acknowledgements(),
                reason: "moving workloads elsewhere".to_owned(),
                acknowledged_open_balance: None,
            }),
        )
        .await
        .expect("terminate");
    let confirm = stack.first_open_task(&terminate.id).await;
    world.add(IdKind::Order, terminate.id.clone());
    world.add(IdKind::Task, confirm.id);
    // A billing transfer waits for the customer's acceptance: querying, with a handshake.
    let source = fresh_account();
    let transfer = stack
        .place(
            tenant,
            pb::create_order_request::Details::BillingTransfer(pb::BillingTransferOrder {
                management_account_id: source.clone(),
                transfer_name: String::new(),
            }),
        )
        .await
        .expect("transfer");
    let querying = stack
        .await_status(tenant, &transfer.id, pb::OrderStatus::Querying, false)
        .await;
    world.add(IdKind::Order, transfer.id.clone());
    world.add(
        IdKind::Query,
        querying.query.map(|query| query.id).unwrap_or_default(),
    );
    world.add(IdKind::AwsAccount, source.clone());
    world.markers.push(source.clone());
    world.add(
        IdKind::Handshake,
        stack.transfer_handshake(tenant, &source).await,
    );
    for order in world.all(IdKind::Order).to_vec() {
        world.add(IdKind::Saga, saga_of(stack, &order).await);
    }
    harvest_operations(stack, &mut world).await;
    harvest_accounts(stack, &mut world).await;
    seed_purges(stack, &mut world, &seeded.accounts[0].aws_account_id).await;
    world
}

/// A new-account order with a support contact, run to completed with operations' help.
async fn completed_order(stack: &Stack, tenant: Uuid) -> pb::Order {
    let unique = &Uuid::new_v4().simple().to_string()[..10];
    let order = stack
        .place(
            tenant,
            pb::create_order_request::Details::NewAccount(pb::NewAccountOrder {
                root_email: format!("sweep-{unique}@example.com"),
                account_name: format!("Sweep {unique}"),
                support_contact: format!("Grace Hopper {unique}"),
            }),
        )
        .await
        .expect("place");
    stack
        .await_status(tenant, &order.id, pb::OrderStatus::Completed, true)
        .await
}

async fn saga_of(stack: &Stack, order_id: &str) -> String {
    stack
        .saga_admin()
        .await
        .get_saga(stack.request(
            &As::Operator,
            ServiceKind::Orders,
            pb::GetSagaRequest {
                lookup: Some(pb::get_saga_request::Lookup::OrderId(order_id.to_owned())),
            },
        ))
        .await
        .expect("saga")
        .into_inner()
        .saga
        .map(|saga| saga.id)
        .unwrap_or_default()
}

/// The tenant's provisioning operations and the billing transfer among their results.
async fn harvest_operations(stack: &Stack, world: &mut TenantWorld) {
    let operations = stack
        .provisioning()
        .await
        .list_operations(stack.request(
            &As::Orders(world.tenant),
            ServiceKind::Provisioning,
            prov::ListOperationsRequest {
                page_size: 100,
                ..prov::ListOperationsRequest::default()
            },
        ))
        .await
        .expect("operations")
        .into_inner()
        .operations;
    for operation in operations {
        world.add(IdKind::Operation, operation.id.clone());
        if let Some(prov::operation::Result::BillingTransfer(transfer)) = operation.result {
            world.add(IdKind::Transfer, transfer.id);
        }
    }
}

/// Users, subscriptions and every account record (orders created some) of the tenant.
async fn harvest_accounts(stack: &Stack, world: &mut TenantWorld) {
    let mut client = stack.accounts().await;
    let tenant = world.tenant.to_string();
    let member = client
        .create_user(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::CreateUserRequest {
                idempotency_key: key(),
                user: Some(accounts::NewUser {
                    email: format!("member-{}@example.com", &tenant[..8]),
                    display_name: format!("Member {}", &tenant[..8]),
                    idp_subject: format!("idp|member-{}", &tenant[..8]),
                }),
                role: accounts::UserRole::Member as i32,
                tenant_id: tenant.clone(),
            },
        ))
        .await
        .expect("member")
        .into_inner()
        .user
        .expect("user");
    world.add(IdKind::User, member.id);
    world.markers.push(member.email);
    let users = client
        .list_users(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::ListUsersRequest {
                page_size: 100,
                page_token: String::new(),
                tenant_id: tenant.clone(),
            },
        ))
        .await
        .expect("users")
        .into_inner()
        .users;
    for user in users {
        if !world.all(IdKind::User).contains(&user.id) {
            world.add(IdKind::User, user.id);
        }
    }
    let subscriptions = client
        .list_subscriptions(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::ListSubscriptionsRequest {
                page_size: 100,
                tenant_id: tenant.clone(),
                ..accounts::ListSubscriptionsRequest::default()
            },
        ))
        .await
        .expect("subscriptions")
        .into_inner()
        .subscriptions;
    for subscription in subscriptions {
        world.add(IdKind::Subscription, subscription.id);
    }
    let records = client
        .list_accounts(stack.request(
            &As::Operator,
            ServiceKind::Accounts,
            accounts::ListAccountsRequest {
                page_size: 100,
                tenant_id: tenant,
                ..accounts::ListAccountsRequest::default()
            },
        ))
        .await
        .expect("accounts")
        .into_inner()
        .accounts;
    for record in records {
        if !world.all(IdKind::Record).contains(&record.id) {
            world.add(IdKind::Record, record.id.clone());
            world.markers.push(record.id);
        }
    }
}

/// A scheduled account purge under a legal hold, and a completed one with its receipt.
async fn seed_purges(stack: &Stack, world: &mut TenantWorld, held_account: &str) {
    let scheduled = stack
        .schedule_account_purge(world.tenant, held_account)
        .await;
    world.add(IdKind::Purge, scheduled.id);
    let hold = stack
        .purges()
        .await
        .set_legal_hold(stack.request(
            &As::LegalOperator,
            ServiceKind::DataPurge,
            purge::SetLegalHoldRequest {
                idempotency_key: key(),
                scope: Some(purge::PurgeScope {
                    kind: purge::ScopeKind::Account as i32,
                    tenant_id: world.tenant.to_string(),
                    aws_account_id: held_account.to_owned(),
                }),
                reason: "litigation hold requested by counsel".to_owned(),
                ticket: "LEGAL-42".to_owned(),
            },
        ))
        .await
        .expect("hold")
        .into_inner()
        .hold
        .expect("hold");
    world.add(IdKind::Hold, hold.id);
    // An account nobody registered: the purge deletes nothing, runs at once and signs a receipt.
    let done = stack
        .schedule_account_purge(world.tenant, &fresh_account())
        .await;
    stack.expedite(&done.id).await.expect("expedite");
    stack
        .await_purge(&done.id, purge::PurgeState::Completed)
        .await;
    world.add(IdKind::Purge, done.id);
}

impl Stack {
    /// The tasks of one order in `state` (0: any), as `who` lists them.
    pub(crate) async fn open_tasks_of(
        &self,
        who: &As,
        order_id: &str,
        state: i32,
    ) -> Vec<pb::Task> {
        self.orders()
            .await
            .list_tasks(self.request(
                who,
                ServiceKind::Orders,
                pb::ListTasksRequest {
                    page_size: 100,
                    page_token: String::new(),
                    state,
                    order_id: order_id.to_owned(),
                },
            ))
            .await
            .expect("tasks")
            .into_inner()
            .tasks
    }
}
