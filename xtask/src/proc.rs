//! Running child processes in the foreground, so that a signal reaches them (see
//! `interrupt`), with their output shown, captured, or both.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitStatus, Output, Stdio};

use anyhow::{Context, Result};

use crate::interrupt;
use crate::util::display_command;

/// Runs `cmd` with the terminal's stdin, stdout and stderr.
pub fn run(cmd: &mut Command) -> Result<ExitStatus> {
    let (mut child, foreground) = interrupt::spawn_foreground(cmd)
        .with_context(|| format!("failed to start `{}`", display_command(cmd)))?;
    let status = child
        .wait()
        .with_context(|| format!("failed to wait for `{}`", display_command(cmd)))?;
    drop(foreground);
    interrupt::park_if_interrupted();
    Ok(status)
}

/// [`run`], failing unless `cmd` exits with success.
pub fn run_ok(cmd: &mut Command) -> Result<()> {
    let status = run(cmd)?;
    if !status.success() {
        anyhow::bail!("`{}` failed ({status})", display_command(cmd));
    }
    Ok(())
}

/// Runs `cmd` with its output captured, for commands whose output only matters when
/// they fail.
pub fn run_captured(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (child, foreground) = interrupt::spawn_foreground(cmd)
        .with_context(|| format!("failed to start `{}`", display_command(cmd)))?;
    let output = child
        .wait_with_output()
        .with_context(|| format!("failed to wait for `{}`", display_command(cmd)))?;
    drop(foreground);
    interrupt::park_if_interrupted();
    Ok(output)
}

/// Runs `cmd`, copying its stderr (where nextest reports) to ours as it comes, so the
/// person watching sees it live, while handing each line, without its colours, to
/// `on_line`.
pub fn run_tee(cmd: &mut Command, mut on_line: impl FnMut(&str)) -> Result<ExitStatus> {
    cmd.stderr(Stdio::piped());
    let (mut child, foreground) = interrupt::spawn_foreground(cmd)
        .with_context(|| format!("failed to start `{}`", display_command(cmd)))?;
    let mut reader = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("failed to read the output of `{}`", display_command(cmd)))?;
        if read == 0 {
            break;
        }
        // A failed write (say, a closed terminal) must not stop the run or the parsing.
        let _ = write_all_flush(&mut std::io::stderr().lock(), &line);
        on_line(&crate::util::strip_ansi(&String::from_utf8_lossy(&line)));
    }
    let status = child
        .wait()
        .with_context(|| format!("failed to wait for `{}`", display_command(cmd)))?;
    drop(foreground);
    interrupt::park_if_interrupted();
    Ok(status)
}

fn write_all_flush(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes)?;
    out.flush()
}

/// The captured output of a failed command, for an error message.
pub fn describe_failure(cmd: &Command, output: &Output) -> String {
    let mut text = format!("`{}` failed ({})", display_command(cmd), output.status);
    for bytes in [&output.stdout, &output.stderr] {
        let part = String::from_utf8_lossy(bytes);
        let part = part.trim();
        if !part.is_empty() {
            text.push('\n');
            text.push_str(part);
        }
    }
    text
}
