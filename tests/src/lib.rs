//! Shared helpers of the workspace-level tests.
//!
//! - [`sim`]: the deterministic XSP simulation (peers, links, simulated time).

pub mod sim;
