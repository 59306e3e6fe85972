//! `logiflow`: the headless CLI over the device's local replica.
//!
//! Every command maps its arguments to one [`logiflow_replica::Replica`] call (one file
//! per command under `cli/`) and prints the result, as text or, with `--json`, as one
//! JSON document on stdout. Errors go to
//! stderr (as `{"error": {"code", "message"}}` with `--json`).
//!
//! Exit codes (`EXIT_CODES` in `cli/args.rs`, also printed by `--help`): 0 success; 1 usage or
//! validation error (bad arguments, unknown SKU, refused movement, …); 2 any other
//! failure (storage, damaged data, I/O, a server answer the client cannot act on);
//! 3 the server could not be reached or kept failing (or another sync is running):
//! retry later; 4 the device was revoked or its credentials are invalid: run
//! `logiflow login` or ask an administrator; 5 the tenant's subscription expired: the
//! journal is kept and pushed after renewal.
//!
//! `connect`, `login`, `scope`, `sync`, `conflicts resolve`, `journal upload` and
//! `sign-out` talk to the server; the device's tokens are
//! kept in the OS keyring, or in a file named by `LOGIFLOW_CREDENTIALS=file:PATH` (tests
//! only). `init` and `import-snapshot` set a replica up locally for tests and demos.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Parse, run the command, print its output, exit with the documented code.
fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            // --help and --version print to stdout and succeed; usage errors exit 1.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json = cli.json;
    match cli::run(cli).and_then(|output| output.print(json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => ExitCode::from(cli::report(&err, json)),
    }
}
