//! VersionSet: logging, recovery, roll-over, keyspaces, invalid edits, poisoning.

use std::sync::Arc;

use shale_core::Error;
use shale_fs::{ErrorKind, FaultFs, FileSystem, MemFs, Op as FaultOp, Rule};

use super::{create, dir, file, new_fs, recover, workload_edit};
use crate::current::read_current;
use crate::state::State;
use crate::{VersionEdit, VersionSet, manifest_file_name};

/// States equal except for the next file number, which recovery raises (it allocates
/// the new manifest's number); the recovered one must be above the logged one.
pub(crate) fn assert_same(recovered: &State, logged: &State) {
    assert!(
        recovered.next_file_number >= logged.next_file_number,
        "next file number went back: {} < {}",
        recovered.next_file_number,
        logged.next_file_number
    );
    let mut a = recovered.clone();
    a.next_file_number = logged.next_file_number;
    assert_eq!(&a, logged);
}

fn manifests(fs: &MemFs) -> Vec<String> {
    fs.list(dir())
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("MANIFEST-"))
        .collect()
}

#[test]
fn create_apply_recover_identical() {
    let fs = new_fs();
    let mut vs = create(&fs);
    for i in 0..120 {
        let e = workload_edit(&mut vs, i);
        vs.log_and_apply(e).unwrap();
        vs.state()
            .keyspaces
            .values()
            .for_each(|k| k.current.check_invariants().unwrap());
    }
    assert!(vs.keyspaces().len() > 1);
    assert!(vs.current(0).num_files() > 0);
    let logged = vs.state().clone();
    let live = vs.live_files();
    let min_log = vs.min_log_number();
    let old_manifest = vs.manifest_file_number();
    drop(vs);
    let vs = recover(&fs).unwrap();
    assert_same(vs.state(), &logged);
    assert_eq!(vs.live_files(), live);
    assert_eq!(vs.min_log_number(), min_log);
    assert!(vs.manifest_file_number() > old_manifest);
    assert_eq!(
        manifests(&fs),
        vec![manifest_file_name(vs.manifest_file_number())]
    );
    assert_eq!(read_current(&fs, dir()).unwrap(), vs.manifest_file_number());
    assert!(vs.recovery_notes().is_empty());
    // And again, from the crash image.
    let again = recover(&fs.crash_clone()).unwrap();
    assert_same(again.state(), &logged);
}

#[test]
fn roll_over_with_tiny_max_size() {
    let fs = new_fs();
    let mut vs = create(&fs);
    vs.set_max_manifest_size(600);
    let mut numbers = vec![vs.manifest_file_number()];
    for i in 0..150 {
        let e = workload_edit(&mut vs, i);
        vs.log_and_apply(e).unwrap();
        if numbers.last() != Some(&vs.manifest_file_number()) {
            numbers.push(vs.manifest_file_number());
        }
        assert_eq!(
            manifests(&fs),
            vec![manifest_file_name(vs.manifest_file_number())]
        );
        assert_eq!(read_current(&fs, dir()).unwrap(), vs.manifest_file_number());
        // A manifest never grows much past the limit before it rolls.
        assert!(vs.manifest_size() < 600 + 2000, "{}", vs.manifest_size());
    }
    assert!(numbers.len() > 5, "rolled only {} times", numbers.len() - 1);
    let logged = vs.state().clone();
    drop(vs);
    let vs = recover(&fs.crash_clone()).unwrap();
    assert_same(vs.state(), &logged);
    // File numbers handed out never collide with manifests.
    assert!(!vs.live_files().iter().any(|n| numbers.contains(n)));
}

#[test]
fn keyspaces_add_drop_and_ids_not_reused() {
    let fs = new_fs();
    let mut vs = create(&fs);
    assert_eq!(vs.keyspaces(), vec![(0, "default".to_owned())]);
    let id = vs.next_keyspace_id();
    assert_eq!(id, 1);
    let mut add = VersionEdit::for_keyspace(id);
    add.add_keyspace = Some((id, "users".to_owned()));
    add.log_number = Some(4);
    vs.log_and_apply(add.clone()).unwrap();
    assert_eq!(vs.keyspace_id("users"), Some(1));
    assert_eq!(vs.log_number(1), 4);
    assert_eq!(vs.min_log_number(), 0);

    // Same id again, same name again, dropping default: all rejected.
    assert!(matches!(
        vs.log_and_apply(add).unwrap_err(),
        Error::InvalidArgument(_)
    ));
    let mut dup = VersionEdit::for_keyspace(2);
    dup.add_keyspace = Some((2, "users".to_owned()));
    assert!(vs.log_and_apply(dup).is_err());
    let drop_default = VersionEdit {
        drop_keyspace: Some(0),
        ..VersionEdit::default()
    };
    assert!(vs.log_and_apply(drop_default).is_err());

    let n = vs.new_file_number();
    let mut flush = VersionEdit::for_keyspace(1);
    flush.add_file(0, file(n, "a", "b", 1));
    vs.log_and_apply(flush).unwrap();
    assert!(vs.live_files().contains(&n));
    // The same file number cannot be added to another keyspace.
    let mut again = VersionEdit::for_keyspace(0);
    again.add_file(0, file(n, "a", "b", 1));
    assert!(vs.log_and_apply(again).is_err());

    vs.log_and_apply(VersionEdit {
        drop_keyspace: Some(1),
        ..VersionEdit::default()
    })
    .unwrap();
    assert!(vs.keyspace(1).is_none());
    assert_eq!(vs.current(1).num_files(), 0);
    assert!(!vs.live_files().contains(&n));
    assert_eq!(vs.next_keyspace_id(), 2);
    drop(vs);
    let vs = recover(&fs).unwrap();
    assert_eq!(vs.keyspaces(), vec![(0, "default".to_owned())]);
    assert_eq!(
        vs.next_keyspace_id(),
        2,
        "a dropped keyspace's id is never reused"
    );
}

#[test]
fn invalid_edit_leaves_everything_unchanged() {
    let fs = new_fs();
    let mut vs = create(&fs);
    for i in 0..10 {
        let e = workload_edit(&mut vs, i);
        vs.log_and_apply(e).unwrap();
    }
    let before = vs.state().clone();
    let size = vs.manifest_size();
    let bad_edits = [
        {
            let mut e = VersionEdit::default();
            e.delete_file(0, 999_999);
            e
        },
        {
            let mut e = VersionEdit::default();
            e.add_file(9, file(999_999, "a", "b", 1));
            e
        },
        VersionEdit::for_keyspace(77).tap_log(5),
        VersionEdit::default().tap_log(0).tap_keyspace_log_back(&vs),
    ];
    for e in bad_edits {
        let err = vs.log_and_apply(e.clone()).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{e:?}: {err:?}");
        assert_eq!(vs.state(), &before);
        assert_eq!(vs.manifest_size(), size);
        assert!(!vs.is_poisoned());
    }
    drop(vs);
    assert_same(recover(&fs).unwrap().state(), &before);
}

trait Tap {
    fn tap_log(self, n: u64) -> Self;
    fn tap_keyspace_log_back(self, vs: &VersionSet) -> Self;
}

impl Tap for VersionEdit {
    fn tap_log(mut self, n: u64) -> Self {
        self.log_number = Some(n);
        self
    }
    fn tap_keyspace_log_back(mut self, vs: &VersionSet) -> Self {
        self.log_number = Some(vs.log_number(0).saturating_sub(1));
        self
    }
}

#[test]
fn failed_sync_poisons_and_installs_nothing() {
    for roll in [false, true] {
        let mem = new_fs();
        let fs = FaultFs::with_mem(&mem);
        let mut vs = VersionSet::create_new(Arc::new(fs.clone()), dir(), 7).unwrap();
        for i in 0..5 {
            let e = workload_edit(&mut vs, i);
            vs.log_and_apply(e).unwrap();
        }
        if roll {
            vs.set_max_manifest_size(1);
        }
        let before = vs.state().clone();
        let failing = fs.add_rule(Rule::error(FaultOp::Sync, ErrorKind::Eio));
        let e = workload_edit(&mut vs, 5);
        let installed_before = vs.state().clone();
        assert!(vs.log_and_apply(e.clone()).is_err());
        assert!(vs.is_poisoned());
        assert_eq!(vs.state(), &installed_before);
        fs.remove_rule(failing);
        assert!(matches!(
            vs.log_and_apply(e).unwrap_err(),
            Error::Poisoned(_)
        ));
        assert!(matches!(
            vs.log_and_apply(VersionEdit::default()).unwrap_err(),
            Error::Poisoned(_)
        ));
        drop(vs);
        // After a power loss, the failed edit is not there (it was never synced).
        let crashed = mem.crash_clone();
        let vs = recover(&crashed).unwrap();
        let mut expected = before.clone();
        expected.next_file_number = vs.state().next_file_number;
        assert_eq!(vs.state().keyspaces, expected.keyspaces, "roll={roll}");
    }
}

#[test]
fn counters_and_file_numbers() {
    let fs = new_fs();
    let mut vs = create(&fs);
    assert_eq!(vs.manifest_file_number(), 1);
    assert_eq!(vs.new_file_number(), 2);
    vs.mark_file_number_used(40);
    assert_eq!(vs.next_file_number(), 41);
    vs.mark_file_number_used(3);
    assert_eq!(vs.next_file_number(), 41);
    vs.set_last_seqno(100);
    vs.set_last_seqno(50);
    assert_eq!(vs.last_seqno(), 100);
    vs.log_and_apply(VersionEdit::default()).unwrap();
    drop(vs);
    let vs = recover(&fs).unwrap();
    assert_eq!(vs.last_seqno(), 100);
    assert!(vs.next_file_number() > 41);
    assert!(VersionSet::create_new(Arc::new(new_fs()), dir(), 1).is_err());
    assert!(VersionSet::create_new(Arc::new(new_fs()), dir(), 65).is_err());
}

#[test]
fn recovering_with_fewer_levels_fails_cleanly() {
    let fs = new_fs();
    let mut vs = create(&fs);
    let n = vs.new_file_number();
    let mut e = VersionEdit::default();
    e.add_file(6, file(n, "a", "b", 1));
    vs.log_and_apply(e).unwrap();
    drop(vs);
    let err = VersionSet::recover(Arc::new(fs.clone()), dir(), 4).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains("only 4 levels"), "{err}");
}
