//! Arbitrary bytes as a log file in a MemFs: read as a WAL and as a manifest in every
//! recovery mode, then dumped. Must never panic; every record returned must be made of
//! fragments with valid checksums. Shares `shale_wal::fuzzing::fuzz_wal` with the
//! stable corpus replay test (`crates/shale-wal/tests/fuzz_corpus.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shale_wal::fuzzing::fuzz_wal(data);
});
