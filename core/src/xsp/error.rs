//! Error codes on the wire and the precise errors a session closes with.

use core::fmt;

use super::codec::DecodeError;
use super::config::Capabilities;
use super::frame::FrameError;
use crate::head::AuthorId;
use crate::mmr::{ProofDecodeError, ProofError};

/// An ERROR code (see `docs/xsp.md`). Unknown codes from a peer are kept as numbers.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u64);

impl ErrorCode {
    /// Normal close.
    pub const NONE: ErrorCode = ErrorCode(0);
    /// Other protocol violation.
    pub const PROTOCOL: ErrorCode = ErrorCode(1);
    /// No common version.
    pub const VERSION: ErrorCode = ErrorCode(2);
    /// A frame over the limit.
    pub const FRAME_TOO_LARGE: ErrorCode = ErrorCode(3);
    /// A body that does not decode.
    pub const MALFORMED: ErrorCode = ErrorCode(4);
    /// An unknown frame type.
    pub const UNKNOWN_TYPE: ErrorCode = ErrorCode(5);
    /// A message not valid now.
    pub const UNEXPECTED: ErrorCode = ErrorCode(6);
    /// Over an announced limit.
    pub const LIMIT: ErrorCode = ErrorCode(7);
    /// Over the flow-control window.
    pub const FLOW_CONTROL: ErrorCode = ErrorCode(8);
    /// A signature that does not verify.
    pub const BAD_SIGNATURE: ErrorCode = ErrorCode(9);
    /// A head that goes back.
    pub const BAD_HEAD: ErrorCode = ErrorCode(10);
    /// Events that do not verify against the signed head.
    pub const VERIFICATION: ErrorCode = ErrorCode(11);
    /// Bad page numbers, boundaries or compact events.
    pub const BAD_PAGE: ErrorCode = ErrorCode(12);
    /// A bad, missing or extra proof.
    pub const BAD_PROOF: ErrorCode = ErrorCode(13);
    /// FORK evidence that proves nothing.
    pub const BAD_EVIDENCE: ErrorCode = ErrorCode(14);
    /// Another space.
    pub const SPACE_MISMATCH: ErrorCode = ErrorCode(15);
    /// A capability not in force.
    pub const CAPABILITY: ErrorCode = ErrorCode(16);
    /// Nothing received in time.
    pub const TIMEOUT: ErrorCode = ErrorCode(17);
    /// Too many frames carrying nothing new.
    pub const CHATTER: ErrorCode = ErrorCode(18);
    /// Both sides claim one role.
    pub const ROLE: ErrorCode = ErrorCode(19);
    /// The sender's own store failed.
    pub const INTERNAL: ErrorCode = ErrorCode(20);

    /// The code's name, or `"?"` for codes this version does not know.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 21] = [
            "NONE",
            "PROTOCOL",
            "VERSION",
            "FRAME_TOO_LARGE",
            "MALFORMED",
            "UNKNOWN_TYPE",
            "UNEXPECTED",
            "LIMIT",
            "FLOW_CONTROL",
            "BAD_SIGNATURE",
            "BAD_HEAD",
            "VERIFICATION",
            "BAD_PAGE",
            "BAD_PROOF",
            "BAD_EVIDENCE",
            "SPACE_MISMATCH",
            "CAPABILITY",
            "TIMEOUT",
            "CHATTER",
            "ROLE",
            "INTERNAL",
        ];
        usize::try_from(self.0).ok().and_then(|i| NAMES.get(i)).copied().unwrap_or("?")
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What is wrong with the pages of a PAGES frame (or the events of a RANGE_RESPONSE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageFault {
    /// The first event is not the next one expected.
    WrongFirstSeq {
        /// The seq expected.
        expected: u64,
        /// The seq found.
        got: u64,
    },
    /// The page number does not continue the stream.
    WrongPageNumber {
        /// The page expected (or its successor).
        expected: u64,
        /// The page found.
        got: u64,
    },
    /// The offset inside the page does not continue the stream.
    WrongPageOffset {
        /// The offset expected.
        expected: u64,
        /// The offset found.
        got: u64,
    },
    /// A page holds more than one event and more bytes than a page.
    Overfull {
        /// The page.
        page: u64,
    },
    /// An event that would have fit in the previous page starts a new one.
    PackingRule {
        /// The page that was closed too early.
        page: u64,
    },
    /// The batch goes past the head it is verified against.
    PastTarget {
        /// End of the batch.
        end: u64,
        /// Length of the head.
        target: u64,
    },
    /// The page count disagrees with the pages present.
    PageCount,
    /// A compact event does not decode.
    Event(DecodeError),
    /// The `target` is not the latest head the peer announced.
    WrongTarget {
        /// The latest announced length.
        announced: u64,
        /// The target found.
        got: u64,
    },
    /// The range does not match the request.
    WrongRange,
}

impl fmt::Display for PageFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongFirstSeq { expected, got } => write!(f, "batch starts at seq {got}, expected {expected}"),
            Self::WrongPageNumber { expected, got } => write!(f, "page number {got}, expected {expected}"),
            Self::WrongPageOffset { expected, got } => write!(f, "page offset {got}, expected {expected}"),
            Self::Overfull { page } => write!(f, "page {page} holds more than a page"),
            Self::PackingRule { page } => write!(f, "page {page} closed although the next event fits"),
            Self::PastTarget { end, target } => write!(f, "batch ends at {end}, past the head length {target}"),
            Self::PageCount => f.write_str("page count disagrees with the pages present"),
            Self::Event(e) => write!(f, "compact event: {e}"),
            Self::WrongTarget { announced, got } => {
                write!(f, "target {got} is not the announced head length {announced}")
            }
            Self::WrongRange => f.write_str("range response does not match the request"),
        }
    }
}

/// Why a session closed (or was closed by the peer).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The byte stream is not a sequence of acceptable frames.
    Frame(FrameError),
    /// The first frame is not a HELLO.
    FirstFrameNotHello(u8),
    /// A message body does not decode.
    Decode {
        /// The frame type.
        ty: u8,
        /// What is wrong.
        error: DecodeError,
    },
    /// No version in common.
    Version {
        /// Peer's range.
        peer_min: u64,
        /// Peer's range.
        peer_max: u64,
    },
    /// The peer is in another space.
    SpaceMismatch,
    /// Both sides claim the same role.
    SameRole,
    /// A HELLO limit below the protocol minimum.
    LimitBelowMinimum(&'static str),
    /// A message that is not valid in the current state.
    Unexpected(&'static str),
    /// A feed index the sender never announced (or we never announced).
    UnknownFeed(u64),
    /// More feeds than `max_feeds`.
    TooManyFeeds(u32),
    /// More outstanding requests than `max_requests`.
    TooManyRequests(u32),
    /// A request id already outstanding.
    DuplicateRequest(u64),
    /// A response to no outstanding request.
    UnknownRequest(u64),
    /// A message needing a capability that is not in force.
    Capability(Capabilities),
    /// Over the flow-control window, or credit for more than was outstanding.
    FlowControl(&'static str),
    /// A signed head whose signature does not verify.
    BadSignature(AuthorId),
    /// A head shorter than one the peer announced before.
    HeadRegressed {
        /// The author.
        author: AuthorId,
        /// The earlier length.
        from: u64,
        /// The new length.
        to: u64,
    },
    /// Events that do not verify against the signed head.
    Verification {
        /// The author.
        author: AuthorId,
        /// First seq of the batch.
        first_seq: u64,
        /// Why.
        error: ProofError,
    },
    /// Bad pages or compact events.
    BadPage {
        /// The author.
        author: AuthorId,
        /// What is wrong.
        fault: PageFault,
    },
    /// A proof that does not decode, is for the wrong sizes, or is missing or extra.
    BadProof {
        /// The author.
        author: AuthorId,
        /// What is wrong.
        what: &'static str,
        /// The decode error, if that is what failed.
        decode: Option<ProofDecodeError>,
    },
    /// FORK evidence that does not prove a fork.
    BadEvidence(&'static str),
    /// Nothing received for the idle period.
    Timeout,
    /// Too many frames that carry nothing new.
    Chatter,
    /// The local store failed to serve what was announced.
    Internal(&'static str),
    /// The peer closed the session with an error code.
    Peer {
        /// The code.
        code: ErrorCode,
        /// The detail value.
        detail: u64,
    },
}

impl SessionError {
    /// The code sent to the peer for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Frame(FrameError::TooLarge { .. }) => ErrorCode::FRAME_TOO_LARGE,
            Self::Frame(_) => ErrorCode::MALFORMED,
            Self::FirstFrameNotHello(_) => ErrorCode::UNEXPECTED,
            Self::Decode { error: DecodeError::UnknownType(_), .. } => ErrorCode::UNKNOWN_TYPE,
            Self::Decode { .. } => ErrorCode::MALFORMED,
            Self::Version { .. } => ErrorCode::VERSION,
            Self::SpaceMismatch => ErrorCode::SPACE_MISMATCH,
            Self::SameRole => ErrorCode::ROLE,
            Self::LimitBelowMinimum(_) | Self::TooManyFeeds(_) | Self::TooManyRequests(_) => ErrorCode::LIMIT,
            Self::Unexpected(_) | Self::UnknownFeed(_) | Self::DuplicateRequest(_) | Self::UnknownRequest(_) => {
                ErrorCode::UNEXPECTED
            }
            Self::Capability(_) => ErrorCode::CAPABILITY,
            Self::FlowControl(_) => ErrorCode::FLOW_CONTROL,
            Self::BadSignature(_) => ErrorCode::BAD_SIGNATURE,
            Self::HeadRegressed { .. } => ErrorCode::BAD_HEAD,
            Self::Verification { .. } => ErrorCode::VERIFICATION,
            Self::BadPage { .. } => ErrorCode::BAD_PAGE,
            Self::BadProof { .. } => ErrorCode::BAD_PROOF,
            Self::BadEvidence(_) => ErrorCode::BAD_EVIDENCE,
            Self::Timeout => ErrorCode::TIMEOUT,
            Self::Chatter => ErrorCode::CHATTER,
            Self::Internal(_) => ErrorCode::INTERNAL,
            Self::Peer { code, .. } => *code,
        }
    }

    /// The detail value sent with the code.
    pub fn detail(&self) -> u64 {
        match self {
            Self::Frame(FrameError::TooLarge { limit, .. }) => *limit,
            Self::FirstFrameNotHello(t) => u64::from(*t),
            Self::Decode { error: DecodeError::UnknownType(t), .. } => u64::from(*t),
            Self::Version { .. } => super::config::VERSION,
            Self::UnknownFeed(f) => *f,
            Self::TooManyFeeds(n) | Self::TooManyRequests(n) => u64::from(*n),
            Self::DuplicateRequest(id) | Self::UnknownRequest(id) => *id,
            Self::Capability(c) => c.0,
            Self::Verification { first_seq, .. } => *first_seq,
            Self::Peer { detail, .. } => *detail,
            _ => 0,
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(e) => write!(f, "framing: {e}"),
            Self::FirstFrameNotHello(t) => write!(f, "first frame has type {t:#04x}, not HELLO"),
            Self::Decode { ty, error } => write!(f, "message {ty:#04x}: {error}"),
            Self::Version { peer_min, peer_max } => {
                write!(f, "no common version: peer speaks {peer_min}..={peer_max}, we speak {}", super::config::VERSION)
            }
            Self::SpaceMismatch => f.write_str("peer is in another space"),
            Self::SameRole => f.write_str("both sides claim the same role"),
            Self::LimitBelowMinimum(field) => write!(f, "peer's {field} is below the protocol minimum"),
            Self::Unexpected(what) => write!(f, "unexpected message: {what}"),
            Self::UnknownFeed(i) => write!(f, "unknown feed index {i}"),
            Self::TooManyFeeds(n) => write!(f, "more than {n} feeds"),
            Self::TooManyRequests(n) => write!(f, "more than {n} outstanding requests"),
            Self::DuplicateRequest(id) => write!(f, "request id {id} is already outstanding"),
            Self::UnknownRequest(id) => write!(f, "response to unknown request {id}"),
            Self::Capability(c) => write!(f, "needs capability {c:?}, not in force"),
            Self::FlowControl(what) => write!(f, "flow control: {what}"),
            Self::BadSignature(a) => write!(f, "bad head signature for author {a}"),
            Self::HeadRegressed { author, from, to } => write!(f, "head of {author} went from {from} to {to}"),
            Self::Verification { author, first_seq, error } => {
                write!(f, "events of {author} from seq {first_seq} do not verify: {error}")
            }
            Self::BadPage { author, fault } => write!(f, "bad pages for {author}: {fault}"),
            Self::BadProof { author, what, decode } => {
                write!(f, "bad proof for {author}: {what}")?;
                if let Some(e) = decode {
                    write!(f, " ({e})")?;
                }
                Ok(())
            }
            Self::BadEvidence(what) => write!(f, "fork evidence proves nothing: {what}"),
            Self::Timeout => f.write_str("idle timeout"),
            Self::Chatter => f.write_str("too many frames that carry nothing new"),
            Self::Internal(what) => write!(f, "local store failed: {what}"),
            Self::Peer { code, detail } => write!(f, "peer closed with {code} (detail {detail})"),
        }
    }
}

impl core::error::Error for SessionError {}

/// Why a local request (range, proof, app frame) could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The session is not open (no HELLO yet, or closed).
    NotOpen,
    /// The capability needed is not in force.
    Capability(Capabilities),
    /// The peer did not announce this author.
    UnknownFeed,
    /// As many requests are outstanding as the peer allows.
    TooManyRequests,
    /// The app frame is over the peer's frame limit, or too much is queued.
    TooLarge,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOpen => f.write_str("session is not open"),
            Self::Capability(c) => write!(f, "needs capability {c:?}, not in force"),
            Self::UnknownFeed => f.write_str("the peer did not announce this feed"),
            Self::TooManyRequests => f.write_str("too many outstanding requests"),
            Self::TooLarge => f.write_str("too large or too much queued"),
        }
    }
}

impl core::error::Error for RequestError {}
