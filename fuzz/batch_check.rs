//! The `write_batch` fuzz target's check, shared (`#[path]` include) by
//! `fuzz_targets/write_batch.rs` and the stable corpus replay test
//! `crates/shale-core/tests/fuzz_corpus.rs`. Uses only shale-core's public API.

use shale_core::{ValueKind, WriteBatch};

/// Decodes `data` as a write batch: must never panic; an accepted batch must re-encode
/// to the same bytes, iterate exactly `count()` writes, and rebuild write by write into
/// the same writes.
pub fn check_batch(data: &[u8]) {
    let Ok(batch) = WriteBatch::from_bytes(data) else {
        return;
    };
    assert_eq!(batch.as_bytes(), data, "re-encoding changed the batch");
    assert_eq!(
        batch.iter().count(),
        batch.count() as usize,
        "iter count != count"
    );
    // Rebuilt write by write, it holds the same writes. (Not necessarily the same
    // bytes: the decoder accepts over-long varints, e.g. keyspace 113 as `f1 00`, which
    // `push` writes in their short form.)
    let mut rebuilt = WriteBatch::new();
    for op in batch.iter() {
        let value = (op.kind != ValueKind::Delete).then_some(op.value);
        rebuilt.push(op.kind, op.keyspace, op.key, value);
    }
    rebuilt.set_seq(batch.seq());
    assert_eq!(rebuilt.count(), batch.count());
    assert_eq!(rebuilt.seq(), batch.seq());
    assert!(rebuilt.as_bytes().len() <= data.len());
    assert!(
        rebuilt.iter().eq(batch.iter()),
        "rebuilt batch holds other writes"
    );
    let again = WriteBatch::from_bytes(rebuilt.as_bytes()).expect("rebuilt batch decodes");
    assert_eq!(again, rebuilt);
}
