//! The checksum masking shared by every on-disk format (WAL records, table blocks and
//! footers): LevelDB's scheme, so a crc stored inside checksummed data never
//! checksums to a fixed point. The crc itself is crc32c, computed by each format.

/// Added after rotating; part of the on-disk formats, never changes.
pub const MASK_DELTA: u32 = 0xa282_ead8;

/// Masks a crc (rotate right by 15, add [`MASK_DELTA`]).
pub fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Inverts [`mask_crc`].
pub fn unmask_crc(masked: u32) -> u32 {
    masked.wrapping_sub(MASK_DELTA).rotate_left(15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_roundtrip() {
        for crc in [0u32, 1, 0xdead_beef, u32::MAX, 0x8000_0000] {
            assert_eq!(unmask_crc(mask_crc(crc)), crc);
            assert_ne!(mask_crc(crc), crc);
        }
    }
}
