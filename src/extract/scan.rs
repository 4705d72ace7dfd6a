//! Byte-level scanning: where JSON-like documents sit inside text, how deep they nest, logfmt pairs.
//!
//! Nothing here allocates per byte or looks at a byte twice more than a bounded number of times:
//! these scans run over every record that passes the prefilter, including hostile ones.

use std::borrow::Cow;
use std::ops::Range;

/// The outcome of following a bracketed document from its opening byte.
#[derive(Debug, PartialEq, Eq)]
pub enum Balanced {
    /// The document closes; `end` is one past its closing bracket.
    Closed { end: usize },
    /// It nests deeper than allowed before closing.
    TooDeep,
    /// The input ends first.
    Unterminated,
}

/// Follows the document that opens at `start` (`{` or `[`), skipping brackets inside strings.
/// Both quote characters open strings so that Python reprs scan like JSON.
pub fn follow_document(bytes: &[u8], start: usize, max_depth: usize) -> Balanced {
    let mut depth = 0usize;
    let mut index = start;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'"' | b'\'' => {
                // Strings are most of a document's bytes: jump from quote to quote.
                let mut from = index + 1;
                loop {
                    let Some(found) = bytes.get(from..).and_then(|rest| memchr::memchr2(byte, b'\\', rest)) else {
                        return Balanced::Unterminated;
                    };
                    let at = from + found;
                    if bytes.get(at) == Some(&b'\\') {
                        from = at + 2;
                        continue;
                    }
                    index = at;
                    break;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Balanced::TooDeep;
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Balanced::Closed { end: index + 1 };
                }
            }
            _ => {}
        }
        index += 1;
    }
    Balanced::Unterminated
}

/// Whether `bytes` could nest deeper than `max_depth`: not when it has fewer brackets.
pub fn may_nest_deeper_than(bytes: &[u8], max_depth: usize) -> bool {
    memchr::memchr2_iter(b'{', b'[', bytes).nth(max_depth).is_some()
}

/// Spans of `text` that may hold a JSON object (or a Python dict repr): balanced `{...}` regions
/// outside one another, in order. At most `max_attempts` openings are followed, so a line full of
/// unmatched braces costs a bounded number of passes.
pub fn document_spans(text: &str, max_depth: usize, max_attempts: usize) -> Result<Vec<Range<usize>>, TooDeep> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    let mut attempts = 0;
    while let Some(offset) = bytes.get(from..).and_then(|rest| memchr::memchr(b'{', rest)) {
        let start = from + offset;
        attempts += 1;
        if attempts > max_attempts {
            break;
        }
        match follow_document(bytes, start, max_depth) {
            Balanced::Closed { end } => {
                spans.push(start..end);
                from = end;
            }
            Balanced::TooDeep => return Err(TooDeep),
            Balanced::Unterminated => from = start + 1,
        }
    }
    Ok(spans)
}

/// Where JSON escaped into a string starts in `text`: a `{` followed by backslashes and a quote
/// (`{\"error\":...`, or `{\\\"error...` when escaped twice), as when a JSON log string holds
/// text that holds an escaped body.
pub fn escaped_document_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'{', bytes).filter(move |&start| {
        let after = bytes.get(start + 1..).unwrap_or_default();
        let backslashes = after.iter().take_while(|&&b| b == b'\\').count();
        backslashes > 0 && after.get(backslashes) == Some(&b'"')
    })
}

/// Undoes one level of JSON string escaping from the start of `text` up to the first quote
/// that is not escaped (where the enclosing string ends) or the end of the text. Returns the
/// unescaped text and the number of bytes read.
pub fn unescape_json_text(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return (out, index),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 'b')) => out.push('\u{8}'),
                Some((_, 'f')) => out.push('\u{c}'),
                Some((_, 'u')) => {
                    let digits: String = chars.by_ref().take(4).map(|(_, digit)| digit).collect();
                    let unit = u32::from_str_radix(&digits, 16).ok();
                    out.push(unit.and_then(char::from_u32).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                Some((_, other)) => out.push(other),
                None => break,
            },
            _ => out.push(c),
        }
    }
    (out, text.len())
}

/// A top-level field value of a JSON object, as found by [`top_level_field`].
#[derive(Debug, Clone, PartialEq)]
pub enum FieldScalar<'a> {
    /// A string's content, escapes undone.
    Text(Cow<'a, str>),
    Number(f64),
}

/// The value of the first top-level field of the JSON object `text` whose name `wanted`
/// accepts, read without building the document: the cheap path for records that cannot be
/// errors. Nested values are skipped by bracket matching, which also enforces `max_depth`.
/// `Ok(None)` when there is no such field or the text is not an object this scan can follow.
pub fn top_level_field<'a>(
    text: &'a str,
    wanted: fn(&str) -> bool,
    max_depth: usize,
) -> Result<Option<FieldScalar<'a>>, TooDeep> {
    let bytes = text.as_bytes();
    let skip_spaces = |mut index: usize| {
        while bytes.get(index).is_some_and(u8::is_ascii_whitespace) {
            index += 1;
        }
        index
    };
    let mut index = skip_spaces(0);
    if bytes.get(index) != Some(&b'{') {
        return Ok(None);
    }
    // Once the field is found, the rest is only read when it could nest too deep.
    let may_be_too_deep = may_nest_deeper_than(bytes, max_depth);
    let mut found = None;
    index += 1;
    loop {
        if found.is_some() && !may_be_too_deep {
            return Ok(found);
        }
        index = skip_spaces(index);
        if bytes.get(index) != Some(&b'"') {
            return Ok(found);
        }
        let Some(key_end) = string_end(bytes, index) else { return Ok(found) };
        let key = text.get(index + 1..key_end).unwrap_or_default();
        index = skip_spaces(key_end + 1);
        if bytes.get(index) != Some(&b':') {
            return Ok(found);
        }
        index = skip_spaces(index + 1);
        let value_start = index;
        let wanted_here = found.is_none() && wanted(key);
        match bytes.get(index) {
            Some(b'"') => {
                let Some(end) = string_end(bytes, index) else { return Ok(found) };
                if wanted_here {
                    let raw = text.get(value_start + 1..end).unwrap_or_default();
                    let value =
                        if raw.contains('\\') { Cow::Owned(unescape_json_text(raw).0) } else { Cow::Borrowed(raw) };
                    found = Some(FieldScalar::Text(value));
                }
                index = end + 1;
            }
            Some(b'{' | b'[') => match follow_document(bytes, index, max_depth.saturating_sub(1)) {
                Balanced::Closed { end } => index = end,
                Balanced::TooDeep => return Err(TooDeep),
                Balanced::Unterminated => return Ok(found),
            },
            Some(_) => {
                let end = bytes
                    .get(index..)
                    .and_then(|rest| rest.iter().position(|b| matches!(b, b',' | b'}') || b.is_ascii_whitespace()))
                    .map_or(bytes.len(), |length| index + length);
                if wanted_here {
                    found = text.get(value_start..end).and_then(|raw| raw.parse::<f64>().ok()).map(FieldScalar::Number);
                }
                index = end;
            }
            None => return Ok(found),
        }
        index = skip_spaces(index);
        match bytes.get(index) {
            Some(b',') => index += 1,
            _ => return Ok(found),
        }
    }
}

/// The index of the quote that closes the string opening at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut from = start + 1;
    loop {
        let at = from + bytes.get(from..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest))?;
        if bytes.get(at) == Some(&b'\\') {
            from = at + 2;
        } else {
            return Some(at);
        }
    }
}

/// A document nests deeper than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep;

/// One `key=value` pair of a logfmt line; quoted values are unescaped.
#[derive(Debug, PartialEq, Eq)]
pub struct LogfmtPair<'a> {
    pub key: &'a str,
    pub value: Cow<'a, str>,
    /// Where the value (quotes included) sits in the scanned text.
    pub value_span: Range<usize>,
}

/// The logfmt pairs of `text`, in order, at most `max_pairs`. A key starts the text or follows
/// whitespace, so `?filter=x` inside a URL is not a pair.
pub fn logfmt_pairs(text: &str, max_pairs: usize) -> Vec<LogfmtPair<'_>> {
    let bytes = text.as_bytes();
    let mut pairs = Vec::new();
    let mut from = 0;
    while pairs.len() < max_pairs {
        let Some(offset) = bytes.get(from..).and_then(|rest| memchr::memchr(b'=', rest)) else {
            break;
        };
        let equals = from + offset;
        from = equals + 1;
        let key_start = bytes
            .get(..equals)
            .and_then(|before| before.iter().rposition(|&b| !is_key_byte(b)).map(|p| p + 1))
            .unwrap_or(0);
        let key_is_free_standing = key_start == 0 || bytes.get(key_start - 1).is_some_and(u8::is_ascii_whitespace);
        let Some(key) = text.get(key_start..equals) else { continue };
        if key.is_empty()
            || !key_is_free_standing
            || !key.as_bytes().first().is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b'@')
        {
            continue;
        }
        let value_start = equals + 1;
        let (value, value_end) = if bytes.get(value_start) == Some(&b'"') {
            match quoted_value(text, value_start) {
                Some(found) => found,
                None => break,
            }
        } else {
            let end = bytes
                .get(value_start..)
                .and_then(|rest| rest.iter().position(u8::is_ascii_whitespace))
                .map_or(bytes.len(), |p| value_start + p);
            (Cow::Borrowed(text.get(value_start..end).unwrap_or_default()), end)
        };
        pairs.push(LogfmtPair { key, value, value_span: value_start..value_end });
        from = value_end;
    }
    pairs
}

fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'@')
}

/// Reads a double-quoted logfmt value starting at `start` (the quote) and returns it unescaped
/// with the index one past the closing quote; `None` when it never closes.
fn quoted_value(text: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
    let bytes = text.as_bytes();
    let body_start = start + 1;
    let mut index = body_start;
    let mut has_escapes = false;
    loop {
        index += memchr::memchr2(b'\\', b'"', bytes.get(index..)?)?;
        if bytes.get(index) == Some(&b'"') {
            break;
        }
        has_escapes = true;
        index += 2;
    }
    let body = text.get(body_start..index)?;
    let value = if has_escapes { Cow::Owned(unescape_logfmt(body)) } else { Cow::Borrowed(body) };
    Some((value, index + 1))
}

/// Undoes logfmt's escapes. Backslashes are ASCII, so the text between them is copied whole.
fn unescape_logfmt(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(backslash) = memchr::memchr(b'\\', rest.as_bytes()) {
        let (before, escape) = rest.split_at(backslash);
        out.push_str(before);
        let escaped = escape.get(1..).and_then(|after| after.chars().next());
        match escaped {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other @ ('"' | '\\')) => out.push(other),
            // Unknown escapes are kept whole: they may belong to JSON nested in the value.
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
        rest = escape.get(1 + escaped.map_or(0, char::len_utf8)..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Rewrites a Python literal (`{'error': {'code': 'Forbidden', 'ok': True}}`) as JSON, or `None`
/// when it is not one that JSON can hold.
pub fn python_repr_to_json(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 8);
    let mut index = 0;
    // What matters is ASCII (quotes, backslashes, True, False, None): the text between is
    // copied whole.
    while let Some(offset) = bytes.get(index..)?.iter().position(|b| matches!(b, b'\'' | b'"' | b'T' | b'F' | b'N')) {
        let special = index + offset;
        out.push_str(text.get(index..special)?);
        let quote = *bytes.get(special)?;
        index = special + 1;
        if quote == b'\'' || quote == b'"' {
            out.push('"');
            index = python_string(text, index, quote, &mut out)?;
            out.push('"');
            continue;
        }
        let word_end =
            bytes.get(index..)?.iter().position(|b| !b.is_ascii_alphabetic()).map_or(bytes.len(), |p| index + p);
        out.push_str(match text.get(special..word_end)? {
            "True" => "true",
            "False" => "false",
            "None" => "null",
            _ => return None,
        });
        index = word_end;
    }
    out.push_str(text.get(index..)?);
    Some(out)
}

/// Writes the body of a Python string that starts at `index` and is closed by `quote` as the
/// body of a JSON string, and returns the index after the closing quote.
fn python_string(text: &str, mut index: usize, quote: u8, out: &mut String) -> Option<usize> {
    let bytes = text.as_bytes();
    loop {
        let stop = index + memchr::memchr3(b'\\', quote, b'"', bytes.get(index..)?)?;
        out.push_str(text.get(index..stop)?);
        index = stop + 1;
        match *bytes.get(stop)? {
            b'\\' => {
                let mut rest = text.get(index..)?.chars();
                match rest.next()? {
                    '\'' => out.push('\''),
                    'x' => {
                        let high = rest.next()?;
                        let low = rest.next()?;
                        out.push_str("\\u00");
                        out.push(high);
                        out.push(low);
                    }
                    escaped => {
                        out.push('\\');
                        out.push(escaped);
                    }
                }
                index = text.len() - rest.as_str().len();
            }
            byte if byte == quote => return Some(index),
            // A double quote inside a single-quoted string.
            _ => out.push_str("\\\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_spans(text: &str, expected: &[&str]) {
        let spans = document_spans(text, 128, 32).expect("not too deep");
        let found: Vec<&str> = spans.into_iter().map(|span| &text[span]).collect();
        assert_eq!(found, expected, "text: {text:?}");
    }

    #[test]
    fn documents_inside_text() {
        check_spans(r#"Invoke-RestMethod: {"error":{"code":"X"}}"#, &[r#"{"error":{"code":"X"}}"#]);
        check_spans(r#"a {"x":"}"} b {"y":1} c"#, &[r#"{"x":"}"}"#, r#"{"y":1}"#]);
        check_spans("MDE error: {'error': {'message': \"it's\"}}", &["{'error': {'message': \"it's\"}}"]);
        check_spans(r#"template {Status} then {"status":403}"#, &["{Status}", r#"{"status":403}"#]);
        check_spans(r#"unterminated {"error":{"code":"X"}"#, &[r#"{"code":"X"}"#]);
        check_spans("no braces at all", &[]);
        check_spans(r#"{"a":"\"}"}"#, &[r#"{"a":"\"}"}"#]);
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(follow_document(deep.as_bytes(), 0, 128), Balanced::TooDeep);
        let exact = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(follow_document(exact.as_bytes(), 0, 128), Balanced::Closed { end: 256 });
        assert_eq!(document_spans(&format!("x {{{}", "{".repeat(200)), 128, 32), Err(TooDeep));
    }

    #[test]
    fn attempts_are_bounded() {
        let text = "{".repeat(100_000);
        assert_eq!(document_spans(&text, 200_000, 8), Ok(vec![]));
    }

    #[test]
    fn logfmt_pairs_with_quoted_json() {
        let text =
            r#"ts=2026-11-26T10:00:05Z level=error status=429 body="{\"error\":{\"code\":\"X\"}}" url=https://h/p?a=b"#;
        let pairs = logfmt_pairs(text, 100);
        let found: Vec<(&str, &str)> = pairs.iter().map(|p| (p.key, p.value.as_ref())).collect();
        assert_eq!(
            found,
            vec![
                ("ts", "2026-11-26T10:00:05Z"),
                ("level", "error"),
                ("status", "429"),
                ("body", r#"{"error":{"code":"X"}}"#),
                ("url", "https://h/p?a=b"),
            ]
        );
        assert_eq!(&text[pairs[3].value_span.clone()], r#""{\"error\":{\"code\":\"X\"}}""#);
    }

    #[test]
    fn logfmt_escapes() {
        fn check(quoted: &str, expected: Option<&str>) {
            let text = format!("k={quoted} next=1");
            let pairs = logfmt_pairs(&text, 10);
            assert_eq!(pairs.first().map(|pair| pair.value.as_ref()), expected, "{quoted}");
            if expected.is_some() {
                assert_eq!(&text[pairs[0].value_span.clone()], quoted);
                assert_eq!(pairs.get(1).map(|pair| (pair.key, pair.value.as_ref())), Some(("next", "1")));
            }
        }
        check(r#""plain""#, Some("plain"));
        check(r#""""#, Some(""));
        check(r#""a\nb\tc\rd""#, Some("a\nb\tc\rd"));
        check(r#""say \"hi\" \\ done""#, Some(r#"say "hi" \ done"#));
        check(r#""\u00e9 \/ kept""#, Some(r"\u00e9 \/ kept"));
        check(r#""caf\é ünï""#, Some(r"caf\é ünï"));
        check(r#""ends with \\""#, Some("ends with \\"));
        check(r#""never \" closes"#, None);
    }

    #[test]
    fn logfmt_ignores_what_is_not_a_pair() {
        assert!(logfmt_pairs("GET https://host/api?filter=x -> 401", 10).is_empty());
        assert!(logfmt_pairs("a == b", 10).is_empty());
        assert!(logfmt_pairs("=value", 10).is_empty());
        assert_eq!(logfmt_pairs(r#"k="never closes"#, 10), vec![]);
        assert_eq!(logfmt_pairs("a=1 b=2 c=3", 2).len(), 2);
    }

    #[test]
    fn escaped_documents_in_text() {
        let text = r#"msg=x {\"error\":{\"code\":\"X\"}}" tail {"plain":1} {\\\"twice"#;
        let starts: Vec<usize> = escaped_document_starts(text).collect();
        assert_eq!(starts.len(), 3, "the nested opening counts too; the walk skips what it already read");
        let (unescaped, used) = unescape_json_text(&text[starts[0]..]);
        assert_eq!(unescaped, r#"{"error":{"code":"X"}}"#);
        assert_eq!(&text[starts[0] + used..starts[0] + used + 1], "\"");
        assert_eq!(unescape_json_text(r"\ud83d"), ("\u{fffd}".to_owned(), 6));
        assert_eq!(unescape_json_text(r"a\u00e9\n\u12"), ("a\u{e9}\n\u{12}".to_owned(), 13));
    }

    #[track_caller]
    fn check_field(text: &str, expected: Result<Option<FieldScalar<'_>>, TooDeep>) {
        fn is_ts(name: &str) -> bool {
            name.eq_ignore_ascii_case("ts")
        }
        assert_eq!(top_level_field(text, is_ts, 128), expected, "text: {text}");
    }

    #[test]
    fn top_level_fields_without_a_parse() {
        let text = |value: &'static str| Ok(Some(FieldScalar::Text(Cow::Borrowed(value))));
        check_field(
            r#"{"level":"info","nested":{"ts":"no"},"TS":"2026-11-26T10:00:09Z"}"#,
            text("2026-11-26T10:00:09Z"),
        );
        check_field(
            r#" { "a" : [1, {"b": "}"}], "ts" : 1795000000.5 } "#,
            Ok(Some(FieldScalar::Number(1_795_000_000.5))),
        );
        check_field(r#"{"m":"say \"ts\"","ts":"x\ty"}"#, Ok(Some(FieldScalar::Text(Cow::Owned("x\ty".to_owned())))));
        check_field(r#"{"level":"info"}"#, Ok(None));
        check_field(r#"{"ts":nope}"#, Ok(None));
        check_field("not json", Ok(None));
        check_field(r#"{"ts": "#, Ok(None));
        check_field(r#"{"a":1 "ts":"2"}"#, Ok(None));
        let deep = format!(r#"{{"a":{}{},"ts":"x"}}"#, "[".repeat(200), "]".repeat(200));
        check_field(&deep, Err(TooDeep));
        let deep_after = format!(r#"{{"ts":"x","a":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        check_field(&deep_after, Err(TooDeep));
    }

    #[test]
    fn python_reprs_become_json() {
        let repr = "{'error': {'code': 'Forbidden', 'message': 'say \"hi\" it\\'s', 'ok': True, 'n': None}}";
        let json = python_repr_to_json(repr).unwrap();
        assert_eq!(json, r#"{"error": {"code": "Forbidden", "message": "say \"hi\" it's", "ok": true, "n": null}}"#);
        assert_eq!(python_repr_to_json("{'a': Nothing}"), None);
        assert_eq!(python_repr_to_json("{'unterminated"), None);
        assert_eq!(python_repr_to_json(r"{'a': '\x41'}").as_deref(), Some(r#"{"a": "\u0041"}"#));
    }

    /// The rewrite read plainly, character by character: the fast one must give the same
    /// answer for any text.
    fn python_repr_to_json_char_by_char(text: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' | '"' => {
                    out.push('"');
                    loop {
                        match chars.next()? {
                            '\\' => match chars.next()? {
                                '\'' => out.push('\''),
                                'x' => {
                                    let (high, low) = (chars.next()?, chars.next()?);
                                    out.push_str("\\u00");
                                    out.push(high);
                                    out.push(low);
                                }
                                escaped => {
                                    out.push('\\');
                                    out.push(escaped);
                                }
                            },
                            '"' if c == '\'' => out.push_str("\\\""),
                            inner if inner == c => break,
                            inner => out.push(inner),
                        }
                    }
                    out.push('"');
                }
                'T' | 'F' | 'N' => {
                    let mut word = String::from(c);
                    while let Some(next) = chars.next_if(char::is_ascii_alphabetic) {
                        word.push(next);
                    }
                    out.push_str(match word.as_str() {
                        "True" => "true",
                        "False" => "false",
                        "None" => "null",
                        _ => return None,
                    });
                }
                _ => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn python_reprs_rewrite_as_read_char_by_char() {
        let pieces = [
            "'", "\"", "\\", "x", "T", "True", "False", "None", "Nope", "é", "ü", "{", "}", ": ", ", ", "a", "1",
            "\\x4", "\\'", "\\\"", " ",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..50_000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for step in 0..(state % 24) {
                let pick = (state.rotate_left(step as u32 * 5) % pieces.len() as u64) as usize;
                text.push_str(pieces[pick]);
            }
            assert_eq!(python_repr_to_json(&text), python_repr_to_json_char_by_char(&text), "{text:?}");
        }
    }
}
