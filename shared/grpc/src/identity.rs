use std::fmt;

/// The four Tenure services: their names, token audiences and default ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKind {
    /// Orders and sagas.
    Orders,
    /// The registry of tenants and AWS accounts.
    Accounts,
    /// The only door to AWS.
    Provisioning,
    /// Scheduled, provable deletion.
    DataPurge,
}

impl ServiceKind {
    /// Every service, in port order.
    pub const ALL: [ServiceKind; 4] = [
        ServiceKind::Orders,
        ServiceKind::Accounts,
        ServiceKind::Provisioning,
        ServiceKind::DataPurge,
    ];

    /// The name used on the command line, in configuration keys and in `svc:<name>` token subjects.
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Orders => "orders",
            ServiceKind::Accounts => "accounts",
            ServiceKind::Provisioning => "provisioning",
            ServiceKind::DataPurge => "data-purge",
        }
    }

    /// The configuration section of the service (`data-purge` is `data_purge` there, since `-` cannot
    /// appear in an environment variable name).
    pub fn config_key(self) -> &'static str {
        match self {
            ServiceKind::DataPurge => "data_purge",
            other => other.name(),
        }
    }

    /// The database schema the service owns.
    pub fn schema(self) -> &'static str {
        match self {
            ServiceKind::DataPurge => "purge",
            other => other.name(),
        }
    }

    /// The service's `service.name` in traces and logs, the same in every mode: `tenure-orders`.
    /// It is the audience by design, so a span, a log line and a token name a service alike.
    pub fn service_name(self) -> &'static str {
        self.audience()
    }

    /// The audience tokens for this service must carry.
    pub fn audience(self) -> &'static str {
        match self {
            ServiceKind::Orders => "tenure-orders",
            ServiceKind::Accounts => "tenure-accounts",
            ServiceKind::Provisioning => "tenure-provisioning",
            ServiceKind::DataPurge => "tenure-data-purge",
        }
    }

    /// The default gRPC port.
    pub fn default_port(self) -> u16 {
        match self {
            ServiceKind::Orders => 50051,
            ServiceKind::Accounts => 50052,
            ServiceKind::Provisioning => 50053,
            ServiceKind::DataPurge => 50054,
        }
    }

    /// The token subject of the service's own identity.
    pub fn subject(self) -> String {
        format!("svc:{}", self.name())
    }

    /// Finds a service by its command-line name.
    pub fn from_name(name: &str) -> Option<ServiceKind> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
