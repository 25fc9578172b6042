//! Entry points shared by the cargo-fuzz targets `version_edit` and `manifest_recover`
//! in `fuzz/` and the stable-toolchain corpus replay test (`tests/fuzz_corpus.rs`). Not
//! part of the supported API.

// A fuzz harness reports a broken property by panicking, like a test.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use shale_fs::{FileSystem, MemFs};

use crate::current::CURRENT_FILE;
use crate::{VersionEdit, VersionSet, check, dump, manifest_path};

/// The manifest number the fuzzed MANIFEST file gets (and the default CURRENT names): a new database's first manifest.
pub const FUZZ_MANIFEST_NUMBER: u64 = 1;

/// Flag bit of the first input byte: the CURRENT file's bytes come from the input.
pub const RAW_CURRENT: u8 = 0x80;

/// Decodes `data` as a version edit: must never panic; an edit it accepts must encode
/// into bytes that decode to an equal edit, and that encoding must be stable.
pub fn fuzz_version_edit(data: &[u8]) {
    let Ok(edit) = VersionEdit::decode(data) else {
        return;
    };
    let encoded = edit.encode();
    let again = VersionEdit::decode(&encoded).expect("an encoded edit decodes");
    assert_eq!(again, edit, "encode/decode changed the edit");
    assert_eq!(again.encode(), encoded, "encoding is not stable");
    // Display / Debug must not panic either.
    let _ = format!("{edit:?}");
}

/// Builds the input of [`fuzz_manifest_recover`] from its parts.
///
/// `current: None` lets the directory's CURRENT name the manifest correctly.
pub fn encode_recover_input(num_levels: u8, current: Option<&[u8]>, manifest: &[u8]) -> Vec<u8> {
    let mut out = vec![num_levels.wrapping_sub(1) & 0x3f];
    if let Some(c) = current {
        out[0] |= RAW_CURRENT;
        let len = u8::try_from(c.len()).expect("CURRENT of at most 255 bytes");
        out.push(len);
        out.extend_from_slice(c);
    }
    out.extend_from_slice(manifest);
    out
}

/// Treats `data` as a database directory holding only CURRENT and a MANIFEST (layout:
/// [`encode_recover_input`]: a flags byte with `num_levels - 1` in its low 6 bits and
/// [`RAW_CURRENT`]; with that flag a length byte and the CURRENT bytes; then the
/// manifest file's bytes) and runs `VersionSet::recover` over it in a [`MemFs`]. Must
/// return Ok or Err, never panic or hang. The manifest is also tried with every
/// fragment checksum recomputed (so mutations reach the edit decoder and the replay),
/// and `dump` and `check` run over the same files.
///
/// When recovery succeeds: every keyspace's version satisfies its invariants, and
/// recovering again from the manifest recovery just wrote gives the same state.
pub fn fuzz_manifest_recover(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let num_levels = usize::from(flags & 0x3f) + 1;
    let (current, manifest) = if flags & RAW_CURRENT != 0 {
        let Some((&len, rest)) = rest.split_first() else {
            return;
        };
        let len = usize::from(len).min(rest.len());
        let (c, m) = rest.split_at(len);
        (c.to_vec(), m)
    } else {
        let name = crate::manifest_file_name(FUZZ_MANIFEST_NUMBER);
        (format!("{name}\n").into_bytes(), rest)
    };
    run_recover(num_levels, &current, manifest);
    let fixed = shale_wal::fuzzing::fix_checksums(manifest);
    if fixed != manifest {
        run_recover(num_levels, &current, &fixed);
    }
}

fn run_recover(num_levels: usize, current: &[u8], manifest: &[u8]) {
    let fs = MemFs::new();
    let dir = Path::new("/db");
    fs.create_dir_all(dir).expect("mkdir in MemFs");
    let put = |path: &Path, bytes: &[u8]| {
        let mut f = fs.create(path).expect("create in MemFs");
        f.append(bytes).expect("append in MemFs");
        f.sync_data().expect("sync in MemFs");
    };
    let manifest_at = manifest_path(dir, FUZZ_MANIFEST_NUMBER);
    put(&dir.join(CURRENT_FILE), current);
    put(&manifest_at, manifest);
    fs.sync_dir(dir).expect("sync_dir in MemFs");

    let mut out = Vec::new();
    let _ = dump(&fs, &manifest_at, &mut out);
    let _ = check(&fs, dir, num_levels);

    let shared: Arc<dyn FileSystem> = Arc::new(fs.clone());
    let Ok(vs) = VersionSet::recover(shared.clone(), dir, num_levels) else {
        return;
    };
    for (id, name) in vs.keyspaces() {
        let v = vs.current(id);
        if let Err(e) = v.check_invariants() {
            panic!("recovered keyspace {id} ({name:?}) breaks the version invariants: {e}");
        }
    }
    let before = summary(&vs);
    drop(vs);
    let vs = VersionSet::recover(shared, dir, num_levels)
        .expect("the manifest that recovery wrote recovers");
    assert_eq!(summary(&vs), before, "recovering twice changed the state");
    // The directory holds no table files: `check` may only miss those.
    let problems: Vec<_> = check(&fs, dir, num_levels)
        .into_iter()
        .filter(|e| !matches!(e, shale_core::Error::NotFound(_)))
        .collect();
    assert!(
        problems.is_empty(),
        "check reports problems in a manifest that recovery wrote: {problems:?}"
    );
}

/// The recovered state, without the manifest and next file numbers (recovery allocates
/// one each time).
fn summary(vs: &VersionSet) -> String {
    let mut s = format!(
        "last_seqno={} live={:?} keyspaces={:?} next_keyspace_id={}\n",
        vs.last_seqno(),
        vs.live_files(),
        vs.keyspaces(),
        vs.next_keyspace_id()
    );
    for (id, _) in vs.keyspaces() {
        s.push_str(&format!("{id}: {:?}\n", vs.keyspace(id)));
    }
    s
}
