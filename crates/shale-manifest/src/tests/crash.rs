//! Crash at every point: after each completed call, before every single file-system
//! operation inside a call (including roll-overs), and with the last record torn at
//! every byte. Recovery must give the state before or after the call — never an
//! error, never a mix.

use std::sync::{Arc, Mutex};

use shale_fs::{CrashPolicy, KillPointFs, MemFs, Moment};

use super::version_set::assert_same;
use super::{dir, new_fs, recover, workload_edit};
use crate::current::read_current;
use crate::state::State;
use crate::{VersionSet, manifest_path};

/// A `KillPointFs` whose observer, while armed, takes a power-loss image just before
/// every file operation (create, append, sync, close, rename, remove, link,
/// directory sync).
#[derive(Clone)]
struct CrashPoints {
    fs: KillPointFs,
    images: Arc<Mutex<Option<Vec<MemFs>>>>,
}

impl CrashPoints {
    fn new() -> Self {
        let fs = KillPointFs::new(new_fs());
        let images: Arc<Mutex<Option<Vec<MemFs>>>> = Arc::default();
        let sink = Arc::clone(&images);
        let last_op = Mutex::new(None);
        fs.set_observer(move |p| {
            // A directory sync hits one site per file type: one image per operation.
            let mut last = last_op.lock().unwrap();
            if p.moment != Moment::Before || *last == Some(p.op_seq) {
                return;
            }
            *last = Some(p.op_seq);
            if let Some(v) = sink.lock().unwrap().as_mut() {
                v.push(p.crash_image(CrashPolicy::DropAllUnsynced, p.op_seq));
            }
        });
        CrashPoints { fs, images }
    }
    fn arm(&self) {
        *self.images.lock().unwrap() = Some(Vec::new());
    }
    fn take(&self) -> Vec<MemFs> {
        let mut images = self.images.lock().unwrap().take().unwrap_or_default();
        // The point after the last operation, too.
        images.push(self.fs.mem().crash_clone());
        images
    }
}

/// True if `got` is `a` or `b` (up to the next file number, see `assert_same`).
fn is_one_of(got: &State, a: &State, b: &State) -> bool {
    let same = |x: &State| {
        let mut g = got.clone();
        g.next_file_number = x.next_file_number;
        &g == x && got.next_file_number >= x.next_file_number
    };
    same(a) || same(b)
}

#[test]
fn crash_before_every_operation_and_after_every_call() {
    let fs = CrashPoints::new();
    let mut vs = VersionSet::create_new(Arc::new(fs.fs.clone()), dir(), 7).unwrap();
    vs.set_max_manifest_size(700);
    let mut rolls = 0;
    let mut points = 0;
    for i in 0..60 {
        let before = vs.state().clone();
        let e = workload_edit(&mut vs, i);
        let manifest_before = vs.manifest_file_number();
        fs.arm();
        vs.log_and_apply(e).unwrap();
        let images = fs.take();
        let after = vs.state().clone();
        if vs.manifest_file_number() != manifest_before {
            rolls += 1;
        }
        let last = images.len() - 1;
        for (k, image) in images.into_iter().enumerate() {
            points += 1;
            let got = recover(&image).unwrap_or_else(|e| panic!("step {i}, crash point {k}: {e}"));
            assert!(
                is_one_of(got.state(), &before, &after),
                "step {i}, crash point {k}: recovered a state that is neither before nor after"
            );
            if k == last {
                // After the call returned, the edit is durable.
                assert_same(got.state(), &after);
            }
            // Recovering again from the recovered image changes nothing.
            drop(got);
        }
    }
    assert!(rolls >= 3, "only {rolls} roll-overs");
    assert!(points > 150, "only {points} crash points");
}

#[test]
fn torn_last_record_at_every_byte() {
    let fs = new_fs();
    let mut vs = super::create(&fs);
    for i in 0..25 {
        let before = vs.state().clone();
        let e = workload_edit(&mut vs, i);
        let start = vs.manifest_size();
        vs.log_and_apply(e).unwrap();
        let after = vs.state().clone();
        let end = vs.manifest_size();
        let path = manifest_path(dir(), vs.manifest_file_number());
        for cut in start..=end {
            let image = fs.crash_clone();
            image.truncate(&path, cut as usize).unwrap();
            let got = recover(&image).unwrap_or_else(|e| panic!("step {i}, cut {cut}: {e}"));
            if cut == end {
                assert_same(got.state(), &after);
            } else {
                assert_same(got.state(), &before);
                assert!(
                    !got.recovery_notes().is_empty() || cut == start,
                    "cut {cut}"
                );
            }
            assert_eq!(
                read_current(&image, dir()).unwrap(),
                got.manifest_file_number()
            );
        }
    }
}

#[test]
fn recovery_survives_a_crash_during_recovery() {
    let fs = CrashPoints::new();
    let mut vs = VersionSet::create_new(Arc::new(fs.fs.clone()), dir(), 7).unwrap();
    for i in 0..20 {
        let e = workload_edit(&mut vs, i);
        vs.log_and_apply(e).unwrap();
    }
    let logged = vs.state().clone();
    drop(vs);
    fs.arm();
    let vs = VersionSet::recover(Arc::new(fs.fs.clone()), dir(), 7).unwrap();
    assert_same(vs.state(), &logged);
    for (k, image) in fs.take().into_iter().enumerate() {
        let got = recover(&image).unwrap_or_else(|e| panic!("crash point {k}: {e}"));
        assert_same(got.state(), &logged);
    }
}
