//! `errwatch run`'s configuration as a user writes it: flags, environment, a TOML file.

use std::process::Command;

#[test]
fn flags_then_environment_then_file_with_secrets_redacted() {
    let path = std::env::temp_dir().join(format!("errwatch-config-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        r#"
kafka_brokers = "kafka-1:9092,kafka-2:9092"
kafka_topics = ["mde-logs", "graph-logs"]
kafka_group = "from-file"
clickhouse_password = "hunter2"
batch_rows = 1000

[librdkafka]
"security.protocol" = "SASL_SSL"
"sasl.password" = "s3cret"
"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_errwatch"))
        .args(["run", "--config"])
        .arg(&path)
        .args(["--print-config", "--kafka-group", "from-flag", "--kafka-option", "security.protocol=PLAINTEXT"])
        .env("ERRWATCH_BATCH_ROWS", "7")
        .env_remove("ERRWATCH_KAFKA_GROUP")
        .env_remove("ERRWATCH_CLICKHOUSE_PASSWORD")
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains(r#"brokers: "kafka-1:9092,kafka-2:9092""#), "{printed}");
    assert!(printed.contains(r#"topics: ["mde-logs", "graph-logs"]"#), "{printed}");
    assert!(printed.contains(r#"group: "from-flag""#), "a flag beats the file: {printed}");
    assert!(printed.contains("max_rows: 7"), "the environment beats the file: {printed}");
    let sasl = printed.find(r#""SASL_SSL""#).unwrap();
    let plain = printed.find(r#""PLAINTEXT""#).unwrap();
    assert!(sasl < plain, "a librdkafka flag comes after the file's, so it wins: {printed}");
    assert!(!printed.contains("hunter2") && !printed.contains("s3cret"), "secrets are redacted: {printed}");
}

#[test]
fn a_missing_configuration_file_is_one_clear_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_errwatch"))
        .args(["run", "--config", "/nonexistent/errwatch.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("errwatch: cannot read the configuration file /nonexistent/errwatch.toml"), "{stderr}");
}

#[test]
fn a_misspelt_key_in_the_configuration_file_is_refused_with_the_known_ones() {
    let path = std::env::temp_dir().join(format!("errwatch-config-typo-{}.toml", std::process::id()));
    std::fs::write(&path, "kafka_brokers = \"kafka:9092\"\nkafka_topic = \"mde-logs\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_errwatch"))
        .args(["run", "--print-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown setting `kafka_topic`"), "{stderr}");
    assert!(stderr.contains("kafka_topics"), "the known settings are listed: {stderr}");
    assert!(!stderr.contains("config,"), "{stderr}");
}
