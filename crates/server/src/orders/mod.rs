//! Orders (issue #15, DESIGN §5.6): suppliers and customers ([`party`]) and purchase
//! orders ([`purchase`]). The rules of states, line edits and receipt flags are
//! `logiflow_core::orders`; these modules hold the row types and field rules, and the
//! services that write a document with its audit entry and outbox event.

pub mod party;
pub mod purchase;
