// Node.js entry: the same API, with the WebAssembly module loaded from the package
// directory at import time (Node cannot `fetch` a file: URL). `init()` is then a no-op kept
// for code shared with the browser. There is no IndexedDB in Node: use Store.openInMemory().
import { readFileSync } from "node:fs";
import { initSync } from "./xaeroflux_wasm.js";

const exports = initSync({ module: readFileSync(new URL("./xaeroflux_wasm_bg.wasm", import.meta.url)) });

export * from "./xaeroflux_wasm.js";

export default async function init() {
  return exports;
}
