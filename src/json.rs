//! JSON: parsing the documents found in records, and writing lines.
//!
//! Found documents are parsed by hand into a [`Node`] tree that borrows from the record. A
//! classifier parses one or two documents per failed call and some per ordinary line; a parser
//! that builds exactly this tree, with no visitor in between, costs less than serde_json's. It
//! accepts exactly the JSON that serde_json accepts (a test holds the two to that). Every
//! document is depth-checked by [`crate::extract`]'s scanner before it gets here; the parser's
//! own nesting cap only keeps a caller that forgot from running out of stack.
//!
//! Writing goes through `serde_json`: this is the one module that names it.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use crate::byte_search;

/// A parsed JSON document. It borrows its strings from the text wherever they hold no escapes,
/// keeps object fields in document order (which the classification rules depend on), and
/// hashes nothing: records are read once, field by field, so a map would only cost time.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Text(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// A JSON number as read: integers stay exact, so that a numeric code reads as its digits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Unsigned(number) => number as f64,
            Number::Signed(number) => number as f64,
            Number::Float(number) => number,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Unsigned(number) => number.fmt(f),
            Number::Signed(number) => number.fmt(f),
            Number::Float(number) => number.fmt(f),
        }
    }
}

impl<'a> Node<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Text(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, Node<'a>)]> {
        match self {
            Node::Object(fields) => Some(fields),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }

    /// The same document, owning its strings.
    pub fn into_owned(self) -> Node<'static> {
        match self {
            Node::Null => Node::Null,
            Node::Bool(value) => Node::Bool(value),
            Node::Number(number) => Node::Number(number),
            Node::Text(text) => Node::Text(Cow::Owned(text.into_owned())),
            Node::Array(items) => Node::Array(items.into_iter().map(Node::into_owned).collect()),
            Node::Object(fields) => Node::Object(
                fields.into_iter().map(|(key, value)| (Cow::Owned(key.into_owned()), value.into_owned())).collect(),
            ),
        }
    }
}

/// Parses one complete JSON document; `None` for anything that is not exactly one.
pub fn parse(text: &str) -> Option<Node<'_>> {
    let mut parser = Parser { text, bytes: text.as_bytes(), position: 0, depth: 0 };
    let value = parser.value()?;
    parser.skip_whitespace();
    (parser.position == parser.bytes.len()).then_some(value)
}

/// Levels of nesting the parser follows at most: the highest depth limit a record can be given.
pub const MAX_NESTING: usize = 1024;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    position: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    /// Skips whitespace, then takes `byte` if it comes next.
    fn take(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let found = self.peek() == Some(byte);
        if found {
            self.position += 1;
        }
        found
    }

    fn value(&mut self) -> Option<Node<'a>> {
        self.skip_whitespace();
        match self.peek()? {
            b'{' => self.nested(Parser::object),
            b'[' => self.nested(Parser::array),
            b'"' => self.string().map(Node::Text),
            b't' => self.literal(b"true", Node::Bool(true)),
            b'f' => self.literal(b"false", Node::Bool(false)),
            b'n' => self.literal(b"null", Node::Null),
            b'-' | b'0'..=b'9' => self.number().map(Node::Number),
            _ => None,
        }
    }

    fn nested(&mut self, read: fn(&mut Self) -> Option<Node<'a>>) -> Option<Node<'a>> {
        if self.depth >= MAX_NESTING {
            return None;
        }
        self.depth += 1;
        self.position += 1;
        let node = read(self);
        self.depth -= 1;
        node
    }

    fn literal(&mut self, word: &[u8], node: Node<'a>) -> Option<Node<'a>> {
        let end = self.position + word.len();
        (self.bytes.get(self.position..end)? == word).then(|| {
            self.position = end;
            node
        })
    }

    /// After the `{`.
    fn object(&mut self) -> Option<Node<'a>> {
        if self.take(b'}') {
            return Some(Node::Object(Vec::new()));
        }
        let mut fields = Vec::with_capacity(8);
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key = self.string()?;
            if !self.take(b':') {
                return None;
            }
            fields.push((key, self.value()?));
            if self.take(b'}') {
                return Some(Node::Object(fields));
            }
            if !self.take(b',') {
                return None;
            }
        }
    }

    /// After the `[`.
    fn array(&mut self) -> Option<Node<'a>> {
        let mut items = Vec::new();
        if self.take(b']') {
            return Some(Node::Array(items));
        }
        loop {
            items.push(self.value()?);
            if self.take(b']') {
                return Some(Node::Array(items));
            }
            if !self.take(b',') {
                return None;
            }
        }
    }

    /// At the opening quote. Borrowed when the string holds no escape.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.position += 1;
        let start = self.position;
        let stop = start + self.plain_run()?;
        if self.bytes.get(stop) == Some(&b'"') {
            self.position = stop + 1;
            return self.text.get(start..stop).map(Cow::Borrowed);
        }
        self.escaped_string(start, stop).map(Cow::Owned)
    }

    /// A string that stops short of its closing quote at `first_stop`: at an escape, or at a
    /// control character (which JSON strings must escape). Apart, so that the common case
    /// stays small.
    #[inline(never)]
    fn escaped_string(&mut self, start: usize, first_stop: usize) -> Option<String> {
        // Escaped strings are mostly bodies escaped whole, which run on to near the end of the
        // document: room for that, within reason, saves growing it.
        let mut text = String::with_capacity((self.bytes.len() - start).min(4096));
        let mut stop = first_stop;
        loop {
            text.push_str(self.text.get(self.position..stop)?);
            self.position = stop + 1;
            match self.bytes.get(stop)? {
                b'"' => return Some(text),
                b'\\' => text.push(self.escape()?),
                _ => return None,
            }
            stop = self.position + self.plain_run()?;
        }
    }

    /// Bytes from here up to the next quote, backslash or control character.
    fn plain_run(&self) -> Option<usize> {
        let marks = |word: u64| {
            byte_search::bytes_equal(word, b'"')
                | byte_search::bytes_equal(word, b'\\')
                | byte_search::bytes_below(word, 0x20)
        };
        let stops = |byte: u8| byte == b'"' || byte == b'\\' || byte < 0x20;
        byte_search::position_from(self.bytes, self.position, marks, stops).map(|stop| stop - self.position)
    }

    /// After a backslash: the character it stands for. As serde_json does for text, surrogates
    /// must come in pairs.
    fn escape(&mut self) -> Option<char> {
        let byte = self.peek()?;
        self.position += 1;
        Some(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex_escape()?;
                match first {
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.position..self.position + 2)? != b"\\u" {
                            return None;
                        }
                        self.position += 2;
                        let second = self.hex_escape()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return None;
                        }
                        char::from_u32(0x1_0000 + ((first - 0xD800) << 10) + (second - 0xDC00))?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(first)?,
                }
            }
            _ => return None,
        })
    }

    fn hex_escape(&mut self) -> Option<u32> {
        let digits = self.text.get(self.position..self.position + 4)?;
        if !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        self.position += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// At a `-` or a digit. Integers stay exact while they fit, as serde_json keeps them.
    fn number(&mut self) -> Option<Number> {
        let start = self.position;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.position += 1;
        }
        let integer_start = self.position;
        match self.peek()? {
            b'0' => self.position += 1,
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        // A leading zero stands alone.
        if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let integer_end = self.position;
        let mut is_integer = true;
        if self.peek() == Some(b'.') {
            self.position += 1;
            if !self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                return None;
            }
            self.skip_digits();
            is_integer = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.position += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.position += 1;
            }
            if !self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                return None;
            }
            self.skip_digits();
            is_integer = false;
        }
        if is_integer {
            if let Ok(magnitude) = self.text.get(integer_start..integer_end)?.parse::<u64>() {
                if !negative {
                    return Some(Number::Unsigned(magnitude));
                }
                // As serde_json: -0 and magnitudes past i64 are floats.
                let value = (magnitude as i64).wrapping_neg();
                return Some(if value < 0 { Number::Signed(value) } else { Number::Float(-(magnitude as f64)) });
            }
        }
        let value = self.text.get(start..self.position)?.parse::<f64>().ok()?;
        value.is_finite().then_some(Number::Float(value))
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.position += 1;
        }
    }
}

/// Appends `value` as one line of JSON.
pub fn write_line(out: &mut Vec<u8>, value: &impl Serialize) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, value)?;
    out.push(b'\n');
    Ok(())
}

/// A value as one JSON document.
pub fn to_string(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| format!("{{\"error\":\"cannot write JSON: {error}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{self, MapAccess, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    /// serde_json's reading of a document into the same tree: the oracle the parser must match.
    fn serde_parse(text: &str) -> Option<Node<'_>> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        deserializer.disable_recursion_limit();
        let value = Node::deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        Some(value)
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Node<'a> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(NodeVisitor)
        }
    }

    struct NodeVisitor;

    impl<'de> Visitor<'de> for NodeVisitor {
        type Value = Node<'de>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("any JSON value")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Node::Null)
        }

        fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
            Ok(Node::Bool(value))
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
            Ok(Node::Number(Number::Unsigned(value)))
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
            Ok(Node::Number(Number::Signed(value)))
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
            Ok(Node::Number(Number::Float(value)))
        }

        fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
            Ok(Node::Text(Cow::Borrowed(value)))
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(Node::Text(Cow::Owned(value.to_owned())))
        }

        fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
            Ok(Node::Text(Cow::Owned(value)))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok(Node::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0).clamp(8, 64));
            while let Some(key) = map.next_key::<Key<'de>>()? {
                fields.push((key.0, map.next_value()?));
            }
            Ok(Node::Object(fields))
        }
    }

    /// A field name, borrowed when it has no escapes.
    struct Key<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key<'de>;

                fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                    formatter.write_str("a field name")
                }

                fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                    Ok(Key(Cow::Borrowed(value)))
                }

                fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                    Ok(Key(Cow::Owned(value.to_owned())))
                }
            }
            deserializer.deserialize_str(KeyVisitor)
        }
    }

    #[test]
    fn documents_borrow_and_keep_their_order() {
        let node = parse(r#"{"b":"x","a":[1,-2,2.5,true,null],"c\"d":"e\nf"}"#).unwrap();
        let fields = node.as_object().unwrap();
        let keys: Vec<&str> = fields.iter().map(|(key, _)| key.as_ref()).collect();
        assert_eq!(keys, ["b", "a", "c\"d"]);
        assert!(matches!(&fields[0].1, Node::Text(Cow::Borrowed("x"))));
        assert_eq!(
            fields[1].1,
            Node::Array(vec![
                Node::Number(Number::Unsigned(1)),
                Node::Number(Number::Signed(-2)),
                Node::Number(Number::Float(2.5)),
                Node::Bool(true),
                Node::Null
            ])
        );
        assert_eq!(fields[2].1.as_str(), Some("e\nf"));
        assert_eq!(Number::Unsigned(429).to_string(), "429");
    }

    #[test]
    fn parses_exactly_one_document() {
        assert!(parse(r#"{"a":1}"#).is_some());
        assert!(parse(r#" {"a":1} "#).is_some());
        assert!(parse(r#"{"a":1} trailing"#).is_none());
        assert!(parse(r#"{"a":"#).is_none());
        assert!(parse("").is_none());
    }

    #[track_caller]
    fn check_against_serde(text: &str) {
        let ours = parse(text);
        let serde = serde_parse(text);
        assert_eq!(ours, serde, "parse of {text:?}");
        // -0 is a float in both, and equal to 0.0 as a float: tell them apart by sign too.
        if let (Some(Node::Number(Number::Float(ours))), Some(Node::Number(Number::Float(serde)))) = (&ours, &serde) {
            assert_eq!(ours.is_sign_negative(), serde.is_sign_negative(), "sign of {text:?}");
        }
    }

    #[test]
    fn accepts_and_refuses_what_serde_json_does() {
        let cases = [
            // Numbers.
            "0",
            "-0",
            "01",
            "-01",
            "1.5",
            "-1.5",
            "1.",
            ".5",
            "-",
            "+1",
            "1e5",
            "1E+5",
            "1e-5",
            "1e",
            "1e+",
            "1e400",
            "-1e400",
            "1e-400",
            "2.128",
            "429",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "0.1e1",
            "1.0",
            "00",
            "0x10",
            "1 2",
            "NaN",
            "Infinity",
            "-Infinity",
            // Strings.
            r#""""#,
            r#""a""#,
            r#""a\"b""#,
            r#""\\\/\b\f\n\r\t""#,
            r#""\u0041\u00e9\u4e2d""#,
            r#""\ud83d\ude00""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83dx""#,
            r#""\ud83d\u0041""#,
            r#""\ud83d\n""#,
            r#""\u12""#,
            r#""\u12G4""#,
            r#""\x41""#,
            r#""\""#,
            "\"a\u{1}b\"",
            "\"a\u{7f}b\"",
            "\"tab\there\"",
            "\"é中😀\"",
            r#""unterminated"#,
            r#""a"b"#,
            // Literals.
            "true",
            "false",
            "null",
            "tru",
            "nul",
            "nulls",
            "True",
            "[true,false,null]",
            // Containers.
            "{}",
            "[]",
            "{ }",
            "[ ]",
            r#"{"a":1,}"#,
            "[1,]",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{a:1}"#,
            r#"{'a':1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"[[[[]]]]"#,
            r#"{"a":{"b":{"c":[1,{"d":null}]}}}"#,
            "[1,2",
            r#"{"a":1"#,
            "{",
            "[",
            "]",
            "}",
            r#"{"a":1}}"#,
            r#"{"a":[1,2]]"#,
            // Whitespace and what follows the document.
            " \t\r\n{\"a\" : 1 }\n",
            "{\"a\":1}\u{a0}",
            "{\"a\":1}\u{c}",
            "",
            " ",
            "{\"a\":1} x",
        ];
        for case in cases {
            check_against_serde(case);
        }
    }

    #[test]
    fn agrees_with_serde_json_on_every_corpus_record_and_each_of_its_prefixes() {
        let corpus = include_str!("../tests/data/records.jsonl");
        for line in corpus.lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = record["input"].as_str().unwrap();
            for document in [line, text] {
                for end in (0..=document.len()).filter(|&end| document.is_char_boundary(end)) {
                    check_against_serde(&document[..end]);
                }
            }
        }
    }

    #[test]
    fn follows_nesting_up_to_its_cap_and_no_further() {
        let nested = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert!(parse(&nested(MAX_NESTING)).is_some());
        assert!(parse(&nested(MAX_NESTING + 1)).is_none());
        assert!(parse(&nested(100_000)).is_none(), "refused, not a stack overflow");
    }

    #[test]
    fn agrees_with_serde_json_on_jumbles_of_json_tokens() {
        let tokens = [
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            " ",
            "\"",
            "\"k\"",
            "\"v\\\"\"",
            "\\u00e9",
            "\\ud83d",
            "\\ude00",
            "\\n",
            "0",
            "-",
            "1",
            "2.5",
            "e",
            "E+",
            "1e400",
            "true",
            "null",
            "x",
            "\u{1}",
            "é",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..50_000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 24) as usize;
            for position in 0..length {
                text.push_str(tokens[((state >> (position * 2 % 60)) as usize + position * 5) % tokens.len()]);
            }
            check_against_serde(&text);
        }
    }
}
