//! Page tokens: opaque, bound to the method, the caller's reach and the filter, so a token replayed
//! for another query (or by another tenant) is refused instead of resuming somewhere unexpected.

use sha2::{Digest as _, Sha256};
use tenure_domain::{PageRequest, Problems};
use tenure_proto::accounts::v1 as accounts;
use tenure_proto::orders::v1 as orders;
use tenure_proto::purge::v1 as purge;

/// A listing request: the page it asks for.
pub trait Paged {
    /// `page_size` as sent.
    fn page_size(&self) -> u32;
    /// `page_token` as sent.
    fn page_token(&self) -> &str;
}

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
    accounts::ListTenantsRequest,
    accounts::ListUsersRequest,
    accounts::ListAccountsRequest,
    accounts::ListAccountTransitionsRequest,
    accounts::ListSubscriptionsRequest,
    accounts::ListCostRecordsRequest,
    orders::ListOrdersRequest,
    orders::ListTasksRequest,
    orders::ListSagasRequest,
    purge::ListPurgesRequest,
    purge::ListLegalHoldsRequest,
    purge::ListReceiptsRequest,
);

/// The binding of a token: method, reach and filter.
fn binding(method: &str, scope: &str) -> String {
    let digest = Sha256::digest(format!("{method}\n{scope}").as_bytes());
    hex::encode(&digest[..8])
}

/// A validated page of one listing, with what its tokens are bound to.
#[derive(Debug, Clone)]
pub struct Page {
    /// The size and offset asked for.
    pub request: PageRequest,
    method: &'static str,
    scope: String,
}

impl Page {
    /// Reads the `page_size` and `page_token` of a request to `method`, recording problems under
    /// their field names. `scope` is the caller's reach and filter as text: a token only resumes the
    /// same query.
    pub fn read(
        problems: &mut Problems,
        method: &'static str,
        (page_size, page_token): (u32, &str),
        scope: String,
    ) -> Option<Page> {
        let size = problems.check("page_size", PageRequest::size(page_size));
        let offset = if page_token.is_empty() {
            Some(0)
        } else {
            let expected = binding(method, &scope);
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
            method,
            scope,
        })
    }

    /// [`read`](Self::read) for a listing `request`.
    pub fn of_request(
        problems: &mut Problems,
        method: &'static str,
        request: &impl Paged,
        scope: String,
    ) -> Option<Page> {
        Self::read(
            problems,
            method,
            (request.page_size(), request.page_token()),
            scope,
        )
    }

    /// How many rows to fetch: one more than the page, which tells whether another follows.
    pub fn fetch_limit(&self) -> u64 {
        self.request.size.saturating_add(1)
    }

    /// Trims the one extra row a query fetched and returns the page with its next token (empty on
    /// the last page).
    pub fn of<T>(&self, mut rows: Vec<T>) -> (Vec<T>, String) {
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
