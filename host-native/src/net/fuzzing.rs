//! Entry points for the fuzz targets in `host-native/fuzz` (cargo-fuzz): the decoders of bytes
//! that come from other people, tickets and gossip announcements, and of the files of reads
//! kept on disk (`net.fetched/`), which anything can damage. Not an API: hidden from the
//! docs, and free to change with the targets.

use iroh::SecretKey;
use iroh_gossip::TopicId;

use super::gossip;
use super::ticket::Ticket;

/// A ticket from arbitrary bytes and from arbitrary text: no panic, and every ticket accepted
/// is canonical (it encodes back to the very input), so one ticket has one form.
pub fn ticket(data: &[u8]) {
    if let Ok(t) = Ticket::from_bytes(data) {
        assert_eq!(t.to_bytes(), data, "an accepted ticket re-encodes to its input");
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(t) = text.parse::<Ticket>() {
        assert_eq!(t.to_string().parse::<Ticket>(), Ok(t), "a parsed ticket survives printing");
    }
}

/// A gossip announcement, as heard (arbitrary bytes, whose signature never holds) and with an
/// arbitrary body signed by its origin (so the fuzzer reaches the decoding behind the
/// signature check): no panic, and every announcement accepted is canonical (encoding what
/// was decoded gives back the very message).
pub fn announcement(data: &[u8]) {
    let topic = TopicId::from_bytes([7; 32]);
    let _ = gossip::decode(data, &topic);
    let key = SecretKey::from_bytes(&[9; 32]);
    let mut body = Vec::with_capacity(33 + data.len());
    body.push(gossip::ANNOUNCE_VERSION);
    body.extend_from_slice(key.public().as_bytes());
    body.extend_from_slice(data);
    let msg = gossip::sign(&body, &topic, &key);
    if let Some((origin, heads)) = gossip::decode(&msg, &topic) {
        assert_eq!(gossip::encode(&origin, &heads, &topic, &key), vec![msg], "an accepted announcement re-encodes");
    }
}

/// A kept read (a file of `net.fetched/`) from arbitrary bytes and tampered with: no panic,
/// and every file accepted is canonical and proves each event it shows.
pub fn kept_read(data: &[u8]) {
    super::fetch::fuzz_kept_file(data);
}
