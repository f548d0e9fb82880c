//! Fork evidence kept in the index (table `forks`, one row per author; `docs/storage.md`).
//!
//! Evidence is recorded rarely (when a sync finds that an author signed two histories), so a
//! record is its own durable redb transaction, made on the caller's thread: it touches no
//! table the writer thread's checkpoints write, and redb runs write transactions one at a time.

use std::collections::BTreeMap;

use redb::ReadableTable as _;
use xaeroflux_core::AuthorId;
use xaeroflux_core::xsp::ForkEvidence;

use super::meta;
use super::state::{Shared, read, write};
use crate::error::IoError;

/// The evidence recorded per author.
pub(crate) type Forks = BTreeMap<AuthorId, ForkEvidence>;

/// Why the fork table could not be read at open.
pub(crate) enum LoadError {
    Index(redb::Error),
    /// A row whose key is not an author or whose value does not decode.
    Malformed,
}

/// Reads every row of the fork table (none if the table was never created).
pub(crate) fn load(rtx: &redb::ReadTransaction) -> Result<Forks, LoadError> {
    let table = match rtx.open_table(meta::FORKS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Forks::new()),
        Err(e) => return Err(LoadError::Index(e.into())),
    };
    let mut forks = Forks::new();
    for item in table.iter().map_err(|e| LoadError::Index(e.into()))? {
        let (k, v) = item.map_err(|e| LoadError::Index(e.into()))?;
        let author = AuthorId(k.value().try_into().map_err(|_| LoadError::Malformed)?);
        let evidence = meta::decode_fork_row(v.value()).ok_or(LoadError::Malformed)?;
        if evidence.author() != author {
            return Err(LoadError::Malformed);
        }
        forks.insert(author, evidence);
    }
    Ok(forks)
}

/// Records `evidence` (already verified) durably, unless evidence against its author is
/// recorded already; returns whether it was new.
pub(crate) fn record(shared: &Shared, evidence: &ForkEvidence) -> Result<bool, IoError> {
    let author = evidence.author();
    if read(&shared.forks).contains_key(&author) {
        return Ok(false);
    }
    // The table decides, under redb's one-writer-at-a-time lock: of two records of one author,
    // the second finds the first's row and stores nothing. The in-memory map is not held
    // across the commit, so the imports and announcements that read it do not wait for it.
    let ix = |e: redb::Error| IoError::index("record fork evidence", e);
    let txn = shared.db.begin_write().map_err(|e| ix(e.into()))?;
    {
        let mut table = txn.open_table(meta::FORKS).map_err(|e| ix(e.into()))?;
        if table.get(author.as_bytes().as_slice()).map_err(|e| ix(e.into()))?.is_some() {
            return Ok(false);
        }
        table
            .insert(author.as_bytes().as_slice(), meta::encode_fork_row(evidence).as_slice())
            .map_err(|e| ix(e.into()))?;
    }
    txn.commit().map_err(|e| ix(e.into()))?;
    write(&shared.forks).insert(author, evidence.clone());
    Ok(true)
}
