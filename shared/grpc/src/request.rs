//! The checks every handler runs on a request before its use case: all problems reported at once,
//! the idempotency key checked with the other fields, and a typed value taken out of a passed check.
//!
//! Each service has its own error enum, and `?` cannot pick a generic error type, so the checks are
//! stamped into each service's `api` for its enum by [`request_checks!`] rather than written again.

/// Defines `finish`, `finish_keyed`, `key_of`, `checked` and `at` for `$error`, which must have an
/// `Invalid(Vec<FieldProblem>)` variant and an `internal(&str)` constructor.
#[macro_export]
macro_rules! request_checks {
    ($error:ty) => {
        /// Collects the problems of a request and fails with all of them at once.
        pub(crate) fn finish<T>(
            problems: ::tenure_domain::Problems,
            value: impl FnOnce() -> T,
        ) -> Result<T, $error> {
            problems.finish(value).map_err(<$error>::Invalid)
        }

        /// Like [`finish`] for a mutating request, whose idempotency key is checked with the other
        /// fields so every problem is reported at once.
        pub(crate) fn finish_keyed(
            mut problems: ::tenure_domain::Problems,
            request: &impl ::tenure_proto::Keyed,
        ) -> Result<(), $error> {
            problems.check(
                "idempotency_key",
                ::tenure_domain::IdempotencyKey::parse(request.key()),
            );
            finish(problems, || ())
        }

        /// The idempotency key of a mutating request, refused under its field name.
        pub(crate) fn key_of(
            request: &impl ::tenure_proto::Keyed,
        ) -> Result<::tenure_domain::IdempotencyKey, $error> {
            ::tenure_domain::IdempotencyKey::parse(request.key())
                .map_err(|problem| <$error>::Invalid(vec![at("idempotency_key", problem)]))
        }

        /// A required value that a failed check already reported; reaching `None` here is a logic
        /// error.
        pub(crate) fn checked<T>(value: Option<T>) -> Result<T, $error> {
            value.ok_or_else(|| <$error>::internal("a validated field is missing"))
        }

        /// Names a problem after its field.
        pub(crate) fn at(
            field: impl Into<String>,
            mut problem: ::tenure_domain::FieldProblem,
        ) -> ::tenure_domain::FieldProblem {
            problem.field = field.into();
            problem
        }
    };
}
