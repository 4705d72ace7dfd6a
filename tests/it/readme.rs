//! README.md, followed as a newcomer would: the commands it tells a user to type run, in order,
//! in a fresh copy of the repository, and the test fails when one does not work as written.
//!
//! The convention in README.md:
//!
//! - A fenced block marked `sh` holds commands this test runs. The `sh` blocks run in the order
//!   of the README as one terminal session: each block in `bash` with `set -euo pipefail`, and
//!   the environment and working directory it leaves (`export PATH=...`) carry over to the next
//!   block. A block must exit 0 within [`BLOCK_TIMEOUT`].
//! - A block marked `json output` or `text output` right after an `sh` block is what that block
//!   prints on standard output; it is compared line by line (trailing blanks aside).
//! - Blocks marked `console` or `text` are shown, not run: commands with a placeholder (an id the
//!   demo printed), commands that need Kafka or Docker, output that differs from run to run.
//!   Other shell fences (`bash`, `shell`, `zsh`) are refused, so that no command is left out by
//!   accident.
//!
//! Commands handled apart, each with its reason: [`NOT_RUN`] (an `sh` block the test skips) and
//! [`UNTIL_CTRL_C`] (a command that runs until Ctrl-C: the test waits for a line of its output,
//! then sends SIGINT to the block's process group as a terminal does, and expects exit status 0).
//!
//! Where the test's session differs from a newcomer's machine, and why:
//!
//! - The copy holds the files a clone of this working tree would hold: the files git tracks or
//!   would add (not the ignored ones), as they are on disk. So the test checks the README and the
//!   code under test, as every other test does; in CI the working tree is the commit.
//! - `cargo build`, typed in the README and run by scripts/demo.sh: the session's `PATH` starts
//!   with a `cargo` that accepts only `cargo build [--release] [--quiet] [--locked] [--bin
//!   errwatch]` and links the errwatch binary this test run was built with, from the same
//!   sources, where cargo would put it (`target/release/errwatch`). A real release build of the
//!   copy rebuilds the crate, and in CI every dependency with librdkafka, for minutes on two
//!   cores, to produce what `cargo test` has just built. What this leaves untested: a release
//!   build that fails where the test build passes, and the release binary's own behaviour.
//! - ClickHouse: scripts/clickhouse.sh in the copy is pointed (`ERRWATCH_CLICKHOUSE_HOME`) at the
//!   private server of this checkout, the one the suite uses, instead of starting a second
//!   server on the same ports.
//! - `ERRWATCH_CLICKHOUSE_DATABASE` names a fresh database, dropped at the end, and
//!   `ERRWATCH_HTTP_ADDR=127.0.0.1:0` lets the servers pick free ports, so that the test shares
//!   the ClickHouse server and the machine with other tests. The README's commands must not set
//!   either (the test checks the database stays its own).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest an `sh` block may take (a command that runs until Ctrl-C: until its line shows).
const BLOCK_TIMEOUT: Duration = Duration::from_secs(180);

/// How long a command has to exit after Ctrl-C.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// `sh` blocks the test does not run: the whole block, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("./scripts/test.sh", "the test suite, which runs this test: it would run itself"),
    (
        "docker compose up --build",
        "needs a Docker engine, which the test machines do not have; tests/it/dashboards.rs checks \
         that what docker-compose.yml mounts exists",
    ),
];

/// `sh` blocks that run until Ctrl-C: the whole block, and the output that shows it is doing
/// what the README says (for the demo: ids to try, printed once their events are stored).
const UNTIL_CTRL_C: &[(&str, &str)] =
    &[("./scripts/demo.sh", "try: errwatch lookup "), ("errwatch serve", "http listening")];

#[test]
fn every_command_of_the_readme_works_as_written() {
    let started = Instant::now();
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let directory =
        WorkDirectory::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("readme-{}", std::process::id())));
    let work = directory.path.as_path();
    let checkout = work.join("errwatch");
    copy_working_tree(repository, &checkout);
    let readme = fs::read_to_string(checkout.join("README.md")).unwrap();
    let blocks = blocks(&readme);
    check_the_lists_are_used(&blocks);

    let clickhouse_home = std::env::var_os("ERRWATCH_CLICKHOUSE_HOME")
        .map_or_else(|| repository.join("target/clickhouse"), PathBuf::from);
    let database_name = format!("errwatch_readme_{}", std::process::id());
    let mut session = Session::new(work, &checkout, &clickhouse_home, &database_name);
    // The server scripts/clickhouse.sh gives the README's commands, where the database goes.
    let _database = Database { url: session.clickhouse_url(), name: database_name };

    let mut previous: Option<(&Block, Finished)> = None;
    for block in &blocks {
        match block.kind() {
            Kind::Shown => previous = None,
            Kind::Output => {
                let Some((command, finished)) = &previous else {
                    panic!("README.md:{}: an output block must follow an sh block", block.line);
                };
                compare_output(command, block, &finished.stdout);
                previous = None;
            }
            Kind::Run => {
                let command = block.body.trim();
                if let Some((_, why)) = NOT_RUN.iter().find(|(skipped, _)| *skipped == command) {
                    eprintln!("readme: line {}: not run ({why}): {command}", block.line);
                    previous = None;
                    continue;
                }
                let until = UNTIL_CTRL_C.iter().find(|(long, _)| *long == command).map(|(_, line)| *line);
                let block_started = Instant::now();
                let finished = session.run(block, until);
                let first = command.lines().next().unwrap_or_default();
                eprintln!("readme: line {}: {:.1} s: {first}", block.line, block_started.elapsed().as_secs_f64());
                if command == "./scripts/demo.sh" {
                    session.look_up_an_id_the_demo_printed(&finished);
                }
                previous = Some((block, finished));
            }
        }
    }
    eprintln!("readme: every command worked, in {:.1} s", started.elapsed().as_secs_f64());
}

/// The copy and the session's files, removed at the end whatever happened: a failure's message
/// carries the block and the end of its output.
#[derive(Debug)]
struct WorkDirectory {
    path: PathBuf,
}

impl WorkDirectory {
    fn new(path: PathBuf) -> WorkDirectory {
        let _ = fs::remove_dir_all(&path);
        WorkDirectory { path }
    }
}

impl Drop for WorkDirectory {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A fenced code block of the README.
#[derive(Debug)]
struct Block {
    /// Line of the opening fence, from 1.
    line: usize,
    info: String,
    body: String,
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Run,
    Output,
    Shown,
}

impl Block {
    fn kind(&self) -> Kind {
        let mut words = self.info.split_whitespace();
        let language = words.next().unwrap_or_default();
        let rest: Vec<&str> = words.collect();
        match (language, rest.as_slice()) {
            ("sh", []) => Kind::Run,
            (_, ["output"]) => Kind::Output,
            ("sh" | "bash" | "shell" | "zsh", _) => panic!(
                "README.md:{}: a shell block is `sh` (run by tests/it/readme.rs) or `console` (shown only), not `{}`",
                self.line, self.info
            ),
            _ => Kind::Shown,
        }
    }
}

/// The fenced blocks of a Markdown text, in order.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (open.take(), fence) {
            (None, Some(info)) => {
                open = Some(Block { line: index + 1, info: info.trim().to_owned(), body: String::new() });
            }
            (None, None) => {}
            (Some(block), Some(rest)) if rest.trim().is_empty() => blocks.push(block),
            (Some(mut block), _) => {
                block.body.push_str(line);
                block.body.push('\n');
                open = Some(block);
            }
        }
    }
    assert!(open.is_none(), "README.md: a code block is never closed");
    blocks
}

/// The lists of exceptions name blocks the README has, so that none goes stale.
fn check_the_lists_are_used(blocks: &[Block]) {
    let run: Vec<&str> =
        blocks.iter().filter(|block| block.kind() == Kind::Run).map(|block| block.body.trim()).collect();
    for (command, _) in NOT_RUN.iter().chain(UNTIL_CTRL_C) {
        assert!(
            run.contains(command),
            "README.md has no `sh` block holding just {command:?}; update tests/it/readme.rs"
        );
    }
}

fn compare_output(command: &Block, expected: &Block, stdout: &str) {
    let lines =
        |text: &str| -> Vec<String> { text.trim_end().lines().map(|line| line.trim_end().to_owned()).collect() };
    assert_eq!(
        lines(stdout),
        lines(&expected.body),
        "README.md:{}: the block at line {} printed something else than the README shows",
        expected.line,
        command.line
    );
}

/// Copies what a clone of the working tree would hold: every file git tracks or would add.
fn copy_working_tree(from: &Path, to: &Path) {
    let listed = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(from)
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "git ls-files: {}", String::from_utf8_lossy(&listed.stderr));
    for name in listed.stdout.split(|byte| *byte == 0).filter(|name| !name.is_empty()) {
        let relative = Path::new(OsStr::from_bytes(name));
        let source = from.join(relative);
        // A tracked file deleted in the working tree is not in a clone of it either.
        let Ok(metadata) = fs::symlink_metadata(&source) else { continue };
        let target = to.join(relative);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        if metadata.file_type().is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source).unwrap(), &target).unwrap();
        } else if metadata.is_file() {
            // Keeps the permissions, so the scripts stay executable.
            fs::copy(&source, &target).unwrap();
        }
    }
}

/// The terminal session the README's commands run in.
#[derive(Debug)]
struct Session {
    checkout: PathBuf,
    environment: Vec<(OsString, OsString)>,
    directory: PathBuf,
    /// Where each block leaves its environment and working directory.
    state: PathBuf,
    database: String,
}

/// What a block printed.
#[derive(Debug, Default)]
struct Finished {
    stdout: String,
    /// Standard output and standard error, interleaved as they were read.
    log: String,
}

impl Session {
    fn new(work: &Path, checkout: &Path, clickhouse_home: &Path, database: &str) -> Session {
        let state = work.join("state");
        let bin = work.join("bin");
        fs::create_dir_all(&state).unwrap();
        fs::create_dir_all(&bin).unwrap();
        write_cargo(&bin.join("cargo"), Path::new(env!("CARGO_BIN_EXE_errwatch")));

        // A newcomer's environment: none of errwatch's settings, except how to reach the server.
        let passed = [
            "ERRWATCH_CLICKHOUSE_USER",
            "ERRWATCH_CLICKHOUSE_PASSWORD",
            "ERRWATCH_CLICKHOUSE_HTTP_PORT",
            "ERRWATCH_CLICKHOUSE_TCP_PORT",
        ];
        let mut environment: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(name, _)| {
                let name = name.to_string_lossy();
                (!name.starts_with("ERRWATCH_") || passed.contains(&name.as_ref())) && name != "CARGO_TARGET_DIR"
            })
            .filter(|(name, _)| name != "PATH")
            .collect();
        let mut path = OsString::from(&bin);
        if let Some(inherited) = std::env::var_os("PATH") {
            path.push(":");
            path.push(inherited);
        }
        environment.push(("PATH".into(), path));
        environment.push(("ERRWATCH_CLICKHOUSE_HOME".into(), clickhouse_home.into()));
        environment.push(("ERRWATCH_CLICKHOUSE_DATABASE".into(), database.into()));
        environment.push(("ERRWATCH_HTTP_ADDR".into(), "127.0.0.1:0".into()));
        Session {
            checkout: checkout.to_owned(),
            environment,
            directory: checkout.to_owned(),
            state,
            database: database.to_owned(),
        }
    }

    /// The URL scripts/clickhouse.sh prints in the copy, starting the server if it is down.
    fn clickhouse_url(&self) -> String {
        let output = Command::new(self.checkout.join("scripts/clickhouse.sh"))
            .env_clear()
            .envs(self.environment.iter().map(|(name, value)| (name, value)))
            .current_dir(&self.checkout)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(output.status.success(), "scripts/clickhouse.sh: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().lines().last().unwrap_or_default().trim().to_owned()
    }

    /// Runs one block; with `until`, waits for that text in its output and presses Ctrl-C.
    fn run(&mut self, block: &Block, until: Option<&str>) -> Finished {
        let script = self.state.join(format!("block-{}.sh", block.line));
        let environment = self.state.join("environment");
        let directory = self.state.join("directory");
        let _ = fs::remove_file(&environment);
        fs::write(
            &script,
            format!(
                "set -euo pipefail\n{}\nenv -0 > '{}'\npwd > '{}'\n",
                block.body,
                environment.display(),
                directory.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("bash")
            .arg(&script)
            .env_clear()
            .envs(self.environment.iter().map(|(name, value)| (name, value)))
            .current_dir(&self.directory)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let printed = Arc::new(Mutex::new(Finished::default()));
        let readers = [
            read_lines(child.stdout.take().unwrap(), printed.clone(), true),
            read_lines(child.stderr.take().unwrap(), printed.clone(), false),
        ];
        let mut group = Group { child };
        let failure = |group: &Group, what: String| -> String {
            group.signal("KILL");
            format!(
                "README.md:{}: {what}\n--- the block:\n{}--- its output, last lines:\n{}",
                block.line,
                block.body,
                tail(&printed.lock().unwrap().log, 60)
            )
        };

        let started = Instant::now();
        let status = match until {
            None => group
                .wait(BLOCK_TIMEOUT)
                .unwrap_or_else(|| panic!("{}", failure(&group, format!("did not finish within {BLOCK_TIMEOUT:?}")))),
            Some(line) => {
                while !printed.lock().unwrap().log.contains(line) {
                    if let Some(status) = group.wait(Duration::ZERO) {
                        panic!("{}", failure(&group, format!("ended ({status}) before printing {line:?}")));
                    }
                    assert!(
                        started.elapsed() < BLOCK_TIMEOUT,
                        "{}",
                        failure(&group, format!("did not print {line:?} within {BLOCK_TIMEOUT:?}"))
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                group.signal("INT");
                group.wait(STOP_TIMEOUT).unwrap_or_else(|| {
                    panic!("{}", failure(&group, format!("did not stop within {STOP_TIMEOUT:?} of Ctrl-C")))
                })
            }
        };
        // Whatever the block left running in the background goes with it. A process that left
        // the group could keep the pipes open: the readers get a few seconds, then are left.
        group.signal("KILL");
        let deadline = Instant::now() + Duration::from_secs(10);
        while readers.iter().any(|reader| !reader.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(status.success(), "{}", failure(&group, format!("failed: {status}")));
        drop(group);

        self.environment = fs::read(&environment)
            .unwrap()
            .split(|byte| *byte == 0)
            .filter_map(|entry| {
                let at = entry.iter().position(|byte| *byte == b'=')?;
                let (name, value) = entry.split_at(at);
                Some((OsStr::from_bytes(name).to_owned(), OsStr::from_bytes(&value[1..]).to_owned()))
            })
            .collect();
        self.directory = PathBuf::from(fs::read_to_string(&directory).unwrap().trim_end_matches('\n'));
        let database = self.environment.iter().find(|(name, _)| name == "ERRWATCH_CLICKHOUSE_DATABASE");
        assert_eq!(
            database.map(|(_, value)| value.as_os_str()),
            Some(OsStr::new(&self.database)),
            "README.md:{}: the README's commands must not change ERRWATCH_CLICKHOUSE_DATABASE: the test's database \
             keeps what they store apart",
            block.line
        );
        let finished = std::mem::take(&mut *printed.lock().unwrap());
        finished
    }

    /// What the README says after the demo: from another terminal, `errwatch lookup` finds an id
    /// it printed.
    fn look_up_an_id_the_demo_printed(&mut self, demo: &Finished) {
        let id = demo
            .log
            .lines()
            .find_map(|line| line.trim().strip_prefix("try: errwatch lookup "))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the demo printed an id to try")
            .to_owned();
        let saved = (self.environment.clone(), self.directory.clone());
        let lookup = Block {
            line: 0,
            info: "sh".to_owned(),
            body: format!(
                "export ERRWATCH_CLICKHOUSE_URL=$(./scripts/clickhouse.sh)\n./target/release/errwatch lookup {id}\n"
            ),
        };
        // It exits 1 when nothing is stored for the id, which fails the block.
        let finished = self.run(&lookup, None);
        assert!(finished.stdout.lines().count() >= 2, "the lookup of {id} shows its events: {}", finished.log);
        // That was another terminal: this session goes on as it was.
        (self.environment, self.directory) = saved;
    }
}

/// A block's processes: the process group its `bash` leads.
#[derive(Debug)]
struct Group {
    child: Child,
}

impl Group {
    /// Sends `signal` to every process of the group, as a terminal sends Ctrl-C.
    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args(["-s", signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// The exit status of the group's `bash`, if it ends within `timeout`.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() >= timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }
}

fn read_lines(
    stream: impl Read + Send + 'static,
    printed: Arc<Mutex<Finished>>,
    stdout: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut printed = printed.lock().unwrap();
            if stdout {
                printed.stdout.push_str(&line);
                printed.stdout.push('\n');
            }
            printed.log.push_str(&line);
            printed.log.push('\n');
        }
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The `cargo` of the session (see the module's documentation).
fn write_cargo(path: &Path, errwatch: &Path) {
    let script = format!(
        r#"#!/usr/bin/env bash
# cargo in the session of tests/it/readme.rs: `cargo build` of errwatch links the binary the
# test run was built with, from the same sources, where cargo would put it.
set -euo pipefail
fail() {{ echo "cargo (README test): $*" >&2; exit 101; }}
[[ ${{1-}} == build ]] || fail "only 'cargo build' is provided to the README's commands, not: cargo $*"
shift
profile=debug
while (($#)); do
    case $1 in
        --release | -r) profile=release ;;
        --quiet | -q | --locked | --bin=errwatch) ;;
        --bin) [[ ${{2-}} == errwatch ]] || fail "no binary '${{2-}}' in this package"; shift ;;
        *) fail "unexpected argument '$1' (cargo build of the README test)" ;;
    esac
    shift
done
root=$PWD
until [[ -f $root/Cargo.toml ]]; do
    [[ $root != / ]] || fail "could not find Cargo.toml in $PWD or any parent directory"
    root=$(dirname "$root")
done
mkdir -p "${{CARGO_TARGET_DIR:-$root/target}}/$profile"
ln -sfn '{}' "${{CARGO_TARGET_DIR:-$root/target}}/$profile/errwatch"
"#,
        errwatch.display()
    );
    fs::write(path, script).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The test's database, dropped at the end whatever happened.
#[derive(Debug)]
struct Database {
    url: String,
    name: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop may run inside a runtime; a thread of its own keeps it out of that one.
        let _ = std::thread::spawn(move || {
            crate::clickhouse::runtime().block_on(async {
                let mut client = clickhouse::Client::default().with_url(url).with_validation(false);
                if let Ok(user) = std::env::var("ERRWATCH_CLICKHOUSE_USER") {
                    client = client.with_user(user);
                }
                if let Ok(password) = std::env::var("ERRWATCH_CLICKHOUSE_PASSWORD") {
                    client = client.with_password(password);
                }
                client.query(&format!("DROP DATABASE IF EXISTS {name}")).execute().await
            })
        })
        .join();
    }
}
