"""The engine inside Pyodide: the IndexedDB store adapter and the entry point the JS engine
host (extension/engine/host.js) calls with JSON strings."""

from __future__ import annotations

import json
import time

from .machine import Engine
from .store import is_jsonable


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
        if is_jsonable(value):
            await self.js.put(key, "json", json.dumps(value))
        else:
            await self.js.put(key, "key", value)

    async def delete(self, key):
        await self.js.remove(key)


_engine: Engine | None = None


async def handle_json(type: str, payload_json: str, context_json: str) -> str:
    """Entry point for the JS engine host: JSON strings in and out (no proxy lifetimes)."""
    global _engine
    if _engine is None:
        import efd_host  # registered by extension/engine/host.js
        from ..primitives import default_primitives
        _engine = Engine(default_primitives(), IdbStore(efd_host.store), time.time)
    try:
        payload = json.loads(payload_json)
        context = json.loads(context_json)
    except ValueError:
        return json.dumps({"ok": False, "error": {"code": "bad_request", "message": "invalid JSON"}})
    return json.dumps(await _engine.handle(type, payload, context))
