"""Published keys and pins: publishing my key into the bio, checking someone's key against the
pin, accepting a key change, marking a contact verified, safety codes.

| type | payload | result |
|---|---|---|
| keys.publish | {bio_raw} | {bio_raw (the new bio), fingerprint, digits, changed, key_change (previous fingerprint or null)} — no unlock needed; after identity.replace the block carries the key change signed by the old key |
| keys.published | {bio_raw (my bio as the forum serves it)} | {state: "same" (this device's key is the published one) / "none" / "other" (another key is published: an older one, or one from another device) / "damaged", digits (this device's), published_digits? (state "other")} — no unlock needed |
| keys.announce | {} | {raw (a key-exchange post: PROTOCOL §3.4), title, fingerprint, digits} |
| keys.receive | {origin, username (the post's Discourse poster), raw (their key-exchange post)} | as keys.check, source "pm" |
| keys.check | {origin, username, bio_raw} | {username, status: first_seen/verified/key_changed/no_key/bad_key, can_send, fingerprint?, digits?, verified, source? ("bio", or "pm": the key came by a key-exchange PM and the bio holds none), change_signed?, pinned_fingerprint?, message?} |
| keys.acknowledge | {origin, username, fingerprint} | {username, status, fingerprint} — accepts the pending KEY CHANGE |
| keys.mark_verified | {origin, username, fingerprint} | {username, status: "verified", fingerprint} |
| keys.safety_code | {origin, username} | {username, safety_code (12×5 digits), qr, my_digits, their_digits, verified} |
"""

from __future__ import annotations

from ... import inband
from ...errors import BadRequest, MalformedInput, NoPublishedKey
from ...plugin import b64
from ...plugin import identity as _identity
from .. import args
from .. import store as names
from ..pins import check_key, device_fingerprint, my_fingerprint


async def _my_block(engine) -> str:
    """My key block, announcing the signed key change when the identity replaced another."""
    rec = await engine.store.get(names.IDENTITY)
    if not rec:
        raise BadRequest("no identity yet: create or import one")
    me = await _identity.import_identity(engine.prims, rec["public"])
    change = None
    if isinstance(rec.get("key_change"), dict):
        kc = rec["key_change"]
        change = inband.KeyChange(bytes.fromhex(kc["previous_fingerprint"]), b64.decode(kc["signature"], what="key change"))
    return await inband.make_bio_block(engine.prims, me, key_change=change)


async def publish(engine, payload, context):
    bio = payload.get("bio_raw") or ""
    if not isinstance(bio, str):
        raise BadRequest("bio_raw must be a string")
    block = await _my_block(engine)
    new = inband.put_bio_block(bio, block)
    pk = await inband.find_bio_block(engine.prims, new)
    return {"bio_raw": new, "fingerprint": pk.fingerprint_hex, "digits": pk.digits, "changed": new != bio,
            "key_change": pk.key_change.previous_fingerprint.hex() if pk.key_change else None}


async def published(engine, payload, context):
    """Whether the key my bio publishes is this device's: after a restore, a reset or a new
    identity on another device they can differ unnoticed, and then contacts encrypt to a key this
    device cannot open. The inbox offers the repair. On a device without an identity the state
    is "published" (a key of mine exists elsewhere: setup offers to restore it before making a
    new one) and `digits` is None."""
    mine = await device_fingerprint(engine)
    out = {"digits": inband.fingerprint_digits(mine) if mine else None}
    bio = args.optional_text(payload, "bio_raw") or ""
    try:
        pk = await inband.find_bio_block(engine.prims, bio)
    except NoPublishedKey:
        return {**out, "state": "none"}
    except MalformedInput:
        return {**out, "state": "damaged"}
    if mine is None:
        return {**out, "state": "published", "published_digits": pk.digits}
    if pk.fingerprint_hex == mine:
        return {**out, "state": "same"}
    return {**out, "state": "other", "published_digits": pk.digits}


async def announce(engine, payload, context):
    """The raw of a key-exchange post with my key, for forums that keep bios read-only."""
    raw = inband.key_exchange_raw(await _my_block(engine))
    pk = await inband.find_bio_block(engine.prims, raw)
    return {"raw": raw, "title": inband.KEY_EXCHANGE_TITLE, "fingerprint": pk.fingerprint_hex, "digits": pk.digits}


async def receive(engine, payload, context):
    """Pins the key in a key-exchange post by `username` (its Discourse poster), with the same
    checks as a bio key: first use pins it, a different key is a KEY CHANGE."""
    origin, username = args.origin(payload, context), args.username(payload.get("username"))
    result, _ = await check_key(engine, origin, username, args.text(payload, "raw"), via_pm=True)
    return result


async def check(engine, payload, context):
    origin, username = args.origin(payload, context), args.username(payload.get("username"))
    result, _ = await check_key(engine, origin, username, args.optional_text(payload, "bio_raw"))
    return result


async def acknowledge(engine, payload, context):
    origin, username, fp = args.origin(payload, context), args.username(payload.get("username")), args.fingerprint(payload)
    pin = await engine.store.get(names.pin(origin, username))
    pending = (pin or {}).get("pending")
    if not pending or pending["fingerprint"] != fp:
        raise BadRequest(f"there is no pending key change of {username} to that fingerprint")
    pin["history"] = (pin.get("history") or []) + [{"fingerprint": pin["fingerprint"], "public": pin["public"]}]
    pin["verified"] = bool(pin.get("verified") and pending.get("change_signed"))
    pin["fingerprint"], pin["public"], pin["pending"] = pending["fingerprint"], pending["public"], None
    await engine.store.set(names.pin(origin, username), pin)
    return {"username": username, "status": "verified" if pin["verified"] else "first_seen", "fingerprint": fp}


async def mark_verified(engine, payload, context):
    origin, username, fp = args.origin(payload, context), args.username(payload.get("username")), args.fingerprint(payload)
    pin = await engine.store.get(names.pin(origin, username))
    if not pin or pin["fingerprint"] != fp:
        raise BadRequest(f"{username}'s pinned key does not have that fingerprint")
    if pin.get("pending"):
        raise BadRequest(f"{username}'s key has changed: acknowledge the change first")
    pin["verified"] = True
    await engine.store.set(names.pin(origin, username), pin)
    return {"username": username, "status": "verified", "fingerprint": fp}


async def safety_code(engine, payload, context):
    origin, username = args.origin(payload, context), args.username(payload.get("username"))
    pin = await engine.store.get(names.pin(origin, username))
    if not pin:
        raise BadRequest(f"no key of {username} is known yet: check their key first")
    mine = await my_fingerprint(engine)
    return {"username": username, "safety_code": await inband.safety_code(engine.prims, mine, pin["fingerprint"]),
            "qr": inband.safety_qr(mine, pin["fingerprint"]), "my_digits": inband.fingerprint_digits(mine),
            "their_digits": inband.fingerprint_digits(pin["fingerprint"]), "verified": bool(pin.get("verified"))}


HANDLERS = {
    "keys.publish": publish,
    "keys.published": published,
    "keys.check": check,
    "keys.announce": announce,
    "keys.receive": receive,
    "keys.acknowledge": acknowledge,
    "keys.mark_verified": mark_verified,
    "keys.safety_code": safety_code,
}
