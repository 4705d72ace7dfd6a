//! The one module that names `serde_json`: parsing documents found in records, and writing lines.
//!
//! Every document is depth-checked by [`crate::extract`]'s scanner before it gets here, which is
//! why the parser's own recursion limit can be switched off: the limit that applies is ours
//! (128 levels, counted across escaped documents), not the parser's.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use serde_json::{Map, Number, Value};

/// Parses one complete JSON document; `None` for anything that is not exactly one.
pub fn parse(text: &str) -> Option<Value> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = Value::deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(value)
}

/// Appends `value` as one line of JSON.
pub fn write_line(out: &mut Vec<u8>, value: &impl Serialize) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *out, value)?;
    out.push(b'\n');
    Ok(())
}

/// The value of the first top-level field of a JSON object for which `wanted(name)` holds, read
/// without building the document: the cheap path for records that cannot be errors.
/// Returns `None` when the text is not a JSON object or no such field holds a string or number.
pub fn top_level_field(text: &str, wanted: fn(&str) -> bool) -> Option<Scalar> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    deserializer.deserialize_map(FirstField { wanted }).ok().flatten()
}

/// A string or number field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
}

struct FirstField {
    wanted: fn(&str) -> bool,
}

impl<'de> Visitor<'de> for FirstField {
    type Value = Option<Scalar>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // The parser insists on reading the object to its end, so the rest is skipped, not left.
        let mut found = None;
        while let Some(is_wanted) = map.next_key_seed(KeyMatches { wanted: self.wanted })? {
            if is_wanted && found.is_none() {
                found = map.next_value::<MaybeScalar>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

struct KeyMatches {
    wanted: fn(&str) -> bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatches {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyMatches {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<bool, E> {
        Ok((self.wanted)(name))
    }
}

struct MaybeScalar(Option<Scalar>);

impl<'de> Deserialize<'de> for MaybeScalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MaybeScalarVisitor)
    }
}

struct MaybeScalarVisitor;

impl<'de> Visitor<'de> for MaybeScalarVisitor {
    type Value = MaybeScalar;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<MaybeScalar, E> {
        Ok(MaybeScalar(Some(Scalar::Text(text.to_owned()))))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<MaybeScalar, E> {
        Ok(MaybeScalar(Some(Scalar::Number(number as f64))))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<MaybeScalar, E> {
        Ok(MaybeScalar(Some(Scalar::Number(number as f64))))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<MaybeScalar, E> {
        Ok(MaybeScalar(Some(Scalar::Number(number))))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeScalar, E> {
        Ok(MaybeScalar(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<MaybeScalar, E> {
        Ok(MaybeScalar(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeScalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeScalar(None))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeScalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeScalar(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_ts(name: &str) -> bool {
        name.eq_ignore_ascii_case("ts")
    }

    #[test]
    fn parses_exactly_one_document() {
        assert!(parse(r#"{"a":1}"#).is_some());
        assert!(parse(r#" {"a":1} "#).is_some());
        assert!(parse(r#"{"a":1} trailing"#).is_none());
        assert!(parse(r#"{"a":"#).is_none());
        assert!(parse("").is_none());
    }

    #[test]
    fn reads_one_top_level_field_without_building_the_document() {
        let record = r#"{"level":"info","nested":{"ts":"no"},"TS":"2026-11-26T10:00:09Z","x":[1,{"y":2}]}"#;
        assert_eq!(top_level_field(record, is_ts), Some(Scalar::Text("2026-11-26T10:00:09Z".to_owned())));
        assert_eq!(top_level_field(r#"{"ts":1795000000}"#, is_ts), Some(Scalar::Number(1_795_000_000.0)));
        assert_eq!(top_level_field(r#"{"ts":null,"ts":"later"}"#, is_ts), Some(Scalar::Text("later".to_owned())));
        assert_eq!(top_level_field(r#"{"level":"info"}"#, is_ts), None);
        assert_eq!(top_level_field("not json", is_ts), None);
        assert_eq!(top_level_field(r#"{"ts": "#, is_ts), None);
    }
}
