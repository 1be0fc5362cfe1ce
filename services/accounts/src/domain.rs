//! The service's decisions, free of transport and storage: validating newtypes, the account lifecycle
//! state machine, the termination checks, the purge policy of each table and the error vocabulary.
//! Nothing here names tonic, prost or sea-orm; shared value types come from `tenure-domain`.

mod access;
mod account;
mod balance;
mod data_class;
mod error;
mod kinds;
mod lifecycle;
mod offboarding;
mod removal;
mod tenancy;
mod termination;
mod values;

pub(crate) use access::{Access, Audit, check_platform_membership_manager, is_audited, role_name};
pub(crate) use account::{
    AccountDetails, AccountFilter, AccountRecord, SubscriptionFilter, SubscriptionRecord,
    Transition,
};
pub(crate) use balance::{Money, OpenBalance, check_reported_at};
pub(crate) use data_class::{
    DataClass, PurgeAction, PurgeScope, ResponseSubject, TABLES, TableClass, account_subject,
    columns,
};
pub(crate) use error::{AccountsError, Rejection};
pub(crate) use kinds::{
    AccountRole, Acknowledgement, JoinedMethod, Relationship, ResaleModel, ReservationKind,
    RootAccess, Sector, SubscriptionStatus, TenantStatus, TerminationMode, UserRole,
};
pub(crate) use lifecycle::{
    AccountState, LifecycleEvent, check_reopen, check_transition, reopen_until,
};
pub(crate) use offboarding::{BillingFacts, Outcome, settle};
pub(crate) use removal::{
    RemovalPurge, already_managed, check_removal, check_restore, held_elsewhere, purge_pending,
    removed_not_transferred, restore_conflict, restore_window_ended, root_email_taken,
};
pub(crate) use tenancy::{NewUser, TenantRecord, UserRecord};
pub(crate) use termination::{
    Confirmations, TerminationFacts, assess_termination, required_acknowledgements,
};
pub(crate) use values::{
    AccountName, CostRecord, DisplayName, FreeText, IdpSubject, LoginEmail, MarketplaceRef,
    OrganizationId, PageRequest, ParentId, RootEmail, Tag, Ticket, check_instant, field_problem,
    parse_id, parse_tags, required, unsupported,
};
