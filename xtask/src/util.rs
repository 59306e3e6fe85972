//! Small helpers shared by the commands: paths, the cargo binary, user identity.

use std::env;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The workspace root: the xtask crate lives one level below it.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// A `cargo` command run from the workspace root, building in the checkout's own
/// `target/` (or `$CARGO_TARGET_DIR`).
///
/// `cargo run` exports `CARGO` (the cargo binary that is running us), so the inner
/// commands use the same toolchain as the outer one.
pub fn cargo() -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root());
    cmd
}

/// A `cargo` command that builds in the shared cache (see [`SharedTarget`]).
pub fn cargo_in(target: &SharedTarget) -> Command {
    let mut cmd = cargo();
    cmd.env("CARGO_TARGET_DIR", &target.dir);
    cmd
}

/// Where the test and bench builds go: `$CARGO_TARGET_DIR` when set, otherwise a cache
/// directory outside the clone, so that repeated CI runs from fresh clones on the same
/// machine reuse the compiled dependencies.
pub fn shared_target_dir() -> Result<PathBuf> {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Ok(cache_dir()?.join("target")),
    }
}

/// The shared build cache, held by this run until dropped.
///
/// Cargo decides whether a workspace crate is up to date from file times, and its
/// artifacts no longer depend on where the checkout lives. So two checkouts at different
/// paths sharing one target directory can run each other's code: a checkout whose files
/// are older than another's last build gets that build, silently (rust-lang/cargo#17312).
/// Hence, while a run holds the cache, no other run uses it (a lock), and if another
/// checkout built there last, this workspace's own crates are removed from it first
/// (`cargo clean --workspace`); the dependencies, the slow part, stay.
#[derive(Debug)]
pub struct SharedTarget {
    pub dir: PathBuf,
    _lock: Flock<File>,
}

/// Waits for the shared build cache and makes it safe for this checkout.
pub fn claim_shared_target() -> Result<SharedTarget> {
    let dir = shared_target_dir()?;
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let lock_path = dir.join(".logiflow-xtask.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("failed to open {}", lock_path.display()))?;
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((file, Errno::EWOULDBLOCK)) => {
            eprintln!(
                "build cache: waiting for another cargo xtask run to finish with {}",
                dir.display()
            );
            Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, errno)| errno)
                .with_context(|| format!("failed to lock {}", lock_path.display()))?
        }
        Err((_, errno)) => {
            return Err(errno).with_context(|| format!("failed to lock {}", lock_path.display()));
        }
    };

    let marker = dir.join(".logiflow-checkout");
    let root = project_root();
    let last = fs::read_to_string(&marker).unwrap_or_default();
    if Path::new(last.trim()) != root {
        let last = if last.trim().is_empty() {
            "no checkout we know of"
        } else {
            last.trim()
        };
        eprintln!(
            "build cache: {} was last built from {last}; removing this workspace's crates \
             from it so that nothing built from another checkout is reused",
            dir.display()
        );
        clean_workspace_crates(&dir)?;
        fs::write(&marker, root.as_os_str().as_encoded_bytes())
            .with_context(|| format!("failed to write {}", marker.display()))?;
    }
    Ok(SharedTarget { dir, _lock: lock })
}

fn clean_workspace_crates(dir: &Path) -> Result<()> {
    let mut clean = cargo();
    clean
        .env("CARGO_TARGET_DIR", dir)
        .args(["clean", "--workspace"]);
    let output = crate::proc::run_captured(&mut clean)?;
    if output.status.success() {
        return Ok(());
    }
    // `--workspace` came with cargo 1.94: name the members on older ones.
    let mut clean = cargo();
    clean.env("CARGO_TARGET_DIR", dir).arg("clean");
    for member in workspace_members()? {
        clean.arg("-p").arg(member.name);
    }
    let output = crate::proc::run_captured(&mut clean)?;
    if !output.status.success() {
        bail!("{}", crate::proc::describe_failure(&clean, &output));
    }
    Ok(())
}

/// A crate of the workspace.
#[derive(Debug)]
pub struct Member {
    /// Its directory, relative to the workspace root.
    pub dir: PathBuf,
    pub name: String,
}

/// The workspace members, from the root Cargo.toml's `members` (plain paths and `dir/*`
/// patterns, which is all this workspace uses).
pub fn workspace_members() -> Result<Vec<Member>> {
    let root = project_root();
    let manifest =
        fs::read_to_string(root.join("Cargo.toml")).context("failed to read Cargo.toml")?;
    let mut members = Vec::new();
    for pattern in members_patterns(&manifest) {
        let dirs = match pattern.strip_suffix("/*") {
            Some(parent) => {
                let mut dirs: Vec<PathBuf> = fs::read_dir(root.join(parent))
                    .with_context(|| format!("failed to list {parent}"))?
                    .flatten()
                    .map(|entry| Path::new(parent).join(entry.file_name()))
                    .collect();
                dirs.sort();
                dirs
            }
            None => vec![PathBuf::from(&pattern)],
        };
        for dir in dirs {
            let Ok(text) = fs::read_to_string(root.join(&dir).join("Cargo.toml")) else {
                continue;
            };
            if let Some(name) = package_name(&text) {
                members.push(Member { dir, name });
            }
        }
    }
    Ok(members)
}

/// The strings of `members = [...]` in a `[workspace]` table.
fn members_patterns(manifest: &str) -> Vec<String> {
    let Some(start) = manifest.find("\nmembers") else {
        return Vec::new();
    };
    let rest = &manifest[start..];
    let Some((_, rest)) = rest.split_once('[') else {
        return Vec::new();
    };
    let Some((list, _)) = rest.split_once(']') else {
        return Vec::new();
    };
    list.split(',')
        .map(|item| item.trim().trim_matches('"').to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

/// The `name` of a Cargo.toml's `[package]` table.
pub fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(value) = line.strip_prefix("name").map(str::trim_start) {
                if let Some(value) = value.strip_prefix('=') {
                    return Some(value.trim().trim_matches('"').to_owned());
                }
            }
        }
    }
    None
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
/// Environment variables are left out: the shared build cache is only safe to use
/// through `cargo xtask`, and a plain command builds in the checkout's own `target/`.
pub fn display_command(cmd: &Command) -> String {
    let mut words = Vec::new();
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
            .env("CARGO_TARGET_DIR", "/root/.cache/logiflow/target");
        assert_eq!(
            display_command(&cmd),
            r"cargo clippy -- -D warnings 'it'\''s'"
        );
    }

    #[test]
    fn reads_workspace_members() {
        let manifest = "[workspace]\nresolver = \"3\"\nmembers = [\"crates/*\", \"src-tauri\",\n  \"xtask\"]\ndefault-members = [\"crates/*\"]\n";
        assert_eq!(
            members_patterns(manifest),
            ["crates/*", "src-tauri", "xtask"]
        );
        let package = "[package]\nname = \"logiflow-core\"\n[dependencies]\nname = \"x\"\n";
        assert_eq!(package_name(package).as_deref(), Some("logiflow-core"));
        assert_eq!(package_name("[workspace]\nname = \"x\"\n"), None);
        let members = workspace_members().unwrap();
        assert!(
            members
                .iter()
                .any(|m| m.name == "xtask" && m.dir == Path::new("xtask"))
        );
        assert!(members.iter().any(|m| m.name == "logiflow-core"));
    }
}
