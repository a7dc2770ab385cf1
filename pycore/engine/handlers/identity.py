"""The identity lifecycle: status, create, unlock, lock, import, export, paper key, replace,
reset, and the engine's settings.

| type | payload | result |
|---|---|---|
| engine.status | {} | {has_identity, unlocked, auto_lock_seconds, throttled_for, failures, version?, fingerprint?, digits?, kdf_iterations?, origin?, locks_in?} |
| engine.tick | {} | {unlocked} (the router's alarm: runs the auto-lock check) |
| identity.create | {passphrase} | {unlocked, fingerprint, digits, version, public} |
| identity.unlock | {passphrase} | {unlocked, fingerprint} |
| identity.lock | {} | {unlocked: false} |
| identity.import | {text, passphrase?, new_passphrase} | {..., imported_from: identity/protected/packed/label_map} |
| identity.export | {passphrase} | {packed} (the plugin's "export key pair" block) |
| identity.paperkey | {passphrase} | {paper_key, label, identity, label_map} |
| identity.replace | {passphrase, confirm: "REPLACE"} | {unlocked, fingerprint, digits, previous_fingerprint, previous_digits, version, public} |
| identity.reset | {confirm: "RESET"} | {has_identity: false, unlocked: false} |
| identity.public | {} | {public, fingerprint, digits, version} |
| settings.get / settings.set | {} / {auto_lock_seconds?, security_phrase?} | {auto_lock_seconds, security_phrase} |

The security phrase is the user's own words, shown in every extension frame and page so that a
frame the forum page draws itself (which cannot know the phrase) is recognisable as a fake. It is
never sent to a content script (the router only lets extension pages and frames ask for settings).

Replacing keeps everything readable: the vault moves to the new key, the old identity is kept
sealed in the vault (first posts wrapped to it still open), and the record remembers the key
change signed by the old key, which every later `keys.publish` puts into the bio block.
"""

from __future__ import annotations

import json

from ... import inband
from ...errors import BadRequest, IdentityExists, MalformedInput, WrongPassphrase
from ...plugin import b64, pack, paperkey
from ...plugin import identity as _identity
from .. import at_rest
from .. import store as names
from ..args import check_new_passphrase


async def status(engine, payload, context):
    rec = await engine.store.get(names.IDENTITY)
    t = await engine.store.get(names.THROTTLE) or {}
    settings = await engine.settings()
    unlocked = await engine.is_unlocked()
    out = {"has_identity": bool(rec), "unlocked": unlocked, "auto_lock_seconds": settings["auto_lock_seconds"],
           "throttled_for": max(0.0, float(t.get("until", 0)) - engine.clock()),
           "failures": int(t.get("failures", 0)), "storage": engine.storage_report}
    if rec:
        out.update(version=rec["version"], fingerprint=rec["fingerprint"],
                   digits=inband.fingerprint_digits(rec["fingerprint"]),
                   kdf_iterations=rec["blob"]["iterations"], origin=rec.get("origin"))
    if unlocked:
        sess = await engine.store.get(names.SESSION)
        out["locks_in"] = max(0.0, settings["auto_lock_seconds"] - (engine.clock() - sess["last_activity"]))
    return out


async def tick(engine, payload, context):
    return {"unlocked": await engine.is_unlocked()}


def _identity_result(rec) -> dict:
    return {"unlocked": True, "fingerprint": rec["fingerprint"], "digits": inband.fingerprint_digits(rec["fingerprint"]),
            "version": rec["version"], "public": rec["public"]}


async def create(engine, payload, context):
    passphrase = payload.get("passphrase")
    check_new_passphrase(passphrase)
    async with engine.identity_lock:
        if await engine.store.get(names.IDENTITY):
            raise IdentityExists("an identity already exists: reset it first")
        ident = await _identity.generate(engine.prims, extractable=True)
        rec = await engine.save_identity(ident, passphrase, "generated")
    return _identity_result(rec)


async def unlock(engine, payload, context):
    rec, inner = await engine.open_identity(payload.get("passphrase"))
    await engine.start_session(await _identity.import_identity(engine.prims, inner, extractable=False))
    return {"unlocked": True, "fingerprint": rec["fingerprint"]}


async def lock(engine, payload, context):
    await engine.drop_session()
    return {"unlocked": False}


async def import_identity(engine, payload, context):
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("nothing to import")
    new_passphrase = payload.get("new_passphrase")
    check_new_passphrase(new_passphrase)
    ident, how = await import_any(engine.prims, text, payload.get("passphrase"))
    if not ident.has_private:
        raise BadRequest("this is a public identity: importing needs the private keys")
    async with engine.identity_lock:
        if await engine.store.get(names.IDENTITY):
            raise IdentityExists("an identity already exists: reset it first")
        rec = await engine.save_identity(ident, new_passphrase, "imported:" + how)
    return {**_identity_result(rec), "imported_from": how}


async def export(engine, payload, context):
    _rec, inner = await engine.open_identity(payload.get("passphrase"))
    return {"packed": pack.pack_identity(inner)}


async def paper_key(engine, payload, context):
    _rec, inner = await engine.open_identity(payload.get("passphrase"))
    ident = await _identity.import_identity(engine.prims, inner, extractable=True)
    words = paperkey.generate(engine.prims)
    protected = await _identity.export_private(engine.prims, ident, words)
    label = paperkey.label(words)
    return {"paper_key": words, "label": label, "identity": protected, "label_map": {label: protected}}


async def replace(engine, payload, context):
    if payload.get("confirm") != "REPLACE":
        raise BadRequest("type REPLACE to confirm")
    passphrase = payload.get("passphrase")
    rec, inner = await engine.open_identity(passphrase)
    prims = engine.prims
    old = await _identity.import_identity(prims, inner, extractable=True)
    if old.version != 1 or not old.can_sign:
        raise BadRequest("only a v1 identity (with a signing key) can announce its replacement")
    new = await _identity.generate(prims, extractable=True)
    change = await inband.sign_key_change(prims, old, new)
    async with engine.identity_lock:
        await at_rest.transfer_vault(engine, old, new)
        retired = [r for r in rec.get("retired") or [] if isinstance(r, dict)]
        new_rec = await engine.save_identity(
            new, passphrase, "replaced", previous_fingerprint=rec["fingerprint"],
            key_change={"previous_fingerprint": change.previous_fingerprint.hex(),
                        "signature": b64.encode(change.signature)})
        session = await engine.require_unlocked()
        retired.append({"fingerprint": rec["fingerprint"], "public": rec["public"],
                        "sealed": await at_rest.seal_vault(engine, session, inner.encode("utf-8"))})
        new_rec["retired"] = retired
        await engine.store.set(names.IDENTITY, new_rec)
    return {**_identity_result(new_rec), "previous_fingerprint": rec["fingerprint"],
            "previous_digits": inband.fingerprint_digits(rec["fingerprint"])}


async def reset(engine, payload, context):
    if payload.get("confirm") != "RESET":
        raise BadRequest("type RESET to confirm")
    async with engine.identity_lock:
        await engine.drop_session()
        await engine.store.delete(names.IDENTITY)
        await engine.store.delete(names.THROTTLE)
    return {"has_identity": False, "unlocked": False}


async def public(engine, payload, context):
    rec = await engine.identity_record()
    return {"public": rec["public"], "fingerprint": rec["fingerprint"], "version": rec["version"],
            "digits": inband.fingerprint_digits(rec["fingerprint"])}


async def settings_get(engine, payload, context):
    return await engine.settings()


async def settings_set(engine, payload, context):
    s = await engine.store.get(names.SETTINGS) or {}
    if "auto_lock_seconds" in payload:
        secs = payload.get("auto_lock_seconds")
        if not isinstance(secs, int) or isinstance(secs, bool) or not 1 <= secs <= 7 * 24 * 3600:
            raise BadRequest("auto_lock_seconds must be an integer from 1 to 604800")
        s["auto_lock_seconds"] = secs
    if "security_phrase" in payload:
        phrase = payload.get("security_phrase")
        if not isinstance(phrase, str) or not 1 <= len(phrase.strip()) <= 60:
            raise BadRequest("the security phrase must have 1 to 60 characters")
        s["security_phrase"] = phrase.strip()
    await engine.store.set(names.SETTINGS, s)
    return await engine.settings()


# ---------------------------------------------------------------------------- what users paste
async def import_any(prims, text: str, passphrase: str | None):
    """Reads what a user may paste: a packed key pair block, a (protected) identity string, or a
    paper-key label map JSON {"paper_xxx": "1$…"}. `passphrase` is the identity's passphrase or the
    paper key. Returns (Identity with extractable keys, how) where how names the input kind."""
    text = text.strip()
    if passphrase == "":
        passphrase = None
    if text.startswith("{"):
        try:
            mapping = json.loads(text)
        except ValueError:
            raise MalformedInput("not valid JSON") from None
        if not isinstance(mapping, dict) or not mapping or not all(isinstance(v, str) for v in mapping.values()):
            raise MalformedInput('expected a label map like {"paper_word": "1$…"}')
        if passphrase is None:
            raise BadRequest("enter the paper key that protects this identity")
        try:
            wanted = paperkey.label(passphrase)
        except MalformedInput:
            wanted = None
        last = None
        for lbl in sorted(mapping, key=lambda k: (k != wanted, k)):
            try:
                return await _import_protected(prims, mapping[lbl], passphrase), "label_map"
            except WrongPassphrase as e:
                last = e
        raise last or WrongPassphrase("wrong paper key")
    if pack.HEADER.strip("= ") in text or pack.FOOTER.strip("= ") in text:
        return await _identity.import_identity(prims, pack.unpack_identity(text), passphrase), "packed"
    if passphrase is None:
        return await _identity.import_identity(prims, text), "identity"
    return await _import_protected(prims, text, passphrase), "protected"


async def _import_protected(prims, text: str, passphrase: str):
    try:
        return await _identity.import_identity(prims, text, passphrase)
    except WrongPassphrase:
        cleaned = paperkey.clean(passphrase)
        if cleaned == passphrase:
            raise
        return await _identity.import_identity(prims, text, cleaned)  # a paper key typed loosely


HANDLERS = {
    "engine.status": status,
    "engine.tick": tick,
    "identity.create": create,
    "identity.unlock": unlock,
    "identity.lock": lock,
    "identity.import": import_identity,
    "identity.export": export,
    "identity.paperkey": paper_key,
    "identity.replace": replace,
    "identity.reset": reset,
    "identity.public": public,
    "settings.get": settings_get,
    "settings.set": settings_set,
}
