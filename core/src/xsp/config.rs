//! Session configuration: role, capabilities and the limits announced in HELLO.

use core::fmt;

use super::frame::MIN_FRAME;
use crate::event::MAX_PAYLOAD_LEN;
use crate::page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MIN_PAGE_SIZE};

/// The protocol version this implementation speaks.
pub const VERSION: u64 = 1;
/// The smallest `max_feeds` any implementation announces; also the most feeds a side
/// announces before it has read the peer's HELLO.
pub const MIN_FEEDS: u32 = 1024;
/// The smallest byte window any implementation announces.
pub const MIN_WINDOW_BYTES: u64 = 64 * 1024;

/// Which end of the stream this session is. The two ends of a session must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Opened the stream.
    Initiator,
    /// Accepted the stream.
    Responder,
}

impl Role {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Role::Initiator => 0,
            Role::Responder => 1,
        }
    }
}

/// Capability bits announced in HELLO; the ones in force are the AND of both sides'.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(pub u64);

impl Capabilities {
    /// Serves and requests feeds (HEADS, WANT, PAGES, RANGE, PROOF).
    pub const SYNC: Capabilities = Capabilities(1);
    /// The application merges CRDT-flagged events (informational for XSP).
    pub const CRDT: Capabilities = Capabilities(2);
    /// Accepts APP frames (channel 0 carries MCP messages).
    pub const MCP: Capabilities = Capabilities(4);
    /// Stays open after catch-up and pushes new events to LIVE wants.
    pub const LIVE: Capabilities = Capabilities(8);
    /// Takes wants back (UNWANT, UNWANT_DONE): a side that stops wanting a feed tells the
    /// holder, which stops sending it, instead of closing the session.
    pub const UNWANT: Capabilities = Capabilities(16);
    /// No capability.
    pub const NONE: Capabilities = Capabilities(0);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }
    /// Union.
    pub const fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }
    /// Intersection.
    pub const fn intersect(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 & other.0)
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Capabilities({:#x}", self.0)?;
        for (c, n) in [
            (Self::SYNC, "SYNC"),
            (Self::CRDT, "CRDT"),
            (Self::MCP, "MCP"),
            (Self::LIVE, "LIVE"),
            (Self::UNWANT, "UNWANT"),
        ] {
            if self.contains(c) {
                write!(f, " {n}")?;
            }
        }
        f.write_str(")")
    }
}

/// The limits a side announces in HELLO; the peer must stay within them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest frame (type + body) accepted.
    pub max_frame: u64,
    /// PAGES window in page units.
    pub max_pages: u64,
    /// PAGES window in canonical event bytes.
    pub max_bytes: u64,
    /// Most feeds tracked from the peer's HEADS.
    pub max_feeds: u32,
    /// Most RANGE/PROOF requests the peer may have outstanding.
    pub max_requests: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: u64::from(MAX_PAYLOAD_LEN) + 64 * 1024,
            max_pages: 512,
            max_bytes: 8 * 1024 * 1024,
            max_feeds: 16 * 1024,
            max_requests: 16,
        }
    }
}

impl Limits {
    /// Checks the protocol minimums.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_frame < MIN_FRAME {
            return Err(ConfigError::BelowMinimum { field: "max_frame", min: MIN_FRAME });
        }
        if self.max_pages == 0 {
            return Err(ConfigError::BelowMinimum { field: "max_pages", min: 1 });
        }
        if self.max_bytes < MIN_WINDOW_BYTES {
            return Err(ConfigError::BelowMinimum { field: "max_bytes", min: MIN_WINDOW_BYTES });
        }
        if self.max_feeds < MIN_FEEDS {
            return Err(ConfigError::BelowMinimum { field: "max_feeds", min: u64::from(MIN_FEEDS) });
        }
        if self.max_requests == 0 {
            return Err(ConfigError::BelowMinimum { field: "max_requests", min: 1 });
        }
        Ok(())
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A limit under the protocol minimum.
    BelowMinimum {
        /// The field.
        field: &'static str,
        /// The minimum.
        min: u64,
    },
    /// A page size that is not a power of two from 1 KiB to 1 MiB.
    BadPageSize(u32),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BelowMinimum { field, min } => write!(f, "{field} must be at least {min}"),
            Self::BadPageSize(s) => write!(f, "page size {s} is not a power of two from 1 KiB to 1 MiB"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// Everything a session needs to know about the local side.
///
/// ```
/// use xaeroflux_core::xsp::{Config, Capabilities};
/// let config = Config::new([7; 32]).with_live(false).with_capabilities(Capabilities::SYNC);
/// assert!(!config.live());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub(crate) space: [u8; 32],
    pub(crate) page_size: u32,
    pub(crate) capabilities: Capabilities,
    pub(crate) limits: Limits,
    pub(crate) idle_timeout_us: u64,
    pub(crate) target_frame: usize,
    pub(crate) live: bool,
    pub(crate) chatter_burst: u32,
    pub(crate) chatter_per_sec: u32,
    pub(crate) incarnation: Option<u64>,
}

impl Config {
    /// Defaults for the space `space`: 16 KiB pages, SYNC + LIVE + UNWANT, default [`Limits`], a 30 s
    /// idle timeout, PAGES frames of about 256 KiB, live mode on.
    pub fn new(space: [u8; 32]) -> Config {
        Config {
            space,
            page_size: DEFAULT_PAGE_SIZE,
            capabilities: Capabilities::SYNC.union(Capabilities::LIVE).union(Capabilities::UNWANT),
            limits: Limits::default(),
            idle_timeout_us: 30_000_000,
            target_frame: 256 * 1024,
            live: true,
            chatter_burst: 256,
            chatter_per_sec: 64,
            incarnation: None,
        }
    }
    /// The page size of the local store (every replica of a space should use one size).
    pub fn with_page_size(mut self, page_size: u32) -> Result<Config, ConfigError> {
        if !page_size.is_power_of_two() || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(ConfigError::BadPageSize(page_size));
        }
        self.page_size = page_size;
        Ok(self)
    }
    /// The capabilities offered. LIVE is also governed by [`with_live`](Self::with_live).
    pub fn with_capabilities(mut self, caps: Capabilities) -> Config {
        self.capabilities = caps;
        self
    }
    /// The limits announced (checked against the protocol minimums).
    pub fn with_limits(mut self, limits: Limits) -> Result<Config, ConfigError> {
        limits.validate()?;
        self.limits = limits;
        Ok(self)
    }
    /// Close after this long without receiving a frame (0: never). Keep-alive PINGs are
    /// sent at half the peer's period.
    pub fn with_idle_timeout_us(mut self, us: u64) -> Config {
        self.idle_timeout_us = us;
        self
    }
    /// The size PAGES frames aim at (a single larger page is still sent alone).
    pub fn with_target_frame(mut self, bytes: usize) -> Config {
        self.target_frame = bytes.clamp(1024, MIN_FRAME as usize * 16);
        self
    }
    /// Whether to stay open after catch-up (needs LIVE on both sides). Without it, the
    /// session closes with `NONE` once both sides are caught up.
    pub fn with_live(mut self, live: bool) -> Config {
        self.live = live;
        self.capabilities = if live {
            self.capabilities.union(Capabilities::LIVE)
        } else {
            Capabilities(self.capabilities.0 & !Capabilities::LIVE.0)
        };
        self
    }
    /// The chatter budget: `burst` frames that carry nothing new, refilled at `per_sec`.
    pub fn with_chatter_budget(mut self, burst: u32, per_sec: u32) -> Config {
        self.chatter_burst = burst.max(1);
        self.chatter_per_sec = per_sec;
        self
    }
    /// The incarnation sent in HELLO (none by default): a number the host draws at random
    /// each time it starts and gives every session of that run. A peer holding a session
    /// with this host that learns a different incarnation from a new session knows the host
    /// restarted and the old session is dead ([`Event::Connected`](super::Event::Connected)
    /// reports the peer's).
    pub fn with_incarnation(mut self, incarnation: u64) -> Config {
        self.incarnation = Some(incarnation);
        self
    }
    /// The incarnation sent in HELLO, if any.
    pub fn incarnation(&self) -> Option<u64> {
        self.incarnation
    }
    /// The space id.
    pub fn space(&self) -> &[u8; 32] {
        &self.space
    }
    /// The local page size.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }
    /// The capabilities offered.
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
    /// The limits announced.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// Whether live mode is wanted.
    pub fn live(&self) -> bool {
        self.live
    }
}
