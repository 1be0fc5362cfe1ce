//! The key hash every data owner reports with its purge counts, so that two plans, or a plan and an
//! execution, can be compared without shipping the keys themselves.

use sha2::{Digest as _, Sha256};

/// SHA-256 over the row keys in byte order, one per line, hex. The keys are sorted here, so the hash
/// does not depend on the order a query returned them in.
pub fn row_key_hash<K: AsRef<str>>(keys: impl IntoIterator<Item = K>) -> String {
    let mut keys: Vec<K> = keys.into_iter().collect();
    keys.sort_by(|left, right| left.as_ref().cmp(right.as_ref()));
    let mut digest = Sha256::new();
    for key in &keys {
        digest.update(key.as_ref().as_bytes());
        digest.update(b"\n");
    }
    hex::encode(digest.finalize())
}
