"""Unsent messages, kept on this device only and sealed in the vault (never in Discourse's drafts).

| type | payload | result |
|---|---|---|
| drafts.save | {origin, draft_key, text, title?} | {saved: true, updated_at} |
| drafts.load | {origin, draft_key} | {found, text, title, updated_at} |
| drafts.delete | {origin, draft_key} | {deleted} |

A deleted draft leaves a tombstone, {"tombstone": time, "origin"} (no text): the device state
record carries it to the user's other devices, so that a draft sent or discarded on one device
does not come back from another device's older record. A sealed draft holds its origin too: the
store's names cannot tell "https://f.example" + "org.new" from "https://f.example.org" + "new".
"""

from __future__ import annotations

import json

from ...errors import AuthenticationFailed, MalformedInput
from .. import args, at_rest
from .. import store as names


def tombstone(origin: str, at: float) -> dict:
    return {"tombstone": at, "origin": origin}


def is_tombstone(record) -> bool:
    return isinstance(record, dict) and "tombstone" in record


def _draft_store_key(payload, context) -> str:
    return names.draft(args.origin(payload, context), args.draft_key(payload))


async def save(engine, payload, context):
    key = _draft_store_key(payload, context)
    text = args.text(payload, "text", empty=True)
    title = args.optional_text(payload, "title")
    ident = await engine.require_unlocked()
    now = engine.clock()
    data = json.dumps({"text": text, "title": title, "updated_at": now, "origin": args.origin(payload, context)}).encode("utf-8")
    await engine.store.set(key, await at_rest.seal_vault(engine, ident, data))
    return {"saved": True, "updated_at": now}


async def load(engine, payload, context):
    key = _draft_store_key(payload, context)
    ident = await engine.require_unlocked()
    sealed = await engine.store.get(key)
    if not sealed or is_tombstone(sealed):
        return {"found": False, "text": None, "title": None, "updated_at": None}
    try:
        data = json.loads((await at_rest.open_vault(engine, ident, sealed)).decode("utf-8"))
    except AuthenticationFailed:
        raise MalformedInput("this draft was saved under another key and cannot be read") from None
    return {"found": True, "text": data["text"], "title": data.get("title"), "updated_at": data.get("updated_at")}


async def delete(engine, payload, context):
    key = _draft_store_key(payload, context)
    before = await engine.store.get(key)
    await engine.store.set(key, tombstone(args.origin(payload, context), engine.clock()))
    return {"deleted": before is not None and not is_tombstone(before)}


HANDLERS = {
    "drafts.save": save,
    "drafts.load": load,
    "drafts.delete": delete,
}
