use alloc::string::String;
use alloc::vec::Vec;

use super::*;
use crate::mmr::Mmr;
use crate::{AuthorKey, EventFlags};

/// A proof file's fields as owned text, the way a host's parser holds them.
#[derive(Clone)]
struct Owned {
    text: [Option<String>; 7],
    nums: [Option<u64>; 3],
}

const TEXT: [&str; 7] = ["format", "author", "root", "event", "proof", "head", "unused"];
const NUMS: [&str; 3] = ["version", "seq", "leaves"];

impl Owned {
    fn of(event: &Event, proof: &InclusionProof, head: &SignedHead) -> Owned {
        let mut o = Owned { text: Default::default(), nums: [None; 3] };
        for (name, v) in encode(&event.as_ref(), proof, head) {
            match v {
                FieldValue::Str(s) => o.text[TEXT.iter().position(|n| *n == name).unwrap()] = Some(s),
                FieldValue::Num(n) => o.nums[NUMS.iter().position(|k| *k == name).unwrap()] = Some(n),
            }
        }
        o
    }

    fn set(&mut self, name: &str, v: Option<&str>) {
        self.text[TEXT.iter().position(|n| *n == name).unwrap()] = v.map(String::from);
    }

    fn num(&mut self, name: &str, v: Option<u64>) {
        self.nums[NUMS.iter().position(|n| *n == name).unwrap()] = v;
    }

    fn fields(&self) -> ProofFields<'_> {
        let t = |i: usize| self.text[i].as_deref();
        ProofFields {
            format: t(0),
            version: self.nums[0],
            author: t(1),
            seq: self.nums[1],
            leaves: self.nums[2],
            root: t(2),
            event: t(3),
            proof: t(4),
            head: t(5),
        }
    }

    fn decode(&self) -> Result<ProofFile, ProofFileError> {
        decode(&self.fields())
    }
}

/// A change to a proof file's fields.
type Tamper = dyn Fn(&mut Owned);

fn feed(n: u64) -> (AuthorKey, Vec<Event>, Mmr) {
    let key = AuthorKey::from_secret_bytes(&[5; 32]);
    let mut mmr = Mmr::new();
    let events: Vec<Event> =
        (0..n).map(|s| Event::new(key.author(), s, 1000 + s, 1, EventFlags::NONE, &s.to_le_bytes())).collect();
    for e in &events {
        mmr.append(e.leaf_hash());
    }
    (key, events, mmr)
}

#[test]
fn round_trip_verifies_under_every_anchor() {
    let (key, events, mmr) = feed(11);
    let head = key.sign_head(11, mmr.root());
    for seq in 0..11 {
        let proof = mmr.inclusion_proof(seq).unwrap();
        let file = Owned::of(&events[seq as usize], &proof, &head).decode().unwrap();
        assert_eq!(file.event, events[seq as usize]);
        verify(&file, &Trust::default()).unwrap();
        verify(&file, &Trust { author: Some(key.author()), ..Trust::default() }).unwrap();
        verify(&file, &Trust { anchor: Anchor::Root(mmr.root()), author: None }).unwrap();
        verify(&file, &Trust { anchor: Anchor::Head(head), author: None }).unwrap();
        assert_eq!(Trust::default().root(&file), mmr.root());
    }
}

#[test]
fn every_tampering_is_refused() {
    let (key, events, mmr) = feed(11);
    let head = key.sign_head(11, mmr.root());
    let proof = mmr.inclusion_proof(6).unwrap();
    let good = Owned::of(&events[6], &proof, &head);
    let anchor = Trust::default();

    // Another event under the same proof: same length payload, different bytes.
    let mut f = good.clone();
    let other = Event::new(key.author(), 6, 1006, 1, EventFlags::NONE, &99u64.to_le_bytes());
    f.set("event", Some(&hex(other.encoded())));
    assert_eq!(verify(&f.decode().unwrap(), &anchor), Err(Rejection::Path(ProofError::RootMismatch)));

    // A proof of another seq.
    let mut f = good.clone();
    f.set("proof", Some(&hex(&mmr.inclusion_proof(5).unwrap().encode())));
    assert_eq!(verify(&f.decode().unwrap(), &anchor), Err(Rejection::SeqMismatch { seq: 6, leaf_index: 5 }));

    // A head with a flipped signature bit.
    let mut f = good.clone();
    let mut h = head.encode();
    h[100] ^= 1;
    f.set("head", Some(&hex(&h)));
    assert_eq!(verify(&f.decode().unwrap(), &anchor), Err(Rejection::Head(HeadError::BadSignature)));
    // ... which a caller trusting a root does not need.
    verify(&f.decode().unwrap(), &Trust { anchor: Anchor::Root(mmr.root()), author: None }).unwrap();

    // A head of another author, in the file or given by the caller.
    let other_head = AuthorKey::from_secret_bytes(&[6; 32]).sign_head(11, mmr.root());
    let mut f = good.clone();
    f.set("head", Some(&hex(&other_head.encode())));
    assert_eq!(verify(&f.decode().unwrap(), &anchor), Err(Rejection::AuthorMismatch));
    let given = Trust { anchor: Anchor::Head(other_head), author: None };
    assert_eq!(verify(&good.decode().unwrap(), &given), Err(Rejection::AuthorMismatch));

    // A head for another length.
    let mut shorter = Mmr::new();
    for e in &events[..9] {
        shorter.append(e.leaf_hash());
    }
    let given = Trust { anchor: Anchor::Head(key.sign_head(9, shorter.root())), author: None };
    assert_eq!(verify(&good.decode().unwrap(), &given), Err(Rejection::LengthMismatch { proof: 11, head: 9 }));

    // A root that is not the feed's.
    let given = Trust { anchor: Anchor::Root(shorter.root()), author: None };
    assert_eq!(verify(&good.decode().unwrap(), &given), Err(Rejection::Path(ProofError::RootMismatch)));

    // An unexpected author.
    let stranger = AuthorId([1; 32]);
    assert!(matches!(
        verify(&good.decode().unwrap(), &Trust { author: Some(stranger), ..Trust::default() }),
        Err(Rejection::UnexpectedAuthor { .. })
    ));

    // Readable fields that lie, or are missing or malformed.
    let cases: [(&Tamper, ProofFileError); 11] = [
        (&|f| f.num("seq", Some(7)), ProofFileError::Mismatch("seq")),
        (&|f| f.num("leaves", Some(12)), ProofFileError::Mismatch("leaves")),
        (&|f| f.set("root", Some(&"00".repeat(32))), ProofFileError::Mismatch("root")),
        (&|f| f.set("author", Some(&"11".repeat(32))), ProofFileError::Mismatch("author")),
        (&|f| f.num("seq", None), ProofFileError::Field("seq")),
        (&|f| f.set("head", None), ProofFileError::Field("head")),
        (&|f| f.set("proof", Some("xyz0")), ProofFileError::Hex("proof")),
        (&|f| f.num("version", Some(2)), ProofFileError::Version(2)),
        (&|f| f.num("version", None), ProofFileError::Field("version")),
        (&|f| f.set("format", None), ProofFileError::NotAProof),
        (&|f| f.set("format", Some("xaeroflux-consistency-proof")), ProofFileError::NotAProof),
    ];
    for (tamper, want) in cases {
        let mut f = good.clone();
        tamper(&mut f);
        assert_eq!(f.decode(), Err(want));
    }
    let mut f = good;
    f.set("event", Some("00"));
    assert!(matches!(f.decode(), Err(ProofFileError::Event(_))));
}

#[test]
fn fields_lists_what_encode_writes() {
    let (key, events, mmr) = feed(3);
    let written = encode(&events[1].as_ref(), &mmr.inclusion_proof(1).unwrap(), &key.sign_head(3, mmr.root()));
    let kinds: Vec<(&str, bool)> = written.iter().map(|(n, v)| (*n, matches!(v, FieldValue::Num(_)))).collect();
    assert_eq!(kinds, FIELDS);
}
