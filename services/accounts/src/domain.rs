//! The service's decisions, free of transport and storage: validating newtypes, the account lifecycle
//! state machine, the termination checks, the purge policy of each table and the error vocabulary.
//! Nothing here names tonic, prost or sea-orm; shared value types come from `tenure-domain`.

mod access;
mod data_class;
mod error;
mod kinds;
mod lifecycle;
mod termination;
mod values;

pub(crate) use access::{Access, Audit, is_audited, role_name};
pub(crate) use data_class::{
    DataClass, PurgeAction, PurgeScope, ResponseSubject, TABLES, TableClass, account_subject,
    action_for, columns,
};
pub(crate) use error::{AccountsError, Rejection};
pub(crate) use kinds::{
    AccountRole, Acknowledgement, JoinedMethod, Relationship, ResaleModel, ReservationKind,
    RootAccess, Sector, SubscriptionStatus, TenantStatus, TerminationMode, UserRole,
};
pub(crate) use lifecycle::{
    AccountState, LifecycleEvent, check_reopen, check_transition, reopen_until,
};
pub(crate) use termination::{TerminationFacts, assess_termination, required_acknowledgements};
pub(crate) use values::{
    AccountName, CostRecord, DisplayName, FreeText, IdpSubject, LoginEmail, MarketplaceRef,
    OrganizationId, PageRequest, ParentId, RootEmail, Tag, Ticket, check_instant, field_problem,
    parse_id, parse_tags, required,
};
