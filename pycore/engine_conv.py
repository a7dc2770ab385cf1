"""Engine message handlers for the in-band protocol (docs/PROTOCOL.md): published keys and pins,
key backups, conversations, replies, key shares, encrypted local drafts, the inbox list.

`HANDLERS: dict[type, async fn(engine, payload, context) -> dict]` is merged into
`pycore.engine.Engine.handlers`. Handlers use `engine.prims`, `engine.store` (async get/set/delete,
values JSON or key handles), `engine.clock()` and `await engine.require_unlocked()`; the backup
handlers also use the engine's public identity helpers (`open_identity`, `install_identity`).

Senders (`context["sender"]`, set by the router): "content" = the content script, which may only
receive ciphertext and public data; "frame:<name>" / "page:<name>" = extension pages and frames.
Handlers marked "ext" refuse any other sender (error code "forbidden"). `origin` is the forum's
origin ("https://forum.example"): taken from `context["origin"]` when the router sets it (it
should, from the sender tab's URL), else from the payload.

| type | senders | payload | result |
|---|---|---|---|
| keys.publish | any (ext with previous_backup) | {bio_raw, previous_backup?: {raw, secret}} | {bio_raw (new bio text), fingerprint, digits, changed, key_change} — no unlock needed; with previous_backup the block announces a key change signed by the old key opened from its backup |
| keys.check | any | {origin, username, bio_raw} | {username, status: "first_seen"/"verified"/"key_changed"/"no_key"/"bad_key", can_send, fingerprint?, digits?, verified, change_signed?, pinned_fingerprint?, message?} |
| keys.acknowledge | ext | {origin, username, fingerprint} | {username, status, fingerprint} — accepts the pending KEY CHANGE |
| keys.mark_verified | ext | {origin, username, fingerprint} | {username, status: "verified", fingerprint} |
| keys.safety_code | any | {origin, username} | {username, safety_code (12×5 digits), qr, my_digits, their_digits, verified} |
| backup.make | ext | {passphrase (the local one), backup_passphrase?, paper_key: bool} | {raw, title, info, paper_key? (shown once)} |
| backup.inspect | any | {raw} | {slots, iterations} |
| backup.restore | ext | {raw, secret (backup passphrase or paper key), new_passphrase} | {unlocked, fingerprint, version, public} |
| conv.start | ext | {origin, me, recipients: [{username, bio_raw}], title, body, max_chars?} | {raw, title (placeholder), target_recipients, conversation_id, participants} |
| conv.open | ext | {origin, topic_id, raw (first post), me, author: {username, bio_raw?}, allowed_users?: [username] (Discourse's details.allowed_users)} | {topic_id, conversation_id, status, detail, title, body, author, participants, created_at, author_key, invited, without_key? (allowed users who got no key: added by the server or invited without a key share), copied_from_topic?} |
| conv.accept_share | any | {origin, topic_id, raw (key-share post), me, poster: {username, bio_raw?}} | {topic_id, conversation_id, status, detail} (no plaintext) |
| conv.read | ext | {origin, topic_id, posts: [{post_id, raw, username, bio_raw?, created_at? (Discourse's)}]} | {posts: [{post_id, kind, status, detail, body, author, created_at (signed), time_skew_seconds (Discourse time minus signed time), invitee, invitee_fingerprint}]} |
| conv.reply | ext | {origin, topic_id, me, body, max_chars?} | {raw} |
| conv.share_key | ext | {origin, topic_id, me, invitee: {username, bio_raw}} | {raw, invite: {user}} — post `raw`, then POST /t/{topic_id}/invite.json |
| conv.list | ext | {origin} | {conversations: [{topic_id, conversation_id, title, author, participants, invited, status, created_at}]} |
| drafts.save | ext | {origin, draft_key, text, title?} | {saved: true, updated_at} |
| drafts.load | ext | {origin, draft_key} | {found, text, title, updated_at} |
| drafts.delete | ext | {origin, draft_key} | {deleted} |

Statuses of posts: see pycore.inband (valid, invalid_signature, wrong_conversation, wrong_author,
unsigned, unverified, cannot_decrypt) plus "duplicate" (a message id already seen in another post)
and "malformed" (not an encrypted message). Only "valid" posts carry a body.

Storage (engine.store keys; nothing readable without the unlocked identity):
- "inband.vault": {fp, wrapped}: a random AES-256 vault key RSA-OAEP-wrapped to my own key; the
  unwrapped handle (non-extractable) is cached in memory per engine and per unlocked identity;
- "inband.pin.<origin>.<username>": the pin (public data): fingerprint, public, verified, history, pending;
- "inband.conv.<origin>.<topic_id>": {conversation_id, key: sealed raw key, meta: sealed JSON};
- "inband.convs.<origin>": list of topic ids; "inband.cid.<origin>.<conversation_id>": topic id;
- "inband.msgids.<origin>.<topic_id>": {message_id: post_id} (duplicate detection);
- "inband.draft.<origin>.<draft_key>": sealed JSON {text, title, updated_at}.
"sealed" = {"iv": b64, "ct": b64}, AES-256-GCM under the vault key.
"""

from __future__ import annotations

import json
import re
import weakref

from . import identity as _identity
from . import b64, inband, paperkey, topickey
from .engine import BadRequest, EngineError, IdentityExists
from .errors import AuthenticationFailed, MalformedInput, PycoreError


class Forbidden(EngineError):
    code = "forbidden"


class RecipientWithoutKey(EngineError):
    code = "recipient_without_key"


class KeyChangeUnacknowledged(EngineError):
    code = "key_change_unacknowledged"


class ConversationUnknown(EngineError):
    code = "conversation_unknown"


# inband's errors as engine error codes; pycore/engine.py puts these before its own (more
# general) codes, and copies an error's `excess` into the reply.
ERROR_CODES = [
    (inband.MessageTooLarge, "message_too_large"), (inband.BioTooLong, "bio_too_long"),
    (inband.NotAParticipant, "not_a_participant"), (inband.BackupCostOutOfRange, "backup_cost_out_of_range"),
    (inband.NoPublishedKey, "no_published_key"),
]

_VAULTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?")
_DRAFT_KEY = re.compile(r"[A-Za-z0-9_.:\-]{1,100}")


# ------------------------------------------------------------------------------ helpers
def _ext_only(context) -> None:
    sender = context.get("sender") if isinstance(context, dict) else None
    if not isinstance(sender, str) or not sender.startswith(("frame:", "page:")):
        raise Forbidden("only extension pages and frames may ask for this")


def _origin(payload, context) -> str:
    o = context.get("origin") if isinstance(context.get("origin"), str) else payload.get("origin")
    if not isinstance(o, str) or not _ORIGIN.fullmatch(o):
        raise BadRequest("origin must be the forum's origin, like https://forum.example")
    return o.lower()


def _str(payload, name, *, empty=False, max_len=None) -> str:
    v = payload.get(name)
    if not isinstance(v, str) or (not empty and not v.strip()) or (max_len and len(v) > max_len):
        raise BadRequest(f"{name} must be {'a' if empty else 'a non-empty'} string")
    return v


def _username(v, what="username") -> str:
    if not isinstance(v, str) or not inband._USERNAME.fullmatch(v):
        raise BadRequest(f"{what} is not a Discourse username")
    return v


def _topic_id(payload) -> int:
    t = payload.get("topic_id")
    if isinstance(t, bool) or not isinstance(t, int) or t <= 0:
        raise BadRequest("topic_id must be a positive integer")
    return t


def _max_chars(payload) -> int:
    m = payload.get("max_chars", inband.MAX_POST_CHARS)
    if isinstance(m, bool) or not isinstance(m, int) or not 1000 <= m <= 1_000_000:
        raise BadRequest("max_chars must be an integer from 1000 to 1000000")
    return m


def _user_ref(payload, name) -> tuple[str, str | None]:
    v = payload.get(name)
    if not isinstance(v, dict):
        raise BadRequest(f"{name} must be an object {{username, bio_raw}}")
    bio = v.get("bio_raw")
    if bio is not None and not isinstance(bio, str):
        raise BadRequest(f"{name}.bio_raw must be a string")
    return _username(v.get("username"), f"{name}.username"), bio




# ------------------------------------------------------------------------------ vault
async def _vault(engine, ident):
    cached = _VAULTS.get(engine)
    if cached is not None and cached[0] is ident:
        return cached[1]
    prims = engine.prims
    fp = (await _identity.fingerprint(prims, ident)).hex()
    rec = await engine.store.get("inband.vault")
    raw = None
    if isinstance(rec, dict) and rec.get("fp") == fp:
        try:
            wrapped = b64.decode(rec["wrapped"], what="stored vault key")
            raw = await prims.rsa_oaep_decrypt(ident.encrypt_private, wrapped)
        except (PycoreError, ValueError, KeyError):
            raw = None
    if raw is None or len(raw) != 32:
        raw = prims.random_bytes(32)
        wrapped = await prims.rsa_oaep_encrypt(ident.encrypt_public, raw)
        await engine.store.set("inband.vault", {"fp": fp, "wrapped": b64.encode(wrapped)})
    handle = await prims.aes_import(raw, extractable=False)
    _VAULTS[engine] = (ident, handle)
    return handle


async def _seal(engine, ident, data: bytes) -> dict:
    key = await _vault(engine, ident)
    iv = engine.prims.random_bytes(12)
    return {"iv": b64.encode(iv), "ct": b64.encode(await engine.prims.aes_gcm_encrypt(key, iv, data))}


async def _unseal(engine, ident, sealed) -> bytes:
    key = await _vault(engine, ident)
    try:
        iv, ct = (b64.decode(sealed[k], what="sealed record") for k in ("iv", "ct"))
        return await engine.prims.aes_gcm_decrypt(key, iv, ct)
    except (KeyError, TypeError, ValueError):
        raise MalformedInput("stored data is damaged") from None


# ------------------------------------------------------------------------------ pins
def _pin_key(origin, username) -> str:
    return f"inband.pin.{origin}.{username.lower()}"


async def _pk_from_public(prims, public: str) -> inband.PublishedKey:
    ident = await _identity.import_identity(prims, public)
    return inband.PublishedKey(ident, await _identity.fingerprint(prims, ident), public)


async def _check_key(engine, origin, username, bio_raw):
    """(result dict, PublishedKey from the bio or None). Creates the pin on first use and records
    a pending change when the bio key differs from the pin."""
    prims = engine.prims
    pin = await engine.store.get(_pin_key(origin, username))
    out = {"username": username}
    try:
        pinned = await _pk_from_public(prims, pin["public"]) if pin else None
        published = await inband.find_bio_block(prims, bio_raw, pinned=pinned)
    except inband.NoPublishedKey:
        return {**out, "status": "no_key", "can_send": False, "verified": False,
                "message": f"{username} has not published an encryption key"}, None
    except MalformedInput as e:
        return {**out, "status": "bad_key", "can_send": False, "verified": False,
                "message": f"{username}'s published key is damaged: {e}"}, None
    out.update(fingerprint=published.fingerprint_hex, digits=published.digits)
    if pin is None:
        pin = {"username": username, "fingerprint": published.fingerprint_hex, "public": published.public,
               "verified": False, "history": [], "pending": None, "first_seen": engine.clock()}
        await engine.store.set(_pin_key(origin, username), pin)
        return {**out, "status": "first_seen", "can_send": True, "verified": False}, published
    if pin["fingerprint"] == published.fingerprint_hex:
        if pin.get("pending"):
            pin["pending"] = None
            await engine.store.set(_pin_key(origin, username), pin)
        status = "verified" if pin.get("verified") else "first_seen"
        return {**out, "status": status, "can_send": True, "verified": bool(pin.get("verified"))}, published
    signed = bool(published.key_change and published.key_change.verified)
    pin["pending"] = {"fingerprint": published.fingerprint_hex, "public": published.public, "change_signed": signed,
                      "seen": engine.clock()}
    await engine.store.set(_pin_key(origin, username), pin)
    return {**out, "status": "key_changed", "can_send": False, "verified": False, "change_signed": signed,
            "pinned_fingerprint": pin["fingerprint"]}, published


async def _sendable_key(engine, origin, username, bio_raw) -> inband.PublishedKey:
    result, published = await _check_key(engine, origin, username, bio_raw)
    if result["status"] in ("no_key", "bad_key"):
        raise RecipientWithoutKey(result["message"] + ": cannot encrypt for them", username=username)
    if result["status"] == "key_changed":
        raise KeyChangeUnacknowledged(f"{username}'s key has changed: review and acknowledge the change first",
                                      username=username)
    return published


async def _known_keys(engine, origin, username, bio_raw) -> list:
    """Every key we accept as `username`'s for verifying posts: the pin, its history, and a
    pending (unacknowledged) new key. With no pin and a bio, pins on first use."""
    prims = engine.prims
    pin = await engine.store.get(_pin_key(origin, username))
    if pin is None and bio_raw is not None:
        await _check_key(engine, origin, username, bio_raw)
        pin = await engine.store.get(_pin_key(origin, username))
    if pin is None:
        return []
    publics = [pin["public"]] + [h["public"] for h in pin.get("history") or []]
    if pin.get("pending"):
        publics.append(pin["pending"]["public"])
    return [await _pk_from_public(prims, p) for p in publics]


async def _my_fingerprint(engine) -> str:
    rec = await engine.store.get("identity")
    if not rec:
        raise BadRequest("no identity yet: create or import one")
    return rec["fingerprint"]


async def h_keys_publish(engine, payload, context):
    bio = payload.get("bio_raw") or ""
    if not isinstance(bio, str):
        raise BadRequest("bio_raw must be a string")
    rec = await engine.store.get("identity")
    if not rec:
        raise BadRequest("no identity yet: create or import one")
    me = await _identity.import_identity(engine.prims, rec["public"])
    previous = None
    prev = payload.get("previous_backup")
    if prev is not None:  # announce a key change, signed by the old key opened from its backup
        _ext_only(context)
        if not isinstance(prev, dict):
            raise BadRequest("previous_backup must be {raw, secret}")
        previous = await inband.open_backup(engine.prims, _str(prev, "raw"), _str(prev, "secret"))
    block = await inband.make_bio_block(engine.prims, me, previous=previous)
    new = inband.put_bio_block(bio, block)
    pk = await inband.find_bio_block(engine.prims, new)
    return {"bio_raw": new, "fingerprint": pk.fingerprint_hex, "digits": pk.digits, "changed": new != bio,
            "key_change": pk.key_change.previous_fingerprint.hex() if pk.key_change else None}


async def h_keys_check(engine, payload, context):
    origin = _origin(payload, context)
    username = _username(payload.get("username"))
    bio = payload.get("bio_raw")
    if bio is not None and not isinstance(bio, str):
        raise BadRequest("bio_raw must be a string")
    result, _ = await _check_key(engine, origin, username, bio)
    return result


def _fp_arg(payload) -> str:
    fp = payload.get("fingerprint")
    if not isinstance(fp, str) or not inband._HEX64.fullmatch(fp):
        raise BadRequest("fingerprint must be 64 lower-case hex digits")
    return fp


async def h_keys_acknowledge(engine, payload, context):
    _ext_only(context)
    origin, username, fp = _origin(payload, context), _username(payload.get("username")), _fp_arg(payload)
    pin = await engine.store.get(_pin_key(origin, username))
    pending = (pin or {}).get("pending")
    if not pending or pending["fingerprint"] != fp:
        raise BadRequest(f"there is no pending key change of {username} to that fingerprint")
    pin["history"] = (pin.get("history") or []) + [{"fingerprint": pin["fingerprint"], "public": pin["public"]}]
    pin["verified"] = bool(pin.get("verified") and pending.get("change_signed"))
    pin["fingerprint"], pin["public"], pin["pending"] = pending["fingerprint"], pending["public"], None
    await engine.store.set(_pin_key(origin, username), pin)
    return {"username": username, "status": "verified" if pin["verified"] else "first_seen", "fingerprint": fp}


async def h_keys_mark_verified(engine, payload, context):
    _ext_only(context)
    origin, username, fp = _origin(payload, context), _username(payload.get("username")), _fp_arg(payload)
    pin = await engine.store.get(_pin_key(origin, username))
    if not pin or pin["fingerprint"] != fp:
        raise BadRequest(f"{username}'s pinned key does not have that fingerprint")
    if pin.get("pending"):
        raise BadRequest(f"{username}'s key has changed: acknowledge the change first")
    pin["verified"] = True
    await engine.store.set(_pin_key(origin, username), pin)
    return {"username": username, "status": "verified", "fingerprint": fp}


async def h_keys_safety_code(engine, payload, context):
    origin, username = _origin(payload, context), _username(payload.get("username"))
    pin = await engine.store.get(_pin_key(origin, username))
    if not pin:
        raise BadRequest(f"no key of {username} is known yet: check their key first")
    mine = await _my_fingerprint(engine)
    return {"username": username, "safety_code": await inband.safety_code(engine.prims, mine, pin["fingerprint"]),
            "qr": inband.safety_qr(mine, pin["fingerprint"]), "my_digits": inband.fingerprint_digits(mine),
            "their_digits": inband.fingerprint_digits(pin["fingerprint"]), "verified": bool(pin.get("verified"))}


# ------------------------------------------------------------------------------ backup
async def h_backup_make(engine, payload, context):
    _ext_only(context)
    backup_pass = payload.get("backup_passphrase")
    if backup_pass is not None and (not isinstance(backup_pass, str) or len(backup_pass) < 15):
        raise BadRequest("the backup passphrase must have at least 15 characters")
    want_paper = payload.get("paper_key") is True
    if backup_pass is None and not want_paper:
        raise BadRequest("a backup needs a backup passphrase or a paper key")
    _rec, inner = await engine.open_identity(payload.get("passphrase"))
    paper = paperkey.generate(engine.prims) if want_paper else None
    iterations = max(int(getattr(engine, "kdf_iterations", inband.DEFAULT_ITERATIONS)), 1)
    raw = await inband.make_backup(engine.prims, inner, backup_pass, iterations, paper_key=paper)
    out = {"raw": raw, "title": inband.BACKUP_TITLE, "info": inband.backup_info(raw)}
    if paper:
        out["paper_key"] = paper
    return out


async def h_backup_inspect(engine, payload, context):
    return inband.backup_info(_str(payload, "raw"))


async def h_backup_restore(engine, payload, context):
    _ext_only(context)
    raw, secret = _str(payload, "raw"), _str(payload, "secret")
    new_pass = payload.get("new_passphrase")
    if await engine.store.get("identity"):  # before the slow key derivation (checked again when saving)
        raise IdentityExists("an identity already exists: reset it first")
    ident = await inband.open_backup(engine.prims, raw, secret, extractable=True)
    rec = await engine.install_identity(ident, new_pass, "backup")
    return {"unlocked": True, "fingerprint": rec["fingerprint"], "version": rec["version"], "public": rec["public"]}


# ------------------------------------------------------------------------------ conversations
def _conv_key(origin, topic_id) -> str:
    return f"inband.conv.{origin}.{topic_id}"


async def _load_conv(engine, ident, origin, topic_id):
    rec = await engine.store.get(_conv_key(origin, topic_id))
    if not rec:
        raise ConversationUnknown("this conversation has not been opened on this device yet")
    key = await topickey.from_raw(engine.prims, await _unseal(engine, ident, rec["key"]), extractable=True)
    return rec, inband.Conversation(id=rec["conversation_id"], key=key, status=rec.get("status", ""))


async def _save_conv(engine, ident, origin, topic_id, conversation_id, key, meta: dict | None):
    rec = await engine.store.get(_conv_key(origin, topic_id)) or {}
    rec.update(conversation_id=conversation_id,
               key=await _seal(engine, ident, await topickey.to_raw(engine.prims, key)))
    if meta is not None:
        rec["meta"] = await _seal(engine, ident, json.dumps(meta).encode("utf-8"))
        rec["status"] = meta.get("status")
    await engine.store.set(_conv_key(origin, topic_id), rec)
    index = await engine.store.get(f"inband.convs.{origin}") or []
    if topic_id not in index:
        await engine.store.set(f"inband.convs.{origin}", index + [topic_id])
    cid_key = f"inband.cid.{origin}.{conversation_id}"
    first = await engine.store.get(cid_key)
    if first is None:
        await engine.store.set(cid_key, topic_id)
        return None
    return first if first != topic_id else None


async def _add_invited(engine, origin, topic_id, names) -> None:
    rec = await engine.store.get(_conv_key(origin, topic_id))
    if not rec:
        return
    invited = rec.get("invited") or []
    new = [n for n in names if n.lower() not in {i.lower() for i in invited}]
    if new:
        rec["invited"] = invited + new
        await engine.store.set(_conv_key(origin, topic_id), rec)


def _iso_seconds(text):
    from datetime import datetime
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, TypeError, ValueError):
        return None


async def h_conv_start(engine, payload, context):
    _ext_only(context)
    origin = _origin(payload, context)
    me = _username(payload.get("me"), "me")
    title, body = _str(payload, "title"), _str(payload, "body", empty=True)
    recipients = payload.get("recipients")
    if not isinstance(recipients, list) or not all(isinstance(r, dict) for r in recipients):
        raise BadRequest("recipients must be a list of {username, bio_raw}")
    ident = await engine.require_unlocked()
    keys = []
    for r in recipients:
        name, bio = _user_ref({"r": r}, "r")
        if name.lower() == me.lower():
            continue
        keys.append((name, await _sendable_key(engine, origin, name, bio)))
    new = await inband.start_conversation(engine.prims, ident, me, keys, title, body,
                                          inband.iso_time(engine.clock()), max_chars=_max_chars(payload))
    return {"raw": new.raw, "title": new.placeholder_title, "target_recipients": new.target_recipients,
            "conversation_id": new.conversation_id, "participants": new.participants}


async def h_conv_open(engine, payload, context):
    _ext_only(context)
    origin, topic_id = _origin(payload, context), _topic_id(payload)
    raw, me = _str(payload, "raw"), _username(payload.get("me"), "me")
    author, author_bio = _user_ref(payload, "author")
    ident = await engine.require_unlocked()
    stored = await engine.store.get(_conv_key(origin, topic_id))
    key = None
    if stored:
        key = await topickey.from_raw(engine.prims, await _unseal(engine, ident, stored["key"]), extractable=True)
    author_keys = await _known_keys(engine, origin, author, author_bio)
    try:
        conv = await inband.open_conversation(engine.prims, raw, me, ident, author_keys, key=key,
                                              poster_username=author)
    except AuthenticationFailed:
        if key is None:
            raise
        # the stored key is not this post's (e.g. a key share for another conversation was accepted
        # for this topic): fall back to my own wrapped key, if the first post has one
        try:
            conv = await inband.open_conversation(engine.prims, raw, me, ident, author_keys, poster_username=author)
        except inband.NotAParticipant:
            raise AuthenticationFailed("this first post does not belong to the conversation stored for this "
                                       "topic, and holds no key for me") from None
    allowed = payload.get("allowed_users")
    if allowed is not None and (not isinstance(allowed, list) or not all(isinstance(u, str) for u in allowed)):
        raise BadRequest("allowed_users must be a list of usernames")
    meta = {"title": conv.title, "author": conv.author, "participants": conv.participants,
            "created_at": conv.created_at, "status": conv.status}
    copied = await _save_conv(engine, ident, origin, topic_id, conv.id, conv.key, meta)
    invited = (await engine.store.get(_conv_key(origin, topic_id))).get("invited") or []
    out = {"topic_id": topic_id, "conversation_id": conv.id, "status": conv.status, "detail": conv.detail,
           "title": conv.title, "body": conv.body, "author": conv.author, "participants": conv.participants,
           "created_at": conv.created_at, "author_key": {"known": bool(author_keys)}, "invited": invited}
    if allowed is not None:
        keyed = {p[0].lower() for p in conv.participants} | {n.lower() for n in invited}
        out["without_key"] = sorted({u for u in allowed if u.lower() not in keyed}, key=str.lower)
    if copied is not None:
        out["copied_from_topic"] = copied
        out["detail"] = (out["detail"] + "; " if out["detail"] else "") + \
            f"the same conversation was first seen in topic {copied}: this may be a copy"
    return out


async def h_conv_accept_share(engine, payload, context):
    origin, topic_id = _origin(payload, context), _topic_id(payload)
    raw, me = _str(payload, "raw"), _username(payload.get("me"), "me")
    poster, poster_bio = _user_ref(payload, "poster")
    ident = await engine.require_unlocked()
    keys = await _known_keys(engine, origin, poster, poster_bio)
    share = await inband.read_key_share(engine.prims, raw, ident, keys, poster_username=poster, me_username=me)
    if share.status == inband.STATUS_VALID:
        existing = await engine.store.get(_conv_key(origin, topic_id))
        if existing and existing.get("conversation_id") != share.conversation_id:
            return {"topic_id": topic_id, "conversation_id": None, "status": inband.STATUS_WRONG_CONVERSATION,
                    "detail": "this topic already holds another conversation"}
        if not existing:
            await _save_conv(engine, ident, origin, topic_id, share.conversation_id, share.key, None)
            await _add_invited(engine, origin, topic_id, [me])
    return {"topic_id": topic_id, "conversation_id": share.conversation_id, "status": share.status,
            "detail": share.detail}


async def h_conv_read(engine, payload, context):
    _ext_only(context)
    origin, topic_id = _origin(payload, context), _topic_id(payload)
    posts = payload.get("posts")
    if not isinstance(posts, list) or not all(isinstance(p, dict) for p in posts):
        raise BadRequest("posts must be a list of {post_id, raw, username, bio_raw?}")
    ident = await engine.require_unlocked()
    _rec, conv = await _load_conv(engine, ident, origin, topic_id)
    seen_key = f"inband.msgids.{origin}.{topic_id}"
    seen = await engine.store.get(seen_key) or {}
    keys_cache: dict = {}
    invitees: list = []
    out = []
    for p in posts:
        post_id = p.get("post_id")
        if isinstance(post_id, bool) or not isinstance(post_id, int):
            raise BadRequest("post_id must be an integer")
        username = _username(p.get("username"), "posts[].username")
        raw, bio, server_time = p.get("raw"), p.get("bio_raw"), p.get("created_at")
        if not isinstance(raw, str) or (bio is not None and not isinstance(bio, str)):
            raise BadRequest("posts[].raw must be a string")
        if username.lower() not in keys_cache:
            keys_cache[username.lower()] = await _known_keys(engine, origin, username, bio)
        item = {"post_id": post_id, "kind": None, "status": "malformed", "detail": "", "body": None, "author": None,
                "created_at": None, "invitee": None, "invitee_fingerprint": None, "invitee_digits": None,
                "time_skew_seconds": None}
        try:
            r = await inband.read_post(engine.prims, conv, raw, keys_cache[username.lower()], poster_username=username)
        except PycoreError as e:
            item["detail"] = str(e)
            out.append(item)
            continue
        item.update(kind=r.kind, status=r.status, detail=r.detail, body=r.body, author=r.author_name,
                    created_at=r.created_at, invitee=r.invitee_name, invitee_fingerprint=r.invitee_fingerprint,
                    invitee_digits=inband.fingerprint_digits(r.invitee_fingerprint) if r.invitee_fingerprint else None)
        if r.status == inband.STATUS_VALID:
            signed_t, server_t = _iso_seconds(r.created_at), _iso_seconds(server_time)
            if signed_t is not None and server_t is not None:
                item["time_skew_seconds"] = int(round(server_t - signed_t))
            if r.kind == "key_share":
                invitees.append(r.invitee_name)
            first = seen.get(r.message_id)
            if first is not None and first != post_id:
                item.update(status=inband.STATUS_DUPLICATE, body=None,
                            detail=f"the same message was already posted as post {first}")
            else:
                seen[r.message_id] = post_id
        out.append(item)
    await engine.store.set(seen_key, seen)
    await _add_invited(engine, origin, topic_id, invitees)
    return {"posts": out}


async def h_conv_reply(engine, payload, context):
    _ext_only(context)
    origin, topic_id = _origin(payload, context), _topic_id(payload)
    me, body = _username(payload.get("me"), "me"), _str(payload, "body")
    ident = await engine.require_unlocked()
    _rec, conv = await _load_conv(engine, ident, origin, topic_id)
    raw = await inband.make_reply(engine.prims, conv, ident, me, body, inband.iso_time(engine.clock()),
                                  max_chars=_max_chars(payload))
    return {"raw": raw}


async def h_conv_share_key(engine, payload, context):
    _ext_only(context)
    origin, topic_id = _origin(payload, context), _topic_id(payload)
    me = _username(payload.get("me"), "me")
    invitee, bio = _user_ref(payload, "invitee")
    ident = await engine.require_unlocked()
    _rec, conv = await _load_conv(engine, ident, origin, topic_id)
    key = await _sendable_key(engine, origin, invitee, bio)
    raw = await inband.make_key_share(engine.prims, conv, ident, me, invitee, key, inband.iso_time(engine.clock()),
                                      max_chars=_max_chars(payload))
    return {"raw": raw, "invite": {"user": invitee}}


async def h_conv_list(engine, payload, context):
    _ext_only(context)
    origin = _origin(payload, context)
    ident = await engine.require_unlocked()
    out = []
    for topic_id in await engine.store.get(f"inband.convs.{origin}") or []:
        rec = await engine.store.get(_conv_key(origin, topic_id))
        if not rec:
            continue
        item = {"topic_id": topic_id, "conversation_id": rec["conversation_id"], "title": None, "author": None,
                "participants": [], "status": rec.get("status"), "created_at": None,
                "invited": rec.get("invited") or []}
        if rec.get("meta"):
            meta = json.loads((await _unseal(engine, ident, rec["meta"])).decode("utf-8"))
            item.update(title=meta.get("title"), author=meta.get("author"),
                        participants=meta.get("participants") or [], created_at=meta.get("created_at"))
        out.append(item)
    return {"conversations": out}


# ------------------------------------------------------------------------------ drafts
def _draft_store_key(payload, context) -> str:
    origin = _origin(payload, context)
    dk = payload.get("draft_key")
    if not isinstance(dk, str) or not _DRAFT_KEY.fullmatch(dk):
        raise BadRequest("draft_key must be 1-100 characters of A-Z a-z 0-9 _ . : -")
    return f"inband.draft.{origin}.{dk}"


async def h_drafts_save(engine, payload, context):
    _ext_only(context)
    key = _draft_store_key(payload, context)
    text = _str(payload, "text", empty=True)
    title = payload.get("title")
    if title is not None and not isinstance(title, str):
        raise BadRequest("title must be a string")
    ident = await engine.require_unlocked()
    now = engine.clock()
    data = json.dumps({"text": text, "title": title, "updated_at": now}).encode("utf-8")
    await engine.store.set(key, await _seal(engine, ident, data))
    return {"saved": True, "updated_at": now}


async def h_drafts_load(engine, payload, context):
    _ext_only(context)
    key = _draft_store_key(payload, context)
    ident = await engine.require_unlocked()
    sealed = await engine.store.get(key)
    if not sealed:
        return {"found": False, "text": None, "title": None, "updated_at": None}
    try:
        data = json.loads((await _unseal(engine, ident, sealed)).decode("utf-8"))
    except AuthenticationFailed:
        raise MalformedInput("this draft was saved under another key and cannot be read") from None
    return {"found": True, "text": data["text"], "title": data.get("title"), "updated_at": data.get("updated_at")}


async def h_drafts_delete(engine, payload, context):
    _ext_only(context)
    key = _draft_store_key(payload, context)
    existed = await engine.store.get(key) is not None
    await engine.store.delete(key)
    return {"deleted": existed}


HANDLERS = {
    "keys.publish": h_keys_publish,
    "keys.check": h_keys_check,
    "keys.acknowledge": h_keys_acknowledge,
    "keys.mark_verified": h_keys_mark_verified,
    "keys.safety_code": h_keys_safety_code,
    "backup.make": h_backup_make,
    "backup.inspect": h_backup_inspect,
    "backup.restore": h_backup_restore,
    "conv.start": h_conv_start,
    "conv.open": h_conv_open,
    "conv.accept_share": h_conv_accept_share,
    "conv.read": h_conv_read,
    "conv.reply": h_conv_reply,
    "conv.share_key": h_conv_share_key,
    "conv.list": h_conv_list,
    "drafts.save": h_drafts_save,
    "drafts.load": h_drafts_load,
    "drafts.delete": h_drafts_delete,
}

# Which handlers the content script may call (results hold only ciphertext and public data).
CONTENT_ALLOWED = frozenset({"keys.publish", "keys.check", "keys.safety_code", "backup.inspect", "conv.accept_share"})
