//! Small helpers for building and reading JavaScript values.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use xaeroflux_core::{EventFlags, EventRef, SignedHead};

use crate::error::ArgError;
use crate::hex;

/// The largest integer a JavaScript number holds exactly (2^53 − 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A plain object under construction.
pub struct Obj(Object);

impl Obj {
    /// `{}`.
    pub fn new() -> Obj {
        Obj(Object::new())
    }

    /// Sets a property (setting a property on a plain object cannot fail).
    pub fn set(self, key: &str, value: impl Into<JsValue>) -> Obj {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &value.into());
        self
    }

    /// Sets a `u64` as a number (exact up to 2^53 − 1, which covers every seq, length and
    /// microsecond timestamp a store can hold).
    pub fn num(self, key: &str, value: u64) -> Obj {
        self.set(key, value as f64)
    }

    /// Sets a `u64` as a number when it is at most 2^53 − 1, else as a `BigInt` (only
    /// decoded bytes from elsewhere can hold such values).
    pub fn u64(self, key: &str, value: u64) -> Obj {
        if value <= MAX_SAFE_INTEGER { self.num(key, value) } else { self.set(key, js_sys::BigInt::from(value)) }
    }

    /// The object.
    pub fn build(self) -> JsValue {
        self.0.into()
    }
}

/// Bytes of a payload argument: a string (encoded as UTF-8), a `Uint8Array` or an
/// `ArrayBuffer`.
pub fn payload_bytes(value: &JsValue, name: &'static str) -> Result<Vec<u8>, ArgError> {
    match value.as_string() {
        Some(s) => Ok(s.into_bytes()),
        None => binary(value).ok_or(ArgError { name, expected: "a string, a Uint8Array or an ArrayBuffer" }),
    }
}

/// The bytes of a `Uint8Array` or an `ArrayBuffer` (`None` for anything else).
pub fn binary(value: &JsValue) -> Option<Vec<u8>> {
    if let Some(a) = value.dyn_ref::<Uint8Array>() {
        return Some(a.to_vec());
    }
    value.dyn_ref::<js_sys::ArrayBuffer>().map(|b| Uint8Array::new(b).to_vec())
}

/// Bytes of a `Uint8Array` argument, or of a hex string.
pub fn bytes_or_hex(value: &JsValue, name: &'static str) -> Result<Vec<u8>, ArgError> {
    if let Some(s) = value.as_string() {
        return hex::decode(&s).ok_or(ArgError { name, expected: "a Uint8Array or a hex string" });
    }
    if let Some(a) = value.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    Err(ArgError { name, expected: "a Uint8Array or a hex string" })
}

/// A non-negative integer argument (a seq, a length).
pub fn index(value: f64, name: &'static str) -> Result<u64, ArgError> {
    if value >= 0.0 && value.fract() == 0.0 && value <= MAX_SAFE_INTEGER as f64 {
        Ok(value as u64)
    } else {
        Err(ArgError { name, expected: "a non-negative integer" })
    }
}

/// A `u64` argument given as a number (an integer up to 2^53 − 1) or a `BigInt`.
pub fn u64_arg(value: &JsValue, name: &'static str) -> Result<u64, ArgError> {
    let bad = ArgError { name, expected: "a non-negative integer (a number, or a BigInt below 2^64)" };
    if let Some(n) = value.as_f64() {
        return index(n, name).map_err(|_| bad);
    }
    if let Some(b) = value.dyn_ref::<js_sys::BigInt>() {
        let text = b.to_string(10).map_err(|_| bad.clone())?;
        return String::from(text).parse::<u64>().map_err(|_| bad);
    }
    Err(bad)
}

/// An optional property of an options object.
pub fn prop(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// An optional string property.
pub fn prop_str(obj: &JsValue, key: &'static str) -> Result<Option<String>, ArgError> {
    match prop(obj, key) {
        None => Ok(None),
        Some(v) => v.as_string().map(Some).ok_or(ArgError { name: key, expected: "a string" }),
    }
}

/// An optional number property.
pub fn prop_num(obj: &JsValue, key: &'static str) -> Result<Option<f64>, ArgError> {
    match prop(obj, key) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or(ArgError { name: key, expected: "a number" }),
    }
}

/// The optional `flags` property of an event or of append options: an integer in 0..=255,
/// 0 when absent.
pub fn prop_flags(obj: &JsValue) -> Result<u8, ArgError> {
    let flags = prop_num(obj, "flags")?.unwrap_or(0.0);
    u8::try_from(index(flags, "flags")?).map_err(|_| ArgError { name: "flags", expected: "an integer in 0..=255" })
}

/// The JavaScript form of an event (`StoredEvent` in the type definitions). An encrypted
/// event has no `text`: its payload is sealed bytes, whatever they happen to spell.
pub fn event(ev: &EventRef<'_>) -> JsValue {
    let text = match core::str::from_utf8(ev.payload()) {
        Ok(s) if !ev.flags().contains(EventFlags::ENCRYPTED) => JsValue::from_str(s),
        _ => JsValue::NULL,
    };
    Obj::new()
        .set("author", hex::encode(ev.author().as_bytes()))
        .u64("seq", ev.seq())
        .u64("timestamp", ev.timestamp_us())
        .set("kind", ev.kind())
        .set("flags", ev.flags().0)
        .set("payload", Uint8Array::from(ev.payload()))
        .set("text", text)
        .set("leafHash", hex::encode(ev.leaf_hash().as_bytes()))
        .build()
}

/// The JavaScript form of a signed head (`SignedHeadInfo`).
pub fn head(h: &SignedHead) -> JsValue {
    Obj::new()
        .set("author", hex::encode(h.author.as_bytes()))
        .num("length", h.length)
        .set("root", hex::encode(h.root.as_bytes()))
        .set("signature", hex::encode(&h.signature))
        .set("bytes", Uint8Array::from(&h.encode()[..]))
        .build()
}

/// A JavaScript array of the values.
pub fn array(values: impl IntoIterator<Item = JsValue>) -> Array {
    values.into_iter().collect()
}
