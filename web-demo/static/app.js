// The Xaeroflux web demo: a store in this tab (IndexedDB), synced live with the other tabs
// of this browser (tabs.js) and with the demo server's native peer over an iroh relay
// (native.js), with a timeline, a composer and a proof inspector.
import init, {
  Store,
  decryptEvent,
  eventKeyId,
  generateSpaceSecret,
  isXaerofluxError,
  spaceSecretKeyId,
  verifyProof,
} from "/pkg/net/xaeroflux_wasm.js";
import { TabMesh } from "/tabs.js";
import { connectNative } from "/native.js";

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MAX_SLOTS = 8;
const MAX_ROWS = 400;

// ---- setup ----

await init();
const config = await fetch("/api/config").then((r) => r.json());
const { store, slot } = await openSlot();
const state = {
  store,
  slot,
  nativeAuthor: config.native?.author ?? null,
  filter: "all",
  proof: null,
  proofEvent: null,
};
window.xfDemo = state; // for the end-to-end tests and the curious

/**
 * Opens the first free store slot `demo-tab-N` (one tab per store: the others are locked).
 * A reloaded tab gets its own slot back (kept in sessionStorage), waiting a moment for the
 * old page to let go of it.
 */
async function openSlot() {
  const mine = Number(sessionStorage.getItem("xf-demo-slot")) || 0;
  const order = [mine, ...Array.from({ length: MAX_SLOTS }, (_, i) => i + 1).filter((n) => n !== mine)].filter(Boolean);
  for (const n of order) {
    const tries = n === mine ? 30 : 1;
    for (let i = 0; i < tries; i++) {
      try {
        const s = await Store.open(`demo-tab-${n}`);
        sessionStorage.setItem("xf-demo-slot", String(n));
        return { store: s, slot: n };
      } catch (e) {
        if (!isXaerofluxError(e) || e.code !== "LOCKED") throw e;
        if (i + 1 < tries) await sleep(100);
      }
    }
  }
  throw new Error(`all ${MAX_SLOTS} demo stores are open in other tabs`);
}

// ---- names and colors ----

function color(author) {
  const h = parseInt(author.slice(0, 6), 16) % 360;
  return `hsl(${h} 68% 52%)`;
}

function label(author) {
  if (author === store.author) return "You";
  if (author === state.nativeAuthor) return "Native peer";
  return `Peer ${author.slice(0, 6)}`;
}

function chip(author) {
  const el = document.createElement("span");
  el.className = "author-chip";
  el.style.setProperty("--c", color(author));
  el.textContent = label(author);
  el.title = author;
  return el;
}

const short = (hex) => `${hex.slice(0, 10)}…${hex.slice(-6)}`;

function when(us) {
  const d = new Date(us / 1000);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return d.toLocaleString();
}

// ---- status chips ----

function setChip(id, cls, text, title = "") {
  const el = $(id);
  el.className = `chip ${cls}`;
  el.querySelector(".label").textContent = text;
  el.title = title;
}

setChip("storage-status", "ok", `IndexedDB · demo-tab-${slot}`, "This tab's store; it survives reloads");
$("me-store").textContent = `· store demo-tab-${slot}`;

// ---- the feed card ----

function refreshStats() {
  const head = store.head();
  $("me-author").textContent = short(store.author);
  $("me-author").title = store.author;
  $("me-avatar").style.background = `linear-gradient(135deg, ${color(store.author)}, ${color(store.author.slice(6))})`;
  $("me-length").textContent = store.length.toLocaleString();
  $("all-count").textContent = store.eventCount.toLocaleString();
  $("me-root").textContent = store.root;
  $("me-head").innerHTML = head
    ? `length ${head.length.toLocaleString()} · <span class="ok-text">signature ✓</span>`
    : "No events yet";
  const feeds = $("feeds");
  feeds.replaceChildren(
    ...store.feeds().map((f) => {
      const li = document.createElement("li");
      li.dataset.author = f.author;
      const len = document.createElement("span");
      len.className = "len";
      len.textContent = `${f.length.toLocaleString()} event${f.length === 1 ? "" : "s"}${f.forked ? " · forked!" : ""}`;
      li.append(chip(f.author), len);
      return li;
    }),
  );
}

// ---- the timeline ----

function eventRow(ev, fresh) {
  const li = document.createElement("li");
  li.className = `event${fresh ? " fresh" : ""}`;
  if (fresh) setTimeout(() => li.classList.remove("fresh"), 3000);
  li.dataset.author = ev.author;
  li.dataset.seq = String(ev.seq);
  li.dataset.origin = ev.author === store.author ? "mine" : "peers";
  const meta = document.createElement("div");
  meta.className = "event-meta";
  const seq = document.createElement("span");
  seq.className = "mono";
  seq.textContent = `#${ev.seq}`;
  const time = document.createElement("span");
  time.textContent = when(ev.timestamp);
  time.title = new Date(ev.timestamp / 1000).toISOString();
  time.dataset.ts = String(ev.timestamp);
  meta.append(chip(ev.author), seq, time);
  if (ev.kind) {
    const kind = document.createElement("span");
    kind.textContent = `kind ${ev.kind}`;
    meta.append(kind);
  }
  const text = document.createElement("div");
  text.className = "event-text";
  if (ev.flags & ENCRYPTED) {
    const opened = openSealed(ev);
    const lock = document.createElement("span");
    lock.className = `lock ${opened === null ? "sealed" : "opened"}`;
    lock.textContent = opened === null ? "encrypted" : "decrypted";
    lock.title =
      opened === null
        ? "Sealed with a space secret this browser does not hold: stored, verified and relayed, but unreadable"
        : "Sealed with this browser's space secret: peers without it cannot read it";
    meta.append(lock);
    if (opened === null) {
      text.classList.add("binary");
      text.textContent = `${ev.payload.length} sealed bytes (key id ${eventKeyId(ev) ?? "?"})`;
    } else {
      text.textContent = opened;
    }
  } else if (ev.text !== null) {
    text.textContent = ev.text;
  } else {
    text.classList.add("binary");
    text.textContent = `${ev.payload.length} bytes: ${Array.from(ev.payload.slice(0, 24), (b) => b.toString(16).padStart(2, "0")).join("")}…`;
  }
  const actions = document.createElement("div");
  actions.className = "event-actions";
  const prove = document.createElement("button");
  prove.className = "secondary prove";
  prove.textContent = "Prove";
  prove.addEventListener("click", () => showProof(ev));
  actions.append(prove);
  li.append(meta, actions, text);
  return li;
}

function applyFilter() {
  for (const li of $("timeline").children) {
    li.hidden = state.filter !== "all" && li.dataset.origin !== state.filter;
  }
  $("timeline-empty").hidden = $("timeline").children.length > 0;
}

function prepend(events, fresh) {
  const list = $("timeline");
  for (const ev of events) list.prepend(eventRow(ev, fresh));
  while (list.children.length > MAX_ROWS) list.lastChild.remove();
  applyFilter();
}

function renderAll() {
  $("timeline").replaceChildren();
  const total = store.eventCount;
  prepend(store.list({ offset: Math.max(0, total - MAX_ROWS) }), false);
}

for (const b of document.querySelectorAll(".filter")) {
  b.addEventListener("click", () => {
    for (const o of document.querySelectorAll(".filter")) o.classList.toggle("active", o === b);
    state.filter = b.dataset.filter;
    applyFilter();
  });
}

setInterval(() => {
  for (const t of document.querySelectorAll(".event-meta [data-ts]")) t.textContent = when(Number(t.dataset.ts));
}, 15_000);

// Committed changes, local or from any peer, arrive here.
store.subscribe((c) => {
  prepend(store.range(c.start, c.end, c.author), true);
  refreshStats();
});

// ---- the space secret (shared by the tabs of this browser through localStorage) ----

const ENCRYPTED = 1;
const SECRET_KEY = "xaeroflux-demo-space-secret";
const decoder = new TextDecoder("utf-8", { fatal: true });

function secret() {
  return localStorage.getItem(SECRET_KEY);
}

function showSecret() {
  const s = secret();
  $("secret-id").textContent = s ? spaceSecretKeyId(s) : "none";
  $("encrypt").disabled = !s;
  if (!s) $("encrypt").checked = false;
}

/** The text of an encrypted event if this browser's secret opens it, else `null`. */
function openSealed(ev) {
  const s = secret();
  if (!s) return null;
  try {
    const bytes = decryptEvent(ev, s);
    try {
      return decoder.decode(bytes);
    } catch {
      return `${bytes.length} bytes (binary)`;
    }
  } catch (err) {
    if (isXaerofluxError(err) && err.code === "DECRYPT") return null;
    throw err;
  }
}

$("secret-new").addEventListener("click", () => {
  localStorage.setItem(SECRET_KEY, generateSpaceSecret());
  showSecret();
  $("encrypt").checked = true;
  renderAll();
});
// Another tab made a new secret: read the timeline with it.
window.addEventListener("storage", (e) => {
  if (e.key !== SECRET_KEY) return;
  showSecret();
  renderAll();
});
showSecret();

// ---- composing ----

$("composer-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("composer").value.trim();
  if (!text) return;
  state.lastSubmitAt = Date.now(); // the end-to-end test times delivery from here
  $("composer-error").hidden = true;
  $("append").disabled = true;
  try {
    const options = { kind: Number($("kind").value) || 0 };
    const s = secret();
    await store.append(text, $("encrypt").checked && s ? { ...options, secret: s } : options);
    $("composer").value = "";
  } catch (err) {
    $("composer-error").textContent = isXaerofluxError(err) ? `${err.code}: ${err.message}` : String(err);
    $("composer-error").hidden = false;
  } finally {
    $("append").disabled = false;
    $("composer").focus();
  }
});

$("composer").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) $("composer-form").requestSubmit();
});

const SAMPLES = ["sensor reading", "order placed", "profile updated", "like", "comment", "price change", "check-in"];
$("append-many").addEventListener("click", async () => {
  const base = store.length;
  const batch = Array.from({ length: 100 }, (_, i) => `${SAMPLES[i % SAMPLES.length]} #${base + i}`);
  await store.appendBatch(batch, { kind: 2 });
});

// ---- the proof inspector ----

function hexBytes(hex) {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Sibling hashes and other peaks, read from an encoded inclusion proof (docs/formats.md). */
function proofHashes(proofHex) {
  const b = hexBytes(proofHex);
  const pathLen = b[18];
  const peaks = b[19];
  const out = [];
  for (let i = 0; i < pathLen + peaks; i++) {
    const h = proofHex.slice(40 + i * 64, 40 + (i + 1) * 64);
    out.push({ tag: i < pathLen ? `level ${i}` : "peak", hash: h });
  }
  return { pathLen, peaks, hashes: out };
}

function showProof(ev) {
  state.proofEvent = ev;
  state.proof = store.prove(ev.seq, ev.author);
  const p = state.proof;
  $("inspector-empty").hidden = true;
  $("inspector-body").hidden = false;
  $("proof-result").hidden = true;
  $("proof-author").replaceWith(Object.assign(chip(ev.author), { id: "proof-author" }));
  $("proof-seq").textContent = String(ev.seq);
  $("proof-text").textContent = ev.text ?? `${ev.payload.length} bytes`;
  $("proof-leaves").textContent = `${p.leaves.toLocaleString()} event${p.leaves === 1 ? "" : "s"}`;
  $("proof-root").textContent = p.root;
  $("proof-leaf").textContent = ev.leafHash;
  const { pathLen, peaks, hashes } = proofHashes(p.proof);
  $("proof-path").textContent = `${pathLen} sibling${pathLen === 1 ? "" : "s"} · ${peaks} other peak${peaks === 1 ? "" : "s"}`;
  $("proof-hashes").replaceChildren(
    ...hashes.map(({ tag, hash }) => {
      const li = document.createElement("li");
      li.innerHTML = `<span class="tag">${tag}</span><span>${short(hash)}</span>`;
      li.title = hash;
      return li;
    }),
  );
}

function verdict(el, proof, expectAuthor) {
  el.hidden = false;
  try {
    const r = verifyProof(proof, expectAuthor ? { author: expectAuthor } : undefined);
    el.className = "verdict valid";
    el.dataset.valid = "true";
    el.innerHTML = `<div class="big">✓ Valid proof</div>
      Event #${r.seq} is in the feed of <b></b> at length ${r.leaves.toLocaleString()},
      under a root its author signed.<div class="code">root ${short(r.root)}</div>`;
    el.querySelector("b").textContent = label(r.author);
  } catch (e) {
    el.className = "verdict invalid";
    el.dataset.valid = "false";
    el.innerHTML = `<div class="big">✗ Invalid proof</div><div class="why"></div><div class="code"></div>`;
    el.querySelector(".why").textContent = e.message;
    el.querySelector(".code").textContent = isXaerofluxError(e) ? e.code : e.name;
  }
}

$("verify-btn").addEventListener("click", () => verdict($("proof-result"), state.proof, state.proofEvent.author));

$("tamper-btn").addEventListener("click", () => {
  // Flip one bit of the event's last byte: still a well-formed event, no longer the signed one.
  const ev = state.proof.event;
  const last = parseInt(ev.slice(-2), 16) ^ 1;
  const tampered = { ...state.proof, event: ev.slice(0, -2) + last.toString(16).padStart(2, "0") };
  verdict($("proof-result"), tampered, state.proofEvent.author);
});

$("download-btn").addEventListener("click", () => {
  const blob = new Blob([JSON.stringify(state.proof, null, 2)], { type: "application/json" });
  const a = Object.assign(document.createElement("a"), {
    href: URL.createObjectURL(blob),
    download: `xaeroflux-proof-${state.proof.author.slice(0, 8)}-${state.proof.seq}.json`,
  });
  a.click();
  URL.revokeObjectURL(a.href);
});

$("paste-verify").addEventListener("click", () => {
  const text = $("paste-proof").value.trim();
  if (text) verdict($("paste-result"), text);
});

// ---- peers ----

const mesh = new TabMesh(store, {
  space: config.space,
  onChange: () => {
    const n = mesh.connected;
    setChip("tabs-status", n ? "ok" : "wait", n ? `${n} other tab${n === 1 ? "" : "s"} in sync` : "No other tab open",
      "Open this page in another tab: each tab is its own peer");
  },
});
state.mesh = mesh;
mesh.onChange();

state.native = connectNative(store, config, (status, detail) => {
  const cls = { connected: "ok", connecting: "wait", unavailable: "", failed: "err" }[status] ?? "";
  const text = {
    connected: "Native peer · live over iroh relay",
    connecting: "Native peer · connecting…",
    unavailable: "Native peer · not running",
    failed: "Native peer · connection failed",
  }[status];
  setChip("native-status", cls, text, detail ?? "");
});

addEventListener("pagehide", () => {
  state.native?.close?.();
  store.close();
});

renderAll();
refreshStats();
document.body.dataset.ready = "true";
