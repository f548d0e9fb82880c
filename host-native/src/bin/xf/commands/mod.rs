//! The subcommands, grouped by what they touch.

pub mod proof;
pub mod read;
pub mod write;
