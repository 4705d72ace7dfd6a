//! GUIDs as they appear in Microsoft API logs, and the correlation id built on them.
//!
//! Clients write GUIDs in every case and with or without braces; people paste them the same way.
//! Both sides go through [`Guid::parse`], so a lookup matches whatever form was logged.

use std::fmt;

/// A 128-bit GUID, written lowercase and hyphenated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(u128);

/// The value of each hex digit, 0xff for every other byte: ids are read in every record, and a
/// table lookup per digit is cheaper than the character arithmetic.
// Built at compile time: an index out of bounds would fail the build, not a run.
#[allow(clippy::indexing_slicing)]
const HEX_VALUES: [u8; 256] = {
    let mut values = [0xff_u8; 256];
    let mut byte = 0;
    while byte < 256 {
        values[byte] = match byte as u8 {
            digit @ b'0'..=b'9' => digit - b'0',
            letter @ b'a'..=b'f' => letter - b'a' + 10,
            letter @ b'A'..=b'F' => letter - b'A' + 10,
            _ => 0xff,
        };
        byte += 1;
    }
    values
};

/// The value of at most 16 hex digits; `None` when any byte is not one.
fn hex_value(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0_u64, |value, &byte| {
        let digit = HEX_VALUES.get(usize::from(byte)).copied().filter(|&digit| digit < 16)?;
        Some((value << 4) | u64::from(digit))
    })
}

impl Guid {
    /// Reads `8-4-4-4-12` hex digits, optionally in braces, or 32 hex digits without hyphens.
    /// Surrounding whitespace is ignored; anything else is not a GUID.
    pub fn parse(text: &str) -> Option<Guid> {
        // Ids mostly arrive bare; only a text that starts or ends otherwise is trimmed.
        let bare = |byte: Option<&u8>| byte.is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'{' || b == b'}');
        let text = if bare(text.as_bytes().first()) && bare(text.as_bytes().last()) { text } else { text.trim() };
        let text = match text.strip_prefix('{') {
            Some(inner) => inner.strip_suffix('}')?,
            None => text,
        };
        let bytes = text.as_bytes();
        let (high, low) = match bytes.len() {
            36 => {
                let hyphens = [8, 13, 18, 23].iter().all(|&index| bytes.get(index) == Some(&b'-'));
                if !hyphens {
                    return None;
                }
                let group = |range: std::ops::Range<usize>| bytes.get(range).and_then(hex_value);
                let high = (group(0..8)? << 32) | (group(9..13)? << 16) | group(14..18)?;
                let low = (group(19..23)? << 48) | group(24..36)?;
                (high, low)
            }
            32 => (hex_value(bytes.get(..16)?)?, hex_value(bytes.get(16..)?)?),
            _ => return None,
        };
        Some(Guid((u128::from(high) << 64) | u128::from(low)))
    }

    /// Finds a GUID at the start of `text` (hyphenated form only), for ids embedded in free text.
    pub fn parse_prefix(text: &str) -> Option<Guid> {
        let text = text.strip_prefix('{').unwrap_or(text);
        let candidate = text.get(..36)?;
        let guid = Guid::parse(candidate)?;
        let next = text.as_bytes().get(36).copied();
        match next {
            Some(byte) if byte.is_ascii_alphanumeric() => None,
            _ => Some(guid),
        }
    }

    pub fn as_u128(self) -> u128 {
        self.0
    }

    pub fn from_u128(value: u128) -> Guid {
        Guid(value)
    }

    /// A new version 4 GUID for naming one answer or event. Unique, not secret: it mixes the
    /// clock, the process id and a counter, which is all an id in a log line needs.
    pub fn new_random() -> Guid {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let high = splitmix64(nanos ^ u64::from(std::process::id()).rotate_left(32));
        let low = splitmix64(high ^ count.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let value = (u128::from(high) << 64) | u128::from(low);
        // Version 4 and the RFC 4122 variant.
        Guid((value & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62))
    }
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Guid {
    /// The lowercase hyphenated form, without the formatting machinery.
    pub fn hyphenated(self) -> [u8; 36] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        let mut position = 0;
        for index in 0..32 {
            // Hyphens stay after the 8th, 12th, 16th and 20th digit.
            if matches!(index, 8 | 12 | 16 | 20) {
                position += 1;
            }
            let nibble = (self.0 >> (124 - index * 4)) & 0xf;
            if let Some(slot) = out.get_mut(position) {
                *slot = HEX.get(nibble as usize).copied().unwrap_or(b'0');
            }
            position += 1;
        }
        out
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.hyphenated()) {
            Ok(text) => f.write_str(text),
            Err(_) => Err(fmt::Error),
        }
    }
}

/// The id a person pastes to find an incident: Defender's `target`, Graph's `request-id`, and so on.
///
/// Only a GUID can be a correlation id; anything else found in an id field is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CorrelationId(Guid);

impl CorrelationId {
    pub fn parse(text: &str) -> Option<CorrelationId> {
        Guid::parse(text).map(CorrelationId)
    }

    pub fn guid(self) -> Guid {
        self.0
    }
}

impl From<Guid> for CorrelationId {
    fn from(guid: Guid) -> Self {
        CorrelationId(guid)
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Option<&str>) {
        let actual = Guid::parse(input).map(|guid| guid.to_string());
        assert_eq!(actual.as_deref(), expected, "input: {input:?}");
    }

    #[test]
    fn parses_the_forms_clients_write() {
        let canonical = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
        check(canonical, Some(canonical));
        check("43F4CB08-8FAC-4B65-9DB1-745C2AE65F3A", Some(canonical));
        check("{43f4cb08-8fac-4b65-9db1-745c2ae65f3a}", Some(canonical));
        check(" 43f4cb08-8fac-4b65-9db1-745c2ae65f3a ", Some(canonical));
        check("43f4cb088fac4b659db1745c2ae65f3a", Some(canonical));
        check("00000000-0000-0000-0000-000000000000", Some("00000000-0000-0000-0000-000000000000"));
    }

    #[test]
    fn rejects_what_is_not_a_guid() {
        check("", None);
        check("contactInfo", None);
        check("request-id", None);
        check("43f4cb08-8fac-4b65-9db1-745c2ae65f3", None);
        check("43f4cb08-8fac-4b65-9db1-745c2ae65f3aa", None);
        check("43f4cb08_8fac_4b65_9db1_745c2ae65f3a", None);
        check("g3f4cb08-8fac-4b65-9db1-745c2ae65f3a", None);
        check("{43f4cb08-8fac-4b65-9db1-745c2ae65f3a", None);
        check("43f4cb08-8fac-4b65-9db1-745c2ae65f3a}", None);
        check("+3f4cb08-8fac-4b65-9db1-745c2ae65f3a", None);
        check("é3f4cb08-8fac-4b65-9db1-745c2ae65f3", None);
    }

    #[test]
    fn padding_and_misplaced_hyphens() {
        let canonical = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
        check("\t43f4cb08-8fac-4b65-9db1-745c2ae65f3a\n", Some(canonical));
        check("\u{a0}43f4cb08-8fac-4b65-9db1-745c2ae65f3a\u{a0}", Some(canonical));
        check("\u{b}{43f4cb08-8fac-4b65-9db1-745c2ae65f3a}", Some(canonical));
        check("43F4CB088FAC4B659DB1745C2AE65F3A", Some(canonical));
        check("43f4cb08-8fac-4b65-9db1-745c2ae6-f3a", None);
        check("43f4cb088-fac-4b65-9db1-745c2ae65f3a", None);
        check("43f4cb088fac4b659db1745c2ae65f3g", None);
        check("-43f4cb088fac4b659db1745c2ae65f3", None);
    }

    /// Every byte value at every position of both forms reads as a plain reading of the spec
    /// says: hyphens exactly where they belong, hex digits everywhere else.
    #[test]
    fn agrees_with_a_plain_reading_at_every_position() {
        fn plain(text: &str) -> Option<u128> {
            let text = text.trim();
            let text = match text.strip_prefix('{') {
                Some(inner) => inner.strip_suffix('}')?,
                None => text,
            };
            let digits: String = match text.len() {
                36 => text
                    .char_indices()
                    .filter(|(index, c)| !(matches!(index, 8 | 13 | 18 | 23) && *c == '-'))
                    .map(|(_, c)| c)
                    .collect(),
                32 => text.to_owned(),
                _ => return None,
            };
            (digits.len() == 32 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| u128::from_str_radix(&digits, 16).ok())
                .flatten()
        }
        for form in ["43f4cb08-8fac-4b65-9db1-745c2ae65f3a", "43f4cb088fac4b659db1745c2ae65f3a"] {
            for position in 0..form.len() {
                for byte in 0..=127_u8 {
                    let mut bytes = form.as_bytes().to_vec();
                    bytes[position] = byte;
                    let text = String::from_utf8(bytes).expect("ascii");
                    assert_eq!(Guid::parse(&text).map(Guid::as_u128), plain(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn finds_a_guid_at_the_start_of_text() {
        let found = Guid::parse_prefix("E3B0C442-98FC-4C14-9AFB-F4C8996FB924, next").map(|g| g.to_string());
        assert_eq!(found.as_deref(), Some("e3b0c442-98fc-4c14-9afb-f4c8996fb924"));
        assert_eq!(Guid::parse_prefix("e3b0c442-98fc-4c14-9afb-f4c8996fb9245"), None);
        assert_eq!(Guid::parse_prefix("short"), None);
    }

    #[test]
    fn random_guids_are_version_4_and_differ() {
        let first = Guid::new_random();
        let second = Guid::new_random();
        assert_ne!(first, second);
        let text = first.to_string();
        assert_eq!(text.as_bytes()[14], b'4', "{text}");
        assert!(matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{text}");
        assert_eq!(Guid::parse(&text), Some(first));
    }
}
