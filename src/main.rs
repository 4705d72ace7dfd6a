//! The `errwatch` command line.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use errwatch::Limits;

#[derive(Parser)]
#[command(
    name = "errwatch",
    version,
    about = "Find, classify and store Defender for Endpoint API errors from client logs"
)]
#[command(propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify log records, one per line, and print one JSON object per record
    #[command(long_about = CLASSIFY_ABOUT, after_help = CLASSIFY_EXAMPLES)]
    Classify(ClassifyArgs),
}

const CLASSIFY_ABOUT: &str = "\
Classify log records, one per line, and print one JSON object per record, in input order.

Each output line has these fields (null when the record does not say):
  envelope             true when the record is a failed API call
  family               body shape: mde, graph, rest, odata_v3, aad, or status_only (no body)
  code                 canonical code (Defender's table spelling; aliases mapped), else as written
  raw_code             the code as the record wrote it
  http_status          the call's HTTP status; also kept for successful calls (below 400)
  category             throttling, authentication, authorization, not_found, timeout, server,
                       bad_request, or unknown
  retryable            whether retrying the same call can succeed
  retry                after_delay (honour Retry-After), refresh_token, backoff, or none
  retry_after_seconds  the Retry-After delay, in seconds
  correlation_id       the id to give Microsoft support, as a lowercase GUID
  message              the API's message
  inner_codes          codes nested below the winning code, in document order
  timestamp            the record's own time, RFC 3339 in UTC with milliseconds
  service, method, url, host, api, tenant_id
                       who called what (api is the path with ids replaced by {id})
  error                present only for a record that cannot be read: why

A record that is not valid UTF-8, longer than --max-record-bytes or nested deeper than
--max-depth is still answered, with \"envelope\":false and an \"error\" field.";

const CLASSIFY_EXAMPLES: &str = "\
Examples:
  errwatch classify --input client.log
  kubectl logs deploy/mde-sync | errwatch classify | jq 'select(.envelope) | .code'";

#[derive(clap::Args)]
struct ClassifyArgs {
    /// Read records from this file instead of standard input
    #[arg(long, short, value_name = "FILE")]
    input: Option<PathBuf>,

    /// Records longer than this many bytes are answered as unreadable
    #[arg(long, value_name = "BYTES", default_value_t = Limits::DEFAULT_MAX_RECORD_BYTES)]
    max_record_bytes: usize,

    /// Records nested deeper than this many levels are answered as unreadable
    #[arg(long, value_name = "LEVELS", default_value_t = Limits::DEFAULT_MAX_DEPTH)]
    max_depth: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => classify(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("errwatch: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn classify(args: ClassifyArgs) -> anyhow::Result<()> {
    let limits = Limits { max_record_bytes: args.max_record_bytes, max_depth: args.max_depth };
    let stdout = io::stdout().lock();
    match args.input {
        Some(path) => {
            let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            errwatch::commands::classify::run(BufReader::with_capacity(256 * 1024, file), stdout, &limits)
                .with_context(|| format!("while classifying {}", path.display()))?;
        }
        None => {
            errwatch::commands::classify::run(io::stdin().lock(), stdout, &limits)
                .context("while classifying standard input")?;
        }
    }
    Ok(())
}

/// A reader that stopped early (`| head`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}
