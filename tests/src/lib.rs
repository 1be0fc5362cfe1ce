//! The cluster harness of Tenure's end-to-end suite: any set of the real services, started through the
//! same composition code as `tenure up` and `tenure serve`, each on a free loopback port and in its own
//! schema of one fresh PostgreSQL database, with development keys to mint tokens for them.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::Context as _;
use tenure::cluster::{self, Cluster};
use tenure::config::TenureConfig;
use tenure_grpc::{DevAuthority, ServiceKind};
use tenure_testkit::TestDatabase;
use tokio::net::TcpListener;

/// Running services and the keys their tokens are checked against.
pub struct TestCluster {
    cluster: Cluster,
    authority: DevAuthority,
    addresses: BTreeMap<ServiceKind, SocketAddr>,
    _database: TestDatabase,
    _scratch: tempfile::TempDir,
}

impl TestCluster {
    /// Migrates and starts `kinds`; each service's peers point at the listeners of this cluster.
    pub async fn start(kinds: &[ServiceKind]) -> anyhow::Result<Self> {
        let database = TestDatabase::create().await?;
        let scratch = tempfile::tempdir().context("scratch directory")?;
        let mut config = TenureConfig::development(scratch.path());
        config.server.reflection = false;
        config.orders.settings.database = database.settings(ServiceKind::Orders.schema());
        config.accounts.settings.database = database.settings(ServiceKind::Accounts.schema());
        config.provisioning.settings.database =
            database.settings(ServiceKind::Provisioning.schema());
        config.data_purge.settings.database = database.settings(ServiceKind::DataPurge.schema());
        cluster::migrate(&config, kinds).await?;
        // Bound before anything starts, so every peer URL names a real port.
        let mut listeners = Vec::new();
        for kind in kinds {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .context("binding a loopback port")?;
            listeners.push((*kind, listener));
        }
        let mut peers = tenure::config::PeerUrls::default();
        for (kind, listener) in &listeners {
            let url = format!("http://{}", listener.local_addr()?);
            match kind {
                ServiceKind::Orders => peers.orders = url,
                ServiceKind::Accounts => peers.accounts = url,
                ServiceKind::Provisioning => peers.provisioning = url,
                ServiceKind::DataPurge => peers.data_purge = url,
            }
        }
        config.orders.peers = peers.clone();
        config.accounts.peers = peers.clone();
        config.provisioning.peers = peers.clone();
        config.data_purge.peers = peers;
        let authority = DevAuthority::generate()?;
        let cluster = Cluster::start(&config, &authority.auth_settings(), listeners).await?;
        let addresses = cluster.addresses();
        Ok(Self {
            cluster,
            authority,
            addresses,
            _database: database,
            _scratch: scratch,
        })
    }

    /// The keys that sign tokens this cluster accepts.
    pub fn authority(&self) -> &DevAuthority {
        &self.authority
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
