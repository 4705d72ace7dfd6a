//! Starting while ClickHouse is away: `run` and `serve` answer liveness at once and wait for
//! the server, one-shot commands fail fast unless told to wait, and a signal during the wait
//! stops cleanly. ClickHouse sits behind a switch the tests turn.

use std::process::Command;
use std::time::Duration;

use crate::clickhouse::{runtime, scalar, TestDatabase};
use crate::kafka::Cluster;
use crate::process::{wait_until, Errwatch};
use crate::proxy::Switch;

const DEADLINE: Duration = Duration::from_secs(90);

/// Whether `database` holds errwatch's tables, asked of the server itself, not through the
/// switch.
fn schema_exists(database: &TestDatabase) -> bool {
    let settings = errwatch::store::Settings { database: "system".to_owned(), ..database.settings() };
    let sql = format!(
        "SELECT count() FROM system.tables WHERE database = '{}' AND name IN ('api_errors', 'schema_migrations')",
        database.name
    );
    runtime().block_on(scalar::<u64>(&settings, &sql)) == 2
}

/// A switch in front of the test server, turned off; `runtime` carries it.
fn switched_off(runtime: &tokio::runtime::Runtime) -> Switch {
    let switch = runtime.block_on(Switch::start(&crate::clickhouse::url()));
    switch.set_down(true);
    switch
}

/// Alive but not ready, for `reason`.
fn check_alive_not_ready(errwatch: &Errwatch, reason: &str) {
    assert_eq!(errwatch.get("/healthz").status, 200, "{}", errwatch.log());
    let ready = errwatch.get("/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.json()["ready"], false);
    let reasons = ready.json()["reasons"].to_string();
    assert!(reasons.contains(reason), "{reasons}");
}

#[test]
fn serve_waits_for_clickhouse_and_is_alive_meanwhile() {
    let database = TestDatabase::new("startup_serve");
    let proxy_runtime = runtime();
    let switch = switched_off(&proxy_runtime);
    let errwatch = Errwatch::serve(&database, &switch.url());
    errwatch.wait_for_log("waiting for ClickHouse", 1, DEADLINE);
    check_alive_not_ready(&errwatch, "cannot reach ClickHouse");
    assert!(!schema_exists(&database), "nothing is created while ClickHouse is away");

    switch.set_down(false);
    wait_until("errwatch to be ready", DEADLINE, || errwatch.get("/readyz").status == 200);
    assert!(schema_exists(&database), "ready means the schema is in place");
    assert!(errwatch.log_count("reached ClickHouse") == 1, "{}", errwatch.log());
    let (code, log) = errwatch.terminate(DEADLINE);
    assert_eq!(code, Some(0), "{log}");
}

/// The record a client logs when its call was throttled.
const THROTTLED: &str = r#"{"ts":"2026-11-26T10:00:03Z","service":"sync","status":429,"body":{"error":{"code":"429","message":"quota","target":"6f1c2e3d-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}}}"#;

#[test]
fn run_waits_for_clickhouse_then_consumes() {
    let topic = "startup";
    let cluster = Cluster::start(topic, 2);
    let database = TestDatabase::new("startup_run");
    let proxy_runtime = runtime();
    let switch = switched_off(&proxy_runtime);
    let errwatch = Errwatch::starting(&cluster, &database, &switch.url(), topic, "startup");
    errwatch.wait_for_log("waiting for ClickHouse", 1, DEADLINE);
    check_alive_not_ready(&errwatch, "no Kafka partitions assigned");
    assert_eq!(errwatch.log_count("consuming"), 0, "{}", errwatch.log());

    switch.set_down(false);
    wait_until("errwatch to be ready", DEADLINE, || errwatch.get("/readyz").status == 200);
    assert!(schema_exists(&database));
    cluster.produce(&cluster.producer(), topic, &[(0, THROTTLED.as_bytes().to_vec())]);
    let stored = || -> u64 {
        runtime().block_on(scalar(
            &database.settings(),
            "SELECT count() FROM api_errors WHERE correlation_id = '6f1c2e3d-4b5a-4c6d-8e7f-9a0b1c2d3e4f'",
        ))
    };
    wait_until("the error to be stored", DEADLINE, || stored() == 1);
    let (code, log) = errwatch.terminate(DEADLINE);
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn migrate_fails_fast_unless_told_to_wait() {
    let database = TestDatabase::new("startup_migrate");
    let proxy_runtime = runtime();
    let switch = switched_off(&proxy_runtime);

    let failed = Command::new(env!("CARGO_BIN_EXE_errwatch"))
        .arg("migrate")
        .env("ERRWATCH_CLICKHOUSE_URL", switch.url())
        .env("ERRWATCH_CLICKHOUSE_DATABASE", &database.name)
        .env_remove("ERRWATCH_WAIT_FOR_CLICKHOUSE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach ClickHouse") && !stderr.contains("waiting for"), "{stderr}");

    let migrate = Errwatch::command(
        &database,
        &switch.url(),
        &["migrate", "--wait-for-clickhouse", "30"],
        "waiting for ClickHouse",
    );
    switch.set_down(false);
    let (code, log) = migrate.wait_for_exit(DEADLINE);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("schema is up to date"), "{log}");
    assert!(schema_exists(&database));
}

#[test]
fn a_signal_while_waiting_stops_cleanly() {
    let database = TestDatabase::new("startup_signal");
    let proxy_runtime = runtime();
    let switch = switched_off(&proxy_runtime);
    let errwatch = Errwatch::serve(&database, &switch.url());
    errwatch.wait_for_log("waiting for ClickHouse", 1, DEADLINE);
    let (code, log) = errwatch.terminate(DEADLINE);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("SIGTERM received") && log.contains("stopped"), "{log}");
    assert!(!schema_exists(&database));
}

/// A refusal no wait can fix (here, a user the server does not know) stops the command at
/// once with the server's message, however long it was told to wait.
#[test]
fn a_rejected_login_is_not_waited_for() {
    let database = TestDatabase::new("startup_rejected");
    let url = crate::clickhouse::url();
    let unknown_user = ["--clickhouse-user", "no_such_user_of_errwatch"];
    for command in [&["serve"][..], &["run", "--kafka-topics", "unused"], &["migrate", "--wait-for-clickhouse", "600"]]
    {
        let arguments: Vec<&str> = command.iter().chain(&unknown_user).copied().collect();
        let errwatch = Errwatch::command(&database, &url, &arguments, "errwatch: ClickHouse rejected the request");
        let (code, log) = errwatch.wait_for_exit(DEADLINE);
        assert_eq!(code, Some(2), "{arguments:?}: {log}");
        assert!(!log.contains("waiting for ClickHouse"), "{arguments:?}: {log}");
    }
}
