//! CancelOrder, AnswerOrderQuery and SignalOrder: a customer steering its own order. The handlers
//! check the request and answer with the order as the use cases in `app::steering` leave it.

use prost::Message as _;
use tenure_domain::{AwsAccountId, FreeText, Problems, RootEmail};
use tenure_proto::orders::v1 as pb;

use crate::api::context::{Call, Orders, at, checked, finish_keyed, idempotent, reply};
use crate::api::convert;
use crate::api::order_service::placing::linked_accounts;
use crate::api::order_service::reading::order_id;
use crate::app::CustomerAnswer as Answer;
use crate::domain::OrdersError;
use crate::domain::records::OrderRecord;

fn answer(
    problems: &mut Problems,
    raw: Option<&pb::answer_order_query_request::Answer>,
) -> Option<Answer> {
    use pb::answer_order_query_request::Answer as Raw;
    match raw {
        None => {
            problems.push(at("answer", tenure_domain::required()));
            None
        }
        Some(Raw::RootEmail(email)) => problems
            .check("root_email", RootEmail::parse(email))
            .map(Answer::RootEmail),
        Some(Raw::ManagementAccountId(id)) => problems
            .check("management_account_id", AwsAccountId::parse(id))
            .map(Answer::ManagementAccountId),
        Some(Raw::LinkedAccountIds(list)) => linked_accounts(
            problems,
            "linked_account_ids.aws_account_ids",
            &list.aws_account_ids,
        )
        .map(Answer::LinkedAccountIds),
        Some(Raw::Confirmed(true)) => Some(Answer::Confirmed),
        Some(Raw::Confirmed(false)) => {
            problems.push(at("confirmed", tenure_domain::required()));
            None
        }
    }
}

impl Orders {
    pub(crate) async fn cancel_order(
        &self,
        call: &Call,
        request: pb::CancelOrderRequest,
    ) -> Result<pb::CancelOrderResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        problems.check("reason", FreeText::reason(&request.reason));
        finish_keyed(problems, &request)?;
        let id = checked(id)?;
        let to = |record: &OrderRecord| {
            Ok(pb::CancelOrderResponse {
                order: Some(convert::order(&self.registry, record)?),
            })
        };
        let encode = |record: &OrderRecord| to(record).map(|response| response.encode_to_vec());
        let answer = self
            .cancel(call, idempotent(&request, &encode)?, id)
            .await?;
        reply(answer, to)
    }

    pub(crate) async fn answer_order_query(
        &self,
        call: &Call,
        request: pb::AnswerOrderQueryRequest,
    ) -> Result<pb::AnswerOrderQueryResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        let query_id = problems.check("query_id", tenure_domain::parse_id(&request.query_id));
        let answer = answer(&mut problems, request.answer.as_ref());
        finish_keyed(problems, &request)?;
        let (id, query_id, answer) = (checked(id)?, checked(query_id)?, checked(answer)?);
        let to = |record: &OrderRecord| {
            Ok(pb::AnswerOrderQueryResponse {
                order: Some(convert::order(&self.registry, record)?),
            })
        };
        let encode = |record: &OrderRecord| to(record).map(|response| response.encode_to_vec());
        let answer = self
            .answer_query(call, idempotent(&request, &encode)?, id, query_id, answer)
            .await?;
        reply(answer, to)
    }

    pub(crate) async fn signal_order(
        &self,
        call: &Call,
        request: pb::SignalOrderRequest,
    ) -> Result<pb::SignalOrderResponse, OrdersError> {
        let mut problems = Problems::new();
        let id = order_id(&mut problems, &request.order_id);
        if pb::OrderSignal::try_from(request.signal) != Ok(pb::OrderSignal::CheckNow) {
            problems.push(at("signal", tenure_domain::required()));
        }
        finish_keyed(problems, &request)?;
        let id = checked(id)?;
        let to = |record: &OrderRecord| {
            Ok(pb::SignalOrderResponse {
                order: Some(convert::order(&self.registry, record)?),
            })
        };
        let encode = |record: &OrderRecord| to(record).map(|response| response.encode_to_vec());
        let answer = self
            .signal(call, idempotent(&request, &encode)?, id)
            .await?;
        reply(answer, to)
    }
}
