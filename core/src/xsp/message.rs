//! Messages: the body of each frame type, decoded from and encoded to bytes.
//!
//! Decoding borrows from the frame (payloads, proofs and lists are not copied) and checks
//! every field; list entries are validated once at decode time and then iterated
//! without allocation. See `docs/xsp.md` for the byte layout of each message.

use alloc::vec::Vec;

use super::codec::{DecodeError, Reader};
use super::config::{Capabilities, Limits, Role};
use super::varint;
use crate::hash::Hash;
use crate::head::{AuthorId, SignedHead};
use crate::page::{MAX_PAGE_SIZE, MIN_PAGE_SIZE};

/// Frame type bytes.
pub mod ty {
    /// HELLO
    pub const HELLO: u8 = 0x01;
    /// HEADS
    pub const HEADS: u8 = 0x02;
    /// WANT
    pub const WANT: u8 = 0x03;
    /// PAGES
    pub const PAGES: u8 = 0x04;
    /// CREDIT
    pub const CREDIT: u8 = 0x05;
    /// SYNC_DONE
    pub const SYNC_DONE: u8 = 0x06;
    /// RANGE_REQUEST
    pub const RANGE_REQUEST: u8 = 0x07;
    /// RANGE_RESPONSE
    pub const RANGE_RESPONSE: u8 = 0x08;
    /// PROOF_REQUEST
    pub const PROOF_REQUEST: u8 = 0x09;
    /// PROOF_RESPONSE
    pub const PROOF_RESPONSE: u8 = 0x0A;
    /// FORK
    pub const FORK: u8 = 0x0B;
    /// PING
    pub const PING: u8 = 0x0C;
    /// PONG
    pub const PONG: u8 = 0x0D;
    /// APP
    pub const APP: u8 = 0x0E;
    /// ERROR
    pub const ERROR: u8 = 0x0F;
    /// UNWANT (needs the UNWANT capability)
    pub const UNWANT: u8 = 0x10;
    /// UNWANT_DONE (needs the UNWANT capability)
    pub const UNWANT_DONE: u8 = 0x11;
    /// First optional extension type; unknown types from here on are skipped.
    pub const EXTENSION_FIRST: u8 = 0x80;
}

/// The magic at the start of HELLO.
pub const HELLO_MAGIC: [u8; 3] = *b"XSP";
/// Length of one signed head entry without its varint length.
const HEAD_FIXED: usize = 32 + 32 + 64;
/// Longest reason text in an ERROR.
pub const MAX_REASON: usize = 256;

/// HELLO: version range, role, capabilities, space, page size and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Lowest version spoken.
    pub min_version: u64,
    /// Highest version spoken.
    pub max_version: u64,
    /// The sender's role.
    pub role: Role,
    /// Capabilities offered.
    pub capabilities: Capabilities,
    /// The space id.
    pub space: [u8; 32],
    /// The sender's page size.
    pub page_size: u32,
    /// The sender's limits.
    pub limits: Limits,
    /// The sender's idle timeout in milliseconds (0: none).
    pub idle_ms: u64,
    /// The sender's incarnation (extension [`ext::INCARNATION`]), if it sent one: a number
    /// drawn at random each time the sender starts, so that a peer can tell a session opened
    /// by a restarted sender from a second one of the same run.
    pub incarnation: Option<u64>,
}

/// HELLO extensions: the types of the entries after `idle_ms` (see `docs/xsp.md`).
pub mod ext {
    /// The sender's incarnation: 8 bytes, a little-endian u64.
    pub const INCARNATION: u64 = 1;
}

/// The entries of a HEADS message, validated, iterated without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadList<'a> {
    count: usize,
    bytes: &'a [u8],
}

impl<'a> HeadList<'a> {
    /// Encodes `heads` as the entries of a HEADS message (for [`Message::Heads`]).
    pub fn encode_entries<'h>(heads: impl IntoIterator<Item = &'h SignedHead>, out: &mut Vec<u8>) -> usize {
        let mut n = 0;
        for h in heads {
            write_head(out, h);
            n += 1;
        }
        n
    }
    /// Wraps entries produced by [`encode_entries`](Self::encode_entries).
    pub fn from_encoded(count: usize, bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        for _ in 0..count {
            read_head(&mut r)?;
        }
        r.finish()?;
        Ok(HeadList { count, bytes })
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The signed heads (signatures not checked yet).
    pub fn iter(&self) -> impl Iterator<Item = SignedHead> + 'a {
        let mut r = Reader::new(self.bytes);
        (0..self.count).map_while(move |_| read_head(&mut r).ok())
    }
}

pub(crate) fn write_head(out: &mut Vec<u8>, h: &SignedHead) {
    out.extend_from_slice(&h.author.0);
    varint::push(out, h.length);
    out.extend_from_slice(&h.root.0);
    out.extend_from_slice(&h.signature);
}

pub(crate) fn head_len(h: &SignedHead) -> usize {
    HEAD_FIXED + varint::len(h.length)
}

fn read_head(r: &mut Reader<'_>) -> Result<SignedHead, DecodeError> {
    let author = AuthorId(r.array("head.author")?);
    let length = r.varint("head.length")?;
    let root = Hash(r.array("head.root")?);
    let signature = r.array("head.signature")?;
    Ok(SignedHead { author, length, root, signature })
}

/// One WANT entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WantEntry {
    /// Feed index in the data holder's table.
    pub feed: u64,
    /// Events the sender already holds, verified.
    pub have: u64,
    /// Keep pushing new events after catch-up.
    pub live: bool,
}

/// The entries of a WANT message, validated, iterated without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WantList<'a> {
    count: usize,
    bytes: &'a [u8],
}

impl<'a> WantList<'a> {
    /// Encodes entries for [`Message::Want`].
    pub fn encode_entries<'w>(entries: impl IntoIterator<Item = &'w WantEntry>, out: &mut Vec<u8>) -> usize {
        let mut n = 0;
        for e in entries {
            varint::push(out, e.feed);
            varint::push(out, e.have);
            out.push(u8::from(e.live));
            n += 1;
        }
        n
    }
    /// Wraps entries produced by [`encode_entries`](Self::encode_entries).
    pub fn from_encoded(count: usize, bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        for _ in 0..count {
            read_want(&mut r)?;
        }
        r.finish()?;
        Ok(WantList { count, bytes })
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The entries.
    pub fn iter(&self) -> impl Iterator<Item = WantEntry> + 'a {
        let mut r = Reader::new(self.bytes);
        (0..self.count).map_while(move |_| read_want(&mut r).ok())
    }
}

fn read_want(r: &mut Reader<'_>) -> Result<WantEntry, DecodeError> {
    let feed = r.varint("want.feed")?;
    let have = r.varint("want.have")?;
    let flags = r.u8("want.flags")?;
    if flags > 1 {
        return Err(DecodeError::OutOfRange { field: "want.flags", value: u64::from(flags) });
    }
    Ok(WantEntry { feed, have, live: flags == 1 })
}

/// The feed indexes of an UNWANT or UNWANT_DONE message, validated, iterated without
/// allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedList<'a> {
    count: usize,
    bytes: &'a [u8],
}

impl<'a> FeedList<'a> {
    /// Encodes feed indexes; returns how many.
    pub fn encode_entries(feeds: impl IntoIterator<Item = u64>, out: &mut Vec<u8>) -> usize {
        feeds.into_iter().map(|f| varint::push(out, f)).count()
    }
    /// Wraps entries produced by [`encode_entries`](Self::encode_entries).
    pub fn from_encoded(count: usize, bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        for _ in 0..count {
            r.varint("unwant.feed")?;
        }
        r.finish()?;
        Ok(FeedList { count, bytes })
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The feed indexes.
    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        let mut r = Reader::new(self.bytes);
        (0..self.count).map_while(move |_| r.varint("unwant.feed").ok())
    }
}

/// PAGES: a batch of pages of one feed, in compact form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pages<'a> {
    /// Sender's feed index.
    pub feed: u64,
    /// Length of the head the batch is verified against.
    pub target: u64,
    /// Seq of the first event.
    pub first_seq: u64,
    /// Page number of the first page.
    pub first_page: u64,
    /// Events of the first page before `first_seq`.
    pub page_offset: u64,
    /// Consistency proof from the batch end to `target` (empty if the batch ends there).
    pub proof: &'a [u8],
    /// Number of pages (at least 1).
    pub page_count: u64,
    /// The pages: per page a count and compact events (decoded by the session, which
    /// enforces its limits while reading).
    pub section: &'a [u8],
}

/// RANGE_REQUEST modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeMode {
    /// Events `[start, end)`.
    Range {
        /// First seq.
        start: u64,
        /// One past the last seq.
        end: u64,
    },
    /// The latest `n` events.
    Latest(u64),
}

/// RANGE_REQUEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeRequest {
    /// Request id.
    pub id: u64,
    /// Receiver's feed index.
    pub feed: u64,
    /// What to read.
    pub mode: RangeMode,
}

/// RANGE_RESPONSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeResponse<'a> {
    /// Request id.
    pub id: u64,
    /// Length of the head the proof is against.
    pub target: u64,
    /// First seq.
    pub start: u64,
    /// Number of events.
    pub count: u64,
    /// RangeProof bytes (empty if `count == 0`).
    pub proof: &'a [u8],
    /// Compact events.
    pub events: &'a [u8],
}

/// What a PROOF_REQUEST asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofKind {
    /// Inclusion of the event with the given seq.
    Inclusion,
    /// Consistency from the given old length.
    Consistency,
}

impl ProofKind {
    fn to_byte(self) -> u8 {
        match self {
            ProofKind::Inclusion => 1,
            ProofKind::Consistency => 2,
        }
    }
    fn from_byte(b: u8, field: &'static str) -> Result<Self, DecodeError> {
        match b {
            1 => Ok(ProofKind::Inclusion),
            2 => Ok(ProofKind::Consistency),
            _ => Err(DecodeError::OutOfRange { field, value: u64::from(b) }),
        }
    }
}

/// PROOF_REQUEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofRequest {
    /// Request id.
    pub id: u64,
    /// Receiver's feed index.
    pub feed: u64,
    /// Inclusion or consistency.
    pub kind: ProofKind,
    /// The seq (inclusion) or the old length (consistency).
    pub a: u64,
}

/// Outcome of a proof request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofStatus {
    /// The proof follows.
    Ok,
    /// The seq or length is beyond the head.
    OutOfRange,
    /// The responder cannot produce it.
    Unavailable,
}

/// PROOF_RESPONSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofResponse<'a> {
    /// Request id.
    pub id: u64,
    /// What was asked.
    pub kind: ProofKind,
    /// Outcome.
    pub status: ProofStatus,
    /// Length of the head the proof is against.
    pub target: u64,
    /// The leaf hash (inclusion, status Ok).
    pub leaf: Option<Hash>,
    /// The encoded proof (status Ok).
    pub proof: &'a [u8],
}

/// FORK: two signed heads of one author that cannot both be true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fork<'a> {
    /// One head.
    pub first: SignedHead,
    /// The other.
    pub second: SignedHead,
    /// Consistency proof from the shorter to the longer length (empty if equal).
    pub proof: &'a [u8],
}

/// ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorMsg<'a> {
    /// The error code (see [`ErrorCode`](super::ErrorCode)).
    pub code: u64,
    /// The offending value or limit.
    pub detail: u64,
    /// Human-readable reason (not parsed).
    pub reason: &'a [u8],
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// HELLO
    Hello(Hello),
    /// HEADS
    Heads(HeadList<'a>),
    /// WANT
    Want(WantList<'a>),
    /// PAGES
    Pages(Pages<'a>),
    /// CREDIT
    Credit {
        /// Page units returned.
        pages: u64,
        /// Bytes returned.
        bytes: u64,
    },
    /// SYNC_DONE
    SyncDone {
        /// HEADS frames received from the peer so far.
        heads_seen: u64,
        /// HEADS frames the sender has sent so far.
        heads_sent: u64,
    },
    /// RANGE_REQUEST
    RangeRequest(RangeRequest),
    /// RANGE_RESPONSE
    RangeResponse(RangeResponse<'a>),
    /// PROOF_REQUEST
    ProofRequest(ProofRequest),
    /// PROOF_RESPONSE
    ProofResponse(ProofResponse<'a>),
    /// FORK
    Fork(Fork<'a>),
    /// PING
    Ping,
    /// PONG
    Pong,
    /// APP
    App {
        /// Channel (0 = MCP).
        channel: u64,
        /// Opaque data.
        data: &'a [u8],
    },
    /// ERROR
    Error(ErrorMsg<'a>),
    /// UNWANT: the sender no longer wants these feeds (indexes in the receiver's table).
    Unwant(FeedList<'a>),
    /// UNWANT_DONE: the sender sends no more PAGES of these feeds (indexes in the sender's
    /// table), answering an UNWANT.
    UnwantDone(FeedList<'a>),
    /// An optional extension this version does not know (type >= 0x80); skipped.
    Extension(u8),
}

impl<'a> Message<'a> {
    /// Decodes a frame (type byte first, without the length prefix).
    pub fn decode(frame: &'a [u8]) -> Result<Message<'a>, DecodeError> {
        let mut r = Reader::new(frame);
        let t = r.u8("type")?;
        let msg = match t {
            ty::HELLO => return decode_hello(&mut r).map(Message::Hello),
            ty::HEADS => {
                let count = r.varint("heads.count")?;
                if count == 0 || count > (r.remaining() / (HEAD_FIXED + 1)) as u64 {
                    return Err(DecodeError::OutOfRange { field: "heads.count", value: count });
                }
                Message::Heads(HeadList::from_encoded(count as usize, r.rest())?)
            }
            ty::WANT => {
                let count = r.varint("want.count")?;
                if count == 0 || count > (r.remaining() / 3) as u64 {
                    return Err(DecodeError::OutOfRange { field: "want.count", value: count });
                }
                Message::Want(WantList::from_encoded(count as usize, r.rest())?)
            }
            ty::PAGES => {
                let feed = r.varint("pages.feed")?;
                let target = r.varint("pages.target")?;
                let first_seq = r.varint("pages.first_seq")?;
                let first_page = r.varint("pages.first_page")?;
                let page_offset = r.varint("pages.page_offset")?;
                let proof = r.bytes("pages.proof")?;
                let page_count = r.varint("pages.page_count")?;
                if page_count == 0 {
                    return Err(DecodeError::OutOfRange { field: "pages.page_count", value: 0 });
                }
                let section = r.rest();
                Message::Pages(Pages { feed, target, first_seq, first_page, page_offset, proof, page_count, section })
            }
            ty::CREDIT => {
                let pages = r.varint("credit.pages")?;
                let bytes = r.varint("credit.bytes")?;
                Message::Credit { pages, bytes }
            }
            ty::SYNC_DONE => {
                let heads_seen = r.varint("sync_done.heads_seen")?;
                let heads_sent = r.varint("sync_done.heads_sent")?;
                Message::SyncDone { heads_seen, heads_sent }
            }
            ty::RANGE_REQUEST => {
                let id = r.varint("range.id")?;
                let feed = r.varint("range.feed")?;
                let mode = r.u8("range.mode")?;
                let a = r.varint("range.a")?;
                let b = r.varint("range.b")?;
                let mode = match mode {
                    0 if a <= b => RangeMode::Range { start: a, end: b },
                    0 => return Err(DecodeError::OutOfRange { field: "range.b", value: b }),
                    1 if b == 0 => RangeMode::Latest(a),
                    1 => return Err(DecodeError::OutOfRange { field: "range.b", value: b }),
                    m => return Err(DecodeError::OutOfRange { field: "range.mode", value: u64::from(m) }),
                };
                Message::RangeRequest(RangeRequest { id, feed, mode })
            }
            ty::RANGE_RESPONSE => {
                let id = r.varint("range_response.id")?;
                let target = r.varint("range_response.target")?;
                let start = r.varint("range_response.start")?;
                let count = r.varint("range_response.count")?;
                let proof = r.bytes("range_response.proof")?;
                let events = r.rest();
                Message::RangeResponse(RangeResponse { id, target, start, count, proof, events })
            }
            ty::PROOF_REQUEST => {
                let id = r.varint("proof.id")?;
                let feed = r.varint("proof.feed")?;
                let kind = ProofKind::from_byte(r.u8("proof.kind")?, "proof.kind")?;
                let a = r.varint("proof.a")?;
                Message::ProofRequest(ProofRequest { id, feed, kind, a })
            }
            ty::PROOF_RESPONSE => {
                let id = r.varint("proof_response.id")?;
                let kind = ProofKind::from_byte(r.u8("proof_response.kind")?, "proof_response.kind")?;
                let status = match r.u8("proof_response.status")? {
                    0 => ProofStatus::Ok,
                    1 => ProofStatus::OutOfRange,
                    2 => ProofStatus::Unavailable,
                    s => return Err(DecodeError::OutOfRange { field: "proof_response.status", value: u64::from(s) }),
                };
                let target = r.varint("proof_response.target")?;
                let (leaf, proof) = match (status, kind) {
                    (ProofStatus::Ok, ProofKind::Inclusion) => {
                        (Some(Hash(r.array("proof_response.leaf")?)), r.bytes("proof_response.proof")?)
                    }
                    (ProofStatus::Ok, ProofKind::Consistency) => (None, r.bytes("proof_response.proof")?),
                    _ => (None, &[][..]),
                };
                Message::ProofResponse(ProofResponse { id, kind, status, target, leaf, proof })
            }
            ty::FORK => {
                let first = read_head(&mut r)?;
                let second = read_head(&mut r)?;
                let proof = r.bytes("fork.proof")?;
                Message::Fork(Fork { first, second, proof })
            }
            ty::PING => Message::Ping,
            ty::PONG => Message::Pong,
            ty::APP => {
                let channel = r.varint("app.channel")?;
                Message::App { channel, data: r.rest() }
            }
            ty::ERROR => {
                let code = r.varint("error.code")?;
                let detail = r.varint("error.detail")?;
                let reason = r.bytes("error.reason")?;
                if reason.len() > MAX_REASON {
                    return Err(DecodeError::OutOfRange { field: "error.reason", value: reason.len() as u64 });
                }
                Message::Error(ErrorMsg { code, detail, reason })
            }
            ty::UNWANT | ty::UNWANT_DONE => {
                let count = r.varint("unwant.count")?;
                if count == 0 || count > r.remaining() as u64 {
                    return Err(DecodeError::OutOfRange { field: "unwant.count", value: count });
                }
                let list = FeedList::from_encoded(count as usize, r.rest())?;
                if t == ty::UNWANT { Message::Unwant(list) } else { Message::UnwantDone(list) }
            }
            t if t >= ty::EXTENSION_FIRST => {
                r.rest();
                Message::Extension(t)
            }
            t => return Err(DecodeError::UnknownType(t)),
        };
        r.finish()?;
        Ok(msg)
    }

    /// Appends the type byte and the body (without the length prefix).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Message::Hello(h) => {
                out.push(ty::HELLO);
                out.extend_from_slice(&HELLO_MAGIC);
                varint::push(out, h.min_version);
                varint::push(out, h.max_version);
                out.push(h.role.to_byte());
                varint::push(out, h.capabilities.0);
                out.extend_from_slice(&h.space);
                varint::push(out, u64::from(h.page_size));
                varint::push(out, h.limits.max_frame);
                varint::push(out, h.limits.max_pages);
                varint::push(out, h.limits.max_bytes);
                varint::push(out, u64::from(h.limits.max_feeds));
                varint::push(out, u64::from(h.limits.max_requests));
                varint::push(out, h.idle_ms);
                if let Some(n) = h.incarnation {
                    varint::push(out, ext::INCARNATION);
                    varint::push(out, 8);
                    out.extend_from_slice(&n.to_le_bytes());
                }
            }
            Message::Heads(l) => {
                out.push(ty::HEADS);
                varint::push(out, l.count as u64);
                out.extend_from_slice(l.bytes);
            }
            Message::Want(l) => {
                out.push(ty::WANT);
                varint::push(out, l.count as u64);
                out.extend_from_slice(l.bytes);
            }
            Message::Pages(p) => {
                out.push(ty::PAGES);
                write_pages_header(out, p.feed, p.target, p.first_seq, p.first_page, p.page_offset, p.proof);
                varint::push(out, p.page_count);
                out.extend_from_slice(p.section);
            }
            Message::Credit { pages, bytes } => {
                out.push(ty::CREDIT);
                varint::push(out, *pages);
                varint::push(out, *bytes);
            }
            Message::SyncDone { heads_seen, heads_sent } => {
                out.push(ty::SYNC_DONE);
                varint::push(out, *heads_seen);
                varint::push(out, *heads_sent);
            }
            Message::RangeRequest(q) => {
                out.push(ty::RANGE_REQUEST);
                varint::push(out, q.id);
                varint::push(out, q.feed);
                let (m, a, b) = match q.mode {
                    RangeMode::Range { start, end } => (0, start, end),
                    RangeMode::Latest(n) => (1, n, 0),
                };
                out.push(m);
                varint::push(out, a);
                varint::push(out, b);
            }
            Message::RangeResponse(q) => {
                out.push(ty::RANGE_RESPONSE);
                varint::push(out, q.id);
                varint::push(out, q.target);
                varint::push(out, q.start);
                varint::push(out, q.count);
                push_bytes(out, q.proof);
                out.extend_from_slice(q.events);
            }
            Message::ProofRequest(q) => {
                out.push(ty::PROOF_REQUEST);
                varint::push(out, q.id);
                varint::push(out, q.feed);
                out.push(q.kind.to_byte());
                varint::push(out, q.a);
            }
            Message::ProofResponse(q) => {
                out.push(ty::PROOF_RESPONSE);
                varint::push(out, q.id);
                out.push(q.kind.to_byte());
                out.push(match q.status {
                    ProofStatus::Ok => 0,
                    ProofStatus::OutOfRange => 1,
                    ProofStatus::Unavailable => 2,
                });
                varint::push(out, q.target);
                if q.status == ProofStatus::Ok {
                    if q.kind == ProofKind::Inclusion {
                        out.extend_from_slice(&q.leaf.unwrap_or(Hash::ZERO).0);
                    }
                    push_bytes(out, q.proof);
                }
            }
            Message::Fork(f) => {
                out.push(ty::FORK);
                write_head(out, &f.first);
                write_head(out, &f.second);
                push_bytes(out, f.proof);
            }
            Message::Ping => out.push(ty::PING),
            Message::Pong => out.push(ty::PONG),
            Message::App { channel, data } => {
                out.push(ty::APP);
                varint::push(out, *channel);
                out.extend_from_slice(data);
            }
            Message::Error(e) => {
                out.push(ty::ERROR);
                varint::push(out, e.code);
                varint::push(out, e.detail);
                push_bytes(out, &e.reason[..e.reason.len().min(MAX_REASON)]);
            }
            Message::Unwant(l) | Message::UnwantDone(l) => {
                out.push(if matches!(self, Message::Unwant(_)) { ty::UNWANT } else { ty::UNWANT_DONE });
                varint::push(out, l.count as u64);
                out.extend_from_slice(l.bytes);
            }
            Message::Extension(t) => out.push(*t),
        }
    }
}

pub(crate) fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    varint::push(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub(crate) fn write_pages_header(
    out: &mut Vec<u8>,
    feed: u64,
    target: u64,
    first_seq: u64,
    first_page: u64,
    page_offset: u64,
    proof: &[u8],
) {
    varint::push(out, feed);
    varint::push(out, target);
    varint::push(out, first_seq);
    varint::push(out, first_page);
    varint::push(out, page_offset);
    push_bytes(out, proof);
}

fn decode_hello(r: &mut Reader<'_>) -> Result<Hello, DecodeError> {
    if r.take(3, "hello.magic")? != HELLO_MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let min_version = r.varint("hello.min_version")?;
    let max_version = r.varint("hello.max_version")?;
    if min_version > max_version {
        return Err(DecodeError::OutOfRange { field: "hello.min_version", value: min_version });
    }
    let role = match r.u8("hello.role")? {
        0 => Role::Initiator,
        1 => Role::Responder,
        b => return Err(DecodeError::OutOfRange { field: "hello.role", value: u64::from(b) }),
    };
    let capabilities = Capabilities(r.varint("hello.capabilities")?);
    let space = r.array("hello.space")?;
    let page_size = r.u32("hello.page_size")?;
    if !page_size.is_power_of_two() || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(DecodeError::OutOfRange { field: "hello.page_size", value: u64::from(page_size) });
    }
    let max_frame = r.varint("hello.max_frame")?;
    let max_pages = r.varint("hello.max_pages")?;
    let max_bytes = r.varint("hello.max_bytes")?;
    let max_feeds = r.u32("hello.max_feeds")?;
    let max_requests = r.u32("hello.max_requests")?;
    let idle_ms = r.varint("hello.idle_ms")?;
    let incarnation = hello_extensions(r.rest());
    Ok(Hello {
        min_version,
        max_version,
        role,
        capabilities,
        space,
        page_size,
        limits: Limits { max_frame, max_pages, max_bytes, max_feeds, max_requests },
        idle_ms,
        incarnation,
    })
}

/// Reads the HELLO extensions after `idle_ms`: entries of `type varint, len varint, value`.
/// Entries of unknown types are skipped; an entry that does not fit ends the list (what
/// follows is ignored, as a version 1 receiver ignores all of it). Returns the incarnation.
fn hello_extensions(mut bytes: &[u8]) -> Option<u64> {
    let mut incarnation = None;
    while !bytes.is_empty() {
        let Ok((ty, a)) = varint::decode(bytes) else { break };
        let Some(Ok((len, b))) = bytes.get(a..).map(varint::decode) else { break };
        let Some(value) = usize::try_from(len).ok().and_then(|l| bytes.get(a + b..).and_then(|v| v.get(..l))) else {
            break;
        };
        if ty == ext::INCARNATION
            && let Ok(v) = <[u8; 8]>::try_from(value)
        {
            incarnation = Some(u64::from_le_bytes(v));
        }
        bytes = bytes.get(a + b + value.len()..).unwrap_or_default();
    }
    incarnation
}
