//! What free text says about a call: HTTP statuses, Retry-After, the URL, ids named in headers.
//!
//! These read the text a client wrote around (never inside) an error envelope: exception
//! messages, HTTP dumps, log lines. Each scanner is one pass with a bounded look-behind.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use crate::byte_search;
use crate::guid::Guid;
use crate::timestamp::HttpDate;

/// Statuses written in text, in the forms clients and runtimes print them:
/// `HTTP/1.1 429`, `-> 401`, `(403)`, `404 (Not Found)`, `403 Client Error`, `[404]`,
/// `status=429`, `429 Too Many Requests`. Yields each value (100..=599) in order.
pub fn statuses(text: &str) -> impl Iterator<Item = u16> + '_ {
    let bytes = text.as_bytes();
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(start) = next_three_digit_number(bytes, from) {
            from = start + 3;
            let value = three_digit_value(bytes, start)?;
            if (100..=599).contains(&value) && is_status_context(bytes, start, value) {
                return Some(value);
            }
        }
        None
    })
}

/// The first status in 400..=599 and the first below 400, as text patterns give them.
pub fn first_statuses(text: &str) -> (Option<u16>, Option<u16>) {
    let mut error = None;
    let mut other = None;
    for status in statuses(text) {
        if status >= 400 {
            error.get_or_insert(status);
            break;
        }
        other.get_or_insert(status);
    }
    (error, other)
}

/// Index of the next run of exactly three ASCII digits at or after `from` that does not follow
/// a letter or a digit. A number right after a letter (`b612efcd`, `v200`) is never a status in
/// any of the forms `statuses` reads, so ids and hex are passed over here. Every record is
/// searched for statuses, mostly text with a few numbers in it (a date, a time): the digits of
/// 64 bytes are found at once and their runs told apart with shifts.
fn next_three_digit_number(bytes: &[u8], from: usize) -> Option<usize> {
    // A window's last three bytes only end runs: the next window starts where they would.
    const STARTS_PER_WINDOW: usize = 61;
    const WINDOW_STARTS: u64 = (1 << STARTS_PER_WINDOW) - 1;
    let mut window = from;
    while window < bytes.len() {
        let digits = byte_search::digit_bits(bytes, window);
        let digit_before = window.checked_sub(1).and_then(|before| bytes.get(before)).is_some_and(u8::is_ascii_digit);
        let follows_digit = (digits << 1) | u64::from(digit_before);
        let mut starts = digits & !follows_digit & (digits >> 1) & (digits >> 2) & !(digits >> 3) & WINDOW_STARTS;
        while starts != 0 {
            let start = window + starts.trailing_zeros() as usize;
            let follows_a_letter =
                start.checked_sub(1).and_then(|before| bytes.get(before)).is_some_and(u8::is_ascii_alphabetic);
            if !follows_a_letter {
                return Some(start);
            }
            starts &= starts - 1;
        }
        window += STARTS_PER_WINDOW;
    }
    None
}

fn three_digit_value(bytes: &[u8], start: usize) -> Option<u16> {
    let digits = bytes.get(start..start + 3)?;
    Some(digits.iter().fold(0u16, |value, digit| value * 10 + u16::from(digit - b'0')))
}

fn is_status_context(bytes: &[u8], start: usize, value: u16) -> bool {
    let before = bytes.get(..start).unwrap_or_default();
    let after = bytes.get(start + 3..).unwrap_or_default();
    let alphanumeric_at =
        |index: Option<usize>| index.and_then(|i| before.get(i)).is_some_and(u8::is_ascii_alphanumeric);

    // "(403)" and "[404]", but not "app[123]".
    for (open, close) in [(b'(', b')'), (b'[', b']')] {
        if before.last() == Some(&open) && after.first() == Some(&close) {
            return !alphanumeric_at(start.checked_sub(2));
        }
    }
    let spaced = trim_end_matches(before, |b| b == b' ' || b == b'\t');
    if spaced.ends_with(b"->") || spaced.ends_with(b"=>") {
        return true;
    }
    if spaced.len() < before.len() && ends_with_http_version(spaced) {
        return true;
    }
    let separated = trim_end_matches(before, |b| matches!(b, b' ' | b'\t' | b'=' | b':' | b'"' | b'\''));
    if separated.len() < before.len() && ends_with_status_keyword(separated) {
        return true;
    }
    // The remaining forms start with the number itself, which must stand alone.
    if alphanumeric_at(start.checked_sub(1)) || before.last() == Some(&b'.') {
        return false;
    }
    if let Some(rest) = after.strip_prefix(b" (") {
        return rest.first().is_some_and(u8::is_ascii_alphabetic);
    }
    let after_separator = after.strip_prefix(b": ").or_else(|| after.strip_prefix(b" "));
    let Some(rest) = after_separator else { return false };
    starts_with_ignore_case(rest, b"client error")
        || starts_with_ignore_case(rest, b"server error")
        || reason_phrase(value).is_some_and(|phrase| {
            starts_with_ignore_case(rest, phrase.as_bytes())
                && !rest.get(phrase.len()).is_some_and(u8::is_ascii_alphanumeric)
        })
}

fn ends_with_http_version(text: &[u8]) -> bool {
    // HTTP/1.1, HTTP/2, HTTP/2.0
    let Some(slash) = text.iter().rposition(|&b| b == b'/') else { return false };
    let version = text.get(slash + 1..).unwrap_or_default();
    let version_ok =
        !version.is_empty() && version.len() <= 3 && version.iter().all(|b| b.is_ascii_digit() || *b == b'.');
    version_ok && slash >= 4 && text.get(slash - 4..slash).is_some_and(|word| word.eq_ignore_ascii_case(b"http"))
}

fn ends_with_status_keyword(text: &[u8]) -> bool {
    ["status", "status code", "statuscode", "status_code", "http error"].iter().any(|keyword| {
        let keyword = keyword.as_bytes();
        text.len() >= keyword.len()
            && text.get(text.len() - keyword.len()..).is_some_and(|tail| tail.eq_ignore_ascii_case(keyword))
    })
}

/// The standard reason phrase for the statuses that error logs print beside the number.
fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// A Retry-After value written in text (`Retry-After: 2.128`, `retry_after=12`,
/// `x-ms-retry-after-ms: 500`, `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`, or an HTTP date
/// in one of its older forms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryAfterText<'a> {
    Seconds(f64),
    /// An HTTP date, still as text.
    Date(&'a str),
}

pub fn retry_after(text: &str) -> Option<RetryAfterText<'_>> {
    let bytes = text.as_bytes();
    // The shortest is `retryafter:1`.
    if bytes.len() < 12 {
        return None;
    }
    // The letter y is rare in text, unlike r: search for it, then look behind it for "retr",
    // in any case, as HTTP reads header names.
    memchr::memchr2_iter(b'y', b'Y', bytes)
        .filter(|&y| y >= 4 && bytes.get(y - 4..y).is_some_and(|retr| retr.eq_ignore_ascii_case(b"retr")))
        .find_map(|y| retry_after_at(text, y + 1))
}

/// The value after `retry` at `after_retry`: `-After: 2.128`, `_after=12`, `-after-ms: 500`.
fn retry_after_at(text: &str, after_retry: usize) -> Option<RetryAfterText<'_>> {
    let bytes = text.as_bytes();
    let mut rest = bytes.get(after_retry..)?;
    rest = rest.strip_prefix(b"-").or_else(|| rest.strip_prefix(b"_")).unwrap_or(rest);
    if !starts_with_ignore_case(rest, b"after") {
        return None;
    }
    rest = rest.get(5..)?;
    let in_millis = starts_with_ignore_case(rest, b"-ms") || starts_with_ignore_case(rest, b"_ms");
    if in_millis {
        rest = rest.get(3..)?;
    }
    let value_start = trim_start_matches(rest, |b| matches!(b, b' ' | b'"' | b'\''));
    let value = value_start.strip_prefix(b":").or_else(|| value_start.strip_prefix(b"="))?;
    let value = trim_start_matches(value, |b| matches!(b, b' ' | b'"' | b'\''));
    let number_length = value.iter().take_while(|b| b.is_ascii_digit() || **b == b'.').count();
    if number_length > 0 {
        let number = std::str::from_utf8(value.get(..number_length)?).ok()?.parse::<f64>().ok()?;
        return Some(RetryAfterText::Seconds(if in_millis { number / 1000.0 } else { number }));
    }
    let offset = bytes.len() - value.len();
    text.get(offset..).and_then(HttpDate::prefix_of).map(RetryAfterText::Date)
}

/// The first `http://` or `https://` URL in text, with the HTTP verb written right before it.
pub fn first_url(text: &str) -> Option<(Option<&str>, &str)> {
    // "://" is rare in text: search for it, then check the scheme before it.
    static SEPARATOR: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"://"));
    let bytes = text.as_bytes();
    // The shortest is `http://x`.
    if bytes.len() < 8 {
        return None;
    }
    for separator in SEPARATOR.find_iter(bytes) {
        let found = if separator >= 5
            && bytes.get(separator - 5..separator).is_some_and(|s| s.eq_ignore_ascii_case(b"https"))
        {
            separator - 5
        } else if separator >= 4 && bytes.get(separator - 4..separator).is_some_and(|s| s.eq_ignore_ascii_case(b"http"))
        {
            separator - 4
        } else {
            continue;
        };
        let scheme_length = separator + 3 - found;
        let end = bytes
            .get(found..)?
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`'))
            .map_or(bytes.len(), |length| found + length);
        let url = text.get(found..end)?.trim_end_matches(['.', ',', ';', ':', ')', ']']);
        if url.len() <= scheme_length {
            continue;
        }
        let verb = text.get(..found).and_then(|before| {
            let word = before.trim_end().rsplit(|c: char| c.is_whitespace()).next()?;
            HTTP_VERBS.contains(&word).then_some(word)
        });
        return Some((verb, url));
    }
    None
}

const HTTP_VERBS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// GUIDs in text together with the normalised name written before them
/// (`request-id: <guid>`, `Correlation ID: <guid>`, `tenant=<guid>`), in order.
pub fn named_guids(text: &str) -> impl Iterator<Item = (NameBuffer, Guid)> + '_ {
    let bytes = text.as_bytes();
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = bytes.get(from..).and_then(|rest| memchr::memchr(b'-', rest)) {
            let hyphen = from + offset;
            from = hyphen + 1;
            // A hyphenated GUID has its next hyphens 5, 10 and 15 bytes on; most hyphens in
            // text (dates, header names) fail this before any parse.
            if [5, 10, 15].iter().any(|ahead| bytes.get(hyphen + ahead) != Some(&b'-')) {
                continue;
            }
            let Some(start) = hyphen.checked_sub(8) else { continue };
            if start > 0 && bytes.get(start - 1).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-') {
                continue;
            }
            let Some(guid) = text.get(start..).and_then(Guid::parse_prefix) else { continue };
            from = start + 36;
            let name = name_before(bytes.get(..start).unwrap_or_default());
            if !name.is_empty() {
                return Some((name, guid));
            }
        }
        None
    })
}

/// The field name written before a value: `x-ms-request-id: `, `Correlation ID: `, `"tid":"`.
fn name_before(before: &[u8]) -> NameBuffer {
    let separators = trim_end_matches(before, |b| matches!(b, b' ' | b'\t' | b'"' | b'\''));
    let Some(name_end) = separators.strip_suffix(b":").or_else(|| separators.strip_suffix(b"=")) else {
        return NameBuffer::default();
    };
    let name_end = trim_end_matches(name_end, |b| matches!(b, b' ' | b'"' | b'\''));
    let word = |text: &[u8]| {
        let start =
            text.iter().rposition(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))).map_or(0, |p| p + 1);
        start
    };
    let mut start = word(name_end);
    // "Correlation ID" and "Request Id" are two words.
    let last_word = name_end.get(start..).unwrap_or_default();
    if last_word.eq_ignore_ascii_case(b"id") && start > 0 && name_end.get(start - 1) == Some(&b' ') {
        start = word(name_end.get(..start - 1).unwrap_or_default());
    }
    NameBuffer::normalise(name_end.get(start..).unwrap_or_default())
}

/// A field name normalised for matching: ASCII lowercase, with `_`, `-` and spaces removed, so that
/// `StatusCode`, `status_code` and `Status-Code` read alike. Names too long to be one we look
/// for are kept empty.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct NameBuffer {
    bytes: [u8; 24],
    length: u8,
}

impl NameBuffer {
    pub fn normalise(name: &[u8]) -> NameBuffer {
        let mut buffer = NameBuffer::default();
        // Most names have no separator to drop: copied and lowercased whole, which the
        // compiler does many bytes at a time.
        if let Some(slots) = buffer.bytes.get_mut(..name.len()) {
            if !name.iter().any(|&byte| matches!(byte, b'_' | b'-' | b' ')) {
                slots.copy_from_slice(name);
                buffer.bytes.make_ascii_lowercase();
                buffer.length = name.len() as u8;
                return buffer;
            }
        }
        for &byte in name {
            if matches!(byte, b'_' | b'-' | b' ') {
                continue;
            }
            let Some(slot) = buffer.bytes.get_mut(usize::from(buffer.length)) else {
                return NameBuffer::default();
            };
            *slot = byte.to_ascii_lowercase();
            buffer.length += 1;
        }
        buffer
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.length)).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    pub fn is(&self, name: &str) -> bool {
        self.as_bytes() == name.as_bytes()
    }
}

impl std::fmt::Debug for NameBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Whether a field name reads as `compared`, a name already lowercase and without `_`, `-` or
/// spaces (`requestid`, `innererror`): the name is compared lowercased, without those.
#[inline]
pub fn reads_as(name: &[u8], compared: &[u8]) -> bool {
    // Dropping separators only shortens a name, and `compared` has none: a name of the same
    // length reads as it only when equal but for case, which is the usual case and the cheap one.
    if name.len() <= compared.len() {
        return name.len() == compared.len()
            && name.iter().zip(compared).all(|(&byte, &wanted)| byte.to_ascii_lowercase() == wanted);
    }
    let mut compared = compared.iter();
    for &byte in name {
        if matches!(byte, b'_' | b'-' | b' ') {
            continue;
        }
        if compared.next() != Some(&byte.to_ascii_lowercase()) {
            return false;
        }
    }
    compared.next().is_none()
}

pub fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn trim_end_matches(bytes: &[u8], strip: impl Fn(u8) -> bool) -> &[u8] {
    let keep = bytes.iter().rposition(|&b| !strip(b)).map_or(0, |p| p + 1);
    bytes.get(..keep).unwrap_or_default()
}

fn trim_start_matches(bytes: &[u8], strip: impl Fn(u8) -> bool) -> &[u8] {
    let skip = bytes.iter().position(|&b| !strip(b)).unwrap_or(bytes.len());
    bytes.get(skip..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_statuses(text: &str, expected: &[u16]) {
        let found: Vec<u16> = statuses(text).collect();
        assert_eq!(found, expected, "text: {text:?}");
    }

    #[test]
    fn three_digit_numbers_are_found_as_a_byte_wise_reading_finds_them() {
        fn byte_wise(bytes: &[u8], from: usize) -> Option<usize> {
            (from..bytes.len()).find(|&start| {
                let is_digit = |index: usize| bytes.get(index).is_some_and(u8::is_ascii_digit);
                let before = start.checked_sub(1).and_then(|index| bytes.get(index));
                (0..3).all(|offset| is_digit(start + offset))
                    && !is_digit(start + 3)
                    && !before.is_some_and(u8::is_ascii_alphanumeric)
            })
        }
        // Bytes around the 0x30..=0x3f range and past ASCII, at every position and length
        // across windows of 64 bytes.
        let alphabet = b"a/0999:?@ \xff\x2f\x3a\x40\xb0";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 200) as usize;
            let bytes: Vec<u8> = (0..length)
                .map(|position| alphabet[((state >> (position % 60)) as usize + position * 7) % alphabet.len()])
                .collect();
            for from in 0..=length {
                assert_eq!(next_three_digit_number(&bytes, from), byte_wise(&bytes, from), "{bytes:?} from {from}");
            }
        }
    }

    #[test]
    fn status_patterns_clients_print() {
        check_statuses("HTTP/1.1 429 Too Many Requests", &[429]);
        check_statuses("HTTP/2 403", &[403]);
        check_statuses("HTTP/2.0 403 Forbidden", &[403]);
        check_statuses("GET https://h/api/alerts -> 401 Unauthorized", &[401]);
        check_statuses("The remote server returned an error: (403) Forbidden.", &[403]);
        check_statuses("Response status code does not indicate success: 404 (Not Found).", &[404]);
        check_statuses("requests.exceptions.HTTPError: 403 Client Error: Forbidden for url", &[403]);
        check_statuses("503 Server Error: Service Unavailable", &[503]);
        check_statuses("Error in API call [404] - Not Found", &[404]);
        check_statuses("level=error status=429 retry_after=12", &[429]);
        check_statuses("StatusCode: 502", &[502]);
        check_statuses("HTTP Error 403: Forbidden", &[403]);
        check_statuses("upstream said 429 Too Many Requests", &[429]);
        check_statuses("Le serveur distant a retourné une erreur : (403) Interdit.", &[403]);
        check_statuses("GET /api/machines -> 200", &[200]);
    }

    #[test]
    fn numbers_that_are_not_statuses() {
        check_statuses("app[123]: started", &[]);
        check_statuses("worker(404) exited", &[]);
        check_statuses("fetched 25 alerts in 130 ms", &[]);
        check_statuses("Machine 123123123 was not found", &[]);
        check_statuses("port 4290 (tcp)", &[]);
        check_statuses("took 404ms", &[]);
        check_statuses("(999) and (042)", &[]);
        check_statuses("version 1.404 (beta)", &[]);
        check_statuses("x404 (Not Found)", &[]);
        check_statuses("401 Unauthorizedly", &[]);
    }

    #[test]
    fn first_error_status_and_first_success_status() {
        assert_eq!(first_statuses("-> 200 then -> 503"), (Some(503), Some(200)));
        assert_eq!(first_statuses("(404) then (500)"), (Some(404), None));
        assert_eq!(first_statuses("nothing"), (None, None));
    }

    #[test]
    fn retry_after_in_text() {
        assert_eq!(retry_after("Retry-After: 2.128"), Some(RetryAfterText::Seconds(2.128)));
        assert_eq!(retry_after("status=429 retry_after=12 body=x"), Some(RetryAfterText::Seconds(12.0)));
        assert_eq!(retry_after("x-ms-retry-after-ms: 1500"), Some(RetryAfterText::Seconds(1.5)));
        assert_eq!(retry_after(r#""Retry-After":"7""#), Some(RetryAfterText::Seconds(7.0)));
        assert_eq!(
            retry_after("Retry-After: Wed, 21 Oct 2026 07:28:00 GMT"),
            Some(RetryAfterText::Date("Wed, 21 Oct 2026 07:28:00 GMT"))
        );
        assert_eq!(
            retry_after("Retry-After: Sunday, 06-Nov-94 08:49:37 GMT\nContent-Length: 0"),
            Some(RetryAfterText::Date("Sunday, 06-Nov-94 08:49:37 GMT"))
        );
        assert_eq!(
            retry_after("retry_after=\"Sun Nov  6 08:49:37 1994\""),
            Some(RetryAfterText::Date("Sun Nov  6 08:49:37 1994"))
        );
        assert_eq!(retry_after("Retry-After: Sun Nov 6 08:49:37 1994"), None);
        assert_eq!(retry_after("Please retry after a while"), None);
        assert_eq!(retry_after("retry later"), None);
        assert_eq!(retry_after("RETRY-AFTER: 3 and ReTrY_AfTeR=4"), Some(RetryAfterText::Seconds(3.0)));
        assert_eq!(retry_after("try: 1, retry: 2, Retry-After: 5"), Some(RetryAfterText::Seconds(5.0)));
        assert_eq!(retry_after("yyyy retry-after=6"), Some(RetryAfterText::Seconds(6.0)));
    }

    #[test]
    fn urls_and_verbs() {
        assert_eq!(
            first_url("ERROR mde GET https://api.securitycenter.microsoft.com/api/alerts -> 401"),
            Some((Some("GET"), "https://api.securitycenter.microsoft.com/api/alerts"))
        );
        assert_eq!(first_url("Forbidden for url: https://h/api/machines."), Some((None, "https://h/api/machines")));
        assert_eq!(first_url("see http:// nothing"), None);
        assert_eq!(first_url("no url here"), None);
    }

    #[test]
    fn guids_named_in_text() {
        let text = "HTTP/2.0 403 Forbidden\nrequest-id: 94fb3b52-452a-4535-a601-69e0a90e3aa2\nclient-request-id: B041E97F-24D2-BF6A-1731-7E0DE686464C\nCorrelation ID: fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7\nplain 11111111-2222-3333-4444-555555555555";
        let found: Vec<(String, String)> =
            named_guids(text).map(|(name, guid)| (format!("{name:?}"), guid.to_string())).collect();
        assert_eq!(
            found,
            vec![
                ("\"requestid\"".to_owned(), "94fb3b52-452a-4535-a601-69e0a90e3aa2".to_owned()),
                ("\"clientrequestid\"".to_owned(), "b041e97f-24d2-bf6a-1731-7e0de686464c".to_owned()),
                ("\"correlationid\"".to_owned(), "fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7".to_owned()),
            ]
        );
    }

    #[test]
    fn names_compare_without_normalising() {
        #[track_caller]
        fn check(name: &str, compared: &str, expected: bool) {
            assert_eq!(reads_as(name.as_bytes(), compared.as_bytes()), expected, "{name} as {compared}");
        }
        check("innerError", "innererror", true);
        check("INNERERROR", "innererror", true);
        check("request-id", "requestid", true);
        check("Request_Id", "requestid", true);
        check("Error_Description", "errordescription", true);
        check("error description", "errordescription", true);
        check("", "", true);
        check("_", "", true);
        check("errors", "error", false);
        check("erro", "error", false);
        check("e_rro", "error", false);
        check("odata.error", "error", false);
        check("error", "", false);
        check("code_", "cod", false);
        check("codex", "code", false);
    }

    #[test]
    fn names_normalise_alike() {
        assert_eq!(NameBuffer::normalise(b"StatusCode"), NameBuffer::normalise(b"status_code"));
        assert_eq!(NameBuffer::normalise(b"x-ms-request-id").as_bytes(), b"xmsrequestid");
        assert!(NameBuffer::normalise(b"a_field_name_far_too_long_to_matter").is_empty());
        assert_eq!(NameBuffer::normalise(b"ABCDEFGHIJKLMNOPQRSTUVWX").as_bytes(), b"abcdefghijklmnopqrstuvwx");
        assert!(NameBuffer::normalise(b"ABCDEFGHIJKLMNOPQRSTUVWXY").is_empty());
        assert_eq!(NameBuffer::normalise(b"A_BCDEFGHIJKLMNOPQRSTUVWX").as_bytes(), b"abcdefghijklmnopqrstuvwx");
        assert_eq!(NameBuffer::normalise(b"Log.Level\xc3\x89"), NameBuffer::normalise(b"log._level\xc3\x89"));
    }
}
