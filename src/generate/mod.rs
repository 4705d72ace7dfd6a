//! Synthetic client logs: many services calling the Defender for Endpoint API and its
//! siblings, the way their logs really read, for demos, load tests and the classifier's tests.
//!
//! Most records are successful calls and ordinary log lines; errors come in realistic
//! proportions and in every record shape errwatch reads: JSON logs of several conventions
//! (Serilog, zap, ECS, NLog, python-json-logger), text lines, logfmt, PowerShell and Python
//! exception text, Defender, Graph, OData, Resource Manager and token-endpoint bodies, bodies
//! escaped inside JSON strings and logfmt values. A [`Scenario`] decides what goes wrong.
//!
//! Every record comes with the generator's own [`Label`]: what `errwatch classify` must answer
//! for it. The label is never written into the record.
//!
//! The generator is deterministic: the same [`Settings`] give the same bytes. Its clock starts
//! at `Settings::start` and advances by `1 / rate` per record, whatever the wall clock does.

mod catalog;
mod random;
mod render;

use std::fmt;
use std::str::FromStr;

use crate::classify::{Category, Classification};
use crate::extract::Family;
use crate::guid::{CorrelationId, Guid};
use crate::timestamp::Timestamp;

use catalog::{Api, ApiKind, Backend, Service, SERVICES};
use random::Random;
use render::{Body, Call, Failure, Ids, MessageContext, Written};

/// What goes wrong in the generated traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Ordinary traffic: a few percent of calls fail, mostly with 404 and 400.
    Steady,
    /// Two clients call one API each far beyond its documented quota and ignore Retry-After.
    ThrottleStorm,
    /// A client secret expired: token requests fail, and the API answers 401.
    TokenExpiry,
    /// Application roles were removed: the API answers 403 to the services that lost them.
    PermissionChange,
    /// The Defender API answers 5xx to most calls, and Graph to some.
    Outage,
    /// Steady, then each incident in turn with steady traffic between them, over and over.
    Tour,
}

/// The tour's phases and how long each lasts, in milliseconds of event time.
const TOUR: [(Scenario, i64); 8] = [
    (Scenario::Steady, 30_000),
    (Scenario::ThrottleStorm, 60_000),
    (Scenario::Steady, 30_000),
    (Scenario::TokenExpiry, 60_000),
    (Scenario::Steady, 30_000),
    (Scenario::PermissionChange, 60_000),
    (Scenario::Steady, 30_000),
    (Scenario::Outage, 60_000),
];

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::Steady,
        Scenario::ThrottleStorm,
        Scenario::TokenExpiry,
        Scenario::PermissionChange,
        Scenario::Outage,
        Scenario::Tour,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::ThrottleStorm => "throttle-storm",
            Scenario::TokenExpiry => "token-expiry",
            Scenario::PermissionChange => "permission-change",
            Scenario::Outage => "outage",
            Scenario::Tour => "tour",
        }
    }

    /// One line for `--help`.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::Steady => "ordinary traffic: about 5% of records are errors, mostly 404 and 400",
            Scenario::ThrottleStorm => {
                "two clients exceed the documented quotas (100 calls a minute and 1,500 an hour per API, \
                 45 a minute for advanced hunting): a surge of 429s with Retry-After"
            }
            Scenario::TokenExpiry => "a client secret expired: token requests fail and API calls get 401",
            Scenario::PermissionChange => "application roles were removed: 403s for the services that lost them",
            Scenario::Outage => "the Defender API answers 500, 502, 503 and 504 to most calls",
            Scenario::Tour => {
                "steady, throttle-storm, steady, token-expiry, steady, permission-change, steady, outage, \
                 again and again (30 s of steady, 60 s of each incident, in event time)"
            }
        }
    }

    /// The scenario in effect `elapsed_millis` after the start, and when its phase began
    /// (milliseconds after the start).
    pub fn phase_at(self, elapsed_millis: i64) -> (Scenario, i64) {
        if self != Scenario::Tour {
            return (self, 0);
        }
        let cycle: i64 = TOUR.iter().map(|(_, length)| length).sum();
        let into_cycle = elapsed_millis.rem_euclid(cycle);
        let cycle_start = elapsed_millis - into_cycle;
        let mut offset = 0;
        for (scenario, length) in TOUR {
            if into_cycle < offset + length {
                return (scenario, cycle_start + offset);
            }
            offset += length;
        }
        (Scenario::Steady, cycle_start)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(text: &str) -> Result<Scenario, String> {
        Scenario::ALL.into_iter().find(|scenario| scenario.name() == text.trim()).ok_or_else(|| {
            let names: Vec<&str> = Scenario::ALL.iter().map(|scenario| scenario.name()).collect();
            format!("unknown scenario {text:?}; expected one of {}", names.join(", "))
        })
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub scenario: Scenario,
    pub seed: u64,
    /// Records per second of event time.
    pub rate: f64,
    /// The event time of the first record.
    pub start: Timestamp,
}

impl Settings {
    pub const DEFAULT_RATE: f64 = 100.0;
}

/// One generated record and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The record, one line without its newline.
    pub record: Vec<u8>,
    pub label: Label,
}

/// What the generator meant a record to be, which is what `errwatch classify` must answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// When the call happened, on the generator's clock.
    pub time: Timestamp,
    /// The service whose log the record is from.
    pub service: &'static str,
    /// The API called, as `errwatch classify` names it (`/api/machines/{id}/isolate`); none
    /// for a line that is not about a call.
    pub api: Option<&'static str>,
    /// The record's own time as the classifier reads it (some stamps only have seconds); none
    /// when the record states no time.
    pub timestamp: Option<Timestamp>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A log line that is not about a call: no status, no error.
    Ordinary,
    /// A successful call, with the status its record states.
    Success { http_status: u16 },
    /// A failed call.
    Error(ExpectedError),
}

/// The answer `errwatch classify` must give a failed call.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedError {
    pub family: Family,
    /// The canonical code; none for a bare status without a code of its own (502, 503, 504).
    pub code: Option<&'static str>,
    pub http_status: u16,
    pub category: Category,
    pub correlation_id: Option<CorrelationId>,
    pub retry_after_seconds: Option<f64>,
}

impl Label {
    pub fn error(&self) -> Option<&ExpectedError> {
        match &self.outcome {
            Outcome::Error(error) => Some(error),
            _ => None,
        }
    }

    pub fn http_status(&self) -> Option<u16> {
        match &self.outcome {
            Outcome::Ordinary => None,
            Outcome::Success { http_status } => Some(*http_status),
            Outcome::Error(error) => Some(error.http_status),
        }
    }

    pub fn category(&self) -> Option<Category> {
        self.error().map(|error| error.category)
    }

    pub fn correlation_id(&self) -> Option<CorrelationId> {
        self.error().and_then(|error| error.correlation_id)
    }

    /// Where `classification` differs from this label, one line per field; empty when they agree.
    pub fn disagreements(&self, classification: &Classification) -> Vec<String> {
        let mut found = Vec::new();
        let mut compare = |field: &str, expected: String, actual: String| {
            if expected != actual {
                found.push(format!("{field}: expected {expected}, got {actual}"));
            }
        };
        match (&self.outcome, classification) {
            (
                Outcome::Ordinary | Outcome::Success { .. },
                Classification::NotAnError { http_status, timestamp, .. },
            ) => {
                compare("http_status", format!("{:?}", self.http_status()), format!("{http_status:?}"));
                // The classifier reads the time of a record that is no error only where it is
                // cheap to (a leading stamp, a top-level JSON field); when it does, it must be right.
                if timestamp.is_some() {
                    compare("timestamp", show_time(self.timestamp), show_time(*timestamp));
                }
            }
            (Outcome::Error(expected), Classification::ApiError(actual)) => {
                compare("family", expected.family.as_str().to_owned(), actual.family.as_str().to_owned());
                compare("code", format!("{:?}", expected.code), format!("{:?}", actual.code.as_deref()));
                compare(
                    "http_status",
                    format!("{:?}", Some(expected.http_status)),
                    format!("{:?}", actual.http_status),
                );
                compare("category", expected.category.as_str().to_owned(), actual.category.as_str().to_owned());
                compare(
                    "correlation_id",
                    format!("{:?}", expected.correlation_id.map(|id| id.to_string())),
                    format!("{:?}", actual.correlation_id.map(|id| id.to_string())),
                );
                let retry_agrees = match (expected.retry_after_seconds, actual.retry_after_seconds) {
                    (Some(left), Some(right)) => (left - right).abs() < 1e-6,
                    (None, None) => true,
                    _ => false,
                };
                if !retry_agrees {
                    compare(
                        "retry_after_seconds",
                        format!("{:?}", expected.retry_after_seconds),
                        format!("{:?}", actual.retry_after_seconds),
                    );
                }
                compare("timestamp", show_time(self.timestamp), show_time(actual.timestamp));
            }
            (expected, actual) => compare("outcome", format!("{expected:?}"), format!("{actual:?}")),
        }
        found
    }
}

fn show_time(time: Option<Timestamp>) -> String {
    time.map_or_else(|| "none".to_owned(), |time| time.to_string())
}

/// Records that are not about a call, out of every service's records.
const ORDINARY_SHARE: f64 = 0.3;
/// Calls that fail in steady traffic.
const STEADY_FAILURES: f64 = 0.065;
/// The statuses of steady failures, by weight.
const STEADY_STATUSES: &[(u32, u16)] =
    &[(26, 404), (24, 400), (14, 429), (10, 403), (8, 401), (8, 500), (6, 503), (2, 502), (2, 504)];
const OUTAGE_STATUSES: &[(u32, u16)] = &[(40, 500), (35, 503), (15, 502), (10, 504)];
const TOKEN_STATUSES: &[(u32, u16)] = &[(65, 400), (35, 401)];
/// Tenants the services belong to; each has its own machines and alerts.
const TENANTS: usize = 3;
const FLEET: usize = 200;

/// The generator. Also an endless iterator of [`Generated`] records.
#[derive(Debug, Clone)]
pub struct Generator {
    settings: Settings,
    random: Random,
    produced: u64,
    tenants: Vec<Ids>,
}

/// A call's failure as the scenario decides it, before the API writes its answer.
struct Decision {
    status: u16,
    throttle: Option<Throttle>,
}

/// Which quota a 429 reports and when it lets calls through again.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Throttle {
    limit: u32,
    window: &'static str,
    retry_after_millis: u64,
}

impl Generator {
    pub fn new(settings: Settings) -> Generator {
        let rate =
            if settings.rate.is_finite() && settings.rate > 0.0 { settings.rate } else { Settings::DEFAULT_RATE };
        let settings = Settings { rate, ..settings };
        let mut random = Random::new(settings.seed);
        let tenants = (0..TENANTS)
            .map(|_| {
                let tenant = random.guid();
                let subscription = random.guid();
                let machines = (0..FLEET)
                    .map(|_| {
                        let mut id = String::with_capacity(40);
                        random.push_hex(&mut id, 40);
                        id
                    })
                    .collect();
                let alerts = (0..FLEET)
                    .map(|_| {
                        let mut id = String::from("da");
                        random.push_digits(&mut id, 18);
                        id
                    })
                    .collect();
                Ids { tenant, subscription, machines, alerts }
            })
            .collect();
        Generator { settings, random, produced: 0, tenants }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Records generated so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// The event time of the next record.
    pub fn next_time(&self) -> Timestamp {
        self.time_of(self.elapsed_millis(self.produced))
    }

    /// The scenario in effect for the next record: a tour's current phase.
    pub fn phase(&self) -> Scenario {
        self.settings.scenario.phase_at(self.elapsed_millis(self.produced)).0
    }

    fn elapsed_millis(&self, index: u64) -> i64 {
        (index as f64 * 1000.0 / self.settings.rate).floor() as i64
    }

    fn time_of(&self, elapsed_millis: i64) -> Timestamp {
        Timestamp::from_unix_millis(self.settings.start.unix_millis().saturating_add(elapsed_millis))
            .unwrap_or(self.settings.start)
    }

    pub fn next_record(&mut self) -> Generated {
        let elapsed = self.elapsed_millis(self.produced);
        self.produced += 1;
        let time = self.time_of(elapsed);
        let (phase, phase_start) = self.settings.scenario.phase_at(elapsed);
        let phase_start = self.settings.start.unix_millis().saturating_add(phase_start);

        let service_index = self.pick_service(phase);
        let service = SERVICES.get(service_index).copied().unwrap_or_default();
        if self.random.chance(ORDINARY_SHARE) {
            let written = render::ordinary(&service, time, &mut self.random);
            let label = Label {
                time,
                service: service.name,
                api: None,
                timestamp: written.stamped,
                outcome: Outcome::Ordinary,
            };
            return Generated { record: written.text.into_bytes(), label };
        }

        let api = match service.storm {
            Some((storm_api, _)) if phase == Scenario::ThrottleStorm && self.random.chance(0.85) => storm_api,
            _ => self.random.weighted(service.apis),
        };
        let Some(ids) = self.tenants.get(service_index % TENANTS) else {
            return self.fallback(time, service.name);
        };
        let (url, id) = render::url(&api, &service, ids, &mut self.random);
        let call = Call { time, service, api, url };
        let Some(decision) = self.decide(phase, phase_start, &service, &api, time) else {
            let status = render::success_status(&api);
            let written = render::success(&call, status, &mut self.random);
            let label = Label {
                time,
                service: service.name,
                api: Some(api.template),
                timestamp: written.stamped,
                outcome: Outcome::Success { http_status: status },
            };
            return Generated { record: written.text.into_bytes(), label };
        };

        let failure = self.failure(&api, decision, id.as_deref(), service_index);
        let written = render::failure(&call, &failure, &mut self.random);
        let label = Label {
            time,
            service: service.name,
            api: Some(api.template),
            timestamp: written.stamped.or_else(|| match failure.body {
                // With no time of its own, the record's time is the token endpoint's.
                Body::Login { .. } if written.body_written => Some(render::login_body_time(time)),
                _ => None,
            }),
            outcome: Outcome::Error(expected_error(&failure, &written)),
        };
        Generated { record: written.text.into_bytes(), label }
    }

    /// A plain line, should a table ever come up empty.
    fn fallback(&self, time: Timestamp, service: &'static str) -> Generated {
        let record = format!("{time} INFO {service} heartbeat").into_bytes();
        Generated {
            record,
            label: Label { time, service, api: None, timestamp: Some(time), outcome: Outcome::Ordinary },
        }
    }

    fn pick_service(&mut self, phase: Scenario) -> usize {
        // In a storm the hammering clients write far more than their usual share.
        let weight = |service: &Service| match (phase, service.storm) {
            (Scenario::ThrottleStorm, Some(_)) => service.weight * 4,
            _ => service.weight,
        };
        let total: u64 = SERVICES.iter().map(|service| u64::from(weight(service))).sum();
        let mut roll = self.random.below(total);
        for (index, service) in SERVICES.iter().enumerate() {
            let weight = u64::from(weight(service));
            if roll < weight {
                return index;
            }
            roll -= weight;
        }
        0
    }

    /// Whether and how a call fails; `None` when it succeeds.
    fn decide(
        &mut self,
        phase: Scenario,
        phase_start: i64,
        service: &Service,
        api: &Api,
        time: Timestamp,
    ) -> Option<Decision> {
        let random = &mut self.random;
        let status = |status| Some(Decision { status, throttle: None });
        if api.kind == ApiKind::Token {
            if phase == Scenario::TokenExpiry && service.secret_expires {
                return status(401);
            }
            return if random.chance(0.02) { status(random.weighted(TOKEN_STATUSES)) } else { None };
        }
        match phase {
            Scenario::ThrottleStorm => {
                if let Some((storm_api, calls_per_second)) = service.storm {
                    if storm_api.path == api.path {
                        let throttle = quota_throttle(api, calls_per_second, phase_start, time.unix_millis());
                        if throttle.is_some() {
                            return Some(Decision { status: 429, throttle });
                        }
                    }
                }
            }
            Scenario::TokenExpiry if service.secret_expires && random.chance(0.95) => return status(401),
            Scenario::PermissionChange if service.loses_roles && random.chance(0.85) => return status(403),
            Scenario::Outage => {
                let share = match api.backend {
                    Backend::Defender => 0.6,
                    Backend::Graph => 0.2,
                    _ => 0.0,
                };
                if random.chance(share) {
                    return status(random.weighted(OUTAGE_STATUSES));
                }
            }
            _ => {}
        }
        if !random.chance(STEADY_FAILURES) {
            return None;
        }
        let failed = random.weighted(STEADY_STATUSES);
        // A client that went over a quota for a moment: told to wait for the next minute.
        let throttle = (failed == 429).then(|| {
            let now = time.unix_millis();
            Throttle {
                limit: if api.per_minute == 0 { 100 } else { api.per_minute },
                window: "00:01:00",
                retry_after_millis: round_up_to_seconds(60_000 - now.rem_euclid(60_000)),
            }
        });
        Some(Decision { status: failed, throttle })
    }

    /// The API's answer to a failed call.
    fn failure(&mut self, api: &Api, decision: Decision, id: Option<&str>, service_index: usize) -> Failure {
        let random = &mut self.random;
        let status = decision.status;
        let templates = catalog::templates(api.backend, api.kind, status);
        let template = random.weighted(templates);
        let body = render::body_for(api.backend, !templates.is_empty(), random);
        let (limit, window) = decision.throttle.map_or((api.per_minute, "00:01:00"), |t| (t.limit, t.window));
        let (tenant, subscription) = self
            .tenants
            .get(service_index % TENANTS)
            .map_or((Guid::from_u128(0), Guid::from_u128(0)), |ids| (ids.tenant, ids.subscription));
        let context = MessageContext { api, id, limit, window, tenant, subscription };
        let message = render::fill_message(template.message, &context, random);
        let retry_after_millis = match (status, api.backend) {
            // Graph counts its delays in milliseconds and says so: "Retry-After: 2.128".
            (429, Backend::Graph) => Some(random.between(1_000, 30_000)),
            (429, Backend::AzureAdGraph) => Some(30_000),
            (429, Backend::ResourceManager) => Some(random.between(5, 60) * 1000),
            (429, _) => Some(decision.throttle.map_or(30_000, |throttle| throttle.retry_after_millis)),
            (503, Backend::Graph) => Some(random.between(10, 120) * 1000),
            _ => None,
        };
        Failure { status, template, message, body, retry_after_millis }
    }
}

impl Iterator for Generator {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        Some(self.next_record())
    }
}

fn round_up_to_seconds(millis: i64) -> u64 {
    (millis.max(1) as u64).div_ceil(1000) * 1000
}

/// Whether a client that has called `api` `calls_per_second` times a second since `since`,
/// ignoring every Retry-After, is throttled at `now` by the API's documented limits; quota
/// windows are whole minutes and hours.
fn quota_throttle(api: &Api, calls_per_second: f64, since: i64, now: i64) -> Option<Throttle> {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 3_600_000;
    let per_minute = u64::from(api.per_minute.max(1));
    let per_hour = u64::from(api.per_hour.max(1));
    let calls = |from: i64, to: i64| ((to - from).max(0) as f64 / 1000.0 * calls_per_second) as u64;
    let minute_start = now - now.rem_euclid(MINUTE);
    let hour_start = now - now.rem_euclid(HOUR);
    let counted_from = since.max(hour_start);
    // Calls let through this hour before this minute: a first, maybe partial, minute, then
    // whole minutes, each capped at the minute's quota.
    let mut accepted = 0;
    if minute_start > counted_from {
        let first_end = counted_from - counted_from.rem_euclid(MINUTE) + MINUTE;
        accepted += calls(counted_from, first_end).min(per_minute);
        let whole_minutes = ((minute_start - first_end) / MINUTE) as u64;
        accepted += whole_minutes * calls(0, MINUTE).min(per_minute);
    }
    let this_minute = calls(since.max(minute_start), now);
    if accepted + this_minute.min(per_minute) >= per_hour {
        return Some(Throttle {
            limit: api.per_hour,
            window: "01:00:00",
            retry_after_millis: round_up_to_seconds(hour_start + HOUR - now),
        });
    }
    if this_minute >= per_minute {
        return Some(Throttle {
            limit: api.per_minute,
            window: "00:01:00",
            retry_after_millis: round_up_to_seconds(minute_start + MINUTE - now),
        });
    }
    None
}

/// What the classifier must find in a failure's record, given what the renderer wrote.
fn expected_error(failure: &Failure, written: &Written) -> ExpectedError {
    let status = failure.status;
    let (family, code, family_id) = if written.body_written {
        let (family, id) = match failure.body {
            Body::None => (Family::StatusOnly, None),
            Body::Defender { target } => (Family::Mde, Some(target)),
            Body::Graph { request_id, .. } => (Family::Graph, Some(request_id)),
            Body::AzureAdGraph { request_id } => (Family::ODataV3, request_id),
            Body::ResourceManager => (Family::Rest, None),
            Body::Login { correlation_id, .. } => (Family::Aad, Some(correlation_id)),
        };
        (family, Some(failure.template.code), id)
    } else {
        (Family::StatusOnly, crate::codes::code_for_status(status), None)
    };
    ExpectedError {
        family,
        code,
        http_status: status,
        category: Category::of_status(Some(status)),
        correlation_id: family_id.or(written.record_id).map(CorrelationId::from),
        retry_after_seconds: written.retry_after_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;
    use crate::extract::{api_template, Limits};

    fn settings(scenario: Scenario, seed: u64) -> Settings {
        Settings { scenario, seed, rate: 200.0, start: Timestamp::parse_field("2026-11-26T10:00:00.000Z").unwrap() }
    }

    fn bytes(settings: Settings, count: usize) -> Vec<u8> {
        Generator::new(settings).take(count).flat_map(|generated| generated.record.into_iter().chain([b'\n'])).collect()
    }

    #[test]
    fn a_seed_gives_the_same_bytes_and_another_seed_others() {
        for scenario in Scenario::ALL {
            let first = bytes(settings(scenario, 11), 2000);
            assert_eq!(first, bytes(settings(scenario, 11), 2000), "{scenario}");
            assert_ne!(first, bytes(settings(scenario, 12), 2000), "{scenario}");
        }
    }

    #[test]
    fn every_record_is_one_line_classified_as_labelled() {
        for scenario in Scenario::ALL {
            // A rate that takes the tour through every phase.
            let settings = Settings { rate: 50.0, ..settings(scenario, 3) };
            for generated in Generator::new(settings).take(20_000) {
                let text = String::from_utf8(generated.record.clone()).unwrap();
                assert!(!text.contains('\n'), "{text}");
                let classification = classify(&generated.record, &Limits::default());
                let disagreements = generated.label.disagreements(&classification);
                assert!(disagreements.is_empty(), "{scenario}: {text}\n{}", disagreements.join("\n"));
            }
        }
    }

    #[test]
    fn every_api_template_is_what_the_classifier_reports() {
        let mut random = Random::new(5);
        let generator = Generator::new(settings(Scenario::Steady, 5));
        for service in SERVICES {
            let storm_apis = service.storm.iter().map(|(api, _)| *api);
            for api in service.apis.iter().map(|(_, api)| *api).chain(storm_apis) {
                let (url, _) = render::url(&api, service, &generator.tenants[0], &mut random);
                assert_eq!(api_template(&url).as_deref(), Some(api.template), "{url}");
            }
        }
    }

    #[test]
    fn every_failure_can_say_its_status() {
        // A body that does not imply its status must never be written without one.
        for backend in
            [Backend::Defender, Backend::Graph, Backend::AzureAdGraph, Backend::ResourceManager, Backend::Login]
        {
            for kind in
                [ApiKind::Read, ApiKind::Action, ApiKind::Update, ApiKind::Indicators, ApiKind::Hunting, ApiKind::Token]
            {
                for status in [400, 401, 403, 404, 429, 500, 502, 503, 504] {
                    for (_, template) in catalog::templates(backend, kind, status) {
                        assert!(!template.code.is_empty() && !template.raw_code.is_empty());
                        if template.implies_status && backend != Backend::Login {
                            let implied = crate::codes::canonical(template.raw_code)
                                .and_then(crate::codes::status_of)
                                .or_else(|| crate::codes::means_throttled(template.inner_code).then_some(429));
                            assert_eq!(implied, Some(status), "{backend:?} {status} {}", template.raw_code);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_tour_moves_through_its_phases() {
        let check = |elapsed: i64, expected: (Scenario, i64)| {
            assert_eq!(Scenario::Tour.phase_at(elapsed), expected, "at {elapsed} ms");
        };
        check(0, (Scenario::Steady, 0));
        check(29_999, (Scenario::Steady, 0));
        check(30_000, (Scenario::ThrottleStorm, 30_000));
        check(100_000, (Scenario::Steady, 90_000));
        check(150_000, (Scenario::TokenExpiry, 120_000));
        check(250_000, (Scenario::PermissionChange, 210_000));
        check(359_999, (Scenario::Outage, 300_000));
        check(360_000, (Scenario::Steady, 360_000));
        check(400_000, (Scenario::ThrottleStorm, 390_000));
        assert_eq!(Scenario::Outage.phase_at(1_000_000), (Scenario::Outage, 0));
    }

    #[test]
    fn scenarios_parse_by_name() {
        for scenario in Scenario::ALL {
            assert_eq!(scenario.name().parse::<Scenario>(), Ok(scenario));
        }
        let error = "storm".parse::<Scenario>().unwrap_err();
        assert!(error.contains("throttle-storm"), "{error}");
    }

    #[test]
    fn quotas_follow_the_documented_limits() {
        let api = catalog::ALERTS;
        let minute = 60_000;
        let start = 1_000 * 3_600_000;
        // Four calls a second: the 100 of a minute are spent after 25 s, and the wait is until
        // the minute is over.
        assert_eq!(quota_throttle(&api, 4.0, start, start + 24_000), None);
        assert_eq!(
            quota_throttle(&api, 4.0, start, start + 25_000),
            Some(Throttle { limit: 100, window: "00:01:00", retry_after_millis: 35_000 })
        );
        assert_eq!(quota_throttle(&api, 4.0, start, start + minute + 1_000), None);
        // The 1,500 of an hour are spent in the fifteenth minute; then only the hour's end helps.
        assert_eq!(
            quota_throttle(&api, 4.0, start, start + 14 * minute + 30_000),
            Some(Throttle {
                limit: 1500,
                window: "01:00:00",
                retry_after_millis: (3_600_000 - 14 * minute - 30_000) as u64
            })
        );
        assert_eq!(quota_throttle(&api, 4.0, start, start + 3_600_000 + 1_000), None);
        // A slow client never meets the quota.
        assert_eq!(quota_throttle(&api, 1.0, start, start + 59_000), None);
    }

    #[test]
    fn the_clock_advances_by_one_over_the_rate() {
        let mut generator = Generator::new(Settings { rate: 1000.0, ..settings(Scenario::Steady, 1) });
        let first = generator.next_record().label.time;
        let records: Vec<Generated> = generator.by_ref().take(9_999).collect();
        let last = records.last().unwrap().label.time;
        assert_eq!(first.to_string(), "2026-11-26T10:00:00.000Z");
        assert_eq!(last.to_string(), "2026-11-26T10:00:09.999Z");
        assert_eq!(generator.next_time().to_string(), "2026-11-26T10:00:10.000Z");
    }
}
