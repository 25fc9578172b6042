//! [`MergingIterator`]: one ordered view over many child iterators.

use std::cmp::Ordering;

use super::{BoxedIterator, InternalIterator};
use crate::error::{Error, Result};
use crate::key::compare_internal_keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Reverse,
}

/// Merges any number of child iterators into one, forward and reverse, keeping a
/// binary heap of the valid children (min-heap forward, max-heap reverse).
///
/// Children are given newest source first; entries with equal internal keys (which
/// only duplicated sources produce) come out in child order. The first error of any
/// child makes the merged iterator invalid and is reported by `status`: a merged scan
/// never silently skips a source it failed to read.
pub struct MergingIterator {
    children: Vec<BoxedIterator>,
    heap: Vec<usize>,
    direction: Direction,
    error: Option<Error>,
}

impl MergingIterator {
    /// Merges `children`, newest source first.
    pub fn new(children: Vec<BoxedIterator>) -> Self {
        MergingIterator {
            heap: Vec::with_capacity(children.len()),
            children,
            direction: Direction::Forward,
            error: None,
        }
    }

    /// Number of child iterators.
    pub fn num_children(&self) -> usize {
        self.children.len()
    }

    fn child_key(&self, i: usize) -> &[u8] {
        self.children.get(i).map_or(&[], |c| c.key())
    }

    /// True if child `a` belongs above child `b` in the heap.
    fn above(&self, a: usize, b: usize) -> bool {
        let ord = compare_internal_keys(self.child_key(a), self.child_key(b));
        let ord = match self.direction {
            Direction::Forward => ord,
            Direction::Reverse => ord.reverse(),
        };
        ord.then(a.cmp(&b)) == Ordering::Less
    }

    fn sift_down(&mut self, mut pos: usize) {
        let n = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= n {
                return;
            }
            let mut best = left;
            let right = left + 1;
            if right < n && self.above(self.heap[right], self.heap[left]) {
                best = right;
            }
            if self.above(self.heap[best], self.heap[pos]) {
                self.heap.swap(best, pos);
                pos = best;
            } else {
                return;
            }
        }
    }

    /// Checks child `i` for an error; returns false (and records it) if it has one.
    fn check(&mut self, i: usize) -> bool {
        if self.error.is_some() {
            return false;
        }
        if let Some(Err(e)) = self.children.get(i).map(|c| c.status()) {
            self.error = Some(e);
            self.heap.clear();
            return false;
        }
        true
    }

    /// Rebuilds the heap from every valid child in the current direction.
    fn rebuild(&mut self) {
        self.heap.clear();
        for i in 0..self.children.len() {
            if !self.check(i) {
                return;
            }
            if self.children[i].valid() {
                self.heap.push(i);
            }
        }
        for pos in (0..self.heap.len() / 2).rev() {
            self.sift_down(pos);
        }
    }

    /// Advances the top child with `step` and restores the heap.
    fn step_top(&mut self, step: fn(&mut BoxedIterator)) {
        let Some(&top) = self.heap.first() else {
            return;
        };
        if let Some(child) = self.children.get_mut(top) {
            step(child);
        }
        if !self.check(top) {
            return;
        }
        if !self.children[top].valid() {
            self.heap.swap_remove(0);
        }
        self.sift_down(0);
    }

    /// Repositions every child except the current one around `key` for `dir`, then
    /// rebuilds the heap; the current child is moved by the caller's step afterwards.
    fn switch_direction(&mut self, dir: Direction) {
        let Some(&current) = self.heap.first() else {
            return;
        };
        let key = self.child_key(current).to_vec();
        for i in 0..self.children.len() {
            if i == current {
                continue;
            }
            let child = &mut self.children[i];
            match dir {
                Direction::Forward => {
                    child.seek(&key);
                    if child.valid() && child.key() == key.as_slice() {
                        child.next();
                    }
                }
                Direction::Reverse => {
                    child.seek_for_prev(&key);
                    if child.valid() && child.key() == key.as_slice() {
                        child.prev();
                    }
                }
            }
        }
        self.direction = dir;
        self.rebuild();
        // `current` is still positioned at `key`, and every other child is strictly past
        // it in the new direction, so it is on top again.
        debug_assert!(self.error.is_some() || self.heap.first() == Some(&current));
    }

    fn top(&self) -> Option<&BoxedIterator> {
        self.heap.first().and_then(|&i| self.children.get(i))
    }
}

impl InternalIterator for MergingIterator {
    fn valid(&self) -> bool {
        self.error.is_none() && !self.heap.is_empty()
    }

    fn seek_to_first(&mut self) {
        for c in &mut self.children {
            c.seek_to_first();
        }
        self.direction = Direction::Forward;
        self.rebuild();
    }

    fn seek_to_last(&mut self) {
        for c in &mut self.children {
            c.seek_to_last();
        }
        self.direction = Direction::Reverse;
        self.rebuild();
    }

    fn seek(&mut self, target: &[u8]) {
        for c in &mut self.children {
            c.seek(target);
        }
        self.direction = Direction::Forward;
        self.rebuild();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        for c in &mut self.children {
            c.seek_for_prev(target);
        }
        self.direction = Direction::Reverse;
        self.rebuild();
    }

    fn next(&mut self) {
        if !self.valid() {
            return;
        }
        if self.direction != Direction::Forward {
            self.switch_direction(Direction::Forward);
        }
        self.step_top(|c| c.next());
    }

    fn prev(&mut self) {
        if !self.valid() {
            return;
        }
        if self.direction != Direction::Reverse {
            self.switch_direction(Direction::Reverse);
        }
        self.step_top(|c| c.prev());
    }

    fn key(&self) -> &[u8] {
        self.top().map_or(&[], |c| c.key())
    }

    fn value(&self) -> &[u8] {
        self.top().map_or(&[], |c| c.value())
    }

    fn status(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iter::VecIterator;
    use crate::key::{ValueKind, make_internal_key};
    use proptest::prelude::*;

    fn entries(keys: &[(u8, u64)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        keys.iter()
            .map(|&(k, s)| {
                (
                    make_internal_key(&[k], s, ValueKind::Value),
                    vec![k, s as u8],
                )
            })
            .collect()
    }

    /// Applies `ops` to both the merging iterator and one VecIterator over all entries,
    /// checking they agree after every step.
    fn check_against_model(sources: Vec<Vec<(Vec<u8>, Vec<u8>)>>, ops: Vec<(u8, u8, u64)>) {
        let all: Vec<_> = sources.iter().flatten().cloned().collect();
        let mut model = VecIterator::new(all);
        let children: Vec<BoxedIterator> = sources
            .into_iter()
            .map(|s| Box::new(VecIterator::new(s)) as BoxedIterator)
            .collect();
        let mut merged = MergingIterator::new(children);
        for (op, k, s) in ops {
            let target = make_internal_key(&[k], s, ValueKind::Value);
            match op % 6 {
                0 => {
                    merged.seek_to_first();
                    model.seek_to_first();
                }
                1 => {
                    merged.seek_to_last();
                    model.seek_to_last();
                }
                2 => {
                    merged.seek(&target);
                    model.seek(&target);
                }
                3 => {
                    merged.seek_for_prev(&target);
                    model.seek_for_prev(&target);
                }
                4 if model.valid() => {
                    merged.next();
                    model.next();
                }
                5 if model.valid() => {
                    merged.prev();
                    model.prev();
                }
                _ => {}
            }
            assert_eq!(merged.valid(), model.valid());
            if model.valid() {
                assert_eq!(merged.key(), model.key());
                assert_eq!(merged.value(), model.value());
            }
            assert!(merged.status().is_ok());
        }
    }

    #[test]
    fn direction_switch_mid_scan() {
        let a = entries(&[(1, 1), (3, 1), (5, 1)]);
        let b = entries(&[(2, 1), (3, 2), (6, 1)]);
        let mut m = MergingIterator::new(vec![
            Box::new(VecIterator::new(a)) as BoxedIterator,
            Box::new(VecIterator::new(b)),
        ]);
        m.seek_to_first();
        let mut seen = vec![];
        while m.valid() {
            seen.push(m.value().to_vec());
            m.next();
        }
        assert_eq!(seen.len(), 6);
        // Walk forward three, back two, forward again.
        m.seek_to_first();
        m.next();
        m.next(); // at (3, seq 2)
        assert_eq!(m.value(), &[3, 2]);
        m.prev();
        assert_eq!(m.value(), &[2, 1]);
        m.next();
        assert_eq!(m.value(), &[3, 2]);
        m.next();
        assert_eq!(m.value(), &[3, 1]);
    }

    #[test]
    fn empty_children() {
        let mut m = MergingIterator::new(vec![]);
        m.seek_to_first();
        assert!(!m.valid());
        assert_eq!(m.key(), b"");
        let mut m = MergingIterator::new(vec![Box::new(VecIterator::default()) as BoxedIterator]);
        m.seek_to_last();
        assert!(!m.valid());
        assert!(m.status().is_ok());
    }

    proptest! {
    #![proptest_config(ProptestConfig {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AA1E),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

        #[test]
        fn matches_single_sorted_source(
            sources in proptest::collection::vec(
                proptest::collection::btree_set((0u8..20, 0u64..50), 0..12), 0..5),
            ops in proptest::collection::vec((0u8..6, 0u8..21, 0u64..51), 1..60),
        ) {
            // Give every (key, seq) pair to exactly one source, as seqnos are unique.
            let mut used = std::collections::BTreeSet::new();
            let sources: Vec<_> = sources
                .into_iter()
                .map(|s| {
                    let keys: Vec<_> = s.into_iter().filter(|p| used.insert(*p)).collect();
                    entries(&keys)
                })
                .collect();
            check_against_model(sources, ops);
        }
    }
}
