//! `logiflow`: the headless replica CLI.
//!
//! Not built yet: the replica engine arrives with the offline-sync issue. Until then the
//! binary says so and exits non-zero rather than pretending to record anything.

fn main() -> std::process::ExitCode {
    eprintln!("logiflow: not built yet (the offline replica is still to come)");
    std::process::ExitCode::from(2)
}
