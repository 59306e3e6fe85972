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
    // The same list as logiflow_desktop::COMMANDS: one file, included by both.
    println!("cargo:rerun-if-changed=src/command_names.rs");
    let commands: &[&str] = include!("src/command_names.rs");
    let manifest = tauri_build::AppManifest::new().commands(commands);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("failed to run tauri's build step");
}
