//! `cargo xtask bundle`: the desktop app's Linux installer (.deb), built by tauri's own
//! bundler through the npm package `@tauri-apps/cli` (a prebuilt binary, installed by
//! `npm ci` in ui/ with the UI's other tools; compiling tauri-cli with cargo would take
//! half an hour on a small machine). Building a .deb needs no network beyond `npm ci`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

use crate::packages::{self, Need};
use crate::{proc, ui, util};

const HELP: &str = "\
usage: cargo xtask bundle [--debug]

Builds the UI (npm ci and npm run build in ui/), then runs tauri's bundler
(`tauri build --bundles deb`, from ui/node_modules/@tauri-apps/cli) on src-tauri, which
compiles the app in release mode and packs it with the icons of icons/ into
target/release/bundle/deb/LogiFlow_<version>_<arch>.deb.

options:
  --debug   bundle a debug build instead (faster; target/debug/bundle/deb/)

Windows (.msi, .exe) and macOS (.app, .dmg) installers are built the same way on those
systems: `npx tauri build` from src-tauri with ui/node_modules installed (see README).
";

pub fn main(args: &[String]) -> Result<ExitCode> {
    let mut debug = false;
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            "--debug" => debug = true,
            other => bail!("unknown argument `{other}` (see cargo xtask bundle --help)"),
        }
    }
    packages::ensure(&[Need::DesktopBuild])?;
    build_ui()?;
    let debs = bundle(debug)?;
    for deb in &debs {
        eprintln!("bundle: {}", deb.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `npm ci` and the production build of ui/, which the app embeds (each when its inputs
/// changed: `crate::ui`); `npm ci` also installs `@tauri-apps/cli`.
pub fn build_ui() -> Result<()> {
    let ui = util::project_root().join("ui");
    ui::build(&ui).map(|_| ())
}

/// Runs tauri's bundler and returns the .deb files it made.
fn bundle(debug: bool) -> Result<Vec<PathBuf>> {
    let root = util::project_root();
    let cli = root.join("ui/node_modules/.bin/tauri");
    if !cli.exists() {
        bail!(
            "{} is missing: `npm ci` in ui/ installs it (@tauri-apps/cli)",
            cli.display()
        );
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let out = target
        .join(if debug { "debug" } else { "release" })
        .join("bundle/deb");
    // A stale .deb of an older version must not be reported as this build's.
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .with_context(|| format!("failed to clear {}", out.display()))?;
    }
    let mut cmd = Command::new(&cli);
    cmd.args(["build", "--bundles", "deb", "--ci"])
        .current_dir(root.join("src-tauri"))
        .env("CARGO_TARGET_DIR", &target)
        // The UI is built above; tauri.conf.json has no beforeBuildCommand.
        .env("CI", "true");
    if debug {
        cmd.arg("--debug");
    }
    proc::run_ok(&mut cmd)?;
    let debs = debs_in(&out)?;
    if debs.is_empty() {
        bail!(
            "tauri build succeeded but made no .deb in {}",
            out.display()
        );
    }
    Ok(debs)
}

fn debs_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut debs = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "deb") {
            debs.push(path);
        }
    }
    debs.sort();
    Ok(debs)
}
