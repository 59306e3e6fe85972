//! The desktop shell.
//!
//! Not built yet: the Tauri 2 shell arrives with the desktop issue, once the replica
//! engine exists. Until then the binary says so and exits non-zero.

fn main() -> std::process::ExitCode {
    eprintln!("logiflow-desktop: not built yet (the desktop app is still to come)");
    std::process::ExitCode::from(2)
}
