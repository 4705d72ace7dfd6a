//! The walk over a record: every JSON document, escaped document, logfmt pair and stretch of text,
//! in document order, collecting what classification needs.
//!
//! One pass, no backtracking. Candidates for each fact (status, ids, timestamp, ...) are ranked as
//! they are met, by the spec's order of names, then by depth (the shallowest wins), then by
//! document order, so the walk never needs a second look at the tree.

use std::ops::Range;

use super::family::{self, raw_code, Detected, Family, Fields, Recognised};
use super::scan::{self, TooDeep};
use super::text::{self, NameBuffer, RetryAfterText};
use super::RetryAfter;
use crate::guid::Guid;

use crate::json::{self, Node};
use crate::timestamp::Timestamp;

/// Documents (JSON, escaped JSON, Python reprs) parsed per record, at most.
const MAX_DOCUMENTS: usize = 32;
/// Openings of `{` followed per stretch of text, at most.
const MAX_DOCUMENT_ATTEMPTS: usize = 32;
/// Envelopes remembered per record, at most.
const MAX_ENVELOPES: usize = 64;
/// logfmt pairs read per stretch of text, at most.
const MAX_LOGFMT_PAIRS: usize = 256;

/// An envelope met during the walk.
#[derive(Debug)]
pub(super) struct FoundEnvelope {
    pub family: Family,
    pub raw_code: Option<String>,
    pub message: Option<String>,
    /// The family's own correlation id, when it is a GUID.
    pub family_id: Option<Guid>,
    /// The envelope this one is nested in.
    pub parent: Option<usize>,
    /// The raw codes met below this envelope: `Walker::codes[codes]`.
    pub codes: Range<usize>,
}

/// The best candidate so far for one fact, by (rank, depth, document order).
#[derive(Debug)]
pub(super) struct Best<T> {
    key: (u8, usize, u32),
    pub value: Option<T>,
}

impl<T> Default for Best<T> {
    fn default() -> Self {
        Best { key: (u8::MAX, usize::MAX, u32::MAX), value: None }
    }
}

impl<T> Best<T> {
    /// Whether a candidate with this key would replace the best so far: when it would not,
    /// searching text for it is wasted.
    fn would_take(&self, rank: u8, depth: usize, order: u32) -> bool {
        (rank, depth, order) < self.key
    }

    fn offer(&mut self, rank: u8, depth: usize, order: u32, make: impl FnOnce() -> Option<T>) {
        if self.would_take(rank, depth, order) {
            let key = (rank, depth, order);
            if let Some(value) = make() {
                self.key = key;
                self.value = Some(value);
            }
        }
    }
}

/// Everything the walk found in one record.
#[derive(Debug, Default)]
pub(super) struct Walker {
    max_depth: usize,
    documents_left: usize,
    order: u32,
    pub too_deep: bool,
    pub envelopes: Vec<FoundEnvelope>,
    pub codes: Vec<String>,
    open_envelopes: Vec<usize>,
    pub status: Best<u16>,
    pub text_error_status: Option<u16>,
    pub text_other_status: Option<u16>,
    pub correlation_id: Best<Guid>,
    pub timestamp: Best<Timestamp>,
    pub retry_after: Best<RetryAfter>,
    pub message: Best<String>,
    pub service: Best<String>,
    pub method: Best<String>,
    pub url: Best<String>,
    pub tenant_id: Best<Guid>,
}

/// What a field's name says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Status,
    Timestamp,
    CorrelationId(u8),
    RetryAfterSeconds,
    RetryAfterMillis,
    Service(u8),
    Method,
    Url,
    TenantId,
    Message,
    Code,
    Other,
}

fn role(parent: &NameBuffer, name: &NameBuffer) -> Role {
    match name.as_bytes() {
        b"status" | b"statuscode" | b"httpstatus" | b"httpstatuscode" => Role::Status,
        b"ts" | b"@t" | b"@timestamp" | b"time" | b"timestamp" => Role::Timestamp,
        b"correlationid" => Role::CorrelationId(0),
        b"requestid" => Role::CorrelationId(1),
        b"xmsrequestid" => Role::CorrelationId(2),
        b"clientrequestid" => Role::CorrelationId(3),
        b"retryafter" => Role::RetryAfterSeconds,
        b"retryafterms" | b"xmsretryafterms" => Role::RetryAfterMillis,
        b"service" => Role::Service(0),
        b"servicename" => Role::Service(1),
        b"name" if parent.is("service") => Role::Service(1),
        b"app" => Role::Service(2),
        b"application" => Role::Service(3),
        b"logger" => Role::Service(4),
        b"source" => Role::Service(5),
        b"method" => Role::Method,
        b"url" | b"uri" => Role::Url,
        b"full" if parent.is("url") => Role::Url,
        b"tenant" | b"tenantid" | b"tid" => Role::TenantId,
        b"msg" | b"message" => Role::Message,
        b"code" => Role::Code,
        _ => Role::Other,
    }
}

/// The normalised last segment of a (possibly dotted) key, and the segment before it: the
/// previous segment of the same key, or the enclosing field's name.
fn key_names(key: &str, enclosing: &NameBuffer) -> (NameBuffer, NameBuffer) {
    let bytes = key.as_bytes();
    match bytes.iter().rposition(|&b| b == b'.') {
        Some(dot) => {
            let head = bytes.get(..dot).unwrap_or_default();
            let parent = head.iter().rposition(|&b| b == b'.').map_or(head, |p| head.get(p + 1..).unwrap_or_default());
            (NameBuffer::normalise(parent), NameBuffer::normalise(bytes.get(dot + 1..).unwrap_or_default()))
        }
        None => (*enclosing, NameBuffer::normalise(bytes)),
    }
}

/// A field's value as the fact collectors see it.
#[derive(Clone, Copy)]
enum FieldValue<'a> {
    Text(&'a str),
    Number(f64),
    Other,
}

impl<'a> FieldValue<'a> {
    fn of(value: &'a Node<'_>) -> Self {
        match value {
            Node::Text(text) => FieldValue::Text(text),
            Node::Number(number) => FieldValue::Number(number.as_f64()),
            _ => FieldValue::Other,
        }
    }

    fn text(self) -> Option<&'a str> {
        match self {
            FieldValue::Text(text) => Some(text),
            _ => None,
        }
    }
}

impl Walker {
    pub fn new(max_depth: usize) -> Walker {
        Walker { max_depth, documents_left: MAX_DOCUMENTS, ..Walker::default() }
    }

    /// Walks a whole record. A record that is one JSON document is walked as that document;
    /// anything else as text, which finds the documents inside it.
    pub fn walk_record(&mut self, record: &str) {
        let trimmed = record.trim();
        if trimmed.starts_with('[') {
            match scan::follow_document(trimmed.as_bytes(), 0, self.max_depth) {
                scan::Balanced::TooDeep => {
                    self.too_deep = true;
                    return;
                }
                scan::Balanced::Closed { end } if end == trimmed.len() => {
                    if let Some(document) = json::parse(trimmed) {
                        self.walk_value(&document, 1, &NameBuffer::default());
                        return;
                    }
                }
                _ => {}
            }
        }
        self.walk_text(record, 1);
    }

    fn inside_envelope(&self) -> bool {
        !self.open_envelopes.is_empty()
    }

    fn next_order(&mut self) -> u32 {
        self.order = self.order.saturating_add(1);
        self.order
    }

    fn walk_value(&mut self, value: &Node<'_>, depth: usize, enclosing: &NameBuffer) {
        if self.too_deep {
            return;
        }
        match value {
            Node::Object(fields) => self.walk_object(fields, depth, enclosing, false),
            Node::Array(items) => {
                for item in items {
                    self.walk_value(item, depth + 1, enclosing);
                }
            }
            Node::Text(text) => {
                self.walk_text(text, depth);
            }
            _ => {}
        }
    }

    fn walk_object(&mut self, map: &Fields<'_>, depth: usize, enclosing: &NameBuffer, is_envelope_body: bool) {
        let detected = family::detect(map);
        let flat_opened = match &detected {
            Some(Detected::Flat(family)) => self.open_flat_envelope(*family, map).is_some(),
            _ => false,
        };
        for (index, (key, value)) in map.iter().enumerate() {
            let order = self.next_order();
            let (parent, name) = key_names(key, enclosing);
            let role = role(&parent, &name);
            self.collect(role, FieldValue::of(value), depth, order);
            match &detected {
                Some(Detected::Under { key_index, family, body, recognised }) if *key_index == index => {
                    self.walk_envelope(*family, body, *recognised, depth + 1, &name);
                    continue;
                }
                // The family read these fields itself.
                Some(Detected::Flat(family)) if flat_opened && family.shape().reads_field(&name) => continue,
                _ => {}
            }
            if role == Role::Code && self.inside_envelope() && !is_envelope_body {
                if let Some(code) = raw_code(value) {
                    self.codes.push(code);
                }
            }
            // A value whose field says what it is (a time, an id, a method) holds nothing else.
            if matches!(role, Role::Other | Role::Message | Role::Url | Role::Code) || !matches!(value, Node::Text(_)) {
                self.walk_value(value, depth + 1, &name);
            }
        }
    }

    /// Walks an envelope's body, the object under a field of the object at `depth - 1`.
    fn walk_envelope(
        &mut self,
        family: Family,
        body: &Fields<'_>,
        recognised: Recognised,
        depth: usize,
        name: &NameBuffer,
    ) {
        let index = self.open_family_envelope(family, body, recognised);
        if let Some(index) = index {
            self.open_envelopes.push(index);
        }
        self.walk_object(body, depth, name, true);
        if let Some(index) = index {
            self.open_envelopes.pop();
            self.close_envelope(index);
        }
    }

    /// Opens and closes at once the envelope of an object that is its own body: nothing in it
    /// is nested below the envelope.
    fn open_flat_envelope(&mut self, family: Family, object: &Fields<'_>) -> Option<usize> {
        let index = self.open_family_envelope(family, object, Recognised::default())?;
        self.close_envelope(index);
        Some(index)
    }

    /// Opens the envelope of a family's body with what the family reads in it: code, message,
    /// id and its list of codes.
    fn open_family_envelope(&mut self, family: Family, body: &Fields<'_>, recognised: Recognised) -> Option<usize> {
        let shape = family.shape();
        let said = shape.read(body, recognised);
        let index = self.open_envelope(family, said.code, said.message, said.id)?;
        self.codes.extend(shape.code_list(body).iter().filter_map(raw_code));
        Some(index)
    }

    fn open_envelope(
        &mut self,
        family: Family,
        raw_code: Option<String>,
        message: Option<String>,
        family_id: Option<Guid>,
    ) -> Option<usize> {
        if self.envelopes.len() >= MAX_ENVELOPES {
            return None;
        }
        // An envelope's own code is an inner code of the envelopes around it.
        if let Some(code) = &raw_code {
            if self.inside_envelope() {
                self.codes.push(code.clone());
            }
        }
        let start = self.codes.len();
        self.envelopes.push(FoundEnvelope {
            family,
            raw_code,
            message,
            family_id,
            parent: self.open_envelopes.last().copied(),
            codes: start..start,
        });
        Some(self.envelopes.len() - 1)
    }

    fn close_envelope(&mut self, index: usize) {
        let end = self.codes.len();
        if let Some(envelope) = self.envelopes.get_mut(index) {
            envelope.codes.end = end;
        }
    }

    /// Offers a field's value to the fact it may hold. Inside an envelope only statuses count:
    /// ids, times and context there belong to the API's answer, not to the record.
    fn collect(&mut self, role: Role, value: FieldValue<'_>, depth: usize, order: u32) {
        if role == Role::Status {
            self.status.offer(0, depth, order, || status_value(value));
            return;
        }
        if self.inside_envelope() {
            return;
        }
        let text = value.text().map(str::trim).filter(|text| !text.is_empty());
        match role {
            Role::Timestamp => self.timestamp.offer(0, depth, order, || match value {
                FieldValue::Text(text) => Timestamp::parse_field(text),
                FieldValue::Number(number) => Timestamp::from_epoch_number(number),
                FieldValue::Other => None,
            }),
            Role::CorrelationId(rank) => self.correlation_id.offer(rank, depth, order, || text.and_then(Guid::parse)),
            Role::RetryAfterSeconds | Role::RetryAfterMillis => {
                let scale = if role == Role::RetryAfterMillis { 1000.0 } else { 1.0 };
                self.retry_after.offer(0, depth, order, || match value {
                    FieldValue::Number(number) => Some(RetryAfter::Seconds(number / scale)),
                    FieldValue::Text(text) => retry_after_value(text.trim(), scale),
                    FieldValue::Other => None,
                });
            }
            Role::Service(rank) => self.service.offer(rank, depth, order, || text.map(str::to_owned)),
            Role::Method => self.method.offer(0, depth, order, || text.map(str::to_ascii_uppercase)),
            Role::Url => self.url.offer(0, depth, order, || text.map(str::to_owned)),
            Role::TenantId => self.tenant_id.offer(0, depth, order, || text.and_then(Guid::parse)),
            Role::Message => self.message.offer(0, depth, order, || value.text().map(str::to_owned)),
            Role::Status | Role::Code | Role::Other => {}
        }
    }

    /// Walks a stretch of text (a whole record, or a string value) at `depth`: the documents
    /// inside it, its logfmt pairs, and its free text. Returns whether it held a document.
    fn walk_text(&mut self, text: &str, depth: usize) -> bool {
        if self.too_deep || text.is_empty() {
            return false;
        }
        let outside = !self.inside_envelope();
        if outside {
            let order = self.next_order();
            self.timestamp.offer(0, depth, order, || Timestamp::parse_leading(text));
        }
        // Most strings hold no document and no pair: read them as they are.
        let bytes = text.as_bytes();
        if memchr::memchr2(b'{', b'=', bytes).is_none() {
            if outside {
                self.read_free_text(text, depth);
            }
            return false;
        }
        if let Some(document) = self.whole_document(text, depth) {
            self.walk_value(&document, depth, &NameBuffer::default());
            return true;
        }
        let documents = self.documents_in(text, depth);
        if self.too_deep {
            return false;
        }
        let mut masked: Vec<Range<usize>> = documents.iter().map(|(span, _)| span.clone()).collect();
        if memchr::memchr(b'=', text.as_bytes()).is_some() {
            for gap in gaps(text.len(), documents.iter().map(|(span, _)| span)) {
                let Some(gap_text) = text.get(gap.clone()) else { continue };
                for pair in scan::logfmt_pairs(gap_text, MAX_LOGFMT_PAIRS) {
                    let order = self.next_order();
                    let (parent, name) = key_names(pair.key, &NameBuffer::default());
                    self.collect(role(&parent, &name), FieldValue::Text(&pair.value), depth, order);
                    if pair.value.contains('{') && self.walk_text(&pair.value, depth + 1) {
                        masked.push(gap.start + pair.value_span.start..gap.start + pair.value_span.end);
                    }
                }
            }
            masked.sort_by_key(|span| span.start);
        }
        if scan::escaped_document_starts(text).next().is_some() {
            self.walk_escaped_documents(text, depth, &mut masked);
        }
        let found_documents = !masked.is_empty();
        let mut documents = documents.into_iter().peekable();
        for gap in gaps(text.len(), &masked) {
            while let Some((span, document)) = documents.next_if(|(span, _)| span.start < gap.start) {
                debug_assert!(span.end <= gap.start);
                self.walk_value(&document, depth, &NameBuffer::default());
            }
            if outside {
                if let Some(gap_text) = text.get(gap) {
                    self.read_free_text(gap_text, depth);
                }
            }
        }
        for (_, document) in documents {
            self.walk_value(&document, depth, &NameBuffer::default());
        }
        found_documents
    }

    /// Walks JSON that was escaped into a string and sits in `text` still escaped, undoing one
    /// level of escaping at a time, and masks what it read.
    fn walk_escaped_documents(&mut self, text: &str, depth: usize, masked: &mut Vec<Range<usize>>) {
        let mut read_up_to = 0;
        let starts: Vec<usize> = scan::escaped_document_starts(text).collect();
        for start in starts {
            if self.documents_left == 0 || self.too_deep {
                break;
            }
            if start < read_up_to || masked.iter().any(|span| span.contains(&start)) {
                continue;
            }
            self.documents_left -= 1;
            let Some(rest) = text.get(start..) else { continue };
            let (unescaped, used) = scan::unescape_json_text(rest);
            read_up_to = start + used;
            if self.walk_text(&unescaped, depth + 1) {
                masked.push(start..read_up_to);
            }
        }
        masked.sort_by_key(|span| span.start);
    }

    /// `text` as one JSON object, when it is exactly one (around it only spaces) and cannot
    /// nest too deep: most JSON records and escaped bodies are, and reading them directly skips
    /// the search for the documents in a stretch of text. `None` leaves `text` to that search.
    fn whole_document<'t>(&mut self, text: &'t str, depth: usize) -> Option<Node<'t>> {
        let trimmed = text.trim();
        if self.documents_left == 0 || !trimmed.starts_with('{') || !trimmed.ends_with('}') {
            return None;
        }
        let remaining_depth = (self.max_depth + 1).saturating_sub(depth);
        if scan::may_nest_deeper_than(trimmed.as_bytes(), remaining_depth) {
            return None;
        }
        let document = json::parse(trimmed).filter(Node::is_object)?;
        self.documents_left -= 1;
        Some(document)
    }

    /// The documents in `text` that parse as JSON or as a Python repr, with their spans.
    fn documents_in<'t>(&mut self, text: &'t str, depth: usize) -> Vec<(Range<usize>, Node<'t>)> {
        if self.documents_left == 0 || memchr::memchr(b'{', text.as_bytes()).is_none() {
            return Vec::new();
        }
        let remaining_depth = (self.max_depth + 1).saturating_sub(depth);
        let spans = match scan::document_spans(text, remaining_depth, MAX_DOCUMENT_ATTEMPTS) {
            Ok(spans) => spans,
            Err(TooDeep) => {
                self.too_deep = true;
                return Vec::new();
            }
        };
        let mut documents = Vec::new();
        for span in spans {
            if self.documents_left == 0 {
                break;
            }
            self.documents_left -= 1;
            let Some(candidate) = text.get(span.clone()) else { continue };
            let parsed = json::parse(candidate).or_else(|| {
                if candidate.contains('\'') {
                    scan::python_repr_to_json(candidate).as_deref().and_then(json::parse).map(Node::into_owned)
                } else {
                    None
                }
            });
            if let Some(document) = parsed.filter(Node::is_object) {
                documents.push((span, document));
            }
        }
        documents
    }

    /// Statuses, Retry-After, URL and named ids written in free text.
    fn read_free_text(&mut self, text: &str, depth: usize) {
        // The shortest thing worth reading here is a status in brackets, "(403)".
        if text.len() < 5 {
            return;
        }
        if self.text_error_status.is_none() {
            let (error, other) = text::first_statuses(text);
            self.text_error_status = error;
            if self.text_other_status.is_none() {
                self.text_other_status = other;
            }
        }
        let order = self.next_order();
        if self.retry_after.would_take(1, depth, order) {
            if let Some(found) = text::retry_after(text) {
                self.retry_after.offer(1, depth, order, || match found {
                    RetryAfterText::Seconds(seconds) => Some(RetryAfter::Seconds(seconds)),
                    RetryAfterText::Date(date) => Timestamp::parse_http_date(date).map(RetryAfter::Date),
                });
            }
        }
        // A URL field's own value was offered already, ahead of any URL written in text.
        if self.url.would_take(1, depth, order) || self.method.would_take(1, depth, order) {
            if let Some((verb, url)) = text::first_url(text) {
                self.url.offer(1, depth, order, || Some(url.to_owned()));
                if let Some(verb) = verb {
                    self.method.offer(1, depth, order, || Some(verb.to_owned()));
                }
            }
        }
        for (name, guid) in text::named_guids(text) {
            match role(&NameBuffer::default(), &name) {
                Role::CorrelationId(rank) => self.correlation_id.offer(rank, depth, order, || Some(guid)),
                Role::TenantId => self.tenant_id.offer(1, depth, order, || Some(guid)),
                _ => {}
            }
        }
    }
}

/// The stretches of `0..length` not covered by `masked` (sorted, non-overlapping spans).
fn gaps<'a>(length: usize, masked: impl IntoIterator<Item = &'a Range<usize>>) -> impl Iterator<Item = Range<usize>> {
    let mut masked = masked.into_iter();
    let mut start = 0;
    let mut ended = false;
    std::iter::from_fn(move || {
        for span in masked.by_ref() {
            let gap = start..span.start;
            start = start.max(span.end);
            if !gap.is_empty() {
                return Some(gap);
            }
        }
        let last = (!ended && start < length).then_some(start..length);
        ended = true;
        last
    })
}

/// An HTTP status from a field: a number, or text that starts with one (`"429"`,
/// `"429 Too Many Requests"`).
fn status_value(value: FieldValue<'_>) -> Option<u16> {
    let status = match value {
        FieldValue::Number(number) if number.fract() == 0.0 && (100.0..=599.0).contains(&number) => number as u16,
        FieldValue::Text(text) => {
            let text = text.trim();
            let digits = text.get(..3)?;
            let rest = text.get(3..)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) || rest.starts_with(|c: char| c.is_ascii_digit() || c == '.')
            {
                return None;
            }
            digits.parse().ok()?
        }
        _ => return None,
    };
    (100..=599).contains(&status).then_some(status)
}

fn retry_after_value(text: &str, scale: f64) -> Option<RetryAfter> {
    if let Ok(number) = text.parse::<f64>() {
        return number.is_finite().then_some(RetryAfter::Seconds(number / scale));
    }
    Timestamp::parse_http_date(text).map(RetryAfter::Date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // One-element arrays of ranges are meant: a single gap or span.
    #[allow(clippy::single_range_in_vec_init)]
    fn gaps_are_what_the_spans_leave() {
        fn check(length: usize, masked: &[Range<usize>], expected: &[Range<usize>]) {
            assert_eq!(gaps(length, masked).collect::<Vec<_>>(), expected, "{masked:?} in {length}");
        }
        check(0, &[], &[]);
        check(10, &[], &[0..10]);
        check(10, &[0..10], &[]);
        check(10, &[2..4], &[0..2, 4..10]);
        check(10, &[0..3, 3..5, 7..10], &[5..7]);
        // Spans may nest or overlap: what one covers is covered.
        check(10, &[1..8, 2..4, 6..9], &[0..1, 9..10]);
        check(5, &[1..2, 4..7], &[0..1, 2..4]);
    }
}
