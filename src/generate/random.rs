//! The generator's own source of randomness: SplitMix64, written out here so that a seed gives
//! the same records on every machine and with every version of every dependency.

use crate::guid::Guid;

/// SplitMix64: one 64-bit word of state, a period of 2^64, and statistics good enough for
/// choosing what a log line says. Not for anything secret.
#[derive(Debug, Clone)]
pub struct Random {
    state: u64,
}

impl Random {
    pub fn new(seed: u64) -> Random {
        Random { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound`; 0 when `bound` is 0. Multiplying instead of taking a remainder
    /// keeps small bounds free of modulo bias worth speaking of.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low).saturating_add(1))
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// One of `items`, all equally likely. The default value stands in for an empty slice,
    /// which the tables never are.
    pub fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let index = self.below(items.len() as u64) as usize;
        items.get(index).copied().unwrap_or_default()
    }

    /// One of `items`, each as likely as its weight says.
    pub fn weighted<T: Copy + Default>(&mut self, items: &[(u32, T)]) -> T {
        let total: u64 = items.iter().map(|(weight, _)| u64::from(*weight)).sum();
        let mut roll = self.below(total);
        for (weight, item) in items {
            let weight = u64::from(*weight);
            if roll < weight {
                return *item;
            }
            roll -= weight;
        }
        T::default()
    }

    /// A version 4 GUID, as Microsoft's services mint them.
    pub fn guid(&mut self) -> Guid {
        let value = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        Guid::from_u128((value & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62))
    }

    /// `digits` lowercase hex digits, as in a machine id.
    pub fn push_hex(&mut self, out: &mut String, digits: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut word = 0;
        for index in 0..digits {
            if index % 16 == 0 {
                word = self.next_u64();
            }
            out.push(char::from(HEX.get((word & 0xf) as usize).copied().unwrap_or(b'0')));
            word >>= 4;
        }
    }

    /// `digits` decimal digits, the first of them not zero.
    pub fn push_digits(&mut self, out: &mut String, digits: usize) {
        for index in 0..digits {
            let digit = if index == 0 { self.between(1, 9) } else { self.below(10) };
            out.push(char::from(b'0' + digit as u8));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_sequence_and_another_seed_another() {
        let first: Vec<u64> = {
            let mut random = Random::new(42);
            (0..1000).map(|_| random.next_u64()).collect()
        };
        let again: Vec<u64> = {
            let mut random = Random::new(42);
            (0..1000).map(|_| random.next_u64()).collect()
        };
        let other: Vec<u64> = {
            let mut random = Random::new(43);
            (0..1000).map(|_| random.next_u64()).collect()
        };
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn the_sequence_is_splitmix64() {
        // The reference values of SplitMix64 from seed 0, so that the output can never drift
        // with a refactoring.
        let mut random = Random::new(0);
        assert_eq!(random.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(random.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(random.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn choices_stay_in_range_and_follow_their_weights() {
        let mut random = Random::new(7);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            let index: usize = random.weighted(&[(1, 0), (2, 1), (0, 2)]);
            counts[index] += 1;
            assert!(random.below(5) < 5);
            let value = random.between(3, 4);
            assert!((3..=4).contains(&value));
            let unit = random.unit();
            assert!((0.0..1.0).contains(&unit));
        }
        assert_eq!(counts[2], 0, "a zero weight is never chosen");
        let share = f64::from(counts[1]) / 30_000.0;
        assert!((0.64..0.69).contains(&share), "weight 2 of 3 gave {share}");
        assert_eq!(random.below(0), 0);
        assert_eq!(random.pick::<u8>(&[]), 0);
    }

    #[test]
    fn guids_are_version_4_and_ids_have_their_length() {
        let mut random = Random::new(1);
        let text = random.guid().to_string();
        assert_eq!(text.as_bytes()[14], b'4', "{text}");
        assert!(matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{text}");
        let mut machine = String::new();
        random.push_hex(&mut machine, 40);
        assert_eq!(machine.len(), 40);
        assert!(machine.bytes().all(|b| b.is_ascii_hexdigit()));
        let mut number = String::new();
        random.push_digits(&mut number, 18);
        assert_eq!(number.len(), 18);
        assert_ne!(number.as_bytes()[0], b'0');
    }
}
