//! Decisions under row locks, as every write path takes them: [`load`] locks stock rows
//! in key order and loads them, with the ledger tail after the oldest movement to
//! decide, into a `core::Engine`; [`write()`](write::write) writes what the engine decided in one
//! statement. The online group commit (`crate::group_commit`) and the journal's push,
//! force, void and retry (`crate::journal`) are both built from these two.

pub mod load;
pub mod write;
