//! The subcommands, grouped by what they touch.

#[cfg(feature = "net")]
pub mod net;
pub mod proof;
pub mod read;
pub mod write;
