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
    /// The closing precautions of domain.md §3.4, named as the API names them: customers read one
    /// vocabulary in the contract, in refusals and in the command line.
    Acknowledgement {
        RootUser => "ACKNOWLEDGEMENT_ROOT_USER",
        NoMembers => "ACKNOWLEDGEMENT_NO_MEMBERS",
        Backup => "ACKNOWLEDGEMENT_BACKUP",
        OutstandingBill => "ACKNOWLEDGEMENT_OUTSTANDING_BILL",
        Commitments => "ACKNOWLEDGEMENT_COMMITMENTS",
        Resources => "ACKNOWLEDGEMENT_RESOURCES",
        EmailNotReusable => "ACKNOWLEDGEMENT_EMAIL_NOT_REUSABLE",
        ReopenWindow => "ACKNOWLEDGEMENT_REOPEN_WINDOW",
        Standalone => "ACKNOWLEDGEMENT_STANDALONE",
    }
}

impl Acknowledgement {
    /// What the customer confirms with it (seed 001's closing precautions), as TNR007 explains it.
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Acknowledgement::RootUser => {
                "closing needs the account's root user, and AWS Support will not close it for you"
            }
            Acknowledgement::NoMembers => {
                "every member is closed or removed and the organization is deleted first"
            }
            Acknowledgement::Backup => "you backed up the data you want to keep",
            Acknowledgement::OutstandingBill => {
                "usage up to the closure or unlink is still invoiced, and open bills must be settled"
            }
            Acknowledgement::Commitments => {
                "Reserved Instances and Savings Plans keep charging until their term ends"
            }
            Acknowledgement::Resources => {
                "closing may not stop every resource in every region, and reopening restarts charges"
            }
            Acknowledgement::EmailNotReusable => {
                "the root email cannot be used for a new AWS account"
            }
            Acknowledgement::ReopenWindow => {
                "the account can be reopened through AWS Support for 90 days, and never after"
            }
            Acknowledgement::Standalone => {
                "the account becomes standalone and needs its own payment method, verified phone and accepted terms"
            }
        }
    }
}

impl SubscriptionStatus {
    /// A terminated subscription never changes again; any other status may move to any status.
    pub(crate) fn may_change(self) -> bool {
        self != SubscriptionStatus::Terminated
    }
}

impl JoinedMethod {
    /// How a transferred account joins, read from its relationship: a billing transfer's management
    /// account joins by the transfer, a handed-over management account (ECAM/SPAM with
    /// Organizations) is handed over, and a linked account accepts an invitation.
    pub(crate) fn of_transfer(relationship: Relationship) -> Self {
        match relationship {
            Relationship::BillingTransferSource => JoinedMethod::BillingTransfer,
            Relationship::PlatformPayer => JoinedMethod::HandedOver,
            Relationship::PlatformMember => JoinedMethod::Invited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_joins_the_way_its_relationship_says() {
        assert_eq!(
            JoinedMethod::of_transfer(Relationship::BillingTransferSource),
            JoinedMethod::BillingTransfer
        );
        assert_eq!(
            JoinedMethod::of_transfer(Relationship::PlatformPayer),
            JoinedMethod::HandedOver
        );
        assert_eq!(
            JoinedMethod::of_transfer(Relationship::PlatformMember),
            JoinedMethod::Invited
        );
    }
}
