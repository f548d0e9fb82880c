//! What the store needs from the JavaScript environment: randomness, the clock, timers and
//! the cross-tab lock. Small JavaScript helpers where a direct binding would be clumsier.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function xf_random_bytes(n) {
  const c = globalThis.crypto;
  if (!c || typeof c.getRandomValues !== "function") return undefined;
  return c.getRandomValues(new Uint8Array(n));
}

// Resolves to a release function once the exclusive Web Lock `name` is held, or to null if
// another tab or worker holds it. Without Web Locks (Node), there is nothing to exclude.
export function xf_acquire_lock(name) {
  const locks = globalThis.navigator && globalThis.navigator.locks;
  if (!locks) return Promise.resolve(() => {});
  return new Promise((resolve, reject) => {
    locks.request(name, { ifAvailable: true }, (lock) => {
      if (!lock) { resolve(null); return undefined; }
      return new Promise((release) => resolve(() => release()));
    }).catch(reject);
  });
}

export function xf_set_timeout(f, ms) { return setTimeout(f, ms); }
export function xf_clear_timeout(id) { clearTimeout(id); }
export function xf_now_ms() { return Date.now(); }
export function xf_monotonic_ms() {
  return (globalThis.performance && performance.now) ? performance.now() : Date.now();
}
"#)]
extern "C" {
    fn xf_random_bytes(n: u32) -> JsValue;
    fn xf_acquire_lock(name: &str) -> Promise;
    fn xf_set_timeout(f: &Function, ms: f64) -> JsValue;
    fn xf_clear_timeout(id: &JsValue);
    fn xf_now_ms() -> f64;
    fn xf_monotonic_ms() -> f64;
}

/// `N` bytes from `crypto.getRandomValues`, or `None` where there is no Web Crypto.
pub fn random_array<const N: usize>() -> Option<[u8; N]> {
    let v = xf_random_bytes(N as u32);
    let a = v.dyn_ref::<js_sys::Uint8Array>()?;
    let mut out = [0u8; N];
    if a.length() as usize != N {
        return None;
    }
    a.copy_to(&mut out);
    // The copy JavaScript holds may be a secret's bytes: overwrite it.
    a.fill(0, 0, N as u32);
    Some(out)
}

/// Microseconds since the Unix epoch (the wall clock, for event timestamps).
pub fn now_us() -> u64 {
    (xf_now_ms() * 1000.0) as u64
}

/// Microseconds on a monotonic clock (for protocol timers).
pub fn monotonic_us() -> u64 {
    (xf_monotonic_ms() * 1000.0) as u64
}

/// Takes the exclusive lock `name`: `Ok(Some(release))` when held, `Ok(None)` when another
/// context holds it.
pub async fn acquire_lock(name: &str) -> Result<Option<Function>, JsValue> {
    let v = wasm_bindgen_futures::JsFuture::from(xf_acquire_lock(name)).await?;
    Ok(v.dyn_into::<Function>().ok())
}

/// Resolves after `ms` milliseconds.
#[cfg(feature = "iroh")]
pub async fn sleep_ms(ms: f64) {
    let p = Promise::new(&mut |resolve, _| {
        xf_set_timeout(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// A one-shot timer that calls `f` after `ms` milliseconds; dropping it cancels it.
pub struct Timer {
    id: JsValue,
    _f: Closure<dyn FnMut()>,
}

impl Timer {
    /// Starts the timer.
    pub fn start(ms: f64, f: Closure<dyn FnMut()>) -> Timer {
        let id = xf_set_timeout(f.as_ref().unchecked_ref(), ms);
        Timer { id, _f: f }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        xf_clear_timeout(&self.id);
    }
}
