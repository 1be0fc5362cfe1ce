//! Where the client connects and with which token. Each value comes from its flag, else its
//! environment variable, else the client configuration file, else the default:
//!
//! | value | flag | environment | `client.toml` key | default |
//! |---|---|---|---|---|
//! | orders | `--endpoint` | `TENURE_ENDPOINT` | `endpoint` | `http://127.0.0.1:50051` |
//! | accounts | `--accounts-endpoint` | `TENURE_ACCOUNTS_ENDPOINT` | `accounts_endpoint` | orders' port + 1 |
//! | provisioning | `--provisioning-endpoint` | `TENURE_PROVISIONING_ENDPOINT` | `provisioning_endpoint` | orders' port + 2 |
//! | data-purge | `--purge-endpoint` | `TENURE_PURGE_ENDPOINT` | `purge_endpoint` | orders' port + 3 |
//! | token | `--token` | `TENURE_TOKEN` | `token` | none |
//!
//! The file is `--client-config`, else `TENURE_CLIENT_CONFIG`, else `$XDG_CONFIG_HOME/tenure/client.toml`
//! (`~/.config/tenure/client.toml` without XDG), read only when it exists.

use std::path::PathBuf;

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Format as _, Toml};
use serde::Deserialize;
use tenure_grpc::ServiceKind;

use crate::cli::ClientOptions;

/// The environment variables of the client. They share the `TENURE_` prefix with the server settings,
/// so the server's configuration loader skips exactly these names instead of refusing them.
pub const CLIENT_VARIABLES: &[&str] = &[
    "TENURE_ENDPOINT",
    "TENURE_ACCOUNTS_ENDPOINT",
    "TENURE_PROVISIONING_ENDPOINT",
    "TENURE_PURGE_ENDPOINT",
    "TENURE_TOKEN",
    "TENURE_CLIENT_CONFIG",
];

/// The orders endpoint when nothing names one: where `tenure up` listens by default.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";

/// The keys of `client.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ClientFile {
    endpoint: Option<String>,
    accounts_endpoint: Option<String>,
    provisioning_endpoint: Option<String>,
    purge_endpoint: Option<String>,
    token: Option<String>,
}

/// The resolved connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The orders endpoint.
    pub orders: String,
    /// The accounts endpoint.
    pub accounts: String,
    /// The provisioning endpoint.
    pub provisioning: String,
    /// The data-purge endpoint.
    pub purge: String,
    /// The bearer token, when one was given anywhere.
    pub token: Option<String>,
}

impl ClientSettings {
    /// The endpoint of `kind`.
    pub fn endpoint(&self, kind: ServiceKind) -> &str {
        match kind {
            ServiceKind::Orders => &self.orders,
            ServiceKind::Accounts => &self.accounts,
            ServiceKind::Provisioning => &self.provisioning,
            ServiceKind::DataPurge => &self.purge,
        }
    }

    /// Layers the flags of `options`, the environment `env` and the client configuration file.
    pub fn resolve(options: &ClientOptions, env: &[(String, String)]) -> anyhow::Result<Self> {
        let variable = |name: &str| {
            env.iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.clone())
        };
        let file = read_file(options, &variable)?;
        let orders = options
            .endpoint
            .clone()
            .or_else(|| variable("TENURE_ENDPOINT"))
            .or(file.endpoint)
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let peer =
            |flag: &Option<String>, name: &str, from_file: Option<String>, offset: u16| match flag
                .clone()
                .or_else(|| variable(name))
                .or(from_file)
            {
                Some(url) => Ok(url),
                None => next_port(&orders, offset),
            };
        Ok(Self {
            accounts: peer(
                &options.accounts_endpoint,
                "TENURE_ACCOUNTS_ENDPOINT",
                file.accounts_endpoint,
                1,
            )?,
            provisioning: peer(
                &options.provisioning_endpoint,
                "TENURE_PROVISIONING_ENDPOINT",
                file.provisioning_endpoint,
                2,
            )?,
            purge: peer(
                &options.purge_endpoint,
                "TENURE_PURGE_ENDPOINT",
                file.purge_endpoint,
                3,
            )?,
            token: options
                .token
                .clone()
                .or_else(|| variable("TENURE_TOKEN"))
                .or(file.token),
            orders,
        })
    }
}

/// The named client file (which must exist), else the default one when it exists, else nothing.
fn read_file(
    options: &ClientOptions,
    variable: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<ClientFile> {
    let named = options
        .client_config
        .clone()
        .or_else(|| variable("TENURE_CLIENT_CONFIG").map(PathBuf::from));
    let path = match named {
        Some(path) => path,
        None => {
            let base = variable("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| variable("HOME").map(|home| PathBuf::from(home).join(".config")));
            match base.map(|base| base.join("tenure").join("client.toml")) {
                Some(path) if path.is_file() => path,
                _ => return Ok(ClientFile::default()),
            }
        }
    };
    Figment::from(Toml::file_exact(&path))
        .extract()
        .with_context(|| format!("reading the client configuration {}", path.display()))
}

/// `url` with its port moved up by `offset`: the other services of a `tenure up` whose orders listener
/// is `url`.
fn next_port(url: &str, offset: u16) -> anyhow::Result<String> {
    let uri: tonic::transport::Uri = url
        .parse()
        .with_context(|| format!("the orders endpoint {url:?} is not a URL"))?;
    let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
        anyhow::bail!(
            "the orders endpoint {url:?} needs a scheme and a host, e.g. http://127.0.0.1:50051"
        );
    };
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let moved = port
        .checked_add(offset)
        .with_context(|| format!("no port follows {port} of {url:?}; name each endpoint"))?;
    Ok(format!("{scheme}://{host}:{moved}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;

    #[test]
    fn the_other_endpoints_follow_the_orders_port() {
        let settings = ClientSettings::resolve(
            &ClientOptions {
                endpoint: Some("http://10.0.0.5:7000".to_owned()),
                ..ClientOptions::default()
            },
            &[],
        )
        .expect("settings");
        assert_eq!(settings.accounts, "http://10.0.0.5:7001");
        assert_eq!(settings.provisioning, "http://10.0.0.5:7002");
        assert_eq!(settings.purge, "http://10.0.0.5:7003");
        assert_eq!(settings.token, None);
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_file() {
        let directory = tempfile::tempdir().expect("dir");
        let file = directory.path().join("client.toml");
        std::fs::write(
            &file,
            "endpoint = \"http://file:1\"\ntoken = \"from-file\"\npurge_endpoint = \"http://file-purge:9\"\n",
        )
        .expect("write");
        let options = ClientOptions {
            client_config: Some(file),
            accounts_endpoint: Some("http://flag:2".to_owned()),
            ..ClientOptions::default()
        };
        let settings = ClientSettings::resolve(
            &options,
            &env(&[
                ("TENURE_ENDPOINT", "http://env:1"),
                ("TENURE_ACCOUNTS_ENDPOINT", "http://env:2"),
            ]),
        )
        .expect("settings");
        assert_eq!(settings.orders, "http://env:1");
        assert_eq!(settings.accounts, "http://flag:2");
        assert_eq!(settings.provisioning, "http://env:3");
        assert_eq!(settings.purge, "http://file-purge:9");
        assert_eq!(settings.token.as_deref(), Some("from-file"));
    }

    #[test]
    fn a_named_file_must_exist_and_hold_only_known_keys() {
        let directory = tempfile::tempdir().expect("dir");
        let missing = ClientOptions {
            client_config: Some(directory.path().join("nope.toml")),
            ..ClientOptions::default()
        };
        assert!(ClientSettings::resolve(&missing, &[]).is_err());
        let typo = directory.path().join("typo.toml");
        std::fs::write(&typo, "endpiont = \"http://x:1\"\n").expect("write");
        let error = ClientSettings::resolve(
            &ClientOptions::default(),
            &env(&[("TENURE_CLIENT_CONFIG", typo.to_str().expect("utf-8"))]),
        )
        .expect_err("unknown key");
        assert!(format!("{error:#}").contains("endpiont"), "{error:#}");
    }

    #[test]
    fn the_default_file_is_read_only_when_present() {
        let directory = tempfile::tempdir().expect("dir");
        let home = directory.path().to_str().expect("utf-8");
        let settings = ClientSettings::resolve(
            &ClientOptions::default(),
            &env(&[("XDG_CONFIG_HOME", home)]),
        )
        .expect("no file is fine");
        assert_eq!(settings.orders, DEFAULT_ENDPOINT);
        std::fs::create_dir_all(directory.path().join("tenure")).expect("dir");
        std::fs::write(
            directory.path().join("tenure").join("client.toml"),
            "token = \"t\"\n",
        )
        .expect("write");
        let settings = ClientSettings::resolve(
            &ClientOptions::default(),
            &env(&[("XDG_CONFIG_HOME", home)]),
        )
        .expect("file");
        assert_eq!(settings.token.as_deref(), Some("t"));
    }
}
