//! Fork evidence: an author who signed two histories of their feed
//! ([`Core::record_fork`], [`Core::fork`], [`Core::forks`]).

use xaeroflux_core::AuthorId;
use xaeroflux_core::xsp::ForkEvidence;

use super::Core;
use crate::error::RecordForkError;
use crate::store::forks;
use crate::store::state::read;

impl Core {
    /// Records evidence that an author forked: two heads of theirs, both signed, that no one
    /// history satisfies ([`ForkEvidence::verify`] must accept it). The sync reports such
    /// evidence ([`SyncEvent::Fork`](crate::net::SyncEvent::Fork)) and records it here itself.
    ///
    /// From then on, durably, across restarts: the store takes no more events of that feed
    /// ([`ImportError::Forked`](crate::ImportError::Forked)), the sync neither fetches nor
    /// serves nor announces it, and [`FeedInfo::forked`](crate::FeedInfo::forked) says so. What
    /// the store holds of it stays readable and provable (it is one of the two histories).
    /// Evidence against this store's own author (its key appended elsewhere too, say in a
    /// copy of the store) stops the sync from serving its feed as well; local appends are not
    /// refused, as only the key's owner can settle which history stands.
    ///
    /// Returns whether the evidence was new: only the first evidence against an author is
    /// kept.
    ///
    /// ```
    /// use xaeroflux::xaeroflux_core::AuthorKey;
    /// use xaeroflux::{Core, Hash};
    /// use xaeroflux::xaeroflux_core::xsp::ForkEvidence;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let core = Core::builder().open(dir.path())?;
    /// // Two heads of one length with different roots, both signed by the author.
    /// let key = AuthorKey::from_secret_bytes(&[7; 32]);
    /// let evidence = ForkEvidence { first: key.sign_head(3, Hash([1; 32])), second: key.sign_head(3, Hash([2; 32])), proof: None };
    /// assert!(core.record_fork(&evidence)?);
    /// assert_eq!(core.fork(&key.author()), Some(evidence));
    /// # Ok(())
    /// # }
    /// ```
    pub fn record_fork(&self, evidence: &ForkEvidence) -> Result<bool, RecordForkError> {
        evidence.verify().map_err(RecordForkError::BadEvidence)?;
        if self.shared.poisoned.load(std::sync::atomic::Ordering::Acquire) {
            return Err(RecordForkError::Poisoned);
        }
        forks::record(&self.shared, evidence).map_err(RecordForkError::Io)
    }

    /// The fork evidence recorded against `author`, if any.
    pub fn fork(&self, author: &AuthorId) -> Option<ForkEvidence> {
        read(&self.shared.forks).get(author).cloned()
    }

    /// Every fork evidence recorded, in the order of their authors.
    pub fn forks(&self) -> Vec<ForkEvidence> {
        read(&self.shared.forks).values().cloned().collect()
    }

    /// Whether fork evidence against `author` is recorded.
    pub fn is_forked(&self, author: &AuthorId) -> bool {
        read(&self.shared.forks).contains_key(author)
    }
}
