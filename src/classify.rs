//! Classification: from what a record says to one answer — is this a failed API call, which
//! error, which status, what should the caller do about it.
//!
//! The rules are the contract of `errwatch classify` (see ARCHITECTURE.md): an explicit status
//! wins over the code's, aliases map to Defender's table, the category and retry policy follow
//! from the status alone.

use std::borrow::Cow;

use crate::codes;
use crate::extract::{self, Context, Envelope, Extraction, Family, Findings, Limits, RetryAfter, Unreadable};
use crate::guid::CorrelationId;
use crate::timestamp::Timestamp;

/// The answer for one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Classification {
    ApiError(Box<ApiError>),
    /// Not an error; the status of a successful call when the record has one, so that error
    /// shares can be computed.
    NotAnError {
        http_status: Option<u16>,
        timestamp: Option<Timestamp>,
        service: Option<String>,
    },
    Unreadable(Unreadable),
}

/// One failed API call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub family: Family,
    /// The canonical code: the table's spelling for known codes and aliases, else as written.
    pub code: Option<Cow<'static, str>>,
    pub raw_code: Option<String>,
    pub http_status: Option<u16>,
    pub category: Category,
    pub retry: Retry,
    pub retry_after_seconds: Option<f64>,
    pub correlation_id: Option<CorrelationId>,
    pub message: Option<String>,
    pub inner_codes: Vec<String>,
    pub timestamp: Option<Timestamp>,
    pub context: Context,
}

impl ApiError {
    pub fn retryable(&self) -> bool {
        matches!(self.retry, Retry::AfterDelay | Retry::Backoff)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Throttling,
    Authentication,
    Authorization,
    NotFound,
    Timeout,
    Server,
    BadRequest,
    Unknown,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Throttling,
        Category::Authentication,
        Category::Authorization,
        Category::NotFound,
        Category::Timeout,
        Category::Server,
        Category::BadRequest,
        Category::Unknown,
    ];

    pub fn of_status(status: Option<u16>) -> Category {
        match status {
            Some(429) => Category::Throttling,
            Some(401) => Category::Authentication,
            Some(403) => Category::Authorization,
            Some(404) => Category::NotFound,
            Some(408) => Category::Timeout,
            Some(500..=599) => Category::Server,
            Some(_) => Category::BadRequest,
            None => Category::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Throttling => "throttling",
            Category::Authentication => "authentication",
            Category::Authorization => "authorization",
            Category::NotFound => "not_found",
            Category::Timeout => "timeout",
            Category::Server => "server",
            Category::BadRequest => "bad_request",
            Category::Unknown => "unknown",
        }
    }
}

/// What a well-behaved client does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// Wait as Retry-After says, then retry.
    AfterDelay,
    /// Get a new token; retrying the same call as is will fail again.
    RefreshToken,
    /// Retry with exponential backoff.
    Backoff,
    None,
}

impl Retry {
    pub fn of_status(status: Option<u16>) -> Retry {
        match status {
            Some(429) => Retry::AfterDelay,
            Some(401) => Retry::RefreshToken,
            Some(408 | 500 | 502 | 503 | 504) => Retry::Backoff,
            _ => Retry::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Retry::AfterDelay => "after_delay",
            Retry::RefreshToken => "refresh_token",
            Retry::Backoff => "backoff",
            Retry::None => "none",
        }
    }
}

/// Classifies one record. Pure: no IO, no panics, bounded work.
pub fn classify(record: &[u8], limits: &Limits) -> Classification {
    match extract::extract(record, limits) {
        Extraction::Unreadable(reason) => Classification::Unreadable(reason),
        Extraction::Record(findings) => decide(findings, record),
    }
}

fn decide(mut findings: Findings, record: &[u8]) -> Classification {
    match findings.envelope.take() {
        Some(envelope) => envelope_error(envelope, findings),
        None => match explicit_status(&findings) {
            Some(status) if status >= 400 => status_only_error(status, findings, record),
            other => Classification::NotAnError {
                http_status: other,
                timestamp: findings.timestamp,
                service: findings.context.service,
            },
        },
    }
}

/// The status the record states itself: the shallowest status field, else the first error
/// status written in its text, else a success status written there.
fn explicit_status(findings: &Findings) -> Option<u16> {
    findings.field_status.or(findings.text_error_status).or(findings.text_other_status)
}

fn envelope_error(envelope: Envelope, findings: Findings) -> Classification {
    let canonical = envelope.raw_code.as_deref().map(|raw| match codes::canonical(raw) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(raw.to_owned()),
    });
    // A success status beside an error body is a client's wrapper talking, not the API.
    let stated = findings.field_status.filter(|status| *status >= 400).or(findings.text_error_status);
    let http_status = stated
        .or_else(|| envelope.inner_codes.iter().any(|code| codes::means_throttled(code)).then_some(429))
        .or_else(|| canonical.as_deref().and_then(codes::status_of))
        .or_else(|| envelope.family.implied_status(envelope.raw_code.as_deref()));
    let code = canonical.or_else(|| http_status.and_then(codes::code_for_status).map(Cow::Borrowed));
    let correlation_id = envelope.correlation_id.or(findings.record_correlation_id);
    Classification::ApiError(Box::new(ApiError {
        family: envelope.family,
        code,
        raw_code: envelope.raw_code,
        http_status,
        category: Category::of_status(http_status),
        retry: Retry::of_status(http_status),
        retry_after_seconds: retry_after_seconds(&findings),
        correlation_id,
        message: envelope.message,
        inner_codes: envelope.inner_codes,
        timestamp: findings.timestamp,
        context: findings.context,
    }))
}

fn status_only_error(status: u16, mut findings: Findings, record: &[u8]) -> Classification {
    // Without a message field, the whole line is the message.
    let message =
        findings.record_message.take().or_else(|| std::str::from_utf8(record).ok().map(|text| text.trim().to_owned()));
    Classification::ApiError(Box::new(ApiError {
        family: Family::StatusOnly,
        code: codes::code_for_status(status).map(Cow::Borrowed),
        raw_code: None,
        http_status: Some(status),
        category: Category::of_status(Some(status)),
        retry: Retry::of_status(Some(status)),
        retry_after_seconds: retry_after_seconds(&findings),
        correlation_id: findings.record_correlation_id,
        message,
        inner_codes: Vec::new(),
        timestamp: findings.timestamp,
        context: findings.context,
    }))
}

/// Retry-After in seconds; an HTTP date counts from the record's own time (none without one,
/// zero when already past).
fn retry_after_seconds(findings: &Findings) -> Option<f64> {
    match findings.retry_after? {
        RetryAfter::Seconds(seconds) => Some(seconds.max(0.0)),
        RetryAfter::Date(date) => {
            let received = findings.timestamp?;
            Some(received.seconds_until(date.received_at(received)?).max(0.0))
        }
    }
}
