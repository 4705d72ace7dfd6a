//! Writing one event as the service that met it would log it: its log style, and within the
//! style the variants real clients print (a body kept or dropped, a status stated or not,
//! Retry-After as a field, a header or a date).
//!
//! A renderer reports what it wrote ([`Written`]), because what the classifier can find
//! depends on it: a body dropped by `requests`' exception text leaves only the status, a
//! transcript line stamps the time to the second, and so on.

use std::fmt::{self, Write as _};

use super::catalog::{reason_phrase, Api, Backend, ErrorTemplate, Service, Style};
use super::random::Random;
use crate::guid::Guid;
use crate::timestamp::Timestamp;

/// One call a service made.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub time: Timestamp,
    pub service: Service,
    pub api: Api,
    pub url: String,
}

/// How a call failed, as the API answered.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub status: u16,
    pub template: ErrorTemplate,
    /// The template's message with its blanks filled in.
    pub message: String,
    pub body: Body,
    /// The server's Retry-After, in milliseconds.
    pub retry_after_millis: Option<u64>,
}

/// The error body, with the ids the service minted for this answer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Body {
    /// A gateway answered, without a body.
    None,
    Defender {
        target: Guid,
    },
    Graph {
        request_id: Guid,
        client_request_id: Guid,
    },
    AzureAdGraph {
        request_id: Option<Guid>,
    },
    ResourceManager,
    Login {
        trace_id: Guid,
        correlation_id: Guid,
    },
}

impl Failure {
    /// Whether a record that writes the body and no status still tells the status.
    fn body_tells_status(&self) -> bool {
        !matches!(self.body, Body::None) && self.template.implies_status
    }
}

/// What a renderer put in the record, which is what the classifier can find there.
#[derive(Debug, Clone, Default)]
pub(super) struct Written {
    pub text: String,
    /// The record's own time as the classifier reads it (to the second for some stamps).
    pub stamped: Option<Timestamp>,
    pub status_stated: bool,
    pub body_written: bool,
    /// A correlation id in the record's own fields or headers.
    pub record_id: Option<Guid>,
    pub retry_after_seconds: Option<f64>,
}

/// How a record writes its time.
#[derive(Debug, Clone, Copy)]
enum Stamp {
    /// `2026-11-26T10:00:04.123Z`
    Rfc3339,
    /// `2026-11-26T10:00:04.1230000Z`, as .NET writes a UTC time.
    DotNet,
    /// `2026-11-26 10:00:04,123`, Python's logging.
    Python,
    /// `2026-11-26T10:00:04.123000+00:00`, Python's isoformat.
    PythonIso,
    /// `2026-11-26 10:00:04.1230`, NLog's long date.
    NLog,
    /// `2026-11-26 10:00:04`, to the second.
    Seconds,
    /// `2026-11-26 10:00:04Z`, the token endpoint's.
    SecondsZ,
}

/// Writes `time` in `stamp`'s form and returns the time the classifier will read back.
fn push_stamp(out: &mut String, time: Timestamp, stamp: Stamp) -> Timestamp {
    let bytes = time.rfc3339_millis();
    let text = std::str::from_utf8(&bytes).unwrap_or("1970-01-01T00:00:00.000Z");
    let (date, clock, millis) = (
        text.get(0..10).unwrap_or_default(),
        text.get(11..19).unwrap_or_default(),
        text.get(20..23).unwrap_or_default(),
    );
    let whole_seconds = || Timestamp::from_unix_millis(time.unix_millis().div_euclid(1000) * 1000).unwrap_or(time);
    match stamp {
        Stamp::Rfc3339 => {
            out.push_str(text);
            time
        }
        Stamp::DotNet => {
            let _ = write!(out, "{date}T{clock}.{millis}0000Z");
            time
        }
        Stamp::Python => {
            let _ = write!(out, "{date} {clock},{millis}");
            time
        }
        Stamp::PythonIso => {
            let _ = write!(out, "{date}T{clock}.{millis}000+00:00");
            time
        }
        Stamp::NLog => {
            let _ = write!(out, "{date} {clock}.{millis}0");
            time
        }
        Stamp::Seconds => {
            let _ = write!(out, "{date} {clock}");
            whole_seconds()
        }
        Stamp::SecondsZ => {
            let _ = write!(out, "{date} {clock}Z");
            whole_seconds()
        }
    }
}

/// The time the token endpoint writes in its body, as the classifier reads it.
pub(super) fn login_body_time(time: Timestamp) -> Timestamp {
    let mut scratch = String::new();
    push_stamp(&mut scratch, time, Stamp::SecondsZ)
}

/// Appends `text` as a JSON string.
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// Appends `text` as a double-quoted logfmt value.
fn push_logfmt_quoted(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            other => out.push(other),
        }
    }
    out.push('"');
}

/// Appends `text` as Python's `repr` writes a string.
fn push_python_string(out: &mut String, text: &str) {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            other if other == quote => {
                out.push('\\');
                out.push(other);
            }
            other => out.push(other),
        }
    }
    out.push(quote);
}

/// A JSON object written field by field, in order.
struct JsonObject<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> JsonObject<'a> {
    fn open(out: &'a mut String) -> JsonObject<'a> {
        out.push('{');
        JsonObject { out, empty: true }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        push_json_string(self.out, key);
        self.out.push(':');
    }

    fn text(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_json_string(self.out, value);
        self
    }

    fn number(&mut self, key: &str, value: impl fmt::Display) -> &mut Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    /// A value that is JSON already.
    fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    fn stamp(&mut self, key: &str, time: Timestamp, stamp: Stamp) -> Timestamp {
        self.key(key);
        self.out.push('"');
        let read = push_stamp(self.out, time, stamp);
        self.out.push('"');
        read
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// Retry-After as a header writes it: whole seconds, or seconds with milliseconds as Graph does.
fn seconds_text(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{}.{:03}", millis / 1000, millis % 1000)
    }
}

fn seconds_value(millis: u64) -> f64 {
    millis as f64 / 1000.0
}

/// The body as the API sent it, compact JSON; empty when there is none.
fn body_json(failure: &Failure, time: Timestamp) -> String {
    let mut out = String::with_capacity(256);
    let template = &failure.template;
    match failure.body {
        Body::None => {}
        Body::Defender { target } => {
            let mut envelope = JsonObject::open(&mut out);
            envelope.key("error");
            let mut error = JsonObject::open(envelope.out);
            error.text("code", template.raw_code).text("message", &failure.message).text("target", &target.to_string());
            error.close();
            envelope.close();
        }
        Body::Graph { request_id, client_request_id } => {
            let mut envelope = JsonObject::open(&mut out);
            envelope.key("error");
            let mut error = JsonObject::open(envelope.out);
            error.text("code", template.raw_code).text("message", &failure.message);
            error.key("innerError");
            let mut inner = JsonObject::open(error.out);
            if !template.inner_code.is_empty() {
                inner.text("code", template.inner_code);
            }
            let mut date = String::new();
            push_stamp(&mut date, time, Stamp::Rfc3339);
            date.truncate(19);
            inner.text("date", &date);
            if template.inner_code == "429" {
                inner.text("message", "Please retry after");
            }
            inner.text("request-id", &request_id.to_string()).text("client-request-id", &client_request_id.to_string());
            if template.inner_code == "429" {
                inner.text("status", "429");
            }
            inner.close();
            error.close();
            envelope.close();
        }
        Body::AzureAdGraph { request_id } => {
            let mut envelope = JsonObject::open(&mut out);
            envelope.key("odata.error");
            let mut error = JsonObject::open(envelope.out);
            error.text("code", template.raw_code);
            error.key("message");
            let mut message = JsonObject::open(error.out);
            message.text("lang", "en").text("value", &failure.message);
            message.close();
            if let Some(request_id) = request_id {
                error.text("requestId", &request_id.to_string());
                let mut date = String::new();
                push_stamp(&mut date, time, Stamp::Rfc3339);
                date.truncate(19);
                error.text("date", &date);
            }
            error.close();
            envelope.close();
        }
        Body::ResourceManager => {
            let mut envelope = JsonObject::open(&mut out);
            envelope.key("error");
            let mut error = JsonObject::open(envelope.out);
            error.text("code", template.raw_code).text("message", &failure.message);
            error.close();
            envelope.close();
        }
        Body::Login { trace_id, correlation_id } => {
            let mut stamp = String::new();
            push_stamp(&mut stamp, time, Stamp::SecondsZ);
            let description = format!(
                "{}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}",
                failure.message
            );
            let mut body = JsonObject::open(&mut out);
            body.text("error", template.raw_code)
                .text("error_description", &description)
                .raw("error_codes", &format!("[{}]", template.aad_code))
                .text("timestamp", &stamp)
                .text("trace_id", &trace_id.to_string())
                .text("correlation_id", &correlation_id.to_string())
                .text("error_uri", &format!("https://login.microsoftonline.com/error?code={}", template.aad_code));
            body.close();
        }
    }
    out
}

/// Defender's body as Python prints a dict.
fn body_repr(failure: &Failure, target: Guid) -> String {
    let mut out = String::with_capacity(200);
    out.push_str("{'error': {'code': ");
    push_python_string(&mut out, failure.template.raw_code);
    out.push_str(", 'message': ");
    push_python_string(&mut out, &failure.message);
    out.push_str(", 'target': ");
    push_python_string(&mut out, &target.to_string());
    out.push_str("}}");
    out
}

/// The status a successful call of `api` gets.
pub(super) fn success_status(api: &Api) -> u16 {
    match api.method {
        "DELETE" => 204,
        "POST" if api.kind == super::catalog::ApiKind::Action => 201,
        _ => 200,
    }
}

/// A log line that is not about a call.
pub(super) fn ordinary(service: &Service, time: Timestamp, random: &mut Random) -> Written {
    let template = random.pick(service.ordinary);
    let mut message = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        message.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open..).unwrap_or_default();
        if let Some(tail) = after.strip_prefix("{n}") {
            let _ = write!(message, "{}", random.between(1, 2000));
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("{ms}") {
            let _ = write!(message, "{}", random.between(12, 4800));
            rest = tail;
        } else {
            message.push('{');
            rest = after.get(1..).unwrap_or_default();
        }
    }
    message.push_str(rest);

    let mut out = String::with_capacity(160);
    let name = service.name;
    let stamped = match service.style {
        Style::Clef => {
            let mut record = JsonObject::open(&mut out);
            let read = record.stamp("@t", time, Stamp::DotNet);
            record.text("@mt", &message).text("SourceContext", "Worker").text("Application", name);
            record.close();
            read
        }
        Style::Zap => {
            let mut record = JsonObject::open(&mut out);
            record.text("level", "info");
            let read = record.stamp("ts", time, Stamp::Rfc3339);
            record.text("logger", name).text("msg", &message);
            record.close();
            read
        }
        Style::Ecs => {
            let mut record = JsonObject::open(&mut out);
            let read = record.stamp("@timestamp", time, Stamp::Rfc3339);
            record
                .text("log.level", "info")
                .text("message", &message)
                .text("service.name", name)
                .text("ecs.version", "8.11.0");
            record.close();
            read
        }
        Style::Logfmt => {
            out.push_str("ts=");
            let read = push_stamp(&mut out, time, Stamp::Rfc3339);
            let _ = write!(out, " level=info service={name} msg=");
            push_logfmt_quoted(&mut out, &message);
            read
        }
        Style::PythonLogging => {
            let read = push_stamp(&mut out, time, Stamp::Python);
            let _ = write!(out, " INFO {}: {message}", python_logger(name));
            read
        }
        Style::Xsoar => {
            let read = push_stamp(&mut out, time, Stamp::Rfc3339);
            let _ = write!(out, " {name} {message}");
            read
        }
        Style::PowerShell => {
            out.push('[');
            let read = push_stamp(&mut out, time, Stamp::Seconds);
            let _ = write!(out, "] [Information] :: {message}");
            read
        }
        Style::NLog => {
            let mut record = JsonObject::open(&mut out);
            let read = record.stamp("time", time, Stamp::NLog);
            record.text("level", "INFO").text("logger", "DirectorySync.Worker").text("message", &message);
            record.close();
            read
        }
        Style::AzureSdk => {
            let mut record = JsonObject::open(&mut out);
            let read = record.stamp("timestamp", time, Stamp::PythonIso);
            record.text("level", "INFO").text("logger", "asset_inventory").text("message", &message);
            record.close();
            read
        }
        Style::TextLine => {
            let read = push_stamp(&mut out, time, Stamp::Rfc3339);
            let _ = write!(out, " INFO mde_client {message}");
            read
        }
    };
    Written { text: out, stamped: Some(stamped), ..Written::default() }
}

fn python_logger(name: &str) -> String {
    name.replace('-', "_")
}

/// A call that succeeded with `status`.
pub(super) fn success(call: &Call, status: u16, random: &mut Random) -> Written {
    let mut out = String::with_capacity(256);
    let (name, method, url, reason) = (call.service.name, call.api.method, call.url.as_str(), reason_phrase(status));
    let millis = random.between(40, 2400);
    let stamped = match call.service.style {
        Style::Clef => {
            let mut record = JsonObject::open(&mut out);
            let read = record.stamp("@t", call.time, Stamp::DotNet);
            record
                .text("@mt", "HTTP {Method} {Uri} responded {StatusCode} in {ElapsedMs} ms")
                .text("Method", method)
                .text("Uri", url)
                .number("StatusCode", status)
                .number("ElapsedMs", format_args!("{millis}.{:04}", random.below(10_000)))
                .text("SourceContext", "System.Net.Http.HttpClient.Defender.LogicalHandler")
                .text("Application", name);
            record.close();
            read
        }
        Style::Zap => {
            let mut record = JsonObject::open(&mut out);
            record.text("level", "info");
            let read = record.stamp("ts", call.time, Stamp::Rfc3339);
            record
                .text("logger", name)
                .text("msg", "request done")
                .text("method", method)
                .text("url", url)
                .number("status", status)
                .number("duration_ms", millis);
            record.close();
            read
        }
        Style::Ecs => {
            let mut record = JsonObject::open(&mut out);
            let read = record.stamp("@timestamp", call.time, Stamp::Rfc3339);
            record
                .text("log.level", "info")
                .text("message", "request done")
                .text("service.name", name)
                .text("http.request.method", method)
                .text("url.full", url)
                .number("http.response.status_code", status)
                .number("event.duration", millis * 1_000_000);
            record.close();
            read
        }
        Style::Logfmt => {
            out.push_str("ts=");
            let read = push_stamp(&mut out, call.time, Stamp::Rfc3339);
            let _ = write!(out, " level=info service={name} msg=\"request done\" method={method} url={url}");
            let _ = write!(out, " status={status} took={millis}ms");
            read
        }
        Style::PythonLogging => {
            let read = push_stamp(&mut out, call.time, Stamp::Python);
            let _ = write!(out, " INFO {}: {method} {url} -> {status} in {millis} ms", python_logger(name));
            read
        }
        Style::Xsoar => {
            let read = push_stamp(&mut out, call.time, Stamp::Rfc3339);
            let _ = write!(out, " {name} {method} {url} -> {status} {reason}");
            read
        }
        Style::PowerShell => {
            out.push('[');
            let read = push_stamp(&mut out, call.time, Stamp::Seconds);
            let _ = write!(out, "] [Information] :: {method} {url} StatusCode: {status}");
            read
        }
        Style::NLog => {
            let mut record = JsonObject::open(&mut out);
            let read = record.stamp("time", call.time, Stamp::NLog);
            record
                .text("level", "INFO")
                .text("logger", "DirectorySync.AadGraphClient")
                .text("message", "request done")
                .text("method", method)
                .text("url", url)
                .number("statusCode", status)
                .number("elapsedMs", millis);
            record.close();
            read
        }
        Style::AzureSdk => {
            let mut record = JsonObject::open(&mut out);
            let read = record.stamp("timestamp", call.time, Stamp::PythonIso);
            record
                .text("level", "INFO")
                .text("logger", "azure.core.pipeline.policies.http_logging_policy")
                .text("message", &format!("Response status: {status}"))
                .text("method", method)
                .text("url", url)
                .number("status_code", status);
            record.close();
            read
        }
        Style::TextLine => {
            let read = push_stamp(&mut out, call.time, Stamp::Rfc3339);
            let _ = write!(out, " INFO mde_client {method} {url} -> {status} {reason} ({millis} ms)");
            read
        }
    };
    Written { text: out, stamped: Some(stamped), status_stated: true, ..Written::default() }
}

/// A call that failed.
pub(super) fn failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    match call.service.style {
        Style::Clef => clef_failure(call, failure, random),
        Style::Zap => zap_failure(call, failure, random),
        Style::Ecs => ecs_failure(call, failure, random),
        Style::Logfmt => logfmt_failure(call, failure, random),
        Style::PythonLogging => python_failure(call, failure, random),
        Style::Xsoar => xsoar_failure(call, failure, random),
        Style::PowerShell => powershell_failure(call, failure, random),
        Style::NLog => nlog_failure(call, failure, random),
        Style::AzureSdk => azure_sdk_failure(call, failure, random),
        Style::TextLine => text_line_failure(call, failure, random),
    }
}

/// The frames .NET prints under an HttpRequestException thrown by EnsureSuccessStatusCode.
const DOTNET_STACK: &str = concat!(
    "\r\n   at System.Net.Http.HttpResponseMessage.EnsureSuccessStatusCode()",
    "\r\n   at MdeSync.DefenderClient.SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)"
);

fn clef_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(512);
    let status = failure.status;
    let mut record = JsonObject::open(&mut out);
    written.stamped = Some(record.stamp("@t", call.time, Stamp::DotNet));
    // HttpClient's EnsureSuccessStatusCode throws away the body: only the status is left.
    if matches!(failure.body, Body::None) || random.chance(0.25) {
        record.text("@mt", "Request to {Uri} failed").text("@l", "Error").text(
            "@x",
            &format!(
                "{}{status} ({}).{}",
                "System.Net.Http.HttpRequestException: Response status code does not indicate success: ",
                reason_phrase(status),
                DOTNET_STACK
            ),
        );
        record.text("Uri", &call.url);
        if random.chance(0.5) {
            let id = random.guid();
            record.text("CorrelationId", &id.to_string());
            written.record_id = Some(id);
        }
    } else {
        record
            .text("@mt", "MDE {Method} {Uri} failed with {Status}")
            .text("@l", if status == 429 { "Warning" } else { "Error" })
            .text("Method", call.api.method)
            .text("Uri", &call.url)
            .number("Status", status);
        if let Some(millis) = failure.retry_after_millis {
            record.raw("RetryAfter", &seconds_text(millis));
            written.retry_after_seconds = Some(seconds_value(millis));
        }
        record.raw("Response", &body_json(failure, call.time));
        written.body_written = true;
    }
    record.text("SourceContext", "MdeSync.DefenderClient").text("Application", call.service.name);
    record.close();
    written.text = out;
    written
}

/// What a proxy in front of the API says when it answers by itself.
fn gateway_text(status: u16) -> &'static str {
    match status {
        502 => "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
        503 => "no healthy upstream",
        504 => "upstream request timeout",
        _ => "unexpected response",
    }
}

fn zap_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(512);
    let mut record = JsonObject::open(&mut out);
    record.text("level", if failure.status == 429 { "warn" } else { "error" });
    written.stamped = Some(record.stamp("ts", call.time, Stamp::Rfc3339));
    record
        .text("logger", call.service.name)
        .text("msg", "mde request failed")
        .text("method", call.api.method)
        .text("url", &call.url)
        .number("status", failure.status);
    if let Some(millis) = failure.retry_after_millis {
        record.raw("retry_after", &seconds_text(millis));
        written.retry_after_seconds = Some(seconds_value(millis));
    }
    if matches!(failure.body, Body::None) {
        if random.chance(0.6) {
            let id = random.guid();
            record.text("request_id", &id.to_string());
            written.record_id = Some(id);
        }
        record.text("error", gateway_text(failure.status));
    } else {
        record.text("body", &body_json(failure, call.time));
        written.body_written = true;
    }
    record.close();
    written.text = out;
    written
}

fn ecs_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(512);
    let status = failure.status;
    let mut record = JsonObject::open(&mut out);
    written.stamped = Some(record.stamp("@timestamp", call.time, Stamp::Rfc3339));
    record
        .text("log.level", "error")
        .text("message", "request failed")
        .text("service.name", call.service.name)
        .text("http.request.method", call.api.method)
        .text("url.full", &call.url)
        .number("http.response.status_code", status);
    if let Some(millis) = failure.retry_after_millis {
        record.text("http.response.headers.retry-after", &seconds_text(millis));
        written.retry_after_seconds = Some(seconds_value(millis));
    }
    if matches!(failure.body, Body::None) || random.chance(0.15) {
        // axios rejects with its own message and the body is not logged.
        let id = random.guid();
        record.text("labels.correlation_id", &id.to_string());
        written.record_id = Some(id);
        record.text("error.message", &format!("Request failed with status code {status}"));
    } else {
        record.text("http.response.body.content", &body_json(failure, call.time));
        written.body_written = true;
    }
    record.close();
    written.text = out;
    written
}

fn logfmt_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(512);
    let status = failure.status;
    out.push_str("ts=");
    written.stamped = Some(push_stamp(&mut out, call.time, Stamp::Rfc3339));
    let _ = write!(
        out,
        " level={} service={} msg=\"request failed\" method={} url={} status={status}",
        if status == 429 { "warn" } else { "error" },
        call.service.name,
        call.api.method,
        call.url
    );
    if let Some(millis) = failure.retry_after_millis {
        let _ = write!(out, " retry_after={}", seconds_text(millis));
        written.retry_after_seconds = Some(seconds_value(millis));
    }
    if matches!(failure.body, Body::None) {
        if random.chance(0.6) {
            let id = random.guid();
            let _ = write!(out, " request_id={id}");
            written.record_id = Some(id);
        }
        let _ = write!(out, " err=\"unexpected status {status}\"");
    } else {
        out.push_str(" body=");
        push_logfmt_quoted(&mut out, &body_json(failure, call.time));
        written.body_written = true;
    }
    written.text = out;
    written
}

fn python_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(512);
    let status = failure.status;
    let logger = python_logger(call.service.name);
    written.stamped = Some(push_stamp(&mut out, call.time, Stamp::Python));
    let keeps_body = if status == 429 { 0.85 } else { 0.5 };
    match failure.body {
        Body::Login { .. } => {
            let _ = write!(out, " ERROR {logger}: token request failed ({status}): {}", body_json(failure, call.time));
            written.body_written = true;
        }
        Body::Defender { target } if random.chance(keeps_body) => {
            let level = if status == 429 { "WARNING" } else { "ERROR" };
            let _ = write!(out, " {level} {logger}: MDE call failed ({status}), ");
            if let Some(millis) = failure.retry_after_millis {
                let _ = write!(out, "Retry-After: {}, ", seconds_text(millis));
                written.retry_after_seconds = Some(seconds_value(millis));
            }
            let _ = write!(out, "response: {}", body_repr(failure, target));
            written.body_written = true;
        }
        _ => {
            // requests' HTTPError names the status and the URL, never the body.
            let side = if status >= 500 { "Server" } else { "Client" };
            let _ = write!(
                out,
                " ERROR {logger}: requests.exceptions.HTTPError: {status} {side} Error: {} for url: {}",
                reason_phrase(status),
                call.url
            );
        }
    }
    written.text = out;
    written
}

fn xsoar_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(512);
    let status = failure.status;
    let name = call.service.name;
    written.stamped = Some(push_stamp(&mut out, call.time, Stamp::Rfc3339));
    match failure.body {
        Body::Login { trace_id, correlation_id } => {
            // The integration flattens the token endpoint's answer into one sentence.
            let mut stamp = String::new();
            push_stamp(&mut stamp, call.time, Stamp::SecondsZ);
            let (error, message) = (failure.template.raw_code, &failure.message);
            let _ = write!(out, " {name} Error in Microsoft authorization. Status: {status}, body: {error}. {message}");
            let _ = write!(out, " Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {stamp}");
            written.record_id = Some(correlation_id);
        }
        Body::Defender { target } if failure.body_tells_status() && random.chance(0.35) => {
            let _ = write!(out, " {name} MDE error: {}", body_repr(failure, target));
            written.status_stated = false;
            written.body_written = true;
        }
        _ => {
            let _ = write!(out, " {name} Error in API call [{status}] - {}", reason_phrase(status));
            if !matches!(failure.body, Body::None) {
                out.push(' ');
                out.push_str(&body_json(failure, call.time));
                written.body_written = true;
            }
        }
    }
    written.text = out;
    written
}

/// The reason .NET Framework's WebException prints.
fn dotnet_framework_reason(status: u16) -> &'static str {
    match status {
        503 => "Server Unavailable",
        other => reason_phrase(other),
    }
}

/// The same, on a French Windows.
fn french_reason(status: u16) -> &'static str {
    match status {
        400 => "Demande incorrecte",
        401 => "Non autorisé",
        403 => "Interdit",
        404 => "Introuvable",
        429 => "Trop de demandes",
        500 => "Erreur interne du serveur",
        502 => "Passerelle incorrecte",
        503 => "Serveur indisponible",
        _ => "Délai d'attente de la passerelle dépassé",
    }
}

fn powershell_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written::default();
    let mut out = String::with_capacity(512);
    let status = failure.status;
    if failure.body_tells_status() && random.chance(0.55) {
        // The body alone, as `$_.ErrorDetails.Message` or the error record's first line has it.
        let prefix = random.pick(&["Invoke-RestMethod: ", "Invoke-RestMethod : ", ""]);
        out.push_str(prefix);
        out.push_str(&body_json(failure, call.time));
        written.body_written = true;
        written.text = out;
        return written;
    }
    written.status_stated = true;
    out.push('[');
    written.stamped = Some(push_stamp(&mut out, call.time, Stamp::Seconds));
    out.push_str("] [Error] :: ");
    match random.below(20) {
        0 => {
            let _ = write!(out, "Le serveur distant a retourné une erreur : ({status}) {}.", french_reason(status));
        }
        1..=7 => {
            let _ = write!(
                out,
                "Invoke-MdeRequest : Error calling {} [The remote server returned an error: ({status}) {}.]",
                call.api.template,
                dotnet_framework_reason(status)
            );
        }
        _ => {
            let _ = write!(out, "The remote server returned an error: ({status}) {}.", dotnet_framework_reason(status));
        }
    }
    written.text = out;
    written
}

fn nlog_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(512);
    let mut record = JsonObject::open(&mut out);
    written.stamped = Some(record.stamp("time", call.time, Stamp::NLog));
    record
        .text("level", "ERROR")
        .text("logger", "DirectorySync.AadGraphClient")
        .text("message", "Azure AD Graph request failed")
        .text("method", call.api.method)
        .text("url", &call.url)
        .number("statusCode", failure.status);
    if let Some(millis) = failure.retry_after_millis {
        record.raw("responseHeaders", &format!("{{\"Retry-After\":\"{}\"}}", seconds_text(millis)));
        written.retry_after_seconds = Some(seconds_value(millis));
    }
    let request_id_in_body = matches!(failure.body, Body::AzureAdGraph { request_id: Some(_) });
    if !request_id_in_body && random.chance(0.7) {
        let id = random.guid();
        record.text("requestId", &id.to_string());
        written.record_id = Some(id);
    }
    if !matches!(failure.body, Body::None) {
        let body = body_json(failure, call.time);
        if random.chance(0.5) {
            record.raw("response", &body);
        } else {
            record.text("responseBody", &body);
        }
        written.body_written = true;
    }
    record.close();
    written.text = out;
    written
}

fn azure_sdk_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(640);
    let mut record = JsonObject::open(&mut out);
    written.stamped = Some(record.stamp("timestamp", call.time, Stamp::PythonIso));
    record
        .text("level", "ERROR")
        .text("logger", "asset_inventory.arm")
        .text("message", "ARM request failed")
        .text("method", call.api.method)
        .text("url", &call.url)
        .number("status_code", failure.status);
    // Resource Manager answers every request with its own id.
    let id = random.guid();
    record.text("x-ms-request-id", &id.to_string());
    written.record_id = Some(id);
    if let Some(millis) = failure.retry_after_millis {
        record.text("Retry-After", &seconds_text(millis));
        written.retry_after_seconds = Some(seconds_value(millis));
    }
    if !matches!(failure.body, Body::None) {
        record.raw("response", &body_json(failure, call.time));
        written.body_written = true;
    }
    record.close();
    written.text = out;
    written
}

fn text_line_failure(call: &Call, failure: &Failure, random: &mut Random) -> Written {
    let mut written = Written { status_stated: true, ..Written::default() };
    let mut out = String::with_capacity(512);
    let status = failure.status;
    let stamped = push_stamp(&mut out, call.time, Stamp::Rfc3339);
    written.stamped = Some(stamped);
    if random.chance(0.25) {
        // A response dump: status line and headers folded onto one line.
        let _ = write!(out, " WARN mde_client HTTP/1.1 {status} {};", reason_phrase(status));
        if let Some(millis) = failure.retry_after_millis {
            // An HTTP date counts from the record's own time, to the whole second.
            let due = (stamped.unix_millis() + millis as i64 + 999).div_euclid(1000) * 1000;
            if let Some(date) = Timestamp::from_unix_millis(due) {
                let _ = write!(out, " Retry-After: {};", date.http_date());
                written.retry_after_seconds = Some(stamped.seconds_until(date));
            }
        }
        let id = random.guid();
        let _ = write!(out, " x-ms-request-id: {id};");
        written.record_id = Some(id);
    } else {
        let _ = write!(out, " ERROR mde_client {} {} -> {status} {}", call.api.method, call.url, reason_phrase(status));
        if let Some(millis) = failure.retry_after_millis {
            let _ = write!(out, " Retry-After: {}", seconds_text(millis));
            written.retry_after_seconds = Some(seconds_value(millis));
        }
    }
    if !matches!(failure.body, Body::None) {
        out.push(' ');
        out.push_str(&body_json(failure, call.time));
        written.body_written = true;
    }
    written.text = out;
    written
}

/// The URL of a call: the service's host for the backend, the path with ids filled in, the
/// query. Returns the URL and the last id written, which 404 messages name.
pub(super) fn url(api: &Api, service: &Service, ids: &Ids, random: &mut Random) -> (String, Option<String>) {
    let mut out = String::with_capacity(120);
    out.push_str("https://");
    out.push_str(api.backend.host(service.defender_host));
    let mut last_id = None;
    let mut rest = api.path;
    while let Some(open) = rest.find('{') {
        out.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open..).unwrap_or_default();
        let close = after.find('}').map_or(after.len(), |index| index + 1);
        let id = match after.get(..close).unwrap_or_default() {
            "{machine}" => pick_id(&ids.machines, random),
            "{alert}" => pick_id(&ids.alerts, random),
            "{number}" => random.between(10_000, 9_999_999).to_string(),
            "{tenant}" => ids.tenant.to_string(),
            "{subscription}" => ids.subscription.to_string(),
            _ => random.guid().to_string(),
        };
        out.push_str(&id);
        last_id = Some(id);
        rest = after.get(close..).unwrap_or_default();
    }
    out.push_str(rest);
    out.push_str(api.query);
    (out, last_id)
}

/// The ids a tenant's calls use: a fixed fleet of machines and alerts, so that the same
/// machine recurs as it does in real logs.
#[derive(Debug, Clone)]
pub(super) struct Ids {
    pub tenant: Guid,
    pub subscription: Guid,
    pub machines: Vec<String>,
    pub alerts: Vec<String>,
}

fn pick_id(ids: &[String], random: &mut Random) -> String {
    ids.get(random.below(ids.len() as u64) as usize).cloned().unwrap_or_default()
}

/// A failure's message with its blanks filled in.
pub(super) struct MessageContext<'a> {
    pub api: &'a Api,
    pub id: Option<&'a str>,
    pub limit: u32,
    pub window: &'static str,
    pub tenant: Guid,
    pub subscription: Guid,
}

pub(super) fn fill_message(template: &str, context: &MessageContext<'_>, random: &mut Random) -> String {
    let mut out = String::with_capacity(template.len() + 48);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open..).unwrap_or_default();
        let close = after.find('}').map_or(after.len(), |index| index + 1);
        match after.get(..close).unwrap_or_default() {
            "{role}" => out.push_str(context.api.role),
            "{resource}" => out.push_str(context.api.resource),
            "{id}" => match context.id {
                Some(id) => out.push_str(id),
                None => random.push_hex(&mut out, 40),
            },
            "{limit}" => {
                let _ = write!(out, "{}", context.limit);
            }
            "{window}" => out.push_str(context.window),
            "{received}" => {
                let _ = write!(out, "{}", random.between(501, 2000));
            }
            "{hash}" => random.push_hex(&mut out, 31),
            "{tenant}" => {
                let _ = write!(out, "{}", context.tenant);
            }
            "{subscription}" => {
                let _ = write!(out, "{}", context.subscription);
            }
            "{action}" => out.push_str(action_name(context.api.path)),
            _ => {
                let _ = write!(out, "{}", random.guid());
            }
        }
        rest = after.get(close..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// The machine action a path requests, as Defender names it in messages.
fn action_name(path: &str) -> &'static str {
    match path.rsplit('/').next().unwrap_or_default() {
        "isolate" => "Isolate",
        "unisolate" => "Unisolate",
        "runAntiVirusScan" => "RunAntiVirusScan",
        "collectInvestigationPackage" => "CollectInvestigationPackage",
        "restrictCodeExecution" => "RestrictCodeExecution",
        _ => "This action",
    }
}

/// The body a backend sends with `status`, with fresh ids.
pub(super) fn body_for(backend: Backend, has_template: bool, random: &mut Random) -> Body {
    if !has_template {
        return Body::None;
    }
    match backend {
        Backend::Defender => Body::Defender { target: random.guid() },
        Backend::Graph => Body::Graph { request_id: random.guid(), client_request_id: random.guid() },
        Backend::AzureAdGraph => {
            let request_id = random.chance(0.6).then(|| random.guid());
            Body::AzureAdGraph { request_id }
        }
        Backend::ResourceManager => Body::ResourceManager,
        Backend::Login => Body::Login { trace_id: random.guid(), correlation_id: random.guid() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_stamp(stamp: Stamp, written: &str, read: &str) {
        let time = Timestamp::parse_field("2026-11-26T10:00:04.123Z").unwrap();
        let mut out = String::new();
        let back = push_stamp(&mut out, time, stamp);
        assert_eq!(out, written);
        assert_eq!(back.to_string(), read);
        assert_eq!(Timestamp::parse_field(&out), Some(back), "the classifier reads {out} as {read}");
    }

    #[test]
    fn stamps_read_back_as_they_say() {
        check_stamp(Stamp::Rfc3339, "2026-11-26T10:00:04.123Z", "2026-11-26T10:00:04.123Z");
        check_stamp(Stamp::DotNet, "2026-11-26T10:00:04.1230000Z", "2026-11-26T10:00:04.123Z");
        check_stamp(Stamp::Python, "2026-11-26 10:00:04,123", "2026-11-26T10:00:04.123Z");
        check_stamp(Stamp::PythonIso, "2026-11-26T10:00:04.123000+00:00", "2026-11-26T10:00:04.123Z");
        check_stamp(Stamp::NLog, "2026-11-26 10:00:04.1230", "2026-11-26T10:00:04.123Z");
        check_stamp(Stamp::Seconds, "2026-11-26 10:00:04", "2026-11-26T10:00:04.000Z");
        check_stamp(Stamp::SecondsZ, "2026-11-26 10:00:04Z", "2026-11-26T10:00:04.000Z");
    }

    #[test]
    fn strings_are_quoted_for_their_format() {
        let mut json = String::new();
        push_json_string(&mut json, "a\"b\\c\r\n\u{1}ö");
        assert_eq!(json, r#""a\"b\\c\r\n\u0001ö""#);
        let mut logfmt = String::new();
        push_logfmt_quoted(&mut logfmt, r#"{"a":"b\"c"}"#);
        assert_eq!(logfmt, r#""{\"a\":\"b\\\"c\"}""#);
        let mut python = String::new();
        push_python_string(&mut python, "it's");
        assert_eq!(python, r#""it's""#);
        let mut python = String::new();
        push_python_string(&mut python, r#"say "it's""#);
        assert_eq!(python, r#"'say "it\'s"'"#);
        assert_eq!(seconds_text(12_000), "12");
        assert_eq!(seconds_text(2_128), "2.128");
        assert_eq!(seconds_text(2_050), "2.050");
    }
}
