use std::fmt;

/// One reason why an input field was refused.
///
/// `field` is the proto path (`new_account.root_email`, `linked_account_ids[3]`), `reason` a stable
/// SCREAMING_SNAKE code, and `description` fixed text that never echoes the value, so personal data
/// is not reflected into responses or logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// Proto path of the field.
    pub field: String,
    /// Stable machine code, e.g. `AWS_ACCOUNT_ID_FORMAT`.
    pub reason: &'static str,
    /// Fixed human text, e.g. "an AWS account id is exactly 12 digits".
    pub description: &'static str,
    /// The catalogue code the problem maps to (`TNR001` ...), when it has one.
    pub catalogue_code: Option<&'static str>,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// Collects every problem of a request, so a caller learns all of them at once rather than one per try.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<FieldProblem>);

impl Problems {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem.
    pub fn push(&mut self, problem: FieldProblem) {
        self.0.push(problem);
    }

    /// Runs a validation and keeps its value, or records its problem under `field` and yields `None`.
    pub fn check<T>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, FieldProblem>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(mut problem) => {
                problem.field = field.into();
                self.0.push(problem);
                None
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else every problem.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldProblem>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }

    /// The recorded problems.
    pub fn into_vec(self) -> Vec<FieldProblem> {
        self.0
    }
}
