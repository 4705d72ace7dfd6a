//! The command line: arguments, help texts and the configuration file, read into the
//! settings each command of [`app`](crate::app) takes. The one module that names `clap`,
//! `clap_complete` and `toml`.
//!
//! A setting comes from its flag, else its `ERRWATCH_*` variable, else the configuration file
//! (`--config FILE` or `ERRWATCH_CONFIG`), else its default: the file's values are made the
//! flags' defaults before the arguments are parsed.

mod args;
mod config;
mod help;

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::{CommandFactory as _, FromArgMatches as _};

pub use args::{
    ClassifyArgs, Cli, ClickHouseArgs, Command, DemoArgs, GenerateArgs, HttpArgs, IngestArgs, LookupArgs, MigrateArgs,
    RunArgs, ServeArgs,
};
pub use config::ConfigFile;

#[cfg(test)]
use crate::app::run::RunSettings;
use crate::app::LogFormat;

/// The command asked for, with what the configuration file adds beside its flags.
#[derive(Debug)]
pub struct Parsed {
    pub command: Command,
    /// Which log lines to write, as filter directives.
    pub log: String,
    pub log_format: LogFormat,
    /// The file's `[librdkafka]` table, which goes ahead of `--kafka-option`s.
    pub kafka_options: Vec<(String, String)>,
    /// For `run --print-config`: the effective settings as a configuration file.
    pub effective_config: Option<String>,
}

/// Parses the process's arguments. Mistakes in the arguments end the process as clap does
/// (usage on standard error, exit 2); a configuration file that cannot be used is an error.
pub fn parse(arguments: Vec<OsString>) -> anyhow::Result<Parsed> {
    let mut command = Cli::command();
    let file = match config::path_in(&arguments, std::env::var_os(CONFIG_VARIABLE)) {
        Some(path) => ConfigFile::read(&path, &settings_from_environment(&command))?,
        None => ConfigFile::default(),
    };
    command = with_defaults_from(command, &file);
    // Built, so that the global flags (the log's) are among every command's.
    command.build();
    let matches = command.clone().get_matches_from(arguments);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let effective_config = match (&cli.command, matches.subcommand()) {
        (Command::Run(args), Some((name, run_matches))) if args.print_config => {
            command.find_subcommand(name).map(|run| effective_config(run, run_matches, &file.librdkafka))
        }
        _ => None,
    };
    Ok(Parsed {
        command: cli.command,
        log: cli.log,
        log_format: cli.log_format,
        kafka_options: file.librdkafka,
        effective_config,
    })
}

/// Every `ERRWATCH_*` variable some flag reads a setting from, sorted: a configuration file's
/// keys stand for these (but for the file's own).
fn settings_from_environment(command: &clap::Command) -> Vec<String> {
    let mut variables: Vec<String> = command
        .get_arguments()
        .chain(command.get_subcommands().flat_map(clap::Command::get_arguments))
        .filter_map(|argument| argument.get_env()?.to_str().map(str::to_owned))
        .filter(|variable| variable.starts_with("ERRWATCH_") && variable != CONFIG_VARIABLE)
        .collect();
    variables.sort();
    variables.dedup();
    variables
}

/// The command with the file's values as the defaults of the flags they stand for, its own
/// and its subcommands'. A value from the file satisfies a required flag, and a secret's
/// stays out of `--help`.
fn with_defaults_from(command: clap::Command, file: &ConfigFile) -> clap::Command {
    let names: Vec<String> = command.get_subcommands().map(|sub| sub.get_name().to_owned()).collect();
    let command = defaults_of(command, file);
    names.into_iter().fold(command, |command, name| command.mut_subcommand(name, |sub| defaults_of(sub, file)))
}

/// One command's flags with the file's values as their defaults.
fn defaults_of(command: clap::Command, file: &ConfigFile) -> clap::Command {
    let defaults: Vec<(clap::Id, String)> = command
        .get_arguments()
        .filter_map(|argument| {
            let value = file.value(argument.get_env()?.to_str()?)?;
            Some((argument.get_id().clone(), value.to_owned()))
        })
        .collect();
    defaults.into_iter().fold(command, |command, (id, value)| {
        command.mut_arg(id, |argument| {
            let secret = argument.is_hide_env_values_set();
            argument.default_value(value).required(false).hide_default_value(secret)
        })
    })
}

/// The variable naming the configuration file, which a file cannot set.
const CONFIG_VARIABLE: &str = "ERRWATCH_CONFIG";

/// `errwatch completions SHELL`: the shell's completion script for every command and flag.
pub fn write_completions(shell: clap_complete::Shell, out: &mut impl std::io::Write) {
    clap_complete::generate(shell, &mut Cli::command(), "errwatch", out);
}

/// `errwatch run --print-config`: every setting of `subcommand` as it was decided (flag,
/// environment, file or default), written as a configuration file that `--config` reads back,
/// with the librdkafka settings of the file and the flags (a flag's after the file's, so the
/// flag wins). Secrets are left out: their lines say only that they are set.
fn effective_config(subcommand: &clap::Command, matches: &clap::ArgMatches, file_kafka: &[(String, String)]) -> String {
    let mut out = String::from("# errwatch run: the effective settings; --config reads this file back\n");
    let mut lines: Vec<(String, String)> = subcommand
        .get_arguments()
        .filter_map(|argument| {
            let variable = argument.get_env()?.to_str()?;
            if variable == CONFIG_VARIABLE {
                return None;
            }
            let key = variable.strip_prefix("ERRWATCH_")?.to_ascii_lowercase();
            let line = match matches.get_raw(argument.get_id().as_str()) {
                None => format!("# {key} is not set"),
                Some(_) if argument.is_hide_env_values_set() => format!("# {key} is set, not shown"),
                Some(values) => {
                    let values: Vec<String> = values.map(|value| value.to_string_lossy().into_owned()).collect();
                    format!("{key} = {}", toml_value(&values.join(",")))
                }
            };
            Some((key, line))
        })
        .collect();
    lines.sort();
    for (_, line) in lines {
        out.push_str(&line);
        out.push('\n');
    }
    // As `--kafka-option` parsed them.
    let from_flags = matches.get_many::<(String, String)>("kafka_options").into_iter().flatten().cloned();
    // librdkafka takes the last value of a setting; a table holds each once.
    let mut kafka: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in file_kafka.iter().cloned().chain(from_flags) {
        kafka.insert(key, value);
    }
    if !kafka.is_empty() {
        out.push_str("\n[librdkafka]\n");
        for (key, value) in kafka {
            if crate::source::kafka::is_secret(&key) {
                out.push_str(&format!("# {} is set, not shown\n", quoted(&key)));
            } else {
                out.push_str(&format!("{} = {}\n", quoted(&key), quoted(&value)));
            }
        }
    }
    out
}

/// A TOML string: quoted, with what needs escaping escaped.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A setting's text as TOML: numbers and booleans bare, as people write them; the rest quoted.
fn toml_value(text: &str) -> String {
    let is_number = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    if is_number || text == "true" || text == "false" {
        text.to_owned()
    } else {
        quoted(text)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn run_settings(file: &str, arguments: &[&str]) -> RunSettings {
        let command = Cli::command();
        let known = settings_from_environment(&command);
        let file = ConfigFile::parse(Path::new("errwatch.toml"), file, &known).unwrap();
        let arguments = ["errwatch", "run"].iter().chain(arguments);
        let matches = with_defaults_from(command, &file).try_get_matches_from(arguments).unwrap();
        let Command::Run(args) = Cli::from_arg_matches(&matches).unwrap().command else { panic!("run") };
        args.settings(file.librdkafka).unwrap()
    }

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let file = "kafka_topics = [\"a\", \"b\"]\nkafka_group = \"from-file\"\nbatch_rows = 10\n\
                    [librdkafka]\n\"client.id\" = \"file\"\n";
        let settings = run_settings(file, &["--kafka-group", "from-flag", "--kafka-option", "client.id=flag"]);
        let kafka = &settings.pipeline.kafka;
        assert_eq!(kafka.topics, ["a", "b"], "the file satisfies a required flag");
        assert_eq!(kafka.group, "from-flag");
        assert_eq!(settings.pipeline.sink.max_rows, 10);
        assert_eq!(kafka.brokers, "127.0.0.1:9092", "the default stays where the file is silent");
        let client_ids: Vec<&str> =
            kafka.extra.iter().filter(|(key, _)| key == "client.id").map(|(_, value)| value.as_str()).collect();
        assert_eq!(client_ids, ["file", "flag"], "librdkafka takes the last, the flag's");
    }

    #[test]
    fn every_setting_a_file_may_hold_has_a_flag_or_is_the_log_level() {
        let known = settings_from_environment(&Cli::command());
        for variable in ["ERRWATCH_KAFKA_TOPICS", "ERRWATCH_CLICKHOUSE_URL", "ERRWATCH_HTTP_ADDR", "ERRWATCH_LOG"] {
            assert!(known.iter().any(|known| known == variable), "{variable} missing from {known:?}");
        }
        assert!(!known.iter().any(|known| known == "ERRWATCH_CONFIG"), "a file cannot name another");
    }
}
