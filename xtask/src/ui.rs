//! The desktop app's front-end, ui/: its npm packages and the production build that
//! src-tauri embeds (`tauri::generate_context!` reads ui/dist when the app compiles).
//!
//! Each part runs again only when what it is made from changed, as cargo does for the
//! crates: `npm ci` when `package-lock.json` or Node.js changed since the last install,
//! `npm run build` (svelte-check, then vite) when any file of ui/ outside `node_modules`
//! and `dist` changed since the last build. What each was made from is written into
//! `node_modules` after it succeeded, so a fresh clone, a deleted `node_modules` and an
//! interrupted run all build again; a missing `dist/index.html` does too.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{packages, proc, util};

/// What `npm ci` was run for: Node.js's version and the lockfile, byte for byte.
const INSTALLED_STAMP: &str = "node_modules/.logiflow-installed";
/// What `npm run build` was run for: a digest of ui/'s sources and the installed stamp.
const BUILT_STAMP: &str = "node_modules/.logiflow-built";

/// ui/, when it has a `package.json`.
pub fn dir() -> Option<PathBuf> {
    let ui = util::project_root().join("ui");
    ui.join("package.json").exists().then_some(ui)
}

/// Whether [`build`] had anything to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Built,
    UpToDate,
}

/// `npm ci` (exactly the lockfile, from the registry) and `npm run build`, each only when
/// its inputs changed (see the module's doc).
pub fn build(ui: &Path) -> Result<Outcome> {
    packages::require_program("npm", "install Node.js 20 or newer")?;
    let installed = installed_stamp(ui)?;
    let installed_path = ui.join(INSTALLED_STAMP);
    let mut outcome = Outcome::UpToDate;
    if std::fs::read(&installed_path).ok().as_deref() != Some(installed.as_slice()) {
        // npm ci deletes node_modules, and the build stamp with it.
        let mut ci = Command::new("npm");
        ci.args(["ci", "--no-audit", "--no-fund"]).current_dir(ui);
        proc::run_ok(&mut ci)?;
        write(&installed_path, &installed)?;
        outcome = Outcome::Built;
    }
    let built = format!("{:016x}\n", sources_digest(ui, &installed)?);
    let built_path = ui.join(BUILT_STAMP);
    let current = std::fs::read_to_string(&built_path).ok();
    if current.as_deref() != Some(built.as_str()) || !ui.join("dist/index.html").exists() {
        // Removed first: a build cut short must not leave the last one's stamp behind.
        let _ = std::fs::remove_file(&built_path);
        let mut build = Command::new("npm");
        build.args(["run", "build"]).current_dir(ui);
        proc::run_ok(&mut build)?;
        write(&built_path, built.as_bytes())?;
        outcome = Outcome::Built;
    }
    Ok(outcome)
}

/// Writes a stamp, making `node_modules` first: `npm ci` of a project without
/// dependencies leaves none.
fn write(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("failed to write {}", path.display()))
}

/// Node.js's version and the lockfile's bytes.
fn installed_stamp(ui: &Path) -> Result<Vec<u8>> {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .context("failed to run `node --version`")?;
    let lock = ui.join("package-lock.json");
    let mut stamp = node.stdout;
    stamp.extend(
        std::fs::read(&lock).with_context(|| format!("failed to read {}", lock.display()))?,
    );
    Ok(stamp)
}

/// A digest of every file of ui/ but `node_modules` and `dist` (relative path and
/// contents, in path order) and of `installed`.
fn sources_digest(ui: &Path, installed: &[u8]) -> Result<u64> {
    let mut files = Vec::new();
    collect_files(ui, ui, &mut files)?;
    files.sort();
    let mut hasher = DefaultHasher::new();
    hasher.write(installed);
    for relative in files {
        let path = ui.join(&relative);
        let contents =
            std::fs::read(&path).with_context(|| format!("failed to read {}", path.display()))?;
        hasher.write(relative.to_string_lossy().as_bytes());
        hasher.write_usize(contents.len());
        hasher.write(&contents);
    }
    Ok(hasher.finish())
}

fn collect_files(ui: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if dir == ui && matches!(entry.file_name().to_str(), Some("node_modules" | "dist")) {
                continue;
            }
            collect_files(ui, &path, out)?;
        } else if kind.is_file() {
            out.push(path.strip_prefix(ui).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        dir
    }

    /// A project whose install and build each add a line to `runs.log` beside it, and
    /// whose build fails while a file `fail` exists.
    const PROBE: &[(&str, &str)] = &[
        (
            "ui/package.json",
            r#"{"name": "probe", "version": "1.0.0", "private": true,
                "scripts": {"postinstall": "node log.js ci", "build": "node build.js"}}"#,
        ),
        (
            "ui/package-lock.json",
            r#"{"name": "probe", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
                "packages": {"": {"name": "probe", "version": "1.0.0"}}}"#,
        ),
        (
            "ui/log.js",
            "require('fs').appendFileSync('../runs.log', process.argv[2] + '\\n');",
        ),
        (
            "ui/build.js",
            "const fs = require('fs');
             fs.appendFileSync('../runs.log', 'build\\n');
             if (fs.existsSync('fail')) process.exit(1);
             fs.mkdirSync('dist', {recursive: true});
             fs.writeFileSync('dist/index.html', 'built');",
        ),
        ("ui/src/main.ts", "export {};"),
    ];

    /// `build` with real npm on a project of its own: each part runs when its inputs
    /// changed and only then, and a failed build leaves no stamp, so the next run builds.
    #[test]
    fn the_ui_is_installed_and_built_again_only_when_its_inputs_changed() {
        let root = ui_with(PROBE);
        let ui = root.path().join("ui");
        let runs = || std::fs::read_to_string(root.path().join("runs.log")).unwrap_or_default();
        let mut seen = 0;
        // Builds, and checks the outcome and what ran since the last check.
        let mut step = |expect: Result<Outcome, ()>, ran: &str| {
            assert_eq!(build(&ui).map_err(|_| ()), expect);
            let log = runs();
            assert_eq!(&log[seen..], ran, "what ran");
            seen = log.len();
        };
        // A fresh checkout: install, then build.
        step(Ok(Outcome::Built), "ci\nbuild\n");
        step(Ok(Outcome::UpToDate), "");
        // A source changed: only the build.
        std::fs::write(ui.join("src/main.ts"), "export const a = 1;").unwrap();
        step(Ok(Outcome::Built), "build\n");
        step(Ok(Outcome::UpToDate), "");
        // The output deleted: built again.
        std::fs::remove_file(ui.join("dist/index.html")).unwrap();
        step(Ok(Outcome::Built), "build\n");
        // The lockfile changed: both, since the install changes what the build uses.
        let lock = ui.join("package-lock.json");
        let text = std::fs::read_to_string(&lock).unwrap();
        std::fs::write(
            &lock,
            text.replace("\"requires\": true", "\"requires\": true "),
        )
        .unwrap();
        step(Ok(Outcome::Built), "ci\nbuild\n");
        // A failing build fails the step and keeps no stamp: with the sources as they
        // were before it, the next run builds again.
        std::fs::write(ui.join("fail"), "").unwrap();
        step(Err(()), "build\n");
        std::fs::remove_file(ui.join("fail")).unwrap();
        step(Ok(Outcome::Built), "build\n");
        step(Ok(Outcome::UpToDate), "");
    }

    #[test]
    fn the_digest_follows_the_sources_and_the_install_but_not_the_outputs() {
        let files = [("package.json", "{}"), ("src/App.svelte", "<p>a</p>")];
        let one = ui_with(&files);
        let base = sources_digest(one.path(), b"v20").unwrap();
        // The same files elsewhere: the same digest.
        assert_eq!(
            sources_digest(ui_with(&files).path(), b"v20").unwrap(),
            base
        );
        // What the build and npm write does not count.
        std::fs::create_dir_all(one.path().join("dist")).unwrap();
        std::fs::write(one.path().join("dist/index.html"), "x").unwrap();
        std::fs::create_dir_all(one.path().join("node_modules/x")).unwrap();
        std::fs::write(one.path().join("node_modules/x/i.js"), "x").unwrap();
        assert_eq!(sources_digest(one.path(), b"v20").unwrap(), base);
        // A source's contents, a new file, its name and the install all count.
        let with = |extra: (&str, &str)| {
            let mut all = vec![files[0]];
            all.push(extra);
            ui_with(&all)
        };
        let changed = with(("src/App.svelte", "<p>b</p>"));
        assert_ne!(sources_digest(changed.path(), b"v20").unwrap(), base);
        let renamed = with(("src/Main.svelte", "<p>a</p>"));
        assert_ne!(sources_digest(renamed.path(), b"v20").unwrap(), base);
        let added = ui_with(&[files[0], files[1], ("src/lib/new.ts", "")]);
        assert_ne!(sources_digest(added.path(), b"v20").unwrap(), base);
        assert_ne!(sources_digest(one.path(), b"v22").unwrap(), base);
        // A directory named like an output below the top level is a source.
        let nested = ui_with(&[files[0], files[1], ("src/dist/x.ts", "")]);
        assert_ne!(sources_digest(nested.path(), b"v20").unwrap(), base);
    }
}
