//! The subcommands, grouped by what they touch.

pub mod archive;
pub mod backup;
pub mod check;
#[cfg(feature = "net")]
pub mod fetch;
pub mod forks;
#[cfg(feature = "net")]
pub mod net;
pub mod proof;
pub mod read;
pub mod secret;
#[cfg(feature = "net")]
pub mod status;
pub mod write;
