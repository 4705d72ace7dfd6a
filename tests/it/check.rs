//! The helper every classification test goes through: classify a record the way
//! `errwatch classify` does, and compare the fields a test names with what it expects.

use errwatch::report::Report;
use errwatch::{classify, Limits};
use serde_json::Value;

/// The report line for `record`, as JSON.
pub fn report(record: &[u8]) -> Value {
    report_with(record, &Limits::default())
}

pub fn report_with(record: &[u8], limits: &Limits) -> Value {
    let classification = classify(record, limits);
    let mut line = Vec::new();
    Report::new(&classification).write_line(&mut line);
    serde_json::from_slice(&line).expect("a report is JSON")
}

/// Checks every field named in `expected` (a JSON object); `null` means the field must be null.
#[track_caller]
pub fn check(record: &str, expected: Value) {
    check_report(record, &report(record.as_bytes()), &expected);
}

#[track_caller]
pub fn check_report(record: &str, actual: &Value, expected: &Value) {
    let expected = expected.as_object().expect("expected fields are an object");
    let mismatches: Vec<String> = expected
        .iter()
        .filter(|(field, value)| !same(&actual[field.as_str()], value))
        .map(|(field, value)| format!("  {field}: expected {value}, got {}", actual[field.as_str()]))
        .collect();
    assert!(mismatches.is_empty(), "record: {record}\n{}\nfull report: {actual}", mismatches.join("\n"));
}

/// Numbers compare by value (`12` and `12.0` are one Retry-After).
fn same(actual: &Value, expected: &Value) -> bool {
    match (actual.as_f64(), expected.as_f64()) {
        (Some(left), Some(right)) => (left - right).abs() < 1e-9,
        _ => actual == expected,
    }
}

/// The corpus records that fit on one line (a line is a record), with their expectations.
pub fn corpus_lines() -> Vec<(String, Value)> {
    include_str!("../data/records.jsonl")
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("corpus lines are JSON"))
        .filter(|entry| !entry["input"].as_str().unwrap().contains('\n'))
        .map(|entry| (entry["input"].as_str().unwrap().to_owned(), entry["expect"].clone()))
        .collect()
}
