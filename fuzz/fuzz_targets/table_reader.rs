//! Arbitrary bytes as a table file: open, scan both ways, seek, get, verify, dump.
//! Must never panic or allocate without bound. The logic lives in
//! `shale_sstable::fuzzing` so `tests/fuzz_corpus.rs` replays the corpus on stable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shale_sstable::fuzzing::fuzz_table(data);
});
