//! Functions that need no store: verify a proof file, decode and check events and signed
//! heads, and the building blocks (leaf hashes, MMRs, page trees) for checking the formats
//! independently.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use xaeroflux_core::mmr::{InclusionProof, MmrPeaks};
use xaeroflux_core::page::page_tree_root;
use xaeroflux_core::{AuthorId, Event, EventFlags, EventRef, Hash, SignedHead};

use crate::error::{ArgError, ERROR_NAME, ErrorCode, JsError, make_js_error};
use crate::hex;
use crate::js::{self, Obj, prop, prop_str};
use crate::proof::{self, Anchor, JsProofFields, NotJson, ProofFileError, Trust};

/// Decoding errors of events, heads and proofs given as bytes.
struct Malformed(String);

impl core::fmt::Display for Malformed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsError for Malformed {
    fn code(&self) -> ErrorCode {
        ErrorCode::Malformed
    }
}

fn arg(e: ArgError) -> JsValue {
    e.to_js()
}

/// Reads the fields of a proof file from a JS object or a JSON string.
pub(crate) fn proof_fields(value: &JsValue) -> Result<JsProofFields, JsValue> {
    let obj = match value.as_string() {
        Some(text) => js_sys::JSON::parse(&text).map_err(|e| {
            let msg = js_sys::Error::from(e).message().as_string().unwrap_or_default();
            NotJson(msg).to_js()
        })?,
        None => value.clone(),
    };
    if !obj.is_object() {
        return Err(ProofFileError::NotAProof.to_js());
    }
    Ok(JsProofFields::read(|k| prop(&obj, k).and_then(|v| v.as_string()), |k| prop(&obj, k).and_then(|v| v.as_f64())))
}

/// Builds the JS object of a proof file.
pub(crate) fn proof_object(event: &EventRef<'_>, p: &InclusionProof, head: &SignedHead) -> JsValue {
    let mut o = Obj::new();
    for (name, v) in proof::encode(event, p, head) {
        o = match v {
            proof::FieldValue::Str(s) => o.set(name, s),
            proof::FieldValue::Num(n) => o.num(name, n),
        };
    }
    o.build()
}

/// Checks a proof file (an object, or its JSON text) made by `store.prove()` or `xf prove`.
///
/// By default the file's own signed head is the trust anchor: its signature must verify, and
/// the result says which author signed, so check `result.author` is who you expect — or pass
/// `{ author }` to have it checked, or `{ root }` to check against a root you trust instead of
/// the head. Throws a `XaerofluxError` (`MALFORMED`, `BAD_SIGNATURE` or `PROOF_INVALID`)
/// when the proof does not hold.
#[wasm_bindgen(js_name = verifyProof, unchecked_return_type = "VerifiedProof")]
pub fn verify_proof(
    #[wasm_bindgen(unchecked_param_type = "ProofFile | string")] proof: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "VerifyOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsValue> {
    let fields = proof_fields(&proof)?;
    let file = proof::decode(&fields.as_core()).map_err(|e| e.to_js())?;
    let options = options.unwrap_or(JsValue::UNDEFINED);
    let root = prop_str(&options, "root").map_err(arg)?.map(|r| hex::hash(&r, "root")).transpose().map_err(arg)?;
    let trust = Trust {
        anchor: root.map_or(Anchor::FileHead, Anchor::Root),
        author: prop_str(&options, "author")
            .map_err(arg)?
            .map(|a| hex::author(&a, "author"))
            .transpose()
            .map_err(arg)?,
    };
    proof::verify(&file, &trust).map_err(|e| e.to_js())?;
    let ev = file.event.as_ref();
    Ok(Obj::new()
        .set("author", hex::encode(ev.author().as_bytes()))
        .num("seq", ev.seq())
        .num("leaves", file.proof.leaves)
        .set("root", hex::encode(trust.root(&file).as_bytes()))
        .set("event", js::event(&ev))
        .build())
}

/// Decodes an encoded event (56-byte header and payload, `docs/formats.md`).
#[wasm_bindgen(js_name = decodeEvent, unchecked_return_type = "DecodedEvent")]
pub fn decode_event(#[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: &[u8]) -> Result<JsValue, JsValue> {
    let ev = EventRef::parse(bytes).map_err(|e| Malformed(format!("malformed event: {e}")).to_js())?;
    Ok(js::event(&ev))
}

/// Encodes an event from its fields: the exact bytes a store hashes and signs over.
#[wasm_bindgen(js_name = encodeEvent)]
pub fn encode_event(#[wasm_bindgen(unchecked_param_type = "EventFields")] fields: JsValue) -> Result<Vec<u8>, JsValue> {
    let author = prop_str(&fields, "author")
        .map_err(arg)?
        .ok_or(arg(ArgError { name: "author", expected: "an author id: 64 hex characters" }))?;
    let author: AuthorId = hex::author(&author, "author").map_err(arg)?;
    let int = |k: &'static str| -> Result<u64, JsValue> {
        match prop(&fields, k) {
            None => Ok(0),
            Some(v) => js::u64_arg(&v, k).map_err(arg),
        }
    };
    let seq = int("seq")?;
    let timestamp = int("timestamp")?;
    let kind = u16::try_from(int("kind")?).map_err(|_| arg(ArgError { name: "kind", expected: "0..=65535" }))?;
    let flags = u8::try_from(int("flags")?).map_err(|_| arg(ArgError { name: "flags", expected: "0..=255" }))?;
    let payload = match prop(&fields, "payload") {
        Some(p) => js::payload_bytes(&p, "payload").map_err(arg)?,
        None => Vec::new(),
    };
    let ev = Event::try_new(author, seq, timestamp, kind, EventFlags(flags), &payload)
        .map_err(|e| make_js_error(too_large_or_invalid(&e), &format!("cannot encode event: {e}")))?;
    Ok(ev.into_bytes())
}

fn too_large_or_invalid(e: &xaeroflux_core::event::EventDecodeError) -> ErrorCode {
    match e {
        xaeroflux_core::event::EventDecodeError::TooLarge { .. } => ErrorCode::PayloadTooLarge,
        _ => ErrorCode::InvalidArgument,
    }
}

/// The leaf hash (hex) of an encoded event: what the MMR and the page trees commit to.
#[wasm_bindgen(js_name = leafHash)]
pub fn leaf_hash(#[wasm_bindgen(unchecked_param_type = "Uint8Array")] event: &[u8]) -> String {
    hex::encode(xaeroflux_core::hash::leaf_hash(event).as_bytes())
}

/// Decodes a signed head (137 bytes, or their hex) without checking its signature.
#[wasm_bindgen(js_name = decodeHead, unchecked_return_type = "SignedHeadInfo")]
pub fn decode_head(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] head: JsValue,
) -> Result<JsValue, JsValue> {
    let bytes = js::bytes_or_hex(&head, "head").map_err(arg)?;
    let h = SignedHead::decode(&bytes).map_err(|e| Malformed(format!("malformed signed head: {e}")).to_js())?;
    Ok(js::head(&h))
}

/// Decodes a signed head and checks its signature; throws `BAD_SIGNATURE` if it does not
/// verify.
#[wasm_bindgen(js_name = verifyHead, unchecked_return_type = "SignedHeadInfo")]
pub fn verify_head(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] head: JsValue,
) -> Result<JsValue, JsValue> {
    let bytes = js::bytes_or_hex(&head, "head").map_err(arg)?;
    let h = SignedHead::decode(&bytes).map_err(|e| Malformed(format!("malformed signed head: {e}")).to_js())?;
    h.verify().map_err(|e| make_js_error(ErrorCode::BadSignature, &format!("signed head does not verify: {e}")))?;
    Ok(js::head(&h))
}

/// Checks an encoded inclusion proof: `leaf` (hex leaf hash) is leaf `proof.leafIndex` of the
/// MMR with root `root` (hex). Throws `MALFORMED` or `PROOF_INVALID`.
#[wasm_bindgen(js_name = verifyInclusion)]
pub fn verify_inclusion(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] proof: &[u8],
    leaf: &str,
    root: &str,
) -> Result<(), JsValue> {
    let p = InclusionProof::decode(proof).map_err(|e| Malformed(format!("malformed inclusion proof: {e}")).to_js())?;
    let leaf = hex::hash(leaf, "leaf").map_err(arg)?;
    let root = hex::hash(root, "root").map_err(arg)?;
    p.verify(&leaf, &root).map_err(|e| make_js_error(ErrorCode::ProofInvalid, &format!("inclusion proof: {e}")))
}

/// Root (hex) of the page tree over `leaves` (hex leaf hashes of one page's events).
#[wasm_bindgen(js_name = pageTreeRoot)]
pub fn page_tree_root_js(leaves: Vec<String>) -> Result<String, JsValue> {
    let hashes = leaves.iter().map(|l| hex::hash(l, "leaves")).collect::<Result<Vec<Hash>, _>>().map_err(arg)?;
    Ok(hex::encode(page_tree_root(&hashes).as_bytes()))
}

/// Whether `value` is an error thrown by this package (`name === "XaerofluxError"`).
#[wasm_bindgen(js_name = isXaerofluxError, unchecked_return_type = "value is XaerofluxError")]
pub fn is_xaeroflux_error(value: &JsValue) -> bool {
    value.dyn_ref::<js_sys::Error>().is_some_and(|e| e.name() == ERROR_NAME)
}

/// An in-memory Merkle Mountain Range over leaf hashes: for checking roots and proofs
/// independently of a store.
#[wasm_bindgen]
pub struct Mmr {
    inner: xaeroflux_core::mmr::Mmr,
}

#[wasm_bindgen]
impl Mmr {
    /// The empty MMR.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Mmr {
        Mmr { inner: xaeroflux_core::mmr::Mmr::new() }
    }

    /// Appends a leaf hash (hex) and returns its leaf index.
    pub fn append(&mut self, leaf: &str) -> Result<f64, JsValue> {
        let h = hex::hash(leaf, "leaf").map_err(arg)?;
        Ok(self.inner.append(h) as f64)
    }

    /// Number of leaves.
    #[wasm_bindgen(getter)]
    pub fn leaves(&self) -> f64 {
        self.inner.leaves() as f64
    }

    /// The root (hex).
    #[wasm_bindgen(getter)]
    pub fn root(&self) -> String {
        hex::encode(self.inner.root().as_bytes())
    }

    /// The peaks (hex), highest mountain first.
    #[wasm_bindgen(getter)]
    pub fn peaks(&self) -> Vec<String> {
        self.inner.peaks().peaks().iter().map(|p| hex::encode(p.as_bytes())).collect()
    }

    /// The root (hex) of the MMR's first `leaves` leaves.
    #[wasm_bindgen(js_name = rootAt)]
    pub fn root_at(&self, leaves: f64) -> Result<String, JsValue> {
        let n = js::index(leaves, "leaves").map_err(arg)?;
        let peaks = MmrPeaks::from_store(self.inner.nodes(), n)
            .map_err(|e| make_js_error(ErrorCode::InvalidArgument, &format!("no MMR of {n} leaves here: {e}")))?;
        Ok(hex::encode(peaks.root().as_bytes()))
    }

    /// The encoded inclusion proof of leaf `index` in the MMR's first `leaves` leaves (all of
    /// them when omitted).
    #[wasm_bindgen(js_name = inclusionProof)]
    pub fn inclusion_proof(&self, index: f64, leaves: Option<f64>) -> Result<Uint8Array, JsValue> {
        let i = js::index(index, "index").map_err(arg)?;
        let n = match leaves {
            Some(l) => js::index(l, "leaves").map_err(arg)?,
            None => self.inner.leaves(),
        };
        let p = xaeroflux_core::mmr::inclusion_proof(self.inner.nodes(), n, i)
            .map_err(|e| make_js_error(ErrorCode::InvalidArgument, &format!("cannot prove leaf {i}: {e}")))?;
        Ok(Uint8Array::from(&p.encode()[..]))
    }
}

impl Default for Mmr {
    fn default() -> Self {
        Self::new()
    }
}
