//! Small closed vocabularies stored as text: each value has one stored name, and a stored name that
//! matches none is a broken invariant, never a default.

/// Declares enums whose values are stored by name.
macro_rules! stored_enums {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident => $stored:literal),+ $(,)? })+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum $name { $($variant),+ }

        impl $name {
            /// Every value.
            #[allow(dead_code, reason = "not every vocabulary is enumerated")]
            pub(crate) const ALL: &[$name] = &[$($name::$variant),+];

            /// The stored name.
            pub(crate) fn as_str(self) -> &'static str {
                match self { $($name::$variant => $stored),+ }
            }

            /// Reads a stored name back.
            #[allow(dead_code, reason = "request-only vocabularies are never read back")]
            pub(crate) fn parse(stored: &str) -> Option<Self> {
                match stored { $($stored => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

stored_enums! {
    /// The market segment of a tenant.
    Sector { Commercial => "commercial", Public => "public" }
    /// How the platform resells AWS to a tenant.
    ResaleModel { Ecam => "ecam", Spam => "spam", BillingTransfer => "billing_transfer" }
    /// The marketplace status of a tenant.
    TenantStatus { Active => "active", Unsubscribed => "unsubscribed" }
    /// A user's rights inside its tenant.
    UserRole { Admin => "admin", Member => "member" }
    /// The position of an account in its organization.
    AccountRole { Management => "management", Member => "member" }
    /// How an account relates to the platform.
    Relationship {
        PlatformMember => "platform_member",
        PlatformPayer => "platform_payer",
        BillingTransferSource => "billing_transfer_source",
    }
    /// How the account came under the platform.
    JoinedMethod {
        Created => "created",
        Invited => "invited",
        BillingTransfer => "billing_transfer",
        HandedOver => "handed_over",
    }
    /// Who holds the account's root user.
    RootAccess { Customer => "customer", Platform => "platform" }
    /// The status of a subscription.
    SubscriptionStatus { Active => "active", Suspended => "suspended", Terminated => "terminated" }
    /// How a termination ends the relationship.
    TerminationMode { Close => "close", Unlink => "unlink" }
    /// What a reservation is for.
    ReservationKind { NewAccount => "new_account", Transfer => "transfer" }
    /// The closing precautions of domain.md §3.4.
    Acknowledgement {
        RootUser => "ACK_ROOT_USER",
        NoMembers => "ACK_NO_MEMBERS",
        Backup => "ACK_BACKUP",
        OutstandingBill => "ACK_OUTSTANDING_BILL",
        Commitments => "ACK_COMMITMENTS",
        Resources => "ACK_RESOURCES",
        EmailNotReusable => "ACK_EMAIL_NOT_REUSABLE",
        ReopenWindow => "ACK_REOPEN_WINDOW",
        Standalone => "ACK_STANDALONE",
    }
}

impl SubscriptionStatus {
    /// A terminated subscription never changes again; any other status may move to any status.
    pub(crate) fn may_change(self) -> bool {
        self != SubscriptionStatus::Terminated
    }
}
