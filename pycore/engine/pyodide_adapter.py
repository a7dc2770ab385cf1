"""The engine inside Pyodide: the IndexedDB store adapter and the entry point the JS engine
host (extension/engine/host.js) calls with JSON strings."""

from __future__ import annotations

import json
import time

from .machine import Engine
from .store import VersionedStore, is_jsonable


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


def _install_fast_decoder(host) -> None:
    """The host's A256 decoder (extension/engine/a256.js), when it has one: the text goes to
    JavaScript once and comes back as bytes, None when pycore must decide."""
    make = getattr(host, "a256Decoder", None)
    if make is None:
        return
    from ..inband import armour
    decode = make(armour.A256_ALPHABET)

    def fast(text: str):
        out = decode(text)
        return None if out is None else out.to_bytes()
    armour.use_fast_decoder(fast)


async def handle_json(type: str, payload_json: str, context_json: str) -> str:
    """Entry point for the JS engine host: JSON strings in and out (no proxy lifetimes)."""
    global _engine
    if _engine is None:
        import efd_host  # registered by extension/engine/host.js
        from ..primitives import default_primitives
        _install_fast_decoder(efd_host)
        _engine = Engine(default_primitives(), IdbStore(efd_host.store), time.time)
    try:
        payload = json.loads(payload_json)
        context = json.loads(context_json)
    except ValueError:
        return json.dumps({"ok": False, "error": {"code": "bad_request", "message": "invalid JSON"}})
    return json.dumps(await _engine.handle(type, payload, context))
