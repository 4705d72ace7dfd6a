//! The simplest program that answers "which error code does each record carry": parse every
//! line as JSON into a `serde_json::Value` and print its `error.code`, or `null`.
//!
//! It serves as the yardstick for `errwatch classify` in scripts/bench.sh. It finds only raw
//! envelopes (a record that is JSON with a top-level `error` object); escaped, embedded, text
//! and Python forms all come out as `null`.
//!
//! ```text
//! cargo run --release --example naive_codes -- client.log
//! ```

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use serde_json::Value;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: naive_codes FILE");
        return ExitCode::FAILURE;
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("naive_codes: {}: {error}", std::path::Path::new(&path).display());
            ExitCode::FAILURE
        }
    }
}

fn run(path: &std::ffi::OsStr) -> io::Result<()> {
    let input = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    for line in input.split(b'\n') {
        let line = line?;
        let record = serde_json::from_slice::<Value>(&line).ok();
        match record.as_ref().and_then(|value| value.get("error")?.get("code")) {
            Some(Value::String(code)) => writeln!(out, "{code}")?,
            Some(code) => writeln!(out, "{code}")?,
            None => out.write_all(b"null\n")?,
        }
    }
    out.flush()
}
