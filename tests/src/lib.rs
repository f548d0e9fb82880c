//! Shared helpers of the workspace-level tests.
//!
//! - [`sim`]: the deterministic XSP simulation (peers, links, simulated time).
//! - [`adversary`]: a man in the middle that tampers with XSP frames.

pub mod adversary;
pub mod sim;
