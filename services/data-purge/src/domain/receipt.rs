//! Receipts: the proof that a purge ran (domain.md §8.3, G10). A receipt holds ids, classes, counts
//! and times only; the AWS account id appears as a keyed hash. Each receipt's hash covers its canonical
//! body and the previous receipt's hash, so editing or removing any receipt breaks the chain, and an
//! Ed25519 signature over the hash shows the service wrote it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tenure_domain::AwsAccountId;
use uuid::Uuid;

use crate::domain::{DataClass, PurgeAction, PurgeError, ScopeKind};

/// One line of a receipt: what one data owner did to one class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReceiptEntry {
    pub(crate) service: String,
    pub(crate) data_class: DataClass,
    pub(crate) action: PurgeAction,
    pub(crate) planned_rows: u64,
    pub(crate) affected_rows: u64,
}

/// Everything a receipt proves. Its JSON encoding, with fields in this order, is the canonical form
/// the hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReceiptBody {
    pub(crate) id: Uuid,
    pub(crate) purge_id: Uuid,
    pub(crate) sequence: u64,
    pub(crate) scope_kind: ScopeKind,
    pub(crate) tenant_id: Uuid,
    pub(crate) account_key_hash: String,
    pub(crate) requested_at: DateTime<Utc>,
    pub(crate) due_at: DateTime<Utc>,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) completed_at: DateTime<Utc>,
    pub(crate) entries: Vec<ReceiptEntry>,
    pub(crate) manifest_hash: String,
    pub(crate) residual_rows: u64,
    /// The legal holds that blocked the purge at some point, by id.
    pub(crate) holds: Vec<Uuid>,
}

impl ReceiptBody {
    /// The canonical encoding the hash covers.
    pub(crate) fn canonical(&self) -> Result<String, PurgeError> {
        serde_json::to_string(self).map_err(|error| PurgeError::Internal(Box::new(error)))
    }
}

/// The end of the chain a new receipt links to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ChainLink {
    /// The last receipt's sequence; 0 before the first.
    pub(crate) sequence: u64,
    /// The last receipt's hash; empty before the first.
    pub(crate) hash: String,
}

/// SHA-256 over the previous hash and the canonical body, hex.
pub(crate) fn chain_hash(previous_hash: &str, canonical_body: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(previous_hash.as_bytes());
    digest.update(b"\n");
    digest.update(canonical_body.as_bytes());
    hex::encode(digest.finalize())
}

/// Signs receipts with the service's Ed25519 key.
pub(crate) struct ReceiptSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    /// The key of a PKCS#8 PEM file's text.
    pub(crate) fn from_pem(pem: &str, key_id: &str) -> anyhow::Result<Self> {
        let key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|error| anyhow::anyhow!("not an Ed25519 PKCS#8 private key: {error}"))?;
        Ok(Self {
            key,
            key_id: key_id.to_owned(),
        })
    }

    pub(crate) fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, hex, which the chain verification reads back by key id.
    pub(crate) fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The signature over `hash`, base64.
    pub(crate) fn sign(&self, hash: &str) -> String {
        BASE64.encode(self.key.sign(hash.as_bytes()).to_bytes())
    }

    /// The keyed hash that stands for an AWS account id in receipts: HMAC-SHA256 under a key derived
    /// from the signing key, so it is stable for a key id and cannot be reversed by trying every
    /// 12-digit id without the secret.
    pub(crate) fn account_key_hash(&self, account: &AwsAccountId) -> String {
        account_key_hash(&self.hash_key(), account)
    }

    fn hash_key(&self) -> [u8; 32] {
        let mut digest = Sha256::new();
        digest.update(b"tenure receipt account hash\n");
        digest.update(self.key.to_bytes());
        digest.finalize().into()
    }
}

/// HMAC-SHA256 of the account id under `key`, hex.
pub(crate) fn account_key_hash(key: &[u8], account: &AwsAccountId) -> String {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(account.as_str().as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm is unreachable but must not panic.
        Err(_) => String::new(),
    }
}

/// Checks signatures against the public keys the service has signed with.
pub(crate) struct ReceiptVerifier;

impl ReceiptVerifier {
    /// True when `signature` (base64) is `public_key_hex`'s signature over `hash`.
    pub(crate) fn verify(public_key_hex: &str, hash: &str, signature: &str) -> bool {
        let Ok(public) = hex::decode(public_key_hex) else {
            return false;
        };
        let Ok(public) = <[u8; 32]>::try_from(public.as_slice()) else {
            return false;
        };
        let Ok(key) = VerifyingKey::from_bytes(&public) else {
            return false;
        };
        let Ok(signature) = BASE64.decode(signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&signature) else {
            return false;
        };
        key.verify(hash.as_bytes(), &signature).is_ok()
    }
}

/// A receipt as stored: its canonical body, exactly as hashed, and its seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredReceipt {
    pub(crate) canonical_body: String,
    pub(crate) previous_hash: String,
    pub(crate) hash: String,
    pub(crate) signature: String,
    pub(crate) key_id: String,
}

impl StoredReceipt {
    pub(crate) fn body(&self) -> Result<ReceiptBody, PurgeError> {
        serde_json::from_str(&self.canonical_body)
            .map_err(|error| PurgeError::Internal(Box::new(error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;

    fn new_signer() -> ReceiptSigner {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap_or_else(|error| panic!("{error}"));
        ReceiptSigner::from_pem(&pem, "test-1").unwrap_or_else(|error| panic!("{error}"))
    }

    fn body() -> ReceiptBody {
        let at = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        ReceiptBody {
            id: Uuid::new_v4(),
            purge_id: Uuid::new_v4(),
            sequence: 1,
            scope_kind: ScopeKind::Account,
            tenant_id: Uuid::new_v4(),
            account_key_hash: "ab".to_owned(),
            requested_at: at,
            due_at: at,
            started_at: at,
            completed_at: at,
            entries: vec![ReceiptEntry {
                service: "accounts".to_owned(),
                data_class: DataClass::AwsFetched,
                action: PurgeAction::Delete,
                planned_rows: 3,
                affected_rows: 3,
            }],
            manifest_hash: "cd".to_owned(),
            residual_rows: 0,
            holds: Vec::new(),
        }
    }

    #[test]
    fn a_signature_verifies_and_any_edit_breaks_it() {
        let signer = new_signer();
        let body = body();
        let canonical = body.canonical().unwrap_or_default();
        let hash = chain_hash("", &canonical);
        let signature = signer.sign(&hash);
        assert!(ReceiptVerifier::verify(
            &signer.public_key_hex(),
            &hash,
            &signature
        ));

        let mut edited = body.clone();
        edited.entries[0].affected_rows = 2;
        let edited_hash = chain_hash("", &edited.canonical().unwrap_or_default());
        assert_ne!(edited_hash, hash);
        assert!(!ReceiptVerifier::verify(
            &signer.public_key_hex(),
            &edited_hash,
            &signature
        ));
        assert!(!ReceiptVerifier::verify(
            &new_signer().public_key_hex(),
            &hash,
            &signature
        ));
        assert_ne!(
            chain_hash("other", &canonical),
            hash,
            "the link is part of the hash"
        );
    }

    #[test]
    fn the_account_hash_is_stable_per_key_and_differs_between_keys() {
        let account = AwsAccountId::parse("123456789012").unwrap_or_else(|p| panic!("{p:?}"));
        let signer = new_signer();
        assert_eq!(
            signer.account_key_hash(&account),
            signer.account_key_hash(&account)
        );
        assert_ne!(
            signer.account_key_hash(&account),
            new_signer().account_key_hash(&account)
        );
        assert!(!signer.account_key_hash(&account).contains("123456789012"));
    }
}
