//! Model-based test: random operation sequences against a `BTreeMap`, with clean
//! reopens and simulated power loss (every `CrashPolicy`) in the sequence. The
//! operations and their checks are the `db_model` fuzz target's runner
//! (`fuzz/model_runner.rs`, included below); this test generates the sequences with
//! proptest instead of decoding fuzzer bytes, so the two can never drift apart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../../../fuzz/model_runner.rs"]
mod model_runner;

use model_runner::{Op, run};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let k = 0u8..30;
    prop_oneof![
        8 => (k.clone(), any::<u8>(), prop::bool::weighted(0.2)).prop_map(|(k, v, s)| Op::Put(k, v, s)),
        3 => (k.clone(), prop::bool::weighted(0.2)).prop_map(|(k, s)| Op::Delete(k, s)),
        2 => (prop::collection::vec((k.clone(), prop::option::of(any::<u8>())), 0..6), any::<bool>())
            .prop_map(|(ops, s)| Op::Batch(ops, s)),
        4 => k.clone().prop_map(Op::Get),
        3 => (prop::option::of(k.clone()), prop::option::of(k.clone()), any::<bool>())
            .prop_map(|(a, b, r)| Op::Scan(a, b, r)),
        1 => (1u8..4, any::<bool>()).prop_map(|(p, r)| Op::Prefix(p, r)),
        1 => Just(Op::TakeSnapshot),
        2 => any::<u8>().prop_map(Op::CheckSnapshot),
        1 => Just(Op::SyncWal),
        1 => Just(Op::Flush),
        3 => (0u8..4, any::<i8>()).prop_map(|(c, d)| Op::Merge(c, d)),
        1 => (0u8..4, any::<i16>()).prop_map(|(c, n)| Op::PutCounter(c, n)),
        1 => (prop::option::of(k.clone()), prop::option::of(k.clone())).prop_map(|(a, b)| Op::CompactRange(a, b)),
        1 => Just(Op::Reopen),
        1 => (0u8..3, any::<u64>()).prop_map(|(p, seed)| Op::Crash(p, seed)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        // Deterministic: the same sequences on every run and machine.
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AA1E),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        run(&ops);
    }
}
