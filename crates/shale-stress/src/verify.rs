//! Whole-database verification: read every key, check scans against point reads, and
//! compare with the expected state (crash mode), resolving in-flight writes.

use shaledb::{Bytes, Db};

use crate::Summary;
use crate::expected_state::{IN_FLIGHT, Slot, generation, is_put, make_word, observed_of};
use crate::options::WorkloadArgs;
use crate::values::{key_bytes, parse_key};
use crate::workload::{decode_read, keyspace_name, keyspace_of, open_keyspaces, owner};
use crate::{StressError, StressResult};

/// What a whole-database read found.
#[derive(Debug, Clone, Default)]
pub struct DbImage {
    /// Per key: the generation of its value, or `None` if absent (or garbage, see
    /// `garbage`).
    pub observed: Vec<Option<u64>>,
    /// Per key: the value was not one ever written for the key.
    pub garbage: Vec<bool>,
    /// Problems found while reading (garbage values, scans disagreeing with gets, keys
    /// outside the key space): each one counts as `unexpected`.
    pub problems: Vec<String>,
}

/// Reads every key of `0..num_keys` with `get` from its keyspace, then scans each
/// keyspace forward and backward and checks that the scans show exactly the keys and
/// values the gets did.
pub fn read_all(db: &Db, num_keys: u32, threads: usize, keyspaces: u32) -> StressResult<DbImage> {
    let kss = open_keyspaces(db, keyspaces)?;
    let mut img = DbImage {
        observed: vec![None; num_keys as usize],
        garbage: vec![false; num_keys as usize],
        problems: Vec::new(),
    };
    let ks_of = |k: u32| keyspace_of(k, threads, keyspaces).min(kss.len() - 1);
    let mut raw: Vec<Option<Bytes>> = Vec::with_capacity(num_keys as usize);
    for k in 0..num_keys {
        let v = kss[ks_of(k)].get(key_bytes(k))?;
        match decode_read(k, v.as_deref()) {
            Ok(o) => img.observed[k as usize] = o,
            Err(e) => {
                img.garbage[k as usize] = true;
                img.problems.push(format!("get: {e}"));
            }
        }
        raw.push(v);
    }
    for (i, ks) in kss.iter().enumerate() {
        let name = keyspace_name(i);
        let forward: Vec<(Bytes, Bytes)> = ks.iter().collect::<shaledb::Result<_>>()?;
        let mut backward: Vec<(Bytes, Bytes)> = ks.iter().rev().collect::<shaledb::Result<_>>()?;
        backward.reverse();
        if backward != forward {
            img.problems.push(format!(
                "{name}: reverse full scan ({} entries) differs from forward full scan ({} entries)",
                backward.len(),
                forward.len()
            ));
        }
        let from_gets: Vec<(Bytes, Bytes)> = raw
            .iter()
            .enumerate()
            .filter(|(k, _)| ks_of(*k as u32) == i)
            .filter_map(|(k, v)| v.clone().map(|v| (Bytes::from(key_bytes(k as u32)), v)))
            .collect();
        if forward != from_gets {
            let extra = forward
                .iter()
                .find(|(k, _)| parse_key(k).is_none_or(|k| k >= num_keys || ks_of(k) != i));
            img.problems.push(format!(
                "{name}: full scan ({} entries) differs from point reads ({} present){}",
                forward.len(),
                from_gets.len(),
                extra.map_or(String::new(), |(k, _)| format!(
                    "; scan has foreign key {:?}",
                    String::from_utf8_lossy(k)
                ))
            ));
        }
    }
    Ok(img)
}

/// The outcome of comparing a [`DbImage`] with expected slots.
#[derive(Debug, Clone, Default)]
pub struct SlotCheck {
    /// `verified_keys`, `lost` and `unexpected` (cycles and corrupt are left at 0).
    pub summary: Summary,
    /// One line per problem.
    pub problems: Vec<String>,
    /// The slots after resolution: in-flight writes settled to what was found, and
    /// mismatching keys set to what was found (so one fault is reported once).
    pub resolved: Vec<Slot>,
}

/// Compares every key with its slot: the acknowledged write must be there, or the
/// in-flight one; anything else is lost (an older state) or unexpected. Also checks
/// that each thread's in-flight write (a batch) was applied all or nothing.
pub fn check_against_slots(img: &DbImage, slots: &[Slot], threads: usize) -> SlotCheck {
    let mut out = SlotCheck {
        resolved: slots.to_vec(),
        ..SlotCheck::default()
    };
    out.summary.verified_keys = slots.len() as u64;
    out.summary.unexpected = img.problems.len() as u64;
    out.problems.extend(img.problems.iter().cloned());
    // Per thread: in-flight keys whose write was / was not applied (distinguishable ones).
    let mut applied: Vec<(Vec<u32>, Vec<u32>)> = vec![(Vec::new(), Vec::new()); threads];
    for (i, s) in slots.iter().enumerate() {
        let k = i as u32;
        if img.garbage[i] {
            out.resolved[i] = resolve(s, None);
            continue;
        }
        let o = img.observed[i];
        let pending = s.pending & !IN_FLIGHT;
        if s.in_flight() && observed_of(pending) != observed_of(s.acked) {
            let (yes, no) = &mut applied[owner(k, threads)];
            if observed_of(pending) == o {
                yes.push(k);
            } else if observed_of(s.acked) == o {
                no.push(k);
            }
        }
        if !s.allows(o) {
            let older = match o {
                None => is_put(s.acked),
                Some(g) => g < generation(s.acked),
            };
            if older {
                out.summary.lost += 1;
            } else {
                out.summary.unexpected += 1;
            }
            out.problems.push(format!(
                "key {k}: {} — found generation {o:?}, acknowledged {:?} (gen {}), in flight {}",
                if older { "LOST" } else { "UNEXPECTED" },
                observed_of(s.acked),
                generation(s.acked),
                if s.in_flight() {
                    format!("{:?} (gen {})", observed_of(pending), generation(pending))
                } else {
                    "none".into()
                }
            ));
        }
        out.resolved[i] = resolve(s, o);
    }
    for (t, (yes, no)) in applied.iter().enumerate() {
        if !yes.is_empty() && !no.is_empty() {
            out.summary.unexpected += 1;
            out.problems.push(format!(
                "TORN BATCH of thread {t}: applied to keys {yes:?} but not to {no:?}"
            ));
        }
    }
    out
}

/// The slot after finding `o` for a key whose slot was `s`: acknowledged = what was
/// found, nothing in flight, generations kept increasing.
pub fn resolve(s: &Slot, o: Option<u64>) -> Slot {
    let pending = s.pending & !IN_FLIGHT;
    let acked = if observed_of(pending) == o && s.in_flight() {
        pending
    } else if observed_of(s.acked) == o {
        s.acked
    } else {
        match o {
            Some(g) => make_word(g, true),
            None => make_word(s.max_generation(), false),
        }
    };
    let pending = if generation(acked) > generation(pending) {
        acked
    } else {
        pending
    };
    Slot { acked, pending }
}

/// Reads the whole database and checks it against the slots of `exp`, storing the
/// resolved slots back (if the check failed, only when `resolve_failures`). Returns the
/// check (problems are not an `Err`).
pub fn verify_and_resolve(
    db: &Db,
    exp: &crate::expected_state::ExpectedState,
    w: &WorkloadArgs,
    resolve_failures: bool,
) -> StressResult<SlotCheck> {
    let img = read_all(db, exp.num_keys(), w.threads, w.keyspaces)?;
    let check = check_against_slots(&img, &exp.slots(), w.threads);
    let clean = check.summary.lost == 0 && check.summary.unexpected == 0;
    if !clean && !resolve_failures {
        return Ok(check);
    }
    for (k, s) in check.resolved.iter().enumerate() {
        if *s != exp.slot(k as u32) {
            exp.store(k as u32, *s)?;
        }
    }
    Ok(check)
}

/// Turns a failed check into an error (for `run`, which must start and end clean).
pub fn require_clean(check: &SlotCheck, when: &str) -> StressResult<()> {
    if check.summary.lost == 0 && check.summary.unexpected == 0 {
        return Ok(());
    }
    Err(StressError::Mismatch(format!(
        "{when}: {} lost, {} unexpected:\n  {}",
        check.summary.lost,
        check.summary.unexpected,
        check
            .problems
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(observed: Vec<Option<u64>>) -> DbImage {
        DbImage {
            garbage: vec![false; observed.len()],
            observed,
            problems: vec![],
        }
    }

    #[test]
    fn classifies_and_resolves() {
        let put = |g| make_word(g, true);
        let slots = vec![
            // acked 2, 3 in flight (key 0, thread 0)
            Slot {
                acked: put(2),
                pending: put(3) | IN_FLIGHT,
            },
            // acked 5, nothing in flight (key 1, thread 1)
            Slot {
                acked: put(5),
                pending: put(5),
            },
            // in flight with key 0's batch (key 2, thread 0)
            Slot {
                acked: 0,
                pending: put(1) | IN_FLIGHT,
            },
        ];
        let c = check_against_slots(&img(vec![Some(3), Some(5), Some(1)]), &slots, 2);
        assert_eq!((c.summary.lost, c.summary.unexpected), (0, 0));
        assert_eq!(
            c.resolved[0],
            Slot {
                acked: put(3),
                pending: put(3)
            }
        );
        let c = check_against_slots(&img(vec![Some(3), Some(4), None]), &slots, 2);
        assert_eq!(
            (c.summary.lost, c.summary.unexpected),
            (1, 1),
            "{:?}",
            c.problems
        );
        assert!(c.problems.iter().any(|p| p.contains("TORN BATCH")));
        let c = check_against_slots(&img(vec![Some(2), None, Some(7)]), &slots, 2);
        assert_eq!(
            (c.summary.lost, c.summary.unexpected),
            (1, 1),
            "{:?}",
            c.problems
        );
        assert_eq!(c.resolved[1].acked, make_word(5, false));
        assert_eq!(
            c.resolved[2],
            Slot {
                acked: put(7),
                pending: put(7)
            }
        );
    }
}
