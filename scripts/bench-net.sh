#!/usr/bin/env bash
# The network benchmark, side by side in one run, two processes over 127.0.0.1: raw TCP and
# raw iroh stream (the floors), Xaeroflux XSP sync into a durable store, the XSP protocol alone
# between in-memory stores, and Hypercore replication (Node), then the ratios, the wire
# overhead and the live-append latency.
#
#   bash scripts/bench-net.sh                 # 100 k x 256 B records, median of 3 runs
#   bash scripts/bench-net.sh --variants      # also iroh with GSO off and other MTU bounds
#   bash scripts/bench-net.sh --tor --records 20000
#                                             # over Tor: a raw Tor stream (the floor) and our
#                                             # sync between Tor-only stores, on a private Tor
#                                             # network on 127.0.0.1 (feature `tor`)
#
# Extra arguments go to the benchmark (see host-native/benches/net/main.rs): --records N,
# --runs R, --only raw|sync|proto|feeds|sparse|hypercore, --variants. XF_BENCH_HYPERCORE=0 skips Hypercore.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bench-net] %s\n' "$*" >&2; }

if [ "${1:-}" = "--tor" ]; then
    shift
    # C tor for the private network (installed once, see the script).
    bash scripts/tor-testnet.sh install
    log "cargo bench -p xaeroflux --features tor --bench net -- --only tor $*"
    exec cargo bench -p xaeroflux --features tor --bench net -- --only tor "$@"
fi

# Hypercore, pinned, installed once (see the helper).
source scripts/hypercore-install.sh

log "cargo bench -p xaeroflux --features net --bench net -- $*"
exec cargo bench -p xaeroflux --features net --bench net -- "$@"
