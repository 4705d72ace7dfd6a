//! `errwatch classify` as a user runs it: the real binary, real pipes.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::check::corpus_lines;

fn errwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_errwatch"))
}

/// Runs `errwatch classify ARGS` with `input` on standard input; returns the output lines.
fn classify_stdin(args: &[&str], input: &[u8]) -> Vec<Value> {
    let mut child = errwatch()
        .arg("classify")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("errwatch starts");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "errwatch failed: {}", String::from_utf8_lossy(&output.stderr));
    output
        .stdout
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect()
}

#[test]
fn answers_every_line_in_order() {
    let corpus = corpus_lines();
    let input: String = corpus.iter().map(|(record, _)| format!("{record}\n")).collect();
    let reports = classify_stdin(&[], input.as_bytes());
    assert_eq!(reports.len(), corpus.len());
    for ((record, expected), actual) in corpus.iter().zip(&reports) {
        crate::check::check_report(record, actual, expected);
    }
}

#[test]
fn reads_a_file_and_keeps_going_past_unreadable_lines() {
    let directory = std::env::temp_dir().join(format!("errwatch-classify-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("mixed.log");
    let mut content = Vec::new();
    content.extend_from_slice(b"The remote server returned an error: (403) Forbidden.\r\n");
    content.extend_from_slice(b"bad \xff\xfe bytes (500)\n");
    content.extend_from_slice(&[b'x'; 300]);
    content.extend_from_slice(b"\n\n");
    content.extend_from_slice(b"{\"status\":429}");
    std::fs::write(&path, &content).unwrap();

    let output = errwatch().args(["classify", "--max-record-bytes", "200", "--input"]).arg(&path).output().unwrap();
    std::fs::remove_dir_all(&directory).unwrap();
    assert!(output.status.success());
    let reports: Vec<Value> = output
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 5, "one answer per line, the empty one included");
    assert_eq!(reports[0]["code"], "Forbidden");
    assert_eq!(reports[1]["envelope"], false);
    assert!(reports[1]["error"].as_str().unwrap().contains("UTF-8"));
    assert!(reports[2]["error"].as_str().unwrap().contains("300 bytes, over the limit of 200"));
    assert_eq!(reports[3]["envelope"], false);
    assert!(reports[3].get("error").is_none());
    assert_eq!(reports[4]["http_status"], 429);
}

#[test]
fn a_missing_input_file_is_one_clear_line() {
    let output = errwatch().args(["classify", "--input", "/nonexistent/errwatch.log"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("errwatch: cannot open /nonexistent/errwatch.log"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn a_depth_limit_past_what_the_parser_follows_is_refused() {
    let output = errwatch().args(["classify", "--max-depth", "1025"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("at most 1024 levels"), "{stderr}");
    let deepest = classify_stdin(&["--max-depth", "1024"], b"{\"status\":503}\n");
    assert_eq!(deepest[0]["http_status"], 503);
}

#[test]
fn help_explains_the_output_fields() {
    let output = errwatch().args(["classify", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for field in [
        "envelope",
        "family",
        "code",
        "raw_code",
        "http_status",
        "category",
        "retryable",
        "retry_after_seconds",
        "correlation_id",
        "inner_codes",
        "timestamp",
        "Examples:",
    ] {
        assert!(help.contains(field), "--help does not mention {field}");
    }
}
