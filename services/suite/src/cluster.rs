//! Composition: assembles any set of services on one [`Host`], each on its own listener. `tenure up`
//! runs all four, `tenure serve` one, and tests any subset, all through this one path.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::Context as _;
use tenure_grpc::{AuthSettings, Host, ServerHandle, ServiceKind, TokenVerifier};
use tokio::net::TcpListener;

use crate::config::TenureConfig;

/// Services running on one host.
#[derive(Debug)]
pub struct Cluster {
    host: Host,
    handles: BTreeMap<ServiceKind, ServerHandle>,
}

impl Cluster {
    /// Builds and serves every service in `listeners` (bound by the caller first, so peers can learn real
    /// addresses even on port 0). Each service's schema must be migrated already.
    pub async fn start(
        config: &TenureConfig,
        auth: &AuthSettings,
        listeners: Vec<(ServiceKind, TcpListener)>,
    ) -> anyhow::Result<Self> {
        let verifier = TokenVerifier::new(auth)?;
        let host = Host::new(config.server.clone(), verifier);
        let mut handles = BTreeMap::new();
        for (kind, listener) in listeners {
            let mut builder = host.builder(kind);
            match kind {
                ServiceKind::Orders => {
                    tenure_orders::OrdersApp::build(&config.orders.settings)
                        .await
                        .context("building orders")?
                        .register(&mut builder);
                }
                ServiceKind::Accounts => {
                    tenure_accounts::AccountsApp::build(&config.accounts.settings)
                        .await
                        .context("building accounts")?
                        .register(&mut builder);
                }
                ServiceKind::Provisioning => {
                    tenure_provisioning::ProvisioningApp::build(&config.provisioning.settings)
                        .await
                        .context("building provisioning")?
                        .register(&mut builder);
                }
                ServiceKind::DataPurge => {
                    tenure_data_purge::DataPurgeApp::build(&config.data_purge.settings)
                        .await
                        .context("building data-purge")?
                        .register(&mut builder);
                }
            }
            handles.insert(kind, builder.serve(listener).await?);
        }
        Ok(Self { host, handles })
    }

    /// The host, for spawning process-wide tasks such as the metrics listener.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Where each service listens.
    pub fn addresses(&self) -> BTreeMap<ServiceKind, SocketAddr> {
        self.handles
            .iter()
            .map(|(kind, handle)| (*kind, handle.local_addr()))
            .collect()
    }

    /// Drains and stops every service; bounded by the server settings' shutdown timeout.
    pub async fn shutdown(self) {
        self.host.shutdown().await;
    }
}

/// Refuses to serve `kind` as a PostgreSQL role that row-level security does not bind (a superuser, a
/// `BYPASSRLS` role or a table owner), since such a role would turn the tenant backstop off silently.
pub async fn check_serving_role(config: &TenureConfig, kind: ServiceKind) -> anyhow::Result<()> {
    let settings = match kind {
        ServiceKind::Orders => &config.orders.settings.database,
        ServiceKind::Accounts => &config.accounts.settings.database,
        ServiceKind::Provisioning => &config.provisioning.settings.database,
        ServiceKind::DataPurge => &config.data_purge.settings.database,
    };
    if settings.url.backend() != Some(tenure_db::Backend::Postgres) {
        return Ok(());
    }
    let db = tenure_db::connect(settings).await?;
    let check = tenure_db::role_check(&db).await;
    db.close().await.ok();
    let check = check?;
    if !check.is_restricted() {
        anyhow::bail!(
            "{kind} connects as PostgreSQL role {:?}, which row-level security does not bind \
             (superuser: {}, bypassrls: {}, owns tables: {}); serve as the <schema>_app role",
            check.role,
            check.is_superuser,
            check.bypasses_rls,
            check.owns_tables
        );
    }
    Ok(())
}

/// Applies the migrations of the given services.
pub async fn migrate(config: &TenureConfig, kinds: &[ServiceKind]) -> anyhow::Result<()> {
    for kind in kinds {
        match kind {
            ServiceKind::Orders => tenure_orders::migrate(&config.orders.settings).await,
            ServiceKind::Accounts => tenure_accounts::migrate(&config.accounts.settings).await,
            ServiceKind::Provisioning => {
                tenure_provisioning::migrate(&config.provisioning.settings).await
            }
            ServiceKind::DataPurge => tenure_data_purge::migrate(&config.data_purge.settings).await,
        }
        .with_context(|| format!("migrating {kind}"))?;
    }
    Ok(())
}
