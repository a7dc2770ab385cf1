"""Conversations: starting one, opening a topic's first post, accepting a key share, reading
later posts, writing replies and key shares, and the list of conversations on this device.

| type | payload | result |
|---|---|---|
| conv.start | {origin, me, recipients: [{username, bio_raw}], title, body, max_chars?, files?: [{ref, carriers}] (files.seal's references, with the short urls the forum gave their carriers)} | {raw, title (placeholder), target_recipients, conversation_id, participants} |
| conv.open | {origin, topic_id, raw (first post), me, author: {username, bio_raw?}, allowed_users?: [username] (Discourse's details.allowed_users)} | {topic_id, conversation_id, status, detail, title, body, author, participants (the first post's), members (who holds the newest key), removed, epoch, removed_me ({epoch, by, at} or null), created_at, edited_at, history, history_omitted, files: [{name, mime, size, carriers, ref}], author_key, invited, without_key? (allowed users who hold no key: added by the server, invited without a key share, or removed), copied_from_topic?} |
| conv.accept_share | {origin, topic_id, raw (key-share post), me, poster: {username, bio_raw?}} | {topic_id, conversation_id, status, detail} (no plaintext) |
| conv.read | {origin, topic_id, posts: [{post_id, raw, username, bio_raw?, created_at? (Discourse's)}], only_cached?} | {posts: [{post_id, kind, status, detail, body, author, created_at (signed), time_skew_seconds (Discourse time minus signed time), invitee, invitee_fingerprint, invitee_digits, edited_at, history: [{raw, at}], history_omitted, files: [{name, mime, size, carriers, ref}] (open with files.open), epoch, rekey: {epoch, removed, members, given} (a key change), superseded: {epoch, by, removed} (written with an earlier key after a key change), author_key: {status, fingerprint, digits, verified, own}}], conversation: {id, title}} — with only_cached, a post not read yet is status "pending" (nothing is decrypted) |
| conv.prepare | {origin, topic_id, posts: [as conv.read]} (from the content script) | {read, decrypted} — the results stay in the engine's read cache for the page's viewers |
| test.read_stats | {clear?} (test builds) | {decrypted, hits, entries} |
| conv.reply | {origin, topic_id, conversation_id (the one the composer shows), me, body, max_chars?, files?} | {raw} |
| conv.edit | {origin, topic_id, conversation_id, me, raw (the post's current raw), body, max_chars?} | {raw}: a new signed version of my post, for PUT /posts/{post_id}.json |
| conv.share_key | {origin, topic_id, conversation_id, me, invitee: {username, bio_raw}, max_chars?} | {raw, invite: {user}} — post `raw`, then POST /t/{topic_id}/invite.json |
| conv.rekey | {origin, topic_id, conversation_id, me, remove: [username], members: [{username, bio_raw}] (everyone who stays, me aside), max_chars?} | {raw, epoch, remove: [username]} — post `raw`, read it back (conv.read: the new key is taken from the forum's copy), then PUT /t/{topic_id}/remove-allowed-user.json |
| conv.missing_key | {raw (first post or key share), bio_raw (mine)} | {known, where? ("published" or "previous"), digits?}: the key of mine, named by my profile, that the post is wrapped to |
| conv.list | {origin} | {conversations: [{topic_id, conversation_id, title, author, participants, invited, status, created_at, indexed (the search index holds it), removed_by (who removed me by a key change, or null)}]} |

Statuses of posts: pycore.inband's (valid, invalid_signature, wrong_conversation, wrong_author,
unsigned, unverified, cannot_decrypt, key_not_accepted, key_not_given) plus "duplicate" (a message
id already seen in another post), "rekey_conflict" (a second key change for a step already taken)
and "malformed" (not an encrypted message). Only "valid" posts carry a body.

Key epochs (PROTOCOL §6.7): the record keeps each later epoch's key, sealed, with the rekey post
that gave it (`epochs`), the names removed (`removed`) and, when a rekey left me out,
`removed_me`. A rekey counts when its author held the key of the epoch before it and was a member
then, and it is the first one read for its epoch.

A post read once is served from the engine's read cache (pycore.engine.reads) while its
conversation record, its author's pin and my identity are unchanged: viewers re-created by
cloaking or a return to the topic cost no decryption.
"""

from __future__ import annotations

import json
from datetime import datetime

from ... import inband
from ...errors import (AuthenticationFailed, BadRequest, ConversationChanged, ConversationUnknown, MalformedInput,
                       NotAParticipant, NotInConversation, PycoreError, RemovedFromConversation)
from ...plugin import topickey
from .. import args, at_rest, reads
from .. import store as names
from ..pins import check_key, device_fingerprint, known_keys, sendable_key, unaccepted_fingerprints
from . import files as _files
from . import search


async def _load_conv(engine, ident, origin, topic_id):
    rec = await engine.store.get(names.conversation(origin, topic_id))
    if not rec:
        raise ConversationUnknown("this conversation has not been opened on this device yet")
    key = await _stored_key(engine, ident, rec)
    if key is None:
        raise ConversationUnknown("this conversation's stored key cannot be opened on this device: open its first post again")
    conv = inband.Conversation(id=rec["conversation_id"], key=key, status=rec.get("status", ""))
    conv.later_keys = await _later_keys(engine, ident, rec)
    return rec, conv


async def _later_keys(engine, ident, rec) -> dict:
    """epoch -> key of the later epochs stored in `rec` (one that does not open is left out:
    reading its rekey post again stores it again)."""
    out = {}
    for n, e in (rec.get("epochs") or {}).items():
        try:
            out[int(n)] = await topickey.from_raw(engine.prims, await at_rest.open_vault(engine, ident, e["key"]),
                                                  extractable=True)
        except (AuthenticationFailed, MalformedInput, KeyError, TypeError, ValueError):
            continue
    return out


def _epoch_state(rec) -> list:
    """What a cached read result depends on in the key epochs: which rekey gave each epoch, and
    whether one removed me."""
    epochs = sorted((int(n), e.get("post_id")) for n, e in (rec.get("epochs") or {}).items())
    return [epochs, (rec.get("removed_me") or {}).get("post_id"), sorted(rec.get("removed") or [])]


def _members(rec, meta) -> list:
    """Who holds the newest key, as this device knows it: the newest rekey's list (or the first
    post's), with those invited by a key share since and without those removed since."""
    epochs = rec.get("epochs") or {}
    with_list = [n for n in epochs if epochs[n].get("participants")]
    newest = max(with_list, key=int, default=None)
    base = epochs[newest]["participants"] if newest is not None else meta.get("participants")
    names = [p[0] for p in base or [] if isinstance(p, list) and p]
    removed = {r.lower() for r in rec.get("removed") or []}
    for n in rec.get("invited") or []:
        if n.lower() not in {x.lower() for x in names}:
            names.append(n)
    return [n for n in names if n.lower() not in removed]


async def _stored_key(engine, ident, rec):
    """The conversation key stored in `rec`, or None when it was sealed under a vault key this
    identity does not hold (the first post, on the forum, gives it again)."""
    try:
        return await topickey.from_raw(engine.prims, await at_rest.open_vault(engine, ident, rec["key"]), extractable=True)
    except (AuthenticationFailed, MalformedInput, KeyError, TypeError):
        return None


async def _meta(engine, ident, rec) -> dict:
    """The decrypted title, author and participants of a stored conversation ({} before its first
    post was read on this device)."""
    if not rec.get("meta"):
        return {}
    try:
        return json.loads((await at_rest.open_vault(engine, ident, rec["meta"])).decode("utf-8"))
    except (AuthenticationFailed, MalformedInput):
        return {}


async def _save_conv(engine, ident, origin, topic_id, conversation_id, key, meta: dict | None):
    rec = await engine.store.get(names.conversation(origin, topic_id)) or {}
    rec.update(conversation_id=conversation_id,
               key=await at_rest.seal_vault(engine, ident, await topickey.to_raw(engine.prims, key)))
    if meta is not None:
        rec["meta"] = await at_rest.seal_vault(engine, ident, json.dumps(meta).encode("utf-8"))
        rec["status"] = meta.get("status")
    await engine.store.set(names.conversation(origin, topic_id), rec)
    await list_topic(engine, origin, topic_id)
    cid_key = names.conversation_first_topic(origin, conversation_id)
    first = await engine.store.get(cid_key)
    if first is None:
        await engine.store.set(cid_key, topic_id)
        return None
    return first if first != topic_id else None


async def list_topic(engine, origin, topic_id) -> None:
    """Adds the topic to the forum's list of conversations on this device (once)."""
    index = await engine.store.get(names.conversation_index(origin)) or []
    if topic_id not in index:
        await engine.store.set(names.conversation_index(origin), index + [topic_id])


async def _add_invited(engine, origin, topic_id, usernames) -> None:
    rec = await engine.store.get(names.conversation(origin, topic_id))
    if not rec:
        return
    invited = rec.get("invited") or []
    new = [n for n, _ in usernames if n.lower() not in {i.lower() for i in invited}]
    # a key share in the newest epoch gives its invitee the newest key: invited again after a removal
    newest = max((int(n) for n in rec.get("epochs") or {}), default=0)
    back = {n.lower() for n, epoch in usernames if epoch >= newest}
    removed = [r for r in rec.get("removed") or [] if r.lower() not in back]
    if new or removed != (rec.get("removed") or []):
        rec["invited"] = invited + new
        if rec.get("removed") is not None:
            rec["removed"] = removed
        await engine.store.set(names.conversation(origin, topic_id), rec)


def _iso_seconds(text):
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, TypeError, ValueError):
        return None


async def start(engine, payload, context):
    origin = args.origin(payload, context)
    me = args.username(payload.get("me"), "me")
    title, body = args.text(payload, "title"), args.text(payload, "body", empty=True)
    recipients = payload.get("recipients")
    if not isinstance(recipients, list) or not all(isinstance(r, dict) for r in recipients):
        raise BadRequest("recipients must be a list of {username, bio_raw}")
    ident = await engine.require_unlocked()
    keys = []
    for r in recipients:
        name, bio = args.user_ref({"r": r}, "r")
        if name.lower() == me.lower():
            continue
        keys.append((name, await sendable_key(engine, origin, name, bio)))
    new = await inband.start_conversation(engine.prims, ident, me, keys, title, body,
                                          inband.iso_time(engine.clock()), max_chars=args.max_chars(payload),
                                          files=_files.to_send(payload))
    return {"raw": new.raw, "title": new.placeholder_title, "target_recipients": new.target_recipients,
            "conversation_id": new.conversation_id, "participants": new.participants}


async def _open_with_my_keys(engine, ident, raw, me, author_keys, author, unaccepted):
    """Opens a first post with the key wrapped for me: my current identity first, then the
    identities this device replaced (posts sent before the replacement are wrapped to those)."""
    try:
        return await inband.open_conversation(engine.prims, raw, me, ident, author_keys, poster_username=author,
                                              unaccepted=unaccepted)
    except NotAParticipant:
        for old in await at_rest.retired_identities(engine, ident):
            try:
                return await inband.open_conversation(engine.prims, raw, me, old, author_keys, poster_username=author,
                                                      unaccepted=unaccepted)
            except NotAParticipant:
                continue
        raise


async def open_first_post(engine, payload, context):
    origin, topic_id = args.origin(payload, context), args.topic_id(payload)
    raw, me = args.text(payload, "raw"), args.username(payload.get("me"), "me")
    author, author_bio = args.user_ref(payload, "author")
    ident = await engine.require_unlocked()
    stored = await engine.store.get(names.conversation(origin, topic_id))
    key = None
    if stored:
        key = await _stored_key(engine, ident, stored)
    author_keys = await known_keys(engine, origin, author, author_bio)
    unaccepted = await unaccepted_fingerprints(engine, origin, author)
    allowed = args.usernames(payload, "allowed_users")
    if key is not None:
        try:
            conv = await inband.open_conversation(engine.prims, raw, me, ident, author_keys, key=key,
                                                  poster_username=author, unaccepted=unaccepted)
        except AuthenticationFailed:
            # the stored key is not this post's (e.g. a key share for another conversation was
            # accepted for this topic): fall back to my own wrapped key, if the first post has one
            try:
                conv = await _open_with_my_keys(engine, ident, raw, me, author_keys, author, unaccepted)
            except NotAParticipant:
                raise AuthenticationFailed("this first post does not belong to the conversation stored for this "
                                           "topic, and holds no key for me") from None
    else:
        conv = await _open_with_my_keys(engine, ident, raw, me, author_keys, author, unaccepted)
    meta = {"title": conv.title, "author": conv.author, "participants": conv.participants,
            "created_at": conv.created_at, "status": conv.status}
    copied = await _save_conv(engine, ident, origin, topic_id, conv.id, conv.key, meta)
    if conv.status == inband.STATUS_VALID:
        await search.feed(engine, ident, origin, topic_id, title=conv.title,
                          posts=[(search.FIRST_POST, conv.author, conv.created_at, conv.body)])
    rec = await engine.store.get(names.conversation(origin, topic_id))
    invited = rec.get("invited") or []
    members = _members(rec, meta)
    removed_me = rec.get("removed_me")
    out = {"topic_id": topic_id, "conversation_id": conv.id, "status": conv.status, "detail": conv.detail,
           "title": conv.title, "body": conv.body, "author": conv.author, "participants": conv.participants,
           "members": members, "removed": rec.get("removed") or [],
           "epoch": max((int(n) for n in rec.get("epochs") or {}), default=0),
           "removed_me": {k: removed_me.get(k) for k in ("epoch", "by", "at")} if removed_me else None,
           "created_at": conv.created_at, "edited_at": conv.edited_at, "history": conv.history,
           "history_omitted": conv.history_omitted, "files": _files.described(conv.files),
           "author_key": {"known": bool(author_keys)}, "invited": invited}
    if allowed is not None:
        keyed = {n.lower() for n in members}
        out["without_key"] = sorted({u for u in allowed if u.lower() not in keyed}, key=str.lower)
    if copied is not None:
        out["copied_from_topic"] = copied
        out["detail"] = (out["detail"] + "; " if out["detail"] else "") + \
            f"the same conversation was first seen in topic {copied}: this may be a copy"
    return out


async def accept_share(engine, payload, context):
    origin, topic_id = args.origin(payload, context), args.topic_id(payload)
    raw, me = args.text(payload, "raw"), args.username(payload.get("me"), "me")
    poster, poster_bio = args.user_ref(payload, "poster")
    ident = await engine.require_unlocked()
    keys = await known_keys(engine, origin, poster, poster_bio)
    share = await inband.read_key_share(engine.prims, raw, ident, keys, poster_username=poster, me_username=me,
                                        unaccepted=await unaccepted_fingerprints(engine, origin, poster))
    if share.status == inband.STATUS_VALID:
        existing = await engine.store.get(names.conversation(origin, topic_id))
        if existing and existing.get("conversation_id") != share.conversation_id:
            return {"topic_id": topic_id, "conversation_id": None, "status": inband.STATUS_WRONG_CONVERSATION,
                    "detail": "this topic already holds another conversation"}
        # a record without a key this device can open (one listed by device sync) takes the share's
        if not existing or await _stored_key(engine, ident, existing) is None:
            await _save_conv(engine, ident, origin, topic_id, share.conversation_id, share.key, None)
            await _add_invited(engine, origin, topic_id, [(me, max(share.later_keys, default=0))])
            if share.later_keys:
                rec = await engine.store.get(names.conversation(origin, topic_id))
                epochs = rec.get("epochs") or {}
                for n, key in share.later_keys.items():
                    epochs.setdefault(str(n), {"key": await at_rest.seal_vault(engine, ident, await topickey.to_raw(
                        engine.prims, key)), "post_id": None, "by": share.inviter_name, "at": share.created_at,
                        "participants": [], "removed": []})
                rec["epochs"] = epochs
                await engine.store.set(names.conversation(origin, topic_id), rec)
    return {"topic_id": topic_id, "conversation_id": share.conversation_id, "status": share.status,
            "detail": share.detail}


def _post_refs(payload) -> list[dict]:
    posts = payload.get("posts")
    if not isinstance(posts, list) or not all(isinstance(p, dict) for p in posts):
        raise BadRequest("posts must be a list of {post_id, raw, username, bio_raw?}")
    out = []
    for p in posts:
        post_id = p.get("post_id")
        if isinstance(post_id, bool) or not isinstance(post_id, int):
            raise BadRequest("post_id must be an integer")
        username = args.username(p.get("username"), "posts[].username")
        raw, bio, server_time = p.get("raw"), p.get("bio_raw"), p.get("created_at")
        if not isinstance(raw, str) or (bio is not None and not isinstance(bio, str)):
            raise BadRequest("posts[].raw must be a string")
        out.append({"post_id": post_id, "username": username, "raw": raw, "bio_raw": bio,
                    "created_at": server_time if isinstance(server_time, str) else None})
    return out


def _key_badge(result: dict, own: set) -> dict:
    """The author's key as the viewer's header shows it (public data)."""
    fp = result.get("fingerprint")
    return {"status": result.get("status"), "fingerprint": fp, "digits": result.get("digits"),
            "verified": bool(result.get("verified")), "own": bool(fp and fp in own)}


def _pin_badge(pin, own: set) -> dict:
    if not pin:
        return _key_badge({"status": "no_key"}, own)
    status = "key_changed" if pin.get("pending") else "verified" if pin.get("verified") else "first_seen"
    return _key_badge({"status": status, "fingerprint": pin["fingerprint"], "verified": pin.get("verified"),
                       "digits": inband.fingerprint_digits(pin["fingerprint"])}, own)


_EMPTY_ITEM = {"kind": None, "status": "malformed", "detail": "", "body": None, "author": None, "created_at": None,
               "invitee": None, "invitee_fingerprint": None, "invitee_digits": None, "time_skew_seconds": None,
               "edited_at": None, "history": [], "history_omitted": 0, "epoch": 0, "rekey": None, "superseded": None,
               "files": []}
# Posts whose cryptography is in flight at once: WebCrypto runs them on the browser's threads,
# and each group costs two calls into JavaScript (inband.read_posts).
_CONCURRENT_READS = 256


async def _read_all(engine, conv, refs, authors, mine=()):
    """inband.read_posts of every ref, `_CONCURRENT_READS` at a time; a PycoreError in place of
    the result of a post that is not an encrypted message. `mine`: my identities, current first
    (a rekey's new key is unwrapped with them)."""
    posts = []
    for ref in refs:
        accepted, unaccepted = authors[ref["username"].lower()]
        posts.append(inband.PostToRead(ref["raw"], accepted, ref["username"], unaccepted))
    out = []
    for i in range(0, len(posts), _CONCURRENT_READS):
        out += await inband.read_posts(engine.prims, conv, posts[i:i + _CONCURRENT_READS], my_identities=mine)
    return out


def _with_request(item: dict, ref: dict, badge: dict) -> dict:
    """A read result completed with what depends on this request: Discourse's time of the post
    (the skew) and the author's key as it stands."""
    out = dict(item, post_id=ref["post_id"], author_key=badge)
    signed_t, server_t = _iso_seconds(item.get("created_at")), _iso_seconds(ref["created_at"])
    out["time_skew_seconds"] = (int(round(server_t - signed_t)) if item.get("status") == inband.STATUS_VALID
                                and signed_t is not None and server_t is not None else None)
    return out


async def _read_refs(engine, origin, topic_id, refs, *, only_cached=False):
    """The read results of `refs` (in order) and the stored conversation record. Results already
    verified against the same stored state come from the engine's read cache (pycore.engine.reads);
    the others are decrypted and verified together, one batch per topic at a time."""
    ident = await engine.require_unlocked()
    rec = await engine.store.get(names.conversation(origin, topic_id))
    if not rec:
        raise ConversationUnknown("this conversation has not been opened on this device yet")
    me_rec = await engine.store.get(names.IDENTITY) or {}
    own = _own_fingerprints(me_rec)
    users: dict = {}
    for ref in refs:
        u = users.setdefault(ref["username"].lower(), {"name": ref["username"], "bio": None})
        if ref["bio_raw"] is not None and u["bio"] is None:
            u["bio"] = ref["bio_raw"]
    # The author's published key first (first use pins it, a different one is recorded as a
    # change): the pin as it is afterwards is part of what a cached result must match.
    badges, tokens = {}, {}
    timer = engine.reads.phase("authors (bio keys, pins)")
    timer.__enter__()
    for lower, u in users.items():
        if u["bio"] is not None:
            result, _ = await check_key(engine, origin, u["name"], u["bio"])
            badges[lower] = _key_badge(result, own)
        pin = await engine.store.get(names.pin(origin, u["name"]))
        badges.setdefault(lower, _pin_badge(pin, own))
        tokens[lower] = _trust_token(rec, pin, me_rec)
    timer.__exit__(None, None, None)
    cache = engine.reads
    keys = [reads.post_key(origin, topic_id, r["post_id"], r["raw"]) for r in refs]
    out: list = [None] * len(refs)

    def from_cache(indexes):
        left = []
        for i in indexes:
            hit = cache.get(keys[i], tokens[refs[i]["username"].lower()])
            if hit is None:
                left.append(i)
            else:
                out[i] = _with_request(hit, refs[i], badges[refs[i]["username"].lower()])
        return left

    with engine.reads.phase("cache lookups"):
        missing = from_cache(range(len(refs)))
    if missing and only_cached:
        for i in missing:
            out[i] = dict(_EMPTY_ITEM, post_id=refs[i]["post_id"], status="pending",
                          detail="not read yet", author_key=badges[refs[i]["username"].lower()])
        missing = []
    if missing:
        async with cache.topic_lock(origin, topic_id):
            missing = from_cache(missing)   # a batch that held the lock may have read them
            if missing:
                await _read_missing(engine, ident, origin, topic_id, refs, keys, missing, users, tokens, badges, out,
                                    _epoch_state(rec))
                rec = await engine.store.get(names.conversation(origin, topic_id))
    return out, rec, ident


def _own_fingerprints(me_rec) -> set:
    """The fingerprints of my identity and of those it replaced (public data of my record)."""
    return {f for f in [me_rec.get("fingerprint"), *(r.get("fingerprint") for r in me_rec.get("retired") or []
                                                    if isinstance(r, dict))] if f}


def _trust_token(rec, pin, me_rec) -> str:
    """What a cached read result of a post depends on: the conversation by its id (a signed post
    binds that id; the sealed key record is re-sealed, with a fresh IV, whenever the first post is
    opened again) and its key epochs, the author's pin, and my identity record."""
    return reads.trust_token(rec.get("conversation_id"), _epoch_state(rec), pin, me_rec.get("public"),
                             me_rec.get("retired"))


async def _read_missing(engine, ident, origin, topic_id, refs, keys, missing, users, tokens, badges, out,
                        tokens_epochs):
    """Reads the `missing` refs and caches their results. `tokens_epochs`: the key-epoch state
    the `tokens` were computed with."""
    with engine.reads.phase("conversation key"):
        rec, conv = await _load_conv(engine, ident, origin, topic_id)
    authors = {}
    with engine.reads.phase("authors' accepted keys"):
        for i in missing:
            lower = refs[i]["username"].lower()
            if lower not in authors:
                u = users[lower]
                authors[lower] = (await known_keys(engine, origin, u["name"], u["bio"]),
                                  await unaccepted_fingerprints(engine, origin, u["name"]))
    results: dict = {}
    with engine.reads.phase("decrypt + verify (read_posts, batched)"):
        # Key changes first, one at a time in the topic's order: each gives the key of the posts
        # after it. A key change the hint did not show, or a post of an epoch learned only now,
        # is read again once the batch taught a new key.
        hinted = sorted((i for i in missing if refs[i]["raw"].startswith(inband.REKEY_HINT)),
                        key=lambda i: refs[i]["post_id"])
        # my identities unwrap a key change's new key; the replaced ones are imported only then
        mine = [ident, *(await at_rest.retired_identities(engine, ident) if hinted else [])]
        todo = [i for i in missing if i not in set(hinted)]
        for i in hinted:
            results[i] = (await _read_all(engine, conv, [refs[i]], authors, mine))[0]
            await _take_rekey(engine, ident, origin, topic_id, rec, conv, refs[i], results[i])
        while todo:
            before = conv.newest_epoch, len(conv.later_keys)
            for i, r in zip(todo, await _read_all(engine, conv, [refs[i] for i in todo], authors, mine)):
                results[i] = r
            for i in sorted((i for i in todo if getattr(results[i], "kind", None) == "rekey"),
                            key=lambda i: (results[i].epoch, refs[i]["post_id"])):
                await _take_rekey(engine, ident, origin, topic_id, rec, conv, refs[i], results[i])
            if (conv.newest_epoch, len(conv.later_keys)) == before:
                break
            todo = [i for i in todo if getattr(results[i], "status", None) == inband.STATUS_KEY_NOT_GIVEN]
    if _epoch_state(rec) != tokens_epochs:
        # a key change (of this batch, or of one that held the topic's lock before it) changed
        # what the cached results depend on
        me_rec = await engine.store.get(names.IDENTITY) or {}
        for lower, u in users.items():
            tokens[lower] = _trust_token(rec, await engine.store.get(names.pin(origin, u["name"])), me_rec)
    timer = engine.reads.phase("results, duplicates, store")
    timer.__enter__()
    engine.reads.decrypted += len(missing)
    seen_key = names.message_ids(origin, topic_id)
    seen = await engine.store.get(seen_key) or {}
    seen_before = dict(seen)
    invitees: list = []
    searchable: list = []
    for i in missing:
        r = results[i]
        ref = refs[i]
        item = dict(_EMPTY_ITEM)
        if isinstance(r, PycoreError):
            item["detail"] = str(r)
        else:
            item.update(kind=r.kind, status=r.status, detail=r.detail, body=r.body, author=r.author_name,
                        created_at=r.created_at, invitee=r.invitee_name, invitee_fingerprint=r.invitee_fingerprint,
                        invitee_digits=inband.fingerprint_digits(r.invitee_fingerprint) if r.invitee_fingerprint
                        else None, edited_at=r.edited_at, history=r.history, history_omitted=r.history_omitted,
                        epoch=r.epoch, files=_files.described(r.files))
            if r.kind == "rekey":
                item.update(_rekey_item(rec, ref, r))
            if item["status"] == inband.STATUS_VALID:
                if r.kind == "key_share":
                    invitees.append((r.invitee_name, r.epoch))
                first = seen.get(r.message_id)
                if first is not None and first != ref["post_id"]:
                    item.update(status=inband.STATUS_DUPLICATE, body=None,
                                detail=f"the same message was already posted as post {first}")
                else:
                    seen[r.message_id] = ref["post_id"]
                    if r.kind == "reply":
                        searchable.append((ref["post_id"], r.author_name, r.created_at, r.body))
                if r.kind != "rekey":
                    item["superseded"] = _superseded(rec, ref, r)
        lower = ref["username"].lower()
        engine.reads.put(keys[i], tokens[lower], item)
        out[i] = _with_request(item, ref, badges[lower])
    if seen != seen_before:
        await engine.store.set(seen_key, seen)
    await _add_invited(engine, origin, topic_id, invitees)
    if searchable:
        await search.feed(engine, ident, origin, topic_id, posts=searchable)
    timer.__exit__(None, None, None)


STATUS_REKEY_CONFLICT = "rekey_conflict"


def _members_before(rec, meta_participants, epoch: int) -> set:
    """Lower-case names of who held the key of `epoch` - 1, as far as this device knows."""
    epochs = rec.get("epochs") or {}
    prev = epochs.get(str(epoch - 1)) if epoch > 1 else None
    base = prev.get("participants") if prev and prev.get("participants") else meta_participants
    return {p[0].lower() for p in base or [] if isinstance(p, list) and p} | \
        {n.lower() for n in rec.get("invited") or []}


async def _take_rekey(engine, ident, origin, topic_id, rec, conv, ref, r) -> None:
    """Stores what a valid rekey post teaches: the key of its epoch (or that it removed me), who
    stays and who was removed. `r.status` is changed when the key change does not count."""
    if not isinstance(r, inband.ReadPost) or r.kind != "rekey" or r.status != inband.STATUS_VALID:
        return
    meta = await _meta(engine, ident, rec)
    if r.author_name.lower() not in _members_before(rec, meta.get("participants"), r.epoch):
        r.status, r.detail = inband.STATUS_WRONG_AUTHOR, "the key was changed by someone who was not a participant"
        return
    epochs = rec.setdefault("epochs", {})
    known = epochs.get(str(r.epoch))
    if known is not None and known.get("post_id") not in (None, ref["post_id"]):
        r.status, r.detail = STATUS_REKEY_CONFLICT, (f"the conversation's key was already changed to key number "
                                                     f"{r.epoch} in post {known['post_id']}: this change is ignored")
        return
    removed_me = rec.get("removed_me")
    if removed_me and removed_me.get("post_id") not in (None, ref["post_id"]) and removed_me.get("epoch") == r.epoch:
        r.status, r.detail = STATUS_REKEY_CONFLICT, "another key change for this step was read first: this one is ignored"
        return
    entry = {"post_id": ref["post_id"], "by": r.author_name, "at": r.created_at, "participants": r.participants,
             "removed": r.removed}
    if r.new_key is not None:
        entry["key"] = await at_rest.seal_vault(engine, ident, await topickey.to_raw(engine.prims, r.new_key))
        conv.later_keys[r.epoch] = r.new_key
    elif known is not None and known.get("key"):
        entry["key"] = known["key"]      # the key came with a key share; this post names who holds it
    elif {p[1] for p in r.participants} & _own_fingerprints(await engine.store.get(names.IDENTITY) or {}):
        r.status, r.detail = inband.STATUS_INVALID_SIGNATURE, "the new key listed for me does not open with my key"
        return
    else:
        rec["removed_me"] = {"epoch": r.epoch, "by": r.author_name, "at": r.created_at, "post_id": ref["post_id"]}
        await engine.store.set(names.conversation(origin, topic_id), rec)
        return
    epochs[str(r.epoch)] = entry
    staying = {p[0].lower() for p in r.participants}
    rec["removed"] = sorted({n for n in [*(rec.get("removed") or []), *r.removed] if n.lower() not in staying},
                            key=str.lower)
    await engine.store.set(names.conversation(origin, topic_id), rec)


def _rekey_item(rec, ref, r) -> dict:
    """The viewer's view of a rekey post: who changed the key, who stays, who was removed, and
    whether this device got the new key."""
    if r.status != inband.STATUS_VALID:
        return {"rekey": None}
    entry = (rec.get("epochs") or {}).get(str(r.epoch)) or {}
    given = entry.get("post_id") == ref["post_id"] and bool(entry.get("key"))
    return {"rekey": {"epoch": r.epoch, "removed": r.removed, "members": [p[0] for p in r.participants],
                      "given": given}}


def _superseded(rec, ref, r):
    """For a valid post written with an earlier key than the newest: the key change it came
    after (by the forum's order or by its signed time), or None. Those removed by that change
    can read such a post."""
    for n in sorted(int(k) for k in rec.get("epochs") or {}):
        e = rec["epochs"][str(n)]
        if n <= r.epoch or e.get("post_id") is None:
            continue
        signed_after = (_iso_seconds(r.created_at) or 0) > (_iso_seconds(e.get("at")) or float("inf"))
        if ref["post_id"] > e["post_id"] or signed_after:
            return {"epoch": n, "by": e.get("by"), "removed": e.get("removed") or []}
    return None


async def read_posts(engine, payload, context):
    origin, topic_id = args.origin(payload, context), args.topic_id(payload)
    refs = _post_refs(payload)
    only_cached = payload.get("only_cached") is True
    out, rec, ident = await _read_refs(engine, origin, topic_id, refs, only_cached=only_cached)
    meta = await engine.reads.meta(rec, lambda: _meta(engine, ident, rec))
    return {"posts": out, "conversation": {"id": rec["conversation_id"], "title": meta.get("title")}}


async def prepare_posts(engine, payload, context):
    """A page view reads its topic's posts ahead, in batches, for its viewer frames: the results
    stay in the engine (the content script that asks gets counts only)."""
    origin, topic_id = args.origin(payload, context), args.topic_id(payload)
    refs = _post_refs(payload)
    before = engine.reads.decrypted
    out, _rec, _ident = await _read_refs(engine, origin, topic_id, refs)
    return {"read": len(out), "decrypted": engine.reads.decrypted - before}


async def read_stats(engine, payload, context):
    """Test builds: how many posts this engine decrypted and how many it served from its cache
    (counts only); `clear` empties the cache first."""
    if payload.get("clear") is True:
        engine.reads.clear()
    return engine.reads.stats()


async def _conversation_for_sending(engine, ident, payload, origin, topic_id):
    """(record, conversation) stored for the topic, which must be the one the composer showed the
    user (`conversation_id`): a page that swaps topic ids cannot make a reply go to another one."""
    rec, conv = await _load_conv(engine, ident, origin, topic_id)
    wanted = payload.get("conversation_id")
    if not isinstance(wanted, str) or wanted != conv.id:
        raise ConversationChanged("this topic holds another conversation than the one shown: nothing was encrypted")
    removed_me = rec.get("removed_me")
    if removed_me and conv.newest_epoch < removed_me.get("epoch", 0):
        raise RemovedFromConversation(f"{removed_me.get('by')} removed you from this conversation: its participants "
                                      "no longer read what you write in it", username=str(removed_me.get("by")))
    return rec, conv


async def reply(engine, payload, context):
    origin, topic_id = args.origin(payload, context), args.topic_id(payload)
    files = _files.to_send(payload)
    # a reply may be its files alone
    me, body = args.username(payload.get("me"), "me"), args.text(payload, "body", empty=bool(files))
    ident = await engine.require_unlocked()
    _rec, conv = await _conversation_for_sending(engine, ident, payload, origin, topic_id)
    raw = await inband.make_reply(engine.prims, conv, ident, me, body, inband.iso_time(engine.clock()),
                                  max_chars=args.max_chars(payload), files=files)
    return {"raw": raw}


async def edit(engine, payload, context):
    """A new version of one of my posts. The previous version is the forum's current raw of the
    post, which the forum could have swapped: make_revision accepts it only when it opens with
    this conversation's key and carries my valid signature, so an edit never re-signs someone
    else's words."""
    origin, topic_id = args.origin(payload, context), args.topic_id(payload)
    me, body = args.username(payload.get("me"), "me"), args.text(payload, "body")
    previous = args.text(payload, "raw")
    ident = await engine.require_unlocked()
    _rec, conv = await _conversation_for_sending(engine, ident, payload, origin, topic_id)
    retired = [await inband.key_of(engine.prims, old) for old in await at_rest.retired_identities(engine, ident)]
    raw = await inband.make_revision(engine.prims, conv, ident, me, previous, body, inband.iso_time(engine.clock()),
                                     own_keys=retired, max_chars=args.max_chars(payload))
    return {"raw": raw}


async def share_key(engine, payload, context):
    origin, topic_id = args.origin(payload, context), args.topic_id(payload)
    me = args.username(payload.get("me"), "me")
    invitee, bio = args.user_ref(payload, "invitee")
    ident = await engine.require_unlocked()
    _rec, conv = await _conversation_for_sending(engine, ident, payload, origin, topic_id)
    key = await sendable_key(engine, origin, invitee, bio)
    raw = await inband.make_key_share(engine.prims, conv, ident, me, invitee, key, inband.iso_time(engine.clock()),
                                      max_chars=args.max_chars(payload))
    return {"raw": raw, "invite": {"user": invitee}}


async def rekey(engine, payload, context):
    """Removes participants for real: a new conversation key for everyone who stays. Who is in the
    conversation comes from this device's record (the first post, verified invites and key
    changes), never from the page; the page only gives the bios of those who stay, whose keys are
    checked against the pins like a recipient's. Nothing is stored here: the new key is taken
    when the posted rekey is read back from the forum, so a post that never lands changes nothing."""
    origin, topic_id = args.origin(payload, context), args.topic_id(payload)
    me = args.username(payload.get("me"), "me")
    remove = args.usernames(payload, "remove") or []
    members = payload.get("members")
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        raise BadRequest("members must be a list of {username, bio_raw}")
    ident = await engine.require_unlocked()
    rec, conv = await _conversation_for_sending(engine, ident, payload, origin, topic_id)
    current = _members(rec, await _meta(engine, ident, rec))
    lower = {n.lower(): n for n in current}
    if me.lower() not in lower:
        raise NotInConversation("you are not a participant of this conversation on this device")
    if not remove:
        raise BadRequest("name at least one participant to remove")
    for name in remove:
        if name.lower() not in lower or name.lower() == me.lower():
            raise NotInConversation(f"{name} is not another participant of this conversation", username=name)
    gone = {n.lower() for n in remove}
    bios = {}
    for m in members:
        name, bio = args.user_ref({"m": m}, "m")
        bios[name.lower()] = bio
    staying = []
    for lname, name in lower.items():
        if lname in gone or lname == me.lower():
            continue
        if bios.get(lname) is None:
            raise BadRequest(f"the profile of {name}, who stays, is needed to check their key")
        staying.append((name, await sendable_key(engine, origin, name, bios[lname])))
    raw, _key, epoch = await inband.make_rekey(engine.prims, conv, ident, me, staying, [lower[g] for g in gone],
                                               inband.iso_time(engine.clock()), max_chars=args.max_chars(payload))
    return {"raw": raw, "epoch": epoch, "remove": [lower[g] for g in gone]}


async def list_conversations(engine, payload, context):
    origin = args.origin(payload, context)
    ident = await engine.require_unlocked()
    out = []
    stored = set(await engine.store.keys())
    for topic_id in await engine.store.get(names.conversation_index(origin)) or []:
        rec = await engine.store.get(names.conversation(origin, topic_id))
        if not rec:
            continue
        item = {"topic_id": topic_id, "conversation_id": rec["conversation_id"], "title": None, "author": None,
                "participants": [], "status": rec.get("status"), "created_at": None,
                "invited": rec.get("invited") or [], "indexed": names.search(origin, topic_id) in stored,
                "removed_by": (rec.get("removed_me") or {}).get("by")}
        if rec.get("meta"):
            meta = await _meta(engine, ident, rec)
            item.update(title=meta.get("title"), author=meta.get("author"),
                        participants=meta.get("participants") or [], created_at=meta.get("created_at"))
        out.append(item)
    return {"conversations": out}


async def missing_key(engine, payload, context):
    """Which key of mine a first post (or key share) that no key of this device opens is wrapped
    to, as far as my profile tells: the key it publishes, or the one its key change replaced. The
    viewer then names that key and how to get it back (backup, paper key, export), instead of only
    saying that the post is not for me. The profile is the forum's word, so this only names a key;
    it opens nothing."""
    raw = args.text(payload, "raw")
    try:
        pk = await inband.find_bio_block(engine.prims, args.optional_text(payload, "bio_raw") or "")
    except MalformedInput:
        return {"known": False}
    device = await device_fingerprint(engine)
    candidates = [("published", pk.fingerprint)]
    if pk.key_change is not None:
        candidates.append(("previous", pk.key_change.previous_fingerprint))
    for where, fp in candidates:
        if fp.hex() != device and inband.may_be_wrapped_to(raw, fp):
            return {"known": True, "where": where, "digits": inband.fingerprint_digits(fp)}
    return {"known": False}


HANDLERS = {
    "conv.start": start,
    "conv.open": open_first_post,
    "conv.accept_share": accept_share,
    "conv.read": read_posts,
    "conv.prepare": prepare_posts,
    "test.read_stats": read_stats,
    "conv.reply": reply,
    "conv.edit": edit,
    "conv.share_key": share_key,
    "conv.rekey": rekey,
    "conv.list": list_conversations,
    "conv.missing_key": missing_key,
}
