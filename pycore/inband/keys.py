"""Published keys: how a user's public key travels in their Discourse bio, its fingerprint,
safety codes to compare out of band, and key changes signed by the previous key
(PROTOCOL.md §2–§3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import BioTooLong, MalformedInput, NoPublishedKey
from ..plugin import b64, jsjson
from ..plugin import identity as _identity
from .armour import KEY_BEGIN, KEY_END, armour, find_block, versioned_record
from .forum import BIO_LIMIT

_MODULUS = 512
_E = b"\x01\x00\x01"
_FLAG_KEY_CHANGE = 0x01
_KEY_CHANGE_CONTEXT = b"EFD-KEY-CHANGE-1"
HEX64 = re.compile(r"[0-9a-f]{64}")


def fingerprint_bytes(fp) -> bytes:
    if isinstance(fp, (bytes, bytearray)) and len(fp) == 32:
        return bytes(fp)
    if isinstance(fp, str) and HEX64.fullmatch(fp):
        return bytes.fromhex(fp)
    raise MalformedInput("fingerprint: expected 32 bytes or 64 lower-case hex digits")


def _u32(b: bytes) -> int:
    return int.from_bytes(b, "big")


@dataclass
class KeyChange:
    previous_fingerprint: bytes
    signature: bytes
    verified: bool | None = None  # None: no pinned key was given to check it against


@dataclass
class PublishedKey:
    identity: Any  # public-only pycore Identity
    fingerprint: bytes
    public: str  # the plugin-format public identity string "1$…" (what a pin stores)
    key_change: KeyChange | None = None

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()

    @property
    def digits(self) -> str:
        return fingerprint_digits(self.fingerprint)


def _jwk_public(kind: str, n: bytes) -> dict:
    if kind == "oaep":
        return {"alg": "RSA-OAEP-256", "e": "AQAB", "ext": True, "key_ops": ["encrypt", "wrapKey"],
                "kty": "RSA", "n": b64.encode_url(n)}
    return {"alg": "PS256", "e": "AQAB", "ext": True, "key_ops": ["verify"], "kty": "RSA", "n": b64.encode_url(n)}


def _check_modulus(n: bytes, what: str) -> bytes:
    if len(n) != _MODULUS or not n[0] & 0x80 or not n[-1] & 1:
        raise MalformedInput(f"{what}: not a 4096-bit RSA modulus")
    return n


async def key_from_moduli(prims, n_enc: bytes, n_sign: bytes) -> PublishedKey:
    _check_modulus(n_enc, "encryption key")
    _check_modulus(n_sign, "signing key")
    obj = {"encryptPublic": _jwk_public("oaep", n_enc), "signPublic": _jwk_public("pss", n_sign)}
    return await public_key(prims, "1$" + b64.encode(jsjson.to_utf8(jsjson.stringify(obj))))


# Public identities already imported, by their text: every read of a topic checks its authors'
# bios and pins again, and importing two RSA-4096 keys costs more than verifying a signature.
# Each entry holds its backend, so an id cannot be reused while the entry lives.
_IMPORTED: dict = {}
_IMPORTED_LIMIT = 256


async def public_key(prims, public: str) -> PublishedKey:
    """The PublishedKey of a public identity string "1$…" (a new object each time: a caller may
    attach its key change). Raises MalformedInput."""
    k = (id(prims), public)
    hit = _IMPORTED.get(k)
    if hit is None or hit[0] is not prims:
        ident = await _identity.import_identity(prims, public)
        hit = (prims, ident, await _identity.fingerprint(prims, ident))
        if len(_IMPORTED) >= _IMPORTED_LIMIT:
            _IMPORTED.clear()
        _IMPORTED[k] = hit
    return PublishedKey(hit[1], hit[2], public)


async def _moduli(prims, ident) -> tuple[bytes, bytes]:
    if getattr(ident, "version", None) != 1 or ident.sign_public is None:
        raise MalformedInput("only v1 identities (with a signing key) can be published")
    public = await _identity.export_public(prims, ident)
    obj = jsjson.parse_utf8(b64.decode(public[2:], what="public identity"), what="public identity")
    out = []
    for name in ("encryptPublic", "signPublic"):
        jwk = obj[name]
        if b64.decode_url(jwk["e"]).lstrip(b"\0") != _E:
            raise MalformedInput("only keys with public exponent 65537 can be published")
        out.append(_check_modulus(b64.decode_url(jwk["n"]).lstrip(b"\0"), name))
    return out[0], out[1]


async def key_of(prims, ident) -> PublishedKey:
    """The PublishedKey others see for this identity (public parts only)."""
    n_enc, n_sign = await _moduli(prims, ident)
    return await key_from_moduli(prims, n_enc, n_sign)


# ------------------------------------------------------------------------------ safety codes
def fingerprint_digits(fp) -> str:
    fp = fingerprint_bytes(fp)
    return " ".join(f"{_u32(fp[5 * i:5 * i + 5]) % 100000:05d}" for i in range(6))


async def safety_code(prims, fp_a, fp_b) -> str:
    """60 digits in 12 groups of 5; the same whichever side computes it. (`prims` is unused
    today; kept so the derivation can add hashing without changing callers.)"""
    halves = sorted([fingerprint_digits(fp_a), fingerprint_digits(fp_b)])
    return halves[0] + " " + halves[1]


def safety_qr(fp_a, fp_b) -> str:
    a, b = sorted([fingerprint_bytes(fp_a).hex().upper(), fingerprint_bytes(fp_b).hex().upper()])
    return f"EFD1:{a}:{b}"


def check_safety_qr(text: str, fp_a, fp_b) -> bool:
    return isinstance(text, str) and text.strip() == safety_qr(fp_a, fp_b)


# ------------------------------------------------------------------------------ bio block
def _key_change_statement(prev_fp: bytes, new_fp: bytes) -> bytes:
    return _KEY_CHANGE_CONTEXT + prev_fp + new_fp


async def sign_key_change(prims, previous, new_identity) -> KeyChange:
    """The statement "my key changed from `previous` to `new_identity`", signed by the previous
    identity's signing key (which must be available: an unlocked or restored old identity)."""
    if getattr(previous, "sign_private", None) is None:
        raise MalformedInput("announcing a key change needs the previous identity's signing key")
    prev_fp = await _identity.fingerprint(prims, previous)
    new_fp = (await key_of(prims, new_identity)).fingerprint
    if prev_fp == new_fp:
        raise MalformedInput("the previous key is the same as the new one")
    sig = await prims.rsa_pss_sign(previous.sign_private, _key_change_statement(prev_fp, new_fp), 32)
    return KeyChange(prev_fp, sig, True)


async def make_bio_block(prims, ident, *, previous=None, key_change: KeyChange | None = None) -> str:
    """The fenced block for the bio. A block that announces a key change carries the statement
    signed by the old key: pass `key_change` (from sign_key_change), or `previous` (the old
    identity with its signing key) to sign it here."""
    n_enc, n_sign = await _moduli(prims, ident)
    pk = await key_from_moduli(prims, n_enc, n_sign)
    if previous is not None and key_change is None:
        key_change = await sign_key_change(prims, previous, ident)
    record = bytes([1, _FLAG_KEY_CHANGE if key_change is not None else 0]) + n_enc + n_sign
    if key_change is not None:
        if key_change.previous_fingerprint == pk.fingerprint or len(key_change.previous_fingerprint) != 32:
            raise MalformedInput("a key change must name another key's 32-byte fingerprint")
        record += key_change.previous_fingerprint + key_change.signature
    return armour(KEY_BEGIN, KEY_END, record, "Fingerprint: " + pk.digits)


async def verify_key_change(prims, published: PublishedKey, old: PublishedKey) -> bool:
    kc = published.key_change
    if kc is None or old is None or kc.previous_fingerprint != old.fingerprint:
        return False
    return bool(await prims.rsa_pss_verify(old.identity.sign_public, kc.signature,
                                           _key_change_statement(old.fingerprint, published.fingerprint), 32))


async def find_bio_block(prims, bio_raw, *, pinned: PublishedKey | None = None) -> PublishedKey:
    if not isinstance(bio_raw, str) or KEY_BEGIN not in bio_raw:
        raise NoPublishedKey("no published key in this bio")
    _, _, inner = find_block(bio_raw, KEY_BEGIN, KEY_END, "bio key block")
    lines = [ln.strip() for ln in inner.replace("\r", "").split("\n") if ln.strip()]
    if not lines or not lines[0].startswith("Fingerprint:"):
        raise MalformedInput("bio key block: no Fingerprint line")
    shown = " ".join(lines[0][len("Fingerprint:"):].split())
    record = versioned_record("".join(lines[1:]), "bio key block")
    flags = record[1]
    if flags & ~_FLAG_KEY_CHANGE:
        raise MalformedInput("bio key block: unknown flags")
    want = 2 + 2 * _MODULUS + (32 + _MODULUS if flags else 0)
    if len(record) != want:
        raise MalformedInput(f"bio key block: {len(record)} bytes, expected {want}")
    pk = await key_from_moduli(prims, record[2:2 + _MODULUS], record[2 + _MODULUS:2 + 2 * _MODULUS])
    if shown != pk.digits:
        raise MalformedInput("bio key block: the Fingerprint line does not match the key (damaged block)")
    if flags:
        off = 2 + 2 * _MODULUS
        pk.key_change = KeyChange(record[off:off + 32], record[off + 32:])
        if pk.key_change.previous_fingerprint == pk.fingerprint:
            raise MalformedInput("bio key block: a key change to the same key")
        if pinned is not None:
            pk.key_change.verified = await verify_key_change(prims, pk, pinned)
    return pk


_BLOCK_RE = re.compile(r"(?:```[^\n]*\r?\n[ \t]*)?" + re.escape(KEY_BEGIN) + r".*?" + re.escape(KEY_END)
                       + r"(?:[ \t]*\r?\n[ \t]*```[ \t]*(?=\r?\n|$))?", re.S)


def remove_bio_block(bio_raw: str) -> str:
    """The bio without its key block (and the fence around it)."""
    if not isinstance(bio_raw, str):
        raise MalformedInput("bio: expected text")
    return _BLOCK_RE.sub("", bio_raw).strip("\r\n") if KEY_BEGIN in bio_raw else bio_raw


def put_bio_block(bio_raw: str | None, block: str, *, limit: int = BIO_LIMIT) -> str:
    """Replaces the key block of the bio (with its fence) in place, or appends it after a blank line."""
    bio_raw = bio_raw or ""
    if not isinstance(bio_raw, str) or not isinstance(block, str) or KEY_BEGIN not in block:
        raise MalformedInput("bio: expected text and a key block")
    found = list(_BLOCK_RE.finditer(bio_raw))
    if len(found) > 1:
        raise MalformedInput("bio: more than one key block; remove the extra ones by hand")
    if found:
        m = found[0]
        out = bio_raw[:m.start()] + block + bio_raw[m.end():]
    else:
        stripped = bio_raw.rstrip()
        out = (stripped + "\n\n" + block) if stripped else block
    if len(out) > limit:
        excess = len(out) - limit
        raise BioTooLong(f"the bio would have {len(out)} characters, {excess} more than the limit of {limit}: "
                         f"shorten your own text by {excess} characters", excess)
    return out



KEY_EXCHANGE_HINT = ("Encryption key for Encrypt for Discourse, sent by private message because this forum "
                     "keeps profiles read-only. Keep this message.")


def key_exchange_raw(block: str) -> str:
    """The raw of a key-exchange post (PROTOCOL §3.4): a hint line and the same block a bio holds."""
    if not isinstance(block, str) or KEY_BEGIN not in block:
        raise MalformedInput("a key exchange needs a key block")
    return KEY_EXCHANGE_HINT + "\n\n" + block


def has_key_block(raw) -> bool:
    return isinstance(raw, str) and KEY_BEGIN in raw and raw.find(KEY_END, raw.find(KEY_BEGIN)) > 0
