//! The HTTP API against its own OpenAPI document, with schemathesis (scripts/test.sh installs
//! the version it pins): requests generated from the document, good and bad, to every
//! documented operation of `errwatch serve` over the corpus. No answer may be a server error,
//! and every answer must be one the document describes: its status code, content type and
//! schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::clickhouse::TestDatabase;
use crate::http::store_corpus;
use crate::process::Errwatch;

/// Generated cases per operation in each phase: enough to reach every kind of bad input the
/// document allows, few enough that the whole test stays well under a minute and a half on
/// two cores.
const MAX_EXAMPLES: &str = "100";

/// What the contract is. `unsupported_method` also sends the methods the document leaves
/// out, which must be refused with 405.
const CHECKS: [&str; 5] = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "unsupported_method",
];

/// Every documented operation, with the statuses its cases must have reached, so that each
/// documented answer was checked against real data at least once: the document's example ids
/// are one the corpus holds and one it does not, and counts and series cover the corpus's
/// minutes.
const OPERATIONS: [(&str, &[u16]); 4] = [
    ("GET /api/v1/correlations/{id}", &[200, 400, 404]),
    ("GET /api/v1/errors/summary", &[200, 400]),
    ("GET /api/v1/errors/timeseries", &[200, 400]),
    ("GET /api/v1/openapi.json", &[200]),
];

/// What one operation's cases came to.
#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    statuses: BTreeMap<u16, usize>,
}

#[test]
fn every_answer_is_one_the_document_describes() {
    let database = TestDatabase::new("contract");
    let ids = store_corpus(&database);
    let example = "43f4cb08-8fac-4b65-9db1-745c2ae65f3a";
    assert!(ids.iter().any(|id| id.to_string() == example), "the document's example id is in the corpus");
    let errwatch = Errwatch::serve(&database, &crate::clickhouse::url());
    let document = format!("http://{}/api/v1/openapi.json", errwatch.http_address());

    // Its caches (failures found before are tried first) and report stay in the target folder.
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("contract");
    std::fs::create_dir_all(&work).unwrap();
    let events = work.join(format!("{}.ndjson", database.name));
    let started = Instant::now();
    let run = Command::new("python3")
        .args(["-m", "schemathesis.cli", "run", &document, "--checks", &CHECKS.join(",")])
        // Without a filter, the operation that serves the document itself is left out.
        .args(["--include-path-regex", "^/api/v1/"])
        .args(["--max-examples", MAX_EXAMPLES, "--workers", "1", "--request-timeout", "10", "--no-color"])
        .args(["--report", "ndjson", "--report-ndjson-path"])
        .arg(&events)
        .current_dir(&work)
        .output()
        .expect("python3 runs");
    let output = String::from_utf8_lossy(&run.stdout);
    let errors = String::from_utf8_lossy(&run.stderr);
    assert!(
        !errors.contains("No module named schemathesis"),
        "schemathesis is missing: scripts/test.sh installs it\n{errors}"
    );
    assert!(
        run.status.success(),
        "schemathesis found answers the document does not describe ({}):\n{output}\n{errors}\nerrwatch's log:\n{}",
        run.status,
        errwatch.log()
    );

    let (version, tallies, checks) = read_events(&std::fs::read_to_string(&events).unwrap());
    eprintln!("schemathesis {version} in {:.1?}: {tallies:?}", started.elapsed());
    for (label, statuses) in OPERATIONS {
        let tally = tallies.get(label).unwrap_or_else(|| panic!("{label} was not tested:\n{output}"));
        assert!(tally.cases >= 10 || label.ends_with("openapi.json"), "{label}: only {} cases", tally.cases);
        for status in statuses {
            assert!(tally.statuses.contains_key(status), "{label} never answered {status}: {tally:?}");
        }
    }
    // Every check named ran; a check that is misspelt or retired would pass silently otherwise.
    for check in CHECKS {
        assert!(checks.contains(check), "{check} never ran: {checks:?}");
    }
    // Kept for a look at what was sent when anything above fails.
    let _ = std::fs::remove_file(&events);
}

/// The schemathesis version, each operation's cases and statuses, and the checks that ran,
/// from the run's NDJSON events; panics on a check that did not succeed.
fn read_events(ndjson: &str) -> (String, BTreeMap<String, Tally>, BTreeSet<String>) {
    let mut version = String::new();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut checks = BTreeSet::new();
    for line in ndjson.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        if let Some(found) = event["Initialize"]["schemathesis_version"].as_str() {
            version = found.to_owned();
        }
        let recorder = &event["ScenarioFinished"]["recorder"];
        let Some(label) = recorder["label"].as_str() else { continue };
        let tally = tallies.entry(label.to_owned()).or_default();
        tally.cases += recorder["cases"].as_object().map_or(0, |cases| cases.len());
        for interaction in recorder["interactions"].as_object().into_iter().flat_map(|all| all.values()) {
            let status = interaction["response"]["status_code"].as_u64().unwrap();
            *tally.statuses.entry(u16::try_from(status).unwrap()).or_default() += 1;
        }
        for results in recorder["checks"].as_object().into_iter().flat_map(|all| all.values()) {
            for result in results.as_array().unwrap() {
                let name = result["name"].as_str().unwrap();
                assert_eq!(result["status"], "success", "{label}: {name} failed: {result}");
                checks.insert(name.to_owned());
            }
        }
    }
    (version, tallies, checks)
}
