#!/usr/bin/env bash
# The store benchmark, side by side in one run: the floor (preallocated file + fdatasync),
# redb, Xaeroflux ("ours") and Hypercore (Node), then one table with ratios.
#
#   bash scripts/bench-store.sh            # 1 M x 256 B records (a few minutes)
#   bash scripts/bench-store.sh --quick    # 100 k records, 2 k per-event (about a minute)
#
# Environment (see host-native/benches/store/main.rs): XF_BENCH_N, XF_BENCH_N_EVENT,
# XF_BENCH_BATCH, XF_BENCH_READS, XF_BENCH_DIR (not a RAM disk), XF_BENCH_ONLY, XF_BENCH_KEEP,
# XF_BENCH_ROUNDS, XF_BENCH_HASH_HELPER=0.
#
# XF_BENCH_RT=1 runs every case (ours, the floor, redb and Node alike) at real-time priority
# (`chrt -f 10`, needs root or CAP_SYS_NICE), so that on a machine shared with other work the
# cases get the CPU when they need it; the recorded figures in docs/benchmarks.md say whether
# they used it.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bench-store] %s\n' "$*" >&2; }

if [ "${1:-}" = "--quick" ]; then
    export XF_BENCH_N="${XF_BENCH_N:-100000}"
    export XF_BENCH_N_EVENT="${XF_BENCH_N_EVENT:-2000}"
fi

# Hypercore, pinned, installed once (see the helper).
source scripts/hypercore-install.sh

log "cargo bench -p xaeroflux --bench store"
cargo bench -p xaeroflux --bench store --no-run
if [ "${XF_BENCH_RT:-0}" = "1" ]; then
    if chrt -f 10 true 2>/dev/null; then
        log "running at real-time priority (chrt -f 10)"
        exec chrt -f 10 cargo bench -p xaeroflux --bench store
    fi
    log "XF_BENCH_RT=1 but chrt -f is not permitted here: normal priority"
fi
exec cargo bench -p xaeroflux --bench store
