//! LogiFlow's desktop shell: a Tauri 2 window over the local replica.
//!
//! Everything the window can do goes through the commands in [`commands`], each a
//! one-line mapping onto `logiflow_replica::Replica`; the types they exchange are the
//! replica's own API types, from which (feature `ts`) the UI's TypeScript types are
//! generated ([`typescript_bindings`]). The syncing itself runs in [`background`]: a
//! thread that syncs every minute, after each recording and when asked, and emits its
//! progress and the replica's status as events the window listens to.
//!
//! The replica lives in the app data directory (`replica.db`), or in
//! `$LOGIFLOW_DATA_DIR` when that is set (tests, a second profile). The app logs to
//! `logiflow-desktop.log` in the OS log directory, and a second launch focuses the first
//! window instead of opening another. New alerts worth interrupting a person for become OS
//! notifications (the notification plugin, called by the window).

pub mod background;
pub mod commands;
pub mod payload;
pub mod state;

use std::path::PathBuf;

use tauri::Manager;
use ts_rs::TS;

/// The environment variable that overrides where the replica lives.
pub const DATA_DIR_ENV: &str = "LOGIFLOW_DATA_DIR";

/// The environment variable naming the server the app is pointed at (shown in the
/// settings; `cargo xtask dev` sets it to the dev server).
pub const SERVER_URL_ENV: &str = "LOGIFLOW_SERVER_URL";

/// The replica's file name inside the data directory.
pub const REPLICA_FILE: &str = "replica.db";

/// The log file's name (without `.log`) in the OS log directory.
pub const LOG_FILE: &str = "logiflow-desktop";

/// The largest the log file grows before it is rotated (1 MiB, in bytes).
const LOG_FILE_MAX_BYTES: u128 = 1024 * 1024;

/// The app's commands, listed once (`command_names.rs`) for the permission manifest in
/// build.rs, which includes the same file; the invoke handler below names each as a path,
/// and a unit test checks that it serves exactly these.
pub const COMMANDS: &[&str] = include!("command_names.rs");

fn data_dir(app: &tauri::App) -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(app.path().app_data_dir()?)
}

fn server_url() -> Option<String> {
    std::env::var(SERVER_URL_ENV)
        .ok()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
}

/// Runs the desktop app until its window closes.
///
/// Longer than 80 lines: Tauri's builder is one chained expression (plugins, set-up,
/// the command list), which reads best in one piece.
///
/// Longer than 80 lines: Tauri's builder is one expression (plugins, state, commands, the
/// setup hook), in the order they must be registered.
pub fn run() -> Result<(), tauri::Error> {
    use tauri_plugin_log::{RotationStrategy, Target, TargetKind};

    tauri::Builder::default()
        // First, so that a second launch hands over before anything else starts: it
        // focuses the running app's window and exits. Without a D-Bus session (Linux)
        // the plugin does nothing and each launch runs on its own.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            log::info!("a second launch asked for the window");
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(
            tauri_plugin_log::Builder::new()
                .clear_targets()
                .targets([
                    Target::new(TargetKind::LogDir {
                        file_name: Some(LOG_FILE.into()),
                    }),
                    Target::new(TargetKind::Stderr),
                ])
                .level(log::LevelFilter::Info)
                .max_file_size(LOG_FILE_MAX_BYTES)
                .rotation_strategy(RotationStrategy::KeepOne)
                .build(),
        )
        // Saves the window's size and position on close and restores them at start.
        .plugin(tauri_plugin_window_state::Builder::default().build())
        // OS notifications of new alerts, sent by the window (its strings are the UI's).
        .plugin(tauri_plugin_notification::init())
        // The save dialog of exports (the window asks for a path, the shell writes it).
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let dir = data_dir(app)?;
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(REPLICA_FILE);
            let info = state::AppInfo {
                replica_path: path.display().to_string(),
                server_url: server_url(),
                log_dir: app
                    .path()
                    .app_log_dir()
                    .ok()
                    .map(|dir| dir.display().to_string()),
                version: app.package_info().version.to_string(),
            };
            log::info!(
                "LogiFlow {} starting; replica at {}; server {}",
                info.version,
                info.replica_path,
                info.server_url.as_deref().unwrap_or("(none)")
            );
            let gate = background::Gate::default();
            app.manage(state::AppState::open(path.clone(), info, gate.clone()));
            // Started last, once the commands it serves can run: its first tick syncs at
            // start-up when the device is connected.
            let sync_loop = background::start(app.handle(), path, gate)?;
            app.manage(sync_loop);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::status,
            commands::stock,
            commands::stock_kpis,
            commands::orders,
            commands::receiving_line,
            commands::pick_walk,
            commands::history,
            commands::record,
            commands::resolve_item,
            commands::count_sheet,
            commands::record_count,
            commands::accept_clock,
            commands::warehouses,
            commands::connect,
            commands::sync_now,
            commands::sync_state,
            commands::scope,
            commands::conflicts,
            commands::recent,
            commands::login,
            commands::resolve_conflict,
            commands::sign_out,
            commands::export_journal,
            commands::alerts,
            commands::mark_alerts_read,
            commands::alerts_to_notify,
            commands::export,
            commands::import,
            commands::commit_import,
            commands::generate_bins,
            commands::backoffice,
            commands::check_code,
        ])
        .run(tauri::generate_context!())
}

/// The TypeScript the UI imports (`ui/src/lib/bindings/index.ts`): the shell's own
/// types ([`state::AppInfo`], the background loop's [`background::SyncView`], …), the
/// replica's API types, each generated by ts-rs, and the names of the events the shell
/// emits.
pub fn typescript_bindings() -> String {
    let mut decls = vec![
        state::AppInfo::decl(),
        payload::SignIn::decl(),
        logiflow_replica::Connected::decl(),
        logiflow_replica::JournalRow::decl(),
        payload::ResolveConflict::decl(),
        payload::ExportFile::decl(),
        payload::ImportFile::decl(),
        payload::ImportProgress::decl(),
        background::SyncView::decl(),
    ];
    decls.extend(logiflow_replica::typescript_declarations());
    let mut out = String::from(
        "// Generated by ts-rs from src-tauri's AppInfo and crates/replica's API types. Do not\n\
         // edit: run `UPDATE_BINDINGS=1 cargo test -p logiflow-desktop bindings` instead.\n",
    );
    for decl in decls {
        out.push_str("\nexport ");
        out.push_str(&decl);
        out.push('\n');
    }
    out.push_str(&format!(
        "\n/** The event that carries the background sync loop's SyncView on each change. */\n\
         export const SYNC_EVENT = {:?};\n\
         \n/** The event that carries the replica's Status after each background sync. */\n\
         export const STATUS_EVENT = {:?};\n\
         \n/** Sync errors only a person can fix: the background loop stops syncing unasked. */\n\
         export const NEEDS_A_PERSON: readonly string[] = {:?};\n\
         \n/** The longest reason for forcing or voiding a held movement, in characters. */\n\
         export const RESOLVE_REASON_LEN_MAX = {};\n\
         \n/** Digits that make a typed quantity a barcode scanned by mistake (core's `SCANNED_QTY_DIGITS`). */\n\
         export const SCANNED_QTY_DIGITS = {};\n\
         \n/** Every export kind, in the order the app lists them. */\n\
         export const EXPORT_KINDS: readonly ExportKind[] = {:?};\n\
         \n/** The export kinds filtered by warehouse (the replica's rule). */\n\
         export const EXPORT_BY_WAREHOUSE: readonly ExportKind[] = {:?};\n\
         \n/** The export kinds filtered by a time range (the replica's rule). */\n\
         export const EXPORT_BY_TIME: readonly ExportKind[] = {:?};\n\
         \n/** Every import kind, in the order the app lists them. */\n\
         export const IMPORT_KINDS: readonly ImportKind[] = {:?};\n\
         \n/** The most sales orders one pick walk (a wave) takes. */\n\
         export const WAVE_ORDERS_MAX = {};\n",
        background::SYNC_EVENT,
        background::STATUS_EVENT,
        background::NEEDS_A_PERSON,
        logiflow_core::sync::RESOLVE_REASON_LEN_MAX,
        logiflow_core::SCANNED_QTY_DIGITS,
        export_kinds(|_| true),
        export_kinds(logiflow_replica::ExportKind::per_warehouse),
        export_kinds(logiflow_replica::ExportKind::in_time),
        logiflow_replica::ImportKind::ALL.map(logiflow_replica::ImportKind::as_str),
        logiflow_replica::WAVE_ORDERS_MAX,
    ));
    out
}

/// The names of the export kinds `keep` keeps.
fn export_kinds(keep: fn(logiflow_replica::ExportKind) -> bool) -> Vec<&'static str> {
    logiflow_replica::ExportKind::ALL
        .into_iter()
        .filter(|k| keep(*k))
        .map(logiflow_replica::ExportKind::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TypeScript the UI imports must be what the Rust types generate today.
    #[test]
    fn bindings_are_up_to_date() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings/index.ts");
        let generated = typescript_bindings();
        if std::env::var_os("UPDATE_BINDINGS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "ui/src/lib/bindings/index.ts is out of date with the Rust types: run \
             `UPDATE_BINDINGS=1 cargo test -p logiflow-desktop bindings` and commit the result"
        );
        // Every type a command takes or returns is declared.
        for name in [
            "AppInfo",
            "ErrorBody",
            "Status",
            "StockQuery",
            "StockLine",
            "Action",
            "Recorded",
            "ProductRef",
            "CountScope",
            "CountSheet",
            "CountSubmission",
            "AdjustReason",
            "KindName",
            "OutcomeName",
            "FlagName",
            "SignIn",
            "Connected",
            "JournalRow",
            "WarehouseInfo",
            "SyncProgress",
            "SyncReport",
            "SyncView",
            "OpenOrders",
            "PickStop",
            "LineMatch",
        ] {
            assert!(
                generated.contains(&format!("export type {name} = ")),
                "{name} is not declared"
            );
        }
    }

    #[test]
    fn the_invoke_handler_serves_exactly_the_listed_commands() {
        let source = include_str!("lib.rs");
        let start = source
            .find("generate_handler![")
            .expect("no invoke handler");
        let block = &source[start..];
        let block = &block[..block.find(']').expect("an unclosed handler list")];
        let served: Vec<&str> = block
            .split("commands::")
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| c != '_' && !c.is_alphanumeric())
                    .next()
                    .unwrap_or("")
            })
            .collect();
        assert_eq!(served, COMMANDS);
    }

    #[test]
    fn the_capability_grants_the_commands_the_handler_serves() {
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
