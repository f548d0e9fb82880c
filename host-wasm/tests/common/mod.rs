//! Helpers shared by the wasm test files (each file is its own test crate and includes this
//! module; not every file uses every helper).
#![allow(dead_code)]

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use xaeroflux_wasm::Store;

/// A session the in-page pipe hands bytes to once it exists.
pub type Slot = std::rc::Rc<std::cell::RefCell<Option<xaeroflux_wasm::SyncSession>>>;

/// Property `k` of `v`.
pub fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap()
}

/// The `code` of a thrown `XaerofluxError` (checking that it is one).
pub fn code_of(e: &JsValue) -> String {
    assert_eq!(get(e, "name").as_string().as_deref(), Some("XaerofluxError"), "{e:?}");
    assert!(e.is_instance_of::<js_sys::Error>());
    get(e, "code").as_string().unwrap()
}

/// A plain options object.
pub fn opts(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

/// Appends `payload` and waits for the receipt.
pub async fn append(store: &Store, payload: &str) -> JsValue {
    JsFuture::from(store.append(JsValue::from_str(payload), None).unwrap()).await.unwrap()
}

/// Appends `payloads` (text) to `store` in one batch, once committed.
pub async fn append_all(store: &Store, payloads: &[String]) {
    let batch = js_sys::Array::new();
    for p in payloads {
        batch.push(&JsValue::from_str(p));
    }
    JsFuture::from(store.append_batch(batch.into(), None).unwrap()).await.unwrap();
}

/// A `send` function that hands bytes to the session in `slot` (the other end) a moment
/// later, as a real transport would.
pub fn sender(slot: &Slot) -> js_sys::Function {
    let slot = slot.clone();
    let f = wasm_bindgen::closure::Closure::<dyn FnMut(Uint8Array)>::new(move |b: Uint8Array| {
        let slot = slot.clone();
        let bytes = b.to_vec();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(s) = &*slot.borrow() {
                s.receive(&bytes);
            }
        });
    });
    f.into_js_value().unchecked_into()
}
