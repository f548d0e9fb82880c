// Live sync with the demo server's native peer: XSP over one QUIC stream of an iroh
// connection through the local relay (a browser cannot send UDP, so the relay carries the
// packets). Redials with backoff whenever the connection drops.

/**
 * @param {any} store a Store of the `xaeroflux-wasm/net` build
 * @param {{ space: string, native?: { nodeId: string, relayUrl: string } }} config from /api/config
 * @param {(status: "connecting" | "connected" | "unavailable" | "failed", detail?: string) => void} report
 */
export function connectNative(store, config, report) {
  const native = config.native;
  if (!native) {
    report("unavailable", "the demo server runs no native peer");
    return null;
  }
  let connection = null;
  let stopped = false;
  let attempt = 0;
  let backoff = 500;

  function redial(why) {
    if (stopped) return;
    report("connecting", why);
    setTimeout(dial, backoff);
    backoff = Math.min(backoff * 2, 10_000);
  }

  async function dial() {
    if (stopped) return;
    const mine = ++attempt;
    report("connecting", `dialing ${native.nodeId.slice(0, 12)}… through ${native.relayUrl}`);
    let ended = false;
    const end = (why) => {
      if (ended || mine !== attempt) return;
      ended = true;
      connection = null;
      redial(why);
    };
    try {
      connection = await store.connect({
        relayUrl: native.relayUrl,
        peer: native.nodeId,
        space: config.space,
        onEvent: (e) => {
          if (e.type === "connected") {
            backoff = 500;
            report("connected", `node ${native.nodeId.slice(0, 12)}… through ${native.relayUrl}`);
          } else if (e.type === "closed") {
            end(e.reason ?? `session closed (${e.code})`);
          } else if (e.type === "transportError") {
            end(String(e.error));
          }
        },
      });
    } catch (e) {
      report("failed", e.message);
      end(e.message);
    }
  }

  dial();
  return {
    get connection() {
      return connection;
    },
    close() {
      stopped = true;
      connection?.close();
    },
  };
}
