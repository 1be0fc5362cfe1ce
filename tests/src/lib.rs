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
        let mut config = base_config(&database, &scratch);
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

    /// Like [`TestCluster::start_with`], on a database the test prepared itself (its roles, schemas
    /// and migrations): nothing is migrated here. The configuration starts on the database's admin
    /// URL; `options.configure` points the services at the roles the test made.
    pub async fn start_prepared(
        database: TestDatabase,
        kinds: &[ServiceKind],
        options: ClusterOptions,
    ) -> anyhow::Result<Self> {
        let scratch = tempfile::tempdir().context("scratch directory")?;
        let mut config = base_config(&database, &scratch);
        (options.configure)(&mut config);
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
        // As `tenure up` runs it: the sandbox's simulated date, on the test's clock, for every service.
        let cluster =
            Cluster::start_on_one_date(&config, &authority.auth_settings(), &deps, listeners)
                .await?;
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

    /// Makes `process` this cluster's service of its kind: [`TestCluster::url`] and the peers of
    /// processes spawned later reach it.
    pub fn adopt(&mut self, process: &ServiceProcess) -> anyhow::Result<()> {
        let address: SocketAddr = process
            .url
            .trim_start_matches("http://")
            .parse()
            .context("the process address")?;
        self.addresses.insert(process.kind, address);
        Ok(())
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
        configure: impl Fn(&mut TenureConfig),
    ) -> anyhow::Result<ServiceProcess> {
        let mut processes = self.spawn_processes(&[kind], configure).await?;
        processes.pop().context("no process started")
    }

    /// Runs each of `kinds` as its own process, like [`TestCluster::spawn_process`]; they reach each
    /// other and this cluster's listeners. Each serves `/metrics` on a port of its own and writes its
    /// log to a file the test can read.
    pub async fn spawn_processes(
        &self,
        kinds: &[ServiceKind],
        configure: impl Fn(&mut TenureConfig),
    ) -> anyhow::Result<Vec<ServiceProcess>> {
        let mut peers = PeerUrls::default();
        for (peer, address) in &self.addresses {
            set_peer(&mut peers, *peer, format!("http://{address}"));
        }
        let mut ports = Vec::new();
        for kind in kinds {
            let port = free_port()?;
            set_peer(&mut peers, *kind, format!("http://127.0.0.1:{port}"));
            ports.push((*kind, port));
        }
        let mut processes = Vec::new();
        for (kind, port) in ports {
            let mut config = self.config.clone();
            config.orders.peers = peers.clone();
            config.accounts.peers = peers.clone();
            config.provisioning.peers = peers.clone();
            config.data_purge.peers = peers.clone();
            let listen = format!("127.0.0.1:{port}");
            match kind {
                ServiceKind::Orders => config.orders.listen = listen.clone(),
                ServiceKind::Accounts => config.accounts.listen = listen.clone(),
                ServiceKind::Provisioning => config.provisioning.listen = listen.clone(),
                ServiceKind::DataPurge => config.data_purge.listen = listen.clone(),
            }
            let key_file = self._scratch.path().join(format!("dev-key-{port}.pem"));
            std::fs::write(&key_file, self.authority.keys().private_pem())?;
            config.auth.dev_key_file = Some(key_file);
            let metrics_address = format!("127.0.0.1:{}", free_port()?);
            config.telemetry.metrics_listen = Some(metrics_address.clone());
            config.telemetry.log_filter = "warn".to_owned();
            configure(&mut config);
            let scratch = self._scratch.path();
            let config_file = scratch.join(format!("{}-{port}.toml", kind.name()));
            std::fs::write(&config_file, toml::to_string(&config)?)?;
            let process = ServiceProcess {
                child: None,
                kind,
                url: format!("http://{listen}"),
                metrics_url: format!("http://{metrics_address}/metrics"),
                config_file,
                log_file: scratch.join(format!("{}-{port}.log", kind.name())),
            };
            processes.push(process);
        }
        for process in &mut processes {
            process.start().await?;
        }
        Ok(processes)
    }
}

/// The development configuration with every service in its schema of `database`, as its admin.
fn base_config(database: &TestDatabase, scratch: &tempfile::TempDir) -> TenureConfig {
    let mut config = TenureConfig::development(scratch.path());
    config.server.reflection = false;
    config.orders.settings.database = database.settings(ServiceKind::Orders.schema());
    config.accounts.settings.database = database.settings(ServiceKind::Accounts.schema());
    config.provisioning.settings.database = database.settings(ServiceKind::Provisioning.schema());
    config.data_purge.settings.database = database.settings(ServiceKind::DataPurge.schema());
    config
}

/// A loopback port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A service running as its own process.
pub struct ServiceProcess {
    child: Option<tokio::process::Child>,
    kind: ServiceKind,
    url: String,
    metrics_url: String,
    config_file: std::path::PathBuf,
    log_file: std::path::PathBuf,
}

impl ServiceProcess {
    /// Where it listens.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The service it runs.
    pub fn kind(&self) -> ServiceKind {
        self.kind
    }

    /// Its `/metrics` endpoint.
    pub fn metrics_url(&self) -> &str {
        &self.metrics_url
    }

    /// Every line it has logged so far, across restarts.
    pub fn log_lines(&self) -> anyhow::Result<Vec<String>> {
        let text = std::fs::read_to_string(&self.log_file).context("reading the process log")?;
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// Kills it with SIGKILL, as a crash would: no drain, no lease released.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        if let Some(child) = &mut self.child {
            child.kill().await?;
        }
        Ok(())
    }

    /// Asks it to stop with SIGTERM, as an orchestrator does, and waits until it has drained and
    /// flushed its telemetry.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id().context("the process already exited")?;
        let signalled = tokio::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        anyhow::ensure!(signalled.success(), "kill -TERM {pid} failed");
        let exited = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
            .await
            .context("the process did not stop within 30 s of SIGTERM")??;
        anyhow::ensure!(exited.success(), "the process stopped with {exited}");
        Ok(())
    }

    /// Stops it gracefully and starts it again on the same port and configuration.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.start().await
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .context("opening the process log")?;
        let mut command = tokio::process::Command::new(tenure_testkit::tenure_bin()?);
        command
            .arg("--config")
            .arg(&self.config_file)
            .args(["serve", self.kind.name()])
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        self.child = Some(command.spawn().context("starting tenure serve")?);
        self.wait_until_serving().await
    }

    async fn wait_until_serving(&self) -> anyhow::Result<()> {
        let address: SocketAddr = self
            .url
            .trim_start_matches("http://")
            .parse()
            .context("the process address")?;
        let service = match self.kind {
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

/// The scale of the fuzz and cross-tenant sweep (`tests/e2e/sweep.rs`): `TENURE_SWEEP_SCALE=full`
/// runs it at the size the quality bar publishes (≥ 100,000 malformed requests and ≥ 100,000
/// cross-tenant attempts); anything else, or nothing, runs the bounded size CI can afford.
#[allow(
    clippy::disallowed_methods,
    reason = "a test handoff, read once where the sweep starts, as the testkit reads its database URL"
)]
pub fn sweep_at_full_scale() -> bool {
    std::env::var("TENURE_SWEEP_SCALE").is_ok_and(|scale| scale.trim() == "full")
}
