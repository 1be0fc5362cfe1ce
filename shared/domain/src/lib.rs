//! Tenure's shared domain vocabulary, used by the `domain/` modules of every service.
//!
//! It holds what several services must agree on and would otherwise write twice: validated value types
//! (an AWS account id is validated the same way in orders, accounts, provisioning and data-purge), the
//! [`FieldProblem`] every validation reports, the authenticated [`Caller`] narrowed from a token, and the
//! injectable [`Clock`], and the per-caller rate limit arithmetic ([`rate`]) with the trait its storage
//! implements. It must never depend on tonic, prost, sea-orm or any other transport or storage
//! crate, so that domain code stays pure and unit-testable.

mod caller;
mod clock;
mod input;
mod problem;
pub mod purge;
pub mod rate;
mod stored;
mod values;

pub use caller::{Caller, CallerRole};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use input::{
    FreeText, PageRequest, Ticket, check_instant, field_problem, is_free_text_character, parse_id,
    required,
};
pub use problem::{FieldProblem, Problems};
pub use values::{AccountName, AwsAccountId, IdempotencyKey, RootEmail, has_email_shape};
