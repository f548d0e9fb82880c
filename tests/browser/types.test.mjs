// The package's TypeScript definitions against its README: every ```js example of the README
// is type-checked by the TypeScript compiler (checkJs, strict) with the built package
// installed under its name, so a signature the README uses as documented (an optional
// argument left out, an option's type, a return value's fields) cannot drift from the .d.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { requirePackage } from "./lib/paths.mjs";

const pkg = requirePackage();
const readme = readFileSync(join(pkg, "README.md"), "utf8");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

test("every README example type-checks against the package's .d.ts (strict)", () => {
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 3, `README has ${blocks.length} js examples`);
  const dir = mkdtempSync(join(tmpdir(), "xf-types-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(pkg, join(dir, "node_modules", "xaeroflux-wasm"), "dir");
    const files = blocks.map((code, i) => {
      const name = `example${i}.mjs`;
      writeFileSync(join(dir, name), code);
      return name;
    });
    const config = {
      compilerOptions: {
        allowJs: true,
        checkJs: true,
        strict: true,
        // The examples are JavaScript: a caught value is used as it comes.
        useUnknownInCatchVariables: false,
        noEmit: true,
        target: "es2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        // wasm-bindgen's classes declare [Symbol.dispose] (esnext.disposable).
        lib: ["esnext", "dom"],
        types: [],
        skipLibCheck: false,
      },
      files,
    };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config));
    const run = spawnSync(process.execPath, [tsc, "-p", dir], { encoding: "utf8", timeout: 120_000 });
    const shown = files.map((f, i) => `--- ${f}\n${blocks[i]}`).join("\n");
    assert.equal(run.status, 0, `tsc found type errors:\n${run.stdout}${run.stderr}\n${shown}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
