//! Receipts: the proof a purge leaves behind, read one by one or as a list, and the chain that links
//! them checked end to end.

use std::collections::HashMap;

use uuid::Uuid;

use crate::app::{Call, PurgeApp};
use crate::domain::{PurgeError, ReceiptVerifier, StoredReceipt, chain_hash};
use crate::store;

/// The verdict on the receipt chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainVerdict {
    /// How many receipts passed before the first broken one, or all of them.
    pub(crate) checked: u64,
    pub(crate) intact: bool,
    /// The first receipt whose link, hash or signature fails; none when the break is at the end.
    pub(crate) first_broken: Option<Uuid>,
}

impl PurgeApp {
    /// The receipt of the purge `purge_id`, if the caller may see it.
    pub(crate) async fn receipt(
        &self,
        call: &Call,
        purge_id: Uuid,
    ) -> Result<StoredReceipt, PurgeError> {
        store::receipts::for_purge(self.db.conn(), purge_id, call.reach()?)
            .await?
            .ok_or(PurgeError::NotFound("receipt"))
    }

    /// Up to `limit` receipts from `offset`, in chain order, narrowed to the caller's tenant.
    pub(crate) async fn receipts(
        &self,
        call: &Call,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<StoredReceipt>, PurgeError> {
        store::receipts::list(self.db.conn(), call.reach()?, offset, limit).await
    }

    /// Recomputes every receipt's hash from its stored body and its predecessor's hash, checks the
    /// sequence has no gap, and checks each signature with the public key of its key id.
    pub(crate) async fn verify_chain(&self) -> Result<ChainVerdict, PurgeError> {
        const BATCH: u64 = 500;
        let mut keys: HashMap<String, Option<String>> = HashMap::new();
        let mut checked_count = 0u64;
        let mut previous_hash = String::new();
        let mut sequence = 0u64;
        loop {
            let batch = store::receipts::after(self.db.conn(), sequence, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for stored in &batch {
                let body = stored.body()?;
                if !keys.contains_key(&stored.key_id) {
                    let public =
                        store::receipts::public_key_of(self.db.conn(), &stored.key_id).await?;
                    keys.insert(stored.key_id.clone(), public);
                }
                let signed = keys
                    .get(&stored.key_id)
                    .and_then(Option::as_ref)
                    .is_some_and(|public| {
                        ReceiptVerifier::verify(public, &stored.hash, &stored.signature)
                    });
                let intact = body.sequence == sequence + 1
                    && stored.previous_hash == previous_hash
                    && chain_hash(&stored.previous_hash, &stored.canonical_body) == stored.hash
                    && signed;
                if !intact {
                    return Ok(ChainVerdict {
                        checked: checked_count,
                        intact: false,
                        first_broken: Some(body.id),
                    });
                }
                checked_count += 1;
                sequence = body.sequence;
                previous_hash = stored.hash.clone();
            }
        }
        // The head must name the last receipt, or receipts were removed from the end.
        let head = store::receipts::chain_head(self.db.conn()).await?;
        Ok(ChainVerdict {
            checked: checked_count,
            intact: head.sequence == sequence && head.hash == previous_hash,
            first_broken: None,
        })
    }
}
