//! The Grafana dashboards and the compose stack that serves them: every SQL query of the
//! incidents dashboard runs, with its macros expanded as the ClickHouse plugin expands them, on
//! the test server (ClickHouse 18.16) and on current ClickHouse (chdb); every metric the
//! overview dashboard plots is one errwatch exports, for the selected job and instance; both
//! dashboards take their data source from a variable, so they import into any Grafana; the
//! compose stack mounts files that exist, checks the health of its services and keeps their data
//! in named volumes.

use std::path::{Path, PathBuf};

use errwatch::store::MIGRATIONS;
use serde_json::Value;

use crate::clickhouse::{runtime, TestDatabase};

const CLICKHOUSE_PLUGIN: &str = "grafana-clickhouse-datasource";

/// The dashboard time range the queries are expanded for: 2026-11-01T00:00:00Z to
/// 2026-12-01T00:00:00Z, and Grafana's interval for it.
const FROM: i64 = 1_793_491_200;
const TO: i64 = 1_796_083_200;
const FROM_DATE: &str = "2026-11-01";
const TO_DATE: &str = "2026-12-01";
const INTERVAL_SECONDS: i64 = 3600;

type Expansion = fn(&[&str]) -> String;

/// The plugin's macros (name without `$__`, number of arguments, expansion), written out the
/// way grafana-clickhouse-datasource 4 writes them for the range above. The `_ms` variants and
/// `timeInterval` produce DateTime64 and toStartOfInterval, which ClickHouse 18.16 lacks: a query
/// using them fails here as it would on such a server.
const MACROS: &[(&str, usize, Expansion)] = &[
    ("fromTime", 0, |_| date_time(FROM)),
    ("toTime", 0, |_| date_time(TO)),
    ("fromTime_ms", 0, |_| date_time_ms(FROM)),
    ("toTime_ms", 0, |_| date_time_ms(TO)),
    ("timeFilter", 1, |args| between(args[0], &date_time(FROM), &date_time(TO))),
    ("timeFilter_ms", 1, |args| between(args[0], &date_time_ms(FROM), &date_time_ms(TO))),
    ("dateFilter", 1, |args| between(args[0], &date(FROM_DATE), &date(TO_DATE))),
    ("dateTimeFilter", 2, date_time_filter),
    ("dt", 2, date_time_filter),
    ("timeInterval", 1, |args| {
        format!("toStartOfInterval(toDateTime({}), INTERVAL {INTERVAL_SECONDS} second)", args[0])
    }),
    ("timeInterval_ms", 1, |args| {
        format!("toStartOfInterval(toDateTime64({}, 3), INTERVAL {} millisecond)", args[0], INTERVAL_SECONDS * 1000)
    }),
    ("interval_s", 0, |_| INTERVAL_SECONDS.to_string()),
];

/// The dashboard variables as Grafana interpolates them. `service` is at All, whose custom
/// value Grafana inserts as it stands; the correlation id is typed in a spelling other than the
/// stored one, braces and capitals, as users paste it.
const VARIABLES: &[(&str, &str)] = &[
    ("${service:singlequote}", SERVICE_ALL),
    ("${correlation_id:singlequote}", "'{C0FFEE00-1234-4ABC-8DEF-0123456789AB}'"),
];
const SERVICE_ALL: &str = "'__all'";

/// Stored events: two of one incident (one before the range, which a lookup still finds),
/// one without service, id or URL, one of another service.
const ROWS: &str = "INSERT INTO api_errors (event_date, event_time, event_millis, correlation_id, code, \
     http_status, category, service, method, api, host, message, source, source_partition, source_offset) VALUES \
     ('2026-11-26', '2026-11-26 10:00:01', 500, 'c0ffee00-1234-4abc-8def-0123456789ab', 'TooManyRequests', 429, \
     'throttling', 'sync', 'GET', '/api/alerts', 'api.securitycenter.microsoft.com', 'slow down', \
     'mde-client-logs', 0, 1), \
     ('2026-10-15', '2026-10-15 09:00:00', 0, 'c0ffee00-1234-4abc-8def-0123456789ab', 'Forbidden', 403, \
     'authorization', 'sync', 'POST', '/api/machines/{id}/isolate', 'api.securitycenter.microsoft.com', 'no', \
     'mde-client-logs', 0, 2), \
     ('2026-11-20', '2026-11-20 08:30:00', 0, '', 'Unauthorized', 401, 'authentication', '', '', '', '', '', \
     'mde-client-logs', 1, 3), \
     ('2026-11-21', '2026-11-21 12:00:00', 250, '43f4cb08-8fac-4b65-9db1-745c2ae65f3a', 'InternalServerError', \
     500, 'server', 'inventory', 'GET', '/api/machines', 'api.securitycenter.microsoft.com', 'oops', \
     'mde-client-logs', 1, 4)";

/// Events of the incident whose id `VARIABLES` types.
const INCIDENT_EVENTS: u64 = 2;

fn date_time(unix: i64) -> String {
    format!("toDateTime({unix})")
}

fn date_time_ms(unix: i64) -> String {
    format!("fromUnixTimestamp64Milli({})", unix * 1000)
}

fn date(day: &str) -> String {
    format!("toDate('{day}')")
}

fn between(column: &str, from: &str, to: &str) -> String {
    format!("{column} >= {from} AND {column} <= {to}")
}

fn date_time_filter(args: &[&str]) -> String {
    format!(
        "({}) AND ({})",
        between(args[0], &date(FROM_DATE), &date(TO_DATE)),
        between(args[1], &date_time(FROM), &date_time(TO))
    )
}

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn dashboard(name: &str) -> Value {
    let path = project().join("dashboards/grafana").join(name);
    serde_json::from_str(&read(&path)).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every panel, those inside collapsed rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    for panel in dashboard["panels"].as_array().expect("a dashboard has panels") {
        found.push(panel);
        found.extend(panel["panels"].as_array().into_iter().flatten());
    }
    found
}

fn is_row(panel: &Value) -> bool {
    panel["type"] == "row"
}

/// The SQL of every ClickHouse panel target and query variable, named for messages.
fn clickhouse_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in panels(dashboard).into_iter().filter(|panel| !is_row(panel)) {
        let title = panel["title"].as_str().unwrap_or_default();
        let targets = panel["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(!targets.is_empty(), "panel {title} has no query");
        for target in targets {
            let datasource = if target["datasource"].is_null() { &panel["datasource"] } else { &target["datasource"] };
            assert_eq!(datasource["type"], CLICKHOUSE_PLUGIN, "panel {title}");
            let sql = target["rawSql"].as_str().unwrap_or_default();
            assert!(!sql.trim().is_empty(), "panel {title}: a target without rawSql");
            queries.push((format!("panel {title}"), sql.to_owned()));
        }
    }
    for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        if variable["type"] != "query" {
            continue;
        }
        let name = variable["name"].as_str().unwrap_or_default();
        assert_eq!(variable["datasource"]["type"], CLICKHOUSE_PLUGIN, "variable {name}");
        // The plugin accepts the query as an object with rawSql or, as older dashboards saved it, a string.
        let query = &variable["query"];
        let sql = query["rawSql"].as_str().or(query.as_str()).unwrap_or_default();
        assert!(!sql.trim().is_empty(), "variable {name} has no SQL");
        queries.push((format!("variable {name}"), sql.to_owned()));
    }
    queries
}

/// The SQL as the plugin sends it: macros and variables replaced by concrete values.
fn expand(sql: &str) -> String {
    let mut expanded = String::new();
    let mut rest = sql;
    while let Some(at) = rest.find("$__") {
        expanded.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let length = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let name = &after[..length];
        let &(_, arity, expansion) = MACROS
            .iter()
            .find(|(known, _, _)| *known == name)
            .unwrap_or_else(|| panic!("$__{name} is not a macro of the ClickHouse plugin (or not in MACROS): {sql}"));
        rest = &after[length..];
        let mut args = Vec::new();
        if arity > 0 {
            let inside = rest.strip_prefix('(').unwrap_or_else(|| panic!("$__{name} without arguments: {sql}"));
            let end = inside.find(')').unwrap_or_else(|| panic!("$__{name}( is not closed: {sql}"));
            args = inside[..end].split(',').map(str::trim).collect();
            rest = &inside[end + 1..];
        }
        assert_eq!(args.len(), arity, "$__{name} takes {arity} arguments: {sql}");
        expanded.push_str(&expansion(&args));
    }
    expanded.push_str(rest);
    for (variable, value) in VARIABLES {
        expanded = expanded.replace(variable, value);
    }
    assert!(!expanded.contains('$'), "a variable left that VARIABLES does not give a value: {expanded}");
    expanded
}

fn incidents_queries() -> Vec<(String, String)> {
    let dashboard = dashboard("incidents.json");
    let service = dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|variable| variable["name"] == "service")
        .expect("a service variable");
    assert_eq!(service["allValue"], SERVICE_ALL, "the All value the queries test for");
    let queries = clickhouse_queries(&dashboard);
    assert!(queries.len() >= 7, "{queries:?}");
    queries.into_iter().map(|(name, sql)| (name, expand(&sql))).collect()
}

/// Each query answered with its row count, or failed with the server's message.
type Answers = Vec<(String, String, Result<u64, String>)>;

/// Every query must succeed and return rows (the data covers each panel); the lookup exactly
/// the incident's events, whatever the time range.
#[track_caller]
fn check_answers(server: &str, answers: &Answers) {
    let failures: Vec<String> = answers
        .iter()
        .filter_map(|(name, sql, answer)| {
            let expected =
                if sql.contains("correlation_id =") { INCIDENT_EVENTS..=INCIDENT_EVENTS } else { 1..=u64::MAX };
            match answer {
                Err(error) => Some(format!("{name}: {error}\n{sql}")),
                Ok(rows) if !expected.contains(rows) => {
                    Some(format!("{name}: {rows} rows, expected {expected:?}\n{sql}"))
                }
                Ok(_) => None,
            }
        })
        .collect();
    assert!(failures.is_empty(), "on {server}:\n{}", failures.join("\n\n"));
}

#[test]
fn incidents_queries_answer_on_the_test_server() {
    let database = TestDatabase::new("dashboards");
    let answers = runtime().block_on(async {
        database.migrated().await;
        let settings = database.settings();
        let client = clickhouse::Client::default()
            .with_url(&settings.url)
            .with_database(&settings.database)
            .with_validation(false);
        client.query(ROWS).execute().await.unwrap();
        let mut answers = Answers::new();
        for (name, sql) in incidents_queries() {
            let answer = match client.query(&sql).fetch_bytes("JSONCompact") {
                Ok(mut cursor) => cursor.collect().await.map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            }
            .map(|bytes| {
                let result: Value = serde_json::from_slice(&bytes).unwrap();
                result["rows"].as_u64().unwrap()
            });
            answers.push((name, sql, answer));
        }
        answers
    });
    check_answers(&crate::clickhouse::url(), &answers);
}

#[test]
fn incidents_queries_answer_on_current_clickhouse() {
    let statements: Vec<String> =
        MIGRATIONS.iter().flat_map(|(_, _, sql)| errwatch::store::migration_statements(sql)).collect();
    let queries = incidents_queries();
    // Each query in its own try, so that one run reports every failing query.
    let script = r#"
import json, sys
from chdb import session
work = json.load(sys.stdin)
s = session.Session()
s.query("CREATE DATABASE IF NOT EXISTS errwatch")
s.query("USE errwatch")
for statement in work["statements"]:
    s.query(statement)
s.query(work["rows"])
answers = []
for sql in work["queries"]:
    try:
        answers.append({"rows": json.loads(s.query(sql, "JSONCompact").bytes())["rows"]})
    except Exception as error:
        answers.append({"error": str(error)})
print(json.dumps(answers))
"#;
    let sqls: Vec<&str> = queries.iter().map(|(_, sql)| sql.as_str()).collect();
    let input = serde_json::json!({"statements": statements, "rows": ROWS, "queries": sqls}).to_string();
    let stdout = crate::clickhouse::run_chdb(script, &input);
    let results: Vec<Value> = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(results.len(), queries.len());
    let answers: Answers = queries
        .into_iter()
        .zip(results)
        .map(|((name, sql), result)| {
            let answer = match result["error"].as_str() {
                Some(error) => Err(error.to_owned()),
                None => Ok(result["rows"].as_u64().unwrap()),
            };
            (name, sql, answer)
        })
        .collect();
    check_answers("chdb", &answers);
}

/// The `errwatch_*` names in a PromQL expression.
fn metric_names(expr: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("errwatch_") {
        let after = &rest[at..];
        let length = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        names.push(&after[..length]);
        rest = &after[length..];
    }
    names
}

/// A metric is exported when src/metrics.rs names it, or names the histogram it is a series of.
fn exported(name: &str, metrics: &str) -> bool {
    let declared = |name: &str| metrics.contains(&format!("\"{name}\""));
    declared(name)
        || ["_bucket", "_sum", "_count"].iter().any(|suffix| name.strip_suffix(suffix).is_some_and(&declared))
}

#[test]
fn the_overview_plots_only_exported_metrics() {
    let dashboard = dashboard("overview.json");
    let metrics = read(&project().join("src/metrics.rs"));
    let mut failures = Vec::new();
    let mut plotted = 0;
    for panel in panels(&dashboard).into_iter().filter(|panel| !is_row(panel)) {
        let title = panel["title"].as_str().unwrap_or_default();
        let exprs: Vec<&str> = panel["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|target| target["expr"].as_str())
            .filter(|expr| !expr.trim().is_empty())
            .collect();
        if exprs.is_empty() {
            failures.push(format!("{title}: no target with an expr"));
        }
        for expr in exprs {
            let names = metric_names(expr);
            if names.is_empty() {
                failures.push(format!("{title}: no errwatch metric in {expr}"));
            }
            for selector in unscoped_selectors(expr) {
                failures.push(format!("{title}: {selector} is not narrowed to the selected job and instance"));
            }
            for name in names.into_iter().filter(|name| !exported(name, &metrics)) {
                failures.push(format!("{title}: {name} is not in src/metrics.rs"));
            }
            plotted += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(plotted >= 20, "only {plotted} expressions");
    let variables = dashboard["templating"]["list"].as_array().expect("variables");
    let names: Vec<&str> = variables.iter().filter_map(|variable| variable["name"].as_str()).collect();
    assert_eq!(names, ["datasource", "job", "instance", "service"]);
    let definition = |name: &str| variables.iter().find(|variable| variable["name"] == name).map(|v| &v["definition"]);
    assert_eq!(definition("job").unwrap(), "label_values(errwatch_build_info, job)");
    assert_eq!(definition("instance").unwrap(), "label_values(errwatch_build_info{job=~\"$job\"}, instance)");
    assert_eq!(
        definition("service").unwrap(),
        "label_values(errwatch_api_calls_total{job=~\"$job\",instance=~\"$instance\"}, service)"
    );
}

/// The matchers every errwatch selector of the overview carries.
const SCOPE: &str = "job=~\"$job\",instance=~\"$instance\"";

/// The errwatch selectors of a PromQL expression that do not start with [`SCOPE`].
fn unscoped_selectors(expr: &str) -> Vec<String> {
    let mut unscoped = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("errwatch_") {
        let after = &rest[at..];
        let length = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        let matchers = after[length..].strip_prefix('{').and_then(|inside| inside.split_once('}')).map(|(m, _)| m);
        if !matchers.is_some_and(|matchers| matchers.starts_with(SCOPE)) {
            unscoped.push(format!("{}{{{}}}", &after[..length], matchers.unwrap_or_default()));
        }
        rest = &after[length..];
    }
    unscoped
}

#[test]
fn unscoped_selectors_are_found() {
    let check = |expr: &str, expected: &[&str]| assert_eq!(unscoped_selectors(expr), expected, "{expr}");
    check("sum(rate(errwatch_a_total{job=~\"$job\",instance=~\"$instance\",x=\"1\"}[5m]))", &[]);
    check("max(errwatch_b{job=~\"$job\",instance=~\"$instance\"} > 0)", &[]);
    check("sum(errwatch_lag)", &["errwatch_lag{}"]);
    check("rate(errwatch_c_bucket[$__rate_interval])", &["errwatch_c_bucket{}"]);
    check(
        "errwatch_d{instance=~\"$instance\"} / errwatch_e{job=~\"$job\",instance=~\"$instance\"}",
        &["errwatch_d{instance=~\"$instance\"}"],
    );
}

/// The host paths of docker-compose.yml's volumes: the `./` sources of `- source:target` items.
fn compose_mounts(compose: &str) -> Vec<&str> {
    compose
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .map(|item| item.trim_matches('"'))
        .filter(|item| item.starts_with("./"))
        .filter_map(|item| item.split(':').next())
        .collect()
}

#[test]
fn the_compose_stack_mounts_files_that_exist() {
    let compose = read(&project().join("docker-compose.yml"));
    let mounts = compose_mounts(&compose);
    assert!(mounts.len() >= 4, "{mounts:?}");
    let missing: Vec<&&str> = mounts.iter().filter(|source| !project().join(source).exists()).collect();
    assert!(missing.is_empty(), "docker-compose.yml mounts what the repository lacks: {missing:?}");
}

/// The data source type a dashboard is written for, and the provisioned data source's uid.
const DATA_SOURCES: &[(&str, &str, &str)] =
    &[("overview.json", "prometheus", "prometheus"), ("incidents.json", CLICKHOUSE_PLUGIN, "clickhouse")];

/// No fixed data source: every panel, target and variable names the `datasource` variable, of
/// the dashboard's one type, so that the dashboards import into a Grafana whose data sources have
/// other uids; the compose stack provisions one of each type.
#[test]
fn the_dashboards_take_their_data_source_from_a_variable() {
    let provisioned = read(&project().join("dashboards/grafana/provisioning/datasources/datasources.yml"));
    for &(name, kind, uid) in DATA_SOURCES {
        let dashboard = dashboard(name);
        let variables = dashboard["templating"]["list"].as_array().into_iter().flatten();
        let chooser: Vec<&Value> = variables.clone().filter(|variable| variable["type"] == "datasource").collect();
        assert_eq!(chooser.len(), 1, "{name}: one data source variable");
        assert_eq!(chooser[0]["name"], "datasource", "{name}");
        assert_eq!(chooser[0]["query"], kind, "{name}: the variable lists data sources of the dashboard's type");

        let mut references = Vec::new();
        for panel in panels(&dashboard) {
            references.push((format!("panel {}", panel["title"]), &panel["datasource"]));
            for target in panel["targets"].as_array().into_iter().flatten() {
                references
                    .push((format!("panel {} target {}", panel["title"], target["refId"]), &target["datasource"]));
            }
        }
        for variable in variables.filter(|variable| variable["type"] == "query") {
            references.push((format!("variable {}", variable["name"]), &variable["datasource"]));
        }
        let wrong: Vec<String> = references
            .iter()
            .filter(|(_, datasource)| !datasource.is_null() && datasource["type"] != "grafana")
            .filter(|(_, datasource)| datasource["uid"] != "${datasource}" || datasource["type"] != kind)
            .map(|(place, datasource)| format!("{place}: {datasource}"))
            .collect();
        assert!(
            wrong.is_empty(),
            "{name} names a data source other than ${{datasource}} of type {kind}:\n{}",
            wrong.join("\n")
        );
        assert!(references.len() > 10, "{name}: {references:?}");

        assert!(
            provisioned.contains(&format!("uid: {uid}\n    type: {kind}\n")),
            "the compose stack provisions no {kind} data source"
        );
    }
}

/// The lines of the top-level section `key:` of docker-compose.yml, or of the service `key:`
/// inside `services:`: the file's own two-space indentation read as it is written.
fn compose_section<'a>(compose: &'a str, path: &[&str]) -> Vec<&'a str> {
    let mut lines: Vec<&str> = compose.lines().collect();
    for (depth, key) in path.iter().enumerate() {
        let indent = " ".repeat(depth * 2);
        let header = format!("{indent}{key}:");
        let start = lines.iter().position(|line| line.trim_end() == header);
        let Some(start) = start else { return Vec::new() };
        let body = &lines[start + 1..];
        let end = body
            .iter()
            .position(|line| {
                let content = line.trim_start();
                !content.is_empty() && !content.starts_with('#') && line.len() - content.len() <= depth * 2
            })
            .unwrap_or(body.len());
        lines = body[..end].to_vec();
    }
    lines
}

/// Every long-running service has a healthcheck (errwatch's asks /readyz), services start on
/// the health of what they need, and the data of Kafka, ClickHouse, Prometheus and Grafana is in
/// named volumes declared at the top level.
#[test]
fn the_compose_stack_checks_health_and_keeps_data_in_named_volumes() {
    let compose = read(&project().join("docker-compose.yml"));
    let declared: Vec<String> = compose_section(&compose, &["volumes"])
        .iter()
        .filter_map(|line| line.trim().strip_suffix(':'))
        .map(str::to_owned)
        .collect();
    // (service, healthcheck probe, data directory, services it waits to be healthy)
    let services: &[(&str, &str, Option<&str>, &[&str])] = &[
        ("kafka", "kafka-topics.sh", Some("/var/lib/kafka/data"), &[]),
        ("clickhouse", "/ping", Some("/var/lib/clickhouse"), &[]),
        ("errwatch", "/readyz", None, &["clickhouse"]),
        ("prometheus", "/-/ready", Some("/prometheus"), &[]),
        ("grafana", "/api/health", Some("/var/lib/grafana"), &["prometheus", "clickhouse"]),
    ];
    let mut failures = Vec::new();
    for &(service, probe, data, waits_for) in services {
        let healthcheck = compose_section(&compose, &["services", service, "healthcheck"]).join("\n");
        if !healthcheck.contains("test:") || !healthcheck.contains(probe) {
            failures.push(format!("{service}: no healthcheck probing {probe}"));
        }
        if let Some(data) = data {
            let volumes = compose_section(&compose, &["services", service, "volumes"]);
            let named = volumes.iter().filter_map(|line| line.trim().strip_prefix("- ")).find_map(|mount| {
                let (source, target) = mount.split_once(':')?;
                (target.split(':').next() == Some(data)).then_some(source)
            });
            match named {
                Some(source) if declared.iter().any(|volume| volume == source) => {}
                Some(source) => {
                    failures.push(format!("{service}: {source} is not a named volume declared in volumes:"))
                }
                None => failures.push(format!("{service}: nothing mounted at {data}")),
            }
        }
        let depends_on = compose_section(&compose, &["services", service, "depends_on"]);
        for needed in waits_for {
            let healthy = format!("{needed}: {{ condition: service_healthy }}");
            if !depends_on.iter().any(|line| line.trim() == healthy) {
                failures.push(format!("{service}: does not wait for {needed} to be healthy"));
            }
        }
    }
    assert!(failures.is_empty(), "docker-compose.yml:\n{}", failures.join("\n"));
}

/// A heading's anchor as GitHub makes it: lowercase, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    for (heading, expected) in
        [("Alerts", "alerts"), (" With Docker ", "with-docker"), ("HTTP API and metrics", "http-api-and-metrics")]
    {
        assert_eq!(anchor(heading), expected);
    }
}

/// Every alert carries a runbook_url, into a section of README.md that exists.
#[test]
fn every_alert_links_to_its_runbook_in_the_readme() {
    let rules = read(&project().join("dashboards/prometheus/alerts.yml"));
    let readme = read(&project().join("README.md"));
    let anchors: Vec<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|line| anchor(line.trim_start_matches('#')))
        .collect();
    let alerts = rules.lines().filter(|line| line.trim_start().starts_with("- alert:")).count();
    let links: Vec<&str> =
        rules.lines().filter_map(|line| line.trim_start().strip_prefix("runbook_url:")).map(str::trim).collect();
    assert!(alerts >= 10, "{alerts} alerts");
    assert_eq!(links.len(), alerts, "an alert without runbook_url");
    for link in links {
        let section = link.split_once("/README.md#").map(|(_, section)| section);
        let found = section.is_some_and(|section| anchors.iter().any(|anchor| anchor == section));
        assert!(found, "{link} is not a section of README.md (sections: {anchors:?})");
    }
}
