"""The engine's store: the names of its records, and the in-memory store used on CPython.

The store is an async key-value store (`await get(key)`, `await set(key, value)`,
`await delete(key)`) whose values are JSON-able data or opaque key handles (CryptoKeys in the
browser, kept in the extension's IndexedDB as they are: `pycore.engine.pyodide_adapter`).

Record names are a stored format: an update of the extension must still find every key, pin and
draft a previous version wrote, so these strings never change (add new ones instead).

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
"""

from __future__ import annotations

import json

IDENTITY = "identity"
SESSION = "session"
SESSION_KEYS = ("encrypt_public", "encrypt_private", "sign_public", "sign_private")
THROTTLE = "throttle"
SETTINGS = "settings"
VAULT = "inband.vault"


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


def is_jsonable(value) -> bool:
    """JSON data is stored as JSON; anything else (a key handle) as it is."""
    return value is None or isinstance(value, (dict, list, str, int, float, bool))


class MemoryStore:
    """The CPython store: a dict. Values are kept as given (key handles included)."""

    def __init__(self):
        self.data: dict = {}

    async def get(self, key):
        v = self.data.get(key)
        return json.loads(v) if isinstance(v, _Json) else v

    async def set(self, key, value):
        # JSON values are stored serialised, like IndexedDB would, so callers cannot share mutable state.
        self.data[key] = _Json(json.dumps(value)) if is_jsonable(value) else value

    async def delete(self, key):
        self.data.pop(key, None)


class _Json(str):
    pass
