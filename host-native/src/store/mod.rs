//! The storage engine: segment files of pages, the redb index, the writer thread, recovery.

pub(crate) mod check;
pub(crate) mod files;
pub(crate) mod forks;
pub(crate) mod hasher;
pub(crate) mod logfile;
pub(crate) mod meta;
pub(crate) mod nodes;
pub(crate) mod open;
pub(crate) mod segments;
pub(crate) mod space;
pub(crate) mod state;
pub(crate) mod syncer;
pub(crate) mod tail;
pub(crate) mod taillog;
pub(crate) mod wait;
pub(crate) mod writer;
