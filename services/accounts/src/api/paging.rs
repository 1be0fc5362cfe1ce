//! Page tokens: opaque, bound to the method, the caller's reach and the filter, so a token replayed
//! for another query (or by another tenant) is refused instead of resuming somewhere unexpected.

use sha2::{Digest as _, Sha256};
use tenure_domain::Problems;

use crate::domain::PageRequest;

/// The binding of a token: method, reach and filter.
fn binding(method: &str, scope: &str) -> String {
    let digest = Sha256::digest(format!("{method}\n{scope}").as_bytes());
    hex::encode(&digest[..8])
}

/// Reads `page_size` and `page_token`, recording problems under their field names.
pub(crate) fn page_request(
    problems: &mut Problems,
    method: &str,
    scope: &str,
    page_size: u32,
    page_token: &str,
) -> Option<PageRequest> {
    let size = problems.check("page_size", PageRequest::size(page_size));
    let offset = if page_token.is_empty() {
        Some(0)
    } else {
        let expected = binding(method, scope);
        let offset = page_token
            .strip_prefix(expected.as_str())
            .and_then(|rest| u64::from_str_radix(rest, 16).ok());
        problems.check("page_token", offset.ok_or_else(PageRequest::bad_token))
    };
    Some(PageRequest {
        size: size?,
        offset: offset?,
    })
}

/// Trims the one extra row a query fetched and returns the page with its next token (empty on the
/// last page).
pub(crate) fn page_of<T>(
    mut rows: Vec<T>,
    page: PageRequest,
    method: &str,
    scope: &str,
) -> (Vec<T>, String) {
    let has_more = u64::try_from(rows.len()).is_ok_and(|count| count > page.size);
    if !has_more {
        return (rows, String::new());
    }
    rows.truncate(usize::try_from(page.size).unwrap_or(usize::MAX));
    let next = page.offset + page.size;
    (rows, format!("{}{next:x}", binding(method, scope)))
}
