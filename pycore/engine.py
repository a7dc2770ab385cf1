"""The engine: the identity lifecycle state machine behind the extension's engine context.

Sans-IO in the h11 sense: `Engine(prims, store, clock)` does no I/O of its own. It gets
- `prims`: a pycore Primitives backend (WebCrypto in Pyodide, `cryptography` on CPython);
- `store`: an async key-value store (`await get(key)`, `await set(key, value)`, `await delete(key)`)
  whose values are JSON-able data or opaque key handles (CryptoKeys in the browser: the Pyodide
  adapter `IdbStore` below keeps them in the extension's IndexedDB as they are);
- `clock`: a function returning the current time in seconds.

`await engine.handle(type, payload, context)` answers one request with
`{"ok": True, "result": {...}}` or `{"ok": False, "error": {"code", "message", ...}}`.
`context` is `{"sender": "<context name>", "marker": "<browser-session marker>"}` from the router.

State (all in the store):
- "identity": the passphrase-protected private identity (PBKDF2-SHA256 with the iteration count
  stored next to it, then AES-256-GCM over the plugin's unprotected private identity string),
  plus the public identity string and fingerprint (public data, usable while locked);
- "session" + "session.<key>": the unlocked identity for this browser session: non-extractable
  private key handles, the marker they belong to and the time of last activity;
- "throttle": failures and the time before which unlock attempts are refused;
- "settings": {"auto_lock_seconds"}.
The passphrase is never stored. Locking deletes the session keys.

Conversation handlers (issue 5) live in `pycore/engine_conv.py` as
`HANDLERS: dict[str, async fn(engine, payload, context) -> dict]` (and optionally `ERROR_CODES`,
more specific pycore errors -> codes) and are merged in here; they use
`engine.prims`, `engine.store`, `engine.clock` and `await engine.require_unlocked()`.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time

from . import b64 as _b64
from . import identity as _identity
from . import pack as _pack
from . import paperkey as _paperkey
from .errors import MalformedInput, PycoreError, UnsupportedVersion, WrongKey, WrongPassphrase, \
    AuthenticationFailed, SignatureMissing, KeyUnusable

KDF_NAME = "PBKDF2-SHA256"
CIPHER_NAME = "AES-256-GCM"
MIN_KDF_ITERATIONS = 1_000_000
DEFAULT_AUTO_LOCK_SECONDS = 30 * 60
MIN_PASSPHRASE_LENGTH = 15
THROTTLE_CAP_SECONDS = 300
SESSION_KEYS = ("encrypt_public", "encrypt_private", "sign_public", "sign_private")

# Requests that do not count as user activity (they must not keep the identity unlocked).
PASSIVE_TYPES = frozenset({"engine.status", "engine.tick", "identity.public", "settings.get"})


class EngineError(PycoreError):
    code = "engine_error"

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.extra = extra


class Locked(EngineError):
    """The request needs the unlocked identity and it is locked (or there is none)."""
    code = "locked"


class NoIdentity(EngineError):
    code = "no_identity"


class IdentityExists(EngineError):
    code = "identity_exists"


class Throttled(EngineError):
    """Too many wrong passphrases: attempts are refused until `retry_after` seconds have passed."""
    code = "throttled"


class BadRequest(EngineError):
    code = "bad_request"


_ERROR_CODES = [
    (WrongPassphrase, "wrong_passphrase"), (UnsupportedVersion, "unsupported_version"),
    (MalformedInput, "malformed_input"), (WrongKey, "wrong_key"),
    (AuthenticationFailed, "authentication_failed"), (SignatureMissing, "signature_missing"),
    (KeyUnusable, "key_unusable"),
]


def throttle_delay(failures: int) -> float:
    """Wait imposed after the n-th consecutive wrong passphrase: 0, 1, 2, 4, 8, ... capped."""
    if failures <= 1:
        return 0.0
    return float(min(2 ** (failures - 2), THROTTLE_CAP_SECONDS))




class MemoryStore:
    """The CPython store: a dict. Values are kept as given (key handles included)."""

    def __init__(self):
        self.data: dict = {}

    async def get(self, key):
        v = self.data.get(key)
        return json.loads(v) if isinstance(v, _Json) else v

    async def set(self, key, value):
        # JSON values are stored serialised, like IndexedDB would, so callers cannot share mutable state.
        self.data[key] = _Json(json.dumps(value)) if _is_jsonable(value) else value

    async def delete(self, key):
        self.data.pop(key, None)


class _Json(str):
    pass


def _is_jsonable(v) -> bool:
    return v is None or isinstance(v, (dict, list, str, int, float, bool))


class Engine:
    def __init__(self, prims, store, clock=time.time, *, kdf_iterations: int = MIN_KDF_ITERATIONS):
        self.prims = prims
        self.store = store
        self.clock = clock
        self.kdf_iterations = int(kdf_iterations)
        self._lock = asyncio.Lock()
        self._cached: tuple[str, _identity.Identity] | None = None  # (marker, unlocked identity)
        self.handlers = {
            "engine.status": Engine._h_status,
            "engine.tick": Engine._h_tick,
            "identity.create": Engine._h_create,
            "identity.unlock": Engine._h_unlock,
            "identity.lock": Engine._h_lock,
            "identity.import": Engine._h_import,
            "identity.export": Engine._h_export,
            "identity.paperkey": Engine._h_paperkey,
            "identity.reset": Engine._h_reset,
            "identity.public": Engine._h_public,
            "settings.get": Engine._h_settings_get,
            "settings.set": Engine._h_settings_set,
            "post.decrypt": Engine._h_post_decrypt,
        }
        # Most specific first: pycore error class -> the code the extension shows.
        self.error_codes = list(_ERROR_CODES)
        try:
            engine_conv = importlib.import_module(__package__ + ".engine_conv")  # issue 5: conversations
        except ModuleNotFoundError as e:
            if e.name != __package__ + ".engine_conv":
                raise
        else:
            self.handlers.update(engine_conv.HANDLERS)
            self.error_codes = list(getattr(engine_conv, "ERROR_CODES", [])) + self.error_codes

    # ------------------------------------------------------------------ entry point
    async def handle(self, type: str, payload: dict, context: dict) -> dict:
        handler = self.handlers.get(type)
        if handler is None:
            return {"ok": False, "error": {"code": "unknown_type", "message": f"the engine has no handler for {type!r}"}}
        if not isinstance(payload, dict) or not isinstance(context, dict):
            return {"ok": False, "error": {"code": "bad_request", "message": "payload and context must be objects"}}
        try:
            self._marker = context.get("marker") if isinstance(context.get("marker"), str) else ""
            await self._expire_session()
            result = await handler(self, payload, context)
            if type not in PASSIVE_TYPES:
                await self._touch()
            return {"ok": True, "result": result if result is not None else {}}
        except EngineError as e:
            return {"ok": False, "error": {"code": e.code, "message": str(e), **e.extra}}
        except PycoreError as e:
            code = next((c for cls, c in self.error_codes if isinstance(e, cls)), "pycore_error")
            extra = {"excess": e.excess} if hasattr(e, "excess") else {}   # how much too large
            return {"ok": False, "error": {"code": code, "message": str(e), **extra}}

    # ------------------------------------------------------------------ session
    async def _settings(self) -> dict:
        s = await self.store.get("settings") or {}
        return {"auto_lock_seconds": int(s.get("auto_lock_seconds", DEFAULT_AUTO_LOCK_SECONDS))}

    async def _expire_session(self) -> None:
        """Drop unlocked keys from another browser session, or idle longer than the auto-lock time."""
        sess = await self.store.get("session")
        if not sess:
            self._cached = None
            return
        if sess.get("marker") != self._marker:
            await self._drop_session()
            return
        idle = self.clock() - float(sess.get("last_activity", 0))
        if idle >= (await self._settings())["auto_lock_seconds"]:
            await self._drop_session()

    async def _drop_session(self) -> None:
        self._cached = None
        await self.store.delete("session")
        for k in SESSION_KEYS:
            await self.store.delete("session." + k)

    async def _touch(self) -> None:
        sess = await self.store.get("session")
        if sess and sess.get("marker") == self._marker:
            sess["last_activity"] = self.clock()
            await self.store.set("session", sess)

    async def _start_session(self, ident: _identity.Identity) -> None:
        await self._drop_session()
        for k in SESSION_KEYS:
            h = getattr(ident, k)
            if h is not None:
                await self.store.set("session." + k, h)
        public_jwks = {n: j for n, j in ident.jwks.items() if n in ("encryptPublic", "signPublic")}
        now = self.clock()
        await self.store.set("session", {"marker": self._marker, "version": ident.version,
                                         "unlocked_at": now, "last_activity": now, "public_jwks": public_jwks})
        self._cached = (self._marker, ident)

    async def require_unlocked(self) -> _identity.Identity:
        """The unlocked identity (non-extractable private keys). Raises Locked."""
        sess = await self.store.get("session")
        if not sess or sess.get("marker") != self._marker:
            raise Locked("the identity is locked: unlock it with your passphrase")
        if self._cached and self._cached[0] == self._marker:
            return self._cached[1]
        handles = {k: await self.store.get("session." + k) for k in SESSION_KEYS}
        if handles["encrypt_private"] is None:
            await self._drop_session()
            raise Locked("the unlocked keys are gone: unlock again")
        ident = _identity.Identity(int(sess["version"]), handles["encrypt_public"], handles["encrypt_private"],
                                   handles["sign_public"], handles["sign_private"], dict(sess.get("public_jwks") or {}))
        self._cached = (self._marker, ident)
        return ident

    async def is_unlocked(self) -> bool:
        sess = await self.store.get("session")
        return bool(sess) and sess.get("marker") == self._marker

    # ------------------------------------------------------------------ protected blob
    async def _kdf_key(self, passphrase: str, salt: bytes, iterations: int):
        raw = await self.prims.pbkdf2_sha256(passphrase.encode("utf-8", "surrogatepass"), salt, iterations, 32)
        return await self.prims.aes_import(raw, extractable=False)

    async def _seal(self, passphrase: str, inner: str) -> dict:
        salt, iv = self.prims.random_bytes(16), self.prims.random_bytes(12)
        key = await self._kdf_key(passphrase, salt, self.kdf_iterations)
        ct = await self.prims.aes_gcm_encrypt(key, iv, inner.encode("utf-8"))
        return {"kdf": KDF_NAME, "iterations": self.kdf_iterations, "salt": _b64.encode(salt), "cipher": CIPHER_NAME,
                "iv": _b64.encode(iv), "ct": _b64.encode(ct)}

    async def _open(self, passphrase: str, blob: dict) -> str:
        if blob.get("kdf") != KDF_NAME or blob.get("cipher") != CIPHER_NAME:
            raise MalformedInput("stored identity: unknown protection scheme")
        salt, iv, ct = (_b64.decode(blob[k], what="stored identity") for k in ("salt", "iv", "ct"))
        key = await self._kdf_key(passphrase, salt, int(blob["iterations"]))
        try:
            inner = await self.prims.aes_gcm_decrypt(key, iv, ct)
        except AuthenticationFailed:
            raise WrongPassphrase("wrong passphrase") from None
        return inner.decode("utf-8")

    async def _check_throttle(self) -> None:
        t = await self.store.get("throttle")
        if t:
            remaining = float(t.get("until", 0)) - self.clock()
            if remaining > 0:
                raise Throttled(f"too many wrong passphrases: try again in {int(remaining + 0.999)} s",
                                retry_after=remaining, failures=int(t.get("failures", 0)))

    async def _open_with_throttle(self, passphrase: str) -> tuple[dict, str]:
        """Opens the stored identity. Wrong passphrases are counted and throttled (persisted)."""
        rec = await self._identity_record()
        if not isinstance(passphrase, str) or not passphrase:
            raise BadRequest("a passphrase is required")
        async with self._lock:
            await self._check_throttle()
            try:
                inner = await self._open(passphrase, rec["blob"])
            except WrongPassphrase:
                t = await self.store.get("throttle") or {}
                failures = int(t.get("failures", 0)) + 1
                delay = throttle_delay(failures)
                await self.store.set("throttle", {"failures": failures, "until": self.clock() + delay})
                raise WrongPassphrase("wrong passphrase") from None
            await self.store.delete("throttle")
            return rec, inner

    async def open_identity(self, passphrase: str) -> tuple[dict, str]:
        """Public: the stored identity record and its unprotected private text "1$…", opened with
        the local passphrase (wrong passphrases are counted and throttled like identity.unlock)."""
        return await self._open_with_throttle(passphrase)

    async def install_identity(self, ident: _identity.Identity, passphrase: str, origin: str) -> dict:
        """Public: makes `ident` (extractable handles) this device's identity, protected by
        `passphrase`, and unlocks it. Refuses (IdentityExists) when the device already has one."""
        async with self._lock:
            if await self.store.get("identity"):
                raise IdentityExists("an identity already exists: reset it first")
            return await self._save_identity(ident, passphrase, origin)

    async def _identity_record(self) -> dict:
        rec = await self.store.get("identity")
        if not rec:
            raise NoIdentity("no identity yet: create or import one")
        return rec

    async def _save_identity(self, ident: _identity.Identity, passphrase: str, origin: str) -> dict:
        """Protects `ident` (extractable handles) under the passphrase and unlocks a session with
        non-extractable copies of its private keys."""
        _check_new_passphrase(passphrase)
        inner = await _identity.export_private(self.prims, ident)
        public = await _identity.export_public(self.prims, ident)
        fp = (await _identity.fingerprint(self.prims, ident)).hex()
        rec = {"version": ident.version, "blob": await self._seal(passphrase, inner), "public": public,
               "fingerprint": fp, "created": self.clock(), "origin": origin}
        await self.store.set("identity", rec)
        await self.store.delete("throttle")
        await self._start_session(await _identity.import_identity(self.prims, inner, extractable=False))
        return rec

    # ------------------------------------------------------------------ handlers
    async def _h_status(self, payload, context):
        rec = await self.store.get("identity")
        t = await self.store.get("throttle") or {}
        settings = await self._settings()
        unlocked = await self.is_unlocked()
        out = {"has_identity": bool(rec), "unlocked": unlocked, "auto_lock_seconds": settings["auto_lock_seconds"],
               "throttled_for": max(0.0, float(t.get("until", 0)) - self.clock()),
               "failures": int(t.get("failures", 0))}
        if rec:
            out.update(version=rec["version"], fingerprint=rec["fingerprint"], digits=fingerprint_digits(rec["fingerprint"]),
                       kdf_iterations=rec["blob"]["iterations"], origin=rec.get("origin"))
        if unlocked:
            sess = await self.store.get("session")
            out["locks_in"] = max(0.0, settings["auto_lock_seconds"] - (self.clock() - sess["last_activity"]))
        return out

    async def _h_tick(self, payload, context):
        return {"unlocked": await self.is_unlocked()}

    async def _h_create(self, payload, context):
        passphrase = payload.get("passphrase")
        _check_new_passphrase(passphrase)
        async with self._lock:
            if await self.store.get("identity"):
                raise IdentityExists("an identity already exists: reset it first")
            ident = await _identity.generate(self.prims, extractable=True)
            rec = await self._save_identity(ident, passphrase, "generated")
        return {"unlocked": True, "fingerprint": rec["fingerprint"], "version": rec["version"], "public": rec["public"]}

    async def _h_unlock(self, payload, context):
        rec, inner = await self._open_with_throttle(payload.get("passphrase"))
        ident = await _identity.import_identity(self.prims, inner, extractable=False)
        await self._start_session(ident)
        return {"unlocked": True, "fingerprint": rec["fingerprint"]}

    async def _h_lock(self, payload, context):
        await self._drop_session()
        return {"unlocked": False}

    async def _h_import(self, payload, context):
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("nothing to import")
        new_passphrase = payload.get("new_passphrase")
        _check_new_passphrase(new_passphrase)
        ident, how = await import_any(self.prims, text, payload.get("passphrase"))
        if not ident.has_private:
            raise BadRequest("this is a public identity: importing needs the private keys")
        async with self._lock:
            if await self.store.get("identity"):
                raise IdentityExists("an identity already exists: reset it first")
            rec = await self._save_identity(ident, new_passphrase, "imported:" + how)
        return {"unlocked": True, "fingerprint": rec["fingerprint"], "version": rec["version"], "public": rec["public"],
                "imported_from": how}

    async def _h_export(self, payload, context):
        _rec, inner = await self._open_with_throttle(payload.get("passphrase"))
        return {"packed": _pack.pack_identity(inner)}

    async def _h_paperkey(self, payload, context):
        _rec, inner = await self._open_with_throttle(payload.get("passphrase"))
        ident = await _identity.import_identity(self.prims, inner, extractable=True)
        paper_key = _paperkey.generate(self.prims)
        protected = await _identity.export_private(self.prims, ident, paper_key)
        label = _paperkey.label(paper_key)
        return {"paper_key": paper_key, "label": label, "identity": protected, "label_map": {label: protected}}

    async def _h_reset(self, payload, context):
        if payload.get("confirm") != "RESET":
            raise BadRequest('type RESET to confirm')
        async with self._lock:
            await self._drop_session()
            await self.store.delete("identity")
            await self.store.delete("throttle")
        return {"has_identity": False, "unlocked": False}

    async def _h_public(self, payload, context):
        rec = await self._identity_record()
        return {"public": rec["public"], "fingerprint": rec["fingerprint"], "version": rec["version"],
                "digits": fingerprint_digits(rec["fingerprint"])}

    async def _h_settings_get(self, payload, context):
        return await self._settings()

    async def _h_settings_set(self, payload, context):
        secs = payload.get("auto_lock_seconds")
        if not isinstance(secs, int) or isinstance(secs, bool) or not 1 <= secs <= 7 * 24 * 3600:
            raise BadRequest("auto_lock_seconds must be an integer from 1 to 604800")
        s = await self.store.get("settings") or {}
        s["auto_lock_seconds"] = secs
        await self.store.set("settings", s)
        return await self._settings()

    async def _h_post_decrypt(self, payload, context):
        """Decrypts one post with a topic key wrapped for our encryptPublic key."""
        from . import payload as _payload
        from . import topickey as _topickey
        ident = await self.require_unlocked()
        wrapped, ciphertext = payload.get("wrapped_key"), payload.get("ciphertext")
        if not isinstance(wrapped, str) or not isinstance(ciphertext, str):
            raise BadRequest("wrapped_key and ciphertext must be strings")
        key = await _topickey.unwrap(self.prims, wrapped, ident.encrypt_private, extractable=False)
        return {"post": await _payload.decrypt(self.prims, key, ciphertext)}


def fingerprint_digits(fp_hex: str) -> str:
    from .inband import fingerprint_digits as digits
    return digits(fp_hex)


def _check_new_passphrase(p) -> None:
    if not isinstance(p, str) or len(p) < MIN_PASSPHRASE_LENGTH:
        raise BadRequest(f"the passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters")


async def import_any(prims, text: str, passphrase: str | None):
    """Reads what a user may paste: a packed key pair block, a (protected) identity string, or a
    paper-key label map JSON {"paper_xxx": "1$…"}. `passphrase` is the identity's passphrase or the
    paper key. Returns (Identity with extractable keys, how) where how names the input kind."""
    text = text.strip()
    if passphrase == "":
        passphrase = None
    if text.startswith("{"):
        try:
            mapping = json.loads(text)
        except ValueError:
            raise MalformedInput("not valid JSON") from None
        if not isinstance(mapping, dict) or not mapping or not all(isinstance(v, str) for v in mapping.values()):
            raise MalformedInput('expected a label map like {"paper_word": "1$…"}')
        if passphrase is None:
            raise BadRequest("enter the paper key that protects this identity")
        try:
            wanted = _paperkey.label(passphrase)
        except MalformedInput:
            wanted = None
        order = sorted(mapping, key=lambda k: (k != wanted, k))
        last = None
        for lbl in order:
            try:
                return await _import_protected(prims, mapping[lbl], passphrase), "label_map"
            except WrongPassphrase as e:
                last = e
        raise last or WrongPassphrase("wrong paper key")
    if "BEGIN EXPORTED DISCOURSE ENCRYPT KEY PAIR" in text or "END EXPORTED DISCOURSE ENCRYPT KEY PAIR" in text:
        return await _identity.import_identity(prims, _pack.unpack_identity(text), passphrase), "packed"
    if passphrase is None:
        return await _identity.import_identity(prims, text), "identity"
    return await _import_protected(prims, text, passphrase), "protected"


async def _import_protected(prims, text: str, passphrase: str):
    try:
        return await _identity.import_identity(prims, text, passphrase)
    except WrongPassphrase:
        cleaned = _paperkey.clean(passphrase)
        if cleaned == passphrase:
            raise
        return await _identity.import_identity(prims, text, cleaned)  # a paper key typed loosely


# ---------------------------------------------------------------------- Pyodide glue
class IdbStore:
    """Adapts the JS IndexedDB store (`efd_host.store`: get/put/remove returning promises of
    {kind, v} records) to the engine's store interface. JSON values travel as JSON strings; any
    other value (a CryptoKey JsProxy) is stored as it is, so IndexedDB structured-clones it."""

    def __init__(self, js_store):
        self.js = js_store

    async def get(self, key):
        rec = await self.js.get(key)
        if rec is None:
            return None
        if rec.kind == "json":
            return json.loads(rec.v)
        return rec.v

    async def set(self, key, value):
        if _is_jsonable(value):
            await self.js.put(key, "json", json.dumps(value))
        else:
            await self.js.put(key, "key", value)

    async def delete(self, key):
        await self.js.remove(key)


_pyodide_engine: Engine | None = None


async def pyodide_handle_json(type: str, payload_json: str, context_json: str) -> str:
    """Entry point for the JS engine host: JSON strings in and out (no proxy lifetimes)."""
    global _pyodide_engine
    if _pyodide_engine is None:
        import efd_host  # registered by extension/engine/host.js
        from .primitives import default_primitives
        _pyodide_engine = Engine(default_primitives(), IdbStore(efd_host.store), time.time)
    try:
        payload = json.loads(payload_json)
        context = json.loads(context_json)
    except ValueError:
        return json.dumps({"ok": False, "error": {"code": "bad_request", "message": "invalid JSON"}})
    return json.dumps(await _pyodide_engine.handle(type, payload, context))
