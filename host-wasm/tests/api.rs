//! The JavaScript API without persistence, through the same exported functions JavaScript
//! calls. Runs under Node.js (default) and in headless Chromium
//! (`WASM_BINDGEN_USE_BROWSER=1`); `scripts/test-wasm.sh` runs both.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use xaeroflux_wasm::Store;

mod common;
use common::*;

#[wasm_bindgen_test]
async fn append_read_prove_verify() {
    let store = Store::open_in_memory(None).unwrap();
    assert_eq!(store.length(), 0.0);
    assert!(store.head(None).unwrap().is_undefined());
    let ev = append(&store, "hello").await;
    assert_eq!(get(&ev, "seq").as_f64(), Some(0.0));
    assert_eq!(get(&ev, "text").as_string().as_deref(), Some("hello"));
    let bytes = Uint8Array::from(&[0u8, 159, 146, 150][..]);
    let ev = JsFuture::from(store.append(bytes.into(), Some(opts(&[("kind", 7.into())]))).unwrap()).await.unwrap();
    assert_eq!(get(&ev, "kind").as_f64(), Some(7.0));
    assert!(get(&ev, "text").is_null(), "invalid UTF-8 has no text");
    let batch = Array::of3(&"a".into(), &"b".into(), &"c".into());
    let out = JsFuture::from(store.append_batch(batch.into(), None).unwrap()).await.unwrap();
    assert_eq!(out.unchecked_ref::<Array>().length(), 3);
    assert_eq!(store.length(), 5.0);

    let range = store.range(1.0, 4.0, None).unwrap();
    let seqs: Vec<f64> = range.iter().map(|e| get(&e, "seq").as_f64().unwrap()).collect();
    assert_eq!(seqs, [1.0, 2.0, 3.0]);
    assert_eq!(store.list(Some(opts(&[("offset", 3.into()), ("limit", 10.into())]))).unwrap().length(), 2);
    assert!(store.get(9.0, None).unwrap().is_undefined());

    let head = store.head(None).unwrap();
    assert_eq!(get(&head, "length").as_f64(), Some(5.0));
    assert_eq!(get(&head, "root").as_string(), Some(store.root()));

    let proof = store.prove(2.0, None).unwrap();
    let verified = xaeroflux_wasm::verify_proof(proof.clone(), None).unwrap();
    assert_eq!(get(&verified, "seq").as_f64(), Some(2.0));
    assert_eq!(get(&verified, "author").as_string(), Some(store.author()));
    // The JSON text works too.
    let text = js_sys::JSON::stringify(&proof).unwrap();
    xaeroflux_wasm::verify_proof(text.into(), None).unwrap();
    // With the expected author, and with a trusted root.
    xaeroflux_wasm::verify_proof(proof.clone(), Some(opts(&[("author", store.author().into())]))).unwrap();
    xaeroflux_wasm::verify_proof(proof.clone(), Some(opts(&[("root", store.root().into())]))).unwrap();
}

#[wasm_bindgen_test]
async fn tampered_proofs_are_refused_with_codes() {
    let store = Store::open_in_memory(None).unwrap();
    for i in 0..9 {
        append(&store, &format!("event {i}")).await;
    }
    let proof = store.prove(4.0, None).unwrap();
    // Change one payload byte of the event: well-formed, but not in the feed.
    let ev_hex = get(&proof, "event").as_string().unwrap();
    let mut chars: Vec<char> = ev_hex.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == '0' { '1' } else { '0' };
    let tampered = js_sys::Object::assign(&js_sys::Object::new(), proof.unchecked_ref());
    Reflect::set(&tampered, &"event".into(), &chars.iter().collect::<String>().into()).unwrap();
    let e = xaeroflux_wasm::verify_proof(tampered.into(), None).unwrap_err();
    assert_eq!(code_of(&e), "PROOF_INVALID");
    let msg = get(&e, "message").as_string().unwrap();
    assert!(msg.contains("not in the feed"), "{msg}");

    // A lying readable field.
    let lying = js_sys::Object::assign(&js_sys::Object::new(), proof.unchecked_ref());
    Reflect::set(&lying, &"seq".into(), &5.into()).unwrap();
    assert_eq!(code_of(&xaeroflux_wasm::verify_proof(lying.into(), None).unwrap_err()), "MALFORMED");

    // Another expected author.
    let other = "ab".repeat(32);
    let e = xaeroflux_wasm::verify_proof(proof.clone(), Some(opts(&[("author", other.into())]))).unwrap_err();
    assert_eq!(code_of(&e), "PROOF_INVALID");

    // Not JSON, not a proof.
    assert_eq!(code_of(&xaeroflux_wasm::verify_proof("{".into(), None).unwrap_err()), "MALFORMED");
    assert_eq!(code_of(&xaeroflux_wasm::verify_proof(JsValue::from(3), None).unwrap_err()), "MALFORMED");
}

#[wasm_bindgen_test]
fn argument_errors_are_clear() {
    let store = Store::open_in_memory(None).unwrap();
    let e = store.append(JsValue::from(42), None).unwrap_err();
    assert_eq!(code_of(&e), "INVALID_ARGUMENT");
    assert!(get(&e, "message").as_string().unwrap().contains("`payload`"));
    assert_eq!(code_of(&store.get(-1.0, None).unwrap_err()), "INVALID_ARGUMENT");
    assert_eq!(code_of(&store.get(0.0, Some("xyz".into())).unwrap_err()), "INVALID_ARGUMENT");
    assert_eq!(code_of(&store.prove(0.0, None).unwrap_err()), "NOT_FOUND");
    let e = Store::open_in_memory(Some(opts(&[("pageSize", 3000.into())]))).err().unwrap();
    assert_eq!(code_of(&e), "INVALID_ARGUMENT");
    assert!(xaeroflux_wasm::is_xaeroflux_error(&e));
    assert!(!xaeroflux_wasm::is_xaeroflux_error(&js_sys::Error::new("x").into()));
}

#[wasm_bindgen_test]
async fn oversized_payload_is_refused_and_nothing_changes() {
    let store = Store::open_in_memory(None).unwrap();
    append(&store, "small").await;
    let big = Uint8Array::new_with_length(16 * 1024 * 1024 + 1);
    let e = JsFuture::from(store.append(big.into(), None).unwrap()).await.unwrap_err();
    assert_eq!(code_of(&e), "PAYLOAD_TOO_LARGE");
    assert_eq!(store.length(), 1.0);
    // A payload larger than a page goes into an overflow page and reads back whole.
    let large = Uint8Array::new_with_length(100_000);
    large.fill(7, 0, 100_000);
    let ev = JsFuture::from(store.append(large.into(), None).unwrap()).await.unwrap();
    let back = store.get(get(&ev, "seq").as_f64().unwrap(), None).unwrap();
    assert_eq!(get(&back, "payload").unchecked_into::<Uint8Array>().length(), 100_000);
}

#[wasm_bindgen_test]
async fn secret_key_gives_a_known_author_and_subscriptions_fire() {
    let secret = "07".repeat(32);
    let a = Store::open_in_memory(Some(opts(&[("secretKey", secret.clone().into())]))).unwrap();
    let b = Store::open_in_memory(Some(opts(&[("secretKey", secret.into())]))).unwrap();
    assert_eq!(a.author(), b.author());

    let seen = Array::new();
    let sink = seen.clone();
    let f = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(move |c: JsValue| {
        sink.push(&c);
    });
    let sub = a.subscribe(f.as_ref().unchecked_ref::<js_sys::Function>().clone());
    append(&a, "x").await;
    append(&a, "y").await;
    assert_eq!(seen.length(), 2);
    assert_eq!(get(&seen.get(1), "start").as_f64(), Some(1.0));
    assert_eq!(get(&seen.get(1), "origin").as_string().as_deref(), Some("local"));
    sub.unsubscribe();
    append(&a, "z").await;
    assert_eq!(seen.length(), 2);
    drop(f);
}

#[wasm_bindgen::prelude::wasm_bindgen(
    inline_js = "export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }"
)]
extern "C" {
    fn sleep(ms: u32) -> js_sys::Promise;
}

/// Connects two stores with a live session over an in-page pipe.
fn connect(a: &Store, b: &Store) -> (Slot, Slot) {
    let (sa, sb): (Slot, Slot) = Default::default();
    let ea = a.sync(opts(&[("role", "initiator".into()), ("send", sender(&sb).into())])).unwrap();
    *sa.borrow_mut() = Some(ea);
    let eb = b.sync(opts(&[("role", "responder".into()), ("send", sender(&sa).into())])).unwrap();
    *sb.borrow_mut() = Some(eb);
    (sa, sb)
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        JsFuture::from(sleep(10)).await.unwrap();
    }
    panic!("timed out waiting for {what}");
}

#[wasm_bindgen_test]
async fn stores_sync_live_and_relay_feeds() {
    let a = Store::open_in_memory(None).unwrap();
    let b = Store::open_in_memory(None).unwrap();
    let c = Store::open_in_memory(None).unwrap();
    for i in 0..50 {
        append(&a, &format!("a{i}")).await;
    }
    append(&b, "b0").await;
    let _ab = connect(&a, &b);
    let _bc = connect(&b, &c);
    let (aa, ba) = (Some(a.author()), Some(b.author()));
    wait_for("b to get a's 50 events", || !b.get(49.0, aa.clone()).unwrap().is_undefined()).await;
    wait_for("a to get b's event", || !a.get(0.0, ba.clone()).unwrap().is_undefined()).await;
    wait_for("c to get a's feed through b", || !c.get(49.0, aa.clone()).unwrap().is_undefined()).await;
    // Live: a new event travels a → b → c.
    append(&a, "live").await;
    wait_for("the live event at c", || !c.get(50.0, aa.clone()).unwrap().is_undefined()).await;
    let ev = c.get(50.0, aa.clone()).unwrap();
    assert_eq!(get(&ev, "text").as_string().as_deref(), Some("live"));
    // The replicas hold the author's signed head and prove events against it.
    let head = c.head(aa.clone()).unwrap();
    assert_eq!(get(&head, "root").as_string(), Some(a.root()));
    let proof = c.prove(17.0, aa.clone()).unwrap();
    xaeroflux_wasm::verify_proof(proof, Some(opts(&[("author", a.author().into())]))).unwrap();
    assert_eq!(c.event_count(), 52.0);
}

/// Connects `a` (all feeds) to `b`, which fetches only `fetch`.
fn connect_fetching(a: &Store, b: &Store, fetch: JsValue) -> (Slot, Slot) {
    let (sa, sb): (Slot, Slot) = Default::default();
    let ea = a.sync(opts(&[("role", "initiator".into()), ("send", sender(&sb).into())])).unwrap();
    *sa.borrow_mut() = Some(ea);
    let eb = b.sync(opts(&[("role", "responder".into()), ("send", sender(&sa).into()), ("fetch", fetch)])).unwrap();
    *sb.borrow_mut() = Some(eb);
    (sa, sb)
}

async fn fetch_events(slot: &Slot, author: &str, range: JsValue) -> Result<JsValue, JsValue> {
    let promise = slot.borrow().as_ref().unwrap().fetch_events(author, range)?;
    JsFuture::from(promise).await
}

fn texts(fetched: &JsValue) -> Vec<String> {
    let events: Array = get(fetched, "events").unchecked_into();
    events.iter().map(|e| get(&e, "text").as_string().unwrap()).collect()
}

#[wasm_bindgen_test]
async fn a_session_that_fetches_no_feed_reads_them_on_demand() {
    let a = Store::open_in_memory(None).unwrap();
    let b = Store::open_in_memory(None).unwrap();
    // About 330 KB: more than one XSP frame.
    let payloads: Vec<String> = (0..3000).map(|i| format!("{i:>100}")).collect();
    append_all(&a, &payloads).await;
    let (_sa, sb) = connect_fetching(&a, &b, JsValue::from_str("none"));
    let author = a.author();
    // Asked at once: waits for the peer to announce the feed.
    let latest = fetch_events(&sb, &author, opts(&[("latest", 3.into())])).await.unwrap();
    assert_eq!(texts(&latest), payloads[2997..].to_vec());
    assert_eq!(get(&latest, "start").as_f64(), Some(2997.0));
    assert_eq!(get(&latest, "end").as_f64(), Some(3000.0));
    assert_eq!(get(&get(&latest, "head"), "root").as_string(), Some(a.root()));
    // The whole feed, in several verified answers.
    let all = fetch_events(&sb, &author, opts(&[("start", 0.into()), ("end", 3000.into())])).await.unwrap();
    assert_eq!(texts(&all), payloads);
    // Cut to the peer's feed.
    let tail = fetch_events(&sb, &author, opts(&[("start", 2990.into()), ("end", 5000.into())])).await.unwrap();
    assert_eq!(texts(&tail).len(), 10);
    // An event with its inclusion proof: the proof file `store.prove` makes, checked by anyone.
    let fetch_proof = |seq: f64| JsFuture::from(sb.borrow().as_ref().unwrap().fetch_proof(&author, seq).unwrap());
    let proof = fetch_proof(7.0).await.unwrap();
    let json = |v: &JsValue| js_sys::JSON::stringify(v).unwrap().as_string().unwrap();
    assert_eq!(json(&proof), json(&a.prove(7.0, None).unwrap()), "the same file as the holder's own");
    let verified = xaeroflux_wasm::verify_proof(proof, Some(opts(&[("author", author.clone().into())]))).unwrap();
    assert_eq!(get(&verified, "seq").as_f64(), Some(7.0));
    let err = fetch_proof(3000.0).await.unwrap_err();
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("NOT_FOUND"), "{err:?}");
    // The head seen then, checked against the feed after it grew.
    let seen = get(&latest, "head");
    JsFuture::from(a.append_batch(Array::of1(&JsValue::from_str("later")).into(), None).unwrap()).await.unwrap();
    let session = || sb.borrow().as_ref().unwrap().fetch_consistency(seen.clone()).unwrap();
    let now = JsFuture::from(session()).await.unwrap();
    assert_eq!(get(&get(&now, "head"), "length").as_f64(), Some(3001.0));
    assert!(get(&now, "proof").is_instance_of::<js_sys::Uint8Array>());
    let mut forged = js_sys::Uint8Array::new(&get(&seen, "bytes")).to_vec();
    forged[40] ^= 1;
    let forged = js_sys::Uint8Array::from(&forged[..]);
    let err = sb.borrow().as_ref().unwrap().fetch_consistency(forged.into()).unwrap_err();
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("BAD_SIGNATURE"), "{err:?}");
    // Nothing stored; the session is synced without the feed.
    wait_for("b synced", || sb.borrow().as_ref().unwrap().synced()).await;
    assert_eq!(b.event_count(), 0.0);
    // A feed the peer does not hold, and a range that is none.
    let nobody = "07".repeat(32);
    let err = fetch_events(&sb, &nobody, opts(&[("latest", 1.into())])).await.unwrap_err();
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("NOT_FOUND"));
    let err = fetch_events(&sb, &author, opts(&[("start", 5.into()), ("end", 5.into())])).await.unwrap_err();
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("INVALID_ARGUMENT"));
    // A session that fetches this author stores the feed.
    let c = Store::open_in_memory(None).unwrap();
    let _ac = connect_fetching(&a, &c, Array::of1(&JsValue::from_str(&author)).into());
    wait_for("c stores a's feed", || c.event_count() == 3001.0).await;
}

/// What `fetchEvents` verified is kept by the store: a read inside an earlier answer resolves
/// from memory (`fromCache`), from another session of the store and once every session ended;
/// the latest events only while an answer ends where the peer's head ends; nothing is kept by
/// a store with `fetchCache: 0`.
#[wasm_bindgen_test]
async fn events_read_on_demand_are_read_again_from_memory() {
    let a = Store::open_in_memory(None).unwrap();
    let payloads: Vec<String> = (0..300).map(|i| format!("post {i}")).collect();
    append_all(&a, &payloads).await;
    let author = a.author();
    let b = Store::open_in_memory(None).unwrap();
    let none = Store::open_in_memory(Some(opts(&[("fetchCache", 0.into())]))).unwrap();
    let (sa, sb) = connect_fetching(&a, &b, JsValue::from_str("none"));
    let (_sa2, sn) = connect_fetching(&a, &none, JsValue::from_str("none"));
    let cached = |v: &JsValue| get(v, "fromCache").as_bool().unwrap();
    let range = |s: u32, e: u32| opts(&[("start", s.into()), ("end", e.into())]);

    let first = fetch_events(&sb, &author, range(100, 200)).await.unwrap();
    assert!(!cached(&first));
    assert_eq!(texts(&first), payloads[100..200].to_vec());
    // What the application does with the objects it got changes no later answer.
    let mangle = |fetched: &JsValue| {
        let events: Array = get(fetched, "events").unchecked_into();
        for e in events.iter() {
            js_sys::Reflect::set(&e, &"text".into(), &"changed".into()).unwrap();
        }
        events.reverse();
        events.push(&JsValue::from_str("extra"));
    };
    mangle(&first);
    let inside = fetch_events(&sb, &author, range(150, 170)).await.unwrap();
    assert!(cached(&inside));
    assert_eq!(texts(&inside), payloads[150..170].to_vec());
    mangle(&inside);
    assert_eq!(texts(&fetch_events(&sb, &author, range(150, 170)).await.unwrap()), payloads[150..170].to_vec());
    assert_eq!((get(&inside, "start").as_f64(), get(&inside, "end").as_f64()), (Some(150.0), Some(170.0)));
    let json = |v: &JsValue| js_sys::JSON::stringify(v).unwrap().as_string().unwrap();
    assert_eq!(json(&get(&inside, "head")), json(&get(&first, "head")));
    assert!(!cached(&fetch_events(&sb, &author, range(190, 210)).await.unwrap()), "past the answer");

    // The latest events: from memory while the answer ends at the peer's head.
    assert!(!cached(&fetch_events(&sb, &author, opts(&[("latest", 20.into())])).await.unwrap()));
    let again = fetch_events(&sb, &author, opts(&[("latest", 5.into())])).await.unwrap();
    assert!(cached(&again));
    assert_eq!(texts(&again), payloads[295..300].to_vec());
    append(&a, "post 300").await;
    // Once the session has the peer's new head, the latest events come from the peer.
    let mut newer = None;
    for _ in 0..200 {
        let got = fetch_events(&sb, &author, opts(&[("latest", 5.into())])).await.unwrap();
        if get(&got, "end").as_f64() == Some(301.0) {
            newer = Some(got);
            break;
        }
        assert!(cached(&got), "an answer ending at the old head comes from memory");
        JsFuture::from(sleep(10)).await.unwrap();
    }
    let newer = newer.expect("the latest events after the append");
    assert!(!cached(&newer));
    assert_eq!(texts(&newer)[4], "post 300");

    // Every session ended: what was read is still answered, nothing else.
    fetch_events(&sn, &author, range(100, 200)).await.unwrap();
    sa.borrow().as_ref().unwrap().close();
    wait_for("b's session to end", || sb.borrow().as_ref().unwrap().closed()).await;
    let offline = fetch_events(&sb, &author, range(120, 150)).await.unwrap();
    assert!(cached(&offline));
    assert_eq!(texts(&offline), payloads[120..150].to_vec());
    let err = fetch_events(&sb, &author, range(0, 10)).await.unwrap_err();
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("SYNC"), "{err:?}");
    // A store keeping nothing asks the peer every time.
    assert!(!cached(&fetch_events(&sn, &author, range(120, 150)).await.unwrap()));
}

/// `fetchProof` reads the event with its range proof and derives the inclusion proof from it:
/// the same proof file as the holder's own. An event read before (by `fetchEvents` or
/// `fetchProof`) is proved from memory, also once every session ended; any other then rejects.
#[wasm_bindgen_test]
async fn events_are_proved_from_the_range_proof_they_came_with_even_from_memory() {
    let a = Store::open_in_memory(None).unwrap();
    let payloads: Vec<String> = (0..300).map(|i| format!("post {i}")).collect();
    append_all(&a, &payloads).await;
    let author = a.author();
    let b = Store::open_in_memory(None).unwrap();
    let (sa, sb) = connect_fetching(&a, &b, JsValue::from_str("none"));
    let json = |v: &JsValue| js_sys::JSON::stringify(v).unwrap().as_string().unwrap();
    let fetch_proof = |seq: f64| JsFuture::from(sb.borrow().as_ref().unwrap().fetch_proof(&author, seq).unwrap());
    let holders = |seq: f64| json(&a.prove(seq, None).unwrap());
    for seq in [0.0, 255.0, 299.0] {
        assert_eq!(json(&fetch_proof(seq).await.unwrap()), holders(seq), "#{seq} from the peer");
    }
    fetch_events(&sb, &author, opts(&[("start", 100.into()), ("end", 200.into())])).await.unwrap();
    sa.borrow().as_ref().unwrap().close();
    wait_for("b's session to end", || sb.borrow().as_ref().unwrap().closed()).await;
    for seq in [0.0, 100.0, 137.0, 199.0, 255.0, 299.0] {
        let proof = fetch_proof(seq).await.unwrap();
        assert_eq!(json(&proof), holders(seq), "#{seq} from memory");
        let opts = Some(opts(&[("author", author.clone().into())]));
        assert_eq!(get(&xaeroflux_wasm::verify_proof(proof, opts).unwrap(), "seq").as_f64(), Some(seq));
    }
    let err = sb.borrow().as_ref().unwrap().fetch_proof(&author, 50.0).unwrap_err();
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("SYNC"), "{err:?}");
}

/// An author who signed two histories (two stores of one key): `fetchConsistency` of a head of
/// the other history rejects with `FORKED` and the evidence, which the evidence's own decoder
/// accepts; a head of the peer's history is still extended. `recordFork` keeps the evidence
/// (`forks()` lists it) and stops a running session from fetching the feed.
#[wasm_bindgen_test]
async fn fetch_consistency_answers_a_fork_with_the_evidence() {
    use xaeroflux_core::xsp::ForkEvidence;
    let secret = "5a".repeat(32);
    let key = || Some(opts(&[("secretKey", secret.clone().into())]));
    let (a, other) = (Store::open_in_memory(key()).unwrap(), Store::open_in_memory(key()).unwrap());
    for i in 0..4 {
        append(&a, &format!("a {i}")).await;
        append(&other, &format!("other {i}")).await;
    }
    let theirs = other.head(None).unwrap();
    let b = Store::open_in_memory(None).unwrap();
    let (_sa, sb) = connect_fetching(&a, &b, JsValue::from_str("none"));
    let check = |head: &JsValue| JsFuture::from(sb.borrow().as_ref().unwrap().fetch_consistency(head.clone()).unwrap());
    for longer in [false, true] {
        if longer {
            append(&a, "a 4").await;
        }
        let err = check(&theirs).await.unwrap_err();
        assert_eq!(code_of(&err), "FORKED", "{err:?}");
        let evidence = js_sys::Uint8Array::new(&get(&err, "evidence")).to_vec();
        let decoded = ForkEvidence::decode(&evidence).unwrap();
        decoded.verify().unwrap();
        assert_eq!(
            (decoded.first.length, decoded.second.length, decoded.proof.is_some()),
            (4, 4 + longer as u64, longer)
        );
    }
    let now = check(&a.head(None).unwrap()).await.unwrap();
    assert_eq!(get(&get(&now, "head"), "length").as_f64(), Some(5.0));

    // A store that keeps the feed records the evidence: it lists it, and its running session
    // stops fetching the feed (the want is taken back), so a later append does not come.
    let err = check(&theirs).await.unwrap_err();
    let evidence = get(&err, "evidence");
    let c = Store::open_in_memory(None).unwrap();
    // c's session with a, its events kept.
    let (sa2, sc): (Slot, Slot) = Default::default();
    *sa2.borrow_mut() = Some(a.sync(opts(&[("role", "initiator".into()), ("send", sender(&sc).into())])).unwrap());
    let seen = Array::new();
    let sink = seen.clone();
    let on_event = wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        sink.push(&e);
    });
    let c_opts =
        opts(&[("role", "responder".into()), ("send", sender(&sa2).into()), ("onEvent", on_event.as_ref().clone())]);
    *sc.borrow_mut() = Some(c.sync(c_opts).unwrap());
    let author = a.author();
    wait_for("c stores a's feed", || c.event_count() == 5.0).await;
    let record = |e: &JsValue| JsFuture::from(c.record_fork(e.clone()).unwrap());
    assert_eq!(record(&evidence).await.unwrap().as_bool(), Some(true));
    assert_eq!(record(&evidence).await.unwrap().as_bool(), Some(false), "one evidence per author");
    let forks = c.forks().unwrap();
    assert_eq!(forks.length(), 1);
    assert_eq!(get(&forks.get(0), "author").as_string(), Some(author.clone()));
    assert_eq!(get(&forks.get(0), "proof").as_bool(), Some(true));
    let listed = js_sys::Uint8Array::new(&get(&forks.get(0), "evidence")).to_vec();
    assert_eq!(listed, js_sys::Uint8Array::new(&evidence).to_vec());
    let feeds = c.feeds().unwrap();
    assert_eq!(get(&feeds.get(1), "forked").as_bool(), Some(true), "the feed is marked forked");
    append(&a, "a 5").await;
    wait_for("c's session settles", || sc.borrow().as_ref().unwrap().synced()).await;
    JsFuture::from(sleep(200)).await.unwrap();
    assert_eq!(c.event_count(), 5.0, "nothing more of the forked feed is stored");
    let refused = seen.iter().filter(|e| get(e, "type").as_string().as_deref() == Some("rejected")).count();
    assert_eq!(refused, 0, "nor sent: the want was taken back, nothing came to refuse");
    drop(on_event);
    // What is not evidence, or proves no fork, is refused.
    assert_eq!(code_of(&c.record_fork(JsValue::from_str("beef")).unwrap_err()), "MALFORMED");
    let mut same = ForkEvidence::decode(&listed).unwrap();
    same.second = same.first;
    same.proof = None;
    let same = js_sys::Uint8Array::from(&same.encode()[..]);
    assert_eq!(code_of(&c.record_fork(same.into()).unwrap_err()), "PROOF_INVALID");
}

/// `session.setFetch` changes the feeds a session keeps while it runs: a feed now fetched
/// comes at once and live; one no longer fetched stops coming, on the same session (UNWANT).
#[wasm_bindgen_test]
async fn set_fetch_changes_the_feeds_a_running_session_keeps() {
    let a = Store::open_in_memory(None).unwrap();
    let b = Store::open_in_memory(None).unwrap();
    append_all(&a, &(0..500).map(|i| format!("{i:>100}")).collect::<Vec<_>>()).await;
    let (_sa, sb) = connect_fetching(&a, &b, JsValue::from_str("none"));
    let author = a.author();
    let session = || sb.borrow();
    wait_for("b synced without a's feed", || session().as_ref().unwrap().synced()).await;
    assert_eq!(b.event_count(), 0.0);

    // Fetched now: at once, then live.
    session().as_ref().unwrap().set_fetch(Array::of1(&JsValue::from_str(&author)).into()).unwrap();
    wait_for("b stores a's feed", || b.event_count() == 500.0).await;
    append(&a, "live").await;
    wait_for("the live event at b", || b.event_count() == 501.0).await;

    // No longer fetched: later events do not come, and the session goes on.
    session().as_ref().unwrap().set_fetch(JsValue::from_str("none")).unwrap();
    for i in 0..5 {
        append(&a, &format!("later {i}")).await;
    }
    JsFuture::from(sleep(100)).await.unwrap();
    wait_for("b synced again", || session().as_ref().unwrap().synced()).await;
    assert_eq!(b.event_count(), 501.0, "a feed no longer fetched does not grow");
    assert!(!session().as_ref().unwrap().closed(), "the session goes on");
    // Every feed again: the rest comes on the same session.
    session().as_ref().unwrap().set_fetch(JsValue::from_str("all")).unwrap();
    wait_for("the rest of a's feed at b", || b.event_count() == 506.0).await;
    assert!(!session().as_ref().unwrap().closed());
    let err = session().as_ref().unwrap().set_fetch(JsValue::from_str("some")).unwrap_err();
    assert_eq!(code_of(&err), "INVALID_ARGUMENT");
}

// Encrypted events: `append(payload, { secret })`, `decryptEvent`, space secrets.

fn bytes_of(ev: &JsValue, key: &str) -> Vec<u8> {
    get(ev, key).unchecked_into::<Uint8Array>().to_vec()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Appends with options and waits for the receipt (or the rejection).
async fn append_with(store: &Store, payload: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(store.append(payload, Some(options))?).await
}

#[wasm_bindgen_test]
async fn append_with_a_secret_seals_and_decrypt_event_opens() {
    let secret = xaeroflux_wasm::generate_space_secret().unwrap();
    let store = Store::open_in_memory(None).unwrap();
    let plain = "meet at noon";
    let options = opts(&[("secret", secret.clone().into()), ("kind", 7.into()), ("flags", 2.into())]);
    let ev = append_with(&store, plain.into(), options).await.unwrap();
    let sealed = bytes_of(&ev, "payload");
    assert_eq!(sealed.len(), plain.len() + 45, "version, key id, nonce and tag");
    assert!(!sealed.windows(plain.len()).any(|w| w == plain.as_bytes()), "the plaintext is not stored");
    assert_eq!(get(&ev, "flags").as_f64(), Some(3.0), "ENCRYPTED (1) besides the flags given (2)");
    assert_eq!(get(&ev, "kind").as_f64(), Some(7.0));
    assert!(get(&ev, "text").is_null(), "an encrypted event has no text");
    let key_id = xaeroflux_wasm::space_secret_key_id(secret.clone().into()).unwrap();
    assert_eq!(xaeroflux_core_hex(&sealed[1..5]), key_id, "the payload carries the secret's key id");
    assert_eq!(xaeroflux_wasm::event_key_id(ev.clone()).unwrap().as_string(), Some(key_id.clone()));

    let opened = xaeroflux_wasm::decrypt_event(ev.clone(), secret.clone().into()).unwrap();
    assert_eq!(opened.to_vec(), plain.as_bytes());
    // The event as read back, and with the secret in upper case.
    let back = store.get(0.0, None).unwrap();
    let opened = xaeroflux_wasm::decrypt_event(back, secret.to_uppercase().into()).unwrap();
    assert_eq!(opened.to_vec(), plain.as_bytes());
    // The same plaintext sealed twice gives different bytes (fresh randomness each time).
    let again = append_with(&store, plain.into(), opts(&[("secret", secret.clone().into())])).await.unwrap();
    assert_ne!(bytes_of(&again, "payload"), sealed);
    assert_eq!(get(&again, "flags").as_f64(), Some(1.0));
    // The ENCRYPTED flag alone would store the plaintext marked as sealed: refused.
    let flagged = store.append("not sealed".into(), Some(opts(&[("flags", 1.into())])));
    assert_eq!(code_of(&flagged.unwrap_err()), "INVALID_ARGUMENT");
    // A plain event carries no key id.
    let plain_ev = append_with(&store, plain.into(), opts(&[])).await.unwrap();
    assert!(xaeroflux_wasm::event_key_id(plain_ev).unwrap().is_undefined());
    // Proofs cover the sealed bytes like any other payload.
    let proof = store.prove(0.0, None).unwrap();
    let verified = xaeroflux_wasm::verify_proof(proof, Some(opts(&[("author", store.author().into())]))).unwrap();
    let event = get(&verified, "event");
    assert_eq!(xaeroflux_wasm::decrypt_event(event, secret.into()).unwrap().to_vec(), plain.as_bytes());
}

/// Lower-case hex of bytes.
fn xaeroflux_core_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[wasm_bindgen_test]
async fn append_batch_with_a_secret_as_bytes() {
    let secret_bytes: Vec<u8> = (1..=32).collect();
    let secret = Uint8Array::from(&secret_bytes[..]);
    let store = Store::open_in_memory(None).unwrap();
    let raw = Uint8Array::from(&[0u8, 159, 146, 150][..]);
    let batch = Array::of3(&"one".into(), &"".into(), &raw);
    let options = opts(&[("secret", secret.clone().into())]);
    let out = JsFuture::from(store.append_batch(batch.into(), Some(options)).unwrap()).await.unwrap();
    let out: Array = out.unchecked_into();
    assert_eq!(out.length(), 3);
    let want: [&[u8]; 3] = [b"one", b"", &[0, 159, 146, 150]];
    for (i, plain) in want.iter().enumerate() {
        let ev = out.get(i as u32);
        assert_eq!(get(&ev, "flags").as_f64(), Some(1.0));
        assert_eq!(bytes_of(&ev, "payload").len(), plain.len() + 45);
        // Opened with either form of the secret.
        assert_eq!(xaeroflux_wasm::decrypt_event(ev.clone(), secret.clone().into()).unwrap().to_vec(), *plain);
        let hex = xaeroflux_core_hex(&secret_bytes);
        assert_eq!(xaeroflux_wasm::decrypt_event(ev, hex.into()).unwrap().to_vec(), *plain);
    }
    assert_eq!(store.length(), 3.0);
}

#[wasm_bindgen_test]
async fn what_does_not_open_is_a_decrypt_error() {
    let secret = xaeroflux_wasm::generate_space_secret().unwrap();
    let other = xaeroflux_wasm::generate_space_secret().unwrap();
    let store = Store::open_in_memory(None).unwrap();
    let ev = append_with(&store, "secret plans".into(), opts(&[("secret", secret.clone().into())])).await.unwrap();

    // Another secret: the message names the key id the payload carries.
    let e = xaeroflux_wasm::decrypt_event(ev.clone(), other.into()).unwrap_err();
    assert_eq!(code_of(&e), "DECRYPT");
    let msg = get(&e, "message").as_string().unwrap();
    let key_id = xaeroflux_wasm::space_secret_key_id(secret.clone().into()).unwrap();
    assert_eq!(msg, format!("sealed with another secret (key id {key_id})"));

    // An event that is not encrypted.
    let plain = append(&store, "in the clear").await;
    let e = xaeroflux_wasm::decrypt_event(plain, secret.clone().into()).unwrap_err();
    assert_eq!(code_of(&e), "DECRYPT");
    assert_eq!(get(&e, "message").as_string().as_deref(), Some("the event is not encrypted"));

    // A changed byte of the ciphertext, or the payload under another author.
    let copy = js_sys::Object::assign(&js_sys::Object::new(), ev.unchecked_ref());
    let mut bytes = bytes_of(&ev, "payload");
    bytes[30] ^= 1;
    Reflect::set(&copy, &"payload".into(), &Uint8Array::from(&bytes[..])).unwrap();
    let e = xaeroflux_wasm::decrypt_event(copy.clone().into(), secret.clone().into()).unwrap_err();
    assert_eq!(code_of(&e), "DECRYPT");
    assert!(get(&e, "message").as_string().unwrap().contains("does not authenticate"));
    Reflect::set(&copy, &"payload".into(), &get(&ev, "payload")).unwrap();
    Reflect::set(&copy, &"author".into(), &"ab".repeat(32).into()).unwrap();
    assert_eq!(
        code_of(&xaeroflux_wasm::decrypt_event(copy.clone().into(), secret.clone().into()).unwrap_err()),
        "DECRYPT"
    );

    // Too short to be a sealed payload.
    Reflect::set(&copy, &"author".into(), &get(&ev, "author")).unwrap();
    Reflect::set(&copy, &"payload".into(), &Uint8Array::from(&[1u8, 2, 3][..])).unwrap();
    let e = xaeroflux_wasm::decrypt_event(copy.into(), secret.into()).unwrap_err();
    assert_eq!(code_of(&e), "DECRYPT");
    assert_eq!(get(&e, "message").as_string().as_deref(), Some("a sealed payload is at least 45 bytes, this one 3"));
}

#[wasm_bindgen_test]
async fn bad_secrets_and_oversized_plaintexts_are_refused() {
    let store = Store::open_in_memory(None).unwrap();
    let good = "07".repeat(32);
    let bad: [(JsValue, &str); 5] = [
        ("abc".into(), "a space secret is 64 hex characters, not 3"),
        (format!("{}zz", "0".repeat(62)).into(), "hex digits only (character 62 is not one)"),
        (Uint8Array::new_with_length(31).into(), "a space secret is 32 bytes, not 31"),
        (JsValue::from(42), "expected a space secret: 64 hex characters or a Uint8Array of 32 bytes"),
        (js_sys::ArrayBuffer::new(32).into(), "expected a space secret"),
    ];
    for (secret, why) in bad {
        let e = store.append("x".into(), Some(opts(&[("secret", secret.clone())]))).unwrap_err();
        assert_eq!(code_of(&e), "INVALID_ARGUMENT");
        let msg = get(&e, "message").as_string().unwrap();
        assert!(msg.starts_with("invalid argument `secret`: ") && msg.contains(why), "{msg}");
        let batch = Array::of1(&"x".into());
        let e = store.append_batch(batch.into(), Some(opts(&[("secret", secret.clone())]))).unwrap_err();
        assert_eq!(code_of(&e), "INVALID_ARGUMENT");
        assert_eq!(code_of(&xaeroflux_wasm::space_secret_key_id(secret.clone()).unwrap_err()), "INVALID_ARGUMENT");
        let ev = opts(&[
            ("author", "ab".repeat(32).into()),
            ("flags", 1.into()),
            ("payload", Uint8Array::new_with_length(50).into()),
        ]);
        assert_eq!(code_of(&xaeroflux_wasm::decrypt_event(ev, secret).unwrap_err()), "INVALID_ARGUMENT");
    }
    // Events that are not events.
    for ev in [
        JsValue::from("event"),
        opts(&[("flags", 1.into())]),
        opts(&[("author", "ab".repeat(32).into()), ("flags", 1.into())]),
    ] {
        assert_eq!(code_of(&xaeroflux_wasm::decrypt_event(ev, good.clone().into()).unwrap_err()), "INVALID_ARGUMENT");
    }
    assert_eq!(store.length(), 0.0);

    // 16 MiB − 45 bytes is the most a sealed payload holds; nothing is stored past it.
    let big = Uint8Array::new_with_length(16 * 1024 * 1024 - 44);
    let e = append_with(&store, big.into(), opts(&[("secret", good.clone().into())])).await.unwrap_err();
    assert_eq!(code_of(&e), "PAYLOAD_TOO_LARGE");
    let msg = get(&e, "message").as_string().unwrap();
    assert!(msg.contains("16777172 bytes is too large to encrypt (at most 16777171)"), "{msg}");
    let batch = Array::of2(&"small".into(), &Uint8Array::new_with_length(16 * 1024 * 1024 - 44));
    let e = JsFuture::from(store.append_batch(batch.into(), Some(opts(&[("secret", good.into())]))).unwrap())
        .await
        .unwrap_err();
    assert_eq!(code_of(&e), "PAYLOAD_TOO_LARGE");
    assert_eq!(store.length(), 0.0);
}

#[wasm_bindgen_test]
fn space_secrets_and_key_ids() {
    let a = xaeroflux_wasm::generate_space_secret().unwrap();
    let b = xaeroflux_wasm::generate_space_secret().unwrap();
    for s in [&a, &b] {
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{s}");
    }
    assert_ne!(a, b);
    let id = xaeroflux_wasm::space_secret_key_id(a.clone().into()).unwrap();
    assert_eq!(id.len(), 8);
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
    let bytes = Uint8Array::from(&unhex(&a)[..]);
    assert_eq!(xaeroflux_wasm::space_secret_key_id(bytes.into()).unwrap(), id);
    assert_eq!(xaeroflux_wasm::space_secret_key_id(format!(" {}\n", a.to_uppercase()).into()).unwrap(), id);
    assert_ne!(xaeroflux_wasm::space_secret_key_id(b.into()).unwrap(), id);
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function hide_web_crypto() {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true, writable: true });
  return saved;
}
export function restore_web_crypto(saved) {
  if (saved) Object.defineProperty(globalThis, "crypto", saved); else delete globalThis.crypto;
}
"#)]
extern "C" {
    fn hide_web_crypto() -> JsValue;
    fn restore_web_crypto(saved: JsValue);
}

#[wasm_bindgen_test]
async fn without_web_crypto_there_are_no_secrets_and_no_encrypted_appends() {
    let store = Store::open_in_memory(None).unwrap();
    let saved = hide_web_crypto();
    let made = xaeroflux_wasm::generate_space_secret();
    let appended = append_with(&store, "x".into(), opts(&[("secret", "07".repeat(32).into())])).await;
    restore_web_crypto(saved);
    let e = made.unwrap_err();
    assert_eq!(code_of(&e), "UNSUPPORTED");
    assert!(get(&e, "message").as_string().unwrap().contains("crypto.getRandomValues"));
    let e = appended.unwrap_err();
    assert_eq!(code_of(&e), "UNSUPPORTED");
    assert_eq!(store.length(), 0.0);
    // Back to normal.
    assert_eq!(xaeroflux_wasm::generate_space_secret().unwrap().len(), 64);
    append_with(&store, "x".into(), opts(&[("secret", "07".repeat(32).into())])).await.unwrap();
}

#[wasm_bindgen_test]
async fn encrypted_events_sync_to_peers_without_the_secret() {
    let secret = xaeroflux_wasm::generate_space_secret().unwrap();
    let a = Store::open_in_memory(None).unwrap();
    let relay = Store::open_in_memory(None).unwrap();
    append_with(&a, "members only".into(), opts(&[("secret", secret.clone().into())])).await.unwrap();
    let _link = connect(&a, &relay);
    let aa = Some(a.author());
    wait_for("the relay to get a's event", || !relay.get(0.0, aa.clone()).unwrap().is_undefined()).await;
    let ev = relay.get(0.0, aa.clone()).unwrap();
    assert_eq!(get(&ev, "flags").as_f64(), Some(1.0));
    assert!(get(&ev, "text").is_null());
    assert_eq!(xaeroflux_wasm::decrypt_event(ev, secret.into()).unwrap().to_vec(), b"members only");
}

/// core/tests/vectors/sealed_payload.json: sealed by an independent implementation (PyNaCl).
const SEALED_VECTORS: &str = include_str!("../../core/tests/vectors/sealed_payload.json");

#[wasm_bindgen_test]
fn sealed_payload_vectors_open() {
    let doc = js_sys::JSON::parse(SEALED_VECTORS).unwrap();
    let cases: Array = get(&doc, "cases").unchecked_into();
    assert!(cases.length() >= 10);
    for (i, case) in cases.iter().enumerate() {
        let field = |k: &str| get(&case, k).as_string().unwrap();
        let (secret, author) = (field("secret"), field("author"));
        assert_eq!(xaeroflux_wasm::space_secret_key_id(secret.clone().into()).unwrap(), field("key_id"), "case {i}");
        let bytes = Uint8Array::from(&unhex(&secret)[..]);
        assert_eq!(xaeroflux_wasm::space_secret_key_id(bytes.clone().into()).unwrap(), field("key_id"), "case {i}");
        // As a decoded event would give it (the fields decryptEvent does not read are ignored).
        let ev = opts(&[
            ("author", author.into()),
            ("seq", 0.into()),
            ("timestamp", 0.into()),
            ("kind", 0.into()),
            ("flags", 1.into()),
            ("payload", Uint8Array::from(&unhex(&field("sealed"))[..]).into()),
        ]);
        let plain = xaeroflux_wasm::decrypt_event(ev.clone(), secret.into()).unwrap();
        assert_eq!(xaeroflux_core_hex(&plain.to_vec()), field("plaintext"), "case {i}");
        assert_eq!(xaeroflux_wasm::decrypt_event(ev, bytes.into()).unwrap().to_vec(), plain.to_vec(), "case {i}");
    }
}

async fn export(store: &Store, options: Option<JsValue>) -> Uint8Array {
    JsFuture::from(store.export_archive(options).unwrap()).await.unwrap().unchecked_into()
}

/// Every event of a store, as `[author, seq, text]` in arrival order.
fn listed(store: &Store) -> Vec<(String, f64, Option<String>)> {
    let list = store.list(None).unwrap();
    list.iter()
        .map(|e| {
            (get(&e, "author").as_string().unwrap(), get(&e, "seq").as_f64().unwrap(), get(&e, "text").as_string())
        })
        .collect()
}

#[wasm_bindgen_test]
async fn an_archive_opens_as_the_same_store() {
    let a = Store::open_in_memory(None).unwrap();
    let b = Store::open_in_memory(None).unwrap();
    append_all(&a, &(0..30).map(|i| format!("a{i}")).collect::<Vec<_>>()).await;
    append_all(&b, &(0..20).map(|i| format!("b{i}")).collect::<Vec<_>>()).await;
    let _ab = connect(&a, &b);
    let ba = Some(b.author());
    wait_for("a to get b's feed", || !a.get(19.0, ba.clone()).unwrap().is_undefined()).await;
    append(&a, "after the sync").await;

    let bytes = export(&a, None).await;
    let info = xaeroflux_wasm::archive_info(bytes.clone().into()).unwrap();
    assert_eq!(get(&info, "author").as_string(), Some(a.author()));
    assert_eq!(get(&info, "pageSize").as_f64(), Some(f64::from(a.page_size())));
    let copy = Store::open_archive(bytes.clone().into(), None).unwrap();
    assert_eq!((copy.author(), copy.root(), copy.length()), (a.author(), a.root(), a.length()));
    assert_eq!(listed(&copy), listed(&a), "every event, in the same arrival order");
    assert_eq!(
        get(&copy.head(ba.clone()).unwrap(), "signature").as_string(),
        get(&a.head(ba.clone()).unwrap(), "signature").as_string()
    );
    // The copy goes on as the same author; an ArrayBuffer works too.
    let ev = append(&copy, "from the copy").await;
    assert_eq!(get(&ev, "seq").as_f64(), Some(31.0));
    let from_buffer = Store::open_archive(bytes.buffer().into(), None).unwrap();
    assert_eq!(from_buffer.root(), a.root());

    // Without the key: every feed a replica in a store of another author.
    let public = export(&a, Some(opts(&[("withKey", false.into())]))).await;
    assert!(get(&xaeroflux_wasm::archive_info(public.clone().into()).unwrap(), "author").is_null());
    let other = Store::open_archive(public.clone().into(), None).unwrap();
    assert_ne!(other.author(), a.author());
    assert_eq!(other.length(), 0.0);
    let aa = Some(a.author());
    assert_eq!(get(&other.get(30.0, aa.clone()).unwrap(), "text").as_string().as_deref(), Some("after the sync"));
    assert_eq!(get(&other.head(aa.clone()).unwrap(), "root").as_string(), Some(a.root()));
    // ... or of the author the secretKey option names.
    let key = opts(&[("secretKey", JsValue::from_str(&"07".repeat(32)))]);
    let mine = Store::open_archive(public.into(), Some(key)).unwrap();
    assert_eq!(mine.event_count(), 51.0);
}

#[wasm_bindgen_test]
async fn a_damaged_archive_is_refused() {
    let a = Store::open_in_memory(None).unwrap();
    append_all(&a, &(0..40).map(|i| format!("event {i}")).collect::<Vec<_>>()).await;
    let bytes = export(&a, None).await.to_vec();
    for at in [0, 9, 20, bytes.len() / 2, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[at] ^= 1;
        let err = Store::open_archive(Uint8Array::from(&bad[..]).into(), None).err().unwrap();
        assert_eq!(code_of(&err), "MALFORMED", "byte {at}");
    }
    let cut = Uint8Array::from(&bytes[..bytes.len() - 40]);
    let err = Store::open_archive(cut.into(), None).err().unwrap();
    assert!(get(&err, "message").as_string().unwrap().contains("truncated"), "{err:?}");
    let err = Store::open_archive(JsValue::from_str("not bytes"), None).err().unwrap();
    assert_eq!(code_of(&err), "INVALID_ARGUMENT");
    let err = xaeroflux_wasm::archive_info(Uint8Array::from(&b"{\"json\": 1}"[..]).into()).unwrap_err();
    assert_eq!(code_of(&err), "MALFORMED");
    let err = a.export_archive(Some(opts(&[("withKey", JsValue::from_str("yes"))]))).err().unwrap();
    assert_eq!(code_of(&err), "INVALID_ARGUMENT");
}

#[wasm_bindgen_test]
async fn a_sealed_archive_opens_as_its_author_only_with_the_password() {
    let a = Store::open_in_memory(None).unwrap();
    append_all(&a, &(0..25).map(|i| format!("mine {i}")).collect::<Vec<_>>()).await;
    let sealed = export(&a, Some(opts(&[("password", JsValue::from_str("open sesame"))]))).await;
    let info = xaeroflux_wasm::archive_info(sealed.clone().into()).unwrap();
    assert_eq!(get(&info, "author").as_string(), Some(a.author()), "the author is in clear");
    assert_eq!(get(&info, "sealed").as_bool(), Some(true));
    let plain = export(&a, None).await;
    assert_eq!(get(&xaeroflux_wasm::archive_info(plain.into()).unwrap(), "sealed").as_bool(), Some(false));
    let err = Store::open_archive(sealed.clone().into(), None).err().unwrap();
    assert_eq!(code_of(&err), "PASSWORD");
    let wrong = opts(&[("password", JsValue::from_str("open sesame!"))]);
    let err = Store::open_archive(sealed.clone().into(), Some(wrong)).err().unwrap();
    assert_eq!(code_of(&err), "PASSWORD");
    let right = opts(&[("password", JsValue::from_str("open sesame"))]);
    let copy = Store::open_archive(sealed.into(), Some(right)).unwrap();
    assert_eq!((copy.author(), copy.root(), copy.length()), (a.author(), a.root(), a.length()));
    let ev = append(&copy, "from the copy").await;
    assert_eq!(get(&ev, "seq").as_f64(), Some(25.0));
    // No password without a key to seal, and none empty.
    let both = opts(&[("password", JsValue::from_str("x")), ("withKey", false.into())]);
    assert_eq!(code_of(&a.export_archive(Some(both)).err().unwrap()), "INVALID_ARGUMENT");
    let empty = opts(&[("password", JsValue::from_str(""))]);
    assert_eq!(code_of(&a.export_archive(Some(empty)).err().unwrap()), "INVALID_ARGUMENT");
    let number = opts(&[("password", JsValue::from_f64(7.0))]);
    assert_eq!(
        code_of(&Store::open_archive(export(&a, None).await.into(), Some(number)).err().unwrap()),
        "INVALID_ARGUMENT"
    );
}
