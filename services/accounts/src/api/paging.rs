//! Page tokens: opaque, bound to the method, the caller's reach and the filter, so a token replayed
//! for another query (or by another tenant) is refused instead of resuming somewhere unexpected.

use sha2::{Digest as _, Sha256};
use tenure_db::TenantTx;
use tenure_domain::Problems;
use tenure_proto::accounts::v1 as pb;

use crate::api::context::{Accounts, Call, Target};
use crate::domain::{AccountsError, PageRequest};

/// List requests: the page they ask for.
pub(crate) trait Paged {
    fn page_size(&self) -> u32;
    fn page_token(&self) -> &str;
}

/// Implements [`Paged`] for requests with the usual `page_size` and `page_token` fields.
macro_rules! paged {
    ($($request:ty),+ $(,)?) => {
        $(impl Paged for $request {
            fn page_size(&self) -> u32 {
                self.page_size
            }

            fn page_token(&self) -> &str {
                &self.page_token
            }
        })+
    };
}

paged!(
    pb::ListTenantsRequest,
    pb::ListUsersRequest,
    pb::ListAccountsRequest,
    pb::ListAccountTransitionsRequest,
    pb::ListSubscriptionsRequest,
    pb::ListCostRecordsRequest,
);

/// The binding of a token: method, reach and filter.
fn binding(method: &str, scope: &str) -> String {
    let digest = Sha256::digest(format!("{method}\n{scope}").as_bytes());
    hex::encode(&digest[..8])
}

/// A validated page of one listing, with what its tokens are bound to.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) request: PageRequest,
    method: &'static str,
    scope: String,
}

impl Page {
    /// Reads the `page_size` and `page_token` of `request`, recording problems under their field
    /// names. `scope` is the caller's reach and filter as text: a token only resumes the same query.
    pub(crate) fn read(
        problems: &mut Problems,
        call: &Call,
        request: &impl Paged,
        scope: String,
    ) -> Option<Page> {
        let size = problems.check("page_size", PageRequest::size(request.page_size()));
        let page_token = request.page_token();
        let offset = if page_token.is_empty() {
            Some(0)
        } else {
            let expected = binding(call.method, &scope);
            let offset = page_token
                .strip_prefix(expected.as_str())
                .and_then(|rest| u64::from_str_radix(rest, 16).ok());
            problems.check("page_token", offset.ok_or_else(PageRequest::bad_token))
        };
        Some(Page {
            request: PageRequest {
                size: size?,
                offset: offset?,
            },
            method: call.method,
            scope,
        })
    }

    /// Trims the one extra row a query fetched and returns the page with its next token (empty on
    /// the last page).
    pub(crate) fn of<T>(&self, mut rows: Vec<T>) -> (Vec<T>, String) {
        let page = self.request;
        let has_more = u64::try_from(rows.len()).is_ok_and(|count| count > page.size);
        if !has_more {
            return (rows, String::new());
        }
        rows.truncate(usize::try_from(page.size).unwrap_or(usize::MAX));
        let next = page.offset + page.size;
        (
            rows,
            format!("{}{next:x}", binding(self.method, &self.scope)),
        )
    }
}

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
