"""Encrypted conversations: the posts of a PM whose bodies are sealed envelopes (PROTOCOL.md §4).

A first post ("start") carries the conversation key wrapped for every participant, and the
signed title, body and participant list; replies carry the signed body under the conversation
key; key shares give the key to one invitee. Every body is a signed JSON object sealed by
`seal_envelope`: padded to a size bucket, AES-256-GCM under the conversation key, armoured.
Reading never raises for a bad signature: the result's `status` says what is wrong, and
content is only returned when it is "valid".
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import AuthenticationFailed, MalformedInput, MessageTooLarge, NotAParticipant, NotYourPost, WrongKey
from ..plugin import b64, jsjson, topickey
from ..plugin import identity as _identity
from ..plugin import payload as _payload
from .armour import (FENCE_CLOSE, FENCE_OPEN, MSG_BEGIN, MSG_END, a256_length, armour, contains_block,
                     find_block, versioned_record)
from .forum import MAX_POST_CHARS, PLACEHOLDER_TITLE, check_username
from .keys import HEX64, PublishedKey, key_of

PROTOCOL_VERSION = 1
MSG_HINT = "End-to-end encrypted message. Open it with the Encrypt for Discourse extension."

STATUS_VALID = "valid"
STATUS_INVALID_SIGNATURE = "invalid_signature"
STATUS_WRONG_CONVERSATION = "wrong_conversation"
STATUS_WRONG_AUTHOR = "wrong_author"
STATUS_UNSIGNED = "unsigned"
STATUS_UNVERIFIED = "unverified"
STATUS_CANNOT_DECRYPT = "cannot_decrypt"
STATUS_KEY_NOT_ACCEPTED = "key_not_accepted"  # signed by a key of the author the reader has not accepted
STATUS_DUPLICATE = "duplicate"  # set by the engine

KIND_START, KIND_REPLY, KIND_KEY_SHARE = 1, 2, 3
_KIND_NAMES = {KIND_START: "start", KIND_REPLY: "reply", KIND_KEY_SHARE: "key_share"}
_HINT = 4
_WRAPPED = 512
_IV = 12
_TAG = 16
_HEX32 = re.compile(r"[0-9a-f]{32}")


def iso_time(seconds: float | None = None) -> str:
    """UTC ISO-8601 with milliseconds, like JavaScript's Date.toISOString()."""
    s = time.time() if seconds is None else float(seconds)
    ms = int(round(s * 1000))
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ms % 1000:03d}Z"


def _random_id(prims) -> str:
    return prims.random_bytes(16).hex()


@dataclass
class NewConversation:
    raw: str
    placeholder_title: str
    key: Any
    conversation_id: str
    target_recipients: str
    participants: list


@dataclass
class Conversation:
    id: str
    key: Any
    status: str
    title: str | None = None
    body: str | None = None
    author: str | None = None
    author_fingerprint: str | None = None
    participants: list = field(default_factory=list)  # [[username, fingerprint hex], …]
    created_at: str | None = None
    message_id: str | None = None
    detail: str = ""
    edited_at: str | None = None
    history: list = field(default_factory=list)   # earlier versions, oldest first: [{"raw", "at"}]
    history_omitted: int = 0


@dataclass
class ReadPost:
    kind: str
    status: str
    body: str | None = None
    author_name: str | None = None
    author_fingerprint: str | None = None
    created_at: str | None = None
    message_id: str | None = None
    invitee_name: str | None = None
    invitee_fingerprint: str | None = None
    detail: str = ""
    edited_at: str | None = None
    history: list = field(default_factory=list)   # earlier versions, oldest first: [{"raw", "at"}]
    history_omitted: int = 0


@dataclass
class KeyShare:
    status: str
    conversation_id: str | None
    key: Any
    inviter_name: str | None
    invitee_name: str | None
    invitee_fingerprint: str | None
    created_at: str | None
    detail: str = ""


def is_encrypted_raw(raw) -> bool:
    return contains_block(raw, MSG_BEGIN, MSG_END)


def _bucket(n: int) -> int:
    b = 2048
    while b < n and b < 16384:
        b *= 2
    return b if n <= b else -(-n // 8192) * 8192


def _max_envelope_bytes(max_chars: int) -> int:
    overhead = len(MSG_HINT) + 2 + len(FENCE_OPEN) + len(MSG_BEGIN) + len(MSG_END) + len(FENCE_CLOSE) + 4
    budget = max_chars - overhead
    n = budget
    while n > 0 and a256_length(n) > budget:
        n -= 1
    return n


def _armour_message(envelope: bytes) -> str:
    return MSG_HINT + "\n\n" + armour(MSG_BEGIN, MSG_END, envelope)


async def seal_envelope(prims, key, signed: dict, header: bytes, max_chars: int) -> str:
    """Where a post body is encrypted: the signed object's v1 serialisation, padded with spaces
    to its size bucket, AES-256-GCM under the conversation `key` with a fresh IV, behind the
    plain `header` (version, kind, wrapped keys), armoured into the post raw. Raises
    MessageTooLarge when it would not fit in `max_chars`."""
    plaintext = _payload.serialize_v1(signed)
    room = _max_envelope_bytes(max_chars) - len(header) - _IV - _TAG
    if len(plaintext) > room:
        excess = len(plaintext) - room
        raise MessageTooLarge(f"the message is {excess} bytes too large for one post "
                              f"(posts hold {max_chars} characters)", excess)
    padded = plaintext + b" " * (min(_bucket(len(plaintext)), room) - len(plaintext))
    iv = prims.random_bytes(_IV)
    return _armour_message(header + iv + await prims.aes_gcm_encrypt(key, iv, padded))


def parse_envelope(raw: str):
    """(kind, recipient section, [(hint, wrapped key)], IV, ciphertext) of a post raw. Raises
    MalformedInput / UnsupportedVersion."""
    _, _, inner = find_block(raw, MSG_BEGIN, MSG_END, "encrypted message")
    data = versioned_record(inner, "encrypted message")
    kind = data[1]
    if kind not in _KIND_NAMES:
        raise MalformedInput(f"encrypted message: unknown kind {kind}")
    off, section, entries = 2, b"", []
    if kind in (KIND_START, KIND_KEY_SHARE):
        if len(data) < 3:
            raise MalformedInput("encrypted message: truncated")
        n = data[2]
        if n == 0 or (kind == KIND_KEY_SHARE and n != 1):
            raise MalformedInput("encrypted message: bad recipient count")
        end = 3 + n * (_HINT + _WRAPPED)
        if len(data) < end:
            raise MalformedInput("encrypted message: truncated recipient list")
        section = data[2:end]
        entries = [(data[3 + i * 516:3 + i * 516 + _HINT], data[3 + i * 516 + _HINT:3 + (i + 1) * 516]) for i in range(n)]
        off = end
    if len(data) < off + _IV + _TAG:
        raise MalformedInput("encrypted message: truncated ciphertext")
    return kind, section, entries, data[off:off + _IV], data[off + _IV:]


def may_be_wrapped_to(raw: str, fingerprint: bytes) -> bool:
    """Whether a first post or key share holds an entry for the key with `fingerprint`, judged by
    the entries' public 4-byte hints (a match is only likely: hints collide by chance). Raises
    MalformedInput / UnsupportedVersion."""
    return any(hint == fingerprint[:_HINT] for hint, _ in parse_envelope(raw)[2])


async def _recipient_section(prims, key, keys: list) -> tuple[bytes, list]:
    if not 1 <= len(keys) <= 255:
        raise MalformedInput("a conversation has 1 to 255 participants")
    section = bytes([len(keys)])
    for pk in keys:
        wrapped = b64.decode(await topickey.wrap(prims, key, pk.identity.encrypt_public))
        section += pk.fingerprint[:_HINT] + wrapped
    return section, keys


async def _sha256_hex(prims, data: bytes) -> str:
    return (await prims.sha256(data)).hex()


def _obj_str(obj: dict, name: str, pattern=None) -> str:
    v = obj.get(name)
    if not isinstance(v, str) or (pattern is not None and not pattern.fullmatch(v)):
        raise MalformedInput(f"encrypted message: member {name!r} missing or malformed")
    return v


async def _decrypt_obj(prims, key, iv: bytes, ct: bytes):
    """The signed object, or None when the key does not open the ciphertext."""
    try:
        plaintext = await prims.aes_gcm_decrypt(key, iv, ct)
    except AuthenticationFailed:
        return None
    obj = jsjson.parse_utf8(plaintext, what="encrypted message")
    if not isinstance(obj, dict) or obj.get("v") != PROTOCOL_VERSION or obj.get("type") not in _KIND_NAMES.values():
        raise MalformedInput("encrypted message: not a version-1 message object")
    return obj


def _keys_list(keys) -> list:
    if keys is None:
        return []
    if isinstance(keys, PublishedKey):
        return [keys]
    return [k for k in keys if isinstance(k, PublishedKey)]


async def _signer_status(prims, obj: dict, keys, poster_username, unaccepted=()) -> tuple[str, str]:
    """Whether `obj` is signed by one of `keys` (the keys the reader accepted for the poster).
    A key the reader saw published but has not accepted (`unaccepted`: fingerprints) verifies
    nothing: such a post is "key_not_accepted"."""
    sig = obj.get("signature")
    if not isinstance(sig, str) or not sig:
        return STATUS_UNSIGNED, "the message carries no signature"
    name = _obj_str(obj, "signed_by_name")
    fp = _obj_str(obj, "signed_by_fingerprint", HEX64)
    if poster_username is not None and name.lower() != str(poster_username).lower():
        return STATUS_WRONG_AUTHOR, f"signed as {name!r} but posted by {poster_username!r}"
    keys = _keys_list(keys)
    match = next((k for k in keys if k.fingerprint_hex == fp), None)
    if match is None and fp in set(unaccepted or ()):
        return STATUS_KEY_NOT_ACCEPTED, ("signed with a new key of the author that you have not accepted: "
                                         "review the key change first")
    if not keys:
        return STATUS_UNVERIFIED, "no key is known for the author"
    if match is None:
        return STATUS_WRONG_AUTHOR, "signed with a key that is not the author's"
    try:
        sig_bytes = b64.decode(sig, what="signature")
    except MalformedInput:
        return STATUS_INVALID_SIGNATURE, "malformed signature"
    message = _payload.serialize_v1({k: v for k, v in obj.items() if k != "signature"})
    if not await prims.rsa_pss_verify(match.identity.sign_public, sig_bytes, message, 32):
        return STATUS_INVALID_SIGNATURE, "the signature does not verify"
    return STATUS_VALID, ""


async def _author_key(prims, author, author_name) -> PublishedKey:
    check_username(author_name, "author")
    if getattr(author, "sign_private", None) is None:
        raise MalformedInput("the author needs a v1 identity with a signing key")
    return await key_of(prims, author)


async def start_conversation(prims, author, author_name: str, recipients, title: str, body: str, now_iso: str,
                             *, max_chars: int = MAX_POST_CHARS) -> NewConversation:
    """A new conversation's first post. `recipients`: [(username, PublishedKey)], the author is
    added (first) automatically and removed from the list if present."""
    me = await _author_key(prims, author, author_name)
    if not isinstance(title, str) or not title.strip():
        raise MalformedInput("a conversation needs a title")
    if not isinstance(body, str):
        raise MalformedInput("the message body must be text")
    people, seen = [(author_name, me)], {author_name.lower()}
    for item in recipients or []:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise MalformedInput("recipients must be (username, PublishedKey) pairs")
        name, pk = item
        check_username(name, "recipient")
        if not isinstance(pk, PublishedKey):
            raise MalformedInput(f"recipient {name}: no published key")
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        people.append((name, pk))
    key = await topickey.generate(prims, extractable=True)
    section, _ = await _recipient_section(prims, key, [pk for _, pk in people])
    conversation_id = _random_id(prims)
    obj = {"type": "start", "v": PROTOCOL_VERSION, "conversation_id": conversation_id,
           "message_id": _random_id(prims), "created_at": str(now_iso), "title": title, "raw": body,
           "participants": [[n, pk.fingerprint_hex] for n, pk in people],
           "keys_sha256": await _sha256_hex(prims, section),
           "signed_by_name": author_name, "signed_by_fingerprint": me.fingerprint_hex}
    signed = await _payload.sign(prims, author, obj)
    raw = await seal_envelope(prims, key, signed, bytes([1, KIND_START]) + section, max_chars)
    others = [n for n, _ in people[1:]] or [author_name]
    return NewConversation(raw, PLACEHOLDER_TITLE, key, conversation_id, ",".join(others),
                           [[n, pk.fingerprint_hex] for n, pk in people])


# A post lists one entry per participant; two entries of one reader with the same 4-byte hint
# happen by chance about once in 2**32. A post with more matching entries is built to make the
# reader spend an RSA decryption on each: only this many are tried.
MAX_UNWRAP_ATTEMPTS = 2


async def _unwrap_mine(prims, entries, my_identity, my_fp: bytes):
    attempts = 0
    for i, (hint, wrapped) in enumerate(entries):
        if hint != my_fp[:_HINT]:
            continue
        attempts += 1
        if attempts > MAX_UNWRAP_ATTEMPTS:
            break
        try:
            return i, await topickey.unwrap(prims, b64.encode(wrapped), my_identity.encrypt_private, extractable=True)
        except (WrongKey, MalformedInput):
            continue
    raise NotAParticipant("none of the wrapped keys in this post is for my key")


async def open_conversation(prims, first_post_raw: str, me_username: str, my_identity, author_key,
                            *, key=None, poster_username: str | None = None, unaccepted=()) -> Conversation:
    """Reads a conversation's first post. Raises MalformedInput (not a first post),
    NotAParticipant (no key for me), AuthenticationFailed (damaged, or `key` is not this
    conversation's). Signature problems are reported in `status` (content withheld)."""
    kind, section, entries, iv, ct = parse_envelope(first_post_raw)
    if kind != KIND_START:
        raise MalformedInput("this post is not the first post of a conversation")
    my_fp = await _identity.fingerprint(prims, my_identity)
    index = None
    if key is None:
        index, key = await _unwrap_mine(prims, entries, my_identity, my_fp)
    obj = await _decrypt_obj(prims, key, iv, ct)
    if obj is None:
        raise AuthenticationFailed("the first post does not open with this key (altered, or another conversation)")
    if obj.get("type") != "start":
        raise MalformedInput("the first post does not hold a conversation start")
    conv = Conversation(id=_obj_str(obj, "conversation_id", _HEX32), key=key, status=STATUS_VALID)
    participants = obj.get("participants")
    if not isinstance(participants, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], str)
            and HEX64.fullmatch(p[1]) for p in participants):
        raise MalformedInput("encrypted message: malformed participant list")
    status, detail = await _signer_status(prims, obj, author_key, poster_username, unaccepted)
    if status == STATUS_VALID:
        if obj.get("keys_sha256") != await _sha256_hex(prims, section):
            status, detail = STATUS_INVALID_SIGNATURE, "the wrapped keys are not the ones the author signed"
        elif len(participants) != len(entries) or any(
                bytes.fromhex(p[1])[:_HINT] != h for p, (h, _) in zip(participants, entries)):
            status, detail = STATUS_INVALID_SIGNATURE, "the participant list does not match the wrapped keys"
        elif index is not None and participants[index][1] != my_fp.hex():
            status, detail = STATUS_INVALID_SIGNATURE, "my wrapped key is not listed under my key"
        elif index is not None and participants[index][0].lower() != str(me_username).lower():
            status, detail = STATUS_INVALID_SIGNATURE, "my wrapped key is listed under another name"
    conv.status, conv.detail = status, detail
    if status == STATUS_VALID:
        conv.title = _obj_str(obj, "title")
        conv.body = _obj_str(obj, "raw")
        conv.author = _obj_str(obj, "signed_by_name")
        conv.author_fingerprint = _obj_str(obj, "signed_by_fingerprint")
        conv.participants = participants
        conv.created_at = _obj_str(obj, "created_at")
        conv.message_id = _obj_str(obj, "message_id")
        conv.edited_at, conv.history, conv.history_omitted = _revision_of(obj)
    return conv


async def make_reply(prims, conversation, author, author_name: str, body: str, now_iso: str,
                     *, max_chars: int = MAX_POST_CHARS) -> str:
    me = await _author_key(prims, author, author_name)
    if not isinstance(body, str):
        raise MalformedInput("the message body must be text")
    obj = {"type": "reply", "v": PROTOCOL_VERSION, "conversation_id": conversation.id,
           "message_id": _random_id(prims), "created_at": str(now_iso), "raw": body,
           "signed_by_name": author_name, "signed_by_fingerprint": me.fingerprint_hex}
    signed = await _payload.sign(prims, author, obj)
    return await seal_envelope(prims, conversation.key, signed, bytes([1, KIND_REPLY]), max_chars)


async def read_post(prims, conversation, raw: str, author_keys, *, poster_username: str | None = None,
                    unaccepted=()) -> ReadPost:
    """A later post (reply or key share) of a conversation. Raises MalformedInput when the raw
    is not an encrypted message at all; everything else is a status."""
    kind, section, entries, iv, ct = parse_envelope(raw)
    kind_name = _KIND_NAMES[kind]
    obj = await _decrypt_obj(prims, conversation.key, iv, ct)
    if obj is None:
        return ReadPost(kind_name, STATUS_CANNOT_DECRYPT, detail="not encrypted with this conversation's key")
    if obj.get("type") != kind_name or kind == KIND_START:
        return ReadPost(kind_name, STATUS_WRONG_CONVERSATION, detail="a conversation's first post cannot appear again"
                        if kind == KIND_START else "the envelope kind does not match its content")
    if obj.get("conversation_id") != conversation.id:
        return ReadPost(kind_name, STATUS_WRONG_CONVERSATION, detail="the post belongs to another conversation")
    status, detail = await _signer_status(prims, obj, author_keys, poster_username, unaccepted)
    out = ReadPost(kind_name, status, detail=detail)
    if status != STATUS_VALID:
        return out
    if kind == KIND_KEY_SHARE:
        if obj.get("keys_sha256") != await _sha256_hex(prims, section):
            out.status, out.detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not the one the inviter signed"
            return out
        out.invitee_name = _obj_str(obj, "invitee_name")
        out.invitee_fingerprint = _obj_str(obj, "invitee_fingerprint", HEX64)
        if entries[0][0] != bytes.fromhex(out.invitee_fingerprint)[:_HINT]:
            out.status, out.detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not for the invitee"
            return out
    else:
        out.body = _obj_str(obj, "raw")
        out.edited_at, out.history, out.history_omitted = _revision_of(obj)
    out.author_name = _obj_str(obj, "signed_by_name")
    out.author_fingerprint = _obj_str(obj, "signed_by_fingerprint")
    out.created_at = _obj_str(obj, "created_at")
    out.message_id = _obj_str(obj, "message_id")
    return out


async def make_key_share(prims, conversation, inviter, inviter_name: str, invitee_name: str,
                         invitee_key: PublishedKey, now_iso: str, *, max_chars: int = MAX_POST_CHARS) -> str:
    me = await _author_key(prims, inviter, inviter_name)
    check_username(invitee_name, "invitee")
    if not isinstance(invitee_key, PublishedKey):
        raise MalformedInput(f"{invitee_name} has no published key")
    section, _ = await _recipient_section(prims, conversation.key, [invitee_key])
    obj = {"type": "key_share", "v": PROTOCOL_VERSION, "conversation_id": conversation.id,
           "message_id": _random_id(prims), "created_at": str(now_iso),
           "invitee_name": invitee_name, "invitee_fingerprint": invitee_key.fingerprint_hex,
           "keys_sha256": await _sha256_hex(prims, section),
           "signed_by_name": inviter_name, "signed_by_fingerprint": me.fingerprint_hex}
    signed = await _payload.sign(prims, inviter, obj)
    return await seal_envelope(prims, conversation.key, signed, bytes([1, KIND_KEY_SHARE]) + section, max_chars)


async def read_key_share(prims, raw: str, my_identity, inviter_keys, *, poster_username: str | None = None,
                         me_username: str | None = None, unaccepted=()) -> KeyShare:
    """For the invitee: the conversation key from a key-share post (`key` is None unless valid)."""
    kind, section, entries, iv, ct = parse_envelope(raw)
    if kind != KIND_KEY_SHARE:
        raise MalformedInput("this post is not a key share")
    my_fp = await _identity.fingerprint(prims, my_identity)
    _, key = await _unwrap_mine(prims, entries, my_identity, my_fp)
    obj = await _decrypt_obj(prims, key, iv, ct)
    if obj is None:
        return KeyShare(STATUS_CANNOT_DECRYPT, None, None, None, None, None, None, "the key share was altered")
    if obj.get("type") != "key_share":
        raise MalformedInput("encrypted message: not a key share")
    status, detail = await _signer_status(prims, obj, inviter_keys, poster_username, unaccepted)
    if status == STATUS_VALID and obj.get("keys_sha256") != await _sha256_hex(prims, section):
        status, detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not the one the inviter signed"
    if status == STATUS_VALID and obj.get("invitee_fingerprint") != my_fp.hex():
        status, detail = STATUS_WRONG_AUTHOR, "this key share names another key as the invitee"
    if status == STATUS_VALID and me_username is not None and \
            str(obj.get("invitee_name", "")).lower() != me_username.lower():
        status, detail = STATUS_WRONG_AUTHOR, "this key share names another user as the invitee"
    ok = status == STATUS_VALID
    return KeyShare(status, _obj_str(obj, "conversation_id", _HEX32) if ok else None, key if ok else None,
                    _obj_str(obj, "signed_by_name") if ok else None, _obj_str(obj, "invitee_name") if ok else None,
                    _obj_str(obj, "invitee_fingerprint") if ok else None, _obj_str(obj, "created_at") if ok else None,
                    detail)


# ---------------------------------------------------------------------------------- revisions
# An edit is a new signed version of the same message (same message id, conversation and first
# time), posted by Discourse's edit in place of the old raw. The earlier versions travel inside
# it, signed with it: readers see the history without trusting the forum's revision list, and
# the forum cannot make up a version. Oldest versions are left out (and counted) when the post
# would not fit otherwise. In the signed object a version is an [at, raw] pair: the v1
# serialisation keeps, at every depth, only the top-level member names.
_REVISION_MEMBERS = ("edited_at", "history", "history_omitted")


def _revision_of(obj: dict) -> tuple[str | None, list, int]:
    """(edited_at, history, history_omitted) of a signed message object; (None, [], 0) for a
    message never edited. Raises MalformedInput for a malformed revision."""
    if "edited_at" not in obj:
        if any(k in obj for k in _REVISION_MEMBERS):
            raise MalformedInput("encrypted message: revision members without edited_at")
        return None, [], 0
    edited_at = _obj_str(obj, "edited_at")
    history, omitted = obj.get("history"), obj.get("history_omitted", 0)
    if not isinstance(history, list) or not all(
            isinstance(h, list) and len(h) == 2 and isinstance(h[0], str) and isinstance(h[1], str) for h in history):
        raise MalformedInput("encrypted message: malformed edit history")
    if isinstance(omitted, bool) or not isinstance(omitted, int) or omitted < 0:
        raise MalformedInput("encrypted message: malformed history_omitted")
    return edited_at, [{"at": at, "raw": raw} for at, raw in history], omitted


async def make_revision(prims, conversation, author, author_name: str, previous_raw: str, body: str, now_iso: str,
                        *, own_keys=(), max_chars: int = MAX_POST_CHARS) -> str:
    """The raw of a new version of my post `previous_raw` (a conversation's first post or a
    reply) whose body is `body`. The previous version must open with the conversation key and be
    validly signed by me: by `author` or by one of `own_keys` (PublishedKeys of identities I
    replaced); the new version is signed by `author`. A first post keeps its wrapped keys, title
    and participants. Raises NotYourPost, AuthenticationFailed, MalformedInput, MessageTooLarge."""
    me = await _author_key(prims, author, author_name)
    if not isinstance(body, str) or not body.strip():
        raise MalformedInput("the message body must be text")
    kind, section, _entries, iv, ct = parse_envelope(previous_raw)
    if kind not in (KIND_START, KIND_REPLY):
        raise NotYourPost("only a conversation's first post or a reply can be edited")
    obj = await _decrypt_obj(prims, conversation.key, iv, ct)
    if obj is None:
        raise AuthenticationFailed("the post does not open with this conversation's key")
    if obj.get("type") != _KIND_NAMES[kind] or obj.get("conversation_id") != conversation.id:
        raise NotYourPost("the post belongs to another conversation")
    status, _ = await _signer_status(prims, obj, [me, *_keys_list(list(own_keys))], author_name)
    if status != STATUS_VALID:
        raise NotYourPost("the post is not validly signed by me")
    if kind == KIND_START and obj.get("keys_sha256") != await _sha256_hex(prims, section):
        raise NotYourPost("the post's wrapped keys are not the ones I signed")
    edited_at, history, omitted = _revision_of(obj)
    history = [[h["at"], h["raw"]] for h in history] + [[edited_at or _obj_str(obj, "created_at"), _obj_str(obj, "raw")]]
    base = {k: v for k, v in obj.items() if k not in ("signature", "raw", *_REVISION_MEMBERS)}
    base.update(raw=body, signed_by_name=author_name, signed_by_fingerprint=me.fingerprint_hex)
    header = bytes([1, kind]) + section
    while True:
        new = dict(base, edited_at=str(now_iso), history=history, history_omitted=omitted)
        try:
            return await seal_envelope(prims, conversation.key, await _payload.sign(prims, author, new), header,
                                       max_chars)
        except MessageTooLarge:
            if not history:
                raise
            history, omitted = history[1:], omitted + 1
