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

    /// Runs `kind` as its own `tenure serve` process beside this cluster: on its database, trusting
    /// its keys, with its peers at this cluster's listeners. `configure` adjusts the process's
    /// configuration (a file, as deployments pass it). The process is killed when dropped.
    pub async fn spawn_process(
        &self,
        kind: ServiceKind,
        configure: impl FnOnce(&mut TenureConfig),
    ) -> anyhow::Result<ServiceProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut config = self.config.clone();
        let mut peers = PeerUrls::default();
        for (peer, address) in &self.addresses {
            set_peer(&mut peers, *peer, format!("http://{address}"));
        }
        let listen = format!("127.0.0.1:{port}");
        set_peer(&mut peers, kind, format!("http://{listen}"));
        config.orders.peers = peers.clone();
        config.accounts.peers = peers.clone();
        config.provisioning.peers = peers.clone();
        config.data_purge.peers = peers;
        match kind {
            ServiceKind::Orders => config.orders.listen = listen.clone(),
            ServiceKind::Accounts => config.accounts.listen = listen.clone(),
            ServiceKind::Provisioning => config.provisioning.listen = listen.clone(),
            ServiceKind::DataPurge => config.data_purge.listen = listen.clone(),
        }
        let key_file = self._scratch.path().join(format!("dev-key-{port}.pem"));
        std::fs::write(&key_file, self.authority.keys().private_pem())?;
        config.auth.dev_key_file = Some(key_file);
        config.telemetry.metrics_listen = Some("127.0.0.1:0".to_owned());
        config.telemetry.log_filter = "warn".to_owned();
        configure(&mut config);
        let config_file = self
            ._scratch
            .path()
            .join(format!("{}-{port}.toml", kind.name()));
        std::fs::write(&config_file, toml::to_string(&config)?)?;
        let mut command = tokio::process::Command::new(tenure_testkit::tenure_bin()?);
        command
            .arg("--config")
            .arg(&config_file)
            .args(["serve", kind.name()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let child = command.spawn().context("starting tenure serve")?;
        let process = ServiceProcess {
            child,
            url: format!("http://{listen}"),
        };
        process.wait_until_serving(kind).await?;
        Ok(process)
    }
}

/// A service running as its own process.
pub struct ServiceProcess {
    child: tokio::process::Child,
    url: String,
}

impl ServiceProcess {
    /// Where it listens.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills it with SIGKILL, as a crash would: no drain, no lease released.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    async fn wait_until_serving(&self, kind: ServiceKind) -> anyhow::Result<()> {
        let address: SocketAddr = self
            .url
            .trim_start_matches("http://")
            .parse()
            .context("the process address")?;
        let service = match kind {
            ServiceKind::Orders => "tenure.orders.v1.OrderService",
            ServiceKind::Accounts => "tenure.accounts.v1.AccountService",
            ServiceKind::Provisioning => "tenure.provisioning.v1.ProvisioningService",
            ServiceKind::DataPurge => "tenure.purge.v1.PurgeService",
        };
        let ready = async {
            loop {
                if let Ok(channel) = tenure_testkit::grpc::channel(address).await
                    && tenure_testkit::grpc::wait_until_serving(&channel, service)
                        .await
                        .is_ok()
                {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), ready)
            .await
            .context("the process did not come up")
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
