#!/usr/bin/env python3
"""Test vectors for xaeroflux sealed payloads (the `ENCRYPTED` event flag).

An independent implementation of "Sealed payloads (`ENCRYPTED`)" in docs/formats.md,
written from the spec alone (no Rust involved), on top of:

  * libsodium's crypto_aead_xchacha20poly1305_ietf, through PyNaCl;
  * the `blake3` package (Python bindings of the reference BLAKE3 crate).

Both are needed only to regenerate the vectors, never in CI:

    pip install pynacl blake3
    python3 scripts/vectors/sealed_payload.py            # writes core/tests/vectors/sealed_payload.json
    python3 scripts/vectors/sealed_payload.py --stdout   # prints the JSON instead

The output is deterministic: every input (secret, author, random, plaintext) comes from a
fixed pattern, so running the script again gives the same file byte for byte.
"""

import hashlib
import json
import os
import sys

import blake3
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

# --------------------------------------------------------------------------------------
# The format (docs/formats.md, "Sealed payloads")
# --------------------------------------------------------------------------------------

CONTEXT_PAYLOAD_KEY = "xaeroflux 2026-12 space payload key v1"
CONTEXT_KEY_ID = "xaeroflux 2026-12 space payload key id v1"
CONTEXT_NONCE_KEY = "xaeroflux 2026-12 space payload nonce v1"

SEAL_VERSION = 0x01
OVERHEAD = 1 + 4 + 24 + 16  # version, key id, nonce, Poly1305 tag = 45 bytes


def derive_key(context: str, key_material: bytes) -> bytes:
    """BLAKE3 derive_key(context, key_material), 32 bytes.

    In the `blake3` package the key material is the hashed data and the context string is
    the `derive_key_context` argument.
    """
    return blake3.blake3(key_material, derive_key_context=context).digest()


def payload_key(secret: bytes) -> bytes:
    return derive_key(CONTEXT_PAYLOAD_KEY, secret)


def key_id(secret: bytes) -> bytes:
    # Only the first 4 bytes of the 32 derived bytes.
    return derive_key(CONTEXT_KEY_ID, secret)[:4]


def nonce_key(secret: bytes) -> bytes:
    return derive_key(CONTEXT_NONCE_KEY, secret)


def seal_nonce(secret: bytes, random: bytes, author: bytes, plaintext: bytes) -> bytes:
    """First 24 bytes of BLAKE3 keyed with the nonce key over random || author || plaintext."""
    assert len(random) == 24 and len(author) == 32
    return blake3.blake3(random + author + plaintext, key=nonce_key(secret)).digest()[:24]


def seal(secret: bytes, random: bytes, author: bytes, plaintext: bytes) -> bytes:
    """sealed = version || key id || nonce || ciphertext || tag."""
    assert len(secret) == 32
    header = bytes([SEAL_VERSION]) + key_id(secret)  # bytes 0..5 of the sealed payload
    nonce = seal_nonce(secret, random, author, plaintext)
    aad = author + header  # author (32) || version (1) || key id (4); not stored again
    # PyNaCl's argument order is (message, aad, nonce, key); it returns ciphertext || tag.
    ct_and_tag = crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, aad, nonce, payload_key(secret)
    )
    return header + nonce + ct_and_tag


def open_sealed(secret: bytes, author: bytes, sealed: bytes) -> bytes:
    """The reverse of seal, with the checks in the order the spec gives them."""
    if len(sealed) < OVERHEAD:
        raise ValueError("TooShort")
    if sealed[0] != SEAL_VERSION:
        raise ValueError("UnknownVersion")
    if sealed[1:5] != key_id(secret):
        raise ValueError("OtherSecret")
    aad = author + sealed[0:5]
    nonce = sealed[5:29]
    try:
        return crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[29:], aad, nonce, payload_key(secret)
        )
    except CryptoError:
        raise ValueError("Tampered")


# --------------------------------------------------------------------------------------
# Known-answer checks of the two libraries, so a wrong API use shows up here
# --------------------------------------------------------------------------------------


def check_libraries() -> None:
    # BLAKE3's official test vectors (test_vectors/test_vectors.json in BLAKE3-team/BLAKE3):
    # input byte i = i % 251, keyed_hash key "whats the Elvish word for friend", derive_key
    # context "BLAKE3 2019-12-27 16:29:52 test vectors context"; first 32 output bytes.
    key = b"whats the Elvish word for friend"
    context = "BLAKE3 2019-12-27 16:29:52 test vectors context"
    official = {
        0: ("92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26",
            "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d"),
        1: ("6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b",
            "b3e2e340a117a499c6cf2398a19ee0d29cca2bb7404c73063382693bf66cb06c"),
        1024: ("75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4",
               "7356cd7720d5b66b6d0697eb3177d9f8d73a4a5c5e968896eb6a689684302706"),
    }
    for n, (keyed, derived) in official.items():
        data = bytes(i % 251 for i in range(n))
        assert blake3.blake3(data, key=key).digest().hex() == keyed, n
        assert derive_key(context, data).hex() == derived, n

    # XChaCha20-Poly1305 test vector of draft-irtf-cfrg-xchacha-03, appendix A.3.1.
    plaintext = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one"
                 b" tip for the future, sunscreen would be it.")
    aad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
    k = bytes(range(0x80, 0xA0))
    iv = bytes(range(0x40, 0x58))
    expected = (
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
        "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
        "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
        "21f9664c97637da9768812f615c68b13b52e"
        "c0875924c1c7987947deafd8780acf49"  # tag
    )
    assert crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, iv, k).hex() == expected


# --------------------------------------------------------------------------------------
# Inputs: fixed patterns only
# --------------------------------------------------------------------------------------

SECRETS = [
    bytes(32),  # all zero
    bytes(range(1, 33)),  # 0x01, 0x02, ..., 0x20
    hashlib.sha256(b"xaeroflux sealed payload test secret").digest(),
]

AUTHORS = [
    hashlib.sha256(b"xaeroflux sealed payload test author 0").digest(),
    bytes(255 - j for j in range(32)),  # 0xff, 0xfe, ..., 0xe0
]

# Every boundary: empty, one byte, around the Poly1305/ChaCha block sizes (16, 64), around
# BLAKE3's chunk size (1024), and a few larger sizes.
LENGTHS = [0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 1023, 1024, 1025, 4097, 16384]


def plaintext_of_length(n: int) -> bytes:
    # Byte i of a plaintext of n bytes is (i*7 + n) % 251.
    return bytes((i * 7 + n) % 251 for i in range(n))


def random_of(seed: int) -> bytes:
    # Stands in for the 24 bytes the sealing host draws from its generator.
    return bytes((seed * 31 + j) % 256 for j in range(24))


def case_plan():
    """(secret index, author index, plaintext length, random seed) for each case."""
    plan = []
    # Every length once, rotating through the secrets and the authors.
    for i, n in enumerate(LENGTHS):
        plan.append((i % 3, i % 2, n))
    # Every length but the two largest again, with another secret and the other author.
    for i, n in enumerate(LENGTHS):
        if n <= 1025:
            plan.append(((i + 1) % 3, (i + 1) % 2, n))
    cases = [(s, a, n, index) for index, (s, a, n) in enumerate(plan)]
    # Two cases whose random bytes are identical (as from a generator that repeats itself),
    # same secret and author, but different plaintexts: their nonces differ.
    cases.append((2, 1, 16, 200))
    cases.append((2, 1, 17, 200))
    return cases


# --------------------------------------------------------------------------------------
# Generate, check, write
# --------------------------------------------------------------------------------------


def make_case(s: int, a: int, n: int, seed: int) -> dict:
    secret, author = SECRETS[s], AUTHORS[a]
    random = random_of(seed)
    plaintext = plaintext_of_length(n)
    sealed = seal(secret, random, author, plaintext)

    # Self-checks: size, layout, round trip, and that the wrong author or a flipped bit fails.
    nonce = seal_nonce(secret, random, author, plaintext)
    assert len(sealed) == len(plaintext) + OVERHEAD
    assert sealed[0] == SEAL_VERSION and sealed[1:5] == key_id(secret) and sealed[5:29] == nonce
    assert crypto_aead_xchacha20poly1305_ietf_decrypt(
        sealed[29:], author + sealed[:5], nonce, payload_key(secret)
    ) == plaintext
    assert open_sealed(secret, author, sealed) == plaintext
    other_author = AUTHORS[1 - a]
    for bad_author, bad in [(other_author, sealed),
                            (author, sealed[:-1] + bytes([sealed[-1] ^ 1]))]:
        try:
            open_sealed(secret, bad_author, bad)
            raise AssertionError("opened a bad sealed payload")
        except ValueError as e:
            assert str(e) == "Tampered"

    return {
        "secret": secret.hex(),
        "author": author.hex(),
        "random": random.hex(),
        "plaintext": plaintext.hex(),
        "payload_key": payload_key(secret).hex(),
        "key_id": key_id(secret).hex(),
        "nonce_key": nonce_key(secret).hex(),
        "nonce": nonce.hex(),
        "sealed": sealed.hex(),
    }


def main() -> None:
    check_libraries()
    cases = [make_case(*c) for c in case_plan()]

    # Coverage: all lengths, all secrets, both authors, and the same-random pair.
    assert {len(c["plaintext"]) // 2 for c in cases} == set(LENGTHS)
    assert {c["secret"] for c in cases} == {s.hex() for s in SECRETS}
    assert {c["author"] for c in cases} == {a.hex() for a in AUTHORS}
    pair = cases[-2:]
    assert pair[0]["random"] == pair[1]["random"] and pair[0]["nonce"] != pair[1]["nonce"]
    assert len({c["nonce"] for c in cases}) == len(cases)

    doc = {
        "comment": (
            "Sealed payload test vectors (docs/formats.md, 'Sealed payloads'), made by "
            "scripts/vectors/sealed_payload.py with PyNaCl (libsodium) and blake3, not by "
            "the Rust code. All values are lowercase hex. Plaintext byte i of a plaintext "
            "of n bytes is (i*7 + n) % 251. sealed = 01 || key_id || nonce || ciphertext "
            "|| tag, with aad = author || 01 || key_id. The last two cases share their "
            "random bytes, secret and author but not their plaintexts, so their nonces differ."
        ),
        "cases": cases,
    }
    text = json.dumps(doc, indent=2) + "\n"

    if "--stdout" in sys.argv[1:]:
        sys.stdout.write(text)
        return
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "..", "core", "tests", "vectors", "sealed_payload.json")
    out = os.path.normpath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", newline="\n") as f:
        f.write(text)
    print(f"wrote {len(cases)} cases ({len(text)} bytes) to {out}")


if __name__ == "__main__":
    main()
