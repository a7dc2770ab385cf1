"""Encrypted conversations: the posts of a PM whose bodies are sealed envelopes (PROTOCOL.md §6).

A first post ("start") carries the conversation key wrapped for every participant, and the
signed title, body and participant list; replies carry the signed body under the conversation
key; key shares give the key to one invitee. Every body is a signed JSON object sealed by
`seal_envelope`: padded to a size bucket, AES-256-GCM under the conversation key, armoured.
Reading never raises for a bad signature: the result's `status` says what is wrong, and
content is only returned when it is "valid".

Key epochs (§6.7): removing a participant posts a "rekey" that wraps a new conversation key for
everyone who stays. The first post's key is epoch 0; each rekey starts the next epoch, and later
posts say in their envelope which epoch's key they are encrypted with.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import (AuthenticationFailed, MalformedInput, MessageTooLarge, NotAParticipant, NotYourPost,
                      OldConversationKey, PycoreError, WrongKey)
from ..plugin import b64, jsjson, topickey
from ..plugin import identity as _identity
from ..plugin import payload as _payload
from . import attachments as _files
from .armour import (FENCE_CLOSE, FENCE_OPEN, MSG_BEGIN, MSG_END, a256_length, armour, contains_block,
                     find_block, versioned_record)
from .forum import MAX_POST_CHARS, PLACEHOLDER_TITLE, check_username
from .keys import HEX64, PublishedKey, key_of

PROTOCOL_VERSION = 1
MSG_HINT = "End-to-end encrypted message. Open it with the Encrypt for Discourse extension."
# A key change says so in plain words: the forum sees the envelope's kind anyway, and a page view
# reads key changes before the posts that need their keys.
REKEY_HINT = "End-to-end encrypted: the conversation's key was changed. Open it with the Encrypt for Discourse extension."

STATUS_VALID = "valid"
STATUS_INVALID_SIGNATURE = "invalid_signature"
STATUS_WRONG_CONVERSATION = "wrong_conversation"
STATUS_WRONG_AUTHOR = "wrong_author"
STATUS_UNSIGNED = "unsigned"
STATUS_UNVERIFIED = "unverified"
STATUS_CANNOT_DECRYPT = "cannot_decrypt"
STATUS_KEY_NOT_ACCEPTED = "key_not_accepted"  # signed by a key of the author the reader has not accepted
STATUS_DUPLICATE = "duplicate"  # set by the engine
STATUS_KEY_NOT_GIVEN = "key_not_given"  # encrypted with a conversation key (epoch) this reader was not given

KIND_START, KIND_REPLY, KIND_KEY_SHARE = 1, 2, 3
# The same in a later key epoch: the envelope names the epoch; a rekey starts one.
KIND_REKEY, KIND_EPOCH_REPLY, KIND_EPOCH_KEY_SHARE = 4, 5, 6
_KIND_NAMES = {KIND_START: "start", KIND_REPLY: "reply", KIND_KEY_SHARE: "key_share", KIND_REKEY: "rekey",
               KIND_EPOCH_REPLY: "reply", KIND_EPOCH_KEY_SHARE: "key_share"}
_WITH_EPOCH = (KIND_REKEY, KIND_EPOCH_REPLY, KIND_EPOCH_KEY_SHARE)
_WITH_RECIPIENTS = (KIND_START, KIND_KEY_SHARE, KIND_REKEY, KIND_EPOCH_KEY_SHARE)
_ONE_RECIPIENT = (KIND_KEY_SHARE, KIND_EPOCH_KEY_SHARE)
MAX_EPOCH = 0xFFFF
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
    key: Any                 # epoch 0: the key the first post wraps
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
    later_keys: dict = field(default_factory=dict)   # epoch (1, 2, …) -> key, from rekeys and key shares
    files: list = field(default_factory=list)        # attachments.FileRef of the first post

    def epoch_key(self, epoch: int):
        """The key of `epoch`, or None when this reader was not given it."""
        return self.key if epoch == 0 else self.later_keys.get(epoch)

    @property
    def newest_epoch(self) -> int:
        """The epoch new posts are encrypted in: the newest whose key this reader holds."""
        return max(self.later_keys, default=0)


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
    epoch: int = 0           # the key epoch the post is encrypted in (a rekey: the epoch it starts)
    # a valid rekey: who stays ([[name, fingerprint]]), who was removed (names), and the new key
    # when it was wrapped for the reader (None: the reader was removed)
    participants: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    new_key: Any = None
    files: list = field(default_factory=list)        # a reply's attachments.FileRef


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
    later_keys: dict = field(default_factory=dict)   # a share in a later epoch: epoch -> key, from 1 on


def is_encrypted_raw(raw) -> bool:
    return contains_block(raw, MSG_BEGIN, MSG_END)


def _bucket(n: int) -> int:
    b = 2048
    while b < n and b < 16384:
        b *= 2
    return b if n <= b else -(-n // 8192) * 8192


def _max_envelope_bytes(max_chars: int, hint: str = MSG_HINT) -> int:
    overhead = len(hint) + 2 + len(FENCE_OPEN) + len(MSG_BEGIN) + len(MSG_END) + len(FENCE_CLOSE) + 4
    budget = max_chars - overhead
    n = budget
    while n > 0 and a256_length(n) > budget:
        n -= 1
    return n


def _hint_of(header: bytes) -> str:
    return REKEY_HINT if header[1:2] == bytes([KIND_REKEY]) else MSG_HINT


def _armour_message(envelope: bytes) -> str:
    return _hint_of(envelope) + "\n\n" + armour(MSG_BEGIN, MSG_END, envelope)


async def seal_envelope(prims, key, signed: dict, header: bytes, max_chars: int) -> str:
    """Where a post body is encrypted: the signed object's v1 serialisation, padded with spaces
    to its size bucket, AES-256-GCM under the conversation `key` with a fresh IV, behind the
    plain `header` (version, kind, wrapped keys), armoured into the post raw. Raises
    MessageTooLarge when it would not fit in `max_chars`."""
    plaintext = _payload.serialize_v1(signed)
    room = _max_envelope_bytes(max_chars, _hint_of(header)) - len(header) - _IV - _TAG
    if len(plaintext) > room:
        excess = len(plaintext) - room
        raise MessageTooLarge(f"the message is {excess} bytes too large for one post "
                              f"(posts hold {max_chars} characters)", excess)
    padded = plaintext + b" " * (min(_bucket(len(plaintext)), room) - len(plaintext))
    iv = prims.random_bytes(_IV)
    return _armour_message(header + iv + await prims.aes_gcm_encrypt(key, iv, padded))


def _file_list(files) -> list:
    """FileRefs to attach to a new post: uploaded ones, MAX_FILES at most. Raises MalformedInput."""
    files = list(files or [])
    if len(files) > _files.MAX_FILES or not all(isinstance(f, _files.FileRef) and f.carriers for f in files):
        raise MalformedInput(f"a post carries at most {_files.MAX_FILES} uploaded files")
    return files


async def _seal_post(prims, key, obj: dict, signer, header: bytes, max_chars: int, files) -> str:
    """A post's raw: `obj` (with its files, if any) signed by `signer` and sealed, then the plain
    links that keep the files' carriers on the forum."""
    if files:
        obj = dict(obj, files=[f.to_signed() for f in files])
    links = _files.carrier_links(files or [])
    signed = await _payload.sign(prims, signer, obj)
    return await seal_envelope(prims, key, signed, header, max_chars - len(links)) + links


@dataclass
class Envelope:
    kind: int
    epoch: int           # 0 for the kinds without an epoch field
    section: bytes       # the recipient section (count byte and entries), b"" when none
    entries: list        # [(4-byte hint, 512-byte wrapped key)]
    iv: bytes
    ciphertext: bytes

    @property
    def header(self) -> bytes:
        """The plain bytes before the IV: what an edit keeps."""
        return _epoch_header(self.kind, self.epoch) + self.section


def parse_envelope(raw: str) -> Envelope:
    """The parts of a post raw's envelope. Raises MalformedInput / UnsupportedVersion."""
    _, _, inner = find_block(raw, MSG_BEGIN, MSG_END, "encrypted message")
    data = versioned_record(inner, "encrypted message")
    kind = data[1]
    if kind not in _KIND_NAMES:
        raise MalformedInput(f"encrypted message: unknown kind {kind}")
    off, epoch, section, entries = 2, 0, b"", []
    if kind in _WITH_EPOCH:
        if len(data) < 4:
            raise MalformedInput("encrypted message: truncated")
        epoch = int.from_bytes(data[2:4], "big")
        if epoch == 0:
            raise MalformedInput("encrypted message: a later key epoch cannot be 0")
        off = 4
    if kind in _WITH_RECIPIENTS:
        if len(data) < off + 1:
            raise MalformedInput("encrypted message: truncated")
        n = data[off]
        if n == 0 or (kind in _ONE_RECIPIENT and n != 1):
            raise MalformedInput("encrypted message: bad recipient count")
        end = off + 1 + n * (_HINT + _WRAPPED)
        if len(data) < end:
            raise MalformedInput("encrypted message: truncated recipient list")
        section = data[off:end]
        entries = [(section[1 + i * 516:1 + i * 516 + _HINT], section[1 + i * 516 + _HINT:1 + (i + 1) * 516])
                   for i in range(n)]
        off = end
    if len(data) < off + _IV + _TAG:
        raise MalformedInput("encrypted message: truncated ciphertext")
    return Envelope(kind, epoch, section, entries, data[off:off + _IV], data[off + _IV:])


def envelope_epoch(raw: str) -> int:
    """The key epoch a post raw says it is encrypted in (public: the forum sees it too). Raises
    MalformedInput / UnsupportedVersion."""
    return parse_envelope(raw).epoch


def may_be_wrapped_to(raw: str, fingerprint: bytes) -> bool:
    """Whether a first post or key share holds an entry for the key with `fingerprint`, judged by
    the entries' public 4-byte hints (a match is only likely: hints collide by chance). Raises
    MalformedInput / UnsupportedVersion."""
    return any(hint == fingerprint[:_HINT] for hint, _ in parse_envelope(raw).entries)


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
    return _message_obj(plaintext)


def _message_obj(plaintext: bytes) -> dict:
    """The signed object a decrypted envelope holds. Raises MalformedInput."""
    obj = jsjson.parse_utf8(plaintext, what="encrypted message")
    if not isinstance(obj, dict) or obj.get("v") != PROTOCOL_VERSION or obj.get("type") not in _KIND_NAMES.values():
        raise MalformedInput("encrypted message: not a version-1 message object")
    return obj


def _signed_epoch(obj: dict) -> int:
    """The epoch a signed object names (absent: 0). Raises MalformedInput."""
    e = obj.get("epoch", 0)
    if isinstance(e, bool) or not isinstance(e, int) or not 0 <= e <= MAX_EPOCH or ("epoch" in obj and e == 0):
        raise MalformedInput("encrypted message: malformed epoch")
    return e


def _epoch_header(kind: int, epoch: int) -> bytes:
    return bytes([1, kind]) + (epoch.to_bytes(2, "big") if kind in _WITH_EPOCH else b"")


def _keys_list(keys) -> list:
    if keys is None:
        return []
    if isinstance(keys, PublishedKey):
        return [keys]
    return [k for k in keys if isinstance(k, PublishedKey)]


def _signer_check(obj: dict, keys, poster_username, unaccepted=()):
    """What decides whether `obj` is signed by one of `keys` (the keys the reader accepted for
    the poster): (status, detail, None) when it cannot be, or (None, "", (public key, signature,
    signed bytes)) for the signature verification that decides. A key the reader saw published
    but has not accepted (`unaccepted`: fingerprints) verifies nothing: such a post is
    "key_not_accepted"."""
    sig = obj.get("signature")
    if not isinstance(sig, str) or not sig:
        return STATUS_UNSIGNED, "the message carries no signature", None
    name = _obj_str(obj, "signed_by_name")
    fp = _obj_str(obj, "signed_by_fingerprint", HEX64)
    if poster_username is not None and name.lower() != str(poster_username).lower():
        return STATUS_WRONG_AUTHOR, f"signed as {name!r} but posted by {poster_username!r}", None
    keys = _keys_list(keys)
    match = next((k for k in keys if k.fingerprint_hex == fp), None)
    if match is None and fp in set(unaccepted or ()):
        return STATUS_KEY_NOT_ACCEPTED, ("signed with a new key of the author that you have not accepted: "
                                         "review the key change first"), None
    if not keys:
        return STATUS_UNVERIFIED, "no key is known for the author", None
    if match is None:
        return STATUS_WRONG_AUTHOR, "signed with a key that is not the author's", None
    try:
        sig_bytes = b64.decode(sig, what="signature")
    except MalformedInput:
        return STATUS_INVALID_SIGNATURE, "malformed signature", None
    message = _payload.serialize_v1({k: v for k, v in obj.items() if k != "signature"})
    return None, "", (match.identity.sign_public, sig_bytes, message)


def _verified(ok: bool) -> tuple[str, str]:
    return (STATUS_VALID, "") if ok else (STATUS_INVALID_SIGNATURE, "the signature does not verify")


async def _signer_status(prims, obj: dict, keys, poster_username, unaccepted=()) -> tuple[str, str]:
    """_signer_check, its verification included: (status, detail)."""
    status, detail, job = _signer_check(obj, keys, poster_username, unaccepted)
    if job is None:
        return status, detail
    return _verified(await prims.rsa_pss_verify(*job, 32))


async def _author_key(prims, author, author_name) -> PublishedKey:
    check_username(author_name, "author")
    if getattr(author, "sign_private", None) is None:
        raise MalformedInput("the author needs a v1 identity with a signing key")
    return await key_of(prims, author)


async def start_conversation(prims, author, author_name: str, recipients, title: str, body: str, now_iso: str,
                             *, max_chars: int = MAX_POST_CHARS, files=()) -> NewConversation:
    """A new conversation's first post. `recipients`: [(username, PublishedKey)], the author is
    added (first) automatically and removed from the list if present. `files`: uploaded
    attachments.FileRefs."""
    me = await _author_key(prims, author, author_name)
    files = _file_list(files)
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
    raw = await _seal_post(prims, key, obj, author, bytes([1, KIND_START]) + section, max_chars, files)
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
    env = parse_envelope(first_post_raw)
    kind, section, entries = env.kind, env.section, env.entries
    if kind != KIND_START:
        raise MalformedInput("this post is not the first post of a conversation")
    my_fp = await _identity.fingerprint(prims, my_identity)
    index = None
    if key is None:
        index, key = await _unwrap_mine(prims, entries, my_identity, my_fp)
    obj = await _decrypt_obj(prims, key, env.iv, env.ciphertext)
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
        conv.files = _files.files_of(obj)
    return conv


async def make_reply(prims, conversation, author, author_name: str, body: str, now_iso: str,
                     *, max_chars: int = MAX_POST_CHARS, files=()) -> str:
    me = await _author_key(prims, author, author_name)
    files = _file_list(files)
    if not isinstance(body, str):
        raise MalformedInput("the message body must be text")
    epoch = conversation.newest_epoch
    obj = {"type": "reply", "v": PROTOCOL_VERSION, "conversation_id": conversation.id,
           "message_id": _random_id(prims), "created_at": str(now_iso), "raw": body,
           "signed_by_name": author_name, "signed_by_fingerprint": me.fingerprint_hex}
    if epoch:
        obj["epoch"] = epoch
    kind = KIND_EPOCH_REPLY if epoch else KIND_REPLY
    return await _seal_post(prims, conversation.epoch_key(epoch), obj, author, _epoch_header(kind, epoch),
                            max_chars, files)


@dataclass
class PostToRead:
    """One later post for read_posts: its raw, the keys the reader accepted for its poster (a
    PublishedKey or a list), the forum's username of the poster, fingerprints of the poster's
    key changes the reader has not accepted."""
    raw: str
    author_keys: Any
    poster_username: str | None = None
    unaccepted: Any = ()


async def read_post(prims, conversation, raw: str, author_keys, *, poster_username: str | None = None,
                    unaccepted=(), my_identities=(), me_username: str | None = None) -> ReadPost:
    """A later post (reply, key share or rekey) of a conversation. Raises MalformedInput when the
    raw is not an encrypted message at all; everything else is a status. A rekey is opened with
    the key of the epoch before it; its new key is unwrapped with the first of `my_identities`
    (current identity, then replaced ones) that it was wrapped for."""
    r = (await read_posts(prims, conversation, [PostToRead(raw, author_keys, poster_username, unaccepted)],
                          my_identities=my_identities, me_username=me_username))[0]
    if isinstance(r, PycoreError):
        raise r
    return r


async def read_posts(prims, conversation, posts: list, *, my_identities=(), me_username: str | None = None) -> list:
    """read_post for many PostToRead of one conversation: their decryptions, then their signature
    verifications, go to the backend together (`aes_gcm_decrypt_many`, `rsa_pss_verify_many`), so
    a topic costs two calls however long it is. Returns, in order, each post's ReadPost or the
    PycoreError read_post raises for it. Every post costs at most one decryption and one
    verification, whatever it holds (a rekey's unwrap: at most one per identity of mine)."""
    out: list = [None] * len(posts)
    opening = []   # (index, envelope, key)
    for i, post in enumerate(posts):
        try:
            env = parse_envelope(post.raw)
        except PycoreError as e:
            out[i] = e
            continue
        key_epoch = env.epoch - 1 if env.kind == KIND_REKEY else env.epoch
        key = conversation.epoch_key(key_epoch)
        if key is None:
            out[i] = ReadPost(_KIND_NAMES[env.kind], STATUS_KEY_NOT_GIVEN, epoch=env.epoch,
                              detail=f"encrypted with the conversation's key number {key_epoch}, which was not given "
                                     "to this reader: a participant changed the key without them")
            continue
        opening.append((i, env, key))
    plaintexts = await prims.aes_gcm_decrypt_many(
        [(key, env.iv, env.ciphertext) for _, env, key in opening]) if opening else []
    verifying = []   # (index, envelope, object, verification)
    for (i, env, _), plaintext in zip(opening, plaintexts):
        try:
            checked = _checked_post(conversation, env, plaintext, posts[i])
        except PycoreError as e:
            out[i] = e
            continue
        if isinstance(checked, ReadPost):
            out[i] = checked
        else:
            verifying.append((i, env, *checked))
    oks = await prims.rsa_pss_verify_many([job for *_, job in verifying], 32) if verifying else []
    for (i, env, obj, _), ok in zip(verifying, oks):
        status, detail = _verified(ok)
        read = ReadPost(_KIND_NAMES[env.kind], status, detail=detail, epoch=env.epoch)
        if status == STATUS_VALID:
            try:
                await _valid_post(prims, env, obj, read, my_identities, me_username)
            except PycoreError as e:
                read = e
        out[i] = read
    return out


def _checked_post(conversation, env: Envelope, plaintext, post: PostToRead):
    """A decrypted later post up to its signature: the ReadPost when its status is already
    known, else (object, verification to make). Raises MalformedInput."""
    kind, kind_name = env.kind, _KIND_NAMES[env.kind]
    if plaintext is None:
        return ReadPost(kind_name, STATUS_CANNOT_DECRYPT, epoch=env.epoch,
                        detail="not encrypted with this conversation's key")
    obj = _message_obj(plaintext)
    if obj.get("type") != kind_name or kind == KIND_START:
        return ReadPost(kind_name, STATUS_WRONG_CONVERSATION, detail="a conversation's first post cannot appear again"
                        if kind == KIND_START else "the envelope kind does not match its content")
    if obj.get("conversation_id") != conversation.id:
        return ReadPost(kind_name, STATUS_WRONG_CONVERSATION, detail="the post belongs to another conversation")
    if _signed_epoch(obj) != env.epoch:
        return ReadPost(kind_name, STATUS_INVALID_SIGNATURE, epoch=env.epoch,
                        detail="the envelope's key epoch is not the one the author signed")
    status, detail, job = _signer_check(obj, post.author_keys, post.poster_username, post.unaccepted)
    if job is None:
        return ReadPost(kind_name, status, detail=detail, epoch=env.epoch)
    return obj, job


async def _valid_post(prims, env: Envelope, obj: dict, out: ReadPost, my_identities, me_username) -> None:
    """Completes `out` for a later post whose signature verified (a rekey or a share can still
    turn out invalid: its status says so)."""
    kind, section, entries = env.kind, env.section, env.entries
    if kind == KIND_REKEY:
        problem = await _check_rekey(prims, obj, section, entries, out)
        if problem:
            out.status, out.detail = STATUS_INVALID_SIGNATURE, problem
            return
        out.new_key = await _unwrap_rekey(prims, entries, out.participants, my_identities, me_username)
    elif kind in _ONE_RECIPIENT:
        if obj.get("keys_sha256") != await _sha256_hex(prims, section):
            out.status, out.detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not the one the inviter signed"
            return
        out.invitee_name = _obj_str(obj, "invitee_name")
        out.invitee_fingerprint = _obj_str(obj, "invitee_fingerprint", HEX64)
        if entries[0][0] != bytes.fromhex(out.invitee_fingerprint)[:_HINT]:
            out.status, out.detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not for the invitee"
            return
        if kind == KIND_EPOCH_KEY_SHARE:
            _later_keys_of(obj, env.epoch)   # malformed earlier keys make the share malformed for everyone
    else:
        out.body = _obj_str(obj, "raw")
        out.edited_at, out.history, out.history_omitted = _revision_of(obj)
        out.files = _files.files_of(obj)
    out.author_name = _obj_str(obj, "signed_by_name")
    out.author_fingerprint = _obj_str(obj, "signed_by_fingerprint")
    out.created_at = _obj_str(obj, "created_at")
    out.message_id = _obj_str(obj, "message_id")


async def make_key_share(prims, conversation, inviter, inviter_name: str, invitee_name: str,
                         invitee_key: PublishedKey, now_iso: str, *, max_chars: int = MAX_POST_CHARS) -> str:
    me = await _author_key(prims, inviter, inviter_name)
    check_username(invitee_name, "invitee")
    if not isinstance(invitee_key, PublishedKey):
        raise MalformedInput(f"{invitee_name} has no published key")
    epoch = conversation.newest_epoch
    key = conversation.epoch_key(epoch)
    section, _ = await _recipient_section(prims, key, [invitee_key])
    obj = {"type": "key_share", "v": PROTOCOL_VERSION, "conversation_id": conversation.id,
           "message_id": _random_id(prims), "created_at": str(now_iso),
           "invitee_name": invitee_name, "invitee_fingerprint": invitee_key.fingerprint_hex,
           "keys_sha256": await _sha256_hex(prims, section),
           "signed_by_name": inviter_name, "signed_by_fingerprint": me.fingerprint_hex}
    if epoch:
        # The newest key is wrapped for the invitee; the earlier ones travel inside, encrypted
        # with it, so that the invitee reads the whole history and removed participants (who
        # hold only earlier keys) read nothing of the share.
        obj["epoch"] = epoch
        obj["earlier_keys"] = [[str(e), b64.encode(await topickey.to_raw(prims, conversation.epoch_key(e)))]
                               for e in range(epoch)]
    signed = await _payload.sign(prims, inviter, obj)
    kind = KIND_EPOCH_KEY_SHARE if epoch else KIND_KEY_SHARE
    return await seal_envelope(prims, key, signed, _epoch_header(kind, epoch) + section, max_chars)


async def read_key_share(prims, raw: str, my_identity, inviter_keys, *, poster_username: str | None = None,
                         me_username: str | None = None, unaccepted=()) -> KeyShare:
    """For the invitee: the conversation key from a key-share post (`key` is None unless valid;
    a share made after a rekey also gives the later epochs' keys, in `later_keys`)."""
    env = parse_envelope(raw)
    section, entries = env.section, env.entries
    if env.kind not in _ONE_RECIPIENT:
        raise MalformedInput("this post is not a key share")
    my_fp = await _identity.fingerprint(prims, my_identity)
    _, key = await _unwrap_mine(prims, entries, my_identity, my_fp)
    obj = await _decrypt_obj(prims, key, env.iv, env.ciphertext)
    if obj is None:
        return KeyShare(STATUS_CANNOT_DECRYPT, None, None, None, None, None, None, "the key share was altered")
    if obj.get("type") != "key_share":
        raise MalformedInput("encrypted message: not a key share")
    if _signed_epoch(obj) != env.epoch:
        return KeyShare(STATUS_INVALID_SIGNATURE, None, None, None, None, None, None,
                        "the envelope's key epoch is not the one the inviter signed")
    status, detail = await _signer_status(prims, obj, inviter_keys, poster_username, unaccepted)
    if status == STATUS_VALID and obj.get("keys_sha256") != await _sha256_hex(prims, section):
        status, detail = STATUS_INVALID_SIGNATURE, "the wrapped key is not the one the inviter signed"
    if status == STATUS_VALID and obj.get("invitee_fingerprint") != my_fp.hex():
        status, detail = STATUS_WRONG_AUTHOR, "this key share names another key as the invitee"
    if status == STATUS_VALID and me_username is not None and \
            str(obj.get("invitee_name", "")).lower() != me_username.lower():
        status, detail = STATUS_WRONG_AUTHOR, "this key share names another user as the invitee"
    ok = status == STATUS_VALID
    later = {}
    if ok and env.epoch:
        earlier = _later_keys_of(obj, env.epoch)
        later = {e: await topickey.from_raw(prims, raw_key, extractable=True) for e, raw_key in earlier.items() if e}
        later[env.epoch] = key
        key = await topickey.from_raw(prims, earlier[0], extractable=True)
    share = KeyShare(status, _obj_str(obj, "conversation_id", _HEX32) if ok else None, key if ok else None,
                    _obj_str(obj, "signed_by_name") if ok else None, _obj_str(obj, "invitee_name") if ok else None,
                    _obj_str(obj, "invitee_fingerprint") if ok else None, _obj_str(obj, "created_at") if ok else None,
                    detail)
    share.later_keys = later
    return share


def _later_keys_of(obj: dict, epoch: int) -> dict:
    """The raw keys of epochs 0 … epoch-1 that a key share in `epoch` carries. Raises MalformedInput."""
    earlier = obj.get("earlier_keys")
    if not isinstance(earlier, list) or len(earlier) != epoch:
        raise MalformedInput("encrypted message: a key share after a key change must carry every earlier key")
    out = {}
    for i, item in enumerate(earlier):
        if not (isinstance(item, list) and len(item) == 2 and item[0] == str(i) and isinstance(item[1], str)):
            raise MalformedInput("encrypted message: malformed earlier key")
        out[i] = b64.decode(item[1], what="earlier key")
        if len(out[i]) != 32:
            raise MalformedInput("encrypted message: an earlier key is not 32 bytes")
    return out


# ---------------------------------------------------------------------------------- key epochs
# A rekey post starts epoch n: its recipient section wraps a new random key for every participant
# who stays (the remover first), and its signed object, encrypted with the key of epoch n-1, says
# who stays and who was removed. Everyone of epoch n-1 can read and verify that notice (the removed
# too: they learn they were removed, and by whom); only those who stay can unwrap the new key.

async def make_rekey(prims, conversation, author, author_name: str, staying, removed, now_iso: str,
                     *, max_chars: int = MAX_POST_CHARS):
    """(raw, new key, epoch) of a rekey post that removes `removed` (usernames) from the
    conversation. `staying`: [(username, PublishedKey)] of every other participant who stays;
    the author is added first. Raises MalformedInput, MessageTooLarge."""
    me = await _author_key(prims, author, author_name)
    gone = []
    for name in removed or []:
        check_username(name, "removed participant")
        if name.lower() not in {g.lower() for g in gone}:
            gone.append(name)
    if not gone:
        raise MalformedInput("a key change removes at least one participant")
    if author_name.lower() in {g.lower() for g in gone}:
        raise MalformedInput("the author of a key change stays in the conversation")
    people, seen = [(author_name, me)], {author_name.lower()} | {g.lower() for g in gone}
    for item in staying or []:
        if not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[1], PublishedKey):
            raise MalformedInput("participants who stay must be (username, PublishedKey) pairs")
        name, pk = item
        check_username(name, "participant")
        if name.lower() not in seen:
            seen.add(name.lower())
            people.append((name, pk))
    epoch = conversation.newest_epoch + 1
    if epoch > MAX_EPOCH:
        raise MalformedInput("this conversation's key was changed too many times")
    key = await topickey.generate(prims, extractable=True)
    section, _ = await _recipient_section(prims, key, [pk for _, pk in people])
    obj = {"type": "rekey", "v": PROTOCOL_VERSION, "conversation_id": conversation.id,
           "message_id": _random_id(prims), "created_at": str(now_iso), "epoch": epoch,
           "participants": [[n, pk.fingerprint_hex] for n, pk in people], "removed": gone,
           "keys_sha256": await _sha256_hex(prims, section),
           "signed_by_name": author_name, "signed_by_fingerprint": me.fingerprint_hex}
    signed = await _payload.sign(prims, author, obj)
    raw = await seal_envelope(prims, conversation.epoch_key(epoch - 1), signed,
                              _epoch_header(KIND_REKEY, epoch) + section, max_chars)
    return raw, key, epoch


async def _check_rekey(prims, obj: dict, section: bytes, entries: list, out: ReadPost) -> str:
    """What is wrong with a validly signed rekey object ("" when nothing); fills `out`."""
    participants, removed = obj.get("participants"), obj.get("removed")
    if not isinstance(participants, list) or not participants or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], str)
            and HEX64.fullmatch(p[1]) for p in participants):
        raise MalformedInput("encrypted message: malformed participant list")
    if not isinstance(removed, list) or not removed or not all(isinstance(r, str) and r for r in removed):
        raise MalformedInput("encrypted message: malformed list of removed participants")
    if obj.get("keys_sha256") != await _sha256_hex(prims, section):
        return "the wrapped keys are not the ones the author signed"
    if len(participants) != len(entries) or any(
            bytes.fromhex(p[1])[:_HINT] != h for p, (h, _) in zip(participants, entries)):
        return "the participant list does not match the wrapped keys"
    if {r.lower() for r in removed} & {p[0].lower() for p in participants}:
        return "a participant is listed both as staying and as removed"
    if participants[0][0].lower() != _obj_str(obj, "signed_by_name").lower() or \
            participants[0][1] != _obj_str(obj, "signed_by_fingerprint", HEX64):
        return "the author of a key change must be its first participant"
    out.participants, out.removed = participants, removed
    return ""


async def _unwrap_rekey(prims, entries, participants, my_identities, me_username):
    """The new key wrapped for me in a rekey, or None when none of my identities was given one.
    Only the entry listed under my name and key is tried (the signed list says whose each is)."""
    for ident in my_identities or ():
        fp = (await _identity.fingerprint(prims, ident)).hex()
        for (name, listed_fp), (_hint, wrapped) in zip(participants, entries):
            if listed_fp != fp or (me_username is not None and name.lower() != me_username.lower()):
                continue
            try:
                return await topickey.unwrap(prims, b64.encode(wrapped), ident.encrypt_private, extractable=True)
            except (WrongKey, MalformedInput):
                break
    return None


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
    env = parse_envelope(previous_raw)
    kind, section = env.kind, env.section
    if kind not in (KIND_START, KIND_REPLY, KIND_EPOCH_REPLY):
        raise NotYourPost("only a conversation's first post or a reply can be edited")
    if env.epoch < conversation.newest_epoch:
        raise OldConversationKey("this post was written before the conversation's key changed: its new version "
                                 "would be readable by the participants removed since")
    key = conversation.epoch_key(env.epoch)
    if key is None:
        raise NotYourPost("this post is encrypted with a key of the conversation this device was not given")
    obj = await _decrypt_obj(prims, key, env.iv, env.ciphertext)
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
    header = env.header
    files = _files.files_of(base)   # an edit keeps the files, and the links that keep them stored
    base.pop("files", None)
    while True:
        new = dict(base, edited_at=str(now_iso), history=history, history_omitted=omitted)
        try:
            return await _seal_post(prims, key, new, author, header, max_chars, files)
        except MessageTooLarge:
            if not history:
                raise
            history, omitted = history[1:], omitted + 1
