//! Byte searches that test eight bytes at a time.
//!
//! Most of a record, and most of a report line, is text with nothing of interest in it: a
//! word-wise test skips such text eight bytes per step. A test marks the bytes it finds with
//! their high bit; the lowest mark is always a real find (a borrow may carry a false mark only
//! into a byte above a real one), so the first match is found without looking byte by byte.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Marks the zero bytes of `word`.
pub const fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGH_BITS
}

/// Marks the bytes of `word` that are `byte`.
pub const fn bytes_equal(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ repeated(byte))
}

/// Marks the bytes of `word` below `limit`, which is at most 0x80.
pub const fn bytes_below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(repeated(limit)) & !word & HIGH_BITS
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

/// Bit `i` set when `bytes[from + i]` is an ASCII digit, for the 64 bytes from `from`; bytes
/// past the end count as not digits.
pub fn digit_bits(bytes: &[u8], from: usize) -> u64 {
    // Gathers the high bit of each byte into the top byte: the partial products of the
    // multiplication never overlap, so nothing carries.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let mut bits = 0;
    for step in 0..8 {
        let start = from + step * 8;
        let word = match word_at(bytes, start) {
            Some(word) => word,
            None => {
                let rest = bytes.get(start..).unwrap_or_default();
                if rest.is_empty() {
                    break;
                }
                let mut padded = [0_u8; 8];
                padded.iter_mut().zip(rest).for_each(|(slot, byte)| *slot = *byte);
                u64::from_le_bytes(padded)
            }
        };
        let gathered = ((digit_mask(word) >> 7).wrapping_mul(GATHER)) >> 56;
        bits |= gathered << (step * 8);
    }
    bits
}

/// Index of the first byte at or after `from` that is `wanted`. `marks` marks the wanted bytes
/// of an eight-byte word (read little-endian) as the tests above do; the last few bytes, too
/// few for a word, are tested one by one with `wanted`.
pub fn position_from(
    bytes: &[u8],
    from: usize,
    marks: impl Fn(u64) -> u64,
    wanted: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut index = from;
    while let Some(word) = word_at(bytes, index) {
        let marked = marks(word);
        if marked != 0 {
            return Some(index + first_marked(marked));
        }
        index += 8;
    }
    bytes.get(index..)?.iter().position(|&byte| wanted(byte)).map(|offset| index + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_mark_is_the_first_byte_that_matches() {
        // Every byte value at every position of a word, beside bytes that could upset the
        // borrow between bytes (0x00, 0x80, 0xff), and a second candidate above it.
        for background in [0x00u8, 0x41, 0x80, 0xff] {
            for position in 0..8 {
                for value in 0..=255u8 {
                    let mut word = [background; 8];
                    word[position] = value;
                    word[7 - position / 2] = b'"';
                    let packed = u64::from_le_bytes(word);
                    let first = |test: fn(&u8) -> bool| word.iter().position(test).unwrap_or(8);
                    assert_eq!(first_marked(zero_bytes(packed)), first(|&b| b == 0), "{word:?}");
                    assert_eq!(first_marked(bytes_equal(packed, b'"')), first(|&b| b == b'"'), "{word:?}");
                    assert_eq!(first_marked(bytes_below(packed, 0x20)), first(|&b| b < 0x20), "{word:?}");
                    let digits = digit_mask(packed).to_le_bytes();
                    for (byte, marked) in word.iter().zip(digits) {
                        assert_eq!(marked == 0x80, byte.is_ascii_digit(), "{word:?}");
                        assert!(marked == 0 || marked == 0x80, "{word:?}");
                    }
                    assert_eq!(first_marked(digit_mask(packed)), first(u8::is_ascii_digit), "{word:?}");
                }
            }
        }
    }
}
