//! Resolving merge operands: on reads (gets and scans) and in flush/compaction.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
use shale_compaction::CompactionIterator;
use shale_core::key::parse_internal_key;
use shale_core::{Error, FragmentedTombstones, MergeOperator, Result, SeqNo, ValueKind};

/// The base a chain of operands lands on.
#[derive(Debug, Clone)]
pub(crate) enum Base {
    /// No older version, a tombstone, or an expired value.
    Absent,
    /// A live value (an expiring one keeps its expiry in `expiry`).
    Value { value: Bytes, expiry: Option<u64> },
}

/// Calls the operator, turning an error or a panic into [`Error::Merge`].
pub(crate) fn full_merge(
    op: &dyn MergeOperator,
    key: &[u8],
    base: Option<&[u8]>,
    operands_oldest_first: &[&[u8]],
) -> Result<Vec<u8>> {
    let run = catch_unwind(AssertUnwindSafe(|| {
        op.full_merge(key, base, operands_oldest_first)
    }));
    let detail = match run {
        Ok(Ok(v)) => return Ok(v),
        Ok(Err(detail)) => detail,
        Err(_) => format!("the merge operator {} panicked", op.name()),
    };
    Err(Error::Merge {
        key: String::from_utf8_lossy(key).into_owned(),
        detail,
    })
}

/// The base a version stands for at `now_ms` (`None` for a merge operand).
pub(crate) fn base_of(kind: ValueKind, stored: &Bytes, now_ms: u64) -> Result<Option<Base>> {
    Ok(Some(match kind {
        ValueKind::Value => Base::Value {
            value: stored.clone(),
            expiry: None,
        },
        ValueKind::Delete | ValueKind::RangeDelete => Base::Absent,
        ValueKind::ValueWithExpiry => match shale_core::ttl::decode(stored) {
            Some((expiry, _)) if expiry <= now_ms => Base::Absent,
            Some((expiry, _)) => Base::Value {
                value: stored.slice(shale_core::ttl::EXPIRY_LEN..),
                expiry: Some(expiry),
            },
            None => {
                return Err(Error::corruption(
                    "<merged view>",
                    0,
                    "expiring value shorter than its expiry",
                ));
            }
        },
        ValueKind::Merge => return Ok(None),
    }))
}

/// The value a reader sees for operands `newest_first` over `base`.
pub(crate) fn resolve(
    op: Option<&Arc<dyn MergeOperator>>,
    key: &[u8],
    base: &Base,
    newest_first: &[Bytes],
) -> Result<Bytes> {
    let op = op.ok_or_else(|| Error::Merge {
        key: String::from_utf8_lossy(key).into_owned(),
        detail: "the database has merge operands but no merge operator is configured".into(),
    })?;
    let ops: Vec<&[u8]> = newest_first.iter().rev().map(|b| b.as_ref()).collect();
    let base = match base {
        Base::Absent => None,
        Base::Value { value, .. } => Some(value.as_ref()),
    };
    full_merge(op.as_ref(), key, base, &ops).map(Bytes::from)
}

/// What every flush, compaction and checkpoint writes through: the compaction
/// iterator (snapshot stripes, tombstones, expiry) followed by merge collapsing.
#[derive(Clone)]
pub(crate) struct OutputFilter {
    pub snapshots: Vec<SeqNo>,
    pub now_ms: u64,
    pub merge: Option<Arc<dyn MergeOperator>>,
    pub compaction_filter: Option<Arc<dyn crate::CompactionFilter>>,
    pub bottommost: bool,
    /// The job's range tombstones: entries they delete for every reader are dropped.
    pub tombstones: Option<Arc<FragmentedTombstones>>,
}

impl OutputFilter {
    /// The filter for output written now for keyspace `ks` (`bottommost` per the job).
    pub(crate) fn for_ks(
        db: &crate::db::DbInner,
        ks: &crate::keyspace::Ks,
        bottommost: bool,
    ) -> Self {
        let opts = ks.options();
        OutputFilter {
            snapshots: db.snapshots.all(),
            now_ms: db.opts.clock.now_ms(),
            merge: opts.merge_operator.clone(),
            compaction_filter: opts.compaction_filter.clone(),
            bottommost,
            tombstones: None,
        }
    }

    /// The same filter, honouring `tombstones` (if any).
    pub(crate) fn with_tombstones(mut self, tombstones: Option<Arc<FragmentedTombstones>>) -> Self {
        self.tombstones = tombstones.filter(|t| !t.is_empty());
        self
    }

    /// The range tombstones the output must hold.
    pub(crate) fn output_tombstones(&self) -> FragmentedTombstones {
        match &self.tombstones {
            Some(t) => {
                crate::range_del_filter::output_tombstones(t, &self.snapshots, self.bottommost)
            }
            None => FragmentedTombstones::default(),
        }
    }

    /// `input` filtered.
    pub(crate) fn apply(self, input: shale_core::iter::BoxedIterator) -> MergeCollapse {
        let input: shale_core::iter::BoxedIterator = match self.tombstones {
            Some(t) => Box::new(crate::range_del_filter::RangeDelFilter::new(
                input,
                t,
                self.snapshots.clone(),
            )),
            None => input,
        };
        let inner = CompactionIterator::new(input, self.snapshots.clone(), self.bottommost)
            .with_expiry_clock(self.now_ms);
        let mut out = MergeCollapse::new(
            inner,
            self.merge,
            self.snapshots,
            self.bottommost,
            self.now_ms,
        );
        out.filter = self.compaction_filter;
        out
    }
}

/// Collapses merge operands in flush/compaction output: within one snapshot stripe,
/// operands over a base in the same stripe become one value (keeping the base's
/// expiry); at the bottommost level, operands with nothing older become one value. An
/// operator failure leaves the operands as they are (they are resolved on read).
pub(crate) struct MergeCollapse {
    inner: CompactionIterator,
    op: Option<Arc<dyn MergeOperator>>,
    snapshots: Vec<SeqNo>,
    bottommost: bool,
    now_ms: u64,
    out: VecDeque<(Vec<u8>, Vec<u8>)>,
    filter: Option<Arc<dyn crate::CompactionFilter>>,
}

impl MergeCollapse {
    pub(crate) fn new(
        inner: CompactionIterator,
        op: Option<Arc<dyn MergeOperator>>,
        mut snapshots: Vec<SeqNo>,
        bottommost: bool,
        now_ms: u64,
    ) -> Self {
        snapshots.sort_unstable();
        MergeCollapse {
            inner,
            op,
            snapshots,
            bottommost,
            now_ms,
            out: VecDeque::new(),
            filter: None,
        }
    }

    pub(crate) fn seek_to_first(&mut self) {
        self.inner.seek_to_first();
        self.fill();
    }

    pub(crate) fn valid(&self) -> bool {
        !self.out.is_empty()
    }

    pub(crate) fn key(&self) -> &[u8] {
        self.out.front().map_or(&[], |e| &e.0)
    }

    pub(crate) fn value(&self) -> &[u8] {
        self.out.front().map_or(&[], |e| &e.1)
    }

    pub(crate) fn next(&mut self) {
        self.out.pop_front();
        if self.out.is_empty() {
            self.fill();
        }
    }

    pub(crate) fn status(&self) -> Result<()> {
        self.inner.status()
    }

    fn stripe(&self, seq: SeqNo) -> usize {
        self.snapshots.partition_point(|&s| s < seq)
    }

    fn take(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        if !self.inner.valid() {
            return None;
        }
        let e = (self.inner.key().to_vec(), self.inner.value().to_vec());
        self.inner.next();
        Some(e)
    }

    /// Queues the next output entry (or a run of untouched operands).
    fn fill(&mut self) {
        let Some(first) = self.take() else { return };
        let parsed = parse_internal_key(&first.0);
        let Some(p) = parsed.filter(|p| p.kind == ValueKind::Merge && self.op.is_some()) else {
            let entry = self.apply_filter(first);
            self.out.push_back(entry);
            return;
        };
        let (user_key, stripe) = (p.user_key.to_vec(), self.stripe(p.seq));
        // The run: this stripe's operands of the key, and its base if it is here.
        let mut run = vec![first];
        let mut base_here = false;
        let mut older_versions = false;
        while self.inner.valid() {
            let Some(q) = parse_internal_key(self.inner.key()) else {
                break;
            };
            if q.user_key != user_key.as_slice() {
                break;
            }
            if self.stripe(q.seq) != stripe {
                older_versions = true;
                break;
            }
            let is_merge = q.kind == ValueKind::Merge;
            if let Some(e) = self.take() {
                run.push(e);
            }
            if !is_merge {
                base_here = true;
                break;
            }
        }
        let nothing_older = !base_here && !older_versions && self.bottommost;
        if !(base_here || nothing_older) {
            self.out.extend(run);
            return;
        }
        match self.collapse(&user_key, &run, base_here) {
            Some(entry) => {
                let entry = self.apply_filter(entry);
                self.out.push_back(entry);
            }
            None => self.out.extend(run),
        }
    }

    /// Runs the compaction filter on a value no snapshot can see (the latest stripe);
    /// every other entry passes unchanged.
    fn apply_filter(&self, entry: (Vec<u8>, Vec<u8>)) -> (Vec<u8>, Vec<u8>) {
        let Some(filter) = &self.filter else {
            return entry;
        };
        let Some(p) = parse_internal_key(&entry.0) else {
            return entry;
        };
        if self.stripe(p.seq) != self.snapshots.len() {
            return entry;
        }
        let (expiry, value) = match p.kind {
            ValueKind::Value => (None, entry.1.as_slice()),
            ValueKind::ValueWithExpiry => match shale_core::ttl::decode(&entry.1) {
                Some((e, v)) if e > self.now_ms => (Some(e), v),
                _ => return entry,
            },
            _ => return entry,
        };
        let decision = catch_unwind(AssertUnwindSafe(|| filter.filter(p.user_key, value)))
            .unwrap_or(crate::FilterDecision::Keep);
        match decision {
            crate::FilterDecision::Keep => entry,
            crate::FilterDecision::Remove => (
                shale_core::key::make_internal_key(p.user_key, p.seq, ValueKind::Delete),
                Vec::new(),
            ),
            crate::FilterDecision::ChangeValue(v) => match expiry {
                Some(e) => (entry.0, shale_core::ttl::encode(e, &v)),
                None => (entry.0, v),
            },
        }
    }

    /// One entry for `run` (newest first; its last entry is the base if `base_here`).
    fn collapse(
        &self,
        user_key: &[u8],
        run: &[(Vec<u8>, Vec<u8>)],
        base_here: bool,
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let op = self.op.as_ref()?;
        let (operands, base) = if base_here {
            let (base_entry, ops) = run.split_last()?;
            let kind = parse_internal_key(&base_entry.0)?.kind;
            let base =
                base_of(kind, &Bytes::copy_from_slice(&base_entry.1), self.now_ms).ok()??;
            (ops, base)
        } else {
            (run, Base::Absent)
        };
        // Operands do not inherit a base's expiry: once the base expires, readers apply
        // them to nothing. So a run over a still-live expiring base stays as it is (a
        // collapsed value would have to carry one expiry or none, and either would
        // read differently from the operands once the base expires).
        if matches!(
            base,
            Base::Value {
                expiry: Some(_),
                ..
            }
        ) {
            return None;
        }
        let newest: Vec<Bytes> = operands
            .iter()
            .map(|e| Bytes::copy_from_slice(&e.1))
            .collect();
        let merged = resolve(Some(op), user_key, &base, &newest).ok()?;
        let seq = parse_internal_key(&run.first()?.0)?.seq;
        Some((
            shale_core::key::make_internal_key(user_key, seq, ValueKind::Value),
            merged.to_vec(),
        ))
    }
}
