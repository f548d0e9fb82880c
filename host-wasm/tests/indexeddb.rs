//! Persistence in IndexedDB, in headless Chromium: reopening, the cross-tab lock, damaged
//! databases, replicas from sync, group commit.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use xaeroflux_wasm::Store;

mod common;
use common::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
function req(r) { return new Promise((ok, err) => { r.onsuccess = () => ok(r.result); r.onerror = () => err(r.error); }); }
async function db(name) { return req(indexedDB.open("xaeroflux:" + name)); }
export async function flip_page_byte(name, offset) {
  const d = await db(name);
  const tx = d.transaction("pages", "readwrite");
  const s = tx.objectStore("pages");
  const keys = await req(s.getAllKeys());
  const page = await req(s.get(keys[0]));
  page[offset] ^= 1;
  await req(s.put(page, keys[0]));
  d.close();
}
export async function delete_first_page(name) {
  const d = await db(name);
  const tx = d.transaction("pages", "readwrite");
  const s = tx.objectStore("pages");
  const keys = await req(s.getAllKeys());
  await req(s.delete(keys[0]));
  d.close();
}
export async function page_images(name) {
  const d = await db(name);
  const s = d.transaction("pages", "readonly").objectStore("pages");
  const keys = await req(s.getAllKeys());
  const pages = await req(s.getAll());
  d.close();
  return [keys, pages];
}
export async function put_pages_and_format(name, keys, pages, format) {
  const d = await db(name);
  const tx = d.transaction(["pages", "meta"], "readwrite");
  for (let i = 0; i < keys.length; i++) tx.objectStore("pages").put(pages[i], keys[i]);
  tx.objectStore("meta").put(format, "format");
  await new Promise((ok, err) => { tx.oncomplete = ok; tx.onerror = () => err(tx.error); });
  d.close();
}
export async function stored_format(name) {
  const d = await db(name);
  const f = await req(d.transaction("meta", "readonly").objectStore("meta").get("format"));
  d.close();
  return f;
}
export async function damage_kept_reads(name) {
  const d = await db(name);
  const tx = d.transaction("fetched", "readwrite");
  const s = tx.objectStore("fetched");
  const keys = await req(s.getAllKeys());
  for (const k of keys) { const r = await req(s.get(k)); r[Math.floor(r.length / 2)] ^= 1; await req(s.put(r, k)); }
  d.close();
  return keys.length;
}
export async function kept_reads(name) {
  const d = await db(name);
  const n = await req(d.transaction("fetched", "readonly").objectStore("fetched").count());
  d.close();
  return n;
}
export async function copy_kept_reads(from, to) {
  const a = await db(from);
  const all = async (store) => { const s = a.transaction(store, "readonly").objectStore(store); return [await req(s.getAllKeys()), await req(s.getAll())]; };
  const stores = {};
  for (const name of a.objectStoreNames) stores[name] = await all(name);
  const version = a.version;
  a.close();
  const open = indexedDB.open("xaeroflux:" + to, version);
  open.onupgradeneeded = () => { for (const name of Object.keys(stores)) open.result.createObjectStore(name); };
  const b = await req(open);
  const tx = b.transaction(Object.keys(stores), "readwrite");
  for (const [name, [keys, values]] of Object.entries(stores)) for (let i = 0; i < keys.length; i++) tx.objectStore(name).put(values[i], keys[i]);
  await new Promise((ok, err) => { tx.oncomplete = ok; tx.onerror = () => err(tx.error); });
  b.close();
}
export function unique(prefix) { return prefix + "-" + Math.random().toString(36).slice(2); }
"#)]
extern "C" {
    fn flip_page_byte(name: &str, offset: u32) -> js_sys::Promise;
    fn delete_first_page(name: &str) -> js_sys::Promise;
    fn unique(prefix: &str) -> String;
    fn page_images(name: &str) -> js_sys::Promise;
    fn put_pages_and_format(name: &str, keys: &Array, pages: &Array, format: f64) -> js_sys::Promise;
    fn stored_format(name: &str) -> js_sys::Promise;
    fn damage_kept_reads(name: &str) -> js_sys::Promise;
    fn kept_reads(name: &str) -> js_sys::Promise;
    fn copy_kept_reads(from: &str, to: &str) -> js_sys::Promise;
}

async fn open(name: &str) -> Result<Store, JsValue> {
    Store::open_persistent(name.into(), JsValue::UNDEFINED).await
}

async fn close(store: &Store) {
    JsFuture::from(store.close()).await.unwrap();
}

async fn delete(name: &str) {
    JsFuture::from(Store::delete_store(name.into())).await.unwrap();
}

#[wasm_bindgen_test]
async fn survives_reopening_with_everything_verified() {
    let name = unique("persist");
    let s = open(&name).await.unwrap();
    assert!(s.persistent());
    // Many appends in flight at once: committed in groups, every promise resolves.
    let pending: Vec<_> = (0..200).map(|i| s.append(JsValue::from_str(&format!("event {i}")), None).unwrap()).collect();
    for p in pending {
        JsFuture::from(p).await.unwrap();
    }
    let batch: Array = (0..50).map(|i| JsValue::from_str(&format!("batch {i}"))).collect();
    JsFuture::from(s.append_batch(batch.into(), None).unwrap()).await.unwrap();
    let (author, root, length) = (s.author(), s.root(), s.length());
    assert_eq!(length, 250.0);
    let head = get(&s.head(None).unwrap(), "signature").as_string();
    close(&s).await;
    assert_eq!(code_of(&s.get(0.0, None).unwrap_err()), "CLOSED");

    let s = open(&name).await.unwrap();
    assert_eq!((s.author(), s.root(), s.length()), (author, root, length));
    assert_eq!(get(&s.head(None).unwrap(), "signature").as_string(), head);
    assert_eq!(get(&s.get(199.0, None).unwrap(), "text").as_string().as_deref(), Some("event 199"));
    let listed = s.list(None).unwrap();
    assert_eq!(listed.length(), 250);
    assert_eq!(get(&listed.get(200), "text").as_string().as_deref(), Some("batch 0"));
    // And it keeps appending where it stopped.
    let ev = append(&s, "after reopen").await;
    assert_eq!(get(&ev, "seq").as_f64(), Some(250.0));
    close(&s).await;
    delete(&name).await;
}

/// A database saved by a package of storage format 1 (version-1 pages, keyed blake3
/// checksums) opens with everything verified, is raised to the current format, and grows.
#[wasm_bindgen_test]
async fn a_format_1_database_of_version_1_pages_opens_and_grows() {
    use xaeroflux_core::hash::page_checksum_v1;
    let name = unique("format1");
    let s = open(&name).await.unwrap();
    let text = |i: usize| format!("old event {i:03} {}", "x".repeat(200 + i));
    let batch: Array = (0..300).map(|i| JsValue::from_str(&text(i))).collect();
    JsFuture::from(s.append_batch(batch.into(), None).unwrap()).await.unwrap();
    let (root, length) = (s.root(), s.length());
    close(&s).await;

    // Every page to version 1, the format number to 1.
    let got: Array = JsFuture::from(page_images(&name)).await.unwrap().into();
    let (keys, pages): (Array, Array) = (got.get(0).into(), got.get(1).into());
    assert!(pages.length() > 2, "{} pages", pages.length());
    let old: Array = pages
        .iter()
        .map(|p| {
            let mut img = Uint8Array::new(&p).to_vec();
            assert_eq!(img[4], 2);
            img[4] = 1;
            let used = u32::from_le_bytes(img[12..16].try_into().unwrap()) as usize;
            let mut head = img[..64].to_vec();
            head[56..64].fill(0);
            let sum = page_checksum_v1(&head, &img[64..64 + used]);
            img[56..64].copy_from_slice(&sum.to_le_bytes());
            JsValue::from(Uint8Array::from(&img[..]))
        })
        .collect();
    JsFuture::from(put_pages_and_format(&name, &keys, &old, 1.0)).await.unwrap();

    let s = open(&name).await.unwrap();
    assert_eq!((s.root(), s.length()), (root, length));
    assert_eq!(JsFuture::from(stored_format(&name)).await.unwrap().as_f64(), Some(2.0));
    assert_eq!(get(&s.get(299.0, None).unwrap(), "text").as_string(), Some(text(299)));
    let ev = append(&s, "after the upgrade").await;
    assert_eq!(get(&ev, "seq").as_f64(), Some(300.0));
    let root = s.root();
    close(&s).await;
    let s = open(&name).await.unwrap();
    assert_eq!((s.root(), s.length()), (root, 301.0));
    close(&s).await;
    delete(&name).await;
}

#[wasm_bindgen_test]
async fn one_context_at_a_time() {
    let name = unique("lock");
    let a = open(&name).await.unwrap();
    let e = open(&name).await.err().unwrap();
    assert_eq!(code_of(&e), "LOCKED");
    assert!(get(&e, "message").as_string().unwrap().contains("another tab"));
    close(&a).await;
    let b = open(&name).await.unwrap();
    assert_eq!(b.author(), a.author());
    close(&b).await;
    delete(&name).await;
}

#[wasm_bindgen_test]
async fn a_damaged_database_is_refused_not_served() {
    let name = unique("corrupt");
    let s = open(&name).await.unwrap();
    for i in 0..30 {
        append(&s, &format!("event number {i}")).await;
    }
    close(&s).await;
    // One flipped bit in an event's payload.
    JsFuture::from(flip_page_byte(&name, 200)).await.unwrap();
    let e = open(&name).await.err().unwrap();
    assert_eq!(code_of(&e), "CORRUPT");
    let msg = get(&e, "message").as_string().unwrap();
    assert!(msg.contains("does not verify"), "{msg}");
    // Put it back, then lose a page.
    JsFuture::from(flip_page_byte(&name, 200)).await.unwrap();
    let s = open(&name).await.unwrap();
    assert_eq!(s.length(), 30.0);
    close(&s).await;
    JsFuture::from(delete_first_page(&name)).await.unwrap();
    let e = open(&name).await.err().unwrap();
    assert_eq!(code_of(&e), "CORRUPT");
    delete(&name).await;
}

#[wasm_bindgen(inline_js = "export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }")]
extern "C" {
    fn sleep(ms: u32) -> js_sys::Promise;
}

#[wasm_bindgen_test]
async fn replicas_from_sync_persist_in_arrival_order() {
    let name = unique("replica");
    let mine = open(&name).await.unwrap();
    append(&mine, "mine 0").await;
    let peer = Store::open_in_memory(None).unwrap();
    for i in 0..40 {
        append(&peer, &format!("peer {i}")).await;
    }
    let (sa, sb): (Slot, Slot) = Default::default();
    *sa.borrow_mut() = Some(mine.sync(opts(&[("role", "initiator".into()), ("send", sender(&sb).into())])).unwrap());
    *sb.borrow_mut() = Some(peer.sync(opts(&[("role", "responder".into()), ("send", sender(&sa).into())])).unwrap());
    let pa = Some(peer.author());
    for _ in 0..200 {
        if !mine.get(39.0, pa.clone()).unwrap().is_undefined() {
            break;
        }
        JsFuture::from(sleep(10)).await.unwrap();
    }
    append(&mine, "mine 1").await;
    JsFuture::from(mine.flush()).await.unwrap();
    let order: Vec<String> = mine.list(None).unwrap().iter().map(|e| get(&e, "text").as_string().unwrap()).collect();
    sa.borrow().as_ref().unwrap().close();
    close(&mine).await;

    let back = open(&name).await.unwrap();
    assert_eq!(back.event_count(), 42.0);
    let again: Vec<String> = back.list(None).unwrap().iter().map(|e| get(&e, "text").as_string().unwrap()).collect();
    assert_eq!(again, order);
    assert_eq!(again.first().map(String::as_str), Some("mine 0"));
    assert_eq!(again.last().map(String::as_str), Some("mine 1"));
    // The replica is served with its author's signed head.
    let proof = back.prove(7.0, pa.clone()).unwrap();
    xaeroflux_wasm::verify_proof(proof, Some(opts(&[("author", peer.author().into())]))).unwrap();
    close(&back).await;
    delete(&name).await;
}

fn connect_fetching_none(a: &Store, b: &Store) -> (Slot, Slot) {
    let (sa, sb): (Slot, Slot) = Default::default();
    *sa.borrow_mut() = Some(a.sync(opts(&[("role", "initiator".into()), ("send", sender(&sb).into())])).unwrap());
    let fetch = ("fetch", JsValue::from_str("none"));
    *sb.borrow_mut() =
        Some(b.sync(opts(&[("role", "responder".into()), ("send", sender(&sa).into()), fetch])).unwrap());
    (sa, sb)
}

async fn kept_count(name: &str) -> f64 {
    JsFuture::from(kept_reads(name)).await.unwrap().as_f64().unwrap()
}

/// Reads on demand kept in IndexedDB: with the store opened again and its only peer a store
/// that does not hold the feed, a read inside an earlier answer resolves at once from the kept
/// read (`fromCache`), and an event of it is proved; damaged records are refused and deleted;
/// with `persistFetchCache: false` nothing is kept.
#[wasm_bindgen_test]
async fn reads_on_demand_are_kept_across_reopening() {
    let name = unique("kept");
    let a = Store::open_in_memory(None).unwrap();
    // About 330 KB: more than one XSP frame.
    let payloads: Vec<String> = (0..3000).map(|i| format!("{i:>100}")).collect();
    append_all(&a, &payloads).await;
    let author = a.author();
    let range = |start: u32, end: u32| opts(&[("start", start.into()), ("end", end.into())]);
    let fetch =
        |slot: &Slot, r: JsValue| JsFuture::from(slot.borrow().as_ref().unwrap().fetch_events(&author, r).unwrap());
    let texts = |got: &JsValue| -> Vec<String> {
        let events: Array = get(got, "events").unchecked_into();
        events.iter().map(|e| get(&e, "text").as_string().unwrap()).collect()
    };

    let b = open(&name).await.unwrap();
    let (sa, sb) = connect_fetching_none(&a, &b);
    let all = fetch(&sb, range(0, 3000)).await.unwrap();
    assert_eq!(texts(&all).len(), 3000);
    sa.borrow().as_ref().unwrap().close();
    close(&b).await;
    assert!(kept_count(&name).await >= 1.0);
    assert_eq!(b_events(&name).await, 0.0, "nothing read is stored");

    let b = open(&name).await.unwrap();
    let empty = Store::open_in_memory(None).unwrap();
    let (_se, sb) = connect_fetching_none(&empty, &b);
    let again = fetch(&sb, range(10, 20)).await.unwrap();
    assert_eq!(get(&again, "fromCache").as_bool(), Some(true));
    assert_eq!(texts(&again), payloads[10..20].to_vec());
    let proving = sb.borrow().as_ref().unwrap().fetch_proof(&author, 2999.0).unwrap();
    let proof = JsFuture::from(proving).await.unwrap();
    let json = |v: &JsValue| js_sys::JSON::stringify(v).unwrap().as_string().unwrap();
    assert_eq!(json(&proof), json(&a.prove(2999.0, None).unwrap()));
    close(&b).await;

    // Cleared (in a copy of the store's database: the test goes on with the records).
    let copy = unique("kept-copy");
    JsFuture::from(copy_kept_reads(&name, &copy)).await.unwrap();
    let c = open(&copy).await.unwrap();
    assert!(c.clear_fetch_cache().unwrap() >= 1);
    assert_eq!(c.clear_fetch_cache().unwrap(), 0);
    close(&c).await;
    assert_eq!(kept_count(&copy).await, 0.0);
    delete(&copy).await;

    // Every record damaged: refused and deleted, nothing shown.
    assert!(JsFuture::from(damage_kept_reads(&name)).await.unwrap().as_f64().unwrap() >= 1.0);
    let b = open(&name).await.unwrap();
    let (_se, sb) = connect_fetching_none(&empty, &b);
    let err = fetch(&sb, range(10, 20)).await.unwrap_err();
    assert_eq!(code_of(&err), "NOT_FOUND", "{err:?}");
    close(&b).await;
    assert_eq!(kept_count(&name).await, 0.0);
    delete(&name).await;

    // Not kept when asked not to.
    let name = unique("not-kept");
    let off = opts(&[("persistFetchCache", false.into())]);
    let b = Store::open_persistent(name.clone(), off).await.unwrap();
    let (sa, sb) = connect_fetching_none(&a, &b);
    fetch(&sb, range(0, 100)).await.unwrap();
    assert_eq!(get(&fetch(&sb, range(5, 6)).await.unwrap(), "fromCache").as_bool(), Some(true), "in memory");
    sa.borrow().as_ref().unwrap().close();
    close(&b).await;
    assert_eq!(kept_count(&name).await, 0.0);
    delete(&name).await;
}

/// The number of events the store `name` holds.
async fn b_events(name: &str) -> f64 {
    let s = open(name).await.unwrap();
    let n = s.event_count();
    close(&s).await;
    n
}

async fn restore(name: &str, bytes: &Uint8Array) -> Result<Store, JsValue> {
    Store::restore_archive_persistent(name.into(), bytes.to_vec(), JsValue::UNDEFINED).await
}

async fn export(store: &Store) -> Uint8Array {
    JsFuture::from(store.export_archive(None).unwrap()).await.unwrap().unchecked_into()
}

#[wasm_bindgen_test]
async fn an_archive_restores_a_deleted_store() {
    let name = unique("archive");
    let s = open(&name).await.unwrap();
    let batch: Array = (0..120).map(|i| JsValue::from_str(&format!("event {i}"))).collect();
    JsFuture::from(s.append_batch(batch.into(), None).unwrap()).await.unwrap();
    // Appends still in flight: the archive waits for them and holds what is committed.
    let pending = s.append(JsValue::from_str("in flight"), None).unwrap();
    let bytes = export(&s).await;
    JsFuture::from(pending).await.unwrap();
    let (author, root, length) = (s.author(), s.root(), s.length());
    assert_eq!(length, 121.0);
    // Not over an existing store: EXISTS, and the store is untouched.
    let err = restore(&name, &bytes).await.err().unwrap();
    assert_eq!(code_of(&err), "LOCKED", "the store is open: {err:?}");
    close(&s).await;
    let err = restore(&name, &bytes).await.err().unwrap();
    assert_eq!(code_of(&err), "EXISTS", "{err:?}");
    delete(&name).await;

    let back = restore(&name, &bytes).await.unwrap();
    assert!(back.persistent());
    assert_eq!((back.author(), back.root(), back.length()), (author.clone(), root.clone(), length));
    append(&back, "after the restore").await;
    close(&back).await;
    // Persisted as a store that opens (everything verified again) and goes on.
    let again = open(&name).await.unwrap();
    assert_eq!((again.author(), again.length()), (author, 122.0));
    assert_eq!(get(&again.get(121.0, None).unwrap(), "text").as_string().as_deref(), Some("after the restore"));
    assert_eq!(get(&again.get(120.0, None).unwrap(), "text").as_string().as_deref(), Some("in flight"));
    close(&again).await;
    delete(&name).await;

    // A damaged archive writes nothing: the name stays free.
    let mut bad = bytes.to_vec();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    let err = restore(&name, &Uint8Array::from(&bad[..])).await.err().unwrap();
    assert_eq!(code_of(&err), "MALFORMED");
    let fresh = open(&name).await.unwrap();
    assert_eq!(fresh.event_count(), 0.0);
    close(&fresh).await;
    delete(&name).await;
}
