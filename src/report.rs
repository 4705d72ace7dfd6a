//! The line `errwatch classify` writes for each record: one JSON object, the same keys in the
//! same order for every record, so that scripts can rely on them.

use std::io::Write as _;

use crate::byte_search;
use crate::classify::Classification;
use crate::extract::{api_template, host};
use crate::timestamp::Timestamp;

/// The JSON object for one record.
#[derive(Debug, Default)]
pub struct Report<'a> {
    pub envelope: bool,
    pub family: Option<&'static str>,
    pub code: Option<&'a str>,
    pub raw_code: Option<&'a str>,
    pub http_status: Option<u16>,
    pub category: Option<&'static str>,
    pub retryable: Option<bool>,
    pub retry: Option<&'static str>,
    pub retry_after_seconds: Option<f64>,
    pub correlation_id: Option<crate::guid::CorrelationId>,
    pub message: Option<&'a str>,
    pub inner_codes: Option<&'a [String]>,
    pub timestamp: Option<Timestamp>,
    pub service: Option<&'a str>,
    pub method: Option<&'a str>,
    pub url: Option<&'a str>,
    pub host: Option<&'a str>,
    pub api: Option<String>,
    pub tenant_id: Option<crate::guid::Guid>,
    /// Present only for a record that cannot be read.
    pub error: Option<String>,
}

impl<'a> Report<'a> {
    pub fn new(classification: &'a Classification) -> Report<'a> {
        match classification {
            Classification::ApiError(error) => {
                let url = error.context.url.as_deref();
                Report {
                    envelope: true,
                    family: Some(error.family.as_str()),
                    code: error.code.as_deref(),
                    raw_code: error.raw_code.as_deref(),
                    http_status: error.http_status,
                    category: Some(error.category.as_str()),
                    retryable: Some(error.retryable()),
                    retry: Some(error.retry.as_str()),
                    retry_after_seconds: error.retry_after_seconds,
                    correlation_id: error.correlation_id,
                    message: error.message.as_deref(),
                    inner_codes: Some(&error.inner_codes),
                    timestamp: error.timestamp,
                    service: error.context.service.as_deref(),
                    method: error.context.method.as_deref(),
                    url,
                    host: url.and_then(host),
                    api: url.and_then(api_template),
                    tenant_id: error.context.tenant_id,
                    error: None,
                }
            }
            Classification::NotAnError { http_status, timestamp, .. } => {
                Report { http_status: *http_status, timestamp: *timestamp, ..Report::default() }
            }
            Classification::Unreadable(reason) => Report { error: Some(reason.to_string()), ..Report::default() },
        }
    }

    /// Appends the report as one line of JSON. Written by hand: this runs once per input line,
    /// and the keys are constants.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        if !self.envelope && self.error.is_none() {
            return self.write_quiet_line(out);
        }
        out.extend_from_slice(if self.envelope { b"{\"envelope\":true" } else { b"{\"envelope\":false" });
        text_field(out, b",\"family\":", self.family);
        text_field(out, b",\"code\":", self.code);
        text_field(out, b",\"raw_code\":", self.raw_code);
        out.extend_from_slice(b",\"http_status\":");
        match self.http_status {
            Some(status @ 100..=999) => {
                out.extend_from_slice(&[
                    b'0' + (status / 100) as u8,
                    b'0' + (status / 10 % 10) as u8,
                    b'0' + (status % 10) as u8,
                ]);
            }
            Some(status) => {
                let _ = write!(out, "{status}");
            }
            None => out.extend_from_slice(b"null"),
        }
        text_field(out, b",\"category\":", self.category);
        out.extend_from_slice(match self.retryable {
            Some(true) => b",\"retryable\":true",
            Some(false) => b",\"retryable\":false",
            None => b",\"retryable\":null",
        });
        text_field(out, b",\"retry\":", self.retry);
        out.extend_from_slice(b",\"retry_after_seconds\":");
        match self.retry_after_seconds {
            // `12` rather than `12.0`, `2.128` as is.
            Some(seconds) if seconds.fract() == 0.0 && seconds.abs() < 9.0e15 => {
                let _ = write!(out, "{}", seconds as i64);
            }
            Some(seconds) if seconds.is_finite() => {
                let _ = write!(out, "{seconds}");
            }
            _ => out.extend_from_slice(b"null"),
        }
        raw_field(out, b",\"correlation_id\":", self.correlation_id.map(|id| id.guid().hyphenated()));
        text_field(out, b",\"message\":", self.message);
        out.extend_from_slice(b",\"inner_codes\":");
        match self.inner_codes {
            Some(codes) => {
                out.push(b'[');
                for (index, code) in codes.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    json_string(out, code);
                }
                out.push(b']');
            }
            None => out.extend_from_slice(b"null"),
        }
        raw_field(out, b",\"timestamp\":", self.timestamp.map(Timestamp::rfc3339_millis));
        text_field(out, b",\"service\":", self.service);
        text_field(out, b",\"method\":", self.method);
        text_field(out, b",\"url\":", self.url);
        text_field(out, b",\"host\":", self.host);
        text_field(out, b",\"api\":", self.api.as_deref());
        raw_field(out, b",\"tenant_id\":", self.tenant_id.map(crate::guid::Guid::hyphenated));
        if let Some(error) = &self.error {
            text_field(out, b",\"error\":", Some(error));
        }
        out.extend_from_slice(b"}\n");
    }
}

impl Report<'_> {
    /// The line of a record that is not an error: constants around its status and time, which
    /// is most lines of a log.
    fn write_quiet_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"envelope\":false,\"family\":null,\"code\":null,\"raw_code\":null,\"http_status\":");
        match self.http_status {
            Some(status) => write_status(out, status),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(
            b",\"category\":null,\"retryable\":null,\"retry\":null,\"retry_after_seconds\":null,\"correlation_id\":null,\
              \"message\":null,\"inner_codes\":null",
        );
        raw_field(out, b",\"timestamp\":", self.timestamp.map(Timestamp::rfc3339_millis));
        out.extend_from_slice(
            b",\"service\":null,\"method\":null,\"url\":null,\"host\":null,\"api\":null,\"tenant_id\":null}\n",
        );
    }
}

fn write_status(out: &mut Vec<u8>, status: u16) {
    if (100..=999).contains(&status) {
        out.extend_from_slice(&[
            b'0' + (status / 100) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
        ]);
    } else {
        let _ = write!(out, "{status}");
    }
}

fn text_field(out: &mut Vec<u8>, key: &[u8], value: Option<&str>) {
    out.extend_from_slice(key);
    match value {
        Some(text) => json_string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// Text that needs no escaping (GUIDs, timestamps), as a JSON string.
fn raw_field<const N: usize>(out: &mut Vec<u8>, key: &[u8], value: Option<[u8; N]>) {
    out.extend_from_slice(key);
    match value {
        Some(text) => {
            out.push(b'"');
            out.extend_from_slice(&text);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes `text` as a JSON string: quotes, backslashes and control characters escaped.
fn json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let mut rest = text.as_bytes();
    let marks = |word: u64| {
        byte_search::bytes_below(word, 0x20)
            | byte_search::bytes_equal(word, b'"')
            | byte_search::bytes_equal(word, b'\\')
            | byte_search::bytes_equal(word, 0x7f)
    };
    let needs_escape = |byte: u8| byte < 0x20 || byte == b'"' || byte == b'\\' || byte == 0x7f;
    while let Some(index) = byte_search::position_from(rest, 0, marks, needs_escape) {
        out.extend_from_slice(rest.get(..index).unwrap_or_default());
        let byte = rest.get(index).copied().unwrap_or_default();
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let high = HEX.get(usize::from(byte >> 4)).copied().unwrap_or(b'0');
                let low = HEX.get(usize::from(byte & 0xf)).copied().unwrap_or(b'0');
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', high, low]);
            }
        }
        rest = rest.get(index + 1..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let mut out = Vec::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}e\u{7f}é");
        assert_eq!(String::from_utf8(out.clone()).unwrap(), r#""a\"b\\c\nd\u0001e\u007fé""#);
        let parsed: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}e\u{7f}é");
        // Each character that needs escaping, at every position of words read eight bytes at a time.
        for special in ['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}'] {
            for position in 0..20 {
                let text: String = (0..20).map(|index| if index == position { special } else { 'x' }).collect();
                let mut out = Vec::new();
                json_string(&mut out, &text);
                assert!(!out.iter().any(|&b| b < 0x20 || b == 0x7f), "{text:?} left unescaped");
                assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), text);
            }
        }
    }

    #[test]
    fn every_line_is_one_json_object() {
        for record in [&b"{\"status\":429,\"retry_after\":2.5}"[..], b"plain line", b"\xff"] {
            let classification = crate::classify(record, &crate::Limits::default());
            let mut out = Vec::new();
            Report::new(&classification).write_line(&mut out);
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert!(parsed.is_object());
        }
    }
}
