//! The system packages the commands need, and installing the missing ones.
//!
//! On Debian or Ubuntu as root, missing packages are installed with apt; a machine that
//! has them all does no apt work at all. Elsewhere the xtask prints what is missing and
//! the command that installs it, and stops.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{pg, proc, util};

/// What a package is needed for; a command asks only for what it will use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `initdb`/`pg_ctl` for the throwaway test cluster and the dev cluster.
    Postgres,
    /// Compiling the desktop shell (Tauri on WebKitGTK), which `cargo clippy --workspace`
    /// and the tests do.
    DesktopBuild,
    /// Driving the desktop app in the E2E tests: xvfb and webkit2gtk-driver.
    DesktopE2e,
    /// A Python with `venv` for the libraries the tests run (`crate::python`): the
    /// webhook tests' signature verifier and the API fuzz step's schemathesis.
    TestPython,
}

/// A Debian/Ubuntu package.
#[derive(Debug)]
pub struct SystemPackage {
    /// The apt package name.
    pub name: &'static str,
    pub need: Need,
    /// Another way the package's contents may already be there, for machines where it
    /// was installed under another name (`postgresql-15` without the `postgresql`
    /// metapackage) or not by apt at all.
    pub also_present_if: Option<fn() -> bool>,
}

/// Every system package any command needs. Add a row here, not code.
pub const SYSTEM_PACKAGES: &[SystemPackage] = &[
    SystemPackage {
        name: "postgresql",
        need: Need::Postgres,
        also_present_if: Some(pg::server_binaries_installed),
    },
    // Tauri 2 on Linux: the WebKitGTK 4.1 webview and what its -sys crates link.
    desktop_build("libwebkit2gtk-4.1-dev"),
    desktop_build("libsoup-3.0-dev"),
    desktop_build("librsvg2-dev"),
    desktop_build("libayatana-appindicator3-dev"),
    // The replica's keyring (Secret Service over libdbus) on Linux: the CLI, the desktop
    // shell and the tests all link it.
    desktop_build("libdbus-1-dev"),
    // The C compiler and pkg-config the -sys crates' build scripts run.
    desktop_build("build-essential"),
    desktop_build("pkg-config"),
    // E2E: a display for the window, WebKit's WebDriver (which tauri-driver starts),
    // and the session bus WebKitGTK's processes talk over.
    desktop_e2e("xvfb"),
    desktop_e2e("xauth"),
    desktop_e2e("webkit2gtk-driver"),
    desktop_e2e("dbus"),
    // The OS keyring, exercised for real by the E2E scenario: a Secret Service
    // (gnome-keyring-daemon) on the test's private session bus, read back with
    // secret-tool.
    desktop_e2e("gnome-keyring"),
    desktop_e2e("libsecret-tools"),
    // The tests' Python environment (`crate::python`): Debian splits venv (and the pip
    // it bootstraps) out of python3; a Python built elsewhere has them.
    SystemPackage {
        name: "python3-venv",
        need: Need::TestPython,
        also_present_if: Some(crate::python::venv_available),
    },
];

const fn desktop_build(name: &'static str) -> SystemPackage {
    SystemPackage {
        name,
        need: Need::DesktopBuild,
        also_present_if: None,
    }
}

const fn desktop_e2e(name: &'static str) -> SystemPackage {
    SystemPackage {
        name,
        need: Need::DesktopE2e,
        also_present_if: None,
    }
}

/// Makes sure the packages for `needs` are installed, installing the missing ones when
/// this is Debian/Ubuntu and we are root.
pub fn ensure(needs: &[Need]) -> Result<()> {
    let wanted: Vec<&SystemPackage> = SYSTEM_PACKAGES
        .iter()
        .filter(|package| needs.contains(&package.need))
        .collect();
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|package| !is_present(package))
        .map(|package| package.name)
        .collect();
    if missing.is_empty() {
        let names: Vec<&str> = wanted.iter().map(|package| package.name).collect();
        if names.is_empty() {
            eprintln!("packages: none needed");
        } else {
            eprintln!("packages: all present ({})", names.join(" "));
        }
        return Ok(());
    }
    let list = missing.join(" ");
    let has_apt = Path::new("/etc/debian_version").exists() && util::which("apt-get").is_some();
    if !has_apt {
        bail!(
            "missing system packages: {list}\n\
             these are Debian/Ubuntu package names: install the equivalents with your \
             system's package manager, then rerun"
        );
    }
    if !util::is_root() {
        bail!(
            "missing system packages: {list}\n\
             install them with: sudo apt-get install -y --no-install-recommends {list}\n\
             (as root, cargo xtask installs them itself)"
        );
    }
    eprintln!("packages: installing {list}");
    apt(&["update"])?;
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install)?;
    let still_missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .filter(|package| missing.contains(&package.name) && !is_present(package))
        .map(|package| package.name)
        .collect();
    if !still_missing.is_empty() {
        bail!(
            "apt-get reported success but these packages are still missing: {}",
            still_missing.join(" ")
        );
    }
    Ok(())
}

fn is_present(package: &SystemPackage) -> bool {
    dpkg_installed(package.name) || package.also_present_if.is_some_and(|present| present())
}

/// Whether dpkg says the package is installed (false where there is no dpkg).
fn dpkg_installed(name: &str) -> bool {
    let Ok(output) = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
    else {
        return false;
    };
    output.status.success() && is_installed_status(&String::from_utf8_lossy(&output.stdout))
}

/// `dpkg-query -f='${Status}'` prints "want flag status", e.g. "install ok installed";
/// a removed package whose configuration files remain shows "deinstall ok config-files".
fn is_installed_status(status: &str) -> bool {
    status.split_whitespace().nth(2) == Some("installed")
}

fn apt(args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("apt-get");
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    let status = proc::run(&mut cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", util::display_command(&cmd));
    }
    Ok(())
}

/// Fails with a clear message if a required program is missing, for tools that are not
/// system packages (they come with rustup or Node.js).
pub fn require_program(name: &str, how_to_get_it: &str) -> Result<()> {
    util::which(name)
        .map(|_| ())
        .with_context(|| format!("failed to find `{name}` on PATH: {how_to_get_it}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dpkg_status() {
        assert!(is_installed_status("install ok installed"));
        assert!(!is_installed_status("deinstall ok config-files"));
        assert!(!is_installed_status("install ok half-configured"));
        assert!(!is_installed_status(""));
    }
}
