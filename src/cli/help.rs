//! The help texts: what each command does and how it is used, beyond the one-line summaries.

pub const DEMO_ABOUT: &str = "\
Try errwatch on one machine, without a Kafka cluster: a Kafka cluster inside the process
(librdkafka's mock brokers, the real protocol on loopback), the traffic generator cycling
through every scenario (steady traffic, a throttle storm, token expiry, a permission change,
an outage), the real consumer pipeline into ClickHouse, the HTTP API, the page and /metrics.
It prints the URLs and a few correlation ids to try, then a summary line every few seconds.
Ctrl-C stops it cleanly.

Events go to the ClickHouse at ERRWATCH_CLICKHOUSE_URL, database ERRWATCH_CLICKHOUSE_DATABASE
(errwatch by default), so `errwatch lookup` finds them afterwards. ./scripts/demo.sh starts a
local ClickHouse first when none is configured.";

pub const DEMO_EXAMPLES: &str = "\
Examples:
  ./scripts/demo.sh
  errwatch demo --rate 500 --duration 5m
  ERRWATCH_HTTP_ADDR=127.0.0.1:8080 errwatch demo";

pub const SERVE_ABOUT: &str = "\
Serve the HTTP API and the on-call page over what ClickHouse holds, without consuming Kafka:
for a query node apart from the consumers. `errwatch run` serves the same endpoints itself.

Endpoints: / (the page), /healthz, /readyz, /metrics, /api/v1/correlations/{id},
/api/v1/errors/summary, /api/v1/errors/timeseries and /api/v1/openapi.json.";

pub const SERVE_EXAMPLES: &str = "\
Examples:
  errwatch serve
  ERRWATCH_HTTP_ADDR=127.0.0.1:0 errwatch serve      # a free port, logged at start
  curl -s localhost:9188/api/v1/correlations/43f4cb08-8fac-4b65-9db1-745c2ae65f3a";

pub const RUN_ABOUT: &str = "\
Consume client logs from Kafka and store their API errors in ClickHouse, until SIGTERM or SIGINT.

Every error event reaches ClickHouse exactly once, through crashes, restarts and rebalances:
offsets are committed only after the events are stored, and a partition that is assigned is
read from its committed offset without storing again what ClickHouse already holds. Unreadable
records go to the quarantine table. When ClickHouse is slow or down, consumption pauses and resumes by itself.
On SIGTERM or SIGINT errwatch stops reading, stores what it read, commits and exits 0.";

pub const RUN_EXAMPLES: &str = "\
Settings may also come from a TOML file: --config FILE or ERRWATCH_CONFIG (see errwatch --help).

Examples:
  ERRWATCH_KAFKA_BROKERS=kafka:9092 ERRWATCH_KAFKA_TOPICS=mde-client-logs errwatch run
  errwatch run --config /etc/errwatch/errwatch.toml
  errwatch run --kafka-topics '^mde-.*' --kafka-option security.protocol=SASL_SSL \\
      --kafka-option sasl.mechanism=PLAIN --kafka-option sasl.username=errwatch";

pub const TOP_LEVEL_HELP: &str = "\
Settings come from flags, then ERRWATCH_* environment variables, then an optional TOML file
given with --config FILE (or ERRWATCH_CONFIG): a key `kafka_brokers = \"kafka:9092\"` stands for
ERRWATCH_KAFKA_BROKERS, and a [librdkafka] table holds librdkafka settings.
`errwatch run --print-config` prints such a file.

Examples:
  errwatch classify --input client.log | jq 'select(.envelope)'
  errwatch ingest /var/log/mde-sync/*.log
  errwatch lookup 43f4cb08-8fac-4b65-9db1-745c2ae65f3a
  ERRWATCH_KAFKA_BROKERS=kafka:9092 ERRWATCH_KAFKA_TOPICS=mde-client-logs errwatch run
  ./scripts/demo.sh                          # everything on one machine, to try it";

pub const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  errwatch completions bash > ~/.local/share/bash-completion/completions/errwatch
  errwatch completions zsh > \"${fpath[1]}/_errwatch\"
  errwatch completions fish > ~/.config/fish/completions/errwatch.fish";

pub const INGEST_ABOUT: &str = "\
Store the API errors of log files (plain or gzip) or standard input in ClickHouse.

Every error is stored with its correlation id and its position (the input's identity, from
its first KiB, and the line number); unreadable records go to the quarantine table. Ingesting
the same file again stores nothing twice: each input resumes after the last line stored.
The database and tables are created or migrated first.

An input that breaks off (a cut or corrupt gzip, a read error) has every line before the
break stored, and the next inputs are still read; at the end, one line names each damaged
input, the line and byte reached and why, and the exit status is 2. Ingesting the whole file
later stores only the rest. (An input that breaks within its first KiB, which names it, has
nothing stored.)";

pub const INGEST_EXAMPLES: &str = "\
Examples:
  errwatch ingest /var/log/mde-sync/*.log
  errwatch ingest client.log.gz --retention-days 30
  journalctl -u mde-sync -o cat | errwatch ingest -";

pub const LOOKUP_EXAMPLES: &str = "\
Examples:
  errwatch lookup 43f4cb08-8fac-4b65-9db1-745c2ae65f3a
  errwatch lookup '{43F4CB08-8FAC-4B65-9DB1-745C2AE65F3A}' --json | jq .

Exit status: 0 when events were found, 1 when none were, 2 on an error.";

/// `errwatch classify --help`: the output's fields; the families come from where they are
/// defined, so the help cannot name one that is not there.
pub fn classify_about() -> String {
    format!(
        "{CLASSIFY_ABOUT_HEAD}  family               body shape: {}\n{CLASSIFY_ABOUT_TAIL}",
        crate::extract::family::names()
    )
}

const CLASSIFY_ABOUT_HEAD: &str = "\
Classify log records, one per line, and print one JSON object per record, in input order.

Each output line has these fields (null when the record does not say):
  envelope             true when the record is a failed API call
";

// Not continued with a backslash: that would drop the first line's indentation.
const CLASSIFY_ABOUT_TAIL: &str =
    "  code                 canonical code (Defender's table spelling; aliases mapped), else as written
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

pub const CLASSIFY_EXAMPLES: &str = "\
Examples:
  errwatch classify --input client.log
  kubectl logs deploy/mde-sync | errwatch classify | jq 'select(.envelope) | .code'";

pub const GENERATE_ABOUT: &str = "\
Write realistic synthetic client logs of services calling the Defender for Endpoint API and its
Graph, Azure AD Graph, Resource Manager and token-endpoint siblings: mostly successful calls and
ordinary log lines, errors in realistic proportions, in every record shape errwatch reads (JSON
logs of several conventions, text lines, logfmt, PowerShell and Python exception text, bodies
escaped inside JSON strings). For demos, load tests, and trying dashboards and alerts.

Scenarios (--scenario):
  steady             ordinary traffic: about 5% of records are errors, mostly 404 and 400
  throttle-storm     two clients exceed the documented quotas (100 calls a minute and 1,500 an hour
                     per API, 45 a minute for advanced hunting): a surge of 429s with Retry-After
  token-expiry       a client secret expired: token requests fail and API calls get 401
  permission-change  application roles were removed: 403s for the services that lost them
  outage             the Defender API answers 500, 502, 503 and 504 to most calls
  tour               all of them in turn, with steady traffic between: 30 s of steady and 60 s of
                     each incident, in event time, over and over

Records go to standard output, one per line, or with --brokers and --topic to Kafka, keyed by
service, with the event time as the Kafka timestamp. Event times start now (or at --start) and
advance by 1/rate per record: --rate 1000 --duration 10s writes 10,000 records spanning 10 s.
Kafka output is paced at --rate in real time; standard output is written as fast as it is read,
unless --rate is given. The same --seed and --start give the same output, byte for byte.";

pub const GENERATE_EXAMPLES: &str = "\
Examples:
  errwatch generate --scenario throttle-storm --count 10000 \\
      | errwatch classify | jq -r .category | sort | uniq -c
  errwatch generate --scenario tour --rate 200 --brokers 127.0.0.1:9092 --topic mde-client-logs
  errwatch generate --seed 7 --start 2026-11-26T10:00:00Z --rate 1000 --duration 10s > client.log";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Family;

    #[test]
    fn the_classify_help_names_every_family_on_its_field_line() {
        let help = classify_about();
        let line = help.lines().find(|line| line.trim_start().starts_with("family ")).unwrap_or_default();
        for family in Family::ALL {
            assert!(line.contains(family.as_str()), "{} missing from {line:?}", family.as_str());
        }
        assert!(help.contains("\n  code                 canonical code"), "the next field keeps its indentation");
    }
}
