"""The in-band protocol for plugin-less Discourse (docs/PROTOCOL.md is the normative text).

Everything is stored through Discourse's ordinary API as the logged-in user: the public key in
the bio, a key backup in a PM to oneself, conversations as PMs whose posts carry ciphertext.
Pure functions and small dataclasses; all cryptography goes through the injected `prims`
(CPython `cryptography` or WebCrypto in Pyodide) and pycore's plugin-compatible modules.

Public API (all `async` functions take `prims` first):

Encoding
    a256_encode(data: bytes) -> str / a256_decode(text) -> bytes     one letter or digit per byte
    A256_ALPHABET                                                    the 256 characters
Fingerprints
    await key_of(prims, identity) -> PublishedKey                    my own key as others see it
    await key_from_moduli(prims, n_enc, n_sign) -> PublishedKey      (512-byte moduli, e = 65537)
    fingerprint_digits(fp) -> "12345 67890 …" (6 groups)             fp: bytes or 64-hex str
    await safety_code(prims, fp_a, fp_b) -> "12345 … " (12 groups)   same on both sides
    safety_qr(fp_a, fp_b) -> "EFD1:<HEX>:<HEX>" / check_safety_qr(text, fp_a, fp_b) -> bool
Bio
    await make_bio_block(prims, identity, *, previous=None) -> str   previous: old Identity (signs the change)
    await find_bio_block(prims, bio_raw, *, pinned=None) -> PublishedKey   (NoPublishedKey, MalformedInput)
    await verify_key_change(prims, published, old) -> bool
    put_bio_block(bio_raw, block, *, limit=3000) -> str              (BioTooLong)
    remove_bio_block(bio_raw) -> str
Backup
    await make_backup(prims, identity_or_private_string, passphrase=None, iterations=1_000_000,
                      *, paper_key=None) -> str (the post raw)
    await open_backup(prims, text, secret, *, extractable=True) -> Identity
        (WrongPassphrase, BackupCostOutOfRange, MalformedInput, AuthenticationFailed)
    backup_info(text) -> {"slots": [...], "iterations": [...]}       without opening it
Conversations
    await start_conversation(prims, author, author_name, recipients: [(username, PublishedKey)],
                             title, body, now_iso, *, max_chars=32000) -> NewConversation
    await open_conversation(prims, first_post_raw, me_username, my_identity, author_key,
                            *, key=None, poster_username=None) -> Conversation
    await make_reply(prims, conversation, author, author_name, body, now_iso, *, max_chars) -> str
    await read_post(prims, conversation, raw, author_keys, *, poster_username=None) -> ReadPost
    await make_key_share(prims, conversation, inviter, inviter_name, invitee_name, invitee_key,
                         now_iso, *, max_chars) -> str
    await read_key_share(prims, raw, my_identity, inviter_keys, *, poster_username=None) -> KeyShare
    is_encrypted_raw(raw) -> bool, is_backup_raw(raw) -> bool, iso_time(seconds) -> str

Errors defined here: NoPublishedKey (MalformedInput), BioTooLong (.excess), MessageTooLarge
(.excess), BackupCostOutOfRange (MalformedInput), NotAParticipant (WrongKey).

`author_key`/`author_keys`: a PublishedKey, a list of them (e.g. the pin and its history), or
None (then the status is "unverified"). Statuses: see STATUS_* below. Content (title, body) is
only returned when the status is "valid".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from . import b64, jsjson, paperkey, topickey
from . import identity as _identity
from . import payload as _payload
from .errors import (AuthenticationFailed, MalformedInput, PycoreError, UnsupportedVersion,
                     WrongKey, WrongPassphrase)

try:  # present in CPython and in Pyodide's standard library
    import unicodedata as _unicodedata
except ImportError:  # pragma: no cover
    _unicodedata = None


# ------------------------------------------------------------------------------ errors
class NoPublishedKey(MalformedInput):
    """The bio holds no key block."""


class BioTooLong(PycoreError):
    """The bio with the key block would exceed Discourse's limit."""

    def __init__(self, message: str, excess: int):
        super().__init__(message)
        self.excess = excess


class MessageTooLarge(PycoreError):
    """The message would not fit in one Discourse post."""

    def __init__(self, message: str, excess: int):
        super().__init__(message)
        self.excess = excess


class BackupCostOutOfRange(MalformedInput):
    """A backup names a key-derivation cost we refuse to pay (or an impossible one)."""


class NotAParticipant(WrongKey):
    """No wrapped key in this post opens with my private key."""


# ------------------------------------------------------------------------------ constants
BIO_LIMIT = 3000
MAX_POST_CHARS = 32000
LINE = 96
PLACEHOLDER_TITLE = "Encrypted message"
BACKUP_TITLE = "Encrypted key backup"
DEFAULT_ITERATIONS = 1_000_000
MAX_ITERATIONS = 10_000_000
PROTOCOL_VERSION = 1

KEY_BEGIN = "-----BEGIN EFD PUBLIC KEY-----"
KEY_END = "-----END EFD PUBLIC KEY-----"
MSG_BEGIN = "-----BEGIN EFD MESSAGE-----"
MSG_END = "-----END EFD MESSAGE-----"
BACKUP_BEGIN = "-----BEGIN EFD KEY BACKUP-----"
BACKUP_END = "-----END EFD KEY BACKUP-----"
FENCE_OPEN = "```text"
FENCE_CLOSE = "```"
MSG_HINT = "End-to-end encrypted message. Open it with the Encrypt for Discourse extension."
BACKUP_HINT = "Encrypted key backup for Encrypt for Discourse. Keep this message; do not edit it."

STATUS_VALID = "valid"
STATUS_INVALID_SIGNATURE = "invalid_signature"
STATUS_WRONG_CONVERSATION = "wrong_conversation"
STATUS_WRONG_AUTHOR = "wrong_author"
STATUS_UNSIGNED = "unsigned"
STATUS_UNVERIFIED = "unverified"
STATUS_CANNOT_DECRYPT = "cannot_decrypt"
STATUS_DUPLICATE = "duplicate"  # set by the engine

KIND_START, KIND_REPLY, KIND_KEY_SHARE = 1, 2, 3
_KIND_NAMES = {KIND_START: "start", KIND_REPLY: "reply", KIND_KEY_SHARE: "key_share"}

_MODULUS = 512
_E = b"\x01\x00\x01"
_FLAG_KEY_CHANGE = 0x01
_KEY_CHANGE_CONTEXT = b"EFD-KEY-CHANGE-1"
_HINT = 4
_WRAPPED = 512
_IV = 12
_TAG = 16
_SALT = 16
_SLOT_PASSPHRASE, _SLOT_PAPER = 1, 2
_KDF_PBKDF2 = 1
_SLOT_LEN = 1 + 1 + 4 + _SALT + _IV + 32 + _TAG
USERNAME_PATTERN = r"[A-Za-z0-9_.\-]{1,60}"  # Discourse usernames (ASCII; JavaScript uses the same source)
_USERNAME = re.compile(USERNAME_PATTERN)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")


# ------------------------------------------------------------------------------ A256
# Digits, A-Z, a-z, then the first 194 code points from U+00C0 that are letters (Lu/Ll), stable
# under NFC and NFKC, without U+0130/U+0131. tests/test_inband.py re-derives it.
A256_ALPHABET = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿĀāĂă"
    "ĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįĴĵĶķĸĹĺĻļĽľŁłŃńŅņŇňŊ"
    "ŋŌōŎŏŐőŒœŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƀƁƂƃƄƅƆƇƈƉƊƋ"
)
assert len(A256_ALPHABET) == 256 and len(set(A256_ALPHABET)) == 256
_A256_INDEX = {c: i for i, c in enumerate(A256_ALPHABET)}


def a256_encode(data: bytes, *, line: int = LINE) -> str:
    text = "".join(A256_ALPHABET[b] for b in bytes(data))
    return "\n".join(text[i:i + line] for i in range(0, len(text), line))


def a256_decode(text: str, *, what: str = "armoured data") -> bytes:
    if not isinstance(text, str):
        raise MalformedInput(f"{what}: expected text")
    if _unicodedata is not None and not text.isascii():
        text = _unicodedata.normalize("NFC", text)
    out = bytearray()
    index = _A256_INDEX
    for ch in text:
        v = index.get(ch)
        if v is None:
            if ch.isspace():
                continue
            raise MalformedInput(f"{what}: unexpected character U+{ord(ch):04X}")
        out.append(v)
    return bytes(out)


def _a256_len(n_bytes: int) -> int:
    return n_bytes + max(0, -(-n_bytes // LINE) - 1)


def _armour(begin: str, end: str, data: bytes, header: str = "") -> str:
    return "\n".join([FENCE_OPEN, begin] + ([header] if header else []) + [a256_encode(data), end, FENCE_CLOSE])


def _versioned_record(encoded: str, what: str) -> bytes:
    """The bytes of an armoured record whose first byte is the format version (1) and which has at
    least one more byte. Raises MalformedInput / UnsupportedVersion."""
    record = a256_decode(encoded, what=what)
    if len(record) < 2:
        raise MalformedInput(f"{what}: too short")
    if record[0] != 1:
        raise UnsupportedVersion(f"{what}: version {record[0]} is not supported")
    return record


def _find_unique(text: str, begin: str, end: str, what: str) -> tuple[int, int, str]:
    """(start of BEGIN, end of END, text between). Raises MalformedInput on 0 or 2+ blocks."""
    if not isinstance(text, str):
        raise MalformedInput(f"{what}: expected text")
    i = text.find(begin)
    if i < 0:
        raise MalformedInput(f"{what}: no {begin} line")
    if text.find(begin, i + len(begin)) >= 0:
        raise MalformedInput(f"{what}: more than one block")
    j = text.find(end, i + len(begin))
    if j < 0:
        raise MalformedInput(f"{what}: the block has no {end} line")
    return i, j + len(end), text[i + len(begin):j]


# ------------------------------------------------------------------------------ small helpers
def iso_time(seconds: float | None = None) -> str:
    """UTC ISO-8601 with milliseconds, like JavaScript's Date.toISOString()."""
    s = time.time() if seconds is None else float(seconds)
    ms = int(round(s * 1000))
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ms % 1000:03d}Z"


def _fp_bytes(fp) -> bytes:
    if isinstance(fp, (bytes, bytearray)) and len(fp) == 32:
        return bytes(fp)
    if isinstance(fp, str) and _HEX64.fullmatch(fp):
        return bytes.fromhex(fp)
    raise MalformedInput("fingerprint: expected 32 bytes or 64 lower-case hex digits")


def _check_username(name, what="username") -> str:
    if not isinstance(name, str) or not _USERNAME.fullmatch(name):
        raise MalformedInput(f"{what}: not a Discourse username")
    return name


def _random_id(prims) -> str:
    return prims.random_bytes(16).hex()


def _u32(b: bytes) -> int:
    return int.from_bytes(b, "big")


# ------------------------------------------------------------------------------ keys
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
    public = "1$" + b64.encode(jsjson.to_utf8(jsjson.stringify(obj)))
    ident = await _identity.import_identity(prims, public)
    return PublishedKey(ident, await _identity.fingerprint(prims, ident), public)


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
    fp = _fp_bytes(fp)
    return " ".join(f"{_u32(fp[5 * i:5 * i + 5]) % 100000:05d}" for i in range(6))


async def safety_code(prims, fp_a, fp_b) -> str:
    """60 digits in 12 groups of 5; the same whichever side computes it. (`prims` is unused
    today; kept so the derivation can add hashing without changing callers.)"""
    halves = sorted([fingerprint_digits(fp_a), fingerprint_digits(fp_b)])
    return halves[0] + " " + halves[1]


def safety_qr(fp_a, fp_b) -> str:
    a, b = sorted([_fp_bytes(fp_a).hex().upper(), _fp_bytes(fp_b).hex().upper()])
    return f"EFD1:{a}:{b}"


def check_safety_qr(text: str, fp_a, fp_b) -> bool:
    return isinstance(text, str) and text.strip() == safety_qr(fp_a, fp_b)


# ------------------------------------------------------------------------------ bio block
def _key_change_statement(prev_fp: bytes, new_fp: bytes) -> bytes:
    return _KEY_CHANGE_CONTEXT + prev_fp + new_fp


async def make_bio_block(prims, ident, *, previous=None) -> str:
    """The fenced block for the bio. With `previous` (the old identity, private signing key
    needed) the block announces the change, signed by the old key."""
    n_enc, n_sign = await _moduli(prims, ident)
    pk = await key_from_moduli(prims, n_enc, n_sign)
    record = bytes([1, _FLAG_KEY_CHANGE if previous is not None else 0]) + n_enc + n_sign
    if previous is not None:
        if getattr(previous, "sign_private", None) is None:
            raise MalformedInput("announcing a key change needs the previous identity's signing key")
        prev_fp = await _identity.fingerprint(prims, previous)
        if prev_fp == pk.fingerprint:
            raise MalformedInput("the previous key is the same as the new one")
        sig = await prims.rsa_pss_sign(previous.sign_private, _key_change_statement(prev_fp, pk.fingerprint), 32)
        record += prev_fp + sig
    return _armour(KEY_BEGIN, KEY_END, record, "Fingerprint: " + pk.digits)


async def verify_key_change(prims, published: PublishedKey, old: PublishedKey) -> bool:
    kc = published.key_change
    if kc is None or old is None or kc.previous_fingerprint != old.fingerprint:
        return False
    return bool(await prims.rsa_pss_verify(old.identity.sign_public, kc.signature,
                                           _key_change_statement(old.fingerprint, published.fingerprint), 32))


async def find_bio_block(prims, bio_raw, *, pinned: PublishedKey | None = None) -> PublishedKey:
    if not isinstance(bio_raw, str) or KEY_BEGIN not in bio_raw:
        raise NoPublishedKey("no published key in this bio")
    _, _, inner = _find_unique(bio_raw, KEY_BEGIN, KEY_END, "bio key block")
    lines = [ln.strip() for ln in inner.replace("\r", "").split("\n") if ln.strip()]
    if not lines or not lines[0].startswith("Fingerprint:"):
        raise MalformedInput("bio key block: no Fingerprint line")
    shown = " ".join(lines[0][len("Fingerprint:"):].split())
    record = _versioned_record("".join(lines[1:]), "bio key block")
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


# ------------------------------------------------------------------------------ backup
async def _slot_key(prims, secret: str, salt: bytes, iterations: int):
    raw = await prims.pbkdf2_sha256(secret.encode("utf-8", "surrogatepass"), salt, iterations, 32)
    return await prims.aes_import(raw, extractable=False)


def _check_iterations(iterations) -> int:
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not 1 <= iterations <= MAX_ITERATIONS:
        raise BackupCostOutOfRange(f"key-derivation cost {iterations!r} is outside 1…{MAX_ITERATIONS}")
    return iterations


async def make_backup(prims, ident, passphrase: str | None = None, iterations: int = DEFAULT_ITERATIONS,
                      *, paper_key: str | None = None) -> str:
    """The raw of the backup post. `ident`: an Identity with extractable private keys, or the
    unprotected private identity string "1$…". Opens with the passphrase or the paper key."""
    _check_iterations(iterations)
    secrets = []
    if passphrase is not None:
        if not isinstance(passphrase, str) or not passphrase:
            raise MalformedInput("backup: empty passphrase")
        secrets.append((_SLOT_PASSPHRASE, passphrase))
    if paper_key is not None:
        if len(paperkey.decode(paper_key)) != paperkey.PAPER_KEY_BYTES:  # refuses a mistyped paper key
            raise MalformedInput("backup: a paper key has 12 words")
        secrets.append((_SLOT_PAPER, paperkey.clean(paper_key)))
    if not secrets:
        raise MalformedInput("backup: needs a passphrase or a paper key")
    text = ident if isinstance(ident, str) else await _identity.export_private(prims, ident)
    if not text.startswith("1$"):
        raise MalformedInput("backup: only v1 identities")
    inner = b64.decode(text[2:], what="private identity")
    obj = jsjson.parse_utf8(inner, what="private identity")
    if not isinstance(obj, dict) or not {"encryptPrivate", "signPrivate"} <= set(obj):
        raise MalformedInput("backup: the identity has no private keys (or is protected)")
    dek_raw = prims.random_bytes(32)
    dek = await prims.aes_import(dek_raw, extractable=False)
    record = bytes([1, len(secrets)])
    for kind, secret in secrets:
        salt, iv = prims.random_bytes(_SALT), prims.random_bytes(_IV)
        k = await _slot_key(prims, secret, salt, iterations)
        record += bytes([kind, _KDF_PBKDF2]) + iterations.to_bytes(4, "big") + salt + iv + \
            await prims.aes_gcm_encrypt(k, iv, dek_raw)
    iv = prims.random_bytes(_IV)
    record += iv + await prims.aes_gcm_encrypt(dek, iv, inner)
    return BACKUP_HINT + "\n\n" + _armour(BACKUP_BEGIN, BACKUP_END, record)


def _parse_backup(text: str):
    _, _, inner = _find_unique(text, BACKUP_BEGIN, BACKUP_END, "key backup")
    rec = _versioned_record(inner, "key backup")
    k = rec[1]
    if k not in (1, 2):
        raise MalformedInput("key backup: 1 or 2 slots expected")
    if len(rec) < 2 + k * _SLOT_LEN + _IV + _TAG:
        raise MalformedInput("key backup: truncated")
    slots = []
    for i in range(k):
        s = rec[2 + i * _SLOT_LEN: 2 + (i + 1) * _SLOT_LEN]
        if s[0] not in (_SLOT_PASSPHRASE, _SLOT_PAPER):
            raise MalformedInput("key backup: unknown slot kind")
        if s[1] != _KDF_PBKDF2:
            raise UnsupportedVersion("key backup: unknown key-derivation function")
        iterations = _check_iterations(_u32(s[2:6]))
        slots.append((s[0], iterations, s[6:6 + _SALT], s[6 + _SALT:6 + _SALT + _IV], s[6 + _SALT + _IV:]))
    off = 2 + k * _SLOT_LEN
    return slots, rec[off:off + _IV], rec[off + _IV:]


def backup_info(text: str) -> dict:
    """Public facts of a backup without opening it: {"slots": ["passphrase"|"paper_key", …], "iterations": [...]}."""
    slots, _, _ = _parse_backup(text)
    return {"slots": ["passphrase" if s[0] == _SLOT_PASSPHRASE else "paper_key" for s in slots],
            "iterations": [s[1] for s in slots]}


async def open_backup(prims, text: str, secret: str, *, extractable: bool = True):
    """The identity inside a backup post, opened with the passphrase or the paper key."""
    if not isinstance(secret, str) or not secret:
        raise MalformedInput("backup: empty passphrase")
    slots, iv, body = _parse_backup(text)
    try:
        paperkey.decode(secret)
        looks_paper = True
    except MalformedInput:
        looks_paper = False
    order = sorted(slots, key=lambda s: (s[0] == _SLOT_PAPER) != looks_paper)
    dek_raw = None
    for kind, iterations, salt, siv, wrapped in order:
        candidate = paperkey.clean(secret) if kind == _SLOT_PAPER else secret
        k = await _slot_key(prims, candidate, salt, iterations)
        try:
            dek_raw = await prims.aes_gcm_decrypt(k, siv, wrapped)
            break
        except AuthenticationFailed:
            continue
    if dek_raw is None or len(dek_raw) != 32:
        raise WrongPassphrase("key backup: wrong passphrase or paper key")
    dek = await prims.aes_import(dek_raw, extractable=False)
    try:
        inner = await prims.aes_gcm_decrypt(dek, iv, body)
    except AuthenticationFailed:
        raise AuthenticationFailed("key backup: the backup was altered") from None
    ident = await _identity.import_identity(prims, "1$" + b64.encode(inner), extractable=extractable)
    if ident.version != 1 or not ident.has_private or ident.sign_private is None:
        raise MalformedInput("key backup: no complete v1 private identity inside")
    return ident


# ------------------------------------------------------------------------------ messages
@dataclass
class NewConversation:
    raw: str
    placeholder_title: str
    key: Any
    conversation_id: str
    target_recipients: str
    participants: list


@dataclass
class Conversation:
    id: str
    key: Any
    status: str
    title: str | None = None
    body: str | None = None
    author: str | None = None
    author_fingerprint: str | None = None
    participants: list = field(default_factory=list)  # [[username, fingerprint hex], …]
    created_at: str | None = None
    message_id: str | None = None
    detail: str = ""


@dataclass
class ReadPost:
    kind: str
    status: str
    body: str | None = None
    author_name: str | None = None
    author_fingerprint: str | None = None
    created_at: str | None = None
    message_id: str | None = None
    invitee_name: str | None = None
    invitee_fingerprint: str | None = None
    detail: str = ""


@dataclass
class KeyShare:
    status: str
    conversation_id: str | None
    key: Any
    inviter_name: str | None
    invitee_name: str | None
    invitee_fingerprint: str | None
    created_at: str | None
    detail: str = ""


def is_encrypted_raw(raw) -> bool:
    if not isinstance(raw, str):
        return False
    i = raw.find(MSG_BEGIN)
    return i >= 0 and raw.find(MSG_END, i) > i


def is_backup_raw(raw) -> bool:
    if not isinstance(raw, str):
        return False
    i = raw.find(BACKUP_BEGIN)
    return i >= 0 and raw.find(BACKUP_END, i) > i


def _bucket(n: int) -> int:
    b = 2048
    while b < n and b < 16384:
        b *= 2
    return b if n <= b else -(-n // 8192) * 8192


def _max_envelope_bytes(max_chars: int) -> int:
    overhead = len(MSG_HINT) + 2 + len(FENCE_OPEN) + len(MSG_BEGIN) + len(MSG_END) + len(FENCE_CLOSE) + 4
    budget = max_chars - overhead
    n = budget
    while n > 0 and _a256_len(n) > budget:
        n -= 1
    return n


def _armour_message(envelope: bytes) -> str:
    return MSG_HINT + "\n\n" + _armour(MSG_BEGIN, MSG_END, envelope)


async def _seal(prims, key, signed: dict, header: bytes, max_chars: int) -> str:
    plaintext = _payload.serialize_v1(signed)
    room = _max_envelope_bytes(max_chars) - len(header) - _IV - _TAG
    if len(plaintext) > room:
        excess = len(plaintext) - room
        raise MessageTooLarge(f"the message is {excess} bytes too large for one post "
                              f"(posts hold {max_chars} characters)", excess)
    padded = plaintext + b" " * (min(_bucket(len(plaintext)), room) - len(plaintext))
    iv = prims.random_bytes(_IV)
    return _armour_message(header + iv + await prims.aes_gcm_encrypt(key, iv, padded))


def _parse_envelope(raw: str):
    _, _, inner = _find_unique(raw, MSG_BEGIN, MSG_END, "encrypted message")
    data = _versioned_record(inner, "encrypted message")
    kind = data[1]
    if kind not in _KIND_NAMES:
        raise MalformedInput(f"encrypted message: unknown kind {kind}")
    off, section, entries = 2, b"", []
    if kind in (KIND_START, KIND_KEY_SHARE):
        if len(data) < 3:
            raise MalformedInput("encrypted message: truncated")
        n = data[2]
        if n == 0 or (kind == KIND_KEY_SHARE and n != 1):
            raise MalformedInput("encrypted message: bad recipient count")
        end = 3 + n * (_HINT + _WRAPPED)
        if len(data) < end:
            raise MalformedInput("encrypted message: truncated recipient list")
        section = data[2:end]
        entries = [(data[3 + i * 516:3 + i * 516 + _HINT], data[3 + i * 516 + _HINT:3 + (i + 1) * 516]) for i in range(n)]
        off = end
    if len(data) < off + _IV + _TAG:
        raise MalformedInput("encrypted message: truncated ciphertext")
    return kind, section, entries, data[off:off + _IV], data[off + _IV:]


async def _recipient_section(prims, key, keys: list) -> tuple[bytes, list]:
    if not 1 <= len(keys) <= 255:
        raise MalformedInput("a conversation has 1 to 255 participants")
    section = bytes([len(keys)])
    for pk in keys:
        wrapped = b64.decode(await topickey.wrap(prims, key, pk.identity.encrypt_public))
        section += pk.fingerprint[:_HINT] + wrapped
    return section, keys


async def _sha256_hex(prims, data: bytes) -> str:
    return (await prims.sha256(data)).hex()


def _obj_str(obj: dict, name: str, pattern=None) -> str:
    v = obj.get(name)
    if not isinstance(v, str) or (pattern is not None and not pattern.fullmatch(v)):
        raise MalformedInput(f"encrypted message: member {name!r} missing or malformed")
    return v


async def _decrypt_obj(prims, key, iv: bytes, ct: bytes):
    """The signed object, or None when the key does not open the ciphertext."""
    try:
        plaintext = await prims.aes_gcm_decrypt(key, iv, ct)
    except AuthenticationFailed:
        return None
    obj = jsjson.parse_utf8(plaintext, what="encrypted message")
    if not isinstance(obj, dict) or obj.get("v") != PROTOCOL_VERSION or obj.get("type") not in _KIND_NAMES.values():
        raise MalformedInput("encrypted message: not a version-1 message object")
    return obj


def _keys_list(keys) -> list:
    if keys is None:
        return []
    if isinstance(keys, PublishedKey):
        return [keys]
    return [k for k in keys if isinstance(k, PublishedKey)]


async def _signer_status(prims, obj: dict, keys, poster_username) -> tuple[str, str]:
    sig = obj.get("signature")
    if not isinstance(sig, str) or not sig:
        return STATUS_UNSIGNED, "the message carries no signature"
    name = _obj_str(obj, "signed_by_name")
    fp = _obj_str(obj, "signed_by_fingerprint", _HEX64)
    if poster_username is not None and name.lower() != str(poster_username).lower():
        return STATUS_WRONG_AUTHOR, f"signed as {name!r} but posted by {poster_username!r}"
    keys = _keys_list(keys)
    if not keys:
        return STATUS_UNVERIFIED, "no key is known for the author"
    match = next((k for k in keys if k.fingerprint_hex == fp), None)
    if match is None:
        return STATUS_WRONG_AUTHOR, "signed with a key that is not the author's"
    try:
        sig_bytes = b64.decode(sig, what="signature")
    except MalformedInput:
        return STATUS_INVALID_SIGNATURE, "malformed signature"
    message = _payload.serialize_v1({k: v for k, v in obj.items() if k != "signature"})
    if not await prims.rsa_pss_verify(match.identity.sign_public, sig_bytes, message, 32):
        return STATUS_INVALID_SIGNATURE, "the signature does not verify"
    return STATUS_VALID, ""


async def _author_key(prims, author, author_name) -> PublishedKey:
    _check_username(author_name, "author")
    if getattr(author, "sign_private", None) is None:
        raise MalformedInput("the author needs a v1 identity with a signing key")
    return await key_of(prims, author)


async def start_conversation(prims, author, author_name: str, recipients, title: str, body: str, now_iso: str,
                             *, max_chars: int = MAX_POST_CHARS) -> NewConversation:
    """A new conversation's first post. `recipients`: [(username, PublishedKey)], the author is
    added (first) automatically and removed from the list if present."""
    me = await _author_key(prims, author, author_name)
    if not isinstance(title, str) or not title.strip():
        raise MalformedInput("a conversation needs a title")
    if not isinstance(body, str):
        raise MalformedInput("the message body must be text")
    people, seen = [(author_name, me)], {author_name.lower()}
    for item in recipients or []:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise MalformedInput("recipients must be (username, PublishedKey) pairs")
        name, pk = item
        _check_username(name, "recipient")
        if not isinstance(pk, PublishedKey):
            raise MalformedInput(f"recipient {name}: no published key")
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        people.append((name, pk))
    key = await topickey.generate(prims, extractable=True)
    section, _ = await _recipient_section(prims, key, [pk for _, pk in people])
    conversation_id = _random_id(prims)
    obj = {"type": "start", "v": PROTOCOL_VERSION, "conversation_id": conversation_id,
           "message_id": _random_id(prims), "created_at": str(now_iso), "title": title, "raw": body,
           "participants": [[n, pk.fingerprint_hex] for n, pk in people],
           "keys_sha256": await _sha256_hex(prims, section),
           "signed_by_name": author_name, "signed_by_fingerprint": me.fingerprint_hex}
    signed = await _payload.sign(prims, author, obj)
    raw = await _seal(prims, key, signed, bytes([1, KIND_START]) + section, max_chars)
    others = [n for n, _ in people[1:]] or [author_name]
    return NewConversation(raw, PLACEHOLDER_TITLE, key, conversation_id, ",".join(others),
                           [[n, pk.fingerprint_hex] for n, pk in people])


async def _unwrap_mine(prims, entries, my_identity, my_fp: bytes):
    for i, (hint, wrapped) in enumerate(entries):
        if hint != my_fp[:_HINT]:
            continue
        try:
            return i, await topickey.unwrap(prims, b64.encode(wrapped), my_identity.encrypt_private, extractable=True)
        except (WrongKey, MalformedInput):
            continue
    raise NotAParticipant("none of the wrapped keys in this post is for my key")


async def open_conversation(prims, first_post_raw: str, me_username: str, my_identity, author_key,
                            *, key=None, poster_username: str | None = None) -> Conversation:
    """Reads a conversation's first post. Raises MalformedInput (not a first post),
    NotAParticipant (no key for me), AuthenticationFailed (damaged, or `key` is not this
    conversation's). Signature problems are reported in `status` (content withheld)."""
    kind, section, entries, iv, ct = _parse_envelope(first_post_raw)
    if kind != KIND_START:
        raise MalformedInput("this post is not the first post of a conversation")
    my_fp = await _identity.fingerprint(prims, my_identity)
    index = None
    if key is None:
        index, key = await _unwrap_mine(prims, entries, my_identity, my_fp)
    obj = await _decrypt_obj(prims, key, iv, ct)
    if obj is None:
        raise AuthenticationFailed("the first post does not open with this key (altered, or another conversation)")
    if obj.get("type") != "start":
        raise MalformedInput("the first post does not hold a conversation start")
    conv = Conversation(id=_obj_str(obj, "conversation_id", _HEX32), key=key, status=STATUS_VALID)
    participants = obj.get("participants")
    if not isinstance(participants, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], str)
            and _HEX64.fullmatch(p[1]) for p in participants):
        raise MalformedInput("encrypted message: malformed participant list")
    status, detail = await _signer_status(prims, obj, author_key, poster_username)
    if status == STATUS_VALID:
        if obj.get("keys_sha256") != await _sha256_hex(prims, section):
            status, detail = STATUS_INVALID_SIGNATURE, "the wrapped keys are not the ones the author signed"
        elif len(participants) != len(entries) or any(
                bytes.fromhex(p[1])[:_HINT] != h for p, (h, _) in zip(participants, entries)):
            status, detail = STATUS_INVALID_SIGNATURE, "the participant list does not match the wrapped keys"
        elif index is not None and participants[index][1] != my_fp.hex():
            status, detail = STATUS_INVALID_SIGNATURE, "my wrapped key is not listed under my key"
        elif index is not None and participants[index][0].lower() != str(me_username).lower():
            status, detail = STATUS_INVALID_SIGNATURE, "my wrapped key is listed under another name"
    conv.status, conv.detail = status, detail
    if status == STATUS_VALID:
        conv.title = _obj_str(obj, "title")
        conv.body = _obj_str(obj, "raw")
        conv.author = _obj_str(obj, "signed_by_name")
        conv.author_fingerprint = _obj_str(obj, "signed_by_fingerprint")
        conv.participants = participants
        conv.created_at = _obj_str(obj, "created_at")
        conv.message_id = _obj_str(obj, "message_id")
    return conv


async def make_reply(prims, conversation, author, author_name: str, body: str, now_iso: str,
                     *, max_chars: int = MAX_POST_CHARS) -> str:
    me = await _author_key(prims, author, author_name)
    if not isinstance(body, str):
        raise MalformedInput("the message body must be text")
    obj = {"type": "reply", "v": PROTOCOL_VERSION, "conversation_id": conversation.id,
           "message_id": _random_id(prims), "created_at": str(now_iso), "raw": body,
           "signed_by_name": author_name, "signed_by_fingerprint": me.fingerprint_hex}
    signed = await _payload.sign(prims, author, obj)
    return await _seal(prims, conversation.key, signed, bytes([1, KIND_REPLY]), max_chars)


async def read_post(prims, conversation, raw: str, author_keys, *, poster_username: str | None = None) -> ReadPost:
    """A later post (reply or key share) of a conversation. Raises MalformedInput when the raw
    is not an encrypted message at all; everything else is a status."""
    kind, section, entries, iv, ct = _parse_envelope(raw)
    kind_name = _KIND_NAMES[kind]
    obj = await _decrypt_obj(prims, conversation.key, iv, ct)
    if obj is None:
        return ReadPost(kind_name, STATUS_CANNOT_DECRYPT, detail="not encrypted with this conversation's key")
    if obj.get("type") != kind_name or kind == KIND_START:
        return ReadPost(kind_name, STATUS_WRONG_CONVERSATION, detail="a conversation's first post cannot appear again"
                        if kind == KIND_START else "the envelope kind does not match its content")
    if obj.get("conversation_id") != conversation.id:
        return ReadPost(kind_name, STATUS_WRONG_CONVERSATION, detail="the post belongs to another conversation")
    status, detail = await _signer_status(prims, obj, author_keys, poster_username)
    out = ReadPost(kind_name, status, detail=detail)
    if status != STATUS_VALID:
        return out
    if kind == KIND_KEY_SHARE:
        if obj.get("keys_sha256") != await _sha256_hex(prims, section):
            out.status, out.detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not the one the inviter signed"
            return out
        out.invitee_name = _obj_str(obj, "invitee_name")
        out.invitee_fingerprint = _obj_str(obj, "invitee_fingerprint", _HEX64)
        if entries[0][0] != bytes.fromhex(out.invitee_fingerprint)[:_HINT]:
            out.status, out.detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not for the invitee"
            return out
    else:
        out.body = _obj_str(obj, "raw")
    out.author_name = _obj_str(obj, "signed_by_name")
    out.author_fingerprint = _obj_str(obj, "signed_by_fingerprint")
    out.created_at = _obj_str(obj, "created_at")
    out.message_id = _obj_str(obj, "message_id")
    return out


async def make_key_share(prims, conversation, inviter, inviter_name: str, invitee_name: str,
                         invitee_key: PublishedKey, now_iso: str, *, max_chars: int = MAX_POST_CHARS) -> str:
    me = await _author_key(prims, inviter, inviter_name)
    _check_username(invitee_name, "invitee")
    if not isinstance(invitee_key, PublishedKey):
        raise MalformedInput(f"{invitee_name} has no published key")
    section, _ = await _recipient_section(prims, conversation.key, [invitee_key])
    obj = {"type": "key_share", "v": PROTOCOL_VERSION, "conversation_id": conversation.id,
           "message_id": _random_id(prims), "created_at": str(now_iso),
           "invitee_name": invitee_name, "invitee_fingerprint": invitee_key.fingerprint_hex,
           "keys_sha256": await _sha256_hex(prims, section),
           "signed_by_name": inviter_name, "signed_by_fingerprint": me.fingerprint_hex}
    signed = await _payload.sign(prims, inviter, obj)
    return await _seal(prims, conversation.key, signed, bytes([1, KIND_KEY_SHARE]) + section, max_chars)


async def read_key_share(prims, raw: str, my_identity, inviter_keys, *, poster_username: str | None = None,
                         me_username: str | None = None) -> KeyShare:
    """For the invitee: the conversation key from a key-share post (`key` is None unless valid)."""
    kind, section, entries, iv, ct = _parse_envelope(raw)
    if kind != KIND_KEY_SHARE:
        raise MalformedInput("this post is not a key share")
    my_fp = await _identity.fingerprint(prims, my_identity)
    _, key = await _unwrap_mine(prims, entries, my_identity, my_fp)
    obj = await _decrypt_obj(prims, key, iv, ct)
    if obj is None:
        return KeyShare(STATUS_CANNOT_DECRYPT, None, None, None, None, None, None, "the key share was altered")
    if obj.get("type") != "key_share":
        raise MalformedInput("encrypted message: not a key share")
    status, detail = await _signer_status(prims, obj, inviter_keys, poster_username)
    if status == STATUS_VALID and obj.get("keys_sha256") != await _sha256_hex(prims, section):
        status, detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not the one the inviter signed"
    if status == STATUS_VALID and obj.get("invitee_fingerprint") != my_fp.hex():
        status, detail = STATUS_WRONG_AUTHOR, "this key share names another key as the invitee"
    if status == STATUS_VALID and me_username is not None and \
            str(obj.get("invitee_name", "")).lower() != me_username.lower():
        status, detail = STATUS_WRONG_AUTHOR, "this key share names another user as the invitee"
    ok = status == STATUS_VALID
    return KeyShare(status, _obj_str(obj, "conversation_id", _HEX32) if ok else None, key if ok else None,
                    _obj_str(obj, "signed_by_name") if ok else None, _obj_str(obj, "invitee_name") if ok else None,
                    _obj_str(obj, "invitee_fingerprint") if ok else None, _obj_str(obj, "created_at") if ok else None,
                    detail)
