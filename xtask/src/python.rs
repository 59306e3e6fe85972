//! The Python the tests use for tools and libraries written by others (the Standard
//! Webhooks verifier of the webhook tests, schemathesis of the API fuzz step, jeepney for
//! the desktop test's notification server on D-Bus): a virtual environment in the build cache, outside the
//! clone, with pinned packages from PyPI. It is created once per machine and again only
//! when the pins change; nothing else is downloaded.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{proc, util};

/// The packages, pinned. A change here rebuilds the environment on the next run.
pub const PACKAGES: &[&str] = &[
    "standardwebhooks==1.1.0",
    "schemathesis==4.32.5",
    "jeepney==0.9.0",
];

/// The environment variable through which the tests find the interpreter.
pub const TEST_PYTHON_VAR: &str = "LOGIFLOW_TEST_PYTHON";

/// Whether `python3` can make a virtual environment with pip in it (the `python3-venv`
/// package on Debian, or a Python installed otherwise).
pub fn venv_available() -> bool {
    Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The interpreter of the environment, created or updated first when needed.
pub fn ensure_test_python() -> Result<PathBuf> {
    let dir = util::cache_dir()?.join("python-tests");
    let python = dir.join("bin").join("python");
    let stamp = dir.join("logiflow-packages.txt");
    let wanted = PACKAGES.join("\n");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(python);
    }
    eprintln!(
        "python: creating {} with {}",
        dir.display(),
        PACKAGES.join(" ")
    );
    let mut venv = Command::new("python3");
    venv.args(["-m", "venv", "--clear"]).arg(&dir);
    proc::run_ok(&mut venv)?;
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(PACKAGES);
    proc::run_ok(&mut pip)?;
    std::fs::write(&stamp, wanted)
        .with_context(|| format!("failed to write {}", stamp.display()))?;
    Ok(python)
}
