//! Byte searches that test eight bytes at a time.
//!
//! Most of a record, and most of a report line, is text with nothing of interest in it: a
//! word-wise test skips such text eight bytes per step, and only a word that may hold a match
//! is looked at byte by byte.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether some byte of `word` is zero.
pub const fn has_zero_byte(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGH_BITS != 0
}

/// Whether some byte of `word` is `byte`.
pub const fn has_byte(word: u64, byte: u8) -> bool {
    has_zero_byte(word ^ (ONES * byte as u64))
}

/// Whether some byte of `word` is below `limit`, which is at most 0x80.
pub const fn has_byte_below(word: u64, limit: u8) -> bool {
    word.wrapping_sub(ONES * limit as u64) & !word & HIGH_BITS != 0
}

/// The same value in every byte of a word.
pub const fn repeated(byte: u8) -> u64 {
    ONES * byte as u64
}

/// The high bit of each byte of `word` that is an ASCII digit, every other bit clear. Exact
/// for each byte: no borrow crosses from one byte to the next.
pub const fn digit_mask(word: u64) -> u64 {
    let shifted = word ^ repeated(b'0');
    // Bit 7 ends up set where the shifted byte is 10 or more, or had bit 7 set already.
    let not_digits = ((shifted & repeated(0x7f)) + repeated(0x80 - 10)) | shifted;
    !not_digits & HIGH_BITS
}

/// The index in its word of the first byte whose high bit `mask` sets; 8 when there is none.
pub const fn first_marked(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// The eight bytes at `index`, read as one little-endian word; `None` near the end.
pub fn word_at(bytes: &[u8], index: usize) -> Option<u64> {
    let chunk = bytes.get(index..index.checked_add(8)?)?;
    <[u8; 8]>::try_from(chunk).ok().map(u64::from_le_bytes)
}

/// Index of the first byte at or after `from` that is `wanted`. `may_hold` tells whether an
/// eight-byte word (read little-endian) may hold one; it must never say no when it does.
pub fn position_from(
    bytes: &[u8],
    from: usize,
    may_hold: impl Fn(u64) -> bool,
    wanted: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut index = from;
    while let Some(word) = word_at(bytes, index) {
        if may_hold(word) {
            if let Some(offset) = word.to_le_bytes().iter().position(|&byte| wanted(byte)) {
                return Some(index + offset);
            }
        }
        index += 8;
    }
    bytes.get(index..)?.iter().position(|&byte| wanted(byte)).map(|offset| index + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_tests_agree_with_each_byte() {
        // Every byte value at every position of a word, beside bytes that could upset the
        // borrow between bytes (0x00, 0x80, 0xff).
        for background in [0x00u8, 0x41, 0x80, 0xff] {
            for position in 0..8 {
                for value in 0..=255u8 {
                    let mut word = [background; 8];
                    word[position] = value;
                    let packed = u64::from_le_bytes(word);
                    assert_eq!(has_zero_byte(packed), word.contains(&0), "{word:?}");
                    assert_eq!(has_byte(packed, b'"'), word.contains(&b'"'), "{word:?}");
                    assert_eq!(has_byte_below(packed, 0x20), word.iter().any(|&b| b < 0x20), "{word:?}");
                    let digits = digit_mask(packed).to_le_bytes();
                    for (byte, marked) in word.iter().zip(digits) {
                        assert_eq!(marked == 0x80, byte.is_ascii_digit(), "{word:?}");
                        assert!(marked == 0 || marked == 0x80, "{word:?}");
                    }
                    assert_eq!(first_marked(digit_mask(packed)), word.iter().position(u8::is_ascii_digit).unwrap_or(8));
                }
            }
        }
    }
}
