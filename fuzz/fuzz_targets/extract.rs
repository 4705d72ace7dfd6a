//! Any bytes through the classifier and the report writer: no panic, no hang, and every
//! answer is one line of JSON.
//!
//! Run by hand: `cargo +nightly fuzz run extract fuzz/seeds` (see scripts/fuzz.sh).

#![no_main]

use errwatch::report::Report;
use errwatch::{classify, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|record: &[u8]| {
    let limits = Limits { max_record_bytes: 64 * 1024, ..Limits::default() };
    let classification = classify(record, &limits);
    let mut line = Vec::new();
    Report::new(&classification).write_line(&mut line);
    assert_eq!(line.iter().filter(|&&byte| byte == b'\n').count(), 1, "one report is one line");
});
