//! Receipts: the proof a purge leaves behind, read one by one or as a list, and the verdict on the
//! chain that links them.

use tenure_domain::Problems;
use tenure_grpc::paging::Page;
use tenure_proto::purge::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::api::context::{call, checked, finish};
use crate::convert;
use crate::domain::{PurgeError, StoredReceipt};

use super::{PurgeServiceHandler, read_purge_id};

impl PurgeServiceHandler {
    pub(super) async fn receipt(
        &self,
        request: Request<pb::GetReceiptRequest>,
    ) -> Result<Response<pb::GetReceiptResponse>, Status> {
        let call = call(&request, path!("GetReceipt"))?;
        let id = read_purge_id(&request.get_ref().purge_id)?;
        let stored = self.app.receipt(&call, id).await?;
        Ok(Response::new(pb::GetReceiptResponse {
            receipt: Some(stored_receipt_to(&stored)?),
        }))
    }

    pub(super) async fn receipts(
        &self,
        request: Request<pb::ListReceiptsRequest>,
    ) -> Result<Response<pb::ListReceiptsResponse>, Status> {
        let call = call(&request, path!("ListReceipts"))?;
        let request = request.into_inner();
        let mut problems = Problems::new();
        let page = Page::of_request(
            &mut problems,
            call.method,
            &request,
            format!("{:?}", call.reach()?),
        );
        finish(problems, || ())?;
        let page = checked(page)?;
        let rows = self
            .app
            .receipts(&call, page.request.offset, page.fetch_limit())
            .await?;
        let (rows, next_page_token) = page.of(rows);
        Ok(Response::new(pb::ListReceiptsResponse {
            receipts: rows
                .iter()
                .map(stored_receipt_to)
                .collect::<Result<_, _>>()?,
            next_page_token,
        }))
    }

    pub(super) async fn verify_chain(
        &self,
        request: Request<pb::VerifyReceiptChainRequest>,
    ) -> Result<Response<pb::VerifyReceiptChainResponse>, Status> {
        call(&request, path!("VerifyReceiptChain"))?;
        let verdict = self.app.verify_chain().await?;
        Ok(Response::new(pb::VerifyReceiptChainResponse {
            checked: verdict.checked,
            intact: verdict.intact,
            first_broken_receipt_id: verdict
                .first_broken
                .map(|id| id.to_string())
                .unwrap_or_default(),
        }))
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
