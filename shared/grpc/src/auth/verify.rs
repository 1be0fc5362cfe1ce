//! Checking a bearer token: the trusted issuers and their keys, the claims a token must carry, and
//! why a token is refused.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Principal, Role};

/// The signature algorithms Tenure accepts, one per issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenAlgorithm {
    /// RSA with SHA-256, the usual choice of marketplace identity providers.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519, used for Tenure's own service and development tokens.
    EdDSA,
}

impl TokenAlgorithm {
    pub(super) fn jwt(self) -> Algorithm {
        match self {
            TokenAlgorithm::RS256 => Algorithm::RS256,
            TokenAlgorithm::ES256 => Algorithm::ES256,
            TokenAlgorithm::EdDSA => Algorithm::EdDSA,
        }
    }

    fn decoding_key(self, pem: &[u8]) -> jsonwebtoken::errors::Result<DecodingKey> {
        match self {
            TokenAlgorithm::RS256 => DecodingKey::from_rsa_pem(pem),
            TokenAlgorithm::ES256 => DecodingKey::from_ec_pem(pem),
            TokenAlgorithm::EdDSA => DecodingKey::from_ed_pem(pem),
        }
    }
}

/// Authentication settings: the issuers whose tokens are trusted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Trusted issuers. Key ids must be unique across all of them.
    pub issuers: Vec<IssuerSettings>,
    /// Clock skew tolerated on `exp` and `nbf`, set explicitly because the crate default has changed
    /// between releases.
    pub leeway_secs: u64,
}

/// One trusted token issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The exact `iss` value.
    pub issuer: String,
    /// The one algorithm this issuer signs with; any other `alg` header is refused before key lookup.
    pub algorithm: TokenAlgorithm,
    /// Its public keys, selected by the token's `kid`.
    pub keys: Vec<VerificationKey>,
    /// The longest accepted `exp - iat`.
    pub max_lifetime_secs: u64,
    /// The roles this issuer may assert; a token claiming another role is refused.
    pub roles: Vec<Role>,
}

/// A public key of an issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationKey {
    /// The key id tokens name in their `kid` header.
    pub kid: String,
    /// The public key in PEM (SubjectPublicKeyInfo).
    pub public_key_pem: String,
}

/// The claims of a Tenure token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audiences: the services the token is meant for.
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issue time, seconds since the epoch.
    pub iat: u64,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The one role of the principal.
    pub role: Role,
    /// Customers: their tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Extra permissions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
}

/// Why a token was refused. Only ever logged and counted, never returned to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No `authorization` metadata.
    #[error("no bearer token")]
    Missing,
    /// Not `Bearer <three base64url segments>`.
    #[error("malformed token")]
    Malformed,
    /// The `kid` names no configured key.
    #[error("unknown key id")]
    UnknownKey,
    /// The header's `alg` differs from the issuer's pinned algorithm.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Expired, or not yet valid.
    #[error("token expired or not yet valid")]
    Expired,
    /// The audience does not name this service.
    #[error("wrong audience")]
    WrongAudience,
    /// The issuer does not match the key's issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// A required claim is missing or has the wrong shape.
    #[error("missing or malformed claims")]
    BadClaims,
    /// `exp - iat` exceeds the issuer's maximum.
    #[error("token lifetime too long")]
    LifetimeTooLong,
    /// The issuer may not assert this role, or the role's claims are inconsistent.
    #[error("role not allowed")]
    RoleNotAllowed,
}

impl AuthFailure {
    /// Every failure, so that each reason's counter exists at 0 before the first refusal.
    pub const ALL: [AuthFailure; 11] = [
        AuthFailure::Missing,
        AuthFailure::Malformed,
        AuthFailure::UnknownKey,
        AuthFailure::AlgorithmNotAllowed,
        AuthFailure::BadSignature,
        AuthFailure::Expired,
        AuthFailure::WrongAudience,
        AuthFailure::WrongIssuer,
        AuthFailure::BadClaims,
        AuthFailure::LifetimeTooLong,
        AuthFailure::RoleNotAllowed,
    ];

    /// The `reason` label of `auth_failures_total`.
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::AlgorithmNotAllowed => "algorithm",
            AuthFailure::BadSignature => "signature",
            AuthFailure::Expired => "expired",
            AuthFailure::WrongAudience => "audience",
            AuthFailure::WrongIssuer => "issuer",
            AuthFailure::BadClaims => "claims",
            AuthFailure::LifetimeTooLong => "lifetime",
            AuthFailure::RoleNotAllowed => "role",
        }
    }
}

struct TrustedKey {
    issuer: Arc<IssuerSettings>,
    key: DecodingKey,
}

/// Verifies bearer tokens against the configured issuers.
pub struct TokenVerifier {
    keys: HashMap<String, TrustedKey>,
    leeway_secs: u64,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Builds a verifier; every configuration problem is reported at once.
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        let mut problems = Vec::new();
        for issuer in &settings.issuers {
            let issuer_arc = Arc::new(issuer.clone());
            if issuer.roles.is_empty() {
                problems.push(format!("issuer {:?} lists no roles", issuer.issuer));
            }
            if issuer.max_lifetime_secs == 0 {
                problems.push(format!("issuer {:?} has no max lifetime", issuer.issuer));
            }
            for key in &issuer.keys {
                match issuer.algorithm.decoding_key(key.public_key_pem.as_bytes()) {
                    Ok(decoding) => {
                        let trusted = TrustedKey {
                            issuer: Arc::clone(&issuer_arc),
                            key: decoding,
                        };
                        if keys.insert(key.kid.clone(), trusted).is_some() {
                            problems.push(format!("key id {:?} is configured twice", key.kid));
                        }
                    }
                    Err(error) => problems.push(format!(
                        "key {:?} of issuer {:?} is not a valid {:?} public key: {error}",
                        key.kid, issuer.issuer, issuer.algorithm
                    )),
                }
            }
        }
        if !problems.is_empty() {
            anyhow::bail!("invalid auth settings: {}", problems.join("; "));
        }
        Ok(Self {
            keys,
            leeway_secs: settings.leeway_secs,
        })
    }

    /// Verifies a raw token for a service audience and returns the principal it proves.
    ///
    /// The service-role tenant is not in the token; the auth layer adds it from the metadata.
    pub fn verify(&self, token: &str, audience: &str) -> Result<Principal, AuthFailure> {
        if token.split('.').count() != 3 {
            return Err(AuthFailure::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::Malformed)?;
        let kid = header.kid.as_deref().ok_or(AuthFailure::UnknownKey)?;
        let trusted = self.keys.get(kid).ok_or(AuthFailure::UnknownKey)?;
        let issuer = &trusted.issuer;
        let algorithm = issuer.algorithm.jwt();
        // The validator is built with exactly one algorithm, so `none`, HS256-with-a-public-key and every
        // other confusion fails here, before any signature work.
        if header.alg != algorithm {
            return Err(AuthFailure::AlgorithmNotAllowed);
        }
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer.issuer.as_str()]);
        validation.set_audience(&[audience]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_secs;
        let data = jsonwebtoken::decode::<Claims>(token, &trusted.key, &validation)
            .map_err(|error| classify(&error))?;
        let claims = data.claims;
        if claims.exp.saturating_sub(claims.iat) > issuer.max_lifetime_secs {
            return Err(AuthFailure::LifetimeTooLong);
        }
        if !issuer.roles.contains(&claims.role) {
            return Err(AuthFailure::RoleNotAllowed);
        }
        let tenant_id = match (claims.role, claims.tenant_id.as_deref()) {
            (Role::Customer, Some(raw)) => {
                Some(Uuid::parse_str(raw).map_err(|_| AuthFailure::BadClaims)?)
            }
            (Role::Customer, None) => return Err(AuthFailure::BadClaims),
            // Only customers carry a tenant in the token; anyone else naming one is misconfigured.
            (_, Some(_)) => return Err(AuthFailure::RoleNotAllowed),
            (_, None) => None,
        };
        if claims.role == Role::Service && !claims.sub.starts_with("svc:") {
            return Err(AuthFailure::RoleNotAllowed);
        }
        Ok(Principal {
            subject: claims.sub,
            role: claims.role,
            tenant_id,
            permissions: claims.permissions,
        })
    }
}

fn classify(error: &jsonwebtoken::errors::Error) -> AuthFailure {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => AuthFailure::BadSignature,
        ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => AuthFailure::Expired,
        ErrorKind::InvalidAudience => AuthFailure::WrongAudience,
        ErrorKind::InvalidIssuer => AuthFailure::WrongIssuer,
        ErrorKind::InvalidAlgorithm => AuthFailure::AlgorithmNotAllowed,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => AuthFailure::BadClaims,
        _ => AuthFailure::Malformed,
    }
}
