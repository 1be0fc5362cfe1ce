//! Development and test credentials: one Ed25519 key signs both user tokens (customer, operator,
//! billing) and service tokens, under two issuers. `tenure up` keeps the key in its data directory, so
//! `tenure token` can mint tokens for a running stack, and split processes sharing that file (the
//! docker-compose stack) trust each other. Production configures real issuers and one key per service.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::auth::{
    AuthSettings, Ed25519KeyPair, IssuerSettings, Role, ServiceTokenMinter, TokenAlgorithm,
    TokenGrant, TokenSigner, VerificationKey, unix_now,
};
use crate::identity::ServiceKind;

/// The issuer of development user tokens.
pub const DEV_ISSUER: &str = "tenure-dev";
/// The issuer of service tokens.
pub const SERVICE_ISSUER: &str = "tenure";
/// The key id of development user tokens.
const DEV_USER_KEY_ID: &str = "tenure-dev-user";
/// The key id of development service tokens; distinct from the user key id so that each key id maps to
/// exactly one issuer and its role list.
const DEV_SERVICE_KEY_ID: &str = "tenure-dev-service";
/// Longest development user token; longer than production's hour so a demo session does not expire.
pub const DEV_TOKEN_MAX_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Lifetime of service tokens (quality.md §1.1).
pub const SERVICE_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// The development key and the tokens and verifier settings derived from it.
#[derive(Debug, Clone)]
pub struct DevAuthority {
    keys: Ed25519KeyPair,
}

impl DevAuthority {
    /// A fresh key (tests, or a first `tenure up`).
    pub fn generate() -> anyhow::Result<Self> {
        Ok(Self::with_key(Ed25519KeyPair::generate()?))
    }

    /// A persisted key.
    pub fn with_key(keys: Ed25519KeyPair) -> Self {
        Self { keys }
    }

    /// The key pair (persist its private half only where `tenure token` must read it).
    pub fn keys(&self) -> &Ed25519KeyPair {
        &self.keys
    }

    /// Verifier settings trusting the development key for user tokens and for service tokens.
    pub fn auth_settings(&self) -> AuthSettings {
        let key = |kid: &str| VerificationKey {
            kid: kid.to_owned(),
            public_key_pem: self.keys.public_pem().to_owned(),
        };
        AuthSettings {
            issuers: vec![
                IssuerSettings {
                    issuer: DEV_ISSUER.to_owned(),
                    algorithm: TokenAlgorithm::EdDSA,
                    keys: vec![key(DEV_USER_KEY_ID)],
                    max_lifetime_secs: DEV_TOKEN_MAX_LIFETIME.as_secs(),
                    roles: vec![Role::Customer, Role::Operator, Role::Billing],
                },
                IssuerSettings {
                    issuer: SERVICE_ISSUER.to_owned(),
                    algorithm: TokenAlgorithm::EdDSA,
                    keys: vec![key(DEV_SERVICE_KEY_ID)],
                    max_lifetime_secs: SERVICE_TOKEN_LIFETIME.as_secs(),
                    roles: vec![Role::Service],
                },
            ],
            leeway_secs: 30,
        }
    }

    /// A user token for every service's audience.
    pub fn user_token(
        &self,
        role: Role,
        subject: &str,
        tenant_id: Option<Uuid>,
        permissions: &[&str],
        lifetime: Duration,
    ) -> anyhow::Result<String> {
        let signer = TokenSigner::ed25519(DEV_ISSUER, DEV_USER_KEY_ID, &self.keys)?;
        let audiences: Vec<&str> = ServiceKind::ALL
            .iter()
            .map(|kind| kind.audience())
            .collect();
        signer.sign(&TokenGrant {
            subject,
            role,
            audiences: &audiences,
            tenant_id,
            permissions,
            issued_at: unix_now(),
            lifetime: lifetime.min(DEV_TOKEN_MAX_LIFETIME),
        })
    }

    /// The minter `kind` uses for calls to its peers.
    pub fn service_minter(&self, kind: ServiceKind) -> anyhow::Result<Arc<ServiceTokenMinter>> {
        let signer = TokenSigner::ed25519(SERVICE_ISSUER, DEV_SERVICE_KEY_ID, &self.keys)?;
        Ok(Arc::new(ServiceTokenMinter::new(
            signer,
            kind.subject(),
            SERVICE_TOKEN_LIFETIME,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenVerifier;

    #[test]
    fn dev_tokens_and_service_tokens_verify() {
        let authority = DevAuthority::generate().expect("keys");
        let verifier = TokenVerifier::new(&authority.auth_settings()).expect("verifier");
        let tenant = Uuid::new_v4();
        let token = authority
            .user_token(
                Role::Customer,
                "user-1",
                Some(tenant),
                &[],
                Duration::from_secs(600),
            )
            .expect("token");
        for kind in ServiceKind::ALL {
            let principal = verifier.verify(&token, kind.audience()).expect("valid");
            assert_eq!(principal.tenant_id, Some(tenant));
        }
        let minter = authority
            .service_minter(ServiceKind::Orders)
            .expect("minter");
        let service_token = minter.token_for("tenure-accounts").expect("token");
        let principal = verifier
            .verify(&service_token, "tenure-accounts")
            .expect("valid");
        assert_eq!(principal.service_name(), Some("orders"));
        assert!(
            verifier
                .verify(&service_token, "tenure-provisioning")
                .is_err()
        );
    }
}
