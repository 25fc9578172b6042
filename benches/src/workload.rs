//! Keys, random numbers and values shaped like db_bench's.

/// A small, fast PRNG (splitmix64 seeding + xorshift64*): reproducible from `--seed`.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`; different seeds give unrelated streams.
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, never zero.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(z | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn uniform(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift: unbiased enough for benchmarks, no division.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Writes db_bench's key for `n`: the number as 8 big-endian bytes (so keys sort like
/// the numbers), padded with `'0'` to `key_size` bytes (`key_size >= 8`).
pub fn make_key(buf: &mut Vec<u8>, n: u64, key_size: usize) {
    buf.clear();
    buf.extend_from_slice(&n.to_be_bytes());
    buf.resize(key_size.max(8), b'0');
}

/// db_bench's `RandomGenerator`: a 1 MiB (or larger) buffer of 100-byte pieces, each
/// of which is `ratio * 100` random printable bytes repeated to fill the piece, so
/// that a value compresses to about `ratio` of its size. Values are consecutive
/// slices of that buffer.
#[derive(Debug, Clone)]
pub struct ValueGenerator {
    data: Vec<u8>,
    pos: usize,
}

impl ValueGenerator {
    /// A generator for values of up to `value_size` bytes compressing to `ratio`.
    pub fn new(value_size: usize, ratio: f64) -> ValueGenerator {
        const PIECE: usize = 100;
        let mut rng = Rng::new(301);
        let size = (1 << 20).max(value_size);
        let mut data = Vec::with_capacity(size + PIECE);
        while data.len() < size {
            let raw = ((PIECE as f64 * ratio) as usize).clamp(1, PIECE);
            let piece: Vec<u8> = (0..raw).map(|_| b' ' + rng.uniform(95) as u8).collect();
            for i in 0..PIECE {
                data.push(piece[i % raw]);
            }
        }
        ValueGenerator { data, pos: 0 }
    }

    /// The next value of `len` bytes.
    pub fn generate(&mut self, len: usize) -> &[u8] {
        if self.pos + len > self.data.len() {
            self.pos = 0;
        }
        let start = self.pos;
        self.pos += len;
        &self.data[start..start + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lz4_ratio(ratio: f64) -> f64 {
        let mut g = ValueGenerator::new(100, ratio);
        let mut raw = Vec::new();
        let mut compressed = 0usize;
        // Compress 4 KiB chunks, like table blocks.
        for _ in 0..256 {
            let mut block = Vec::new();
            while block.len() < 4096 {
                block.extend_from_slice(g.generate(100));
            }
            compressed += lz4_flex::compress(&block).len();
            raw.extend_from_slice(&block);
        }
        compressed as f64 / raw.len() as f64
    }

    #[test]
    fn values_compress_to_the_requested_ratio() {
        for want in [0.25, 0.5, 0.75] {
            let got = lz4_ratio(want);
            assert!(
                (got - want).abs() < 0.12,
                "ratio {want}: lz4 compressed to {got:.3}"
            );
        }
        assert!(lz4_ratio(1.0) > 0.95);
    }

    #[test]
    fn keys_sort_like_numbers() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        make_key(&mut a, 255, 16);
        make_key(&mut b, 256, 16);
        assert_eq!(a.len(), 16);
        assert!(a < b);
        assert_eq!(&a[8..], b"00000000");
    }

    #[test]
    fn uniform_stays_in_range() {
        let mut r = Rng::new(1);
        assert!((0..10_000).all(|_| r.uniform(7) < 7));
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
