//! `cargo xtask`: LogiFlow's developer entry points.
//!
//! - `cargo xtask test`: installs what is missing, lints, and runs every test against a
//!   throwaway PostgreSQL. It is the one command CI runs (`.ci/run`).
//! - `cargo xtask dev`: a persistent local PostgreSQL plus the server.
//! - `cargo xtask bench`: lists (and runs) the benchmarks; `cargo xtask bench server`
//!   measures the server's movements against the minimal transaction, `cargo xtask bench
//!   sync` the journal push, snapshot, local recording and search.
//! - `cargo xtask bundle`: the desktop app's .deb through tauri's bundler.
//!
//! The xtask is plain Rust rather than shell so that it behaves the same on every machine
//! and cleans up after itself (see `interrupt`).

mod bench;
mod bundle;
mod dev;
mod interrupt;
mod layering;
mod packages;
mod pg;
mod proc;
mod python;
mod test;
#[cfg(test)]
mod tidy;
mod ui;
mod util;

use std::process::ExitCode;

/// The subcommands, with the one-line help shown by `cargo xtask --help`. The tidy test
/// checks that every `cargo xtask <name>` the README mentions is one of these.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "dev",
        "start the dev PostgreSQL and run the server against it",
    ),
    (
        "test",
        "install what is missing, lint, run every test (what CI runs)",
    ),
    (
        "bench",
        "list the benchmarks and run them; `bench server|sync` need a database",
    ),
    (
        "bundle",
        "build the desktop app's .deb installer (tauri's bundler)",
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    if let Err(err) = interrupt::install() {
        eprintln!("error: {err:#}");
        return ExitCode::FAILURE;
    }
    let result = match command.as_str() {
        "test" => test::main(rest),
        "dev" => dev::main(rest),
        "bench" => bench::main(rest),
        "bundle" => bundle::main(rest),
        "-h" | "--help" | "help" => {
            print!("{}", usage());
            Ok(ExitCode::SUCCESS)
        }
        other => {
            eprintln!("error: unknown command `{other}`\n");
            eprint!("{}", usage());
            Ok(ExitCode::from(2))
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    let mut text = String::from("usage: cargo xtask <command> [--help]\n\ncommands:\n");
    for (name, help) in COMMANDS {
        text.push_str(&format!("  {name:<7}{help}\n"));
    }
    text
}
