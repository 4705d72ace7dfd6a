//! The `errwatch` binary: reads the command line, runs the command, and turns a failure into
//! one line on standard error and exit status 2.

use std::io::{self, Write as _};
use std::process::ExitCode;

use errwatch::app;
use errwatch::cli::{self, Command, Parsed};

fn main() -> ExitCode {
    let parsed = match cli::parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("errwatch: {error:#}");
            return ExitCode::from(2);
        }
    };
    app::init_logging(&parsed.log, parsed.log_format);
    match execute(parsed) {
        Ok(code) => code,
        Err(error) if app::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("errwatch: {}", app::explain(&error));
            ExitCode::from(2)
        }
    }
}

fn execute(parsed: Parsed) -> anyhow::Result<ExitCode> {
    let succeeded = |result: anyhow::Result<()>| result.map(|()| ExitCode::SUCCESS);
    match parsed.command {
        Command::Classify(args) => succeeded(app::classify::command(args.input.as_deref(), &args.limits())),
        Command::Migrate(args) => {
            succeeded(app::migrate::command(args.clickhouse.settings(), args.retention_days, args.wait.wait()))
        }
        Command::Ingest(args) => {
            let options = args.options();
            let wait = args.wait.wait();
            succeeded(app::ingest::command(
                args.clickhouse.settings(),
                &args.inputs,
                &options,
                args.retention_days,
                wait,
            ))
        }
        Command::Lookup(args) => {
            app::lookup::command(args.clickhouse.settings(), &args.id, args.json, args.wait.wait())
        }
        Command::Run(args) => {
            // Settings that cannot work are refused before they are printed.
            let settings = args.settings(parsed.kafka_options)?;
            if let Some(config) = parsed.effective_config {
                io::stdout().lock().write_all(config.as_bytes())?;
                return Ok(ExitCode::SUCCESS);
            }
            succeeded(app::run::command(settings))
        }
        Command::Serve(args) => {
            succeeded(app::serve::command(args.clickhouse.settings(), &args.http.settings()?, args.wait.wait()))
        }
        Command::Generate(args) => succeeded(app::generate::command(&args.settings()?)),
        Command::Completions(args) => {
            cli::write_completions(args.shell, &mut io::stdout().lock());
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            let options = args.options()?;
            succeeded(app::demo::command(args.clickhouse.settings(), &args.http.settings()?, options, args.wait.wait()))
        }
    }
}
