//! Arbitrary bytes as an encoded write batch: `WriteBatch::from_bytes` must never
//! panic, and a batch it accepts must re-encode to the same bytes and iterate exactly
//! `count()` writes. The check (`fuzz/batch_check.rs`) is shared with the stable corpus
//! replay test `crates/shale-core/tests/fuzz_corpus.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../batch_check.rs"]
mod batch_check;

fuzz_target!(|data: &[u8]| {
    batch_check::check_batch(data);
});
