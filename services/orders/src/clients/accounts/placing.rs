//! What accounts says when an order is placed: the tenant, the live record of an account, and the
//! termination checks. These answer the API, not a saga step, so a failure is an error to the caller.

use tenure_domain::AwsAccountId;
use tenure_grpc::PeerChannel;
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::accounts::v1::account_service_client::AccountServiceClient;
use tenure_proto::common::v1 as common;
use tonic::Code;
use uuid::Uuid;

use super::super::Peers;
use super::super::status::unavailable;
use super::{acknowledgement_number, mode_number, money_message};
use crate::domain::order::{Acknowledgement, Money, Relationship, ResaleModel, TerminationMode};

/// What accounts says about a tenant when an order is placed.
#[derive(Debug, Clone)]
pub(crate) struct TenantView {
    pub(crate) active: bool,
    pub(crate) public_sector: bool,
    pub(crate) resale_model: Option<ResaleModel>,
    pub(crate) display_name: String,
}

/// What accounts says about terminating an account.
#[derive(Debug, Clone)]
pub(crate) struct TerminationView {
    pub(crate) problems: Vec<(String, String)>,
    pub(crate) account: Option<crate::domain::order::AccountFacts>,
}

impl Peers {
    fn accounts_client(&self) -> AccountServiceClient<PeerChannel> {
        AccountServiceClient::new(self.accounts.clone())
    }

    /// The tenant an order is placed for.
    pub(crate) async fn tenant(
        &self,
        tenant: Uuid,
    ) -> Result<TenantView, crate::domain::OrdersError> {
        let found = self
            .accounts_client()
            .get_tenant(PeerChannel::for_tenant(
                accounts::GetTenantRequest {
                    tenant_id: tenant.to_string(),
                },
                tenant,
            ))
            .await
            .map_err(|status| unavailable(&status))?
            .into_inner()
            .tenant
            .ok_or(crate::domain::OrdersError::internal(
                "accounts answered no tenant",
            ))?;
        Ok(TenantView {
            active: found.status == accounts::TenantStatus::Active as i32,
            public_sector: found.sector == common::Sector::Public as i32,
            resale_model: match common::ResaleModel::try_from(found.resale_model) {
                Ok(common::ResaleModel::Ecam) => Some(ResaleModel::Ecam),
                Ok(common::ResaleModel::Spam) => Some(ResaleModel::Spam),
                Ok(common::ResaleModel::BillingTransfer) => Some(ResaleModel::BillingTransfer),
                _ => None,
            },
            display_name: found.display_name,
        })
    }

    /// Whether the tenant has a live record of an AWS account: placing only asks whether the account
    /// is managed already, so the record itself stays on this side of the contract.
    pub(crate) async fn has_live_account(
        &self,
        tenant: Uuid,
        aws_account_id: &AwsAccountId,
    ) -> Result<bool, crate::domain::OrdersError> {
        let found = self
            .accounts_client()
            .get_account(PeerChannel::for_tenant(
                accounts::GetAccountRequest {
                    lookup: Some(accounts::get_account_request::Lookup::AwsAccountId(
                        aws_account_id.as_str().to_owned(),
                    )),
                },
                tenant,
            ))
            .await;
        match found {
            Ok(found) => Ok(found.into_inner().account.is_some()),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(unavailable(&status)),
        }
    }

    /// The termination checks of accounts (domain.md §3.4, T1), with the account's facts.
    pub(crate) async fn check_termination(
        &self,
        tenant: Uuid,
        order_id: Uuid,
        aws_account_id: &AwsAccountId,
        mode: TerminationMode,
        acknowledgements: &[Acknowledgement],
        acknowledged_open_balance: Option<&Money>,
    ) -> Result<Option<TerminationView>, crate::domain::OrdersError> {
        let checked = self
            .accounts_client()
            .check_termination(PeerChannel::for_tenant(
                accounts::CheckTerminationRequest {
                    aws_account_id: aws_account_id.as_str().to_owned(),
                    mode: mode_number(mode),
                    acknowledgements: acknowledgements
                        .iter()
                        .copied()
                        .map(acknowledgement_number)
                        .collect(),
                    order_id: order_id.to_string(),
                    acknowledged_open_balance: acknowledged_open_balance.map(money_message),
                },
                tenant,
            ))
            .await;
        let checked = match checked {
            Ok(checked) => checked.into_inner(),
            Err(status) if status.code() == Code::NotFound => return Ok(None),
            Err(status) => return Err(unavailable(&status)),
        };
        let account = checked.account.and_then(|account| {
            Some(crate::domain::order::AccountFacts {
                record_id: account.id.parse().ok()?,
                relationship: match common::AccountRelationship::try_from(account.relationship) {
                    Ok(common::AccountRelationship::PlatformMember) => Relationship::PlatformMember,
                    Ok(common::AccountRelationship::PlatformPayer) => Relationship::PlatformPayer,
                    Ok(common::AccountRelationship::BillingTransferSource) => {
                        Relationship::BillingTransferSource
                    }
                    _ => return None,
                },
                role: if account.role == accounts::AccountRole::Management as i32 {
                    crate::domain::order::AccountRole::Management
                } else {
                    crate::domain::order::AccountRole::Member
                },
                // A malformed id is refused like a malformed record id: no facts at all.
                management_account_id: if account.management_account_id.is_empty() {
                    None
                } else {
                    Some(AwsAccountId::parse(&account.management_account_id).ok()?)
                },
            })
        });
        Ok(Some(TerminationView {
            problems: checked
                .problems
                .into_iter()
                .map(|problem| (problem.code, problem.message))
                .collect(),
            account,
        }))
    }
}
