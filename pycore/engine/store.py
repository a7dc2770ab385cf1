"""The engine's store: the names of its records, the in-memory store used on CPython, and the
write-through cache the extension puts over IndexedDB (`CachedStore`).

The store is an async key-value store (`await get(key)`, `await set(key, value)`,
`await delete(key)`) whose values are JSON-able data or opaque key handles (CryptoKeys in the
browser, kept in the extension's IndexedDB as they are: `pycore.engine.pyodide_adapter`).

Record names are a stored format: an update of the extension must still find every key, pin and
draft a previous version wrote, so these strings never change (add new ones instead).

Every record carries the schema version of the code that wrote it (`SCHEMA`; records of 0.1.0,
written before schema versions, count as 0). On start the engine migrates older records
(`pycore.engine.migrate`); a record with a newer version is never read, overwritten or deleted
(`NewerData`), and a record whose name this code does not know is kept as it is and reported.

| record | holds |
|---|---|
| identity | the passphrase-protected private identity (`at_rest.protect_identity`), the public identity, fingerprint, origin of creation |
| session, session.<key> | the unlocked identity for this browser session: non-extractable private key handles, marker, last activity |
| throttle | consecutive wrong passphrases and the time before which attempts are refused |
| settings | {auto_lock_seconds} |
| inband.vault | the vault key (AES-256) RSA-OAEP-wrapped to my own key: {fp, wrapped, previous: [{fp, wrapped}] (the vault keys of identities this device had before, kept so a restored identity finds its vault)} |
| inband.pin.<origin>.<username> | the pinned key of a user (public data) |
| inband.conv.<origin>.<topic_id> | a conversation: id, its key and metadata sealed in the vault |
| inband.convs.<origin> | the topic ids of the conversations opened on this device |
| inband.cid.<origin>.<conversation_id> | the first topic a conversation id was seen in (copies) |
| inband.msgids.<origin>.<topic_id> | {message_id: post_id} (duplicate detection) |
| inband.draft.<origin>.<draft_key> | an unsent message sealed in the vault |
| inband.search.<origin>.<topic_id> | the search index's words of one conversation (title, verified posts) sealed in the vault |
| meta | {schema, unknown, newer, migrated_from}: the storage check of the last start (migrate.py) |
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict

from ..errors import NewerData

# The schema version of the records this code writes. Raise it when a record's content changes
# shape, and add the step from the previous version to pycore.engine.migrate.MIGRATIONS.
SCHEMA = 1

IDENTITY = "identity"
SESSION = "session"
SESSION_KEYS = ("encrypt_public", "encrypt_private", "sign_public", "sign_private")
THROTTLE = "throttle"
SETTINGS = "settings"
VAULT = "inband.vault"
META = "meta"

# Every record name this code writes (anything else in the store is someone else's: kept, reported).
KNOWN_NAMES = re.compile(r"identity|session|session\.[a-z_]+|throttle|settings|meta|inband\.vault"
                         r"|inband\.(pin|conv|convs|cid|msgids|draft|search)\..+", re.S)
SEARCH_PREFIX = "inband.search."


def is_known(name: str) -> bool:
    return KNOWN_NAMES.fullmatch(name) is not None


def newer_error(key: str, schema: int) -> NewerData:
    return NewerData(f"the stored record {key!r} was written by a newer version of Encrypt for Discourse "
                     f"(storage schema {schema}; this version knows up to {SCHEMA}): update the extension. "
                     "The record was left as it is.", record=key, schema=schema, known=SCHEMA)


def session_key(name: str) -> str:
    return "session." + name


def pin(origin: str, username: str) -> str:
    return f"inband.pin.{origin}.{username.lower()}"


def conversation(origin: str, topic_id: int) -> str:
    return f"inband.conv.{origin}.{topic_id}"


def conversation_index(origin: str) -> str:
    return f"inband.convs.{origin}"


def conversation_first_topic(origin: str, conversation_id: str) -> str:
    return f"inband.cid.{origin}.{conversation_id}"


def message_ids(origin: str, topic_id: int) -> str:
    return f"inband.msgids.{origin}.{topic_id}"


def draft(origin: str, draft_key: str) -> str:
    return f"inband.draft.{origin}.{draft_key}"


def search(origin: str, topic_id: int) -> str:
    return f"{SEARCH_PREFIX}{origin}.{topic_id}"


def is_jsonable(value) -> bool:
    """JSON data is stored as JSON; anything else (a key handle) as it is."""
    return value is None or isinstance(value, (dict, list, str, int, float, bool))


class VersionedStore:
    """get/set/delete as the engine uses them, over a store of records that carry a schema
    version. Subclasses provide `get_record(key) -> (schema, value) | None`,
    `put_record(key, schema, value) -> bool` and `remove_record(key, schema) -> bool` (both
    refuse, returning False, when the stored record's schema is higher than `schema`), `keys()`."""

    async def get(self, key):
        rec = await self.get_record(key)
        if rec is None:
            return None
        schema, value = rec
        if schema > SCHEMA:
            raise newer_error(key, schema)
        if schema < SCHEMA:   # not migrated yet (the start-up check has not run): read it as migrated
            from .migrate import upgrade
            value = upgrade(key, schema, value)
        return value

    async def set(self, key, value):
        if not await self.put_record(key, SCHEMA, value):
            raise newer_error(key, (await self.get_record(key))[0])

    async def delete(self, key):
        if not await self.remove_record(key, SCHEMA):
            raise newer_error(key, (await self.get_record(key))[0])


class MemoryStore(VersionedStore):
    """The CPython store: a dict. Values are kept as given (key handles included); `schemas`
    holds each record's schema version (a key missing there: 0, like a record of 0.1.0)."""

    def __init__(self):
        self.data: dict = {}
        self.schemas: dict = {}

    async def get_record(self, key):
        if key not in self.data:
            return None
        v = self.data[key]
        return self.schemas.get(key, 0), (json.loads(v) if isinstance(v, _Json) else v)

    async def put_record(self, key, schema, value):
        if key in self.data and self.schemas.get(key, 0) > schema:
            return False
        # JSON values are stored serialised, like IndexedDB would, so callers cannot share mutable state.
        self.data[key] = _Json(json.dumps(value)) if is_jsonable(value) else value
        self.schemas[key] = schema
        return True

    async def remove_record(self, key, schema):
        if key in self.data and self.schemas.get(key, 0) > schema:
            return False
        self.data.pop(key, None)
        self.schemas.pop(key, None)
        return True

    async def keys(self):
        return sorted(self.data)


class _Json(str):
    pass


_ABSENT = object()


class CachedStore(VersionedStore):
    """A write-through cache over the store of the one engine that owns it (the extension runs
    one engine per browser profile, and nothing else writes its database). Every request reads
    the session, settings and pin records again; from IndexedDB each read is a transaction of
    several milliseconds, from here a dict lookup.

    Writes and removals go to `inner` first and are remembered only when it took them (a record
    of a newer schema stays refused and is read from `inner` again). Absence is remembered too.
    A read that was under way while a write happened keeps nothing, so it cannot put an older
    value back. JSON values are kept serialised, like the store below keeps them: a caller that
    changes what it read changes nothing here. At most `limit_chars` characters of JSON are kept
    (least recently used dropped first); key handles count as one."""

    def __init__(self, inner: VersionedStore, limit_chars: int = 8_000_000):
        self.inner = inner
        self.limit_chars = int(limit_chars)
        self._records: OrderedDict = OrderedDict()   # key -> (schema, _Json | handle) or None (absent)
        self._sizes: dict = {}
        self._chars = 0
        self._writes = 0
        self.hits = self.misses = 0

    async def get_record(self, key):
        hit = self._records.get(key, _ABSENT)
        if hit is not _ABSENT:
            self._records.move_to_end(key)
            self.hits += 1
            return None if hit is None else (hit[0], _thaw(hit[1]))
        self.misses += 1
        writes = self._writes
        rec = await self.inner.get_record(key)
        if writes == self._writes:
            self._remember(key, None if rec is None else (rec[0], rec[1]))
        return rec

    async def put_record(self, key, schema, value):
        self._writes += 1
        ok = await self.inner.put_record(key, schema, value)
        if ok:
            self._remember(key, (schema, value))
        else:
            self._forget(key)
        return ok

    async def remove_record(self, key, schema):
        self._writes += 1
        ok = await self.inner.remove_record(key, schema)
        if ok:
            self._remember(key, None)
        else:
            self._forget(key)
        return ok

    async def keys(self):
        return await self.inner.keys()

    def clear(self) -> None:
        self._records.clear()
        self._sizes.clear()
        self._chars = 0

    def _remember(self, key, rec) -> None:
        self._forget(key)
        if rec is not None and is_jsonable(rec[1]):
            rec = (rec[0], _Json(json.dumps(rec[1])))
        size = len(rec[1]) if rec is not None and isinstance(rec[1], _Json) else 1
        if size > self.limit_chars:
            return
        self._records[key] = rec
        self._sizes[key] = size
        self._chars += size
        while self._chars > self.limit_chars:
            old, _ = self._records.popitem(last=False)
            self._chars -= self._sizes.pop(old)

    def _forget(self, key) -> None:
        if key in self._records:
            del self._records[key]
            self._chars -= self._sizes.pop(key)


def _thaw(value):
    return json.loads(value) if isinstance(value, _Json) else value
