//! The `logiflow-desktop` binary: the desktop app (see the library for what it holds).

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    match logiflow_desktop::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("logiflow-desktop: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
