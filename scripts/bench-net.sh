#!/usr/bin/env bash
# The network benchmark, side by side in one run, two processes over 127.0.0.1: raw TCP and
# raw iroh stream (the floors), Xaeroflux XSP sync into a durable store, the XSP protocol alone
# between in-memory stores, and Hypercore replication (Node), then the ratios, the wire
# overhead and the live-append latency.
#
#   bash scripts/bench-net.sh                 # 100 k x 256 B records, median of 3 runs
#   bash scripts/bench-net.sh --variants      # also iroh with GSO off and other MTU bounds
#
# Extra arguments go to the benchmark (see host-native/benches/net/main.rs): --records N,
# --runs R, --only raw|sync|proto|hypercore, --variants. XF_BENCH_HYPERCORE=0 skips Hypercore.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bench-net] %s\n' "$*" >&2; }

# Hypercore: the pinned package (hypercore@11.37.1, package-lock.json), installed once and
# again only when the lock file changes (the same install as scripts/bench-store.sh).
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

log "cargo bench -p xaeroflux --features net --bench net -- $*"
exec cargo bench -p xaeroflux --features net --bench net -- "$@"
