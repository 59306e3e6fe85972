//! `cargo xtask bench`: lists the workspace's benchmarks and runs them.

use std::process::ExitCode;

use std::fs;

use anyhow::{Result, bail};

use crate::{proc, util};

const HELP: &str = "\
usage: cargo xtask bench [-- <cargo bench arguments>...]

Lists the benchmark targets of the workspace (`benches/*.rs` or `[[bench]]` in a crate's
Cargo.toml) and runs them, and only them, with `cargo bench --workspace --bench '*'`.
";

pub fn main(args: &[String]) -> Result<ExitCode> {
    let passthrough: Vec<String> = match args {
        [] => Vec::new(),
        [flag] if flag == "-h" || flag == "--help" => {
            print!("{HELP}");
            return Ok(ExitCode::SUCCESS);
        }
        [dashes, rest @ ..] if dashes == "--" => rest.to_vec(),
        [other, ..] => bail!("unknown argument `{other}` (see cargo xtask bench --help)"),
    };
    let benches = list_benches()?;
    if benches.is_empty() {
        println!(
            "no benchmarks yet: add them as benches/*.rs in a crate and cargo xtask bench \
             will list and run them"
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("benchmarks:");
    for (package, bench) in &benches {
        println!("  {package}: {bench}");
    }
    let target = util::claim_shared_target()?;
    let mut cmd = util::cargo_in(&target);
    cmd.args(["bench", "--workspace", "--bench", "*"]);
    if !passthrough.is_empty() {
        cmd.arg("--").args(&passthrough);
    }
    let status = proc::run(&mut cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", util::display_command(&cmd));
    }
    Ok(ExitCode::SUCCESS)
}

/// (crate directory, bench target) pairs: the files cargo discovers by itself
/// (`benches/*.rs`, `benches/*/main.rs`) and `[[bench]]` entries in a crate's
/// Cargo.toml. Read from the files rather than `cargo metadata`, whose JSON would need
/// serde_json, the largest part of building the xtask in a fresh clone.
fn list_benches() -> Result<Vec<(String, String)>> {
    let root = util::project_root();
    let mut benches = Vec::new();
    for member in util::workspace_members()? {
        let dir = root.join(&member.dir);
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let mut found = declared_benches(&manifest);
        if let Ok(entries) = fs::read_dir(dir.join("benches")) {
            for entry in entries.flatten() {
                let path = entry.path();
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
                let discovered = if path.is_dir() {
                    path.join("main.rs").is_file()
                } else {
                    path.extension().is_some_and(|ext| ext == "rs")
                };
                if let (true, Some(stem)) = (discovered, stem) {
                    found.push(stem);
                }
            }
        }
        found.sort();
        found.dedup();
        benches.extend(found.into_iter().map(|bench| (member.name.clone(), bench)));
    }
    Ok(benches)
}

/// The names of the `[[bench]]` tables of a Cargo.toml.
fn declared_benches(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bench = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bench = line == "[[bench]]";
        } else if in_bench {
            if let Some(value) = line.strip_prefix("name").map(str::trim_start) {
                if let Some(value) = value.strip_prefix('=') {
                    names.push(value.trim().trim_matches('"').to_owned());
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_declared_benches() {
        let manifest = "[package]\nname = \"core\"\n\n[[bench]]\nname = \"replay\"\nharness = false\n\n[dependencies]\nname = \"not-a-bench\"\n";
        assert_eq!(declared_benches(manifest), ["replay"]);
    }
}
