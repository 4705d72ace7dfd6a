//! The line `errwatch classify` writes for each record: one JSON object, the same keys in the
//! same order for every record, so that scripts can rely on them.

use serde::{Serialize, Serializer};

use crate::classify::Classification;
use crate::extract::{api_template, host};
use crate::json;

/// The JSON object for one record.
#[derive(Debug, Default, Serialize)]
pub struct Report<'a> {
    pub envelope: bool,
    pub family: Option<&'static str>,
    pub code: Option<&'a str>,
    pub raw_code: Option<&'a str>,
    pub http_status: Option<u16>,
    pub category: Option<&'static str>,
    pub retryable: Option<bool>,
    pub retry: Option<&'static str>,
    #[serde(serialize_with = "whole_when_integral")]
    pub retry_after_seconds: Option<f64>,
    pub correlation_id: Option<String>,
    pub message: Option<&'a str>,
    pub inner_codes: Option<&'a [String]>,
    pub timestamp: Option<String>,
    pub service: Option<&'a str>,
    pub method: Option<&'a str>,
    pub url: Option<&'a str>,
    pub host: Option<&'a str>,
    pub api: Option<String>,
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
                    correlation_id: error.correlation_id.map(|id| id.to_string()),
                    message: error.message.as_deref(),
                    inner_codes: Some(&error.inner_codes),
                    timestamp: error.timestamp.map(|stamp| stamp.to_string()),
                    service: error.context.service.as_deref(),
                    method: error.context.method.as_deref(),
                    url,
                    host: url.and_then(host),
                    api: url.and_then(api_template),
                    tenant_id: error.context.tenant_id.map(|id| id.to_string()),
                    error: None,
                }
            }
            Classification::NotAnError { http_status, timestamp, .. } => Report {
                http_status: *http_status,
                timestamp: timestamp.map(|stamp| stamp.to_string()),
                ..Report::default()
            },
            Classification::Unreadable(reason) => Report { error: Some(reason.to_string()), ..Report::default() },
        }
    }

    /// Appends the report as one line of JSON.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        // Serialising plain strings, numbers and options into memory cannot fail.
        let _ = json::write_line(out, self);
    }
}

/// `12` rather than `12.0`, `2.128` as is.
fn whole_when_integral<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(number) if number.fract() == 0.0 && number.abs() < 9.0e15 => serializer.serialize_i64(*number as i64),
        Some(number) => serializer.serialize_f64(*number),
        None => serializer.serialize_none(),
    }
}
