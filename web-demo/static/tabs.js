// Sync between the tabs of one browser. Each tab has its own store (its own author); every
// pair of tabs runs one XSP session, its bytes carried as addressed messages over a
// BroadcastChannel. Everything a tab receives is verified by its own store, exactly as from
// any other peer: a tab trusts the other tabs no more than a stranger on the network.
//
//   hello {from}            a tab announces itself (at start)
//   xsp   {from, to, bytes} session bytes for one tab; the first from a tab starts the session
//   bye   {from}            a tab goes away (pagehide): its sessions are closed at once

export class TabMesh {
  /**
   * @param {import("/pkg/xaeroflux_wasm.js").Store} store
   * @param {{ channel?: string, space?: string, onChange?: () => void }} options
   */
  constructor(store, { channel = "xaeroflux-demo", space, onChange } = {}) {
    this.store = store;
    this.space = space;
    this.onChange = onChange ?? (() => {});
    this.id = crypto.randomUUID();
    /** @type {Map<string, { session: any, connected: boolean }>} */
    this.peers = new Map();
    this.channel = new BroadcastChannel(channel);
    this.channel.onmessage = (m) => this.#receive(m.data);
    this.channel.postMessage({ t: "hello", from: this.id });
    addEventListener("pagehide", () => this.close());
  }

  /** Number of other tabs with a session that completed its handshake. */
  get connected() {
    let n = 0;
    for (const p of this.peers.values()) if (p.connected) n++;
    return n;
  }

  #peer(id) {
    let p = this.peers.get(id);
    if (p) return p;
    p = { session: null, connected: false };
    this.peers.set(id, p);
    p.session = this.store.sync({
      role: this.id < id ? "initiator" : "responder",
      space: this.space,
      send: (bytes) => this.channel.postMessage({ t: "xsp", from: this.id, to: id, bytes }),
      onEvent: (e) => {
        if (e.type === "connected") {
          p.connected = true;
          this.onChange();
        } else if (e.type === "closed") {
          if (this.peers.get(id) === p) this.peers.delete(id);
          this.onChange();
        }
      },
    });
    return p;
  }

  #receive(m) {
    if (!m || m.from === this.id) return;
    if (m.t === "hello") {
      this.#peer(m.from);
    } else if (m.t === "xsp" && m.to === this.id && m.bytes instanceof Uint8Array) {
      this.#peer(m.from).session.receive(m.bytes);
    } else if (m.t === "bye") {
      const p = this.peers.get(m.from);
      if (p) {
        this.peers.delete(m.from);
        p.session.close();
        this.onChange();
      }
    }
  }

  close() {
    this.channel.postMessage({ t: "bye", from: this.id });
    for (const p of this.peers.values()) p.session.close();
    this.peers.clear();
    this.channel.close();
  }
}
