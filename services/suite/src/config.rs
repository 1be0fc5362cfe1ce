//! Configuration of the `tenure` binary, layered (later wins): defaults, the TOML file given with
//! `--config`, `TENURE_` environment variables (`__` nests: `TENURE_ORDERS__DATABASE__URL`), then
//! `validate`, which reports every problem at once before anything binds or connects.
//!
//! Only this module and `main` look at the environment, and `main` passes it in, so tests load
//! configuration from literal slices without touching the process environment.

mod explain;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tenure_accounts::AccountsSettings;
use tenure_data_purge::DataPurgeSettings;
use tenure_db::DatabaseUrl;
use tenure_grpc::{IssuerSettings, ServerSettings, ServiceKind};
use tenure_orders::OrdersSettings;
use tenure_provisioning::ProvisioningSettings;
use tenure_telemetry::{LogFormat, TelemetrySettings};

/// Where the process runs. Production refuses development conveniences (reflection, open CORS,
/// development keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Local development (`tenure up` and the docker-compose stack).
    Development,
    /// Everything else.
    Production,
}

/// The whole configuration of a `tenure` process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenureConfig {
    /// Development or production.
    pub environment: Environment,
    /// Limits and behaviour of every gRPC listener.
    pub server: ServerSettings,
    /// Logs, traces and metrics.
    pub telemetry: TelemetrySettings,
    /// Token issuers and this process's own signing key.
    pub auth: AuthConfig,
    /// The orders service.
    pub orders: ServiceSection<OrdersSettings>,
    /// The accounts service.
    pub accounts: ServiceSection<AccountsSettings>,
    /// The provisioning service.
    pub provisioning: ServiceSection<ProvisioningSettings>,
    /// The data-purge service (`data_purge`, since `-` cannot appear in environment variable names).
    pub data_purge: ServiceSection<DataPurgeSettings>,
}

/// One service's listener, peers and own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSection<S> {
    /// The address `tenure serve` binds, e.g. `0.0.0.0:50051`.
    pub listen: String,
    /// Where its peers listen.
    #[serde(default)]
    pub peers: PeerUrls,
    /// The service's own settings (its database, ...).
    #[serde(flatten)]
    pub settings: S,
}

impl<S> ServiceSection<S> {
    fn new(kind: ServiceKind, settings: S) -> Self {
        Self {
            listen: format!("0.0.0.0:{}", kind.default_port()),
            peers: PeerUrls::default(),
            settings,
        }
    }
}

/// The URLs of the other services, as seen from this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeerUrls {
    /// The orders service.
    pub orders: String,
    /// The accounts service.
    pub accounts: String,
    /// The provisioning service.
    pub provisioning: String,
    /// The data-purge service.
    pub data_purge: String,
}

impl Default for PeerUrls {
    fn default() -> Self {
        let url = |kind: ServiceKind| format!("http://127.0.0.1:{}", kind.default_port());
        Self {
            orders: url(ServiceKind::Orders),
            accounts: url(ServiceKind::Accounts),
            provisioning: url(ServiceKind::Provisioning),
            data_purge: url(ServiceKind::DataPurge),
        }
    }
}

impl PeerUrls {
    /// Sets the URL of one peer.
    pub fn set(&mut self, kind: ServiceKind, url: String) {
        match kind {
            ServiceKind::Orders => self.orders = url,
            ServiceKind::Accounts => self.accounts = url,
            ServiceKind::Provisioning => self.provisioning = url,
            ServiceKind::DataPurge => self.data_purge = url,
        }
    }

    /// The URL of one peer.
    pub fn url(&self, kind: ServiceKind) -> &str {
        match kind {
            ServiceKind::Orders => &self.orders,
            ServiceKind::Accounts => &self.accounts,
            ServiceKind::Provisioning => &self.provisioning,
            ServiceKind::DataPurge => &self.data_purge,
        }
    }
}

/// Authentication configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Development only: an Ed25519 PKCS#8 PEM key that signs and verifies user and service tokens.
    /// `tenure up` creates it in its data directory; processes sharing the file trust each other.
    pub dev_key_file: Option<PathBuf>,
    /// Production: the trusted token issuers (the marketplace identity provider, the services).
    pub issuers: Vec<IssuerSettings>,
    /// Production: this process's Ed25519 PKCS#8 PEM key for its tokens to peers, mounted from a secret.
    pub service_key_file: Option<PathBuf>,
    /// The key id peers know `service_key_file` by.
    pub service_key_id: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            dev_key_file: None,
            issuers: Vec::new(),
            service_key_file: None,
            service_key_id: String::new(),
            leeway_secs: 30,
        }
    }
}

impl Default for TenureConfig {
    fn default() -> Self {
        Self {
            environment: Environment::Production,
            server: ServerSettings::default(),
            telemetry: TelemetrySettings {
                metrics_listen: Some("0.0.0.0:9464".to_owned()),
                ..TelemetrySettings::default()
            },
            auth: AuthConfig::default(),
            orders: ServiceSection::new(ServiceKind::Orders, OrdersSettings::default()),
            accounts: ServiceSection::new(ServiceKind::Accounts, AccountsSettings::default()),
            provisioning: ServiceSection::new(
                ServiceKind::Provisioning,
                ProvisioningSettings::default(),
            ),
            data_purge: ServiceSection::new(ServiceKind::DataPurge, DataPurgeSettings::default()),
        }
    }
}

/// The platform organization orders use under `tenure up` when a tenant has none of its own.
pub const SANDBOX_ORGANIZATION: &str = "111122223333";

impl TenureConfig {
    /// The defaults of `tenure up`: development mode, every service on loopback with its own SQLite
    /// file under `data_dir`, reflection on, localhost origins allowed for gRPC-web.
    pub fn development(data_dir: &Path) -> Self {
        let mut config = Self {
            environment: Environment::Development,
            ..Self::default()
        };
        config.server.reflection = true;
        config.server.cors.allow_localhost = true;
        // Nobody load-balances a laptop: stop at once, and give in-flight calls a few seconds only.
        config.server.drain_grace_secs = 0;
        config.server.shutdown_timeout_secs = 5;
        config.telemetry.metrics_listen = Some("127.0.0.1:9464".to_owned());
        config.telemetry.log_format = LogFormat::Pretty;
        // The migration library narrates every step at info; one line per service from tenure-db is enough.
        config.telemetry.log_filter = "info,sea_orm_migration=warn".to_owned();
        config.auth.dev_key_file = Some(data_dir.join(DEV_KEY_FILE));
        for kind in ServiceKind::ALL {
            let url = DatabaseUrl::new(format!(
                "sqlite://{}",
                data_dir.join(format!("{}.db", kind.schema())).display()
            ));
            let listen = format!("127.0.0.1:{}", kind.default_port());
            match kind {
                ServiceKind::Orders => {
                    config.orders.settings.database.url = url;
                    config.orders.listen = listen;
                    // The sandbox plays AWS: any 12-digit id names a platform organization.
                    config.orders.settings.default_management_account_id =
                        Some(SANDBOX_ORGANIZATION.to_owned());
                }
                ServiceKind::Accounts => {
                    config.accounts.settings.database.url = url;
                    config.accounts.listen = listen;
                    // `tenure sandbox advance` jumps days at once; a reopen window that ended shows
                    // within a second rather than at the next minute, and one query a second is
                    // nothing on a laptop.
                    config.accounts.settings.lifecycle_timer_interval_ms = 1_000;
                }
                ServiceKind::Provisioning => {
                    config.provisioning.settings.database.url = url;
                    config.provisioning.listen = listen;
                    // Billing transfers are sent from the platform's own organization.
                    config.provisioning.settings.default_management_account_id =
                        Some(SANDBOX_ORGANIZATION.to_owned());
                }
                ServiceKind::DataPurge => {
                    config.data_purge.settings.database.url = url;
                    config.data_purge.listen = listen;
                    config.data_purge.settings.receipts.signing_key_file =
                        Some(data_dir.join(RECEIPT_KEY_FILE));
                }
            }
        }
        config
    }

    /// The listen address of one service.
    pub fn listen(&self, kind: ServiceKind) -> &str {
        match kind {
            ServiceKind::Orders => &self.orders.listen,
            ServiceKind::Accounts => &self.accounts.listen,
            ServiceKind::Provisioning => &self.provisioning.listen,
            ServiceKind::DataPurge => &self.data_purge.listen,
        }
    }

    /// Every problem with the configuration, or none.
    pub fn validate(&self) -> anyhow::Result<()> {
        let production = self.environment == Environment::Production;
        let mut problems = self.server.problems(production);
        if let Err(telemetry) = self.telemetry.validate() {
            problems.extend(telemetry.into_iter().map(|p| format!("telemetry: {p}")));
        }
        if production && self.auth.dev_key_file.is_some() {
            problems.push("auth.dev_key_file is for development only".to_owned());
        }
        // A production stack on the simulation would take orders and never touch AWS.
        if production
            && self.provisioning.settings.backend.kind
                == tenure_provisioning::BackendChoice::Sandbox
        {
            problems.push(
                "provisioning.backend.kind: the sandbox is for development; production needs `aws`"
                    .to_owned(),
            );
        }
        if self.auth.dev_key_file.is_none() && self.auth.issuers.is_empty() {
            problems.push("auth.issuers must name at least one trusted token issuer".to_owned());
        }
        problems.extend(self.orders.settings.problems());
        problems.extend(self.accounts.settings.problems());
        problems.extend(self.provisioning.settings.problems());
        problems.extend(self.data_purge.settings.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid configuration:\n  - {}", problems.join("\n  - "))
        }
    }
}

/// The file in the data directory of `tenure up` that holds the key receipts are signed with.
pub const RECEIPT_KEY_FILE: &str = "receipt-signing-key.pem";

/// The development key's file name inside the data directory.
pub const DEV_KEY_FILE: &str = "dev-signing-key.pem";

/// Layers `base`, the optional TOML file and the `TENURE_` variables of `env`, then validates.
pub fn load(
    base: TenureConfig,
    file: Option<&Path>,
    env: &[(String, String)],
) -> anyhow::Result<TenureConfig> {
    let mut figment = Figment::from(Serialized::defaults(base));
    if let Some(path) = file {
        figment = figment.merge(Toml::file_exact(path));
    }
    // Which variable set which key, so that an error names what the operator typed.
    let mut variables = Vec::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix("TENURE_") else {
            continue;
        };
        // Variables read by the test harness and the CLI client are not configuration keys.
        if rest.starts_with("TEST_")
            || rest == "BIN"
            || crate::client::settings::CLIENT_VARIABLES.contains(&name.as_str())
        {
            continue;
        }
        let key = rest.to_ascii_lowercase().replace("__", ".");
        // The typing rules of figment's own Env provider: "true" is a bool, "5" a number, ...
        let mut value: figment::value::Value = raw.parse().unwrap_or_else(|never| match never {});
        // ... and for a key that holds a list, the plain `a,b` a shell user writes, besides `[a, b]`.
        if matches!(
            figment.find_value(&key),
            Ok(figment::value::Value::Array(..))
        ) && !matches!(value, figment::value::Value::Array(..))
        {
            let items: Vec<String> = raw
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect();
            value = items.into();
        }
        figment = figment.merge(Serialized::default(&key, value));
        variables.push((key, name.clone()));
    }
    let config: TenureConfig = figment.extract().map_err(|error| {
        let problems = explain::explain(error, &variables);
        anyhow::anyhow!("invalid configuration:\n  - {}", problems.join("\n  - "))
    })?;
    config.validate()?;
    Ok(config)
}

/// An environment as the loaders take it, from literal pairs.
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_env as env;

    #[test]
    fn environment_variables_nest_with_double_underscores() {
        let config = load(
            TenureConfig::development(Path::new("data")),
            None,
            &env(&[
                ("TENURE_ORDERS__DATABASE__URL", "postgres://app@db/tenure"),
                ("TENURE_DATA_PURGE__LISTEN", "127.0.0.1:6000"),
                ("TENURE_SERVER__MAX_IN_FLIGHT", "7"),
                ("TENURE_TEST_PG_URL", "ignored"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .expect("valid");
        assert_eq!(
            config.orders.settings.database.url.expose(),
            "postgres://app@db/tenure"
        );
        assert_eq!(config.data_purge.listen, "127.0.0.1:6000");
        assert_eq!(config.server.max_in_flight, 7);
    }

    #[test]
    fn production_refuses_development_conveniences_all_at_once() {
        let mut config = TenureConfig::development(Path::new("data"));
        config.environment = Environment::Production;
        let error = config.validate().expect_err("refused").to_string();
        assert!(error.contains("reflection"), "{error}");
        assert!(error.contains("dev_key_file"), "{error}");
        assert!(error.contains("allow_localhost"), "{error}");
        assert!(error.contains("provisioning.backend.kind"), "{error}");
    }

    #[test]
    fn production_needs_an_issuer() {
        let error = TenureConfig::default()
            .validate()
            .expect_err("refused")
            .to_string();
        assert!(error.contains("auth.issuers"), "{error}");
    }

    #[test]
    fn the_client_variables_are_not_server_settings() {
        let client: Vec<(&str, &str)> = crate::client::settings::CLIENT_VARIABLES
            .iter()
            .map(|name| (*name, "http://127.0.0.1:1"))
            .collect();
        let config = load(
            TenureConfig::development(Path::new("data")),
            None,
            &env(&client),
        )
        .expect("the client's variables are skipped");
        assert_eq!(config, TenureConfig::development(Path::new("data")));
        // A name one letter off is still a server key, and still refused.
        assert!(
            load(
                TenureConfig::development(Path::new("data")),
                None,
                &env(&[("TENURE_TOKENS", "x")]),
            )
            .is_err()
        );
    }

    #[test]
    fn limits_are_read_nested_and_refused_when_zero() {
        let config = load(
            TenureConfig::development(Path::new("data")),
            None,
            &env(&[
                ("TENURE_SERVER__RATE_LIMITS__READ__PER_SECOND", "7"),
                ("TENURE_ORDERS__LIMITS__NEW_ACCOUNT_ORDERS_IN_FLIGHT", "3"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.server.rate_limits.read.per_second, 7);
        assert_eq!(config.server.rate_limits.read.burst, 100);
        assert_eq!(config.server.rate_limits.mutation.per_second, 5);
        assert_eq!(
            config.orders.settings.limits.new_account_orders_in_flight,
            3
        );
        let error = load(
            TenureConfig::development(Path::new("data")),
            None,
            &env(&[
                ("TENURE_SERVER__RATE_LIMITS__MUTATION__BURST", "0"),
                ("TENURE_ORDERS__LIMITS__WATCH_STREAMS_PER_TENANT", "0"),
            ]),
        )
        .expect_err("refused")
        .to_string();
        assert!(
            error.contains("server.rate_limits.mutation.burst"),
            "{error}"
        );
        assert!(
            error.contains("orders.limits.watch_streams_per_tenant"),
            "{error}"
        );
    }

    #[test]
    fn a_list_key_takes_a_comma_separated_variable() {
        let config = load(
            TenureConfig::development(Path::new("data")),
            None,
            &env(&[(
                "TENURE_SERVER__CORS__ALLOWED_ORIGINS",
                "https://market.example, https://admin.example",
            )]),
        )
        .unwrap();
        assert_eq!(
            config.server.cors.allowed_origins,
            ["https://market.example", "https://admin.example"]
        );
        let config = load(
            TenureConfig::development(Path::new("data")),
            None,
            &env(&[(
                "TENURE_SERVER__CORS__ALLOWED_ORIGINS",
                "[\"https://a.example\"]",
            )]),
        )
        .unwrap();
        assert_eq!(config.server.cors.allowed_origins, ["https://a.example"]);
    }

    #[test]
    fn a_value_of_the_wrong_form_is_explained_in_the_keys_words() {
        let error = load(
            TenureConfig::development(Path::new("data")),
            None,
            &env(&[("TENURE_SERVER__MAX_IN_FLIGHT", "lots")]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "invalid configuration:\n  - server.max_in_flight (set by TENURE_SERVER__MAX_IN_FLIGHT) \
             takes a whole number, not \"lots\""
        );
        assert!(!error.contains(".rs:") && !error.contains("::"), "{error}");
    }

    #[test]
    fn unknown_top_level_keys_are_refused() {
        let result = load(
            TenureConfig::development(Path::new("data")),
            None,
            &env(&[("TENURE_SERVR__MAX_IN_FLIGHT", "7")]),
        );
        assert!(result.is_err());
    }
}
