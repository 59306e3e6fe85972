//! `cargo xtask bench`: lists the workspace's benchmarks and runs them.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::{proc, util};

const HELP: &str = "\
usage: cargo xtask bench [-- <cargo bench arguments>...]

Lists the benchmark targets of the workspace (`benches/*.rs` or `[[bench]]` in a crate's
Cargo.toml) and runs them with `cargo bench --workspace --benches`.
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
    let mut cmd = util::cargo()?;
    cmd.args(["bench", "--workspace", "--benches"]);
    if !passthrough.is_empty() {
        cmd.arg("--").args(&passthrough);
    }
    let status = proc::run(&mut cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", util::display_command(&cmd));
    }
    Ok(ExitCode::SUCCESS)
}

/// (package, bench target) pairs, from `cargo metadata`.
fn list_benches() -> Result<Vec<(String, String)>> {
    let mut cmd = util::cargo()?;
    cmd.args(["metadata", "--no-deps", "--format-version", "1"]);
    let output = proc::run_captured(&mut cmd)?;
    if !output.status.success() {
        bail!("{}", proc::describe_failure(&cmd, &output));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("failed to read cargo metadata's output")?;
    let mut benches = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bench = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bench"));
            if is_bench {
                benches.push((
                    package["name"].as_str().unwrap_or("?").to_owned(),
                    target["name"].as_str().unwrap_or("?").to_owned(),
                ));
            }
        }
    }
    Ok(benches)
}
