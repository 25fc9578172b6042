//! Arbitrary bytes as a CURRENT + MANIFEST pair in a MemFs directory:
//! `VersionSet::recover` must return Ok or Err, never panic or hang. Shares
//! `shale_manifest::fuzzing::fuzz_manifest_recover` with the stable corpus replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shale_manifest::fuzzing::fuzz_manifest_recover(data);
});
