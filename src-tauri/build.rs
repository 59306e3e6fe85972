//! Tauri's build step, with the app's own commands in the permission manifest so that
//! the window may call only those its capability grants (capabilities/default.json).

use std::path::Path;

fn main() {
    // tauri::generate_context! embeds ui/dist; without it the error is obscure.
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist/index.html");
    println!("cargo:rerun-if-changed={}", dist.display());
    if !dist.exists() {
        panic!(
            "ui/dist/index.html is missing: build the UI first (`cargo xtask test` does; by \
             hand: cd ui && npm ci && npm run build)"
        );
    }
    // Must list the same commands as logiflow_desktop::COMMANDS (a unit test checks).
    let manifest = tauri_build::AppManifest::new().commands(&[
        "app_info",
        "status",
        "stock",
        "stock_kpis",
        "orders",
        "receiving_line",
        "pick_walk",
        "history",
        "record",
        "resolve_item",
        "count_sheet",
        "record_count",
        "accept_clock",
        "warehouses",
        "connect",
        "sync_now",
        "sync_state",
        "scope",
        "conflicts",
        "recent",
        "login",
        "resolve_conflict",
        "sign_out",
        "export_journal",
        "alerts",
        "mark_alerts_read",
        "alerts_to_notify",
        "export",
        "import",
        "commit_import",
        "generate_bins",
        "backoffice",
        "check_code",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("failed to run tauri's build step");
}
