//! `cargo xtask`: the developer entry points (being written).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("xtask: not built yet")
}
