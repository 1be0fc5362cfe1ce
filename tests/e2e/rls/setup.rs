//! The database as a deployment prepares it, and the services on it as production runs them:
//! `deploy/postgres/init.sql` makes the schemas and the `<schema>_{owner,app,ops,purge}` roles,
//! `tenure migrate` runs as each schema's owner, and every `tenure serve <service>` connects as its
//! `<schema>_app` role.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use tenure::config::{Environment, TenureConfig};
use tenure_db::{DatabaseSettings, DatabaseUrl};
use tenure_domain::ManualClock;
use tenure_e2e::{ClusterOptions, ServiceProcess, TestCluster};
use tenure_grpc::{DevAuthority, SERVICE_ISSUER, ServiceKind};
use tenure_testkit::TestDatabase;
use uuid::Uuid;

use super::probes::run;
use crate::stack::Stack;

/// The file a deployment runs as a superuser, read as shipped.
const INIT_SQL: &str = include_str!("../../../deploy/postgres/init.sql");

/// The roles init.sql makes for every schema.
const ROLE_KINDS: [&str; 4] = ["owner", "app", "ops", "purge"];

/// What `tenure serve` prints when it refuses a role that row-level security does not bind.
const REFUSAL: &str = "which row-level security does not bind";

/// init.sql's roles in one test database.
///
/// Roles are cluster-wide and init.sql names them `<schema>_<kind>`, so two runs on one server would
/// share (and re-alter) the same roles. Here every name is prefixed with the test database's own name
/// (`t_<uuid>_orders_app`): parallel runs never meet, and `tests/run.sh` and
/// `tenure_testkit::db::sweep_leftovers` remove whatever a killed run leaves, since their role pattern
/// is exactly `t_<uuid>_…` with the database gone. Dropping this value drops the roles; it must be
/// dropped after the database (declare it first).
pub(crate) struct Roles {
    prefix: String,
    /// The test database, logged in as the server's admin (a superuser).
    admin: DatabaseUrl,
    passwords: BTreeMap<String, String>,
}

impl Roles {
    /// Runs init.sql in `database` as psql runs it (`-v ON_ERROR_STOP=1`), with the role names
    /// prefixed, then gives each role a password as init.sql's `<role>_password` variables would.
    pub(crate) async fn init(database: &TestDatabase) -> Self {
        let prefix = format!("{}_", database.name());
        let admin = database.url().clone();
        let conn = connect_admin(&admin).await;
        run(&conn, &init_statements(&prefix))
            .await
            .expect("init.sql runs");
        let mut passwords = BTreeMap::new();
        for kind in ServiceKind::ALL {
            for role_kind in ROLE_KINDS {
                let name = format!("{prefix}{}_{role_kind}", kind.schema());
                let password = Uuid::new_v4().simple().to_string();
                // The statement init.sql runs for `-v <role>_password=...`; both values are generated.
                run(
                    &conn,
                    &format!("ALTER ROLE \"{name}\" PASSWORD '{password}'"),
                )
                .await
                .expect("password");
                passwords.insert(name, password);
            }
        }
        conn.close().await.ok();
        Self {
            prefix,
            admin,
            passwords,
        }
    }

    /// The name of `kind`'s role of `role_kind` (`owner`, `app`, `ops`, `purge`).
    pub(crate) fn name(&self, kind: ServiceKind, role_kind: &str) -> String {
        format!("{}{}_{role_kind}", self.prefix, kind.schema())
    }

    /// Every role this run made.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.passwords.keys().map(String::as_str)
    }

    /// The test database's URL logged in as `kind`'s `role_kind` role.
    pub(crate) fn url(&self, kind: ServiceKind, role_kind: &str) -> DatabaseUrl {
        let name = self.name(kind, role_kind);
        let password = &self.passwords[&name];
        self.admin.with_credentials(&name, password)
    }

    /// `settings` logged in as `kind`'s `role_kind` role instead.
    pub(crate) fn settings(
        &self,
        settings: &DatabaseSettings,
        kind: ServiceKind,
        role_kind: &str,
    ) -> DatabaseSettings {
        DatabaseSettings {
            url: self.url(kind, role_kind),
            ..settings.clone()
        }
    }

    /// `settings` logged in as the server's admin, which row-level security does not bind.
    pub(crate) fn admin_settings(&self, settings: &DatabaseSettings) -> DatabaseSettings {
        DatabaseSettings {
            url: self.admin.clone(),
            ..settings.clone()
        }
    }

    /// One admin connection to the test database.
    pub(crate) async fn admin(&self) -> DatabaseConnection {
        connect_admin(&self.admin).await
    }
}

impl Drop for Roles {
    fn drop(&mut self) {
        let names: Vec<String> = self.passwords.keys().cloned().collect();
        // Drop may run inside the test's runtime, which must not block on itself.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let url = tenure_testkit::db::postgres_admin_url().ok()?;
                let conn = Database::connect(url).await.ok()?;
                for name in names {
                    // Left behind only if the database still exists; the sweep takes it later.
                    run(&conn, &format!("DROP ROLE IF EXISTS \"{name}\""))
                        .await
                        .ok();
                }
                conn.close().await.ok()
            })
        });
        dropped.join().ok();
    }
}

async fn connect_admin(url: &DatabaseUrl) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.expose());
    options.max_connections(1).sqlx_logging(false);
    Database::connect(options).await.expect("admin connection")
}

/// init.sql's SQL as psql sends it when no password variable is given: its one `DO` block, with
/// every role name (`service || '_…'`) prefixed. Everything outside the block must be what psql
/// handles itself or skips without variables, so a statement added there fails this test instead of
/// being silently left out.
fn init_statements(prefix: &str) -> String {
    let start = INIT_SQL.find("DO $init$").expect("init.sql's DO block");
    let end = start
        + INIT_SQL[start..]
            .find("\n$init$;")
            .expect("the end of init.sql's DO block")
        + "\n$init$;".len();
    for line in INIT_SQL[..start].lines().chain(INIT_SQL[end..].lines()) {
        let line = line.trim();
        let skipped = line.is_empty()
            || line.starts_with("--")
            || line.starts_with('\\')
            || (line.starts_with("ALTER ROLE ") && line.contains(" PASSWORD :'"));
        assert!(
            skipped,
            "init.sql has a statement outside its DO block that this test does not run: {line}"
        );
    }
    let block = &INIT_SQL[start..end];
    let role_name = "service || '_";
    assert!(
        block.matches(role_name).count() >= ROLE_KINDS.len(),
        "init.sql no longer builds role names as `service || '_<kind>'`: teach this test its new form"
    );
    block.replace(role_name, &format!("'{prefix}' || service || '_"))
}

fn database_mut(config: &mut TenureConfig, kind: ServiceKind) -> &mut DatabaseSettings {
    match kind {
        ServiceKind::Orders => &mut config.orders.settings.database,
        ServiceKind::Accounts => &mut config.accounts.settings.database,
        ServiceKind::Provisioning => &mut config.provisioning.settings.database,
        ServiceKind::DataPurge => &mut config.data_purge.settings.database,
    }
}

/// `kind`'s database settings in `config`.
pub(crate) fn database(config: &TenureConfig, kind: ServiceKind) -> &DatabaseSettings {
    match kind {
        ServiceKind::Orders => &config.orders.settings.database,
        ServiceKind::Accounts => &config.accounts.settings.database,
        ServiceKind::Provisioning => &config.provisioning.settings.database,
        ServiceKind::DataPurge => &config.data_purge.settings.database,
    }
}

/// The files production mounts: this process's service key (the stack's key, so its tokens verify
/// against the issuers below) and the receipt signing key.
pub(crate) struct Secrets {
    service_key: std::path::PathBuf,
    receipt_key: std::path::PathBuf,
    authority: DevAuthority,
}

impl Secrets {
    pub(crate) fn write(directory: &Path, authority: &DevAuthority) -> Self {
        let service_key = directory.join("service-key.pem");
        std::fs::write(&service_key, authority.keys().private_pem()).expect("service key");
        let receipt_key = directory.join("receipt-key.pem");
        let receipts = DevAuthority::generate().expect("receipt key");
        std::fs::write(&receipt_key, receipts.keys().private_pem()).expect("receipt key");
        Self {
            service_key,
            receipt_key,
            authority: authority.clone(),
        }
    }

    /// Makes `config` a production configuration: no development key, reflection or localhost CORS;
    /// the stack's keys as configured issuers; keys from files. `tenure serve` then checks its database
    /// role before it binds.
    pub(crate) fn production(&self, config: &mut TenureConfig) {
        let auth = self.authority.auth_settings();
        let service_key_id = auth
            .issuers
            .iter()
            .find(|issuer| issuer.issuer == SERVICE_ISSUER)
            .and_then(|issuer| issuer.keys.first())
            .expect("the service issuer's key")
            .kid
            .clone();
        config.environment = Environment::Production;
        config.server.reflection = false;
        config.server.cors.allow_localhost = false;
        config.auth.dev_key_file = None;
        config.auth.issuers = auth.issuers;
        config.auth.leeway_secs = auth.leeway_secs;
        config.auth.service_key_file = Some(self.service_key.clone());
        config.auth.service_key_id = service_key_id;
        config.data_purge.settings.receipts.signing_key_file = Some(self.receipt_key.clone());
        // Production validates the whole file, the other services' sections too.
        aws_backend(config);
    }
}

/// Production refuses the sandbox, so a production file names the `aws` backend, aimed at a port
/// nobody serves: provisioning runs on it only to start up, before any operation exists.
fn aws_backend(config: &mut TenureConfig) {
    let backend = &mut config.provisioning.settings.backend;
    backend.kind = serde_json::from_str("\"aws\"").expect("backend kind");
    backend.aws.endpoint_url = Some("http://127.0.0.1:9".to_owned());
    backend.aws.emulator_account_header = true;
}

/// A cluster with no service in-process on the prepared `database`, its configuration on the app roles;
/// fast workers and an instant sandbox, as [`Stack::start_as_processes`] has them.
pub(crate) async fn cluster(database: TestDatabase, roles: &Roles) -> TestCluster {
    let app: BTreeMap<ServiceKind, DatabaseUrl> = ServiceKind::ALL
        .into_iter()
        .map(|kind| (kind, roles.url(kind, "app")))
        .collect();
    TestCluster::start_prepared(
        database,
        &[],
        ClusterOptions {
            clock: Arc::new(tenure_domain::SystemClock),
            configure: Box::new(move |config| {
                crate::stack::fast(config);
                let sandbox = &mut config.provisioning.settings.backend.sandbox;
                sandbox.create_account_delay_secs = 0;
                sandbox.close_account_delay_secs = 0;
                sandbox.cloudformation_delay_secs = 0;
                for (kind, url) in &app {
                    database_mut(config, *kind).url = url.clone();
                }
            }),
        },
    )
    .await
    .expect("cluster")
}

/// Runs `tenure <args>` on `config`, written to a file in `directory`, and waits for it to exit.
async fn run_tenure(
    config: &TenureConfig,
    directory: &Path,
    name: &str,
    args: &[&str],
) -> std::process::Output {
    let file = directory.join(format!("{name}.toml"));
    std::fs::write(&file, toml::to_string(config).expect("toml")).expect("config file");
    let command = tokio::process::Command::new(tenure_testkit::tenure_bin().expect("TENURE_BIN"))
        .arg("--config")
        .arg(&file)
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(120), command)
        .await
        .expect("tenure exits")
        .expect("tenure runs")
}

/// `tenure migrate`, as the deployment's migration Job runs it: every schema as its owner role.
pub(crate) async fn migrate_as_owners(cluster: &TestCluster, roles: &Roles, directory: &Path) {
    let mut config = cluster.config().clone();
    for kind in ServiceKind::ALL {
        let owner = roles.settings(database(&config, kind), kind, "owner");
        *database_mut(&mut config, kind) = owner;
    }
    config.telemetry.metrics_listen = None;
    let output = run_tenure(&config, directory, "migrate", &["migrate"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tenure migrate as the owner roles: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for kind in ServiceKind::ALL {
        assert!(stdout.contains(&format!("migrated {kind}")), "{stdout}");
    }
}

/// Production's start-up check, both ways, for every service: `tenure serve` refuses the schema's
/// owner (it owns the tables, so it could turn the policies off) and the server's superuser, and
/// starts as the `_app` role. Orders, accounts and data-purge prove the latter by serving the rest of
/// the test in production; provisioning, whose sandbox production refuses, by starting here on the
/// `aws` backend.
pub(crate) async fn production_checks_the_role(
    cluster: &TestCluster,
    roles: &Roles,
    secrets: &Secrets,
    directory: &Path,
) {
    let refused_as = async |kind: ServiceKind, role: &str| {
        let mut config = cluster.config().clone();
        secrets.production(&mut config);
        config.telemetry.metrics_listen = None;
        let settings = database(&config, kind).clone();
        *database_mut(&mut config, kind) = if role == "superuser" {
            roles.admin_settings(&settings)
        } else {
            roles.settings(&settings, kind, role)
        };
        let name = format!("refused-{}-{role}", kind.name());
        let output = run_tenure(&config, directory, &name, &["serve", kind.name()]).await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!output.status.success(), "{kind} served as {role}");
        assert!(stderr.contains(REFUSAL), "{kind} as {role}: {stderr}");
        stderr
    };
    for kind in ServiceKind::ALL {
        let stderr = refused_as(kind, "owner").await;
        assert!(
            stderr.contains(&format!("{:?}", roles.name(kind, "owner")))
                && stderr.contains("owns tables: true"),
            "{stderr}"
        );
    }
    let stderr = refused_as(ServiceKind::Accounts, "superuser").await;
    assert!(stderr.contains("superuser: true"), "{stderr}");

    let mut provisioning = cluster
        .spawn_process(ServiceKind::Provisioning, |config| {
            secrets.production(config)
        })
        .await
        .expect("provisioning serves in production as its app role");
    provisioning.stop().await.expect("provisioning stops");
}

/// The stack the tenants' data goes through, every service a `tenure serve` process on its `_app`
/// role: orders, accounts and data-purge in production, provisioning on its sandbox (development
/// mode, which skips the role check that [`production_checks_the_role`] made for it).
pub(crate) async fn start(
    mut cluster: TestCluster,
    secrets: &Secrets,
) -> (Stack, Vec<ServiceProcess>) {
    let provisioning = cluster
        .spawn_process(ServiceKind::Provisioning, |_| {})
        .await
        .expect("provisioning");
    cluster.adopt(&provisioning).expect("adopt");
    let mut processes = cluster
        .spawn_processes(
            &[
                ServiceKind::Orders,
                ServiceKind::Accounts,
                ServiceKind::DataPurge,
            ],
            |config| secrets.production(config),
        )
        .await
        .expect("orders, accounts and data-purge serve in production as their app roles");
    for process in &processes {
        cluster.adopt(process).expect("adopt");
    }
    processes.push(provisioning);
    let stack = Stack {
        owners: cluster,
        purger: None,
        clock: Arc::new(ManualClock::new()),
    };
    (stack, processes)
}
