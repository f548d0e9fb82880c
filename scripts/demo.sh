#!/usr/bin/env bash
# The main job of Xaeroflux in one minute, on a fresh machine with nothing but the repo and
# a Rust toolchain: build the `xf` tool, create a store, append events, read them back, prove
# one event and verify the proof (with no store), show that a tampered proof fails, and seal
# an event with a space secret.
#
#   bash scripts/demo.sh           # uses a temporary directory, removed at the end
#   KEEP=1 bash scripts/demo.sh    # keep it, to look around afterwards
set -euo pipefail
cd "$(dirname "$0")/.."

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '%s\n' "$*"; }
# Prints a command like a shell transcript (with the store option left out), then runs it.
run() {
    local shown="" a
    for a in "$@"; do
        case "$a" in
            *[!A-Za-z0-9_./:=-]*) shown+=" '${a//\'/\'\\\'\'}'" ;;
            *) shown+=" $a" ;;
        esac
    done
    printf '\033[2m$ xf%s\033[0m\n' "${shown//$WORK\//}"
    "$XF" --store "$STORE" "$@"
}
hex_of() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

if ! command -v cargo >/dev/null 2>&1; then
    say "demo: cargo is not installed; get a Rust toolchain from https://rustup.rs and run this again" >&2
    exit 1
fi
bold "Building xf (cargo build --release; the first build takes a minute or two)"
cargo build --release --locked --quiet -p xaeroflux --bin xf
XF="${CARGO_TARGET_DIR:-target}/release/xf"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/xaeroflux-demo.XXXXXX")"
if [ "${KEEP:-0}" = "1" ]; then
    trap 'say ""; say "kept: $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
STORE="$WORK/store"
say "xf: $XF   store: $STORE"

bold "1. Create a store: it makes an ed25519 author key; your feed is empty"
run init

bold "2. Append events: arguments are one batch (one durable commit)..."
run append "alice: hello, world" "alice: pay bob 5 EUR" "alice: lunch at noon?"
say ""
say "...and so are many lines of stdin at once"
LINES='sensor-1 temperature=21.5\nsensor-1 temperature=21.7\nsensor-1 temperature=22.0\n'
printf '\033[2m$ printf '"'"'%s'"'"' | xf append\033[0m\n' "$LINES"
printf "$LINES" | "$XF" --store "$STORE" append

bold "3. Read them back (zero-copy from the mapped pages)"
run log
say ""
run show 1

bold "4. The feed's Merkle Mountain Range root, and the signed head (author, length, root, signature)"
run root
ROOT="$("$XF" --store "$STORE" root | awk '$1 == "root" { print $2 }')"
say ""
run head -o "$WORK/head.hex"

bold "5. Prove event #1 ('pay bob 5 EUR'): event + Merkle path + signed head, in one file"
run prove 1 -o "$WORK/proof.json"
say ""
sed -n '1,6p' "$WORK/proof.json"
say "  ..."

bold "6. Anyone can verify it, without the store"
printf '\033[2m$ xf verify proof.json\033[0m\n'
"$XF" verify "$WORK/proof.json"
say ""
printf '\033[2m$ xf verify proof.json --root %s\033[0m\n' "$ROOT"
"$XF" verify "$WORK/proof.json" --root "$ROOT"
say ""
printf '\033[2m$ xf verify proof.json --head head.hex\033[0m\n'
"$XF" verify "$WORK/proof.json" --head "$WORK/head.hex"

bold "7. Tamper with the proof: make it say 'pay bob 9 EUR' instead of 5"
sed "s/$(hex_of 'bob 5 EUR')/$(hex_of 'bob 9 EUR')/" "$WORK/proof.json" >"$WORK/tampered.json"
if cmp -s "$WORK/proof.json" "$WORK/tampered.json"; then
    say "demo error: the payload was not found in the proof file" >&2
    exit 1
fi
printf '\033[2m$ xf verify tampered.json\033[0m\n'
if "$XF" verify "$WORK/tampered.json"; then
    say "demo error: a tampered proof verified" >&2
    exit 1
else
    say "-> rejected (exit status $?), as it must be"
fi

bold "8. Appending more moves the head on; the old proof is for the old, shorter feed"
run append "alice: make that 6 EUR"
"$XF" --store "$STORE" head -o "$WORK/head2.hex" >/dev/null
printf '\033[2m$ xf verify proof.json --head head2.hex\033[0m\n'
if "$XF" verify "$WORK/proof.json" --head "$WORK/head2.hex"; then
    say "demo error: a proof verified against a head of another length" >&2
    exit 1
else
    say "-> refused: prove again against the new head (xf prove 1)"
fi
run prove 1 -o "$WORK/proof2.json" >/dev/null
printf '\033[2m$ xf verify proof2.json --head head2.hex\033[0m\n'
"$XF" verify "$WORK/proof2.json" --head "$WORK/head2.hex"

bold "9. Encrypted events: sealed with a space secret only the space's members hold"
run secret new -o "$WORK/space.key"
run --secret-file "$WORK/space.key" append "alice: the door code is 4711"
SEQ=$(( $("$XF" --store "$STORE" root | awk '$1 == "length" { print $2 }') - 1 ))
say ""
say "Without the secret (a relay, a peer outside the space), the event is sealed bytes:"
run log --author "$("$XF" --store "$STORE" root | awk '$1 == "author" { print substr($2, 1, 8) }')" --from "$SEQ"
if "$XF" --store "$STORE" log | grep -q "door code"; then
    say "demo error: the plaintext of an encrypted event shows without the secret" >&2
    exit 1
fi
say ""
say "With it:"
run --secret-file "$WORK/space.key" show "$SEQ"

bold "10. Statistics, and a full integrity check (every page, the index, the MMR)"
run stats
run check

bold "11. A backup: a new store of the same author (the same root), every feed checked on the way"
run backup "$WORK/backup"
printf '\033[2m$ xf --store backup root\033[0m\n'
"$XF" --store "$WORK/backup" root

bold "12. An archive: the store as one file (the browser package reads it too), restored elsewhere"
run archive "$WORK/store.xfa"
printf '\033[2m$ xf --store restored restore store.xfa\033[0m\n'
"$XF" --store "$WORK/restored" restore "$WORK/store.xfa"
if [ "$("$XF" --store "$WORK/restored" root)" != "$("$XF" --store "$STORE" root)" ]; then
    say "demo error: the restored store's root differs" >&2
    exit 1
fi
say "The restored store has the same author, length and root."

bold "Done"
say "Every event is in its author's signed, append-only feed; any one of them can be proven"
say "to someone who has only the feed's root or signed head. Try: $XF --help"
