//! Authentication: JWT bearer tokens checked against configured issuers (quality.md §1.1), and the
//! tower layer that attaches exactly one [`Principal`] to every call or refuses it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tenure_domain::{Caller, CallerRole};
use tonic::Status;
use uuid::Uuid;

use crate::TENANT_METADATA_KEY;
use crate::guard::Guard;

/// The role of an authenticated principal. A token carries exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A marketplace user acting for exactly one tenant, taken from the token's `tenant_id` claim.
    Customer,
    /// Operations staff: any tenant, per call, always audited.
    Operator,
    /// Internal billing systems: every tenant, read-only, and the event streams.
    #[serde(alias = "billing_reader")]
    Billing,
    /// Another Tenure service; its tenant comes from the `x-tenure-tenant` metadata.
    Service,
}

impl Role {
    /// The name used in tokens and configuration.
    pub fn name(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Operator => "operator",
            Role::Billing => "billing",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The authenticated caller of one RPC, attached to the request extensions by the auth layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token subject.
    pub subject: String,
    /// The role.
    pub role: Role,
    /// Customers: the tenant from the token. Services: the tenant from `x-tenure-tenant`, when sent.
    pub tenant_id: Option<Uuid>,
    /// Extra permissions, e.g. `legal_hold`.
    pub permissions: Vec<String>,
}

impl Principal {
    /// For the service role: the calling service's name (`orders` for `svc:orders`).
    pub fn service_name(&self) -> Option<&str> {
        match self.role {
            Role::Service => self.subject.strip_prefix("svc:"),
            _ => None,
        }
    }

    /// The domain's view of this principal.
    pub fn caller(&self) -> Caller {
        Caller {
            subject: self.subject.clone(),
            role: match self.role {
                Role::Customer => CallerRole::Customer,
                Role::Operator => CallerRole::Operator,
                Role::Billing => CallerRole::Billing,
                Role::Service => CallerRole::Service,
            },
            tenant: self.tenant_id,
            permissions: self.permissions.clone(),
        }
    }
}

/// The principal of a request, or `UNAUTHENTICATED` when the auth layer did not run (a wiring bug that
/// must not turn into an anonymous call).
#[allow(
    clippy::result_large_err,
    reason = "tonic::Status is the error type of every handler"
)]
pub fn principal_from<T>(request: &tonic::Request<T>) -> Result<&Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| Status::unauthenticated(UNAUTHENTICATED_MESSAGE))
}

/// The one message every authentication failure answers with; the precise reason goes only to logs and
/// to `auth_failures_total{reason}`, so a caller cannot probe which check failed.
const UNAUTHENTICATED_MESSAGE: &str = "missing or invalid credentials";

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
    fn jwt(self) -> Algorithm {
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

/// An Ed25519 key pair in PEM, for Tenure's own service and development tokens.
#[derive(Clone)]
pub struct Ed25519KeyPair {
    private_pem: String,
    public_pem: String,
}

impl fmt::Debug for Ed25519KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519KeyPair")
            .field("private_pem", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl Ed25519KeyPair {
    /// Generates a fresh key pair from the operating system's randomness.
    pub fn generate() -> anyhow::Result<Self> {
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_signing_key(&signing)
    }

    /// Reads a PKCS#8 PEM private key.
    pub fn from_private_pem(pem: &str) -> anyhow::Result<Self> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|error| anyhow::anyhow!("not an Ed25519 PKCS#8 private key: {error}"))?;
        Self::from_signing_key(&signing)
    }

    fn from_signing_key(signing: &ed25519_dalek::SigningKey) -> anyhow::Result<Self> {
        use ed25519_dalek::pkcs8::spki::EncodePublicKey;
        use ed25519_dalek::pkcs8::{EncodePrivateKey, spki::der::pem::LineEnding};
        let private_pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| anyhow::anyhow!("encoding the private key: {error}"))?
            .to_string();
        let public_pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| anyhow::anyhow!("encoding the public key: {error}"))?;
        Ok(Self {
            private_pem,
            public_pem,
        })
    }

    /// The private key, PKCS#8 PEM. Handle as a secret.
    pub fn private_pem(&self) -> &str {
        &self.private_pem
    }

    /// The public key, SubjectPublicKeyInfo PEM.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }
}

/// What a token grants: who, in which role, for which services and tenant, for how long.
#[derive(Debug, Clone, Copy)]
pub struct TokenGrant<'a> {
    /// The subject.
    pub subject: &'a str,
    /// The one role.
    pub role: Role,
    /// The services the token is meant for.
    pub audiences: &'a [&'a str],
    /// Customers: their tenant.
    pub tenant_id: Option<Uuid>,
    /// Extra permissions.
    pub permissions: &'a [&'a str],
    /// Issue time, seconds since the epoch.
    pub issued_at: u64,
    /// How long the token is valid.
    pub lifetime: Duration,
}

/// Signs tokens for one issuer and key.
#[derive(Clone)]
pub struct TokenSigner {
    issuer: String,
    kid: String,
    algorithm: TokenAlgorithm,
    key: Arc<EncodingKey>,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer over an Ed25519 key pair.
    pub fn ed25519(
        issuer: impl Into<String>,
        kid: impl Into<String>,
        keys: &Ed25519KeyPair,
    ) -> anyhow::Result<Self> {
        let key = EncodingKey::from_ed_pem(keys.private_pem().as_bytes())
            .map_err(|error| anyhow::anyhow!("unusable signing key: {error}"))?;
        Ok(Self {
            issuer: issuer.into(),
            kid: kid.into(),
            algorithm: TokenAlgorithm::EdDSA,
            key: Arc::new(key),
        })
    }

    /// The issuer this signer writes into `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs a token for the grant.
    pub fn sign(&self, grant: &TokenGrant<'_>) -> anyhow::Result<String> {
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: grant.subject.to_owned(),
            aud: grant
                .audiences
                .iter()
                .map(|aud| (*aud).to_owned())
                .collect(),
            exp: grant.issued_at + grant.lifetime.as_secs(),
            iat: grant.issued_at,
            nbf: None,
            role: grant.role,
            tenant_id: grant.tenant_id.map(|tenant| tenant.to_string()),
            permissions: grant.permissions.iter().map(|p| (*p).to_owned()).collect(),
        };
        let mut header = Header::new(self.algorithm.jwt());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|error| anyhow::anyhow!("signing a token: {error}"))
    }
}

/// Seconds since the epoch by the real clock. Token lifetimes are wall-clock facts, unlike business time.
pub(crate) fn unix_now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Mints this service's short-lived tokens for calls to its peers, re-minting at half-life.
pub struct ServiceTokenMinter {
    signer: TokenSigner,
    subject: String,
    lifetime: Duration,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl fmt::Debug for ServiceTokenMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceTokenMinter")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl ServiceTokenMinter {
    /// A minter for `subject` (`svc:<service>`), tokens valid `lifetime` (5 minutes in production).
    pub fn new(signer: TokenSigner, subject: impl Into<String>, lifetime: Duration) -> Self {
        Self {
            signer,
            subject: subject.into(),
            lifetime,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// A token for calls to `audience`.
    pub fn token_for(&self, audience: &str) -> anyhow::Result<String> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((token, refresh_at)) = cache.get(audience)
            && Instant::now() < *refresh_at
        {
            return Ok(token.clone());
        }
        let token = self.signer.sign(&TokenGrant {
            subject: &self.subject,
            role: Role::Service,
            audiences: &[audience],
            tenant_id: None,
            permissions: &[],
            issued_at: unix_now(),
            lifetime: self.lifetime,
        })?;
        cache.insert(
            audience.to_owned(),
            (token.clone(), Instant::now() + self.lifetime / 2),
        );
        Ok(token)
    }
}

/// Attaches a [`Principal`] to every call, or answers `UNAUTHENTICATED` / `PERMISSION_DENIED`.
#[derive(Clone)]
pub(crate) struct Authentication {
    verifier: Arc<TokenVerifier>,
    audience: &'static str,
}

impl Authentication {
    pub(crate) fn new(verifier: Arc<TokenVerifier>, audience: &'static str) -> Self {
        Self { verifier, audience }
    }

    fn authenticate(&self, headers: &http::HeaderMap) -> Result<Principal, Status> {
        let token = bearer_token(headers).map_err(|failure| self.refuse(failure))?;
        let mut principal = self
            .verifier
            .verify(token, self.audience)
            .map_err(|failure| self.refuse(failure))?;
        if let Some(raw) = headers.get(TENANT_METADATA_KEY) {
            // The tenant header is trusted only from services; a customer naming another tenant this
            // way must not even learn whether it exists (quality.md S6).
            if principal.role != Role::Service {
                return Err(Status::permission_denied("tenant metadata is not allowed"));
            }
            let tenant = raw
                .to_str()
                .ok()
                .and_then(|text| Uuid::parse_str(text).ok())
                .ok_or_else(|| Status::invalid_argument("x-tenure-tenant must be a UUID"))?;
            principal.tenant_id = Some(tenant);
        }
        Ok(principal)
    }

    fn refuse(&self, failure: AuthFailure) -> Status {
        tenure_telemetry::metrics().auth_failure(failure.reason());
        tracing::debug!(
            reason = failure.reason(),
            audience = self.audience,
            "request refused by authentication"
        );
        Status::unauthenticated(UNAUTHENTICATED_MESSAGE)
    }
}

impl Guard for Authentication {
    fn check<B>(&self, request: &mut http::Request<B>) -> Result<(), Status> {
        if is_exempt(request.uri().path()) {
            return Ok(());
        }
        let principal = self.authenticate(request.headers())?;
        request.extensions_mut().insert(principal);
        Ok(())
    }
}

/// Health checks must answer probes that hold no credentials; reflection is only ever enabled in local
/// development (the production configuration refuses it).
fn is_exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

fn bearer_token(headers: &http::HeaderMap) -> Result<&str, AuthFailure> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(AuthFailure::Missing)?;
    let text = value.to_str().map_err(|_| AuthFailure::Malformed)?;
    let (scheme, token) = text.split_once(' ').ok_or(AuthFailure::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthFailure::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUDIENCE: &str = "tenure-orders";

    fn setup() -> (TokenSigner, TokenVerifier, Ed25519KeyPair) {
        let keys = Ed25519KeyPair::generate().expect("key");
        let signer = TokenSigner::ed25519("tenure-dev", "dev-1", &keys).expect("signer");
        let settings = AuthSettings {
            issuers: vec![IssuerSettings {
                issuer: "tenure-dev".into(),
                algorithm: TokenAlgorithm::EdDSA,
                keys: vec![VerificationKey {
                    kid: "dev-1".into(),
                    public_key_pem: keys.public_pem().into(),
                }],
                max_lifetime_secs: 3600,
                roles: vec![Role::Customer, Role::Operator, Role::Billing],
            }],
            leeway_secs: 30,
        };
        (
            signer,
            TokenVerifier::new(&settings).expect("verifier"),
            keys,
        )
    }

    fn customer_token(signer: &TokenSigner, issued_at: u64, lifetime: u64) -> String {
        signer
            .sign(&TokenGrant {
                subject: "user-1",
                role: Role::Customer,
                audiences: &[AUDIENCE],
                tenant_id: Some(Uuid::nil()),
                permissions: &[],
                issued_at,
                lifetime: Duration::from_secs(lifetime),
            })
            .expect("sign")
    }

    #[test]
    fn a_valid_customer_token_yields_its_tenant() {
        let (signer, verifier, _) = setup();
        let principal = verifier
            .verify(&customer_token(&signer, unix_now(), 600), AUDIENCE)
            .expect("valid");
        assert_eq!(principal.role, Role::Customer);
        assert_eq!(principal.tenant_id, Some(Uuid::nil()));
    }

    #[test]
    fn tokens_are_refused_for_every_broken_property() {
        let (signer, verifier, _) = setup();
        let now = unix_now();
        let good = customer_token(&signer, now, 600);
        assert_eq!(
            verifier.verify(&good, "tenure-accounts"),
            Err(AuthFailure::WrongAudience)
        );
        assert_eq!(
            verifier.verify(&customer_token(&signer, now - 4000, 3600), AUDIENCE),
            Err(AuthFailure::Expired)
        );
        assert_eq!(
            verifier.verify(&customer_token(&signer, now, 7200), AUDIENCE),
            Err(AuthFailure::LifetimeTooLong)
        );
        assert_eq!(
            verifier.verify("not-a-token", AUDIENCE),
            Err(AuthFailure::Malformed)
        );
        // One flipped signature character.
        let mut tampered = good.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(matches!(
            verifier.verify(&tampered, AUDIENCE),
            Err(AuthFailure::BadSignature | AuthFailure::Malformed)
        ));
        // A key nobody configured.
        let stranger = Ed25519KeyPair::generate().expect("key");
        let foreign = TokenSigner::ed25519("tenure-dev", "other", &stranger).expect("signer");
        assert_eq!(
            verifier.verify(&customer_token(&foreign, now, 600), AUDIENCE),
            Err(AuthFailure::UnknownKey)
        );
        // The right kid, signed by another key.
        let forged = TokenSigner::ed25519("tenure-dev", "dev-1", &stranger).expect("signer");
        assert_eq!(
            verifier.verify(&customer_token(&forged, now, 600), AUDIENCE),
            Err(AuthFailure::BadSignature)
        );
        // A role this issuer may not assert.
        let service = signer
            .sign(&TokenGrant {
                subject: "svc:x",
                role: Role::Service,
                audiences: &[AUDIENCE],
                tenant_id: None,
                permissions: &[],
                issued_at: now,
                lifetime: Duration::from_secs(60),
            })
            .expect("sign");
        assert_eq!(
            verifier.verify(&service, AUDIENCE),
            Err(AuthFailure::RoleNotAllowed)
        );
    }

    #[test]
    fn alg_none_and_hmac_confusion_are_refused_before_key_use() {
        let (_, verifier, keys) = setup();
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = format!(
            r#"{{"iss":"tenure-dev","sub":"u","aud":["{AUDIENCE}"],"exp":{},"iat":{},"role":"customer","tenant_id":"{}"}}"#,
            unix_now() + 60,
            unix_now(),
            Uuid::nil()
        );
        let none = format!(
            "{}.{}.",
            engine.encode(r#"{"alg":"none","kid":"dev-1"}"#),
            engine.encode(&claims)
        );
        assert!(verifier.verify(&none, AUDIENCE).is_err());
        // HS256 keyed with the public key, the classic confusion attack.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("dev-1".into());
        let hmac = jsonwebtoken::encode(
            &header,
            &serde_json::from_str::<serde_json::Value>(&claims).expect("json"),
            &EncodingKey::from_secret(keys.public_pem().as_bytes()),
        )
        .expect("encode");
        assert_eq!(
            verifier.verify(&hmac, AUDIENCE),
            Err(AuthFailure::AlgorithmNotAllowed)
        );
    }

    /// Signs arbitrary claims with the configured key, to build tokens no signer would produce.
    fn signed(keys: &Ed25519KeyPair, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("dev-1".into());
        let key = EncodingKey::from_ed_pem(keys.private_pem().as_bytes()).expect("key");
        jsonwebtoken::encode(&header, claims, &key).expect("encode")
    }

    #[test]
    fn nbf_iss_and_missing_claims_are_enforced() {
        let (_, verifier, keys) = setup();
        let now = unix_now();
        let base = serde_json::json!({
            "iss": "tenure-dev", "sub": "user-1", "aud": [AUDIENCE],
            "exp": now + 300, "iat": now, "role": "customer",
            "tenant_id": Uuid::nil().to_string(),
        });
        assert!(verifier.verify(&signed(&keys, &base), AUDIENCE).is_ok());
        let with = |key: &str, value: serde_json::Value| {
            let mut claims = base.clone();
            claims[key] = value;
            signed(&keys, &claims)
        };
        // Not yet valid, or expired, beyond the 30 s leeway (quality.md S2 uses 31 s; a few more seconds keep
        // the check clear of a second ticking over while the test runs).
        assert_eq!(
            verifier.verify(&with("nbf", (now + 35).into()), AUDIENCE),
            Err(AuthFailure::Expired)
        );
        assert_eq!(
            verifier.verify(&with("exp", (now - 35).into()), AUDIENCE),
            Err(AuthFailure::Expired)
        );
        assert_eq!(
            verifier.verify(&with("iss", "someone-else".into()), AUDIENCE),
            Err(AuthFailure::WrongIssuer)
        );
        for missing in ["exp", "iss", "aud", "sub"] {
            let mut claims = base.clone();
            claims.as_object_mut().expect("object").remove(missing);
            assert!(
                verifier.verify(&signed(&keys, &claims), AUDIENCE).is_err(),
                "a token without {missing} was accepted"
            );
        }
        // A customer without a tenant, or a tenant that is not a UUID.
        let mut claims = base.clone();
        claims.as_object_mut().expect("object").remove("tenant_id");
        assert_eq!(
            verifier.verify(&signed(&keys, &claims), AUDIENCE),
            Err(AuthFailure::BadClaims)
        );
        assert_eq!(
            verifier.verify(&with("tenant_id", "acme".into()), AUDIENCE),
            Err(AuthFailure::BadClaims)
        );
        // Two roles at once are not a role.
        assert!(
            verifier
                .verify(
                    &with("role", serde_json::json!(["customer", "operator"])),
                    AUDIENCE
                )
                .is_err()
        );
    }

    #[test]
    fn bearer_parsing_is_strict() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(bearer_token(&headers), Err(AuthFailure::Missing));
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer ".parse().expect("header"),
        );
        assert_eq!(bearer_token(&headers), Err(AuthFailure::Malformed));
        headers.insert(
            http::header::AUTHORIZATION,
            "Basic abc".parse().expect("header"),
        );
        assert_eq!(bearer_token(&headers), Err(AuthFailure::Malformed));
        headers.insert(
            http::header::AUTHORIZATION,
            "bearer a.b.c".parse().expect("header"),
        );
        assert_eq!(bearer_token(&headers), Ok("a.b.c"));
    }
}
