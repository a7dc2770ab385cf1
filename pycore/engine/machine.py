"""The engine's state machine: one request at a time in, one reply out; the identity's lock
state, the browser session, auto-lock and the wrong-passphrase throttle.

What each request does lives in `pycore.engine.handlers` (one module per area); this module only
dispatches to them and keeps the state they share.
"""

from __future__ import annotations

import asyncio
import time

from ..errors import BadRequest, IdentityExists, Locked, NoIdentity, PycoreError, Throttled, WrongPassphrase
from ..plugin import identity as _identity
from . import at_rest
from . import store as names
from .migrate import check_storage
from .args import MIN_PASSPHRASE_LENGTH, check_new_passphrase
from .handlers import HANDLERS
from .reads import ReadCache

MIN_KDF_ITERATIONS = 1_000_000
DEFAULT_AUTO_LOCK_SECONDS = 30 * 60
THROTTLE_CAP_SECONDS = 300

# Requests that do not count as user activity (they must not keep the identity unlocked).
PASSIVE_TYPES = frozenset({"engine.status", "engine.tick", "identity.public", "settings.get"})


def throttle_delay(failures: int) -> float:
    """Wait imposed after the n-th consecutive wrong passphrase: 0, 1, 2, 4, 8, ... capped."""
    if failures <= 1:
        return 0.0
    return float(min(2 ** (failures - 2), THROTTLE_CAP_SECONDS))


class Engine:
    """`Engine(prims, store, clock)`: sans-IO. `prims` is a pycore Primitives backend, `store` an
    async key-value store (`pycore.engine.store`), `clock` a function returning seconds."""

    def __init__(self, prims, store, clock=time.time, *, kdf_iterations: int = MIN_KDF_ITERATIONS):
        self.prims = prims
        self.store = store
        self.clock = clock
        self.kdf_iterations = int(kdf_iterations)
        self.identity_lock = asyncio.Lock()   # serialises changes of the stored identity
        self._marker = ""
        self._cached: tuple[str, _identity.Identity] | None = None  # (marker, unlocked identity)
        self.handlers = dict(HANDLERS)
        self.storage_report: dict | None = None   # check_storage() of this start (engine.status "storage")
        # Requests arriving together on start must wait for one check: a second walk would find the
        # records already upgraded and report (and record) that nothing was migrated.
        self.storage_lock = asyncio.Lock()
        self.reads = ReadCache()   # verified posts (plaintext, memory only): pycore.engine.reads
        self.search_index = None   # pycore.engine.search.SearchIndex of this session, loaded on first use
        self.search_records: dict = {}   # before it is loaded: the conversations' records being read (handlers/search.py)
        self.search_lock = asyncio.Lock()
        self.forgotten = 0   # how often forget_plaintext ran: a load under way when it ran keeps nothing

    # ------------------------------------------------------------------ entry point
    async def handle(self, type: str, payload: dict, context: dict) -> dict:
        """Answers one request: {"ok": True, "result": {...}} or {"ok": False, "error": {code, message, ...}}.
        `context` is {"sender": "<context name>", "marker": "<browser-session marker>"} from the router,
        which has already checked the sender and the payload against extension/common/messages.js."""
        handler = self.handlers.get(type)
        if handler is None:
            return {"ok": False, "error": {"code": "unknown_type", "message": f"the engine has no handler for {type!r}"}}
        if not isinstance(payload, dict) or not isinstance(context, dict):
            return {"ok": False, "error": {"code": BadRequest.code, "message": "payload and context must be objects"}}
        try:
            if self.storage_report is None:
                # Once per start, before any handler reads a record: older records are migrated.
                async with self.storage_lock:
                    if self.storage_report is None:
                        self.storage_report = await check_storage(self.store)
            self._marker = context.get("marker") if isinstance(context.get("marker"), str) else ""
            await self._expire_session()
            result = await handler(self, payload, context)
            if type not in PASSIVE_TYPES:
                await self._touch()
            return {"ok": True, "result": result if result is not None else {}}
        except PycoreError as e:
            return {"ok": False, "error": {"code": e.code, "message": str(e), **e.extra}}

    # ------------------------------------------------------------------ settings and session
    async def settings(self) -> dict:
        s = await self.store.get(names.SETTINGS) or {}
        phrase = s.get("security_phrase")
        return {"auto_lock_seconds": int(s.get("auto_lock_seconds", DEFAULT_AUTO_LOCK_SECONDS)),
                "security_phrase": phrase if isinstance(phrase, str) else None}

    async def _expire_session(self) -> None:
        """Drop unlocked keys from another browser session, or idle longer than the auto-lock time."""
        sess = await self.store.get(names.SESSION)
        if not sess:
            self._cached = None
            self.forget_plaintext()
            return
        if sess.get("marker") != self._marker:
            await self.drop_session()
            return
        idle = self.clock() - float(sess.get("last_activity", 0))
        if idle >= (await self.settings())["auto_lock_seconds"]:
            await self.drop_session()

    async def drop_session(self) -> None:
        """Locks: deletes the unlocked keys of this browser session, and every post read with them."""
        self._cached = None
        self.forget_plaintext()
        await self.store.delete(names.SESSION)
        for k in names.SESSION_KEYS:
            await self.store.delete(names.session_key(k))

    def forget_plaintext(self) -> None:
        """Drops what this session decrypted: the read cache and the search index (both reload
        from the forum and the vault once unlocked again)."""
        self.reads.clear()
        self.search_index = None
        self.search_records = {}
        self.forgotten += 1

    async def _touch(self) -> None:
        sess = await self.store.get(names.SESSION)
        if sess and sess.get("marker") == self._marker:
            sess["last_activity"] = self.clock()
            await self.store.set(names.SESSION, sess)

    async def start_session(self, ident: _identity.Identity) -> None:
        """Unlocks: keeps `ident`'s key handles (non-extractable private keys) for this browser session."""
        await self.drop_session()
        for k in names.SESSION_KEYS:
            h = getattr(ident, k)
            if h is not None:
                await self.store.set(names.session_key(k), h)
        public_jwks = {n: j for n, j in ident.jwks.items() if n in ("encryptPublic", "signPublic")}
        now = self.clock()
        await self.store.set(names.SESSION, {"marker": self._marker, "version": ident.version, "unlocked_at": now,
                                             "last_activity": now, "public_jwks": public_jwks})
        self._cached = (self._marker, ident)

    async def require_unlocked(self) -> _identity.Identity:
        """The unlocked identity (non-extractable private keys). Raises Locked."""
        sess = await self.store.get(names.SESSION)
        if not sess or sess.get("marker") != self._marker:
            raise Locked("the identity is locked: unlock it with your passphrase")
        if self._cached and self._cached[0] == self._marker:
            return self._cached[1]
        handles = {k: await self.store.get(names.session_key(k)) for k in names.SESSION_KEYS}
        if handles["encrypt_private"] is None:
            await self.drop_session()
            raise Locked("the unlocked keys are gone: unlock again")
        ident = _identity.Identity(int(sess["version"]), handles["encrypt_public"], handles["encrypt_private"],
                                   handles["sign_public"], handles["sign_private"], dict(sess.get("public_jwks") or {}))
        self._cached = (self._marker, ident)
        return ident

    async def is_unlocked(self) -> bool:
        sess = await self.store.get(names.SESSION)
        return bool(sess) and sess.get("marker") == self._marker

    # ------------------------------------------------------------------ the stored identity
    async def identity_record(self) -> dict:
        rec = await self.store.get(names.IDENTITY)
        if not rec:
            raise NoIdentity("no identity yet: create or import one")
        return rec

    async def _check_throttle(self) -> None:
        t = await self.store.get(names.THROTTLE)
        if t:
            remaining = float(t.get("until", 0)) - self.clock()
            if remaining > 0:
                raise Throttled(f"too many wrong passphrases: try again in {int(remaining + 0.999)} s",
                                retry_after=remaining, failures=int(t.get("failures", 0)))

    async def open_identity(self, passphrase: str) -> tuple[dict, str]:
        """The stored identity record and its unprotected private text "1$…", opened with the
        local passphrase. Wrong passphrases are counted and throttled (persisted)."""
        rec = await self.identity_record()
        if not isinstance(passphrase, str) or not passphrase:
            raise BadRequest("a passphrase is required")
        async with self.identity_lock:
            await self._check_throttle()
            try:
                inner = await at_rest.unprotect_identity(self.prims, passphrase, rec["blob"])
            except WrongPassphrase:
                t = await self.store.get(names.THROTTLE) or {}
                failures = int(t.get("failures", 0)) + 1
                await self.store.set(names.THROTTLE, {"failures": failures, "until": self.clock() + throttle_delay(failures)})
                raise WrongPassphrase("wrong passphrase") from None
            await self.store.delete(names.THROTTLE)
            return rec, inner

    async def install_identity(self, ident: _identity.Identity, passphrase: str, origin: str) -> dict:
        """Makes `ident` (extractable handles) this device's identity, protected by `passphrase`,
        and unlocks it. Refuses (IdentityExists) when the device already has one."""
        async with self.identity_lock:
            if await self.store.get(names.IDENTITY):
                raise IdentityExists("an identity already exists: reset it first")
            return await self.save_identity(ident, passphrase, origin)

    async def save_identity(self, ident: _identity.Identity, passphrase: str, origin: str, **extra) -> dict:
        """Protects `ident` (extractable handles) under the passphrase, stores it (with `extra`
        members in the record) and unlocks a session with non-extractable copies of its private
        keys. Callers hold `identity_lock`."""
        check_new_passphrase(passphrase)
        inner = await _identity.export_private(self.prims, ident)
        public = await _identity.export_public(self.prims, ident)
        fp = (await _identity.fingerprint(self.prims, ident)).hex()
        rec = {"version": ident.version, "blob": await at_rest.protect_identity(self.prims, passphrase, inner,
                                                                                self.kdf_iterations),
               "public": public, "fingerprint": fp, "created": self.clock(), "origin": origin, **extra}
        await self.store.set(names.IDENTITY, rec)
        await self.store.delete(names.THROTTLE)
        await self.start_session(await _identity.import_identity(self.prims, inner, extractable=False))
        return rec
