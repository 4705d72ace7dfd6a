//! The shared corpus of real-world record shapes, each with the classification it must get.

use serde_json::Value;

use crate::check::{check_report, report};

const CORPUS: &str = include_str!("../data/records.jsonl");

#[test]
fn every_corpus_record_is_classified_as_expected() {
    let mut checked = 0;
    for line in CORPUS.lines().filter(|line| !line.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).expect("corpus lines are JSON");
        let input = entry["input"].as_str().expect("input is a string");
        let expected = &entry["expect"];
        assert!(
            expected.as_object().is_some_and(|fields| !fields.is_empty()),
            "corpus entry without expectations: {line}"
        );
        check_report(input, &report(input.as_bytes()), expected);
        checked += 1;
    }
    assert!(checked >= 20, "the corpus shrank to {checked} records");
}
