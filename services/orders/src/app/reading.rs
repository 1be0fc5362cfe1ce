//! Reading orders: one order, a page of them and an order's history, each in one transaction
//! narrowed to the caller's reach, so another tenant's order answers exactly like a missing one.

use std::sync::Arc;

use uuid::Uuid;

use crate::app::{Call, Orders, definition_of};
use crate::domain::OrdersError;
use crate::domain::records::{
    AttemptRow, ListOrder, OrderFilter, OrderRecord, Reach, StepRow, TaskRecord,
};
use crate::domain::saga::definition::Definition;
use crate::domain::saga::state::Direction;
use crate::store;

/// An order with everything its timeline is drawn from, read in one transaction.
#[derive(Debug)]
pub(crate) struct History {
    pub(crate) record: OrderRecord,
    pub(crate) definition: Arc<Definition>,
    pub(crate) steps: Vec<StepRow>,
    pub(crate) attempts: Vec<AttemptRow>,
    pub(crate) tasks: Vec<TaskRecord>,
    /// The saga is undoing what it did and has not finished.
    pub(crate) compensating: bool,
}

impl Orders {
    /// The order `id`, if the caller may see it.
    pub(crate) async fn order(&self, call: &Call, id: Uuid) -> Result<OrderRecord, OrdersError> {
        self.read(call.reach()?, async |tx| Self::order_in(tx, id).await)
            .await
    }

    /// A page of the orders `filter` selects, newest first; its tenant is narrowed to the caller's
    /// own first.
    pub(crate) async fn orders(
        &self,
        call: &Call,
        mut filter: OrderFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<OrderRecord>, OrdersError> {
        filter.tenant = call.tenant_filter(filter.tenant)?;
        self.read(call.reach()?, async |tx| {
            store::orders::list(&**tx, &filter, ListOrder::NewestFirst, offset, limit).await
        })
        .await
    }

    /// The order `id` within `reach` and its history.
    pub(crate) async fn history(&self, reach: Reach, id: Uuid) -> Result<History, OrdersError> {
        self.read(reach, async |tx| {
            let record = Self::order_in(tx, id).await?;
            let definition = definition_of(&self.registry, &record)?;
            let (steps, attempts) = store::orders::history(&**tx, record.saga.snapshot.id).await?;
            let tasks = store::tasks::of_order(&**tx, id).await?;
            let compensating = record.saga.snapshot.direction == Direction::Undo
                && !record.saga.snapshot.status.is_terminal();
            Ok(History {
                record,
                definition,
                steps,
                attempts,
                tasks,
                compensating,
            })
        })
        .await
    }
}
