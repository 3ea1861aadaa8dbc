#!/usr/bin/env python3
"""Independent check of a Corridor log, written from the standards alone.

It shares no code with Corridor: RFC 6962 (RFC 9162 section 2.1) Merkle tree
hashing with Python's hashlib, the C2SP signed-note and tlog-checkpoint text
formats parsed by hand, and Ed25519 from the `cryptography` package.

    corridor log export --out leaves.b64 --checkpoint-out checkpoint.txt
    corridor log key > key.txt
    python3 tools/verify_log.py leaves.b64 checkpoint.txt "$(cat key.txt)"

Exit status 0 when the root over the leaves equals the checkpoint's root, its
size equals the number of leaves, and the signature verifies with the key.
"""
import base64
import hashlib
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """RFC 9162 MTH over a list of leaf hashes (k = largest power of 2 < n)."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def parse_vkey(vkey: str):
    name, hash_hex, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    if len(key) != 33 or key[0] != 1:
        raise ValueError("not an Ed25519 signed-note key (algorithm byte 0x01 + 32 bytes)")
    want = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if want.hex() != hash_hex:
        raise ValueError("key hash does not match name and key")
    return name, want, Ed25519PublicKey.from_public_bytes(key[1:])


def open_note(note: str, vkey: str) -> str:
    name, key_hash, pub = parse_vkey(vkey)
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        raise ValueError("malformed note: no blank line before the signatures")
    text += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise ValueError(f"malformed signature line {line!r}")
        who, _, b64 = line[2:].partition(" ")
        raw = base64.b64decode(b64)
        if who == name and raw[:4] == key_hash:
            try:
                pub.verify(raw[4:], text.encode())
            except InvalidSignature:
                raise ValueError("the signature does not verify")
            return text
    raise ValueError(f"no signature by {name}")


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    leaves = [base64.b64decode(l) for l in open(argv[1]).read().split("\n") if l]
    text = open_note(open(argv[2], encoding="utf-8").read(), argv[3].strip())
    lines = text.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    if origin != parse_vkey(argv[3].strip())[0]:
        print(f"FAIL: checkpoint origin {origin!r} is not the key's name")
        return 1
    computed = mth([leaf_hash(l) for l in leaves])
    if size != len(leaves):
        print(f"FAIL: checkpoint size {size} != {len(leaves)} exported leaves")
        return 1
    if computed != root:
        print(f"FAIL: root over the leaves {computed.hex()} != checkpoint root {root.hex()}")
        return 1
    print(f"OK: {origin}: {size} leaves, RFC 6962 root matches the checkpoint, Ed25519 signature verifies")
    return 0


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    sys.exit(main(sys.argv))
