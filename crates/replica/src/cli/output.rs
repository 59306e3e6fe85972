//! The one printer: a command's [`Output`] on stdout as text or as JSON, and an error on
//! stderr with its documented exit code.

use anyhow::Context;
use logiflow_replica::{Error, ErrorBody};
use serde::Serialize;

/// What a command prints: its result both ways (the printer picks one), and a failure to
/// report after it.
#[derive(Debug)]
pub(crate) struct Output {
    /// The result, unless the command printed it itself.
    result: Option<Rendered>,
    /// A failure reported after the result is printed (a device set up whose first sync
    /// failed: scripts learn it from the exit code).
    failure: Option<anyhow::Error>,
}

#[derive(Debug)]
struct Rendered {
    /// The result as pretty JSON (`--json`): exactly the serialized result type.
    json: serde_json::Result<String>,
    /// The result for a person; made only without `--json`.
    text: String,
}

impl Output {
    /// `value` as JSON, or `text` for a person.
    pub(crate) fn new<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> Self {
        Self {
            result: Some(Rendered {
                json: serde_json::to_string_pretty(value),
                text: if json { String::new() } else { text() },
            }),
            failure: None,
        }
    }

    /// Nothing more to print (`sync --watch` printed a report per round itself).
    pub(crate) fn printed() -> Self {
        Self {
            result: None,
            failure: None,
        }
    }

    /// The command fails with `failure` once the output is printed.
    pub(crate) fn then_fail(mut self, failure: Option<anyhow::Error>) -> Self {
        self.failure = failure;
        self
    }

    /// Prints the result on stdout, then returns the failure, if any.
    pub(crate) fn print(self, json: bool) -> anyhow::Result<()> {
        if let Some(result) = self.result {
            if json {
                let s = result.json.context("failed to write json")?;
                println!("{s}");
            } else {
                println!("{}", result.text);
            }
        }
        match self.failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Prints `err` on stderr (as `{"error": {"code", "message"}}` with `--json`) and returns
/// its exit code (see [`super::args::EXIT_CODES`]).
pub(crate) fn report(err: &anyhow::Error, json: bool) -> u8 {
    let (code, exit) = match (err.downcast_ref::<Error>(), err.downcast_ref::<Failed>()) {
        (Some(e), _) => (e.code(), exit_code(e)),
        (None, Some(Failed(body))) => (body.code.as_str(), exit_code_of(&body.code)),
        (None, None) => ("internal", 2),
    };
    if json {
        let message = format!("{err:#}");
        eprintln!(
            "{}",
            serde_json::json!({"error": {"code": code, "message": message}})
        );
    } else {
        eprintln!("logiflow: {err:#}");
    }
    exit
}

/// The documented exit code of a replica error (see [`super::args::EXIT_CODES`]).
fn exit_code(e: &Error) -> u8 {
    match exit_code_of(e.code()) {
        2 if e.is_user_error() => 1,
        n => n,
    }
}

/// The exit code of an error code that is not a usage error.
fn exit_code_of(code: &str) -> u8 {
    match code {
        "server_unreachable" | "sync_busy" => 3,
        "device_revoked" | "credentials_invalid" | "wrong_password" => 4,
        "subscription_expired" => 5,
        _ => 2,
    }
}

/// A failure already reported as a `{code, message}` body (a first sync that failed).
#[derive(Debug)]
pub(crate) struct Failed(pub(crate) ErrorBody);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the device is set up but its first sync failed: {} ({})",
            self.0.message, self.0.code
        )
    }
}

impl std::error::Error for Failed {}
