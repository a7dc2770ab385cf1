"""Device sync: this device's pins, conversation list and drafts as an encrypted, signed state
record for the PM to myself (pycore.inband.state), and the records of my other devices merged in.

| type | payload | result |
|---|---|---|
| sync.export | {origin} | {raw (a reply for my key backup PM), counts: {pins, conversations, drafts}} |
| sync.import | {origin, records: [raw…]} | {applied: {pins, conversations, drafts}, rejected: [{index, code, detail}], covered (true: the forum's records already hold all this device knows; no need to post)} |

Applying a merged state only ever makes a pin stricter: a user this device has no pin for is
pinned as my other device pinned them (the public key travels in the record, and its fingerprint
is checked), verified or with a pending key change included; a pin for the same key becomes
verified, or gets the pending change; a pin for another key is left alone (counted in
pins_not_applied: this device decides from the user's profile, as for any key change). A draft
is written when the synced one is newer than this device's. Conversations are listed from the
state; their keys still come from the first posts.
"""

from __future__ import annotations

import json

from ...errors import AuthenticationFailed, BadRequest, MalformedInput, PycoreError
from ... import inband
from ...inband import state as st
from .. import args, at_rest
from .. import store as names
from .conversations import _meta, list_topic
from .drafts import is_tombstone, tombstone


def _records(payload) -> list[str]:
    recs = payload.get("records")
    if not isinstance(recs, list) or len(recs) > 100 or not all(isinstance(r, str) for r in recs):
        raise BadRequest("records: a list of up to 100 post raws")
    return recs


async def _local_state(engine, ident, origin) -> dict:
    out = st.empty()
    pin_prefix, draft_prefix = names.pin(origin, ""), names.draft(origin, "")
    for key in await engine.store.keys():
        if key.startswith(pin_prefix):
            pin = await engine.store.get(key)
            if not isinstance(pin, dict) or not pin.get("fingerprint"):
                continue
            pending = (pin.get("pending") or {}).get("fingerprint")
            state = "key_changed" if pending else ("verified" if pin.get("verified") else "first_seen")
            at = pin.get("verified_at") or pin.get("first_seen") or 0
            st.put_pin(out, origin, pin.get("username") or key[len(pin_prefix):],
                       st.pin_entry(pin["fingerprint"], state, pending=pending, at=at if isinstance(at, (int, float)) else 0,
                                    public=pin.get("public"),
                                    pending_public=(pin.get("pending") or {}).get("public") if pending else None))
        elif key.startswith(draft_prefix):
            record = await engine.store.get(key)
            if is_tombstone(record):
                if record.get("origin") == origin and isinstance(record["tombstone"], (int, float)):
                    st.put_draft(out, origin, key[len(draft_prefix):],
                                 st.draft_entry(updated_at=record["tombstone"], deleted=True))
                continue
            try:
                data = json.loads((await at_rest.open_vault(engine, ident, record)).decode("utf-8"))
            except (AuthenticationFailed, MalformedInput, ValueError, TypeError):
                continue
            if data.get("origin", origin) != origin:   # another forum's name shares this prefix
                continue
            st.put_draft(out, origin, key[len(draft_prefix):],
                         st.draft_entry(data["text"], title=data.get("title"), updated_at=data.get("updated_at") or 0))
    for topic_id in await engine.store.get(names.conversation_index(origin)) or []:
        rec = await engine.store.get(names.conversation(origin, topic_id))
        if not rec or not rec.get("conversation_id"):
            continue
        meta = await _meta(engine, ident, rec)
        people = [p[0] if isinstance(p, (list, tuple)) else p for p in meta.get("participants") or []]
        st.put_conversation(out, origin, topic_id, st.conversation_entry(
            rec["conversation_id"], title=meta.get("title"), participants=[p for p in people if isinstance(p, str) and p],
            updated_at=meta.get("created_at") if isinstance(meta.get("created_at"), (int, float)) else 0))
    return out


async def export(engine, payload, context):
    origin = args.origin(payload, context)
    ident = await engine.require_unlocked()
    local = await _local_state(engine, ident, origin)
    return {"raw": await st.seal_state(engine.prims, ident, local),
            "counts": {part: len(local[part]) for part in ("pins", "conversations", "drafts")}}


async def _public_of(engine, public, fingerprint):
    """The public identity string when it is the key with `fingerprint`, else None."""
    if not public:
        return None
    try:
        return public if (await inband.public_key(engine.prims, public)).fingerprint_hex == fingerprint else None
    except PycoreError:
        return None


async def _stricter_pin(engine, username, pin, entry):
    """The pin after a synced entry, or None when the entry changes nothing here."""
    if pin is None:
        public = await _public_of(engine, entry["public"], entry["fingerprint"])
        if public is None:
            return None
        pin = {"username": username, "fingerprint": entry["fingerprint"], "public": public, "verified": False,
               "history": [], "pending": None, "first_seen": engine.clock(), "via_pm": False}
        changed = True
    elif pin["fingerprint"] != entry["fingerprint"]:
        return None
    else:
        changed = False
    if entry["state"] == "verified" and not pin.get("verified") and not pin.get("pending"):
        pin["verified"], changed = True, True
    if entry["state"] == "key_changed" and not pin.get("pending"):
        pending = await _public_of(engine, entry["pending_public"], entry["pending"])
        if pending is not None:
            pin["pending"] = {"fingerprint": entry["pending"], "public": pending, "change_signed": False,
                              "seen": engine.clock()}
            changed = True
    return pin if changed else None


async def _apply(engine, ident, origin, local, merged) -> dict:
    applied = {"pins": 0, "conversations": 0, "drafts": 0, "pins_not_applied": 0}
    for key, entry in merged["pins"].items():
        o, username = st.split_key(key)
        if o != origin or local["pins"].get(key) == entry:
            continue
        pin = await engine.store.get(names.pin(origin, username))
        updated = await _stricter_pin(engine, username, pin, entry)
        if updated is not None:
            await engine.store.set(names.pin(origin, username), updated)
            applied["pins"] += 1
        elif st.PIN_RANKS[entry["state"]] > st.PIN_RANKS[local["pins"].get(key, {}).get("state", "first_seen")]:
            applied["pins_not_applied"] += 1
    for key, entry in merged["drafts"].items():
        o, draft_key = st.split_key(key)
        if o != origin or local["drafts"].get(key) == entry:
            continue
        mine = local["drafts"].get(key)
        if mine is not None and mine["updated_at"] >= entry["updated_at"]:
            continue
        if entry["deleted"]:
            await engine.store.set(names.draft(origin, draft_key), tombstone(origin, entry["updated_at"]))
        else:
            data = json.dumps({"text": entry["text"], "title": entry["title"], "updated_at": entry["updated_at"],
                               "origin": origin})
            await engine.store.set(names.draft(origin, draft_key), await at_rest.seal_vault(engine, ident, data.encode("utf-8")))
        applied["drafts"] += 1
    for key, entry in merged["conversations"].items():
        o, topic = st.split_key(key)
        if o != origin or key in local["conversations"] or not topic.isdigit() or int(topic) <= 0:
            continue
        if await _list_synced_conversation(engine, ident, origin, int(topic), entry):
            applied["conversations"] += 1
    return applied


async def _list_synced_conversation(engine, ident, origin, topic_id, entry) -> bool:
    """Lists a conversation my other device knows, with its title and participants, before this
    device has read it. The record holds no key: the first post gives it (conv.open), as on any
    device that meets a conversation, and its words then replace the synced ones. A topic this
    device already holds something for is left to that."""
    if await engine.store.get(names.conversation(origin, topic_id)):
        return False
    meta = {"title": entry["title"], "author": None, "participants": entry["participants"],
            "created_at": entry["updated_at"] or None, "status": None}
    await engine.store.set(names.conversation(origin, topic_id), {
        "conversation_id": entry["conversation_id"],
        "meta": await at_rest.seal_vault(engine, ident, json.dumps(meta).encode("utf-8"))})
    await list_topic(engine, origin, topic_id)
    return True


async def import_(engine, payload, context):
    origin = args.origin(payload, context)
    records = _records(payload)
    ident = await engine.require_unlocked()
    remote, rejected = await st.open_all(engine.prims, ident, records)
    local = await _local_state(engine, ident, origin)
    applied = await _apply(engine, ident, origin, local, st.merge(local, remote))
    return {"applied": applied, "rejected": rejected, "covered": st.covers(remote, local)}


HANDLERS = {
    "sync.export": export,
    "sync.import": import_,
}
