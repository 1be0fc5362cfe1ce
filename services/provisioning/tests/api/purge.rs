//! PurgeParticipant over provisioning's data, with the semantics accounts keeps: the dry run names
//! exactly the rows the purge then deletes, a replayed key answers with the first result, a new run
//! deletes nothing more, verification finds nothing, account scope spares the tenant's other accounts,
//! tenant scope spares other tenants, and the sandbox (the simulated AWS itself) is never touched. An
//! account purge takes every operation that names the account, also those run on the management
//! account, and every reference about it.

use tenure_domain::AwsAccountId;
use tenure_proto::common::v1::DataClass;
use tenure_proto::provisioning::v1 as pb;
use tenure_proto::purge::v1 as purge;
use tenure_provisioning::cloud::{AccountState, Cloud as _};
use tonic::Code;
use uuid::Uuid;

use crate::support::{
    MINUTE, Served, assert_succeeded, create_account_with, error_info, handshake_of, key, request,
    settle_with, spawn_sandbox, start_with,
};

fn scope(kind: purge::ScopeKind, tenant: Uuid, aws_account_id: &str) -> purge::ParticipantScope {
    purge::ParticipantScope {
        kind: kind as i32,
        tenant_id: tenant.to_string(),
        aws_account_id: aws_account_id.to_owned(),
    }
}

fn classes() -> Vec<i32> {
    vec![DataClass::AwsFetched as i32, DataClass::CostData as i32]
}

/// The tenant a scope names, which data-purge acts for when it sends it.
fn tenant_of(scope: &purge::ParticipantScope) -> Uuid {
    scope.tenant_id.parse().expect("a tenant id")
}

fn plan_request(scope: &purge::ParticipantScope) -> purge::PlanRequest {
    purge::PlanRequest {
        purge_id: Uuid::new_v4().to_string(),
        scope: Some(scope.clone()),
        classes: classes(),
    }
}

/// A verification of what [`plan_request`] would plan.
fn verify_request(scope: &purge::ParticipantScope) -> purge::VerifyRequest {
    let purge::PlanRequest {
        purge_id,
        scope,
        classes,
    } = plan_request(scope);
    purge::VerifyRequest {
        purge_id,
        scope,
        classes,
    }
}

async fn plan(served: &Served, scope: &purge::ParticipantScope) -> Vec<purge::TableCount> {
    served
        .purger_for(tenant_of(scope))
        .plan(plan_request(scope))
        .await
        .expect("plan")
        .into_inner()
        .entries
}

fn execute_request(scope: &purge::ParticipantScope) -> purge::ExecuteRequest {
    purge::ExecuteRequest {
        idempotency_key: key(),
        purge_id: Uuid::new_v4().to_string(),
        scope: Some(scope.clone()),
        classes: classes(),
    }
}

async fn execute(served: &Served, request: &purge::ExecuteRequest) -> Vec<purge::TableCount> {
    served
        .purger_for(tenant_of(request.scope.as_ref().expect("a scope")))
        .execute(request.clone())
        .await
        .expect("execute")
        .into_inner()
        .entries
}

async fn residual(served: &Served, scope: &purge::ParticipantScope) -> Vec<purge::TableCount> {
    served
        .purger_for(tenant_of(scope))
        .verify(verify_request(scope))
        .await
        .expect("verify")
        .into_inner()
        .residual
}

/// (table, rows) of each entry.
fn rows(entries: &[purge::TableCount]) -> Vec<(String, u64)> {
    entries
        .iter()
        .map(|entry| (entry.table.clone(), entry.rows))
        .collect()
}

/// The rows of each `aws_fetched` table, in the order a plan lists them.
fn counts(operations: u64, concerns: u64, references: u64) -> Vec<(String, u64)> {
    vec![
        ("operation".to_owned(), operations),
        ("concerned_account".to_owned(), concerns),
        ("aws_reference".to_owned(), references),
    ]
}

/// Waits until `tenant`'s `operation` has ended.
async fn settled(served: &Served, tenant: Uuid, operation: pb::Operation) -> pb::Operation {
    let mut orders = served.orders_for(tenant);
    settle_with(served, &mut orders, &operation.id, MINUTE).await
}

/// `tenant`'s operations, as orders lists them for it.
async fn operations_of_tenant(served: &Served, tenant: Uuid) -> Vec<pb::Operation> {
    served
        .orders_for(tenant)
        .list_operations(pb::ListOperationsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .operations
}

/// Purges `account` of `tenant`: the plan counts `planned` rows per table, the purge deletes
/// exactly them, and nothing is left.
async fn purge_account(served: &Served, tenant: Uuid, account: &str, planned: Vec<(String, u64)>) {
    let account = scope(purge::ScopeKind::Account, tenant, account);
    let plan = plan(served, &account).await;
    assert_eq!(rows(&plan), planned);
    assert_eq!(execute(served, &execute_request(&account)).await, plan);
    assert_eq!(residual(served, &account).await, []);
}

/// Closes `account` for `tenant` and waits for the operation to succeed.
async fn close(served: &Served, tenant: Uuid, account: &str) -> String {
    let closing = start_with(
        &mut served.orders_for(tenant),
        request::close_account(account),
    )
    .await;
    let closed = settled(served, tenant, closing).await;
    assert_succeeded(&closed);
    closed.id
}

/// GetOperation as orders (across tenants): the operation still exists.
/// Whether `tenant` still has the operation (the owner's view, so a miss means it is gone).
async fn operation_exists(served: &Served, tenant: Uuid, id: &str) -> bool {
    match served
        .orders_for(tenant)
        .get_operation(request::get_operation(id))
        .await
    {
        Ok(_) => true,
        Err(status) if status.code() == Code::NotFound => false,
        Err(status) => panic!("get operation: {status:?}"),
    }
}

/// Tenant A holds accounts X (created, then closed) and Y; tenant B holds Z; all in one organization.
struct World {
    management: String,
    tenant_a: Uuid,
    tenant_b: Uuid,
    x: String,
    y: String,
    x_close: String,
    z_operation: String,
}

async fn world(served: &Served) -> World {
    let management = served.organization().await;
    let (tenant_a, tenant_b) = (Uuid::new_v4(), Uuid::new_v4());
    let create_for = async |tenant: Uuid, email: &str| {
        create_account_with(served, &mut served.orders_for(tenant), &management, email).await
    };
    let x = create_for(tenant_a, "x@example.com").await;
    let x_close = close(served, tenant_a, &x).await;
    let y = create_for(tenant_a, "y@example.com").await;
    create_for(tenant_b, "z@example.com").await;
    let z_operation = operations_of_tenant(served, tenant_b)
        .await
        .first()
        .map(|operation| operation.id.clone())
        .expect("tenant B's operation");
    World {
        management,
        tenant_a,
        tenant_b,
        x,
        y,
        x_close,
        z_operation,
    }
}

#[tokio::test]
async fn an_account_purge_deletes_exactly_its_plan_once_and_spares_the_rest() {
    let (served, _database) = spawn_sandbox().await;
    let world = world(&served).await;
    let account_x = scope(purge::ScopeKind::Account, world.tenant_a, &world.x);

    let planned = plan(&served, &account_x).await;
    assert_eq!(
        planned,
        plan(&served, &account_x).await,
        "a dry run changes nothing"
    );
    // X's creation and closure with the account each concerns, and the record of which
    // organization owns it.
    assert_eq!(rows(&planned), counts(2, 2, 1));
    assert!(
        planned
            .iter()
            .all(|entry| entry.action() == purge::PurgeAction::Delete
                && entry.data_class() == DataClass::AwsFetched)
    );

    let request = execute_request(&account_x);
    let executed = execute(&served, &request).await;
    assert_eq!(
        executed, planned,
        "the purge deletes exactly the planned rows"
    );
    assert_eq!(
        execute(&served, &request).await,
        executed,
        "a replayed key answers with the first result"
    );
    let again = execute(&served, &execute_request(&account_x)).await;
    assert!(
        again.iter().all(|entry| entry.rows == 0),
        "a second run deletes nothing: {again:?}"
    );
    assert_eq!(residual(&served, &account_x).await, []);
    assert!(!operation_exists(&served, world.tenant_a, &world.x_close).await);

    // The reused key with another request is refused.
    let reused = served
        .purger_for(world.tenant_a)
        .execute(purge::ExecuteRequest {
            scope: Some(scope(purge::ScopeKind::Account, world.tenant_a, &world.y)),
            ..request
        })
        .await
        .expect_err("key reused");
    assert_eq!(error_info(&reused).reason, "IDEMPOTENCY_KEY_REUSED");

    // The tenant's other account and the other tenant keep their data.
    assert_eq!(
        rows(
            &plan(
                &served,
                &scope(purge::ScopeKind::Account, world.tenant_a, &world.y)
            )
            .await
        ),
        counts(1, 1, 1)
    );
    assert!(operation_exists(&served, world.tenant_b, &world.z_operation).await);

    // The sandbox is AWS, not Tenure's data: X is still there, closed.
    let management = AwsAccountId::parse(&world.management).expect("id");
    let x = served
        .sandbox
        .describe_account(&management, &AwsAccountId::parse(&world.x).expect("id"))
        .await
        .expect("the sandbox still knows the account");
    assert_eq!(x.state, AccountState::Suspended);
    served.host.shutdown().await;
}

#[tokio::test]
async fn a_tenant_purge_deletes_every_row_of_the_tenant_and_no_other() {
    let (served, _database) = spawn_sandbox().await;
    let world = world(&served).await;
    let tenant_a = scope(purge::ScopeKind::Tenant, world.tenant_a, "");
    let tenant_b = scope(purge::ScopeKind::Tenant, world.tenant_b, "");
    let untouched = plan(&served, &tenant_b).await;
    assert_eq!(rows(&untouched), counts(1, 1, 1));

    let planned = plan(&served, &tenant_a).await;
    assert_eq!(rows(&planned), counts(3, 3, 2));
    let executed = execute(&served, &execute_request(&tenant_a)).await;
    assert_eq!(executed, planned);
    assert_eq!(residual(&served, &tenant_a).await, []);
    assert!(
        operations_of_tenant(&served, world.tenant_a)
            .await
            .is_empty()
    );
    assert_eq!(plan(&served, &tenant_b).await, untouched);
    assert!(operation_exists(&served, world.tenant_b, &world.z_operation).await);

    // Classes that do not include provisioning's data leave it alone and report nothing deleted.
    let kept = served
        .purger_for(world.tenant_b)
        .execute(purge::ExecuteRequest {
            classes: vec![DataClass::LoginIdentity as i32],
            ..execute_request(&tenant_b)
        })
        .await
        .expect("execute")
        .into_inner()
        .entries;
    assert_eq!(kept, []);
    assert_eq!(plan(&served, &tenant_b).await, untouched);

    // The sandbox still holds every account, Y included.
    let management = AwsAccountId::parse(&world.management).expect("id");
    let listed = served
        .sandbox
        .list_accounts(&management)
        .await
        .expect("accounts");
    assert!(listed.iter().any(|account| account.id.as_str() == world.y));
    served.host.shutdown().await;
}

/// Data-purge acts for one tenant per call, as every other data owner holds it to: a subject in
/// another tenant is refused before anything is counted or deleted (issue 16's sweep found the
/// provisioning participant purging whatever tenant the scope named).
#[tokio::test]
async fn data_purge_acting_for_one_tenant_cannot_reach_another_tenants_rows() {
    let (served, _database) = spawn_sandbox().await;
    let world = world(&served).await;
    let tenant_b = scope(purge::ScopeKind::Tenant, world.tenant_b, "");
    let untouched = plan(&served, &tenant_b).await;
    let as_a = served.purger_for(world.tenant_a);
    let planned = as_a
        .clone()
        .plan(plan_request(&tenant_b))
        .await
        .expect_err("another tenant");
    let executed = as_a
        .clone()
        .execute(execute_request(&tenant_b))
        .await
        .expect_err("another tenant");
    let verified = as_a
        .clone()
        .verify(verify_request(&tenant_b))
        .await
        .expect_err("another tenant");
    for refused in [planned, executed, verified] {
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    }
    assert_eq!(plan(&served, &tenant_b).await, untouched);
    assert!(operation_exists(&served, world.tenant_b, &world.z_operation).await);
    served.host.shutdown().await;
}

#[tokio::test]
async fn an_account_purge_takes_the_operations_and_references_that_name_the_account() {
    let (served, _database) = spawn_sandbox().await;
    let management = served.organization().await;
    let tenant = Uuid::new_v4();
    let mut orders = served.orders_for(tenant);
    let x = create_account_with(&served, &mut orders, &management, "x@example.com").await;
    let y = create_account_with(&served, &mut orders, &management, "y@example.com").await;
    let template = pb::StackSetTemplate::Essentials as i32;
    let run = async |request| {
        let started = start_with(&mut served.orders_for(tenant), request).await;
        settled(&served, tenant, started).await.id
    };
    let stack_set = start_with(
        &mut orders,
        request::create_stack_set(&management, template),
    )
    .await;
    settled(&served, tenant, stack_set).await;
    let instances = |accounts: &[&str]| {
        request::create_stack_instances(&management, template, accounts, "us-east-1")
    };
    // Run on the management account; the first names X only second, so it does not report X.
    let naming_x = run(instances(&[&y, &x])).await;
    let naming_only_y = run(instances(&[&y])).await;

    // An invitation of W and its cancellation, which names only the handshake.
    let w = served.standalone_account().await;
    let invited = start_with(&mut orders, request::invite_account(&management, &w)).await;
    let handshake = handshake_of(&invited);
    let cancelled = start_with(&mut orders, request::cancel_handshake(&handshake.id)).await;
    let cancelled = settled(&served, tenant, cancelled).await.id;

    // X: its creation, the instances naming it (with both their accounts), its owner record.
    purge_account(&served, tenant, &x, counts(2, 3, 1)).await;
    assert!(!operation_exists(&served, tenant, &naming_x).await);
    assert!(operation_exists(&served, tenant, &naming_only_y).await);
    // Y keeps its creation and the instances naming only Y, and its owner record.
    let account_y = scope(purge::ScopeKind::Account, tenant, &y);
    assert_eq!(rows(&plan(&served, &account_y).await), counts(2, 2, 1));

    // W: the invitation, the cancellation found through the handshake, the owner records of W and
    // of the handshake.
    purge_account(&served, tenant, &w, counts(2, 2, 2)).await;
    assert!(!operation_exists(&served, tenant, &invited.id).await);
    assert!(!operation_exists(&served, tenant, &cancelled).await);
    // The StackSet itself names no account: only the tenant's purge takes it.
    assert_eq!(
        rows(&plan(&served, &scope(purge::ScopeKind::Tenant, tenant, "")).await),
        counts(3, 2, 1)
    );
    served.host.shutdown().await;
}
