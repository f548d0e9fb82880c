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
