//! A fast hasher for the search's tables. Their keys are small integers or already
//! random digests (Zobrist hashes, content hashes), for which SipHash's resistance to
//! chosen keys buys nothing and cost a third of the search's time.

use std::hash::Hasher;

/// Multiply-rotate hashing of words (the shape of rustc's Fx hash); a `u128` key is
/// taken as the random digest it is.
#[derive(Default)]
pub(crate) struct Mix(u64);

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl Mix {
    fn word(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(K);
    }
}

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= (v as u64) ^ ((v >> 64) as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.word(v);
    }
    fn write_u32(&mut self, v: u32) {
        self.word(u64::from(v));
    }
    fn write_u8(&mut self, v: u8) {
        self.word(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.word(v as u64);
    }
    fn write_isize(&mut self, v: isize) {
        self.word(v as u64);
    }
}

/// A `HashMap` with [`Mix`].
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<Mix>>;
