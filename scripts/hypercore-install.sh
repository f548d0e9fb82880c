#!/usr/bin/env bash
# Sourced by the bench scripts (scripts/bench-store.sh, scripts/bench-net.sh): installs the
# pinned Hypercore (hypercore@11.37.1, bench/hypercore/package-lock.json) once, and again only
# when the lock file changes. Without node/npm it sets XF_BENCH_HYPERCORE=0, and the Hypercore
# row is skipped. XF_BENCH_HYPERCORE=0 skips the install. Expects `log` and the repo as cwd.
hc=bench/hypercore
if [ "${XF_BENCH_HYPERCORE:-1}" != "0" ]; then
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        want="$(sha256sum "$hc/package-lock.json" | cut -d' ' -f1)"
        have="$(cat "$hc/node_modules/.xf-lock-sha256" 2>/dev/null || true)"
        if [ "$want" != "$have" ] || [ ! -d "$hc/node_modules/hypercore" ]; then
            log "npm ci in $hc (node $(node --version))"
            (cd "$hc" && npm ci --no-audit --no-fund --loglevel=error >&2)
            echo "$want" >"$hc/node_modules/.xf-lock-sha256"
        fi
    else
        log "node/npm not found: the Hypercore row is skipped"
        export XF_BENCH_HYPERCORE=0
    fi
fi
