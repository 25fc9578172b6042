//! Arbitrary bytes decoded into a bounded sequence of operations (put, delete, batch,
//! get, scans both ways, snapshots, flush, compact_range, merges, clean reopen, power loss with
//! a crash policy and seed) run against `shaledb::Db` on a MemFs and a `BTreeMap`
//! model. The runner is `fuzz/model_runner.rs`, shared with the stable corpus replay
//! test `crates/shaledb/tests/fuzz_model.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../model_runner.rs"]
mod model_runner;

fuzz_target!(|data: &[u8]| {
    model_runner::run_bytes(data);
});
