//! How the `aws` backend reaches AWS: region, endpoint override, which credentials act for an account,
//! and the SDK's retry budget.

use serde::{Deserialize, Serialize};

/// Settings of the `aws` backend. Credentials are not here: they come from the standard AWS chain
/// (environment, profile, web identity, IMDS), so no secret ever sits in Tenure's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsSettings {
    /// The region of the clients. Organizations is served from us-east-1 in the commercial partition.
    pub region: String,
    /// An endpoint override for emulators such as moto_server, e.g. `http://127.0.0.1:5000`.
    pub endpoint_url: Option<String>,
    /// The role to assume in the acting account, e.g. `OrganizationAccountAccessRole`. `None` runs every
    /// call with the ambient credentials as they are.
    pub role_name: Option<String>,
    /// Send moto's `x-moto-account-id: <acting>` header instead of assuming a role, so that an emulator
    /// acts as the account the call names.
    pub emulator_account_header: bool,
    /// Attempts per call, the first included (the SDK's standard retry; 1 disables retries).
    pub max_attempts: u32,
    /// The base of the SDK's jittered exponential backoff between attempts.
    pub initial_backoff_ms: u64,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            endpoint_url: None,
            role_name: None,
            emulator_account_header: false,
            max_attempts: 3,
            initial_backoff_ms: 1_000,
        }
    }
}

/// The SDK refuses more; more would also hold an operation for minutes on one call.
const MAX_ATTEMPTS: u32 = 10;
/// Beyond this, backoff stops being a retry and becomes a deferral, which is the engine's job.
const MAX_INITIAL_BACKOFF_MS: u64 = 60_000;

impl AwsSettings {
    /// Every problem with these settings, each as a sentence naming the field; empty when valid.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_region(&self.region) {
            problems.push(format!(
                "aws.region {:?} is not a region name such as us-east-1",
                self.region
            ));
        }
        if let Some(url) = &self.endpoint_url
            && !is_endpoint_url(url)
        {
            problems.push(format!(
                "aws.endpoint_url {url:?} must be an http:// or https:// URL with a host"
            ));
        }
        if let Some(role) = &self.role_name
            && !is_role_name(role)
        {
            problems.push(format!(
                "aws.role_name {role:?} must be 1 to 64 characters of letters, digits and +=,.@_- \
                 (an IAM role name), not a service-linked role"
            ));
        }
        if self.emulator_account_header && self.role_name.is_some() {
            problems.push(
                "aws.emulator_account_header and aws.role_name exclude each other: an emulator acts \
                 for an account through the header, AWS through the role"
                    .to_owned(),
            );
        }
        if self.emulator_account_header && self.endpoint_url.is_none() {
            problems.push(
                "aws.emulator_account_header needs aws.endpoint_url: real AWS ignores the header, so \
                 every call would act as the ambient account"
                    .to_owned(),
            );
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            problems.push(format!(
                "aws.max_attempts must be between 1 and {MAX_ATTEMPTS}, not {}",
                self.max_attempts
            ));
        }
        if self.initial_backoff_ms > MAX_INITIAL_BACKOFF_MS {
            problems.push(format!(
                "aws.initial_backoff_ms must be at most {MAX_INITIAL_BACKOFF_MS}, not {}",
                self.initial_backoff_ms
            ));
        }
        problems
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: lower-case words and digits joined by dashes.
fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region.contains('-')
        && region.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn is_endpoint_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty()
            && !url
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    })
}

/// domain.md §7: `[\w+=,.@-]{1,64}`, not a service-linked role.
fn is_role_name(role: &str) -> bool {
    (1..=64).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
        && !role.starts_with("AWSServiceRoleFor")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(AwsSettings::default().problems(), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let settings = AwsSettings {
            region: "US East".to_owned(),
            endpoint_url: Some("ftp://moto".to_owned()),
            role_name: Some("AWSServiceRoleForOrganizations".to_owned()),
            emulator_account_header: true,
            max_attempts: 0,
            initial_backoff_ms: 3_600_000,
        };
        let problems = settings.problems();
        assert_eq!(problems.len(), 6, "{problems:#?}");
        for field in [
            "aws.region",
            "aws.endpoint_url",
            "aws.role_name",
            "aws.emulator_account_header",
            "aws.max_attempts",
            "aws.initial_backoff_ms",
        ] {
            assert!(
                problems.iter().any(|problem| problem.starts_with(field)),
                "{field}: {problems:#?}"
            );
        }
    }

    #[test]
    fn emulator_settings_are_valid() {
        let settings = AwsSettings {
            endpoint_url: Some("http://127.0.0.1:5000".to_owned()),
            emulator_account_header: true,
            max_attempts: 2,
            initial_backoff_ms: 1,
            ..AwsSettings::default()
        };
        assert_eq!(settings.problems(), Vec::<String>::new());
        let header_without_endpoint = AwsSettings {
            emulator_account_header: true,
            ..AwsSettings::default()
        };
        assert_eq!(header_without_endpoint.problems().len(), 1);
    }

    #[test]
    fn role_names_follow_iam() {
        assert!(is_role_name("OrganizationAccountAccessRole"));
        assert!(is_role_name("tenure+ops=1,a.b@c_d-e"));
        assert!(!is_role_name(""));
        assert!(!is_role_name("role with space"));
        assert!(!is_role_name(&"r".repeat(65)));
    }

    #[test]
    fn unknown_fields_are_refused_and_missing_ones_defaulted() {
        let parsed: AwsSettings =
            serde_json::from_str(r#"{"region":"eu-west-1"}"#).expect("a partial table parses");
        assert_eq!(parsed.region, "eu-west-1");
        assert_eq!(parsed.max_attempts, AwsSettings::default().max_attempts);
        assert!(serde_json::from_str::<AwsSettings>(r#"{"regoin":"eu-west-1"}"#).is_err());
    }
}
