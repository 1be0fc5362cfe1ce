use futures::future::BoxFuture;

/// A condition a listener must meet before it reports SERVING (quality.md §5.8): the database is
/// reachable, migrations are current, a relay's heartbeat is fresh, and so on.
pub trait ReadinessProbe: Send + Sync + 'static {
    /// A short name for logs, e.g. `database`.
    fn name(&self) -> &'static str;

    /// `Ok` when ready; otherwise why not, in a few words without personal data.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// A probe built from a closure, for checks that live in another crate (such as the database check of
/// `tenure-db`), so the kit needs no dependency on them.
pub struct FnProbe<F> {
    name: &'static str,
    check: F,
}

impl<F> FnProbe<F>
where
    F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
{
    /// A probe named `name` that runs `check`.
    pub fn new(name: &'static str, check: F) -> Self {
        Self { name, check }
    }
}

impl<F> ReadinessProbe for FnProbe<F>
where
    F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        (self.check)()
    }
}
