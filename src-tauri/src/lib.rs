//! LogiFlow's desktop shell: a Tauri 2 window over the local replica.
//!
//! Everything the window can do goes through the commands in [`commands`], each a
//! one-line mapping onto `logiflow_replica::Replica`; the types they exchange are in
//! [`dto`], from which the UI's TypeScript types are generated.
//!
//! The replica lives in the app data directory (`replica.db`), or in
//! `$LOGIFLOW_DATA_DIR` when that is set (tests, a second profile).

pub mod commands;
pub mod dto;

use std::path::PathBuf;

use tauri::Manager;

/// The environment variable that overrides where the replica lives.
pub const DATA_DIR_ENV: &str = "LOGIFLOW_DATA_DIR";

/// The replica's file name inside the data directory.
pub const REPLICA_FILE: &str = "replica.db";

/// The app's commands, listed once for both the invoke handler and the permission
/// manifest in build.rs (which must name the same ones).
pub const COMMANDS: &[&str] = &["replica_location", "status", "stock", "record"];

fn data_dir(app: &tauri::App) -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(app.path().app_data_dir()?)
}

/// Runs the desktop app until its window closes.
pub fn run() -> Result<(), tauri::Error> {
    tauri::Builder::default()
        // Saves the window's size and position on close and restores them at start.
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .setup(|app| {
            let dir = data_dir(app)?;
            std::fs::create_dir_all(&dir)?;
            app.manage(commands::AppState::open(dir.join(REPLICA_FILE)));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::replica_location,
            commands::status,
            commands::stock,
            commands::record,
        ])
        .run(tauri::generate_context!())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TypeScript the UI imports must be what the Rust types generate today.
    #[test]
    fn bindings_are_up_to_date() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings/index.ts");
        let generated = dto::typescript_bindings();
        if std::env::var_os("UPDATE_BINDINGS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "ui/src/lib/bindings/index.ts is out of date with src-tauri/src/dto.rs: run \
             `UPDATE_BINDINGS=1 cargo test -p logiflow-desktop bindings` and commit the result"
        );
    }

    #[test]
    fn build_script_grants_the_commands_the_handler_serves() {
        let build = include_str!("../build.rs");
        for command in COMMANDS {
            assert!(
                build.contains(&format!("\"{command}\"")),
                "{command} missing from build.rs"
            );
        }
        let capability = include_str!("../capabilities/default.json");
        for command in COMMANDS {
            let permission = format!("\"allow-{}\"", command.replace('_', "-"));
            assert!(
                capability.contains(&permission),
                "{permission} missing from the capability"
            );
        }
    }
}
