//! Minting tokens: Tenure's own Ed25519 keys, signing a grant, and the short-lived tokens a service
//! presents to its peers.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::{EncodingKey, Header};
use uuid::Uuid;

use super::{Claims, Role, TokenAlgorithm};
use crate::identity::ServiceKind;

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

    /// The `service.name` of the calling service (`tenure-orders` for `svc:orders`), or the subject
    /// itself for a caller that is no Tenure service.
    pub fn service_name(&self) -> &str {
        let name = self.subject.strip_prefix("svc:").unwrap_or(&self.subject);
        ServiceKind::ALL
            .iter()
            .find(|kind| kind.name() == name)
            .map_or(&self.subject, |kind| kind.service_name())
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
