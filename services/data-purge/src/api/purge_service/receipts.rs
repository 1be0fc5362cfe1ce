//! Receipts: the proof a purge leaves behind, read one by one or as a list, and the chain that links
//! them checked end to end.

use std::collections::HashMap;

use tenure_domain::{Problems, parse_id};
use tenure_grpc::paging::Page;
use tenure_proto::purge::v1 as pb;
use uuid::Uuid;

use crate::api::context::{Call, Purges, checked, finish};
use crate::convert;
use crate::domain::{PurgeError, ReceiptVerifier, chain_hash};
use crate::store;
use crate::store::receipts::StoredReceipt;

impl Purges {
    pub(super) async fn receipt(
        &self,
        call: &Call,
        request: pb::GetReceiptRequest,
    ) -> Result<pb::GetReceiptResponse, PurgeError> {
        let mut problems = Problems::new();
        let id = problems.check("purge_id", parse_id(&request.purge_id));
        finish(problems, || ())?;
        let stored = store::receipts::for_purge(self.db.conn(), checked(id)?, call.reach()?)
            .await?
            .ok_or(PurgeError::NotFound("receipt"))?;
        Ok(pb::GetReceiptResponse {
            receipt: Some(stored_receipt_to(&stored)?),
        })
    }

    pub(super) async fn receipts(
        &self,
        call: &Call,
        request: pb::ListReceiptsRequest,
    ) -> Result<pb::ListReceiptsResponse, PurgeError> {
        let mut problems = Problems::new();
        let page = Page::read(
            &mut problems,
            call.method,
            (request.page_size, &request.page_token),
            format!("{:?}", call.reach()?),
        );
        finish(problems, || ())?;
        let page = checked(page)?;
        let rows = store::receipts::list(
            self.db.conn(),
            call.reach()?,
            page.request.offset,
            page.fetch_limit(),
        )
        .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(pb::ListReceiptsResponse {
            receipts: rows
                .iter()
                .map(stored_receipt_to)
                .collect::<Result<_, _>>()?,
            next_page_token,
        })
    }

    /// Recomputes every receipt's hash from its stored body and its predecessor's hash, checks the
    /// sequence has no gap, and checks each signature with the public key of its key id.
    pub(crate) async fn verify_chain(&self) -> Result<pb::VerifyReceiptChainResponse, PurgeError> {
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
                    return Ok(pb::VerifyReceiptChainResponse {
                        checked: checked_count,
                        intact: false,
                        first_broken_receipt_id: body.id.to_string(),
                    });
                }
                checked_count += 1;
                sequence = body.sequence;
                previous_hash = stored.hash.clone();
            }
        }
        // The head must name the last receipt, or receipts were removed from the end.
        let head = store::receipts::chain_head(self.db.conn()).await?;
        let intact = head.sequence == sequence && head.hash == previous_hash;
        Ok(pb::VerifyReceiptChainResponse {
            checked: checked_count,
            intact,
            first_broken_receipt_id: String::new(),
        })
    }
}

fn stored_receipt_to(stored: &StoredReceipt) -> Result<pb::Receipt, PurgeError> {
    let body = stored.body()?;
    Ok(pb::Receipt {
        id: body.id.to_string(),
        purge_id: body.purge_id.to_string(),
        sequence: body.sequence,
        scope_kind: convert::scope_kind_to(body.scope_kind),
        tenant_id: body.tenant_id.to_string(),
        account_key_hash: body.account_key_hash.clone(),
        requested_at: Some(convert::timestamp(body.requested_at)),
        due_at: Some(convert::timestamp(body.due_at)),
        started_at: Some(convert::timestamp(body.started_at)),
        completed_at: Some(convert::timestamp(body.completed_at)),
        entries: body
            .entries
            .iter()
            .map(|entry| pb::ReceiptEntry {
                service: entry.service.clone(),
                data_class: convert::data_class_to(entry.data_class),
                action: convert::purge_action_to(entry.action),
                planned_rows: entry.planned_rows,
                affected_rows: entry.affected_rows,
            })
            .collect(),
        manifest_hash: body.manifest_hash.clone(),
        residual_rows: body.residual_rows,
        previous_hash: stored.previous_hash.clone(),
        hash: stored.hash.clone(),
        signature: stored.signature.clone(),
        key_id: stored.key_id.clone(),
        hold_ids: body.holds.iter().map(Uuid::to_string).collect(),
    })
}
