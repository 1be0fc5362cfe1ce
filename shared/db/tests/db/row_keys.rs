//! The key hash data owners report with their purge counts.

use tenure_db::row_key_hash;

#[test]
fn the_hash_ignores_order_and_sees_every_key() {
    assert_eq!(row_key_hash(["b", "a"]), row_key_hash(["a", "b"]));
    assert_ne!(row_key_hash(["a", "b"]), row_key_hash(["a", "c"]));
    assert_ne!(row_key_hash(["ab"]), row_key_hash(["a", "b"]));
}
