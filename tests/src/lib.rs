//! Cross-crate end-to-end tests live here as integration tests (`tests/*.rs`); this
//! library holds what they share.
