//! Composition: assembles any set of services on one [`Host`], each on its own listener. `tenure up`
//! runs all four, `tenure serve` one, and tests any subset, all through this one path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tenure_domain::{SharedClock, SystemClock};
use tenure_grpc::{
    AuthSettings, DevAuthority, Ed25519KeyPair, Host, PeerChannel, ServerHandle, ServiceKind,
    ServiceTokenMinter, TokenSigner, TokenVerifier,
};
use tokio::net::TcpListener;

use crate::config::{Environment, PeerUrls, TenureConfig};
use crate::dev_key;

/// How the services of a process prove who they are when they call their peers.
#[derive(Debug, Clone)]
pub enum PeerTokens {
    /// The development key of `tenure up`, which every process sharing it trusts.
    Development(DevAuthority),
    /// A production service key (`auth.service_key_file`), known to peers by `key_id`.
    ServiceKey {
        /// The key pair.
        keys: Ed25519KeyPair,
        /// The id peers know the key by.
        key_id: String,
    },
    /// No key: services that call peers refuse to start.
    Absent,
}

/// How long a service token to a peer lives; minters re-mint at half-life.
const SERVICE_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

impl PeerTokens {
    /// The credentials a configuration names: the development key, else the service key.
    pub fn from_config(config: &TenureConfig) -> anyhow::Result<Self> {
        if let Some(path) = &config.auth.dev_key_file {
            return Ok(Self::Development(dev_key::load(path)?));
        }
        match &config.auth.service_key_file {
            Some(path) => {
                let pem = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the service key {}", path.display()))?;
                Ok(Self::ServiceKey {
                    keys: Ed25519KeyPair::from_private_pem(&pem)?,
                    key_id: config.auth.service_key_id.clone(),
                })
            }
            None => Ok(Self::Absent),
        }
    }

    fn minter(&self, kind: ServiceKind) -> anyhow::Result<Arc<ServiceTokenMinter>> {
        match self {
            Self::Development(authority) => authority.service_minter(kind),
            Self::ServiceKey { keys, key_id } => Ok(Arc::new(ServiceTokenMinter::new(
                TokenSigner::ed25519(tenure_grpc::SERVICE_ISSUER, key_id.as_str(), keys)?,
                kind.subject(),
                SERVICE_TOKEN_LIFETIME,
            ))),
            Self::Absent => anyhow::bail!(
                "{kind} calls its peers and needs a service key: set auth.service_key_file"
            ),
        }
    }
}

/// What the services of one process share besides their configuration.
#[derive(Clone)]
pub struct ClusterDeps {
    /// How services authenticate to their peers.
    pub peer_tokens: PeerTokens,
    /// Business time for every service. Tests and demos move one `ManualClock` for all of them, so a
    /// 30-day purge window passes alike everywhere.
    pub clock: SharedClock,
}

impl std::fmt::Debug for ClusterDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterDeps")
            .field("peer_tokens", &self.peer_tokens)
            .finish_non_exhaustive()
    }
}

impl ClusterDeps {
    /// Peers authenticated with `peer_tokens`, on the system clock.
    pub fn new(peer_tokens: PeerTokens) -> Self {
        Self {
            peer_tokens,
            clock: Arc::new(SystemClock),
        }
    }
}

/// A channel from `caller` to its peer `callee`, at the URL `peers` names.
fn peer(
    config: &TenureConfig,
    deps: &ClusterDeps,
    peers: &PeerUrls,
    caller: ServiceKind,
    callee: ServiceKind,
) -> anyhow::Result<PeerChannel> {
    PeerChannel::connect_lazy(
        peers.url(callee),
        callee,
        deps.peer_tokens.minter(caller)?,
        Duration::from_secs(config.server.unary_deadline_cap_secs),
    )
    .with_context(|| format!("connecting {caller} to {callee}"))
}

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
        deps: &ClusterDeps,
        listeners: Vec<(ServiceKind, TcpListener)>,
    ) -> anyhow::Result<Self> {
        Self::start_with_sandbox(config, auth, deps, listeners, None).await
    }

    /// Like [`Cluster::start`], on one simulated date: when provisioning runs here on the sandbox,
    /// the sandbox opens on `deps.clock` and every service reads the sandbox's clock, so moving it
    /// (`tenure sandbox advance`, or the tests' own clock underneath) moves AWS, order timers, reopen
    /// windows and purge due dates together. `tenure up` and the test clusters start this way.
    pub async fn start_on_one_date(
        config: &TenureConfig,
        auth: &AuthSettings,
        deps: &ClusterDeps,
        listeners: Vec<(ServiceKind, TcpListener)>,
    ) -> anyhow::Result<Self> {
        let runs_sandbox = listeners
            .iter()
            .any(|(kind, _)| *kind == ServiceKind::Provisioning)
            && config.provisioning.settings.backend.kind
                == tenure_provisioning::BackendChoice::Sandbox;
        if !runs_sandbox {
            return Self::start(config, auth, deps, listeners).await;
        }
        let sandbox = tenure_provisioning::ProvisioningApp::open_sandbox(
            &config.provisioning.settings,
            deps.clock.clone(),
        )
        .await?;
        let deps = ClusterDeps {
            clock: sandbox.clock(),
            ..deps.clone()
        };
        Self::start_with_sandbox(config, auth, &deps, listeners, Some(sandbox)).await
    }

    /// Like [`Cluster::start`], with provisioning on `sandbox`, opened by the caller so that
    /// `deps.clock` can be the sandbox's own clock; provisioning opens its own from its settings when
    /// this is `None`.
    pub async fn start_with_sandbox(
        config: &TenureConfig,
        auth: &AuthSettings,
        deps: &ClusterDeps,
        listeners: Vec<(ServiceKind, TcpListener)>,
        sandbox: Option<tenure_provisioning::SandboxCloud>,
    ) -> anyhow::Result<Self> {
        let verifier = TokenVerifier::new(auth)?;
        let host = Host::new(config.server.clone(), verifier);
        let mut handles = BTreeMap::new();
        for (kind, listener) in listeners {
            let mut builder = host.builder(kind);
            match kind {
                ServiceKind::Orders => {
                    let peers = &config.orders.peers;
                    let to = |callee| peer(config, deps, peers, kind, callee);
                    tenure_orders::OrdersApp::build_with(
                        &config.orders.settings,
                        tenure_orders::OrdersDeps {
                            clock: deps.clock.clone(),
                            peers: Some(tenure_orders::OrdersPeers {
                                accounts: to(ServiceKind::Accounts)?,
                                provisioning: to(ServiceKind::Provisioning)?,
                                purge: to(ServiceKind::DataPurge)?,
                            }),
                        },
                    )
                    .await
                    .context("building orders")?
                    .register(&mut builder);
                }
                ServiceKind::Accounts => {
                    let purge = peer(
                        config,
                        deps,
                        &config.accounts.peers,
                        kind,
                        ServiceKind::DataPurge,
                    )?;
                    tenure_accounts::AccountsApp::build_with(
                        &config.accounts.settings,
                        tenure_accounts::AccountsDeps {
                            clock: deps.clock.clone(),
                            purge: tenure_accounts::PurgePeer::Connected(purge),
                        },
                    )
                    .await
                    .context("building accounts")?
                    .register(&mut builder);
                }
                ServiceKind::Provisioning => {
                    let settings = &config.provisioning.settings;
                    let app = match &sandbox {
                        // Claims and leases measure real elapsed time; the sandbox keeps its own
                        // simulated time for AWS.
                        Some(sandbox) => {
                            tenure_provisioning::ProvisioningApp::build_with(
                                settings,
                                Arc::new(SystemClock),
                                tenure_provisioning::Backend::sandbox(
                                    sandbox.clone(),
                                    Arc::new(sandbox.clone()),
                                ),
                            )
                            .await
                        }
                        None => tenure_provisioning::ProvisioningApp::build(settings).await,
                    };
                    app.context("building provisioning")?.register(&mut builder);
                }
                ServiceKind::DataPurge => {
                    let settings = &config.data_purge.settings;
                    if config.environment == Environment::Development
                        && let Some(path) = &settings.receipts.signing_key_file
                    {
                        // `tenure up` and tests sign receipts with a key made on first start.
                        dev_key::ensure_key_file(path)?;
                    }
                    let peers = &config.data_purge.peers;
                    let data_owners = [
                        ServiceKind::Orders,
                        ServiceKind::Accounts,
                        ServiceKind::Provisioning,
                    ]
                    .into_iter()
                    .map(|owner| peer(config, deps, peers, kind, owner))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                    tenure_data_purge::DataPurgeApp::build_with(
                        settings,
                        tenure_data_purge::DataPurgeDeps {
                            clock: deps.clock.clone(),
                            data_owners,
                        },
                    )
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
