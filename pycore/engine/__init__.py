"""The engine: the only context that holds private keys, as a sans-IO state machine.

`Engine(prims, store, clock)` (machine.py) does no I/O of its own: `prims` is a pycore
Primitives backend (WebCrypto in Pyodide, `cryptography` on CPython), `store` an async key-value
store (store.py: the record names, and MemoryStore for CPython), `clock` a function returning
seconds. `await engine.handle(type, payload, context)` answers one request.

Layout:
    machine.py          dispatch, lock state, browser session, auto-lock, wrong-passphrase throttle
    handlers/           what each request does, one module per area (identity, plugin_posts, keys,
                        backup, conversations, drafts); every type is declared in messages.js
    args.py             reading payload values
    pins.py             trust on first use: pinned keys, key changes, the keys posts verify against
    at_rest.py          what is encrypted before it is stored: the identity, the vault
    store.py            record names, the in-memory store, the write-through cache over IndexedDB
    pyodide_adapter.py  the IndexedDB store adapter and the JSON entry point for extension/engine/host.js

The passphrase is never stored. Locking deletes the session keys.
"""

from .machine import (DEFAULT_AUTO_LOCK_SECONDS, MIN_KDF_ITERATIONS, PASSIVE_TYPES, THROTTLE_CAP_SECONDS, Engine,
                      throttle_delay)
from .args import MIN_PASSPHRASE_LENGTH
from .store import MemoryStore
