use shale_core::ValueKind;
use shale_core::key::make_internal_key;

use super::file;
use crate::OutputSplitter;

fn k(u: &str, seq: u64) -> Vec<u8> {
    make_internal_key(u.as_bytes(), seq, ValueKind::Value)
}

#[test]
fn cuts_at_target_size_but_never_inside_a_user_key() {
    let mut s = OutputSplitter::new(Vec::new(), 1000);
    assert!(!s.should_start_new_file(&k("a", 9), 0));
    assert!(!s.should_start_new_file(&k("b", 9), 999));
    assert!(!s.should_start_new_file(&k("b", 5), 5000), "same user key");
    assert!(s.should_start_new_file(&k("c", 9), 1000));
    assert!(!s.should_start_new_file(&k("d", 9), 10));
}

#[test]
fn cuts_at_next_level_boundaries_once_an_eighth_full() {
    let gp = vec![file(1, "c", "e", 10, 1), file(2, "g", "i", 10, 1)];
    let mut s = OutputSplitter::new(gp, 800);
    assert!(!s.should_start_new_file(&k("a", 1), 0));
    assert!(!s.should_start_new_file(&k("d", 1), 500));
    // Passing the end of [c,e] with 500 >= 800 / 8 bytes written: cut.
    assert!(s.should_start_new_file(&k("f", 1), 500));
    // Passing [g,i] with only 50 bytes: no cut.
    assert!(!s.should_start_new_file(&k("h", 1), 40));
    assert!(!s.should_start_new_file(&k("j", 1), 50));
}

#[test]
fn cuts_when_grandparent_overlap_is_too_large() {
    // target 1000 → max overlap 10 000; target/8 = 125 not reached.
    let gp: Vec<_> = (0..30u64)
        .map(|i| {
            let key = format!("k{i:02}");
            file(i, &key, &key, 1000, 1)
        })
        .collect();
    let mut s = OutputSplitter::new(gp, 1000);
    assert!(!s.should_start_new_file(&k("k00", 1), 0));
    let mut cuts = Vec::new();
    for i in 1..30 {
        if s.should_start_new_file(&k(&format!("k{i:02}"), 1), 1) {
            cuts.push(i);
        }
    }
    // Overlap counts files passed after the first key: cut once it exceeds 10 000.
    assert_eq!(cuts, vec![11, 22]);
}

#[test]
fn first_call_never_cuts_on_size() {
    // A caller that skips the first key of the output: the splitter cannot know the
    // previous user key, so it does not cut (it might be the same user key).
    let mut s = OutputSplitter::new(Vec::new(), 10);
    assert!(!s.should_start_new_file(&k("a", 1), 1_000_000));
    assert!(s.should_start_new_file(&k("b", 1), 1_000_000));
}
