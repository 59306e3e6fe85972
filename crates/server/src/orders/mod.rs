//! Orders (issue #15, DESIGN §5.6): suppliers and customers ([`party`]), purchase
//! orders ([`purchase`]) and sales orders with their reservations ([`sales`]), and what
//! the two kinds of order share ([`document`]: read, list, audit and announce a change,
//! delete a draft's line). The rules of states, line edits and receipt flags are
//! `logiflow_core::orders`; these modules hold the row types and field rules, and the
//! services that write a document with its audit entry and outbox event.

pub mod document;
pub mod party;
pub mod purchase;
pub mod sales;
