"""The key backup: the user's private identity in a PM to themselves, readable only with a
backup passphrase and/or a paper key (PROTOCOL.md §5).

Record: version 1, the number of slots, then per slot (kind, KDF, cost, salt, IV, the data key
wrapped under the key derived from that slot's secret), then IV and the identity sealed under
the data key. Any slot opens the same data key.
"""

from __future__ import annotations

from ..errors import AuthenticationFailed, BackupCostOutOfRange, MalformedInput, UnsupportedVersion, WrongPassphrase
from ..plugin import b64, jsjson, paperkey
from ..plugin import identity as _identity
from ..primitives.kdf import passphrase_key
from .armour import BACKUP_BEGIN, BACKUP_END, armour, contains_block, find_block, versioned_record

DEFAULT_ITERATIONS = 1_000_000
MAX_ITERATIONS = 10_000_000
BACKUP_HINT = "Encrypted key backup for Encrypt for Discourse. Keep this message; do not edit it."
_IV = 12
_TAG = 16
_SALT = 16
_SLOT_PASSPHRASE, _SLOT_PAPER = 1, 2
_KDF_PBKDF2 = 1
_SLOT_LEN = 1 + 1 + 4 + _SALT + _IV + 32 + _TAG


def is_backup_raw(raw) -> bool:
    return contains_block(raw, BACKUP_BEGIN, BACKUP_END)


async def _slot_key(prims, secret: str, salt: bytes, iterations: int):
    return await passphrase_key(prims, secret.encode("utf-8", "surrogatepass"), salt, iterations)


def _check_iterations(iterations) -> int:
    if isinstance(iterations, bool) or not isinstance(iterations, int) or not 1 <= iterations <= MAX_ITERATIONS:
        raise BackupCostOutOfRange(f"key-derivation cost {iterations!r} is outside 1…{MAX_ITERATIONS}")
    return iterations


async def seal_backup(prims, ident, passphrase: str | None = None, iterations: int = DEFAULT_ITERATIONS,
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
    return BACKUP_HINT + "\n\n" + armour(BACKUP_BEGIN, BACKUP_END, record)


def _parse_backup(text: str):
    _, _, inner = find_block(text, BACKUP_BEGIN, BACKUP_END, "key backup")
    rec = versioned_record(inner, "key backup")
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
        iterations = _check_iterations(int.from_bytes(s[2:6], "big"))
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

