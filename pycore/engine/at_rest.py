"""What the engine encrypts before it stores it: the identity under the user's passphrase, and
everything else (conversation keys, titles, drafts) in the vault.

- `protect_identity` / `unprotect_identity`: PBKDF2-SHA256 (the cost is stored with the blob,
  at least 1,000,000) → AES-256-GCM over the plugin's unprotected private identity string.
- `seal_vault` / `open_vault`: AES-256-GCM under the vault key, a random AES-256 key stored
  RSA-OAEP-wrapped to my own encryption key (record "inband.vault", which also keeps the wrapped
  vault keys of the identities this device had before). Nothing in the vault can be
  read without the unlocked identity; the unwrapped vault key (non-extractable) is cached in
  memory per engine and per unlocked identity.
"""

from __future__ import annotations

import weakref

from ..errors import AuthenticationFailed, MalformedInput, PycoreError, WrongPassphrase
from ..plugin import b64
from ..plugin import identity as _identity
from ..primitives.kdf import passphrase_key
from . import store as names

KDF_NAME = "PBKDF2-SHA256"
CIPHER_NAME = "AES-256-GCM"


# ---------------------------------------------------------------------------- the identity
async def protect_identity(prims, passphrase: str, inner: str, iterations: int) -> dict:
    """The stored form of the unprotected private identity string `inner`."""
    salt, iv = prims.random_bytes(16), prims.random_bytes(12)
    key = await passphrase_key(prims, passphrase.encode("utf-8", "surrogatepass"), salt, iterations)
    ct = await prims.aes_gcm_encrypt(key, iv, inner.encode("utf-8"))
    return {"kdf": KDF_NAME, "iterations": iterations, "salt": b64.encode(salt), "cipher": CIPHER_NAME,
            "iv": b64.encode(iv), "ct": b64.encode(ct)}


async def unprotect_identity(prims, passphrase: str, blob: dict) -> str:
    """The private identity string inside `blob`. Raises WrongPassphrase, MalformedInput."""
    if not isinstance(blob, dict) or blob.get("kdf") != KDF_NAME or blob.get("cipher") != CIPHER_NAME:
        raise MalformedInput("stored identity: unknown protection scheme")
    salt, iv, ct = (b64.decode(blob.get(k), what="stored identity") for k in ("salt", "iv", "ct"))
    key = await passphrase_key(prims, passphrase.encode("utf-8", "surrogatepass"), salt, int(blob["iterations"]))
    try:
        inner = await prims.aes_gcm_decrypt(key, iv, ct)
    except AuthenticationFailed:
        raise WrongPassphrase("wrong passphrase") from None
    return inner.decode("utf-8")


# ---------------------------------------------------------------------------- the vault
_VAULT_KEYS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # engine -> (identity, key handle)


async def _vault_key(engine, ident):
    """The vault key of `ident`. The record keeps the wrapped vault key of every identity this
    device has had (the current one first), so a reset followed by a restore of the same identity
    finds its vault again instead of sealing a new one over it."""
    cached = _VAULT_KEYS.get(engine)
    if cached is not None and cached[0] is ident:
        return cached[1]
    prims = engine.prims
    fp = (await _identity.fingerprint(prims, ident)).hex()
    rec = await engine.store.get(names.VAULT)
    entries = _vault_entries(rec)
    raw = None
    mine = next((e for e in entries if e.get("fp") == fp), None)
    if mine is not None:
        try:
            raw = await prims.rsa_oaep_decrypt(ident.encrypt_private, b64.decode(mine["wrapped"], what="stored vault key"))
        except (PycoreError, ValueError, KeyError, TypeError):
            raw = None
    if raw is None or len(raw) != 32:
        raw = prims.random_bytes(32)
        mine = {"fp": fp, "wrapped": b64.encode(await prims.rsa_oaep_encrypt(ident.encrypt_public, raw))}
    if not entries or entries[0] is not mine:
        others = [e for e in entries if e.get("fp") != fp]
        await engine.store.set(names.VAULT, {**mine, "previous": others})
    handle = await prims.aes_import(raw, extractable=False)
    _VAULT_KEYS[engine] = (ident, handle)
    return handle


def _vault_entries(rec) -> list:
    """[{fp, wrapped}] of the vault record, current first; records of older builds hold one."""
    if not isinstance(rec, dict):
        return []
    first = {"fp": rec.get("fp"), "wrapped": rec.get("wrapped")}
    rest = [e for e in rec.get("previous") or [] if isinstance(e, dict) and isinstance(e.get("fp"), str)]
    return ([first] if isinstance(first["fp"], str) else []) + rest


async def seal_vault(engine, ident, data: bytes) -> dict:
    """`data` sealed under the vault key of the unlocked identity `ident`: {"iv", "ct"} (base64)."""
    key = await _vault_key(engine, ident)
    iv = engine.prims.random_bytes(12)
    return {"iv": b64.encode(iv), "ct": b64.encode(await engine.prims.aes_gcm_encrypt(key, iv, data))}


async def open_vault(engine, ident, sealed) -> bytes:
    """The bytes sealed by seal_vault. Raises MalformedInput (damaged record), AuthenticationFailed
    (sealed under another vault key)."""
    key = await _vault_key(engine, ident)
    try:
        iv, ct = (b64.decode(sealed[k], what="sealed record") for k in ("iv", "ct"))
        return await engine.prims.aes_gcm_decrypt(key, iv, ct)
    except (KeyError, TypeError, ValueError):
        raise MalformedInput("stored data is damaged") from None


async def transfer_vault(engine, old_ident, new_ident) -> None:
    """Re-wraps the vault key from `old_ident` (private key available) to `new_ident`, so
    everything sealed in the vault stays readable after the identity is replaced. Without a
    vault for the old key there is nothing to move."""
    prims = engine.prims
    rec = await engine.store.get(names.VAULT)
    entries = _vault_entries(rec)
    old_fp = (await _identity.fingerprint(prims, old_ident)).hex()
    old = next((e for e in entries if e.get("fp") == old_fp), None)
    if old is None:
        return
    try:
        raw = await prims.rsa_oaep_decrypt(old_ident.encrypt_private, b64.decode(old["wrapped"], what="stored vault key"))
    except (PycoreError, KeyError, TypeError):
        return
    new_fp = (await _identity.fingerprint(prims, new_ident)).hex()
    wrapped = await prims.rsa_oaep_encrypt(new_ident.encrypt_public, raw)
    others = [e for e in entries if e.get("fp") != new_fp]
    await engine.store.set(names.VAULT, {"fp": new_fp, "wrapped": b64.encode(wrapped), "previous": others})
    _VAULT_KEYS.pop(engine, None)


async def retired_identities(engine, ident) -> list:
    """The identities this device used before a replacement (private keys non-extractable),
    newest first; they open first posts that were wrapped to an old key."""
    rec = await engine.store.get(names.IDENTITY) or {}
    out = []
    for r in reversed(rec.get("retired") or []):
        try:
            inner = (await open_vault(engine, ident, r["sealed"])).decode("utf-8")
            out.append(await _identity.import_identity(engine.prims, inner, extractable=False))
        except (PycoreError, KeyError, TypeError, UnicodeError):
            continue
    return out
