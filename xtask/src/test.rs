//! `cargo xtask test`: the one test command, and what CI runs.
//!
//! The steps run in order and the run stops at the first that fails. The last lines are
//! a timing table and one `summary: N passed, M failed, K skipped` line, which CI reads.

use std::io::IsTerminal;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::packages::{self, Need};
use crate::proc;
use crate::{pg, python, ui, util};

const HELP: &str = "\
usage: cargo xtask test [--no-lint] [-- <test runner arguments>...]

Runs, in order, stopping at the first step that fails:
  packages     install missing system packages (apt, as root on Debian/Ubuntu; otherwise
               prints the command to run)
  build cache  wait for any other run using the shared build cache, and remove this
               workspace's crates from it if another checkout built there last
  ui build     npm ci and npm run build in ui/, each when its inputs changed since the
               last run: the desktop crate embeds ui/dist when it compiles, so this
               comes before clippy and the tests
  fmt          cargo fmt --all -- --check
  clippy       cargo clippy --workspace --features logiflow-tests/desktop-e2e
               --all-targets -- -D warnings
  docs         cargo doc --workspace --features logiflow-tests/desktop-e2e --no-deps
               --document-private-items with rustdoc's warnings denied: a doc link
               that names no item fails the run
  test build   cargo build --workspace --features logiflow-tests/desktop-e2e --bins
               --tests: the test binaries and the desktop app; and the tests' tools if
               missing: the Python packages the tests run (standardwebhooks,
               schemathesis, jeepney) into ~/.cache/logiflow/python-tests, tauri-driver
               into ~/.cache/logiflow/cargo-bin
  postgres     start a throwaway PostgreSQL cluster, unless DATABASE_URL is set
  tests        one cargo nextest run of every test (cargo-nextest is installed into
               ~/.cache/logiflow/cargo-bin if missing), with twice as many test threads
               as cores (tests wait on PostgreSQL, their servers and the webview) and
               the longest first (.config/nextest.toml): the unit, API, sync and
               cross-tenant tests, the API fuzz (schemathesis against a real server,
               crates/server/tests/api/fuzz.rs) and the desktop E2E (the app under Xvfb
               driven with WebDriver, tests/tests/desktop/; screenshots go to
               target/e2e-screenshots)
  doc tests    cargo test --workspace --features logiflow-tests/desktop-e2e --doc
               (nextest does not run doc tests)
  ui unit      npm test in ui/ (Vitest, once)
               These two run beside the tests, from when nextest starts them, at the
               lowest CPU priority (nice -n 19), so that they take only the CPU the
               tests leave idle; their output follows the tests'.
Every cargo command selects the same packages and features, so that the dependencies
are compiled once for all of them.
then stops and deletes the throwaway cluster, prints a timing table and ends with one
line: `summary: N passed, M failed, K skipped`. A step that fails before any test
reports counts as one failure, so that line never reads as a pass when the run failed.

options:
  --no-lint    skip fmt, clippy and docs
  -h, --help   print this help

Arguments after `--` go to `cargo nextest run`, e.g.
`cargo xtask test -- core::` runs only the tests whose name contains `core::`, and
`cargo xtask test -- -E 'package(logiflow-core)'` only the tests of that nextest
filterset. With a filter the doc tests are skipped.

environment:
  NEXTEST_TEST_THREADS
                    test threads, instead of twice the cores
  DATABASE_URL      use this PostgreSQL (a superuser URL) instead of a throwaway one
  KEEP_TEST_DB=1    keep the throwaway cluster after the run (for debugging); the next
                    run removes it
  CARGO_TARGET_DIR  where the inner cargo commands build; default ~/.cache/logiflow/target,
                    outside the clone, so fresh clones on one machine share the compiled
                    dependencies
";

/// The one feature set of every cargo command of this run (clippy, the test build, the
/// doc tests and the desktop app's build). Cargo unifies features per invocation, so two
/// commands that select other packages or features compile most dependencies twice:
/// with one set, the desktop E2E reuses the test build and only links the app.
const FEATURES: &str = "logiflow-tests/desktop-e2e";

/// The desktop E2E test binary (tests/tests/desktop/): it needs the app, built from ui/.
const DESKTOP_E2E_BINARY: &str = "binary_id(logiflow-tests::desktop)";

/// `--workspace --features FEATURES`: the package selection and features of every build.
fn workspace_selection(cmd: &mut Command) {
    cmd.args(["--workspace", "--features", FEATURES]);
}

/// The steps, in the order they run; the timing table lists them all.
const STEPS: &[&str] = &[
    "packages",
    "build cache",
    "ui build",
    "fmt",
    "clippy",
    "docs",
    "test build",
    "postgres",
    "tests",
    "doc tests",
    "ui unit",
];

#[derive(Debug, Default)]
struct Options {
    lint: bool,
    runner_args: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Option<Options>> {
    let mut options = Options {
        lint: true,
        runner_args: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-lint" => options.lint = false,
            "-h" | "--help" => return Ok(None),
            "--" => {
                options.runner_args = args.cloned().collect();
                break;
            }
            other => bail!(
                "unknown argument `{other}` (test runner arguments go after `--`; see cargo \
                 xtask test --help)"
            ),
        }
    }
    Ok(Some(options))
}

/// Test counts, as the test runners report them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    passed: u64,
    failed: u64,
    skipped: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

#[derive(Debug)]
enum Status {
    Ok,
    Failed,
    Skipped,
}

/// What a step did, when it did not fail.
enum Done {
    Ran,
    Skipped(String),
}

#[derive(Debug)]
struct Record {
    name: &'static str,
    status: Status,
    elapsed: Duration,
}

/// The first failure: which step, why, and how to rerun it alone.
#[derive(Debug)]
struct Failure {
    step: &'static str,
    error: anyhow::Error,
    rerun: Option<String>,
    /// Whether the failure was counted as one because no test reported it.
    counted_as_one: bool,
}

/// Marks that a step failed; the details are in [`Run::failure`].
#[derive(Debug)]
struct Stop;

#[derive(Debug, Default)]
struct Run {
    records: Vec<Record>,
    counts: Counts,
    failure: Option<Failure>,
}

impl Run {
    /// Runs one step, timing it. `rerun` is how to run the step alone, for the error
    /// message.
    fn step<T>(
        &mut self,
        name: &'static str,
        rerun: Option<String>,
        body: impl FnOnce(&mut Counts) -> Result<(T, Done)>,
    ) -> Result<T, Stop> {
        self.step_timed_by(name, rerun, None, body)
    }

    /// [`Run::step`] for a step that ran earlier, beside another (`Beside`), and took
    /// `elapsed`: `body` only reports it.
    fn step_timed<T>(
        &mut self,
        name: &'static str,
        rerun: Option<String>,
        elapsed: Duration,
        body: impl FnOnce(&mut Counts) -> Result<(T, Done)>,
    ) -> Result<T, Stop> {
        self.step_timed_by(name, rerun, Some(elapsed), body)
    }

    fn step_timed_by<T>(
        &mut self,
        name: &'static str,
        rerun: Option<String>,
        elapsed: Option<Duration>,
        body: impl FnOnce(&mut Counts) -> Result<(T, Done)>,
    ) -> Result<T, Stop> {
        debug_assert!(STEPS.contains(&name));
        eprintln!("\n==> {name}");
        let started = Instant::now();
        let mut counts = Counts::default();
        let result = body(&mut counts);
        let elapsed = elapsed.unwrap_or_else(|| started.elapsed());
        self.counts.add(counts);
        match result {
            Ok((value, Done::Ran)) => {
                self.records.push(Record {
                    name,
                    status: Status::Ok,
                    elapsed,
                });
                Ok(value)
            }
            Ok((value, Done::Skipped(why))) => {
                eprintln!("{name}: skipped: {why}");
                self.records.push(Record {
                    name,
                    status: Status::Skipped,
                    elapsed,
                });
                Ok(value)
            }
            Err(error) => {
                // CI judges the run by the summary line: a failure no test runner counted
                // (fmt, clippy, a build error) must still show there.
                let counted_as_one = counts.failed == 0;
                if counted_as_one {
                    self.counts.failed += 1;
                }
                self.records.push(Record {
                    name,
                    status: Status::Failed,
                    elapsed,
                });
                self.failure = Some(Failure {
                    step: name,
                    error,
                    rerun,
                    counted_as_one,
                });
                Err(Stop)
            }
        }
    }

    fn skip(&mut self, name: &'static str, why: &str) {
        let _ = self.step(name, None, |_| Ok(((), Done::Skipped(why.to_owned()))));
    }
}

pub fn main(args: &[String]) -> Result<ExitCode> {
    let Some(options) = parse_args(args)? else {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    };
    let started = Instant::now();
    let mut run = Run::default();
    let _ = run_steps(&options, &mut run);
    // Nothing may be printed after the summary line, and the cluster's messages come
    // from run_steps, which has stopped it by now.
    print_report(&run, started.elapsed());
    Ok(if run.failure.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The database the tests use.
enum Database {
    /// DATABASE_URL from the environment, used as is.
    FromEnv,
    Throwaway(pg::Throwaway),
}

fn run_steps(options: &Options, run: &mut Run) -> Result<(), Stop> {
    let use_env_db = std::env::var_os("DATABASE_URL").is_some_and(|url| !url.is_empty());
    let mut needs = vec![Need::DesktopBuild, Need::DesktopE2e, Need::TestPython];
    if !use_env_db {
        needs.push(Need::Postgres);
    }
    run.step("packages", None, |_| {
        packages::ensure(&needs).map(|()| ((), Done::Ran))
    })?;

    // Held until the run ends: see util::SharedTarget.
    let target = run.step("build cache", None, |_| {
        let target = util::claim_shared_target()?;
        eprintln!("build cache: {}", target.dir.display());
        Ok((target, Done::Ran))
    })?;

    // Before clippy and the tests: src-tauri embeds ui/dist (tauri::generate_context!).
    run.step(
        "ui build",
        Some("cd ui && npm ci && npm run build".to_owned()),
        |_| ui_build(),
    )?;

    if options.lint {
        let fmt = fmt_command();
        run.step("fmt", Some(util::display_command(&fmt)), |_| {
            check_component("fmt", "rustfmt")?;
            run_step_command(fmt)
        })?;
        let clippy = clippy_command(&target);
        run.step("clippy", Some(util::display_command(&clippy)), |_| {
            check_component("clippy", "clippy")?;
            run_step_command(clippy)
        })?;
        let docs = docs_command(&target);
        run.step("docs", Some(util::display_command(&docs)), |_| {
            run_step_command(docs)
        })?;
    } else {
        run.skip("fmt", "--no-lint was given");
        run.skip("clippy", "--no-lint was given");
        run.skip("docs", "--no-lint was given");
    }

    let build = test_build_command(&target);
    let tools = run.step("test build", Some(util::display_command(&build)), |_| {
        test_build(build).map(|tools| (tools, Done::Ran))
    })?;

    let database = run.step("postgres", Some(rerun_tests(options)), |_| {
        if use_env_db {
            eprintln!("postgres: using DATABASE_URL from the environment");
            return Ok((Database::FromEnv, Done::Ran));
        }
        Ok((Database::Throwaway(pg::Throwaway::start()?), Done::Ran))
    })?;

    let tests = test_steps(options, run, &target, &tools, &database);

    if let Database::Throwaway(cluster) = database {
        if keep_test_db() {
            cluster.keep();
        } else {
            cluster.remove();
        }
    }
    tests
}

fn test_steps(
    options: &Options,
    run: &mut Run,
    target: &util::SharedTarget,
    tools: &Tools,
    database: &Database,
) -> Result<(), Stop> {
    let database_url = match database {
        Database::FromEnv => None,
        Database::Throwaway(cluster) => Some(cluster.url()),
    };
    // Built now, started beside the tests (see `Beside`).
    let mut doc = options.runner_args.is_empty().then(|| {
        let mut cmd = doc_test_command(target);
        if let Some(url) = &database_url {
            cmd.env("DATABASE_URL", url);
        }
        cmd
    });
    let ui = ui::dir();
    let mut ui_unit = ui.as_deref().map(ui_unit_command);
    let mut beside = Vec::new();
    let mut start_beside = || {
        if let Some(cmd) = doc.take() {
            beside.push(Beside::start("doc tests", cmd, Tally::Sum));
        }
        if let Some(cmd) = ui_unit.take() {
            beside.push(Beside::start("ui unit", cmd, Tally::Last));
        }
    };
    let tests = run.step("tests", Some(rerun_tests(options)), |counts| {
        let cmd = tests_command(options, target, tools, database_url.as_deref())?;
        // Once nextest's own build check is done, so that `cargo test --doc` does not
        // wait on cargo's build lock meanwhile.
        run_nextest(cmd, counts, &mut start_beside).map(|()| ((), Done::Ran))
    });
    if tests.is_ok() {
        // Had nextest printed no `Starting` line.
        start_beside();
    }
    // Also after the tests failed: what ran beside them is reported, not lost.
    for job in beside {
        let name = job.name;
        let finished = job.finish();
        let _ = run.step_timed(
            name,
            Some(finished.rerun.clone()),
            finished.elapsed,
            |counts| {
                finished
                    .report(counts, &mut std::io::stderr())
                    .map(|()| ((), Done::Ran))
            },
        );
    }
    tests?;
    if !options.runner_args.is_empty() {
        run.skip("doc tests", "a test filter was given");
    }
    if ui.is_none() {
        run.skip("ui unit", "ui/package.json does not exist");
    }
    match run.failure {
        Some(_) => Err(Stop),
        None => Ok(()),
    }
}

/// How a runner's `test result` lines add up: cargo test prints one per crate (summed);
/// Vitest prints one total (the last counts).
#[derive(Debug, Clone, Copy)]
enum Tally {
    Sum,
    Last,
}

/// A test runner run beside the `tests` step: `doc tests` and `ui unit`.
///
/// They start once nextest has started its tests, at the lowest CPU priority (`nice -n
/// 19`), so that they take the CPU the tests leave idle (some 5 % of a run on two cores,
/// most of it while the last tests finish) rather than adding their 7 s after them. Their
/// output is held and printed after the tests', under their own headings, and each keeps
/// its own line and time in the timing table, so the times there overlap. A Ctrl-C
/// reaches them with the rest of the terminal's process group.
struct Beside {
    name: &'static str,
    rerun: String,
    tally: Tally,
    started: Instant,
    /// The output and end time, or why the runner could not run.
    done: std::thread::JoinHandle<Result<(Held, Instant)>>,
}

/// What a [`Beside`] runner printed, both streams in order, and how it ended.
struct Held {
    status: std::process::ExitStatus,
    output: Vec<u8>,
}

/// A [`Beside`] runner that has ended.
struct Finished {
    rerun: String,
    tally: Tally,
    elapsed: Duration,
    output: Result<Held>,
}

impl Beside {
    fn start(name: &'static str, cmd: Command, tally: Tally) -> Self {
        let rerun = util::display_command(&cmd);
        let started = Instant::now();
        let done = match spawn_held(lowest_priority(&cmd)) {
            Ok((mut child, mut reader)) => std::thread::spawn(move || {
                let mut output = Vec::new();
                std::io::Read::read_to_end(&mut reader, &mut output)
                    .context("failed to read the runner's output")?;
                let status = child.wait().context("failed to wait for the runner")?;
                Ok((Held { status, output }, Instant::now()))
            }),
            Err(e) => std::thread::spawn(move || Err(e)),
        };
        Self {
            name,
            rerun,
            tally,
            started,
            done,
        }
    }

    fn finish(self) -> Finished {
        let (output, elapsed) = match self.done.join() {
            Ok(Ok((output, ended))) => (Ok(output), ended - self.started),
            Ok(Err(e)) => (Err(e), self.started.elapsed()),
            Err(_) => (
                Err(anyhow::anyhow!("the thread running it panicked")),
                self.started.elapsed(),
            ),
        };
        Finished {
            rerun: self.rerun,
            tally: self.tally,
            elapsed,
            output,
        }
    }
}

impl Finished {
    /// Writes the held output to `out` and adds its counts; fails as the runner did.
    fn report(&self, counts: &mut Counts, out: &mut dyn std::io::Write) -> Result<()> {
        let held = self.output.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        // A failed write (say, a closed terminal) must not change the result.
        let _ = out.write_all(&held.output);
        let _ = out.flush();
        let text = String::from_utf8_lossy(&held.output);
        let found = tally(text.lines(), self.tally);
        if let Some(found) = found {
            counts.add(found);
        }
        if !held.status.success() {
            bail!("`{}` failed ({})", self.rerun, held.status);
        }
        found.with_context(|| {
            format!(
                "failed to find the test counts in the output of `{}`: they would be wrong",
                self.rerun
            )
        })?;
        Ok(())
    }
}

/// The counts of a runner's output lines, or `None` if no line gave any.
fn tally<'a>(lines: impl Iterator<Item = &'a str>, how: Tally) -> Option<Counts> {
    let mut found: Option<Counts> = None;
    for line in lines {
        let line = util::strip_ansi(line);
        let parsed = match how {
            Tally::Sum => parse_libtest_result(&line),
            Tally::Last => parse_vitest_tests(&line),
        };
        if let Some(parsed) = parsed {
            found = Some(match (how, found) {
                (Tally::Sum, Some(mut sum)) => {
                    sum.add(parsed);
                    sum
                }
                _ => parsed,
            });
        }
    }
    found
}

/// Starts `cmd` with its stdout and stderr into one pipe, so that the held output keeps
/// their order; returns the child and the pipe's read end. On the calling thread, and
/// with both ends close-on-exec until the child's own copies are made, so that no other
/// child inherits the write end (the read would then wait for that child's end too).
fn spawn_held(mut cmd: Command) -> Result<(std::process::Child, std::fs::File)> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let shown = util::display_command(&cmd);
    let failed = || format!("failed to start `{shown}`");
    let (reader, writer) = nix::unistd::pipe().with_context(failed)?;
    for end in [&reader, &writer] {
        fcntl(end, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).with_context(failed)?;
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(writer.try_clone().with_context(failed)?)
        .stderr(writer);
    let child = cmd.spawn().with_context(failed)?;
    // `cmd` holds our copies of the write end: dropped, the read ends with the child.
    drop(cmd);
    Ok((child, std::fs::File::from(reader)))
}

/// `cmd` run under `nice -n 19` (where `nice` exists; otherwise `cmd` itself).
fn lowest_priority(cmd: &Command) -> Command {
    let Some(nice) = util::which("nice") else {
        return clone_command(cmd.get_program(), cmd);
    };
    let mut niced = clone_command(nice.as_os_str(), cmd);
    niced
        .args(["-n", "19"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    niced
}

/// A command running `program` with `cmd`'s environment and directory (not its
/// arguments, unless `program` is `cmd`'s own).
fn clone_command(program: &std::ffi::OsStr, cmd: &Command) -> Command {
    let mut out = Command::new(program);
    if program == cmd.get_program() {
        out.args(cmd.get_args());
    }
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => out.env(key, value),
            None => out.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        out.current_dir(dir);
    }
    out
}

fn keep_test_db() -> bool {
    std::env::var("KEEP_TEST_DB").is_ok_and(|value| !value.is_empty() && value != "0")
}

fn rerun_tests(options: &Options) -> String {
    if options.runner_args.is_empty() {
        "cargo xtask test --no-lint (add `-- <name>` to run only the tests whose name contains it)"
            .to_owned()
    } else {
        format!(
            "cargo xtask test --no-lint -- {}",
            options.runner_args.join(" ")
        )
    }
}

fn fmt_command() -> Command {
    let mut cmd = util::cargo();
    cmd.args(["fmt", "--all", "--", "--check"]);
    cmd
}

fn clippy_command(target: &util::SharedTarget) -> Command {
    let mut cmd = util::cargo_in(target);
    cmd.arg("clippy");
    // With FEATURES, the desktop E2E test is linted too: it builds only with them.
    workspace_selection(&mut cmd);
    cmd.args(["--all-targets", "--", "-D", "warnings"]);
    color_cargo(&mut cmd);
    cmd
}

/// The code's documentation, private items included (the crates are applications, read
/// by the people who work on them), with rustdoc's warnings denied: a link to an item
/// renamed or moved fails here, as clippy fails on the code. Only the workspace's crates
/// are documented, on the dependencies' metadata that clippy's build left (from an empty
/// cache, 13 dependencies whose features differ without the tests are checked again).
fn docs_command(target: &util::SharedTarget) -> Command {
    let mut cmd = util::cargo_in(target);
    cmd.arg("doc");
    workspace_selection(&mut cmd);
    strict_docs(&mut cmd);
    color_cargo(&mut cmd);
    cmd
}

/// `cargo doc`'s options of the docs step: only the crates selected, private items
/// included, rustdoc's warnings denied (in the command, so that the rerunnable command
/// the run prints does the same).
fn strict_docs(cmd: &mut Command) {
    cmd.args([
        "--no-deps",
        "--document-private-items",
        "--config",
        r#"build.rustdocflags=["-D","warnings"]"#,
    ]);
}

fn doc_test_command(target: &util::SharedTarget) -> Command {
    let mut cmd = util::cargo_in(target);
    cmd.arg("test");
    workspace_selection(&mut cmd);
    cmd.arg("--doc");
    color_cargo(&mut cmd);
    cmd
}

/// Keeps cargo's colours when we are on a terminal even though we pipe its output.
fn color_cargo(cmd: &mut Command) {
    if std::io::stderr().is_terminal() {
        cmd.env("CARGO_TERM_COLOR", "always");
    }
}

/// Fails early with the fix when a rustup component is missing.
fn check_component(subcommand: &str, component: &str) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let ok = Command::new(cargo)
        .args([subcommand, "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !ok {
        bail!("cargo {subcommand} is not installed: run `rustup component add {component}`");
    }
    Ok(())
}

fn run_step_command(mut cmd: Command) -> Result<((), Done)> {
    proc::run_ok(&mut cmd).map(|()| ((), Done::Ran))
}

/// `cargo nextest run` over the workspace with FEATURES. cargo-nextest comes with the
/// Rust toolchain of the machines this project targets; where it is missing it is
/// installed once per machine, like tauri-driver.
fn nextest_run(target: &util::SharedTarget) -> Result<Command> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let installed = Command::new(&cargo)
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    let mut cmd = if installed {
        util::cargo_in(target)
    } else {
        let nextest = ensure_cargo_install("cargo-nextest", NEXTEST_VERSION, "cargo-nextest")?;
        let mut cmd = Command::new(nextest);
        cmd.current_dir(util::project_root())
            .env("CARGO", cargo)
            .env("CARGO_TARGET_DIR", &target.dir);
        cmd
    };
    // --no-fail-fast: CI wants every failure of a run, not the first.
    cmd.args(["nextest", "run"]);
    workspace_selection(&mut cmd);
    cmd.arg("--no-fail-fast");
    if std::io::stderr().is_terminal() {
        cmd.args(["--color", "always"]);
        color_cargo(&mut cmd);
    }
    Ok(cmd)
}

/// Adds the step's own filterset and the arguments given after `--`. A filter meant for
/// one step (`-- desktop`) may match no test of the other; that is not a failure of the
/// run.
fn add_runner_args(cmd: &mut Command, step: &str, options: &Options) {
    if !options.runner_args.is_empty() {
        cmd.arg("--no-tests=pass");
    }
    cmd.args(step_args(step, &options.runner_args));
}

/// The step's filterset combined with the runner arguments. nextest ORs the expressions
/// of several `-E`, so passing the step's and the user's side by side would run the
/// union (every rust test in the E2E step); the user's expressions are joined into one
/// and ANDed with the step's instead. Other arguments (name filters, options) pass as
/// given.
fn step_args(step: &str, runner_args: &[String]) -> Vec<String> {
    let mut expressions = Vec::new();
    let mut rest = Vec::new();
    let mut args = runner_args.iter();
    while let Some(arg) = args.next() {
        if let Some(expr) = arg
            .strip_prefix("--filterset=")
            .or_else(|| arg.strip_prefix("--filter-expr="))
        {
            expressions.push(expr.to_owned());
        } else if matches!(arg.as_str(), "-E" | "--filterset" | "--filter-expr") {
            expressions.extend(args.next().cloned());
        } else if let Some(expr) = arg.strip_prefix("-E").filter(|e| !e.is_empty()) {
            expressions.push(expr.to_owned());
        } else {
            rest.push(arg.clone());
        }
    }
    let filter = if expressions.is_empty() {
        step.to_owned()
    } else {
        let user: Vec<String> = expressions.iter().map(|e| format!("({e})")).collect();
        format!("({step}) & ({})", user.join(" | "))
    };
    let mut out = vec!["-E".to_owned(), filter];
    out.extend(rest);
    out
}

/// What the tests run besides the test binaries.
struct Tools {
    python: std::path::PathBuf,
    schemathesis: std::path::PathBuf,
    /// tauri-driver, for the desktop E2E; `None` without ui/ (no app to drive).
    tauri_driver: Option<std::path::PathBuf>,
}

/// The test binaries and the desktop app (`--bins`), with the package selection and
/// features of every other command, so that the run's `cargo nextest` finds them built.
fn test_build_command(target: &util::SharedTarget) -> Command {
    let mut cmd = util::cargo_in(target);
    cmd.arg("build");
    workspace_selection(&mut cmd);
    cmd.args(["--bins", "--tests"]);
    color_cargo(&mut cmd);
    cmd
}

/// Builds, then installs what is missing of the tests' tools.
fn test_build(build: Command) -> Result<Tools> {
    run_step_command(build)?;
    let python = python::ensure_test_python()?;
    let schemathesis = schemathesis_in(&python)?;
    let tauri_driver = match ui::dir() {
        Some(_) => Some(ensure_cargo_install(
            "tauri-driver",
            TAURI_DRIVER_VERSION,
            "tauri-driver",
        )?),
        None => None,
    };
    Ok(Tools {
        python,
        schemathesis,
        tauri_driver,
    })
}

/// The one `cargo nextest run` of every test (but the desktop E2E without ui/), on the
/// run's database, with the tools in the environment.
fn tests_command(
    options: &Options,
    target: &util::SharedTarget,
    tools: &Tools,
    database_url: Option<&str>,
) -> Result<Command> {
    let mut cmd = nextest_run(target)?;
    let filter = match &tools.tauri_driver {
        Some(driver) => {
            let screenshots = util::project_root().join("target/e2e-screenshots");
            eprintln!("desktop e2e: screenshots go to {}", screenshots.display());
            cmd.env(
                "LOGIFLOW_DESKTOP_BIN",
                target.dir.join("debug/logiflow-desktop"),
            )
            .env("TAURI_DRIVER", driver)
            .env("LOGIFLOW_E2E_SCREENSHOTS", &screenshots);
            "all()".to_owned()
        }
        None => {
            eprintln!("tests: no ui/package.json, so no desktop app: the desktop E2E does not run");
            format!("not {DESKTOP_E2E_BINARY}")
        }
    };
    add_runner_args(&mut cmd, &filter, options);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.env(python::TEST_PYTHON_VAR, &tools.python)
        .env("LOGIFLOW_SCHEMATHESIS", &tools.schemathesis);
    if std::env::var_os("NEXTEST_TEST_THREADS").is_none() {
        cmd.env("NEXTEST_TEST_THREADS", test_threads().to_string());
    }
    Ok(cmd)
}

/// Twice the cores: most tests spend most of their time waiting (on PostgreSQL, on the
/// server they started, on the webview), and with one thread per core a run of the
/// Rust tests left a quarter of the CPU idle (measured on two cores).
fn test_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 2
}

/// schemathesis, beside `python` in the tests' Python environment (`crate::python`).
fn schemathesis_in(python: &std::path::Path) -> Result<std::path::PathBuf> {
    let program = python.with_file_name("schemathesis");
    if !program.exists() {
        bail!(
            "{} is missing from the tests' Python environment",
            program.display()
        );
    }
    Ok(program)
}

/// Runs a `cargo nextest run` command, adding its `Summary` line's counts; calls
/// `on_start` when nextest starts running tests (its `Starting` line).
fn run_nextest(mut cmd: Command, counts: &mut Counts, mut on_start: impl FnMut()) -> Result<()> {
    let mut summary = None;
    let status = proc::run_tee(&mut cmd, |line| {
        if line.trim_start().starts_with("Starting ") {
            on_start();
        }
        if let Some(counts) = parse_nextest_summary(line) {
            summary = Some(counts);
        }
    })?;
    if let Some(summary) = summary {
        counts.add(summary);
    }
    if !status.success() {
        match summary {
            Some(_) => bail!("some tests failed ({status})"),
            None => bail!(
                "`{}` failed ({status}) before reporting any test result",
                util::display_command(&cmd)
            ),
        }
    }
    if summary.is_none() {
        bail!("failed to find nextest's `Summary` line in its output: the counts would be wrong");
    }
    Ok(())
}

/// nextest's final line: `Summary [   0.150s] 2 tests run: 1 passed, 1 failed, 1 skipped`.
/// The list may also hold `N exec failed` and `N timed out` (failures), and details in
/// parentheses (`1 passed (1 slow)`), which are already counted.
fn parse_nextest_summary(line: &str) -> Option<Counts> {
    let rest = line.trim_start().strip_prefix("Summary [")?;
    let (_, list) = rest.split_once(" run: ")?;
    let mut outside_parens = String::new();
    let mut depth = 0_u32;
    for c in list.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => outside_parens.push(c),
            _ => {}
        }
    }
    let mut counts = Counts::default();
    for item in outside_parens.split(',') {
        let (number, label) = item.trim().split_once(' ')?;
        let number: u64 = number.parse().ok()?;
        match label.trim() {
            "passed" => counts.passed += number,
            "failed" | "exec failed" | "timed out" => counts.failed += number,
            "skipped" => counts.skipped += number,
            _ => {}
        }
    }
    Some(counts)
}

/// libtest's `test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 2 filtered out;
/// finished in 0.00s`. Ignored and filtered-out tests count as skipped, as nextest
/// counts them.
fn parse_libtest_result(line: &str) -> Option<Counts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, list) = rest.split_once(". ")?;
    let mut counts = Counts::default();
    for item in list.split(';') {
        let Some((number, label)) = item.trim().split_once(' ') else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match label {
            "passed" => counts.passed += number,
            "failed" => counts.failed += number,
            "ignored" | "filtered out" => counts.skipped += number,
            _ => {}
        }
    }
    Some(counts)
}

/// Vitest's `      Tests  1 failed | 2 passed | 1 skipped (4)`.
fn parse_vitest_tests(line: &str) -> Option<Counts> {
    let rest = line.trim().strip_prefix("Tests ")?;
    let list = rest.split_once('(').map_or(rest, |(list, _)| list);
    let mut counts = Counts::default();
    for item in list.split('|') {
        let (number, label) = item.trim().split_once(' ')?;
        let number: u64 = number.parse().ok()?;
        match label.trim() {
            "passed" => counts.passed += number,
            "failed" => counts.failed += number,
            "skipped" | "todo" => counts.skipped += number,
            _ => {}
        }
    }
    Some(counts)
}

/// `npm ci` and the production build that src-tauri embeds, each when its inputs changed
/// since the last run (`crate::ui`).
fn ui_build() -> Result<((), Done)> {
    let Some(ui) = ui::dir() else {
        return Ok(((), Done::Skipped("ui/package.json does not exist".into())));
    };
    if ui::build(&ui)? == ui::Outcome::UpToDate {
        eprintln!("ui build: up to date (nothing in ui/ changed since the last build)");
    }
    Ok(((), Done::Ran))
}

/// The front-end's unit tests (Vitest, `npm test` = `vitest run`) in `ui`; `ui build`
/// has installed the packages.
fn ui_unit_command(ui: &std::path::Path) -> Command {
    let mut test = Command::new("npm");
    test.arg("test").current_dir(ui).env("CI", "true");
    test
}

/// tauri-driver's major version: the WebDriver bridge of Tauri 2.
const TAURI_DRIVER_VERSION: &str = "^2";

/// cargo-nextest's version when this run has to install it.
const NEXTEST_VERSION: &str = "^0.9";

/// A tool from crates.io, installed on first use with `cargo install` into a cache
/// outside the clone (`cargo-bin`), so that fresh clones install it once per machine.
/// Returns the path of its binary `bin`.
fn ensure_cargo_install(krate: &str, version: &str, bin: &str) -> Result<std::path::PathBuf> {
    let root = util::cache_dir()?.join("cargo-bin");
    let path = root.join("bin").join(bin);
    if path.exists() {
        return Ok(path);
    }
    eprintln!("installing {krate} {version} into {}", root.display());
    let mut install = util::cargo();
    install
        .args(["install", krate, "--locked", "--version", version])
        .arg("--root")
        .arg(&root)
        // Its own temporary target: not the workspace's build cache.
        .env_remove("CARGO_TARGET_DIR");
    let status = proc::run(&mut install)?;
    if !status.success() {
        bail!("`{}` failed ({status})", util::display_command(&install));
    }
    Ok(path)
}

fn print_report(run: &Run, total: Duration) {
    use std::io::Write;
    let _ = std::io::stderr().flush();
    if let Some(failure) = &run.failure {
        println!();
        println!("error: step `{}` failed: {:#}", failure.step, failure.error);
        if let Some(rerun) = &failure.rerun {
            println!("rerun it alone with: {rerun}");
        }
        if failure.counted_as_one {
            println!("(no test runner counted this failure, so it counts as 1 failed below)");
        }
    }
    println!();
    println!("{:<13}{:<9}{:>8}", "step", "result", "time");
    for name in STEPS {
        match run.records.iter().find(|record| record.name == *name) {
            Some(record) => {
                let status = match record.status {
                    Status::Ok => "ok",
                    Status::Failed => "FAILED",
                    Status::Skipped => "skipped",
                };
                println!(
                    "{:<13}{:<9}{:>7.1}s",
                    record.name,
                    status,
                    record.elapsed.as_secs_f64()
                );
            }
            None => println!("{name:<13}{:<9}{:>8}", "not run", "-"),
        }
    }
    println!("{:<13}{:<9}{:>7.1}s", "total", "", total.as_secs_f64());
    println!(
        "summary: {} passed, {} failed, {} skipped",
        run.counts.passed, run.counts.failed, run.counts.skipped
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(passed: u64, failed: u64, skipped: u64) -> Counts {
        Counts {
            passed,
            failed,
            skipped,
        }
    }

    #[test]
    fn parses_nextest_summaries() {
        let cases = [
            (
                "     Summary [   0.150s] 2 tests run: 1 passed, 1 failed, 1 skipped",
                counts(1, 1, 1),
            ),
            (
                "     Summary [   0.012s] 5 tests run: 5 passed, 0 skipped",
                counts(5, 0, 0),
            ),
            (
                "     Summary [  61.000s] 9 tests run: 6 passed (2 slow, 1 flaky), 1 failed (1 due to being leaky), 1 exec failed, 1 timed out, 3 skipped",
                counts(6, 3, 3),
            ),
            (
                "     Summary [   1.000s] 3/20 tests run: 2 passed, 1 failed, 0 skipped",
                counts(2, 1, 0),
            ),
            (
                "     Summary [   0.000s] 1 test run: 1 passed, 0 skipped",
                counts(1, 0, 0),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_nextest_summary(line), Some(expected), "{line}");
        }
        assert_eq!(
            parse_nextest_summary("        PASS [   0.004s] xtask tidy"),
            None
        );
        assert_eq!(parse_nextest_summary("test Summary [x] of nothing"), None);
    }

    #[test]
    fn parses_libtest_results() {
        assert_eq!(
            parse_libtest_result(
                "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 2 filtered out; finished in 0.00s"
            ),
            Some(counts(3, 0, 3))
        );
        assert_eq!(
            parse_libtest_result(
                "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some(counts(1, 1, 0))
        );
        assert_eq!(parse_libtest_result("running 3 tests"), None);
    }

    #[test]
    fn parses_vitest_totals() {
        assert_eq!(
            parse_vitest_tests("      Tests  3 passed (3)"),
            Some(counts(3, 0, 0))
        );
        assert_eq!(
            parse_vitest_tests("      Tests  1 failed | 2 passed | 1 skipped | 1 todo (5)"),
            Some(counts(2, 1, 2))
        );
        assert_eq!(parse_vitest_tests(" Test Files  1 passed (1)"), None);
    }

    #[test]
    fn tallies_sum_cargos_lines_and_take_vitests_total() {
        let doc = [
            "test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out",
            "   Doc-tests logiflow_core",
            "test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
        ];
        assert_eq!(tally(doc.into_iter(), Tally::Sum), Some(counts(7, 0, 1)));
        let vitest = [" Test Files  2 passed (2)", "      Tests  3 passed (3)"];
        assert_eq!(
            tally(vitest.into_iter(), Tally::Last),
            Some(counts(3, 0, 0))
        );
        assert_eq!(tally(["Compiling x"].into_iter(), Tally::Sum), None);
    }

    /// The docs step's options on a crate of its own: a private item's doc linking an
    /// item that does not exist fails, and passes once the link names one.
    #[test]
    fn the_docs_step_fails_on_a_broken_link_in_a_private_items_doc() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"docs-probe\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
        )
        .unwrap();
        let document = |link: &str| {
            std::fs::write(
                dir.path().join("src/lib.rs"),
                format!("//! A probe.\n\n/// Calls [`{link}`].\nfn hidden() {{}}\n\n/// Also.\npub fn shown() {{ hidden() }}\n"),
            )
            .unwrap();
            let mut cmd = util::cargo();
            cmd.arg("doc")
                .current_dir(dir.path())
                .env("CARGO_TARGET_DIR", dir.path().join("target"));
            strict_docs(&mut cmd);
            cmd.output().unwrap()
        };
        let broken = document("missing");
        assert!(
            !broken.status.success(),
            "a broken link must fail the docs step"
        );
        let stderr = String::from_utf8_lossy(&broken.stderr);
        assert!(stderr.contains("unresolved link to `missing`"), "{stderr}");
        let fixed = document("shown");
        assert!(
            fixed.status.success(),
            "{}",
            String::from_utf8_lossy(&fixed.stderr)
        );
    }

    #[test]
    fn a_runner_beside_the_tests_runs_at_the_lowest_priority_with_its_environment() {
        let mut cmd = Command::new("cargo");
        cmd.args(["test", "--doc"])
            .env("DATABASE_URL", "postgres://x")
            .current_dir("/tmp");
        let niced = lowest_priority(&cmd);
        let args: Vec<_> = niced.get_args().collect();
        if util::which("nice").is_some() {
            assert!(niced.get_program().to_string_lossy().ends_with("nice"));
            assert_eq!(args, ["-n", "19", "cargo", "test", "--doc"]);
        } else {
            assert_eq!(niced.get_program(), "cargo");
            assert_eq!(args, ["test", "--doc"]);
        }
        let envs: Vec<_> = niced.get_envs().collect();
        assert_eq!(
            envs,
            [(
                std::ffi::OsStr::new("DATABASE_URL"),
                Some(std::ffi::OsStr::new("postgres://x"))
            )]
        );
        assert_eq!(niced.get_current_dir(), Some(std::path::Path::new("/tmp")));
    }

    #[test]
    fn a_runner_beside_the_tests_reports_its_counts_output_and_time() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo '   Doc-tests a' >&2; \
             echo 'test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out'",
        ]);
        let finished = Beside::start("doc tests", cmd, Tally::Sum).finish();
        let mut found = Counts::default();
        let mut shown = Vec::new();
        finished.report(&mut found, &mut shown).unwrap();
        assert_eq!(found, counts(3, 0, 0));
        let shown = String::from_utf8(shown).unwrap();
        assert!(
            shown.starts_with("   Doc-tests a\ntest result: ok. 3 passed"),
            "{shown}"
        );

        // A runner that fails fails its step, with the counts it printed.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo 'test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out'; exit 101",
        ]);
        let finished = Beside::start("doc tests", cmd, Tally::Sum).finish();
        let mut found = Counts::default();
        assert!(finished.report(&mut found, &mut Vec::new()).is_err());
        assert_eq!(found, counts(1, 1, 0));

        // One that prints no count fails too: the summary would be wrong.
        let finished = Beside::start("ui unit", Command::new("true"), Tally::Last).finish();
        let err = finished
            .report(&mut Counts::default(), &mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("test counts"), "{err}");
    }

    #[test]
    fn parses_arguments() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let options = parse_args(&args(&["--no-lint", "--", "core::", "--exact"]))
            .unwrap()
            .unwrap();
        assert!(!options.lint);
        assert_eq!(options.runner_args, ["core::", "--exact"]);
        assert!(parse_args(&args(&["--help"])).unwrap().is_none());
        assert!(parse_args(&args(&["core::"])).is_err());
    }

    #[test]
    fn a_user_filterset_narrows_the_step_instead_of_widening_it() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(step_args("not e2e", &[]), ["-E", "not e2e"]);
        assert_eq!(
            step_args("not e2e", &args(&["core::", "--exact"])),
            ["-E", "not e2e", "core::", "--exact"]
        );
        assert_eq!(
            step_args(
                "e2e",
                &args(&["-E", "test(a)", "--filterset=test(b)", "-Etest(c)", "x"])
            ),
            ["-E", "(e2e) & ((test(a)) | (test(b)) | (test(c)))", "x"]
        );
    }

    #[test]
    fn a_failing_step_without_test_counts_counts_as_one_failure() {
        let mut run = Run::default();
        let result = run.step("fmt", Some("cargo fmt".into()), |_| -> Result<((), Done)> {
            bail!("not formatted")
        });
        assert!(result.is_err());
        assert_eq!(run.counts, counts(0, 1, 0));

        let mut run = Run::default();
        let result = run.step("tests", None, |c| -> Result<((), Done)> {
            c.add(counts(4, 2, 0));
            bail!("some tests failed")
        });
        assert!(result.is_err());
        assert_eq!(run.counts, counts(4, 2, 0));
    }
}
