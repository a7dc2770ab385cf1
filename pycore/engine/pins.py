"""Pinned keys: the key of each forum user as this device first saw it (trust on first use),
which later published keys are compared with, and the keys posts are verified against.

A pin (record "inband.pin.<origin>.<username>", public data): {username, fingerprint, public,
verified, history: [{fingerprint, public}], pending: {fingerprint, public, change_signed, seen} or
None, first_seen}.
"""

from __future__ import annotations

from .. import inband
from ..errors import BadRequest, KeyChangeUnacknowledged, MalformedInput, NoPublishedKey, RecipientWithoutKey
from . import store as names


async def check_key(engine, origin, username, bio_raw, *, via_pm: bool = False):
    """(result dict, the user's PublishedKey or None). `bio_raw` is the user's bio, or with
    via_pm=True a key-exchange post by them (PROTOCOL §3.4). Creates the pin on first use and
    records a pending change when the published key differs from the pin. A user whose key came
    by PM keeps it when their bio holds none (their forum does not let them publish there)."""
    prims = engine.prims
    pin = await engine.store.get(names.pin(origin, username))
    out = {"username": username}
    try:
        pinned = await inband.public_key(prims, pin["public"]) if pin else None
        published = await inband.find_bio_block(prims, bio_raw, pinned=pinned)
    except NoPublishedKey:
        if pin and pin.get("via_pm") and not via_pm:
            pending = pin.get("pending")
            if pending:   # a different key came by PM since: the user decides first
                return {**out, "status": "key_changed", "can_send": False, "verified": False,
                        "change_signed": bool(pending.get("change_signed")), "fingerprint": pending["fingerprint"],
                        "digits": inband.fingerprint_digits(pending["fingerprint"]),
                        "pinned_fingerprint": pin["fingerprint"], "source": "pm"}, await inband.public_key(prims, pending["public"])
            status = "verified" if pin.get("verified") else "first_seen"
            return {**out, "status": status, "can_send": True, "verified": bool(pin.get("verified")),
                    "fingerprint": pin["fingerprint"], "digits": inband.fingerprint_digits(pin["fingerprint"]),
                    "source": "pm"}, await inband.public_key(prims, pin["public"])
        return {**out, "status": "no_key", "can_send": False, "verified": False,
                "message": f"{username} has not published an encryption key"}, None
    except MalformedInput as e:
        return {**out, "status": "bad_key", "can_send": False, "verified": False,
                "message": f"{username}'s published key is damaged and cannot be used (ask them to publish it again)",
                "detail": str(e)}, None
    out.update(fingerprint=published.fingerprint_hex, digits=published.digits, source="pm" if via_pm else "bio")
    if pin is None:
        pin = {"username": username, "fingerprint": published.fingerprint_hex, "public": published.public,
               "verified": False, "history": [], "pending": None, "first_seen": engine.clock(), "via_pm": via_pm}
        await engine.store.set(names.pin(origin, username), pin)
        return {**out, "status": "first_seen", "can_send": True, "verified": False}, published
    if pin["fingerprint"] == published.fingerprint_hex:
        if pin.get("pending") or (via_pm and not pin.get("via_pm")):
            pin["pending"] = None
            pin["via_pm"] = bool(pin.get("via_pm") or via_pm)
            await engine.store.set(names.pin(origin, username), pin)
        status = "verified" if pin.get("verified") else "first_seen"
        return {**out, "status": status, "can_send": True, "verified": bool(pin.get("verified"))}, published
    signed = bool(published.key_change and published.key_change.verified)
    pin["pending"] = {"fingerprint": published.fingerprint_hex, "public": published.public, "change_signed": signed,
                      "seen": engine.clock()}
    await engine.store.set(names.pin(origin, username), pin)
    return {**out, "status": "key_changed", "can_send": False, "verified": False, "change_signed": signed,
            "pinned_fingerprint": pin["fingerprint"]}, published


async def sendable_key(engine, origin, username, bio_raw) -> inband.PublishedKey:
    """The key to encrypt for `username`: refuses users without a key and unaccepted key changes."""
    result, published = await check_key(engine, origin, username, bio_raw)
    if result["status"] in ("no_key", "bad_key"):
        raise RecipientWithoutKey(result["message"] + ": cannot encrypt for them", username=username)
    if result["status"] == "key_changed":
        raise KeyChangeUnacknowledged(f"{username}'s key has changed: review and acknowledge the change first",
                                      username=username)
    return published


async def known_keys(engine, origin, username, bio_raw) -> list:
    """The keys that verify `username`'s posts: the pinned key and the earlier keys the user
    accepted (the pin's history), never a pending change the user has not accepted. With no pin
    and a bio, pins on first use. This device's own keys (current and replaced) are accepted too:
    only I hold them, and a signature also binds the signer's name to the poster's."""
    pin = await engine.store.get(names.pin(origin, username))
    if pin is None and bio_raw is not None:
        await check_key(engine, origin, username, bio_raw)
        pin = await engine.store.get(names.pin(origin, username))
    if pin is None:
        return []
    publics = [pin["public"]] + [h["public"] for h in pin.get("history") or []] + await own_publics(engine)
    out, seen = [], set()
    for p in publics:
        if p not in seen:
            seen.add(p)
            out.append(await inband.public_key(engine.prims, p))
    return out


async def unaccepted_fingerprints(engine, origin, username) -> list[str]:
    """The fingerprint of a key change of `username` that is waiting for the user's decision."""
    pin = await engine.store.get(names.pin(origin, username))
    pending = (pin or {}).get("pending")
    return [pending["fingerprint"]] if pending else []


async def own_publics(engine) -> list[str]:
    """The public identity strings of this device: current, then the ones it replaced."""
    rec = await engine.store.get(names.IDENTITY) or {}
    out = [rec["public"]] if rec.get("public") else []
    return out + [r["public"] for r in rec.get("retired") or [] if isinstance(r, dict) and r.get("public")]


async def device_fingerprint(engine) -> str | None:
    """The hex fingerprint of this device's identity, or None when it has none."""
    rec = await engine.store.get(names.IDENTITY)
    return rec["fingerprint"] if rec else None


async def my_fingerprint(engine) -> str:
    fp = await device_fingerprint(engine)
    if fp is None:
        raise BadRequest("no identity yet: create or import one")
    return fp
