"""Primitives backed by WebCrypto (`crypto.subtle`), for pycore running inside Pyodide.

Works wherever Pyodide has a `crypto.subtle`: extension pages, offscreen documents, background
pages, workers, and Node (used by `python -m pycore vectors --engine pyodide`). Keys are native
CryptoKeys; private keys can be made non-extractable, which is how the extension keeps them.
Every JavaScript exception is turned into the matching pycore error.
"""

from js import Object, Uint8Array, crypto  # type: ignore[import-not-found]
from pyodide.ffi import JsException, to_js  # type: ignore[import-not-found]

from ..errors import AuthenticationFailed, KeyUnusable, MalformedInput, WrongKey
from .base import decrypt_each, verify_each
from .jwk import check_rsa_jwk, chrome_order, clean_rsa_jwk

_SUBTLE = crypto.subtle
_RSA_NAME = {"oaep": "RSA-OAEP", "pss": "RSA-PSS"}
_USAGES = {
    ("oaep", True): ["decrypt", "unwrapKey"],
    ("oaep", False): ["encrypt", "wrapKey"],
    ("pss", True): ["sign"],
    ("pss", False): ["verify"],
}


def _obj(**members):
    return to_js(members, dict_converter=Object.fromEntries)


def _u8(data: bytes):
    data = bytes(data)
    arr = Uint8Array.new(len(data))
    if data:
        arr.assign(data)
    return arr


def _bytes(buffer) -> bytes:
    return bytes(buffer.to_bytes())


def _js_error_name(exc: JsException) -> str:
    try:
        return str(exc.js_error.name)
    except Exception:  # pragma: no cover - defensive
        return type(exc).__name__


# Keys already checked, by id (the entry holds the key, so the id cannot be reused meanwhile):
# reading a post checks the same conversation and author keys again and again, and each look
# at a CryptoKey's members is a call into JavaScript.
_CHECKED: dict = {}
_CHECKED_LIMIT = 512


def _checked(key, what: str, test) -> bool:
    hit = _CHECKED.get((id(key), what))
    if hit is not None and hit is key:
        return True
    try:
        ok = bool(test())
    except Exception:
        ok = False
    if ok:
        if len(_CHECKED) >= _CHECKED_LIMIT:
            _CHECKED.clear()
        _CHECKED[(id(key), what)] = key
    return ok


def _need(key, kind: str, private: bool):
    ktype = "private" if private else "public"
    if not _checked(key, kind + ktype, lambda: key.algorithm.name == _RSA_NAME[kind] and key.type == ktype):
        raise KeyUnusable(f"expected an RSA {kind} {'private' if private else 'public'} key")
    return key


def _need_aes(key):
    if not _checked(key, "aes", lambda: key.algorithm.name == "AES-GCM"):
        raise KeyUnusable("expected an AES-GCM key")
    return key


# Algorithm parameters: WebCrypto reads (and copies) them when the operation is called, so one
# object per algorithm serves every call; only the AES-GCM IV changes between calls.
_PARAMS: dict = {}


def _params(name: str, **members):
    key = (name, tuple(sorted(members.items())))
    p = _PARAMS.get(key)
    if p is None:
        p = _PARAMS[key] = _obj(name=name, **members)
    return p


def _gcm(iv: bytes):
    p = _params("AES-GCM")
    p.iv = _u8(iv)
    return p


# ---------------------------------------------------------------- batches
# With the host's batch helper (extension/engine/crypto_batch.js), aes_gcm_decrypt_many and
# rsa_pss_verify_many go to JavaScript in one call each, instead of one call, two copies and one
# promise resuming Python per operation. Without it, they call WebCrypto once per item.
_HOST_BATCH = None


def use_batches(helper) -> None:
    """Installs the host's batch helper (`cryptoBatch(crypto.subtle)`), or None."""
    global _HOST_BATCH
    _HOST_BATCH = helper


def _table(items):
    """(distinct keys, one buffer, [key index, start, split, end] per item) for the helper.
    `items`: (key, first bytes, second bytes)."""
    keys, index, table, parts, at = [], {}, [], [], 0
    for key, first, second in items:
        k = index.get(id(key))
        if k is None:
            k = index[id(key)] = len(keys)
            keys.append(key)
        table += [k, at, at + len(first), at + len(first) + len(second)]
        at += len(first) + len(second)
        parts += [first, second]
    return to_js(keys), _u8(b"".join(parts)), to_js(table)


class WebCryptoPrimitives:
    name = "webcrypto"

    def random_bytes(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = Uint8Array.new(min(65536, n - len(out)))
            crypto.getRandomValues(chunk)
            out += chunk.to_bytes()
        return bytes(out)

    async def sha256(self, data: bytes) -> bytes:
        return _bytes(await _SUBTLE.digest("SHA-256", _u8(data)))

    async def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        base = await _SUBTLE.importKey("raw", _u8(password), "PBKDF2", False, to_js(["deriveBits"]))
        params = _obj(name="PBKDF2", salt=_u8(salt), iterations=iterations, hash="SHA-256")
        return _bytes(await _SUBTLE.deriveBits(params, base, length * 8))

    async def aes_import(self, raw: bytes, extractable: bool = True):
        if len(raw) != 32:
            raise MalformedInput(f"AES-256 key: expected 32 bytes, got {len(raw)}")
        return await _SUBTLE.importKey("raw", _u8(raw), "AES-GCM", extractable, to_js(["encrypt", "decrypt"]))

    async def aes_export(self, key) -> bytes:
        try:
            return _bytes(await _SUBTLE.exportKey("raw", _need_aes(key)))
        except JsException as exc:
            raise KeyUnusable(f"AES key export refused ({_js_error_name(exc)}): not extractable") from None

    async def aes_gcm_encrypt(self, key, iv: bytes, data: bytes) -> bytes:
        return _bytes(await _SUBTLE.encrypt(_gcm(iv), _need_aes(key), _u8(data)))

    async def aes_gcm_decrypt(self, key, iv: bytes, data: bytes) -> bytes:
        _need_aes(key)
        if len(data) < 16:
            raise AuthenticationFailed("AES-GCM: ciphertext shorter than its 16-byte tag")
        try:
            return _bytes(await _SUBTLE.decrypt(_gcm(iv), key, _u8(data)))
        except JsException:
            raise AuthenticationFailed("AES-GCM authentication failed: altered ciphertext or wrong key") from None

    async def rsa_generate(self, kind: str, bits: int = 4096, extractable: bool = True):
        params = _obj(name=_RSA_NAME[kind], modulusLength=bits, publicExponent=_u8(b"\x01\x00\x01"), hash="SHA-256")
        usages = _USAGES[(kind, True)] + _USAGES[(kind, False)]
        pair = await _SUBTLE.generateKey(params, extractable, to_js(usages))
        return pair.privateKey, pair.publicKey

    async def rsa_import_jwk(self, jwk: dict, kind: str, extractable: bool = True):
        _, private = check_rsa_jwk(jwk, kind)
        params = _obj(name=_RSA_NAME[kind], hash="SHA-256")
        js_jwk = to_js(clean_rsa_jwk(jwk, kind), dict_converter=Object.fromEntries)
        try:
            return await _SUBTLE.importKey("jwk", js_jwk, params, extractable if private else True,
                                           to_js(_USAGES[(kind, private)]))
        except JsException as exc:
            raise MalformedInput(f"RSA JWK: rejected by WebCrypto ({_js_error_name(exc)})") from None

    async def rsa_export_jwk(self, key) -> dict:
        try:
            exported = await _SUBTLE.exportKey("jwk", key)
        except JsException as exc:
            raise KeyUnusable(f"key export refused ({_js_error_name(exc)}): not extractable") from None
        return chrome_order(exported.to_py())

    async def rsa_oaep_encrypt(self, public, data: bytes) -> bytes:
        return _bytes(await _SUBTLE.encrypt(_obj(name="RSA-OAEP"), _need(public, "oaep", False), _u8(data)))

    async def rsa_oaep_decrypt(self, private, data: bytes) -> bytes:
        _need(private, "oaep", True)
        try:
            return _bytes(await _SUBTLE.decrypt(_obj(name="RSA-OAEP"), private, _u8(data)))
        except JsException:
            raise WrongKey("RSA-OAEP decryption failed: not encrypted for this key, or damaged") from None

    async def rsa_pss_sign(self, private, data: bytes, salt_length: int = 32) -> bytes:
        params = _obj(name="RSA-PSS", saltLength=salt_length)
        return _bytes(await _SUBTLE.sign(params, _need(private, "pss", True), _u8(data)))

    async def rsa_pss_verify(self, public, signature: bytes, data: bytes, salt_length: int = 32) -> bool:
        params = _params("RSA-PSS", saltLength=salt_length)
        try:
            return bool(await _SUBTLE.verify(params, _need(public, "pss", False), _u8(signature), _u8(data)))
        except JsException:
            return False

    async def aes_gcm_decrypt_many(self, items: list) -> list:
        if _HOST_BATCH is None or not items:
            return await decrypt_each(self, items)
        items = [(_need_aes(key), bytes(iv), bytes(data)) for key, iv, data in items]
        out = await _HOST_BATCH.decryptMany(*_table(items))
        data, lengths, results, at = out.data.to_bytes(), out.lengths.to_py(), [], 0
        for n in lengths:
            results.append(None if n < 0 else data[at:at + n])
            at += max(n, 0)
        return results

    async def rsa_pss_verify_many(self, items: list, salt_length: int = 32) -> list:
        if _HOST_BATCH is None or not items:
            return await verify_each(self, items, salt_length)
        items = [(_need(public, "pss", False), bytes(sig), bytes(data)) for public, sig, data in items]
        return [b == 1 for b in (await _HOST_BATCH.verifyMany(*_table(items), int(salt_length))).to_bytes()]
