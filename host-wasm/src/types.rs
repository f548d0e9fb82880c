//! The TypeScript definitions of the plain objects the API takes and returns. wasm-bindgen
//! writes them into the package's `.d.ts` next to the generated signatures, which name them
//! through `unchecked_param_type` / `unchecked_return_type`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** The `code` of a {@link XaerofluxError}. */
export type ErrorCode =
  | "INVALID_ARGUMENT"
  | "PAYLOAD_TOO_LARGE"
  | "MALFORMED"
  | "BAD_SIGNATURE"
  | "PROOF_INVALID"
  | "NOT_FOUND"
  | "STORAGE"
  | "CORRUPT"
  | "LOCKED"
  | "CLOSED"
  | "UNSUPPORTED"
  | "SYNC"
  | "DECRYPT"
  | "FORKED"
  | "EXISTS"
  | "PASSWORD";

/** Every error this package throws: a real `Error` with a stable `code`. */
export interface XaerofluxError extends Error {
  name: "XaerofluxError";
  code: ErrorCode;
  /** With `FORKED` (`fetchConsistency`): the fork evidence, encoded as XSP's FORK message
   * body (docs/xsp.md): the older head, the peer's head and the proof. */
  evidence?: Uint8Array;
}

/** An event as stored: the author's signed fields and the payload. */
export interface StoredEvent {
  /** The author's public key, 64 hex characters. */
  author: string;
  /** Position in the author's feed, from 0. */
  seq: number;
  /** Microseconds since the Unix epoch, by the author's clock. */
  timestamp: number;
  /** Application-defined kind, 0..=65535. */
  kind: number;
  /** Flag bits (1: encrypted payload, 2: CRDT operation). */
  flags: number;
  /** The payload bytes (for an encrypted event, the sealed bytes: see `decryptEvent`). */
  payload: Uint8Array;
  /** The payload as text, or `null` when it is not valid UTF-8 or the event is encrypted. */
  text: string | null;
  /** The event's leaf hash (hex): what the Merkle trees commit to. */
  leafHash: string;
}

/**
 * An event decoded from bytes: like {@link StoredEvent}, but bytes from elsewhere may carry a
 * seq or timestamp above 2^53 − 1, which come as a `bigint`.
 */
export type DecodedEvent = Omit<StoredEvent, "seq" | "timestamp"> & {
  seq: number | bigint;
  timestamp: number | bigint;
};

/** A feed's signed head: `(author, length, root)` and the author's signature. */
export interface SignedHeadInfo {
  author: string;
  /** Number of events the head covers. */
  length: number;
  /** MMR root (hex) over those events. */
  root: string;
  /** ed25519 signature (hex). */
  signature: string;
  /** The 137-byte encoding. */
  bytes: Uint8Array;
}

/**
 * A proof file: an event, its inclusion proof and the signed head it is proved against,
 * as `store.prove()` and `xf prove` write them. Serialize it with `JSON.stringify`.
 */
export interface ProofFile {
  format: "xaeroflux-inclusion-proof";
  version: 1;
  author: string;
  seq: number;
  leaves: number;
  root: string;
  /** Hex of the encoded event. */
  event: string;
  /** Hex of the encoded inclusion proof. */
  proof: string;
  /** Hex of the encoded signed head. */
  head: string;
}

/** What `verifyProof` checked. */
export interface VerifiedProof {
  author: string;
  seq: number;
  /** Length of the feed the event was proved in. */
  leaves: number;
  /** The root the proof leads to. */
  root: string;
  event: StoredEvent;
}

/** Extra trust for `verifyProof`. */
export interface VerifyOptions {
  /** Require the event to be by this author (hex). */
  author?: string;
  /** Check against this root (hex) instead of the file's signed head. */
  root?: string;
}

/** The fields of `encodeEvent`. */
export interface EventFields {
  author: string;
  seq?: number | bigint;
  timestamp?: number | bigint;
  kind?: number;
  flags?: number;
  payload?: string | Uint8Array | ArrayBuffer;
}

/** Options of `Store.open` and `Store.openInMemory`. */
export interface StoreOptions {
  /** Page size of a new store: a power of two from 1024 to 1048576 (default 16384). */
  pageSize?: number;
  /** The author's 32-byte secret key for a new store (default: a random one). */
  secretKey?: Uint8Array | string;
  /** `"strict"` (default): a commit is flushed to disk before it resolves. */
  durability?: "strict" | "relaxed";
  /** Bytes of events read on demand (`fetchEvents`) kept in memory for later reads
   * (default 4194304; 0 keeps none). A read of seqs inside an earlier answer resolves at once,
   * from any session of the store, with no peer asked. */
  fetchCache?: number;
  /** Whether a persisted store (`Store.open`) also keeps those reads in IndexedDB across page
   * loads (default `true`): reopened, it answers them again with no peer, offline too, each
   * verified again when read back. */
  persistFetchCache?: boolean;
}

/** Options of `exportArchive`. */
export interface ExportArchiveOptions {
  /** Whether the archive holds the author's secret key (default `true`): restored, it is this
   * author's store, which can go on appending; keep such a file as safe as the key. Without
   * it, the archive restores every feed as a replica, for anyone. */
  withKey?: boolean;
  /** Seal the key in the archive with this password (Argon2id, then XChaCha20-Poly1305): it
   * restores as this author only with the password (`xf restore --password-file` takes the
   * same password as UTF-8), and anyone holding the file without it can still read and check
   * every feed. Deriving the key takes about 25 ms. */
  password?: string;
}

/** Options of `Store.restoreArchive` and `Store.openArchive`. */
export interface RestoreArchiveOptions extends StoreOptions {
  /** The password of an archive whose key is sealed with one (`archiveInfo(bytes).sealed`);
   * without it, or with a wrong one, the call fails with `PASSWORD`. */
  password?: string;
}

/** What `archiveInfo` reads from an archive's header. */
export interface ArchiveInfo {
  /** The page size of the store it holds. */
  pageSize: number;
  /** The author whose key it holds (hex), or `null` for an archive without a key. */
  author: string | null;
  /** Whether that key is sealed with a password. */
  sealed: boolean;
}

/** Options of `append` and `appendBatch`. */
export interface AppendOptions {
  /** Application-defined kind, 0..=65535 (default 0). */
  kind?: number;
  /** Flag bits (default 0). */
  flags?: number;
  /**
   * Encrypt the payloads with this space secret (64 hex characters or 32 bytes, e.g. from
   * `generateSpaceSecret()`; not the author's `secretKey`). Each payload is sealed with
   * XChaCha20-Poly1305 for the members of the space and the event gets flag bit 0
   * (`ENCRYPTED`), besides any `flags`. Peers without the secret still store, verify and
   * sync the event; members read it with `decryptEvent(event, secret)`. A plaintext may be
   * at most 16 MiB − 45 bytes.
   */
  secret?: string | Uint8Array;
}

/** Options of `list`. */
export interface ListOptions {
  /** Position in the arrival order to start at (default 0). */
  offset?: number;
  /** Most events to return (default all). */
  limit?: number;
}

/** A summary of one feed. */
export interface FeedInfo {
  author: string;
  length: number;
  /** Bytes of the encoded events. */
  bytes: number;
  pages: number;
  /** MMR root (hex) over the events held. */
  root: string | undefined;
  head: SignedHeadInfo | undefined;
  /** Whether this is the store's own feed. */
  local: boolean;
  /** Whether the author was caught signing two versions of the feed. */
  forked: boolean;
}

/** A committed change, as `subscribe` reports it. */
export interface StoreChange {
  author: string;
  /** First new seq. */
  start: number;
  /** One past the last new seq. */
  end: number;
  origin: "local" | "sync";
}

/** Options of `store.sync`. */
export interface SyncOptions {
  /** Called with each chunk of bytes for the peer, in order. */
  send: (bytes: Uint8Array) => void;
  /** Called with what happens in the session. */
  onEvent?: (event: SyncEvent) => void;
  /** The two ends of a session take different roles (default `"initiator"`). */
  role?: "initiator" | "responder";
  /** Stay open and push new events both ways (default `true`). */
  live?: boolean;
  /** The space id (64 hex characters) both ends must agree on (default all zeros). */
  space?: string;
  /** The feeds this session fetches and stores: `"all"` (the default), `"none"`, or these
   * authors (64 hex characters each). Read any other feed with `session.fetchEvents`. */
  fetch?: "all" | "none" | string[];
}

/** Options of `store.connect` (the `xaeroflux-wasm/net` entry). */
export interface ConnectOptions {
  /** The iroh relay both ends use, e.g. `"http://127.0.0.1:3340"`. */
  relayUrl: string;
  /** The peer's node id (64 hex characters). */
  peer: string;
  /** The space id (64 hex characters) the peer joined (default all zeros). */
  space?: string;
  /** Stay open and push new events both ways (default `true`). */
  live?: boolean;
  /** The feeds to fetch and store (as in `SyncOptions`; default `"all"`). */
  fetch?: "all" | "none" | string[];
  /** Called with what happens in the session. */
  onEvent?: (event: SyncEvent) => void;
}

/** Which events `fetchEvents` reads: the last `latest`, or the seqs `start` (included) to
 * `end` (excluded), cut to the peer's feed. */
export type FetchRange = { latest: number } | { start: number; end: number };

/** Events read from a peer by `fetchEvents`: verified against `head` (the author's signed
 * head), not stored. */
export interface FetchedEvents {
  author: string;
  /** The seq of the first event. */
  start: number;
  /** One past the seq of the last event. */
  end: number;
  head: SignedHeadInfo;
  events: StoredEvent[];
  /** Whether the store answered from events an earlier `fetchEvents` verified (the store
   * option `fetchCache`) rather than asking the peer; the same events either way, verified
   * against `head` when they first came. */
  fromCache: boolean;
}

/** Fork evidence a store holds (`store.forks()`): an author who signed two heads that no one
 * history satisfies. `evidence` is the whole, encoded as XSP's FORK body, for anyone to check
 * (`store.recordFork` on another store, `xf forks --check`). */
export interface ForkInfo {
  author: string;
  first: SignedHeadInfo;
  second: SignedHeadInfo;
  /** Whether a consistency proof is part of it (heads of different lengths). */
  proof: boolean;
  evidence: Uint8Array;
}

/** What `fetchConsistency` resolves with: the peer's latest signed head of the feed, and the
 * consistency proof (encoded) that it extends the older head given; both verified. */
export interface FetchedConsistency {
  head: SignedHeadInfo;
  proof: Uint8Array;
}

/** What happens in a sync session. */
export type SyncEvent =
  | { type: "connected"; peerPageSize: number; live: boolean }
  | { type: "head"; head: SignedHeadInfo }
  | { type: "events"; author: string; start: number; end: number }
  | { type: "synced" }
  | { type: "fork"; author: string }
  | { type: "rejected"; author: string; reason: string }
  | { type: "app"; channel: number; data: Uint8Array }
  | { type: "transportError"; error: unknown }
  | { type: "closed"; code: string; byPeer: boolean; reason: string | undefined };
"#;

#[cfg(test)]
mod tests {
    use crate::error::ErrorCode;

    #[test]
    fn the_error_code_type_lists_every_code() {
        // The macro consumes `TYPES`: read it from the source.
        let source = include_str!("types.rs");
        let union = &source[source.find("export type ErrorCode").unwrap()..];
        let union = &union[..union.find(';').unwrap()];
        for c in ErrorCode::ALL {
            assert!(union.contains(&format!("\"{c}\"")), "{c} is missing from the ErrorCode type");
        }
        assert_eq!(union.matches('|').count(), ErrorCode::ALL.len());
    }
}
