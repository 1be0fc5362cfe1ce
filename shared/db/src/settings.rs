use std::fmt;

use serde::{Deserialize, Serialize};

use crate::identifier;

/// How a service reaches its database: PostgreSQL in production, SQLite for the embedded `tenure up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/database` or `sqlite://path/to/service.db` (one file per
    /// service; the parent directory is created on connect).
    pub url: DatabaseUrl,
    /// The service's schema on PostgreSQL (`orders`, `accounts`, `provisioning`, `purge`). It becomes
    /// the `search_path` of every pooled connection; on SQLite it only names the service.
    pub schema: String,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// Connections the pool keeps open even when idle.
    pub min_connections: u32,
    /// How long opening the pool may take before `connect` gives up.
    pub connect_timeout_secs: u64,
    /// How long a query waits for a free pooled connection before failing as unavailable.
    pub acquire_timeout_secs: u64,
    /// PostgreSQL `statement_timeout` for every pooled connection; 0 disables it.
    pub statement_timeout_ms: u64,
    /// PostgreSQL `idle_in_transaction_session_timeout`, so a stuck caller cannot hold locks
    /// forever; 0 disables it.
    pub idle_in_transaction_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: DatabaseUrl::default(),
            schema: String::new(),
            max_connections: 10,
            min_connections: 0,
            connect_timeout_secs: 5,
            acquire_timeout_secs: 5,
            statement_timeout_ms: 30_000,
            idle_in_transaction_timeout_ms: 60_000,
        }
    }
}

impl DatabaseSettings {
    /// Settings for the embedded mode: `schema` names the service and its SQLite file
    /// `data/<schema>.db`, relative to the working directory.
    pub fn embedded(schema: &str) -> Self {
        Self {
            url: DatabaseUrl::new(format!("sqlite://data/{schema}.db")),
            schema: schema.to_owned(),
            ..Self::default()
        }
    }

    /// Every problem of [`validate`](Self::validate), each named after the settings key `key` these
    /// settings are read from (`orders.database`), so a service lists them with its own.
    pub fn problems(&self, key: &str) -> Vec<String> {
        self.validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| format!("{key}: {problem}"))
            .collect()
    }

    /// Checks the settings before anything connects.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming its field, rather than only the first.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.url.expose().is_empty() {
            problems.push("database.url is required".to_owned());
        } else if self.url.backend().is_none() {
            problems.push("database.url must start with postgres:// or sqlite:".to_owned());
        }
        // The schema is spliced into DDL and `search_path`, where identifiers cannot be bound.
        if !identifier::is_valid(&self.schema) {
            problems.push(format!(
                "database.schema must match {} (lowercase letters, digits, underscores)",
                identifier::PATTERN
            ));
        }
        if self.max_connections == 0 {
            problems.push("database.max_connections must be positive".to_owned());
        }
        if self.min_connections > self.max_connections {
            problems.push("database.min_connections must not exceed max_connections".to_owned());
        }
        if self.connect_timeout_secs == 0 {
            problems.push("database.connect_timeout_secs must be positive".to_owned());
        }
        if self.acquire_timeout_secs == 0 {
            problems.push("database.acquire_timeout_secs must be positive".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// The database engines Tenure runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL: production and most tests; one schema per service, row-level security.
    Postgres,
    /// SQLite: the embedded default of `tenure up`; one file per service, no row-level security.
    Sqlite,
}

/// A database URL that may embed a password.
///
/// `Debug` and `Display` replace the password (in the user-info part or a `password` query parameter)
/// with `[redacted]`; only [`DatabaseUrl::expose`] returns the real text. Serialization is transparent
/// so that configuration layering round-trips, which means a serialized settings value holds the
/// password: redact before logging or hashing such a value.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

const REDACTED: &str = "[redacted]";

/// The pieces of `scheme://[user[:password]@]host[/path][?query]`, borrowed from the URL text.
struct UrlParts<'a> {
    /// `postgres://`, `sqlite://` or `sqlite:`.
    scheme: &'a str,
    user: Option<&'a str>,
    password: Option<&'a str>,
    /// Host, port and (for SQLite) the file path, up to the query.
    location: &'a str,
    query: Option<&'a str>,
}

impl DatabaseUrl {
    /// Wraps a URL; nothing is checked until [`DatabaseSettings::validate`].
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL with its password, for handing to the driver. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The engine named by the scheme, or `None` for anything but `postgres://`, `postgresql://`
    /// and `sqlite:`.
    pub fn backend(&self) -> Option<Backend> {
        let url = self.0.as_str();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }

    /// The same server with another database name (the URL path), keeping credentials and query.
    /// Meant for PostgreSQL URLs; `database` must be a plain identifier.
    pub fn with_database(&self, database: &str) -> Self {
        let parts = self.parts();
        let host = parts
            .location
            .split_once('/')
            .map_or(parts.location, |(host, _)| host);
        let mut location = String::with_capacity(host.len() + database.len() + 1);
        location.push_str(host);
        location.push('/');
        location.push_str(database);
        Self(parts.assemble(parts.user, parts.password, &location, parts.query))
    }

    /// The same URL logged in as another role; `user` and `password` are percent-encoded here.
    pub fn with_credentials(&self, user: &str, password: &str) -> Self {
        let parts = self.parts();
        let user = percent_encode(user);
        let password = percent_encode(password);
        Self(parts.assemble(Some(&user), Some(&password), parts.location, parts.query))
    }

    /// The URL as `Display` shows it: the password replaced by `[redacted]`.
    fn redacted(&self) -> String {
        let parts = self.parts();
        let password = parts.password.map(|_| REDACTED);
        let query = parts.query.map(redact_query);
        parts.assemble(parts.user, password, parts.location, query.as_deref())
    }

    fn parts(&self) -> UrlParts<'_> {
        let url = self.0.as_str();
        let (scheme, rest) = match url.find("://") {
            Some(index) => url.split_at(index + 3),
            None => match url.find(':') {
                Some(index) => url.split_at(index + 1),
                None => ("", url),
            },
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((before, query)) => (before, Some(query)),
            None => (rest, None),
        };
        // The user-info ends at the last '@': a password should percent-encode '@' and '/', but a
        // careless one must still not leak, so the search does not stop at the first '/'.
        let (user, password, location) = match before_query.rfind('@') {
            Some(at) => {
                let user_info = &before_query[..at];
                let (user, password) = match user_info.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (user_info, None),
                };
                (Some(user), password, &before_query[at + 1..])
            }
            None => (None, None, before_query),
        };
        UrlParts {
            scheme,
            user,
            password,
            location,
            query,
        }
    }
}

impl UrlParts<'_> {
    fn assemble(
        &self,
        user: Option<&str>,
        password: Option<&str>,
        location: &str,
        query: Option<&str>,
    ) -> String {
        let mut text = String::from(self.scheme);
        if let Some(user) = user {
            text.push_str(user);
            if let Some(password) = password {
                text.push(':');
                text.push_str(password);
            }
            text.push('@');
        }
        text.push_str(location);
        if let Some(query) = query {
            text.push('?');
            text.push_str(query);
        }
        text
    }
}

fn redact_query(query: &str) -> String {
    let mut redacted = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                redacted.push(format!("{name}={REDACTED}"));
            }
            _ => redacted.push(pair.to_owned()),
        }
    }
    redacted.join("&")
}

fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}
