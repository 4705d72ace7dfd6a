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
        // Only what the test sets: the suite runs with ERRWATCH_CLICKHOUSE_URL of its own.
        .env_clear()
        .env("ERRWATCH_BATCH_ROWS", "7")
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    for expected in [
        r#"kafka_brokers = "kafka-1:9092,kafka-2:9092""#,
        r#"kafka_topics = "mde-logs,graph-logs""#,
        r#"kafka_group = "from-flag""#,
        "batch_rows = 7",
        "clickhouse_url = \"http://127.0.0.1:8123\"",
        "# clickhouse_password is set, not shown",
        "# retention_days is not set",
        r#""security.protocol" = "PLAINTEXT""#,
        r#"# "sasl.password" is set, not shown"#,
    ] {
        assert!(
            lines.contains(&expected),
            "{expected:?} (a flag beats the environment, the file, the default): {printed}"
        );
    }
    assert!(!printed.contains("SASL_SSL"), "the librdkafka flag wins over the file's: {printed}");
    assert!(!printed.contains("hunter2") && !printed.contains("s3cret"), "secrets are redacted: {printed}");
}

/// What `--print-config` prints is a configuration file: read back with no flags and no
/// environment, it gives the same settings (the secrets it leaves out aside).
#[test]
fn the_printed_configuration_reads_back_as_the_same_settings() {
    let print = |arguments: &[&str], environment: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_errwatch"));
        command.env_clear().args(["run", "--print-config"]).args(arguments);
        for (name, value) in environment {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let first = print(
        &[
            "--kafka-topics",
            "a,b",
            "--raw-cap",
            "512",
            "--kafka-option",
            "fetch.wait.max.ms=50",
            "--token-for-operations",
        ],
        &[
            ("ERRWATCH_CLICKHOUSE_DATABASE", "incidents"),
            ("ERRWATCH_RETENTION_DAYS", "30"),
            ("ERRWATCH_HTTP_ADDR", "127.0.0.1:0"),
        ],
    );
    let path = std::env::temp_dir().join(format!("errwatch-printed-{}.toml", std::process::id()));
    std::fs::write(&path, &first).unwrap();
    let second = print(&["--config", path.to_str().unwrap()], &[]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(second, first);
    for expected in
        ["raw_cap = 512", "retention_days = 30", "token_for_operations = true", "clickhouse_database = \"incidents\""]
    {
        assert!(first.lines().any(|line| line == expected), "{expected}: {first}");
    }
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

/// What a newcomer reads first: examples at the top, `--config` in every command's options,
/// and usage lines that call nothing required that the environment or a file can give.
#[test]
fn help_shows_examples_the_configuration_file_and_no_false_requirements() {
    let help = |arguments: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_errwatch")).args(arguments).arg("--help").output().unwrap();
        assert!(output.status.success(), "{arguments:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let top = help(&[]);
    assert!(top.contains("Examples:\n  errwatch classify"), "{top}");
    for command in ["classify", "migrate", "ingest", "lookup", "run", "serve", "generate", "demo"] {
        let text = help(&[command]);
        assert!(text.contains("--config <FILE>"), "{command} --help lacks --config: {text}");
        for line in text.lines().filter(|line| line.trim_start().starts_with("errwatch ")) {
            assert!(!line.trim_end().ends_with('|'), "{command}: an example broken after a pipe: {line}");
        }
    }
    let run = help(&["run"]);
    assert!(run.contains("Usage: errwatch run [OPTIONS]\n"), "{run}");
    assert!(run.contains("--kafka-topics <TOPICS>"), "{run}");
    let generate = help(&["generate"]);
    assert!(generate.contains("--count 10000 \\\n      | errwatch classify"), "{generate}");

    let output = Command::new(env!("CARGO_BIN_EXE_errwatch")).arg("run").env_clear().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim_end(), "errwatch: no topics to consume: set ERRWATCH_KAFKA_TOPICS or --kafka-topics");
}

/// Log lines as JSON for log pipelines, from the flag or the configuration file.
#[test]
fn log_lines_are_json_objects_when_asked() {
    let path = std::env::temp_dir().join(format!("errwatch-log-format-{}.toml", std::process::id()));
    std::fs::write(&path, "log_format = \"json\"\n").unwrap();
    let from_flag = ["--log-format", "json"];
    let from_file = ["--config", path.to_str().unwrap()];
    for arguments in [&from_flag[..], &from_file[..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_errwatch"))
            .env_clear()
            .args(["generate", "--count", "3", "--seed", "1"])
            .args(arguments)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stderr = String::from_utf8(output.stderr).unwrap();
        let lines: Vec<serde_json::Value> = stderr
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect();
        let generated = lines.iter().find(|line| line["message"] == "generated").unwrap_or_else(|| panic!("{stderr}"));
        assert_eq!(generated["records"], 3, "{stderr}");
        assert_eq!(generated["level"], "INFO", "{stderr}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn completions_name_the_commands_and_their_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let output = Command::new(env!("CARGO_BIN_EXE_errwatch")).args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        for word in ["ingest", "lookup", "kafka-topics", "clickhouse-url", "log-format"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
}
