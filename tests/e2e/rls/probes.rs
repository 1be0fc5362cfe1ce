//! What the database itself allows a service's `_app` role, with the application's tenant filter
//! bypassed.
//!
//! The hook: the test connects exactly as the service does (`tenure_db::connect` with the service's
//! own database settings, logged in as its `<schema>_app` role), opens the transaction its stores
//! open for a customer (`TenantTx::begin(db, tenant_a)`), and sends the statements a store sends with
//! the `tenant_id` predicate left out, or aimed at the other tenant on purpose. That is a store that
//! forgot its filter, as seen by PostgreSQL, and nothing in the shipped binary changes for it: a
//! cargo feature or a configuration switch that turns the filter off would itself be a way to ship
//! the bug this backstop exists for, and the stores' types are private to their crates anyway. What is
//! on trial is the database's policies and grants, so the probe talks to the database directly with
//! nothing but the service's own credentials.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use tenure_db::{Db, TenantTx};
use tenure_grpc::ServiceKind;
use uuid::Uuid;

use super::setup::Roles;

/// Tables under a `tenant_only` policy, per schema: the migrations' `TENANT_TABLES`.
pub(crate) fn tenant_tables(kind: ServiceKind) -> &'static [&'static str] {
    match kind {
        ServiceKind::Orders => &["customer_order", "order_task"],
        ServiceKind::Accounts => &[
            "account_details",
            "account_transition",
            "app_user",
            "aws_account",
            "cost_record",
            "subscription",
        ],
        // Neither has row-level security: data-purge by design (README: nearly every path in it is
        // cross-tenant), provisioning because its store never scopes a transaction to a tenant (the
        // tenant is optional on an operation, and only services call it).
        ServiceKind::Provisioning | ServiceKind::DataPurge => &[],
    }
}

/// Tables that carry a `tenant_id` but no policy: the application's filter is their only guard. Pinned
/// so that a new tenant-owned table without a policy, or a policy added to one of these, is noticed.
fn unguarded_tables(kind: ServiceKind) -> &'static [&'static str] {
    match kind {
        ServiceKind::Orders => &["idempotency_record", "order_event", "saga", "saga_audit"],
        ServiceKind::Accounts => &["idempotency_record"],
        ServiceKind::Provisioning => &[
            "aws_reference",
            "concerned_account",
            "idempotency_record",
            "operation",
        ],
        ServiceKind::DataPurge => &[
            "idempotency_record",
            "legal_hold",
            "purge_event",
            "purge_request",
            "purge_transition",
            "receipt",
        ],
    }
}

/// The opt-in policies beside `tenant_only`, by table: (name, command).
fn opted_in_policies(table: &str) -> BTreeSet<(&'static str, &'static str)> {
    let mut policies = BTreeSet::from([("cross_tenant_read", "r")]);
    match table {
        "customer_order" | "order_task" => {
            policies.insert(("saga_engine", "*"));
        }
        "aws_account" => {
            policies.insert(("open_balance_read", "r"));
            policies.insert(("open_balance_update", "w"));
        }
        _ => {}
    }
    policies
}

fn text(value: impl Into<String>) -> Value {
    Value::from(value.into())
}

async fn one_i64(conn: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> i64 {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .expect("a row");
    row.try_get_by_index(0).expect("a number")
}

async fn strings(conn: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Vec<String> {
    conn.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .unwrap_or_else(|error| panic!("{sql}: {error}"))
    .iter()
    .map(|row| row.try_get_by_index(0).expect("text"))
    .collect()
}

async fn affected(conn: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> u64 {
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .unwrap_or_else(|error| panic!("{sql}: {error}"))
    .rows_affected()
}

/// Runs one statement without values (DDL, `SET`), which PostgreSQL cannot bind identifiers in.
pub(crate) async fn run(conn: &impl ConnectionTrait, sql: &str) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .map(drop)
}

/// The error `sql` (statements separated by `; `) fails with in a fresh unscoped transaction of `db` (rolled back).
async fn refusal(db: &Db, sql: &str) -> String {
    let tx = TenantTx::begin_unscoped(db).await.expect("begin");
    let mut outcome: Result<_, DbErr> = Ok(());
    for statement in sql.split("; ") {
        outcome = run(&*tx, statement).await;
        if outcome.is_err() {
            break;
        }
    }
    tx.rollback().await.ok();
    match outcome {
        Ok(()) => panic!("{sql} was allowed"),
        Err(error) => error.to_string(),
    }
}

/// The catalogue as the migrations left it, checked as the server's admin: every role init.sql made
/// is bound by row-level security, the owner owns every table, the app role has no whole-table
/// privilege, and the tenant policies sit exactly on the expected tables with the expected shape.
pub(crate) async fn catalogue_is_as_designed(roles: &Roles) {
    let admin = roles.admin().await;
    let names = roles.names().collect::<Vec<_>>().join(",");
    let unbound = strings(
        &admin,
        "SELECT rolname::text FROM pg_roles WHERE rolname = ANY(string_to_array($1, ',')) \
         AND (rolsuper OR rolbypassrls OR NOT rolcanlogin)",
        vec![text(names.clone())],
    )
    .await;
    assert!(unbound.is_empty(), "{unbound:?}");
    assert_eq!(
        one_i64(
            &admin,
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(string_to_array($1, ','))",
            vec![text(names)],
        )
        .await,
        16
    );
    for kind in ServiceKind::ALL {
        let schema = kind.schema();
        let foreign_owned = strings(
            &admin,
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'S') \
             AND pg_get_userbyid(c.relowner) <> $2",
            vec![text(schema), text(roles.name(kind, "owner"))],
        )
        .await;
        assert!(foreign_owned.is_empty(), "{schema}: {foreign_owned:?}");
        let whole_table = strings(
            &admin,
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') \
             AND has_table_privilege($2, c.oid, 'TRUNCATE, REFERENCES, TRIGGER')",
            vec![text(schema), text(roles.name(kind, "app"))],
        )
        .await;
        assert!(whole_table.is_empty(), "{schema}: {whole_table:?}");

        let guarded = strings(
            &admin,
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND (c.relrowsecurity OR c.relforcerowsecurity \
               OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)) ORDER BY 1",
            vec![text(schema)],
        )
        .await;
        assert_eq!(
            guarded,
            tenant_tables(kind),
            "tables with policies in {schema}"
        );
        let with_tenant = strings(
            &admin,
            "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = $1 AND column_name = 'tenant_id' ORDER BY 1",
            vec![text(schema)],
        )
        .await;
        let mut expected: Vec<&str> = tenant_tables(kind)
            .iter()
            .chain(unguarded_tables(kind))
            .copied()
            .collect();
        expected.sort_unstable();
        assert_eq!(with_tenant, expected, "tables with a tenant_id in {schema}");

        for table in tenant_tables(kind) {
            policies_are_as_designed(&admin, schema, table).await;
        }
    }
    admin.close().await.ok();
}

/// `table` has row-level security enabled and forced, a `tenant_only` policy for every command
/// matching the transaction's tenant (with the empty-string guard) in USING and WITH CHECK, and
/// otherwise only policies a transaction opts into with a setting: none lets rows through by itself.
async fn policies_are_as_designed(admin: &DatabaseConnection, schema: &str, table: &str) {
    let flags = strings(
        admin,
        "SELECT (c.relrowsecurity AND c.relforcerowsecurity)::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
        vec![text(schema), text(table)],
    )
    .await;
    assert_eq!(flags, ["true"], "{schema}.{table} enabled and forced");
    let rows = admin
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT p.polname::text AS name, p.polcmd::text AS command, p.polpermissive AS permissive, \
             coalesce(pg_get_expr(p.polqual, p.polrelid), '') AS using, \
             coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') AS checks \
             FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            [text(schema), text(table)],
        ))
        .await
        .expect("policies");
    let mut opted_in = BTreeSet::new();
    let mut tenant_only = false;
    for row in rows {
        let name: String = row.try_get("", "name").expect("name");
        let command: String = row.try_get("", "command").expect("command");
        let permissive: bool = row.try_get("", "permissive").expect("permissive");
        let using: String = row.try_get("", "using").expect("using");
        let checks: String = row.try_get("", "checks").expect("checks");
        assert!(permissive, "{table}.{name}");
        if name == "tenant_only" {
            let tenant = "(tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)";
            assert_eq!(
                (command.as_str(), using.as_str(), checks.as_str()),
                ("*", tenant, tenant),
                "{table}.tenant_only"
            );
            tenant_only = true;
            continue;
        }
        // An opt-in reads a setting only a transaction that asks for it turns on; every clause it
        // has is that comparison and nothing else.
        for clause in [&using, &checks] {
            assert!(
                clause.is_empty()
                    || (clause.starts_with("(current_setting('app.")
                        && clause.ends_with("'::text, true) = 'on'::text)")
                        && !clause.contains(" OR ")),
                "{table}.{name}: {clause}"
            );
        }
        opted_in.insert((name, command));
    }
    assert!(tenant_only, "{table} has no tenant_only policy");
    let expected: BTreeSet<(String, String)> = opted_in_policies(table)
        .into_iter()
        .map(|(name, command)| (name.to_owned(), command.to_owned()))
        .collect();
    assert_eq!(opted_in, expected, "{table}");
}

/// Rows of each tenant in `table`, as the admin sees them.
async fn rows_by_tenant(admin: &DatabaseConnection, table: &str, tenants: [Uuid; 2]) -> [i64; 2] {
    let sql = format!("SELECT count(*) FROM \"{table}\" WHERE tenant_id = $1::uuid");
    let mut counts = [0; 2];
    for (count, tenant) in counts.iter_mut().zip(tenants) {
        *count = one_i64(admin, &sql, vec![text(tenant.to_string())]).await;
    }
    counts
}

/// S19 on one tenant-owned table with both tenants' real rows: inside tenant A's transaction the
/// `_app` role reads none of B's rows however the query is written, cannot update or delete them,
/// and cannot write a row as B (the `WITH CHECK`); without a tenant it reads nothing at all. B's own
/// transaction sees B's rows, so the rows are there to be hidden.
pub(crate) async fn tenant_table_holds(app: &Db, admin: &Db, table: &str, a: Uuid, b: Uuid) {
    let [rows_a, rows_b] = rows_by_tenant(admin.conn(), table, [a, b]).await;
    assert!(
        rows_a > 0 && rows_b > 0,
        "{table}: both tenants need rows, found {rows_a} and {rows_b}"
    );
    let b_text = || vec![text(b.to_string())];
    let everything = format!("SELECT count(*) FROM \"{table}\"");
    let of_b = format!("SELECT count(*) FROM \"{table}\" WHERE tenant_id = $1::uuid");

    let as_a = TenantTx::begin(app, a).await.expect("begin");
    assert_eq!(
        one_i64(&*as_a, &everything, vec![]).await,
        rows_a,
        "{table}"
    );
    assert_eq!(one_i64(&*as_a, &of_b, b_text()).await, 0, "{table}");
    let update = format!("UPDATE \"{table}\" SET tenant_id = tenant_id WHERE tenant_id = $1::uuid");
    assert_eq!(affected(&*as_a, &update, b_text()).await, 0, "{table}");
    let delete = format!("DELETE FROM \"{table}\" WHERE tenant_id = $1::uuid");
    assert_eq!(affected(&*as_a, &delete, b_text()).await, 0, "{table}");
    as_a.rollback().await.expect("rollback");

    // Writing a row as B from A's transaction: moving one of A's rows, or inserting a copy of one.
    // Both fail the WITH CHECK, which PostgreSQL evaluates before any constraint.
    let smuggled = [
        format!(
            "UPDATE \"{table}\" SET tenant_id = $1::uuid \
             WHERE ctid = (SELECT ctid FROM \"{table}\" LIMIT 1)"
        ),
        format!(
            "INSERT INTO \"{table}\" SELECT (jsonb_populate_record(NULL::\"{table}\", \
             to_jsonb(r) || jsonb_build_object('tenant_id', $1::uuid))).* \
             FROM \"{table}\" r LIMIT 1"
        ),
    ];
    for sql in smuggled {
        let as_a = TenantTx::begin(app, a).await.expect("begin");
        let error = as_a
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                &sql,
                b_text(),
            ))
            .await
            .expect_err("a row written as another tenant")
            .to_string();
        assert!(
            error.contains(&format!(
                "new row violates row-level security policy for table \"{table}\""
            )),
            "{sql}: {error}"
        );
        as_a.rollback().await.ok();
    }

    let as_b = TenantTx::begin(app, b).await.expect("begin");
    assert_eq!(
        one_i64(&*as_b, &everything, vec![]).await,
        rows_b,
        "{table}"
    );
    as_b.rollback().await.expect("rollback");
    let unscoped = TenantTx::begin_unscoped(app).await.expect("begin");
    assert_eq!(one_i64(&*unscoped, &everything, vec![]).await, 0, "{table}");
    unscoped.rollback().await.expect("rollback");
    assert_eq!(
        rows_by_tenant(admin.conn(), table, [a, b]).await,
        [rows_a, rows_b]
    );
}

/// A table without row-level security: tenant A's transaction sees B's rows the moment a query
/// forgets its filter. Data-purge is so by design and provisioning as built; this fails when either
/// gains policies, so the test and the README learn of it.
pub(crate) async fn unguarded_table_shows_everything(app: &Db, table: &str, a: Uuid, b: Uuid) {
    let as_a = TenantTx::begin(app, a).await.expect("begin");
    let of_b = format!("SELECT count(*) FROM \"{table}\" WHERE tenant_id = $1::uuid");
    let seen = one_i64(&*as_a, &of_b, vec![text(b.to_string())]).await;
    as_a.rollback().await.ok();
    assert!(
        seen > 0,
        "{table}: tenant A's transaction no longer sees B's rows"
    );
}

/// S20: what the `_app` role cannot do to get around the policies. Whole-table and ownership
/// operations are refused; turning `row_security` off makes a guarded query fail rather than return
/// everything.
pub(crate) async fn app_role_cannot_escape(
    app: &Db,
    roles: &Roles,
    kind: ServiceKind,
    table: &str,
) {
    let owner = roles.name(kind, "owner");
    let guarded = tenant_tables(kind).contains(&table);
    let not_owner: &[&str] = &["must be owner of table", "must be owner of relation"];
    let mut refused: BTreeMap<String, &[&str]> = BTreeMap::from([
        (
            format!("ALTER TABLE \"{table}\" DISABLE ROW LEVEL SECURITY"),
            not_owner,
        ),
        (
            format!("ALTER TABLE \"{table}\" NO FORCE ROW LEVEL SECURITY"),
            not_owner,
        ),
        (
            format!("CREATE POLICY everything ON \"{table}\" USING (true)"),
            not_owner,
        ),
        (
            format!("ALTER TABLE \"{table}\" OWNER TO CURRENT_USER"),
            not_owner,
        ),
        (
            format!("TRUNCATE \"{table}\""),
            &["permission denied for table"],
        ),
        (
            format!("SET ROLE \"{owner}\""),
            &["permission denied to set role"],
        ),
        (
            format!("SET SESSION AUTHORIZATION \"{owner}\""),
            &["permission denied to set session authorization"],
        ),
        // PostgreSQL 15 and 16 word these two differently.
        (
            format!("GRANT \"{owner}\" TO CURRENT_USER"),
            &[
                "must have admin option on role",
                "permission denied to grant role",
            ],
        ),
        (
            "ALTER ROLE CURRENT_USER BYPASSRLS".to_owned(),
            &[
                "must be superuser to change bypassrls attribute",
                "permission denied to alter role",
            ],
        ),
        (
            format!("CREATE TABLE \"{}\".probe (id int)", kind.schema()),
            &["permission denied for schema"],
        ),
    ]);
    if guarded {
        refused.insert(format!("DROP POLICY tenant_only ON \"{table}\""), not_owner);
        refused.insert(
            format!("SET LOCAL row_security = off; SELECT count(*) FROM \"{table}\""),
            &["query would be affected by row-level security policy"],
        );
    }
    for (sql, expected) in refused {
        let error = refusal(app, &sql).await;
        assert!(
            expected.iter().any(|words| error.contains(words)),
            "{kind} as its app role, {sql}: {error}"
        );
    }
}

/// S19 on one pooled connection of the `_app` role, last used by tenant B: the tenant never leaks
/// into a later transaction, and the empty string a connection reports once it has seen the setting
/// matches nothing instead of failing the cast. Then what the code scan in `rls.rs` is for: a
/// session-level `SET`, which PostgreSQL lets any role make on a custom setting, does outlive its
/// transaction; `TenantTx::begin` shadows it inside a tenant's transaction, and nothing in the code
/// base may issue one.
pub(crate) async fn pooled_connection_forgets_the_tenant(
    settings: &tenure_db::DatabaseSettings,
    admin: &Db,
    table: &str,
    a: Uuid,
    b: Uuid,
) {
    let rows = rows_by_tenant(admin.conn(), table, [a, b]).await;
    let one = tenure_db::DatabaseSettings {
        max_connections: 1,
        ..settings.clone()
    };
    let db = tenure_db::connect(&one).await.expect("one connection");
    let setting_and_rows = format!(
        "SELECT current_setting('app.tenant_id', true) AS setting, \
         (SELECT count(*) FROM \"{table}\") AS seen"
    );
    let unscoped = async |db: &Db| {
        let tx = TenantTx::begin_unscoped(db).await.expect("begin");
        let row = tx
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                &setting_and_rows,
            ))
            .await
            .expect("unscoped read")
            .expect("row");
        tx.rollback().await.ok();
        let setting: Option<String> = row.try_get("", "setting").expect("setting");
        let seen: i64 = row.try_get("", "seen").expect("seen");
        (setting, seen)
    };
    let everything = format!("SELECT count(*) FROM \"{table}\"");
    let in_tenant = async |db: &Db, tenant: Uuid| {
        let tx = TenantTx::begin(db, tenant).await.expect("begin");
        let seen = one_i64(&*tx, &everything, vec![]).await;
        tx.commit().await.expect("commit");
        seen
    };

    assert_eq!(unscoped(&db).await, (None, 0), "never set");
    assert_eq!(in_tenant(&db, b).await, rows[1]);
    assert_eq!(
        unscoped(&db).await,
        (Some(String::new()), 0),
        "set in an earlier transaction"
    );
    assert_eq!(in_tenant(&db, a).await, rows[0]);
    // SET LOCAL ends with its transaction as set_config(…, true) does.
    let tx = TenantTx::begin_unscoped(&db).await.expect("begin");
    run(&*tx, &format!("SET LOCAL app.tenant_id = '{b}'"))
        .await
        .expect("set local");
    assert_eq!(one_i64(&*tx, &everything, vec![]).await, rows[1]);
    tx.commit().await.expect("commit");
    assert_eq!(
        unscoped(&db).await,
        (Some(String::new()), 0),
        "after SET LOCAL"
    );

    run(db.conn(), &format!("SET app.tenant_id = '{b}'"))
        .await
        .expect("PostgreSQL cannot refuse a role a session-level custom setting");
    assert_eq!(in_tenant(&db, a).await, rows[0], "TenantTx shadows it");
    assert_eq!(
        unscoped(&db).await,
        (Some(b.to_string()), rows[1]),
        "a session-level SET outlives its transactions: only the code scan keeps it out"
    );
    run(db.conn(), "RESET app.tenant_id").await.expect("reset");
    db.close().await.ok();
}
