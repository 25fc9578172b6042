use crate::CompactionOptions;

#[test]
fn defaults_are_valid_and_as_documented() {
    let o = CompactionOptions::default();
    o.validate().unwrap();
    assert_eq!(o.num_levels, 7);
    assert_eq!(o.l0_compaction_trigger, 4);
    assert_eq!(o.level_size_multiplier, 10);
    assert_eq!(o.max_bytes_for_level_base, 256 * super::MIB);
    assert_eq!(o.target_file_size, 64 * super::MIB);
    assert_eq!(o.max_compaction_bytes, 25 * o.target_file_size);
    assert!(o.dynamic_level_bytes);
    assert_eq!(o.max_grandparent_overlap(), 640 * super::MIB);
}

#[test]
fn validate_rejects_bad_knobs() {
    type Tweak = Box<dyn Fn(&mut CompactionOptions)>;
    let bad: Vec<Tweak> = vec![
        Box::new(|o| o.num_levels = 1),
        Box::new(|o| o.num_levels = 65),
        Box::new(|o| o.l0_compaction_trigger = 0),
        Box::new(|o| o.level_size_multiplier = 1),
        Box::new(|o| o.max_bytes_for_level_base = 0),
        Box::new(|o| o.target_file_size = 0),
        Box::new(|o| o.max_compaction_bytes = 0),
    ];
    for f in bad {
        let mut o = CompactionOptions::default();
        f(&mut o);
        let err = o.validate().unwrap_err();
        assert!(
            matches!(err, shale_core::Error::InvalidArgument(_)),
            "{err}"
        );
    }
}
