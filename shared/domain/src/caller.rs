use uuid::Uuid;

/// The role a caller acts in, as the domain sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerRole {
    /// A marketplace user acting for exactly one tenant.
    Customer,
    /// Operations staff: any tenant, always audited.
    Operator,
    /// An internal billing system: reads every tenant.
    Billing,
    /// Another Tenure service, acting for the tenant named in its call.
    Service,
}

/// The authenticated caller of a use case: who, in which role, for which tenant.
///
/// The tenant always comes from the verified token (customers) or the trusted service metadata (services),
/// never from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token subject (an opaque user id, an operator id, or `svc:<service>`).
    pub subject: String,
    /// The role.
    pub role: CallerRole,
    /// The tenant the call acts for; `None` for operators and billing, which have no ambient tenant.
    pub tenant: Option<Uuid>,
    /// Extra permissions granted by the token, e.g. `legal_hold`.
    pub permissions: Vec<String>,
}

impl Caller {
    /// True when the caller holds `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|held| held == permission)
    }

    /// True for roles that may act on any tenant (operators and billing).
    pub fn is_cross_tenant(&self) -> bool {
        matches!(self.role, CallerRole::Operator | CallerRole::Billing)
    }
}
