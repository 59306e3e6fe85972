//! `logiflow-server`: the central multi-tenant server.
//!
//! Not built yet: the HTTP platform arrives with the server-platform issue. Until then
//! the binary says so and exits non-zero rather than pretending to serve.

fn main() -> std::process::ExitCode {
    eprintln!("logiflow-server: not built yet (the server platform is still to come)");
    std::process::ExitCode::from(2)
}
