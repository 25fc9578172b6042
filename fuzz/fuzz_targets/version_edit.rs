//! Arbitrary bytes as a manifest record: `VersionEdit::decode` must never panic, and an
//! edit it accepts must survive encode + decode unchanged. Shares
//! `shale_manifest::fuzzing::fuzz_version_edit` with the stable corpus replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    shale_manifest::fuzzing::fuzz_version_edit(data);
});
