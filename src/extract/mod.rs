//! Extraction: from one record's bytes to the facts about the API call it logs.
//!
//! A record is bytes: JSON, text, text with JSON inside, logfmt, a Python repr, or garbage.
//! [`extract`] finds the error envelope (the outermost one with a code), the record's own
//! status, ids, time, Retry-After and context, and never fails: a record that cannot be read
//! comes back as [`Extraction::Unreadable`] with the reason.
//!
//! Most records in a client log are ordinary lines. A prefilter turns those away before any
//! document is built, looking only for the few byte patterns every error must contain.

pub mod family;
mod scan;
mod text;
mod url;
mod walk;

use std::sync::LazyLock;

use crate::guid::{CorrelationId, Guid};
use crate::timestamp::{HttpDate, Timestamp};

pub use family::Family;
pub use url::{api_template, host};

/// Limits on what one record may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Records longer than this are unreadable.
    pub max_record_bytes: usize,
    /// Documents nested deeper than this (counted across escaped documents) are unreadable.
    pub max_depth: usize,
}

impl Limits {
    pub const DEFAULT_MAX_RECORD_BYTES: usize = 1024 * 1024;
    pub const DEFAULT_MAX_DEPTH: usize = 128;
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_bytes: Limits::DEFAULT_MAX_RECORD_BYTES, max_depth: Limits::DEFAULT_MAX_DEPTH }
    }
}

/// Why a record cannot be read. Such records are answered and quarantined, never dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("record is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("record is not valid UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("record nests deeper than {limit} levels")]
    TooDeep { limit: usize },
}

impl Unreadable {
    /// A short stable name for the reason, for storage and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Unreadable::TooLarge { .. } => "too_large",
            Unreadable::NotUtf8 { .. } => "not_utf8",
            Unreadable::TooDeep { .. } => "too_deep",
        }
    }
}

/// The winning envelope of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub family: Family,
    /// The code as written, trimmed; `None` for a body without one.
    pub raw_code: Option<String>,
    pub message: Option<String>,
    /// The family's own correlation id (`target`, `request-id`, ...), when it is a GUID.
    pub correlation_id: Option<CorrelationId>,
    /// Raw codes below the envelope, in document order, without repeats.
    pub inner_codes: Vec<String>,
}

/// A Retry-After value: a delay, or an HTTP date still to be taken relative to the record's time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryAfter {
    Seconds(f64),
    Date(HttpDate),
}

/// Where the call went and who made it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// The client application's name.
    pub service: Option<String>,
    pub method: Option<String>,
    pub url: Option<String>,
    pub tenant_id: Option<Guid>,
}

/// What a readable record says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    pub envelope: Option<Envelope>,
    /// The shallowest status field (100..=599).
    pub field_status: Option<u16>,
    /// The first status (400..=599) written in the record's text.
    pub text_error_status: Option<u16>,
    /// The first status below 400 written in the record's text.
    pub text_other_status: Option<u16>,
    /// A correlation id from the record's own id fields.
    pub record_correlation_id: Option<CorrelationId>,
    pub timestamp: Option<Timestamp>,
    pub retry_after: Option<RetryAfter>,
    /// The record's `msg`/`message` field.
    pub record_message: Option<String>,
    pub context: Context,
}

/// The outcome of reading one record.
// Not boxed: it is built once per record and consumed at once, and a box would cost an
// allocation per record on the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Extraction {
    Record(Findings),
    Unreadable(Unreadable),
}

/// Reads one record. Pure: no IO, no panics, bounded work whatever the bytes.
pub fn extract(record: &[u8], limits: &Limits) -> Extraction {
    if record.len() > limits.max_record_bytes {
        return Extraction::Unreadable(Unreadable::TooLarge { size: record.len(), limit: limits.max_record_bytes });
    }
    let text = match std::str::from_utf8(record) {
        Ok(text) => text,
        Err(error) => return Extraction::Unreadable(Unreadable::NotUtf8 { offset: error.valid_up_to() }),
    };
    if !may_concern_an_api_call(text) {
        return quiet_record(text, limits);
    }
    let mut walker = walk::Walker::new(limits.max_depth);
    walker.walk_record(text);
    if walker.too_deep {
        return Extraction::Unreadable(Unreadable::TooDeep { limit: limits.max_depth });
    }
    Extraction::Record(findings(walker))
}

/// The prefilter. Every envelope has a field its family looks for (their names share a
/// needle: `error`), every status field a name containing `status`, and every status written
/// in text a three-digit number in a status context; JSON that escapes its text (`\u003e`) is
/// let through to be read properly. A `false` here means the full walk would find no error and
/// no status.
fn may_concern_an_api_call(text: &str) -> bool {
    // One pass for every pattern (Teddy, a SIMD multi-pattern search) rather than one each.
    // Without SIMD there is no searcher, and every record is let through: slower, never wrong.
    static NEEDLES: LazyLock<Option<aho_corasick::packed::Searcher>> = LazyLock::new(|| {
        let others = ["tatus", "TATUS", "\\u"];
        aho_corasick::packed::Config::new().builder().extend(family::NEEDLES.into_iter().chain(others)).build()
    });
    let has_needle = NEEDLES.as_ref().is_none_or(|needles| needles.find(text).is_some());
    has_needle || text::statuses(text).next().is_some()
}

/// A record the prefilter turned away: not an error, and only its time is of interest.
fn quiet_record(text: &str, limits: &Limits) -> Extraction {
    let trimmed = text.trim_start();
    let timestamp = if trimmed.starts_with('{') {
        // The depth limit applies to every JSON record, not only to those that could be errors;
        // the scan enforces it as it skips nested values.
        match scan::top_level_field(trimmed, is_timestamp_field, limits.max_depth) {
            Err(scan::TooDeep) => return Extraction::Unreadable(Unreadable::TooDeep { limit: limits.max_depth }),
            Ok(Some(scan::FieldScalar::Text(stamp))) => Timestamp::parse_field(&stamp),
            Ok(Some(scan::FieldScalar::Number(number))) => Timestamp::from_epoch_number(number),
            Ok(None) => None,
        }
    } else if trimmed.starts_with('[') {
        if scan::may_nest_deeper_than(trimmed.as_bytes(), limits.max_depth)
            && scan::follow_document(trimmed.as_bytes(), 0, limits.max_depth) == scan::Balanced::TooDeep
        {
            return Extraction::Unreadable(Unreadable::TooDeep { limit: limits.max_depth });
        }
        // A text line may open with its time in brackets: `[2022-03-01 12:35:37] [Information] ...`.
        Timestamp::parse_leading(trimmed)
    } else {
        Timestamp::parse_leading(trimmed)
    };
    Extraction::Record(Findings { timestamp, ..Findings::default() })
}

fn is_timestamp_field(name: &str) -> bool {
    ["ts", "@t", "@timestamp", "time", "timestamp"].iter().any(|wanted| name.eq_ignore_ascii_case(wanted))
}

fn findings(mut walker: walk::Walker) -> Findings {
    Findings {
        envelope: winning_envelope(&mut walker),
        field_status: walker.status.value,
        text_error_status: walker.text_error_status,
        text_other_status: walker.text_other_status,
        record_correlation_id: walker.correlation_id.value.map(CorrelationId::from),
        timestamp: walker.timestamp.value,
        retry_after: walker.retry_after.value,
        record_message: walker.message.value,
        context: Context {
            service: walker.service.value,
            method: walker.method.value,
            url: walker.url.value,
            tenant_id: walker.tenant_id.value,
        },
    }
}

/// The first envelope of the record and, of it and the envelopes nested in it, the outermost
/// one that has a code. Its code, message and inner codes are taken from the walker, which is
/// done with them.
fn winning_envelope(walker: &mut walk::Walker) -> Option<Envelope> {
    let envelopes = &mut walker.envelopes;
    envelopes.first()?;
    // Envelopes are recorded in document order, so the first one's nested envelopes follow it
    // up to the next envelope that stands at the top.
    let family_size = envelopes.iter().skip(1).position(|e| e.parent.is_none()).map_or(envelopes.len(), |p| p + 1);
    let nesting = |mut index: usize| {
        let mut levels = 0;
        while let Some(parent) = envelopes.get(index).and_then(|e| e.parent) {
            index = parent;
            levels += 1;
        }
        levels
    };
    let winner_index = envelopes
        .iter()
        .enumerate()
        .take(family_size)
        .filter(|(_, envelope)| envelope.raw_code.is_some())
        .min_by_key(|(index, _)| (nesting(*index), *index))
        .map_or(0, |(index, _)| index);
    let winner = envelopes.get_mut(winner_index)?;
    let mut inner_codes: Vec<String> = Vec::new();
    for code in walker.codes.get_mut(winner.codes.clone()).unwrap_or_default() {
        if !inner_codes.contains(code) {
            inner_codes.push(std::mem::take(code));
        }
    }
    Some(Envelope {
        family: winner.family,
        raw_code: winner.raw_code.take(),
        message: winner.message.take(),
        correlation_id: winner.family_id.map(CorrelationId::from),
        inner_codes,
    })
}
