//! Paged reads: page tokens come from [`tenure_grpc::paging`], bound to the method, the caller's
//! reach and the filter.

use tenure_db::TenantTx;
use tenure_domain::PageRequest;
use tenure_grpc::paging::Page;

use crate::app::{Accounts, Call, Target};
use crate::domain::AccountsError;

impl Accounts {
    /// Reads one page in a read transaction: `fetch` queries it (one row more than the page, which
    /// tells whether another follows) and `respond` builds the answer from its rows and next token.
    pub(crate) async fn read_page<T, R>(
        &self,
        call: &Call,
        target: Target,
        page: &Page,
        fetch: impl AsyncFnOnce(&TenantTx, PageRequest) -> Result<Vec<T>, AccountsError>,
        respond: impl FnOnce(Vec<T>, String) -> Result<R, AccountsError>,
    ) -> Result<R, AccountsError> {
        self.read(call, target, async |tx| {
            let (rows, next_page_token) = page.of(fetch(tx, page.request).await?);
            respond(rows, next_page_token)
        })
        .await
    }
}
