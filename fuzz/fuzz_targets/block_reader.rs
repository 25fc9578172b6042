//! Arbitrary bytes as decoded block contents: restart array checks, forward and
//! reverse iteration, seeks. Shares `shale_sstable::fuzzing::fuzz_block` with the
//! stable corpus replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shale_sstable::fuzzing::fuzz_block(data);
});
