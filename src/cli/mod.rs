//! The command line: arguments, help texts and the configuration file, read into the
//! settings each command of [`app`](crate::app) takes. The one module that names `clap` and
//! `toml`.
//!
//! A setting comes from its flag, else its `ERRWATCH_*` variable, else the configuration file
//! (`--config FILE` or `ERRWATCH_CONFIG`), else its default: the file's values are made the
//! flags' defaults before the arguments are parsed.

mod args;
mod config;
mod help;

use std::ffi::OsString;
use std::io::{self, Write};

use clap::{CommandFactory as _, FromArgMatches as _};

pub use args::{
    ClassifyArgs, Cli, ClickHouseArgs, Command, DemoArgs, GenerateArgs, HttpArgs, IngestArgs, LookupArgs, MigrateArgs,
    RunArgs, ServeArgs,
};
pub use config::ConfigFile;

use crate::app::run::RunSettings;

/// The command asked for, with what the configuration file adds beside its flags.
#[derive(Debug)]
pub struct Parsed {
    pub command: Command,
    /// The log level's directives (`ERRWATCH_LOG`, or `log` in the file).
    pub log: Option<String>,
    /// The file's `[librdkafka]` table, which goes ahead of `--kafka-option`s.
    pub kafka_options: Vec<(String, String)>,
}

/// The variable of the log level, the one setting that is not a flag.
const LOG_VARIABLE: &str = "ERRWATCH_LOG";

/// Parses the process's arguments. Mistakes in the arguments end the process as clap does
/// (usage on standard error, exit 2); a configuration file that cannot be used is an error.
pub fn parse(arguments: Vec<OsString>) -> anyhow::Result<Parsed> {
    let mut command = Cli::command();
    let file = match config::path_in(&arguments, std::env::var_os("ERRWATCH_CONFIG")) {
        Some(path) => ConfigFile::read(&path, &settings_from_environment(&command))?,
        None => ConfigFile::default(),
    };
    command = with_defaults_from(command, &file);
    let matches = command.get_matches_from(arguments);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    Ok(Parsed {
        command: cli.command,
        log: std::env::var(LOG_VARIABLE).ok().or_else(|| file.value(LOG_VARIABLE).map(str::to_owned)),
        kafka_options: file.librdkafka,
    })
}

/// Every `ERRWATCH_*` variable some command reads a setting from, sorted: the flags' and the
/// log level's. A configuration file's keys stand for these.
fn settings_from_environment(command: &clap::Command) -> Vec<String> {
    let mut variables: Vec<String> = command
        .get_subcommands()
        .flat_map(clap::Command::get_arguments)
        .filter_map(|argument| argument.get_env()?.to_str().map(str::to_owned))
        .chain([LOG_VARIABLE.to_owned()])
        .filter(|variable| variable.starts_with("ERRWATCH_") && variable != "ERRWATCH_CONFIG")
        .collect();
    variables.sort();
    variables.dedup();
    variables
}

/// The command with the file's values as the defaults of the flags they stand for. A value
/// from the file satisfies a required flag, and a secret's stays out of `--help`.
fn with_defaults_from(mut command: clap::Command, file: &ConfigFile) -> clap::Command {
    let names: Vec<String> = command.get_subcommands().map(|sub| sub.get_name().to_owned()).collect();
    for name in names {
        command = command.mut_subcommand(name, |subcommand| {
            let defaults: Vec<(clap::Id, String)> = subcommand
                .get_arguments()
                .filter_map(|argument| {
                    let value = file.value(argument.get_env()?.to_str()?)?;
                    Some((argument.get_id().clone(), value.to_owned()))
                })
                .collect();
            defaults.into_iter().fold(subcommand, |subcommand, (id, value)| {
                subcommand.mut_arg(id, |argument| {
                    let secret = argument.is_hide_env_values_set();
                    argument.default_value(value).required(false).hide_default_value(secret)
                })
            })
        });
    }
    command
}

/// `errwatch run --print-config`: the effective settings, secrets redacted.
pub fn print_run_config(settings: &RunSettings, out: &mut impl Write) -> io::Result<()> {
    let pipeline = &settings.pipeline;
    writeln!(out, "kafka = {:?}", pipeline.kafka)?;
    writeln!(out, "clickhouse = {:?}", settings.store)?;
    writeln!(out, "limits = {:?}", pipeline.limits)?;
    writeln!(out, "raw_cap = {}", pipeline.raw_cap)?;
    writeln!(out, "sink = {:?}", pipeline.sink)?;
    writeln!(out, "retention_days = {:?}", pipeline.retention.map(|retention| retention.days))?;
    writeln!(out, "shutdown_timeout = {:?}", pipeline.shutdown_timeout)?;
    writeln!(out, "http_addr = {}", settings.http.address)?;
    writeln!(out, "http_access = {:?}", settings.http.access)?;
    writeln!(out, "metrics_service_cap = {}", settings.http.service_cap)
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
