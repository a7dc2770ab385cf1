"""The engine inside Pyodide: the IndexedDB store adapter and the entry point the JS engine
host (extension/engine/host.js) calls with JSON strings."""

from __future__ import annotations

import json
import time

from .machine import Engine
from .store import CachedStore, VersionedStore, is_jsonable


class IdbStore(VersionedStore):
    """Adapts the JS IndexedDB store (`efd_host.store`: get/put/remove/keys returning promises;
    records {kind, v, schema}) to the engine's store interface. JSON values travel as JSON
    strings; any other value (a CryptoKey JsProxy) is stored as it is, so IndexedDB
    structured-clones it. idb.js refuses, in the same transaction, to overwrite or remove a
    record of a higher schema."""

    def __init__(self, js_store):
        self.js = js_store

    async def get_record(self, key):
        rec = await self.js.get(key)
        if rec is None:
            return None
        return int(rec.schema), (json.loads(rec.v) if rec.kind == "json" else rec.v)

    async def put_record(self, key, schema, value):
        if is_jsonable(value):
            return bool(await self.js.put(key, "json", json.dumps(value), schema))
        return bool(await self.js.put(key, "key", value, schema))

    async def remove_record(self, key, schema):
        return bool(await self.js.remove(key, schema))

    async def keys(self):
        return sorted(str(k) for k in (await self.js.keys()).to_py())


_engine: Engine | None = None


def install_host_helpers(host) -> None:
    """The host's JavaScript helpers, for those it has (extension/engine/host.js has all):
    - `a256Decoder` (a256.js): the text goes to JavaScript once and comes back as bytes, None
      when pycore must decide;
    - `cryptoBatch` (crypto_batch.js): WebCrypto operations asked for together run in one call."""
    make = getattr(host, "a256Decoder", None)
    if make is not None:
        from ..inband import armour
        decode = make(armour.A256_ALPHABET)

        def fast(text: str):
            out = decode(text)
            return None if out is None else out.to_bytes()
        armour.use_fast_decoder(fast)
    batch = getattr(host, "cryptoBatch", None)
    if batch is not None:
        from js import crypto  # type: ignore[import-not-found]
        from ..primitives import webcrypto
        webcrypto.use_batches(batch(crypto.subtle))


async def handle_json(type: str, payload_json: str, context_json: str) -> str:
    """Entry point for the JS engine host: JSON strings in and out (no proxy lifetimes)."""
    global _engine
    if _engine is None:
        import efd_host  # registered by extension/engine/host.js
        from ..primitives import default_primitives
        install_host_helpers(efd_host)
        _engine = Engine(default_primitives(), CachedStore(IdbStore(efd_host.store)), time.time)
    try:
        payload = json.loads(payload_json)
        context = json.loads(context_json)
    except ValueError:
        return json.dumps({"ok": False, "error": {"code": "bad_request", "message": "invalid JSON"}})
    return json.dumps(await _engine.handle(type, payload, context))
