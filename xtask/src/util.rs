//! Small helpers shared by the commands: paths, the cargo binary, user identity.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// The workspace root: the xtask crate lives one level below it.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// A `cargo` command for the inner builds, run from the workspace root with the build
/// outputs cached outside the clone (see [`target_dir`]).
///
/// `cargo run` exports `CARGO` (the cargo binary that is running us), so the inner
/// commands use the same toolchain as the outer one.
pub fn cargo() -> Result<Command> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root())
        .env("CARGO_TARGET_DIR", target_dir()?);
    Ok(cmd)
}

/// Where the inner cargo commands put their build outputs: `$CARGO_TARGET_DIR` when set,
/// otherwise a cache directory outside the clone, so that repeated CI runs from fresh
/// clones on the same machine reuse the compiled dependencies.
pub fn target_dir() -> Result<PathBuf> {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Ok(cache_dir()?.join("target")),
    }
}

/// `$XDG_CACHE_HOME/logiflow`, by default `~/.cache/logiflow`.
pub fn cache_dir() -> Result<PathBuf> {
    Ok(xdg_dir("XDG_CACHE_HOME", ".cache")?.join("logiflow"))
}

/// `$XDG_DATA_HOME/logiflow`, by default `~/.local/share/logiflow`.
pub fn data_dir() -> Result<PathBuf> {
    Ok(xdg_dir("XDG_DATA_HOME", ".local/share")?.join("logiflow"))
}

fn xdg_dir(var: &str, under_home: &str) -> Result<PathBuf> {
    match env::var_os(var) {
        // The XDG spec says relative values are invalid and must be ignored.
        Some(dir) if Path::new(&dir).is_absolute() => Ok(PathBuf::from(dir)),
        _ => {
            let home = env::var_os("HOME")
                .context("failed to find the home directory: HOME is not set")?;
            Ok(PathBuf::from(home).join(under_home))
        }
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The first `name` on `PATH`, like `command -v`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// A command line as a person would type it, for messages such as "rerun it with: …".
pub fn display_command(cmd: &Command) -> String {
    let mut words = Vec::new();
    for (key, value) in cmd.get_envs() {
        // Only the variables a person needs to reproduce the run; the rest is plumbing.
        if key == "CARGO_TARGET_DIR" {
            if let Some(value) = value {
                words.push(format!("{}={}", key.to_string_lossy(), quote(value)));
            }
        }
    }
    let program = cmd.get_program();
    // Show `cargo`, not the toolchain's full path that `$CARGO` holds.
    if Path::new(program).file_name() == Some(OsStr::new("cargo")) {
        words.push("cargo".to_owned());
    } else {
        words.push(quote(program));
    }
    words.extend(cmd.get_args().map(quote));
    words.join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Removes ANSI escape sequences (colours) so that tool output can be parsed.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // A CSI sequence ends with a byte in 0x40..=0x7e.
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours() {
        assert_eq!(
            strip_ansi("\u{1b}[32;1m     Summary\u{1b}[0m [ 0.1s] 2 tests run"),
            "     Summary [ 0.1s] 2 tests run"
        );
    }

    #[test]
    fn displays_a_rerunnable_command() {
        let mut cmd = Command::new("/home/x/.rustup/toolchains/stable/bin/cargo");
        cmd.args(["clippy", "--", "-D", "warnings", "it's"])
            .env("CARGO_TARGET_DIR", "/root/.cache/logiflow/target")
            .env("OTHER", "x");
        assert_eq!(
            display_command(&cmd),
            r"CARGO_TARGET_DIR=/root/.cache/logiflow/target cargo clippy -- -D warnings 'it'\''s'"
        );
    }
}
