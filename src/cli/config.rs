//! The configuration file: TOML whose top-level keys stand for the `ERRWATCH_*` variables
//! (`kafka_brokers` for `ERRWATCH_KAFKA_BROKERS`), and a `[librdkafka]` table of librdkafka
//! settings. Its values become the defaults of the flags they stand for, so a flag, then the
//! environment, then the file decides; nothing is written to the process environment.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// A configuration file, read and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// Each value as text, by the variable its key stands for (`ERRWATCH_KAFKA_BROKERS`).
    values: BTreeMap<String, String>,
    /// The `[librdkafka]` table, sorted by name (a name appears once in a TOML table, so
    /// the order cannot change what librdkafka is told).
    pub librdkafka: Vec<(String, String)>,
}

impl ConfigFile {
    /// Reads the file at `path`; `known` are the variables a key may stand for.
    pub fn read(path: &Path, known: &[String]) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        ConfigFile::parse(path, &text, known)
    }

    /// Parses `text`, the contents of `path`; see [`ConfigFile::read`].
    pub fn parse(path: &Path, text: &str, known: &[String]) -> anyhow::Result<ConfigFile> {
        let table: toml::Table = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
        let mut file = ConfigFile::default();
        for (key, value) in table {
            if key == LIBRDKAFKA {
                let Some(options) = value.as_table() else {
                    bail!("{}: [librdkafka] must be a table of librdkafka settings", path.display());
                };
                for (name, setting) in options {
                    file.librdkafka.push((name.clone(), text_of(setting)));
                }
                continue;
            }
            let variable = variable_for(&key);
            // A misspelt key would otherwise be ignored without a word, and its setting
            // silently left at the default.
            if !known.contains(&variable) {
                bail!(
                    "{}: unknown setting `{key}`; settings are {} and a [librdkafka] table",
                    path.display(),
                    known_keys(known).join(", ")
                );
            }
            let value = match value {
                toml::Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
                toml::Value::Table(_) => bail!("{}: `{key}` must be a value, not a table", path.display()),
                other => text_of(&other),
            };
            file.values.insert(variable, value);
        }
        Ok(file)
    }

    /// The file's value for the setting of `variable`, if it has one.
    pub fn value(&self, variable: &str) -> Option<&str> {
        self.values.get(variable).map(String::as_str)
    }
}

const LIBRDKAFKA: &str = "librdkafka";

/// The file named by `--config FILE`, `--config=FILE` or else `from_environment`
/// (`ERRWATCH_CONFIG`). Found before the arguments are parsed, since the file's values become
/// the flags' defaults.
pub fn path_in(arguments: &[OsString], from_environment: Option<OsString>) -> Option<PathBuf> {
    let mut words = arguments.iter().skip(1);
    let mut named = None;
    while let Some(word) = words.next() {
        let word = word.to_string_lossy();
        if word == "--" {
            break;
        }
        if word == "--config" {
            named = words.next().map(PathBuf::from);
        } else if let Some(value) = word.strip_prefix("--config=") {
            named = Some(PathBuf::from(value));
        }
    }
    named.or_else(|| from_environment.map(PathBuf::from))
}

/// The environment variable a key stands for.
fn variable_for(key: &str) -> String {
    format!("ERRWATCH_{}", key.to_ascii_uppercase().replace(['-', '.'], "_"))
}

/// The keys a file may have, for the error that names an unknown one.
fn known_keys(known: &[String]) -> Vec<String> {
    known.iter().filter_map(|variable| variable.strip_prefix("ERRWATCH_")).map(str::to_ascii_lowercase).collect()
}

/// A TOML value as the text a flag would take: strings as they are, the rest as TOML writes it.
fn text_of(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        ["ERRWATCH_BATCH_ROWS", "ERRWATCH_KAFKA_BROKERS", "ERRWATCH_KAFKA_TOPICS", "ERRWATCH_TOKEN_FOR_OPERATIONS"]
            .map(str::to_owned)
            .to_vec()
    }

    fn parse(text: &str) -> anyhow::Result<ConfigFile> {
        ConfigFile::parse(Path::new("/etc/errwatch.toml"), text, &known())
    }

    #[test]
    fn keys_stand_for_variables_and_values_become_flag_text() {
        let check = |text: &str, variable: &str, expected: &str| {
            let file = parse(text).unwrap();
            assert_eq!(file.value(variable), Some(expected), "{text}");
        };
        check(r#"kafka_brokers = "k1:9092,k2:9092""#, "ERRWATCH_KAFKA_BROKERS", "k1:9092,k2:9092");
        check(r#"kafka_topics = ["a", "b"]"#, "ERRWATCH_KAFKA_TOPICS", "a,b");
        check("batch_rows = 1000", "ERRWATCH_BATCH_ROWS", "1000");
        check("token_for_operations = true", "ERRWATCH_TOKEN_FOR_OPERATIONS", "true");
        check(r#"kafka-brokers = "k:1""#, "ERRWATCH_KAFKA_BROKERS", "k:1");
    }

    #[test]
    fn librdkafka_settings_are_passed_on_as_text() {
        let file = parse("[librdkafka]\n\"security.protocol\" = \"SASL_SSL\"\n\"fetch.wait.max.ms\" = 50\n").unwrap();
        assert_eq!(
            file.librdkafka,
            vec![
                ("fetch.wait.max.ms".to_owned(), "50".to_owned()),
                ("security.protocol".to_owned(), "SASL_SSL".to_owned())
            ]
        );
    }

    #[test]
    fn mistakes_name_the_file_and_the_key() {
        let check = |text: &str, expected: &str| {
            let error = format!("{:#}", parse(text).unwrap_err());
            assert!(error.starts_with("/etc/errwatch.toml"), "{error}");
            assert!(error.contains(expected), "{text}: {error}");
        };
        check(r#"kafka_topic = "a""#, "unknown setting `kafka_topic`; settings are batch_rows, kafka_brokers");
        check("kafka_brokers = { host = \"k\" }", "`kafka_brokers` must be a value, not a table");
        check("librdkafka = 3", "[librdkafka] must be a table");
        check("kafka_brokers = ", "is not valid TOML");
    }

    #[test]
    fn the_file_is_named_by_a_flag_before_the_environment() {
        let check = |words: &[&str], from_environment: Option<&str>, expected: Option<&str>| {
            let arguments: Vec<OsString> = words.iter().map(OsString::from).collect();
            let found = path_in(&arguments, from_environment.map(OsString::from));
            assert_eq!(found, expected.map(PathBuf::from), "{words:?}");
        };
        check(&["errwatch", "run", "--config", "a.toml"], Some("env.toml"), Some("a.toml"));
        check(&["errwatch", "run", "--config=b.toml", "--kafka-group", "g"], None, Some("b.toml"));
        check(&["errwatch", "ingest", "--", "--config"], None, None);
        check(&["errwatch", "run"], Some("env.toml"), Some("env.toml"));
        check(&["errwatch", "run"], None, None);
    }
}
