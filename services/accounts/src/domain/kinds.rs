//! Small closed vocabularies stored as text: each value has one stored name, and a stored name that
//! matches none is a broken invariant, never a default.

tenure_domain::stored_enums! {
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
