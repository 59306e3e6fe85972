//! The catalog domain: warehouses, their location trees, products and lots, with the
//! rules that hold whichever way they are written (API, admin, demo).

pub mod bins;
pub mod location;
pub mod lot;
pub mod product;
pub mod service;
pub mod warehouse;
