//! LogiFlow's domain types and rules (work in progress in this commit).
