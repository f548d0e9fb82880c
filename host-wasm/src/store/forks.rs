//! `store.forks()` and `store.recordFork(evidence)`: authors who signed two histories of their
//! feed. Sessions record the evidence they meet themselves; an application records evidence
//! from elsewhere (a `FORKED` error of `fetchConsistency`, a friend's).

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use xaeroflux_core::xsp::ForkEvidence;

use super::{Store, inner};
use crate::error::{ErrorCode, JsError, make_js_error};
use crate::js::{self, Obj};

#[wasm_bindgen]
impl Store {
    /// Every fork evidence held: `{ author, first, second, proof, evidence }`, the two signed
    /// heads, whether a consistency proof is part of it, and the evidence encoded (XSP's FORK
    /// body) to hand to anyone.
    #[wasm_bindgen(unchecked_return_type = "ForkInfo[]")]
    pub fn forks(&self) -> Result<Array, JsValue> {
        self.inner.check_open()?;
        let mem = self.inner.mem.borrow();
        Ok(js::array(mem.forks().map(|e| {
            Obj::new()
                .set("author", crate::hex::encode(e.author().as_bytes()))
                .set("first", js::head(&e.first))
                .set("second", js::head(&e.second))
                .set("proof", e.proof.is_some())
                .set("evidence", Uint8Array::from(&e.encode()[..]))
                .build()
        })))
    }

    /// Records fork evidence (bytes or hex, as `forks()` and a `FORKED` error's `evidence`
    /// give it): checked first, then kept (one per author). From then on the store takes no
    /// more events of that feed and its sessions stop fetching it (a running want is taken
    /// back). Resolves with whether the evidence was new, once committed. Throws `MALFORMED`
    /// for bytes that are not evidence, `PROOF_INVALID` for evidence that proves no fork.
    #[wasm_bindgen(js_name = recordFork, unchecked_return_type = "Promise<boolean>")]
    pub fn record_fork(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] evidence: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        self.inner.check_open()?;
        let bytes = js::bytes_or_hex(&evidence, "evidence").map_err(|e| e.to_js())?;
        let evidence = ForkEvidence::decode(&bytes)
            .map_err(|e| make_js_error(ErrorCode::Malformed, &format!("not fork evidence: {e}")))?;
        let new = self
            .inner
            .record_fork(&evidence)
            .map_err(|e| make_js_error(ErrorCode::ProofInvalid, &format!("fork evidence refused: {e}")))?;
        let inner = self.inner.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            inner::commit(&inner).await?;
            Ok(JsValue::from_bool(new))
        }))
    }
}
