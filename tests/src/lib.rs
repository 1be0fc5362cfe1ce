//! The cluster harness of Tenure's end-to-end suite: any set of the real services, started through the
//! same composition code as `tenure up` and `tenure serve`, each on a free loopback port and in its own
//! schema of one fresh PostgreSQL database, with development keys to mint tokens for them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tenure::cluster::{self, Cluster, ClusterDeps, PeerTokens};
use tenure::config::{PeerUrls, TenureConfig};
use tenure_domain::{SharedClock, SystemClock};
use tenure_grpc::{DevAuthority, ServiceKind};
use tenure_testkit::TestDatabase;
use tokio::net::TcpListener;

/// How a test cluster differs from the defaults.
pub struct ClusterOptions {
    /// Business time for every service.
    pub clock: SharedClock,
    /// Adjusts the configuration before the services start (worker intervals, leases, ...).
    pub configure: Box<dyn FnOnce(&mut TenureConfig) + Send>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            configure: Box::new(|_| {}),
        }
    }
}

/// Running services and the keys their tokens are checked against.
pub struct TestCluster {
    cluster: Cluster,
    authority: DevAuthority,
    config: TenureConfig,
    addresses: BTreeMap<ServiceKind, SocketAddr>,
    _database: Option<TestDatabase>,
    _scratch: tempfile::TempDir,
}

impl TestCluster {
    /// Migrates and starts `kinds`; each service's peers point at the listeners of this cluster.
    pub async fn start(kinds: &[ServiceKind]) -> anyhow::Result<Self> {
        Box::pin(Self::start_with(kinds, ClusterOptions::default())).await
    }

    /// Like [`TestCluster::start`], with a clock and configuration of the test's choosing.
    pub async fn start_with(
        kinds: &[ServiceKind],
        options: ClusterOptions,
    ) -> anyhow::Result<Self> {
        let database = TestDatabase::create().await?;
        let scratch = tempfile::tempdir().context("scratch directory")?;
        let mut config = TenureConfig::development(scratch.path());
        config.server.reflection = false;
        config.orders.settings.database = database.settings(ServiceKind::Orders.schema());
        config.accounts.settings.database = database.settings(ServiceKind::Accounts.schema());
        config.provisioning.settings.database =
            database.settings(ServiceKind::Provisioning.schema());
        config.data_purge.settings.database = database.settings(ServiceKind::DataPurge.schema());
        (options.configure)(&mut config);
        cluster::migrate(&config, &ServiceKind::ALL).await?;
        let authority = DevAuthority::generate()?;
        Box::pin(Self::launch(
            kinds,
            config,
            authority,
            options.clock,
            PeerUrls::default(),
            Some(database),
            scratch,
        ))
        .await
    }

    /// Starts `kinds` beside this cluster: on its database, trusting its keys, with peers that are
    /// not among `kinds` reached at this cluster's listeners. Tests use it to kill and restart one
    /// service while the others keep running.
    pub async fn start_beside(
        &self,
        kinds: &[ServiceKind],
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let scratch = tempfile::tempdir().context("scratch directory")?;
        let mut peers = PeerUrls::default();
        for (kind, address) in &self.addresses {
            set_peer(&mut peers, *kind, format!("http://{address}"));
        }
        Box::pin(Self::launch(
            kinds,
            self.config.clone(),
            self.authority.clone(),
            clock,
            peers,
            None,
            scratch,
        ))
        .await
    }

    async fn launch(
        kinds: &[ServiceKind],
        mut config: TenureConfig,
        authority: DevAuthority,
        clock: SharedClock,
        mut peers: PeerUrls,
        database: Option<TestDatabase>,
        scratch: tempfile::TempDir,
    ) -> anyhow::Result<Self> {
        // Bound before anything starts, so every peer URL names a real port.
        let mut listeners = Vec::new();
        for kind in kinds {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .context("binding a loopback port")?;
            set_peer(
                &mut peers,
                *kind,
                format!("http://{}", listener.local_addr()?),
            );
            listeners.push((*kind, listener));
        }
        config.orders.peers = peers.clone();
        config.accounts.peers = peers.clone();
        config.provisioning.peers = peers.clone();
        config.data_purge.peers = peers;
        let deps = ClusterDeps {
            peer_tokens: PeerTokens::Development(authority.clone()),
            clock,
        };
        let cluster = Cluster::start(&config, &authority.auth_settings(), &deps, listeners).await?;
        let addresses = cluster.addresses();
        Ok(Self {
            cluster,
            authority,
            config,
            addresses,
            _database: database,
            _scratch: scratch,
        })
    }

    /// The keys that sign tokens this cluster accepts.
    pub fn authority(&self) -> &DevAuthority {
        &self.authority
    }

    /// The configuration the services run with.
    pub fn config(&self) -> &TenureConfig {
        &self.config
    }

    /// The URL of one running service.
    pub fn url(&self, kind: ServiceKind) -> anyhow::Result<String> {
        let address = self
            .addresses
            .get(&kind)
            .with_context(|| format!("{kind} is not running in this cluster"))?;
        Ok(format!("http://{address}"))
    }

    /// Drains and stops every service.
    pub async fn shutdown(self) {
        self.cluster.shutdown().await;
    }
}

fn set_peer(peers: &mut PeerUrls, kind: ServiceKind, url: String) {
    match kind {
        ServiceKind::Orders => peers.orders = url,
        ServiceKind::Accounts => peers.accounts = url,
        ServiceKind::Provisioning => peers.provisioning = url,
        ServiceKind::DataPurge => peers.data_purge = url,
    }
}
