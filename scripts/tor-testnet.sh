#!/usr/bin/env bash
# A small private Tor test network on 127.0.0.1, built from Debian's C tor,
# for integration tests of the arti-client based transport.
#
# Usage:
#   scripts/tor-testnet.sh install         install C tor (apt-get), idempotent
#   scripts/tor-testnet.sh start DIR       build and start a fresh network in DIR,
#                                          wait for a usable consensus
#   scripts/tor-testnet.sh stop DIR        stop every process started in DIR
#   scripts/tor-testnet.sh status DIR      show the processes and the consensus
#   scripts/tor-testnet.sh selftest DIR    start, fetch a page from a C tor onion
#                                          service through a C tor client, stop
#
# The network: 3 directory authorities (also relays) + TORNET_RELAYS plain
# relays (default 3). Every node is a Guard, Exit (to 127.0.0.0/8 only), HSDir
# and V2Dir; TestingTorNetwork voting runs every 20 s.
#
# Files written in DIR:
#   network.json        every fact about the network, for programs (below)
#   arti-network.toml   arti-client config fragment: [tor_network],
#                       [path_rules], [address_filter], [override_net_params]
#   torrc-dirauthorities  the DirAuthority lines, for extra C tor instances
#   <node>/torrc, <node>/notice.log, <node>/pid   one directory per tor
#
# network.json (format 1), all identities as tor prints them:
#   { "format": 1, "dir": DIR, "base_port": N, "voting_interval_secs": 20,
#     "hsdir_interval_mins": 8, "arti_toml": "DIR/arti-network.toml",
#     "authorities": [ { "name", "v3ident" (40 hex), "rsa_identity" (40 hex),
#                        "ed_identity" (unpadded base64), "orport" "127.0.0.1:P",
#                        "dirport" "127.0.0.1:P", "data_dir" } ],
#     "relays": [ every node, authorities included: { "name", "nickname",
#                 "is_authority", "rsa_identity", "ed_identity", "address",
#                 "orport", "dirport", "orport_port", "dirport_port",
#                 "data_dir", "v3ident" (authorities only) } ],
#     "fallback_caches": [ { "name", "rsa_identity", "ed_identity",
#                            "orports": ["127.0.0.1:P"] } ]   (every node),
#     "dir_authority_lines": [ "DirAuthority ..." ] }
#
# Environment:
#   TORNET_BASE_PORT  first port of the 50-port block used (default: the first
#                     free block among 15000, 15100, ... 16900)
#   TORNET_RELAYS     plain relays besides the 3 authorities (default 3, max 10)
#   TORNET_TIMEOUT    seconds to wait for the consensus / the onion fetch
#                     (default 180)
#
# Port layout, from BASE: node i has ORPort BASE+i and DirPort BASE+20+i;
# selftest uses BASE+40 (client SocksPort) and BASE+41 (HTTP server).
# Every address is 127.0.0.1; nothing else is ever used.
set -euo pipefail

readonly LOOPBACK=127.0.0.1
readonly N_AUTHS=3
readonly PORT_BLOCK=50
readonly MARKER=.tor-testnet
readonly VOTING_INTERVAL=20
# arti must learn tor's TestingTorNetwork hsdir interval (in minutes):
# 12 shared-random rounds * 2 phases * voting interval (see chutney's arti.py).
readonly HSDIR_INTERVAL=$((12 * 2 * VOTING_INTERVAL / 60))

N_RELAYS=${TORNET_RELAYS:-3}
TIMEOUT=${TORNET_TIMEOUT:-240}
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf '[tor-testnet %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "'$tool' not found (run: bash $0 install; curl and python3 are needed too)"
    done
}

# ---------------------------------------------------------------- install

cmd_install() {
    if command -v tor >/dev/null 2>&1 && command -v tor-gencert >/dev/null 2>&1; then
        log "tor already installed: $(tor --version | head -n 1)"
    else
        local sudo=()
        [[ $(id -u) -eq 0 ]] || sudo=(sudo)
        log "installing tor with apt-get"
        # The package's system daemon would dial the public Tor network: forbid service
        # starts while installing (policy-rc.d, exit 101), unless a policy is already set.
        local policy=/usr/sbin/policy-rc.d made_policy=0
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
            "${sudo[@]}" chmod 755 "$policy"
            made_policy=1
        fi
        local ok=0
        if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends tor; then
            ok=1
        else
            log "install failed; running apt-get update and retrying"
            "${sudo[@]}" apt-get update
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y --no-install-recommends tor && ok=1
        fi
        [[ $made_policy -eq 0 ]] || "${sudo[@]}" rm -f "$policy"
        [[ $ok -eq 1 ]] || die "apt-get install tor failed"
        command -v tor-gencert >/dev/null 2>&1 || die "tor-gencert missing after install"
        log "installed: $(tor --version | head -n 1)"
    fi
    # This script never uses the system tor daemon. Debian may have started one
    # (usually policy-rc.d forbids it in containers); stop it if we can.
    if [[ -s /run/tor/tor.pid ]] && kill -0 "$(cat /run/tor/tor.pid)" 2>/dev/null; then
        log "a system tor daemon is running; it is not needed, trying to stop it"
        if command -v systemctl >/dev/null 2>&1; then
            systemctl stop tor >/dev/null 2>&1 || true
        elif [[ -x /etc/init.d/tor ]]; then
            /etc/init.d/tor stop >/dev/null 2>&1 || true
        fi
    fi
}

# ---------------------------------------------------------------- helpers

# Print the ports in [base, base+PORT_BLOCK) that something listens on.
busy_ports() {
    python3 - "$1" "$PORT_BLOCK" "$LOOPBACK" <<'EOF'
import socket, sys
base, n, host = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for port in range(base, base + n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
    except OSError:
        print(port)
    finally:
        s.close()
EOF
}

pick_base_port() {
    local base busy
    if [[ -n ${TORNET_BASE_PORT:-} ]]; then
        if ! [[ $TORNET_BASE_PORT =~ ^[0-9]+$ ]] ||
            ((TORNET_BASE_PORT < 1024 || TORNET_BASE_PORT + PORT_BLOCK > 65535)); then
            die "TORNET_BASE_PORT must be a port number in 1024..$((65535 - PORT_BLOCK))"
        fi
        busy=$(busy_ports "$TORNET_BASE_PORT")
        [[ -z $busy ]] || die "ports in use in the block from TORNET_BASE_PORT=$TORNET_BASE_PORT: $(echo "$busy" | tr '\n' ' ')"
        echo "$TORNET_BASE_PORT"
        return
    fi
    for base in $(seq 15000 100 16900); do
        if [[ -z $(busy_ports "$base") ]]; then
            echo "$base"
            return
        fi
    done
    die "no free block of $PORT_BLOCK ports between 15000 and 16950; set TORNET_BASE_PORT"
}

abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd -P)
}

node_names() {
    local i
    for ((i = 0; i < N_AUTHS; i++)); do echo "auth$i"; done
    for ((i = 0; i < N_RELAYS; i++)); do echo "relay$i"; done
}

# Whether a process exists and is not a zombie.
is_alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# Whether process $1 was started by this script for DIR $2 (its command line
# names a file inside DIR).
pid_is_ours() {
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2/"
}

# A pidfile's process, if it is alive and was started for this DIR.
live_pid() {
    local pidfile=$1 dir=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n $pid ]] && is_alive "$pid" && pid_is_ours "$pid" "$dir" || return 1
    echo "$pid"
}

# Processes started for DIR whose pidfile is missing (e.g. a tor killed while
# still starting): tor with "-f DIR/<node>/torrc", the selftest web server.
stray_pids() {
    local dir=$1 p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ $pid != "$$" ]] || continue
        is_alive "$pid" || continue
        tr '\0' '\n' <"$p/cmdline" 2>/dev/null | D=$dir awk '
            index($0, ENVIRON["D"] "/") == 1 && ($0 ~ /\/torrc$/ || $0 == ENVIRON["D"] "/httpd/www") { f = 1 }
            END { exit !f }' &&
            echo "$pid"
    done
    return 0
}

# ---------------------------------------------------------------- stop

stop_dir() {
    local dir=$1 pidfile pid pids=() waited=0
    for pidfile in "$dir"/*/pid; do
        [[ -e $pidfile ]] || continue
        if pid=$(live_pid "$pidfile" "$dir"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        rm -f "$pidfile"
    done
    for pid in $(stray_pids "$dir"); do
        [[ " ${pids[*]} " == *" $pid "* ]] && continue
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
    done
    ((${#pids[@]})) || return 0
    log "stopping ${#pids[@]} process(es) in $dir"
    while :; do
        local alive=()
        for pid in "${pids[@]}"; do
            is_alive "$pid" && alive+=("$pid")
        done
        ((${#alive[@]})) || break
        if ((waited >= 100)); then
            log "killing ${alive[*]} (did not exit after SIGTERM)"
            kill -KILL "${alive[@]}" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

cmd_stop() {
    local dir
    [[ -d $1 ]] || die "no such directory: $1"
    dir=$(abs_dir "$1")
    stop_dir "$dir"
    log "stopped: $dir"
}

# ---------------------------------------------------------------- torrc

write_common_torrc() { # node_dir nick orport dirport
    local d=$1 nick=$2 orport=$3 dirport=$4
    cat <<EOF
# Generated by tor-testnet.sh
TestingTorNetwork 1
DataDirectory $d
PidFile $d/pid
RunAsDaemon 1
Nickname $nick
ContactInfo $nick@tor-testnet.invalid
Log notice file $d/notice.log
SafeLogging 0
LogTimeGranularity 1
ProtocolWarnings 1
ShutdownWaitLength 0
DisableDebuggerAttachment 0

# Loopback only.
Address $LOOPBACK
AddressDisableIPv6 1
ORPort $LOOPBACK:$orport
DirPort $LOOPBACK:$dirport
SocksPort 0

# Fast bootstrap and flags for everyone, whatever their measured history.
AssumeReachable 1
PathsNeededToBuildCircuits 0.67
TestingDirAuthVoteGuard *
TestingDirAuthVoteExit *
TestingDirAuthVoteHSDir *
TestingMinExitFlagThreshold 0
V3AuthNIntervalsValid 2

# Exit to loopback only.
ExitRelay 1
ExitPolicyRejectPrivate 0
ExitPolicy accept 127.0.0.0/8:*
ExitPolicy reject *:*
EOF
}

write_authority_torrc() {
    cat <<EOF

AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
TestingV3AuthInitialVotingInterval $VOTING_INTERVAL
TestingV3AuthInitialVoteDelay 4
TestingV3AuthInitialDistDelay 4
V3AuthVotingInterval $VOTING_INTERVAL
V3AuthVoteDelay 4
V3AuthDistDelay 4
AuthDirMaxServersPerAddr 0
AuthDirVoteStableGuaranteeMinUptime 0
AuthDirVoteStableGuaranteeMTBF 0
EOF
}

run_tor() { # dir node  -> starts tor as a daemon with DIR/<node>/torrc
    local dir=$1 node=$2
    if ! tor --defaults-torrc "$dir/torrc-defaults" -f "$dir/$node/torrc" \
        >"$dir/$node/stdout.log" 2>&1; then
        tail -n 20 "$dir/$node/stdout.log" >&2 || true
        die "tor for $node failed to start (see $dir/$node/stdout.log)"
    fi
    # The daemon writes its PidFile a moment after the launcher returns.
    local tries=0
    until live_pid "$dir/$node/pid" "$dir" >/dev/null; do
        ((tries++ < 300)) || die "tor for $node wrote no pidfile (see $dir/$node/notice.log)"
        sleep 0.1
    done
}

# ---------------------------------------------------------------- network files

write_network_files() { # dir base
    python3 - "$1" "$2" "$HSDIR_INTERVAL" "$VOTING_INTERVAL" <<'EOF'
import json, sys
d, base, hsdir_interval, voting = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
nodes = []
with open(f"{d}/nodes.tsv") as f:
    for line in f:
        name, role, orport, dirport, rsa, ed, v3 = line.rstrip("\n").split("\t")
        n = {
            "name": name,
            "nickname": name,
            "is_authority": role == "authority",
            "rsa_identity": rsa,
            "ed_identity": ed,
            "address": "127.0.0.1",
            "orport": f"127.0.0.1:{orport}",
            "dirport": f"127.0.0.1:{dirport}",
            "orport_port": int(orport),
            "dirport_port": int(dirport),
            "data_dir": f"{d}/{name}",
        }
        if role == "authority":
            n["v3ident"] = v3
        nodes.append(n)
auths = [n for n in nodes if n["is_authority"]]
dirauth_lines = [
    f"DirAuthority {a['name']} orport={a['orport_port']} no-v2 v3ident={a['v3ident']} "
    f"{a['dirport']} {a['rsa_identity']}"
    for a in auths
]
fallbacks = [
    {"name": n["name"], "rsa_identity": n["rsa_identity"],
     "ed_identity": n["ed_identity"], "orports": [n["orport"]]}
    for n in nodes
]
net = {
    "format": 1,
    "dir": d,
    "base_port": base,
    "voting_interval_secs": voting,
    "hsdir_interval_mins": hsdir_interval,
    "authorities": [
        {k: a[k] for k in ("name", "v3ident", "rsa_identity", "ed_identity",
                           "orport", "dirport", "data_dir")}
        for a in auths
    ],
    "relays": nodes,
    "fallback_caches": fallbacks,
    "dir_authority_lines": dirauth_lines,
    "arti_toml": f"{d}/arti-network.toml",
}
with open(f"{d}/network.json.tmp", "w") as f:
    json.dump(net, f, indent=2)
    f.write("\n")
with open(f"{d}/torrc-dirauthorities", "w") as f:
    f.write("\n".join(dirauth_lines) + "\n")

q = json.dumps  # a JSON string is a valid TOML basic string for these values
t = [
    f"# arti-client configuration for the test network in {d}",
    "# Generated by tor-testnet.sh; merge into a TorClientConfig",
    "# (storage.cache_dir / storage.state_dir are left to the caller).",
    "",
    "[tor_network]",
    "",
]
for fb in fallbacks:
    t += ["[[tor_network.fallback_caches]]",
          f"rsa_identity = {q(fb['rsa_identity'])}",
          f"ed_identity = {q(fb['ed_identity'])}",
          f"orports = [{', '.join(q(p) for p in fb['orports'])}]",
          ""]
dirports = ", ".join(f"[{q(a['dirport'])}]" for a in auths)
t += ["[tor_network.authorities]",
      f"v3idents = [{', '.join(q(a['v3ident']) for a in auths)}]",
      f"uploads = [{dirports}]",
      f"downloads = [{dirports}]",
      f"votes = [{dirports}]",
      "",
      "# Every relay is on 127.0.0.1: a prefix longer than the address",
      "# disables arti's same-subnet path restriction.",
      "[path_rules]",
      "ipv4_subnet_family_prefix = 33",
      "ipv6_subnet_family_prefix = 129",
      "",
      "# Allow streams to 127.0.0.1 through the (loopback-only) exits.",
      "[address_filter]",
      "allow_local_addrs = true",
      "",
      "# C tor shortens the HSDir time period under TestingTorNetwork;",
      "# arti must use the same one to find onion service descriptors.",
      "[override_net_params]",
      f"hsdir_interval = {hsdir_interval}",
      "# Six relays: guard samples sized for a network that small.",
      "guard-min-filtered-sample-size = 2",
      "guard-max-sample-size = 4",
      "guard-n-primary-guards = 2",
      "",
      "# No exit reaches the ports arti builds circuits ahead for (80, 443).",
      "[preemptive_circuits]",
      "disable_at_threshold = 0",
      ""]
with open(f"{d}/arti-network.toml.tmp", "w") as f:
    f.write("\n".join(t))
EOF
    mv "$1/network.json.tmp" "$1/network.json"
    mv "$1/arti-network.toml.tmp" "$1/arti-network.toml"
}

# ---------------------------------------------------------------- consensus wait

# Print "<routers> <running> <with bandwidth>" of the microdesc consensus a
# DirPort serves, or nothing if it has none. "With bandwidth": relays whose
# weight line is not "Bandwidth=0" (a network's first consensus can list
# every relay Running before any has reported a bandwidth; clients then
# weigh them uniformly, and the test has seen a restarted onion service go
# unreached for minutes on such a network).
consensus_summary() {
    local body
    body=$(curl -sf --max-time 5 --noproxy '*' \
        "http://$LOOPBACK:$1/tor/status-vote/current/consensus-microdesc" 2>/dev/null) || return 0
    awk '/^r /{r++} /^s .*Running/{s++} /^w Bandwidth=[1-9]/{w++} END{if (r) print r+0, s+0, w+0}' <<<"$body"
}

check_alive() {
    local dir=$1 node
    for node in "${@:2}"; do
        live_pid "$dir/$node/pid" "$dir" >/dev/null ||
            die "tor for $node is not running (see $dir/$node/notice.log)"
    done
}

show_log_tails() {
    local dir=$1 f
    for f in "$dir"/*/notice.log; do
        [[ -e $f ]] || continue
        printf '\n----- %s (last 15 lines) -----\n' "$f" >&2
        tail -n 15 "$f" >&2 || true
    done
}

wait_for_consensus() { # dir total
    local dir=$1 total=$2 deadline=$((SECONDS + TIMEOUT)) last=-10 node port sum ready
    local nodes
    mapfile -t nodes < <(node_names)
    log "waiting up to ${TIMEOUT}s for a consensus listing all $total relays as Running, with a bandwidth"
    while :; do
        check_alive "$dir" "${nodes[@]}"
        ready=0
        local report=()
        for node in "${nodes[@]}"; do
            port=$(awk -F'\t' -v n="$node" '$1 == n {print $4}' "$dir/nodes.tsv")
            sum=$(consensus_summary "$port")
            if [[ -n $sum && $sum == "$total $total $total" ]]; then
                ready=$((ready + 1))
            fi
            report+=("$node:${sum:-none}")
        done
        if ((ready == ${#nodes[@]})); then
            return 0
        fi
        if ((SECONDS - last >= 10)); then
            log "  ${SECONDS}s: routers/running/with bandwidth per node: ${report[*]}"
            last=$SECONDS
        fi
        if ((SECONDS >= deadline)); then
            show_log_tails "$dir"
            die "no usable consensus after ${TIMEOUT}s (status: ${report[*]})"
        fi
        sleep 2
    done
}

# ---------------------------------------------------------------- start

START_DIR=
START_OK=0
on_start_exit() {
    if [[ -n $START_DIR ]] && ((START_OK == 0)); then
        log "start failed; stopping what was started in $START_DIR"
        stop_dir "$START_DIR" || true
    fi
}

start_network() { # dir  (dir already absolute)
    local dir=$1 base i node orport dirport rsa ed v3 total
    need tor tor-gencert curl python3
    SECONDS=0

    if [[ -e $dir/$MARKER ]]; then
        log "$dir holds an old network; stopping and removing it"
        stop_dir "$dir"
        find "$dir" -mindepth 1 -delete
    elif [[ -n $(ls -A "$dir") ]]; then
        die "$dir is not empty and was not made by this script; refusing to use it"
    fi
    touch "$dir/$MARKER"
    : >"$dir/torrc-defaults"
    START_DIR=$dir
    START_OK=0
    trap on_start_exit EXIT

    base=$(pick_base_port)
    echo "$base" >"$dir/base-port"
    total=$((N_AUTHS + N_RELAYS))
    log "creating $N_AUTHS authorities + $N_RELAYS relays in $dir (ports $base..$((base + PORT_BLOCK - 1)) on $LOOPBACK)"

    : >"$dir/nodes.tsv"
    i=0
    while read -r node; do
        orport=$((base + i))
        dirport=$((base + 20 + i))
        mkdir -p "$dir/$node/keys"
        chmod 700 "$dir/$node"
        v3=-
        if [[ $node == auth* ]]; then
            # v3 authority identity + signing key + certificate.
            printf 'tor-testnet\n' | tor-gencert --create-identity-key -m 12 \
                -a "$LOOPBACK:$dirport" \
                -i "$dir/$node/keys/authority_identity_key" \
                -s "$dir/$node/keys/authority_signing_key" \
                -c "$dir/$node/keys/authority_certificate" \
                --passphrase-fd 0 >"$dir/$node/gencert.log" 2>&1 ||
                die "tor-gencert failed for $node: $(cat "$dir/$node/gencert.log")"
            v3=$(awk '/^fingerprint /{print $2}' "$dir/$node/keys/authority_certificate")
        fi
        # Relay identity keys (RSA + ed25519); tor writes both fingerprints.
        printf 'DataDirectory %s\nORPort %s:%s\nNickname %s\n' \
            "$dir/$node" "$LOOPBACK" "$orport" "$node" >"$dir/$node/torrc.keygen"
        tor --list-fingerprint --defaults-torrc "$dir/torrc-defaults" \
            -f "$dir/$node/torrc.keygen" >"$dir/$node/keygen.log" 2>&1 ||
            die "tor --list-fingerprint failed for $node: $(tail -n 5 "$dir/$node/keygen.log")"
        rsa=$(awk '{print $2}' "$dir/$node/fingerprint")
        ed=$(awk '{print $2}' "$dir/$node/fingerprint-ed25519")
        [[ $rsa =~ ^[0-9A-F]{40}$ && -n $ed ]] || die "could not read the fingerprints of $node"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$node" \
            "$([[ $node == auth* ]] && echo authority || echo relay)" \
            "$orport" "$dirport" "$rsa" "$ed" "$v3" >>"$dir/nodes.tsv"
        i=$((i + 1))
    done < <(node_names)

    write_network_files "$dir" "$base"

    while read -r node orport dirport; do
        {
            write_common_torrc "$dir/$node" "$node" "$orport" "$dirport"
            [[ $node == auth* ]] && write_authority_torrc
            echo
            cat "$dir/torrc-dirauthorities"
        } >"$dir/$node/torrc"
    done < <(awk -F'\t' '{print $1, $3, $4}' "$dir/nodes.tsv")

    while read -r node; do
        run_tor "$dir" "$node"
    done < <(node_names)
    log "started $total tor processes (${SECONDS}s)"

    wait_for_consensus "$dir" "$total"
    echo "$SECONDS" >"$dir/consensus-seconds"
    log "network ready after ${SECONDS}s: $dir/network.json, $dir/arti-network.toml"
    START_OK=1
}

cmd_start() {
    local dir
    dir=$(abs_dir "$1")
    start_network "$dir"
}

# ---------------------------------------------------------------- status

cmd_status() {
    local dir node pid port
    dir=$(abs_dir "$1")
    [[ -s $dir/nodes.tsv ]] || die "no network in $dir"
    while IFS=$'\t' read -r node _ _ port _; do
        pid=$(live_pid "$dir/$node/pid" "$dir") || pid=dead
        printf '%-8s pid=%-8s consensus(routers running with-bandwidth)=%s\n' \
            "$node" "$pid" "$(consensus_summary "$port")"
    done <"$dir/nodes.tsv"
}

# ---------------------------------------------------------------- selftest

SELFTEST_DIR=
on_selftest_exit() {
    local rc=$?
    if [[ -n $SELFTEST_DIR ]]; then
        ((rc == 0)) || show_log_tails "$SELFTEST_DIR"
        stop_dir "$SELFTEST_DIR" || true
    fi
    if ((rc == 0)); then log "selftest PASSED"; else log "selftest FAILED"; fi
}

write_extra_tor() { # dir node body...
    local dir=$1 node=$2
    mkdir -p "$dir/$node"
    chmod 700 "$dir/$node"
    {
        cat <<EOF
# Generated by tor-testnet.sh selftest
TestingTorNetwork 1
DataDirectory $dir/$node
PidFile $dir/$node/pid
RunAsDaemon 1
Log notice file $dir/$node/notice.log
SafeLogging 0
LogTimeGranularity 1
ShutdownWaitLength 0
EOF
        printf '%s\n' "${@:3}"
        cat "$dir/torrc-dirauthorities"
    } >"$dir/$node/torrc"
    run_tor "$dir" "$node"
}

cmd_selftest() {
    local dir base socks http token onion t0 t_cons t_onion page deadline
    need tor tor-gencert curl python3
    dir=$(abs_dir "$1")
    start_network "$dir"
    trap on_selftest_exit EXIT
    SELFTEST_DIR=$dir
    t_cons=$(cat "$dir/consensus-seconds")
    base=$(cat "$dir/base-port")
    socks=$((base + 40))
    http=$((base + 41))
    t0=$SECONDS

    # A web server on loopback, reached only through the onion service.
    token="tor-testnet-$RANDOM$RANDOM"
    mkdir -p "$dir/httpd/www"
    echo "$token" >"$dir/httpd/www/index.html"
    python3 -m http.server "$http" --bind "$LOOPBACK" --directory "$dir/httpd/www" \
        >"$dir/httpd/http.log" 2>&1 </dev/null &
    echo $! >"$dir/httpd/pid"

    write_extra_tor "$dir" hs "SocksPort 0" \
        "HiddenServiceDir $dir/hs/hidden_service" \
        "HiddenServicePort 80 $LOOPBACK:$http"
    write_extra_tor "$dir" client "SocksPort $LOOPBACK:$socks"
    log "started onion service and client (SocksPort $LOOPBACK:$socks)"

    deadline=$((SECONDS + TIMEOUT))
    while [[ ! -s $dir/hs/hidden_service/hostname ]]; do
        ((SECONDS < deadline)) || die "onion service wrote no hostname"
        sleep 0.5
    done
    onion=$(cat "$dir/hs/hidden_service/hostname")
    log "fetching http://$onion/ through the C tor client (up to ${TIMEOUT}s)"
    local last=$SECONDS
    while :; do
        check_alive "$dir" client hs
        page=$(curl -s --max-time 30 --socks5-hostname "$LOOPBACK:$socks" "http://$onion/" 2>/dev/null) || true
        [[ $page == "$token" ]] && break
        ((SECONDS < deadline)) || die "onion fetch did not succeed within ${TIMEOUT}s"
        if ((SECONDS - last >= 15)); then
            log "  still trying ($((SECONDS - t0))s; client: $(grep -o 'Bootstrapped [0-9]*%' "$dir/client/notice.log" | tail -n 1 || true))"
            last=$SECONDS
        fi
        sleep 2
    done
    t_onion=$((SECONDS - t0))
    log "onion fetch OK: consensus after ${t_cons}s, onion page fetched ${t_onion}s later (total ${SECONDS}s)"
}

# ---------------------------------------------------------------- main

main() {
    [[ $# -ge 1 ]] || usage
    local cmd=$1
    shift
    if ! [[ $N_RELAYS =~ ^[0-9]+$ ]] || ((N_RELAYS > 10)); then
        die "TORNET_RELAYS must be 0..10"
    fi
    [[ $TIMEOUT =~ ^[0-9]+$ ]] || die "TORNET_TIMEOUT must be a number of seconds"
    case $cmd in
    install) cmd_install ;;
    start | stop | status | selftest)
        [[ $# -eq 1 && -n $1 ]] || usage
        "cmd_$cmd" "$1"
        ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
}

main "$@"
