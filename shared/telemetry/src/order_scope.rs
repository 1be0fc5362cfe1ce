//! The order a unit of work belongs to, carried across calls as W3C baggage (`tenure.order_id`) so
//! that every span of an order's story, in every service, names the order (quality.md §5.3).
//!
//! Only a UUID travels this way: baggage is caller input, and a value of any other shape is dropped
//! rather than recorded, so it can never smuggle personal data into a span.

use std::future::Future;

use http::{HeaderMap, HeaderValue};

const BAGGAGE: &str = "baggage";
const ORDER_KEY: &str = "tenure.order_id";

tokio::task_local! {
    static ORDER_ID: String;
}

/// Runs `work` as part of the order `order_id`: the calls it makes to other services carry the id.
pub async fn in_order_scope<F: Future>(order_id: String, work: F) -> F::Output {
    ORDER_ID.scope(order_id, work).await
}

/// The order the current task works for, if any.
pub fn current_order_id() -> Option<String> {
    ORDER_ID.try_with(Clone::clone).ok()
}

/// Adds the current order, if any, to the outbound `baggage` header, keeping entries already there.
/// Returns the id it added.
pub fn inject_order_id(headers: &mut HeaderMap) -> Option<String> {
    let order_id = current_order_id()?;
    let entry = format!("{ORDER_KEY}={order_id}");
    let value = match headers.get(BAGGAGE).and_then(|value| value.to_str().ok()) {
        Some(existing) if !existing.trim().is_empty() => format!("{existing},{entry}"),
        _ => entry,
    };
    let value = HeaderValue::from_str(&value).ok()?;
    headers.insert(BAGGAGE, value);
    Some(order_id)
}

/// The order named in an inbound `baggage` header, when it is a well-formed UUID.
pub fn extract_order_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(BAGGAGE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|member| {
            // A member is `key=value` with optional `;property` suffixes.
            let pair = member.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key.trim() == ORDER_KEY).then(|| value.trim())
        })
        .find(|value| is_uuid(value))
        .map(str::to_owned)
}

fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = "0b7f3c1e-8a4d-4f2b-9c6e-1d2a3b4c5d6e";

    #[tokio::test]
    async fn an_order_in_scope_travels_as_baggage_and_comes_back() {
        let mut headers = HeaderMap::new();
        headers.insert(BAGGAGE, HeaderValue::from_static("vendor=1"));
        let added = in_order_scope(ORDER.to_owned(), async { inject_order_id(&mut headers) }).await;
        assert_eq!(added.as_deref(), Some(ORDER));
        assert_eq!(
            headers.get(BAGGAGE).and_then(|value| value.to_str().ok()),
            Some(format!("vendor=1,{ORDER_KEY}={ORDER}").as_str())
        );
        assert_eq!(extract_order_id(&headers).as_deref(), Some(ORDER));
    }

    #[test]
    fn outside_a_scope_nothing_is_added() {
        let mut headers = HeaderMap::new();
        assert_eq!(inject_order_id(&mut headers), None);
        assert!(headers.get(BAGGAGE).is_none());
    }

    #[test]
    fn only_a_uuid_is_taken_from_baggage() {
        for (raw, expected) in [
            (format!("{ORDER_KEY}={ORDER};p=1"), Some(ORDER)),
            (format!("{ORDER_KEY}=ada@example.com"), None),
            (format!("other={ORDER}"), None),
            (format!("{ORDER_KEY}={}", &ORDER[..35]), None),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(BAGGAGE, HeaderValue::from_str(&raw).expect("header"));
            assert_eq!(extract_order_id(&headers).as_deref(), expected, "{raw}");
        }
    }
}
