// Where things are: the repository, the built npm package, the artifacts directory.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, "target");

/** The npm package built by scripts/build-npm.sh. */
export const pkg = resolve(process.env.XF_NPM_PKG ?? join(targetDir, "npm", "xaeroflux-wasm"));

/** Test artifacts (screenshots) go here. */
export const artifacts = resolve(process.env.XF_ARTIFACTS ?? join(repo, "target", "artifacts"));

export function requirePackage() {
  if (!existsSync(join(pkg, "package.json"))) {
    throw new Error(`no npm package at ${pkg}: run scripts/build-npm.sh first (or set XF_NPM_PKG)`);
  }
  return pkg;
}
