"""The device state record: what one device knows beyond the identity (pins, the conversation
list, unsent drafts), carried to the user's other devices in a PM to themselves (PROTOCOL.md §5a).

Two parts, both pure:

* the state itself, a plain dict, and `merge(a, b)`: a join (commutative, associative,
  idempotent), so every device that merges every record it can read reaches the same state, in
  any order, however often it repeats a merge. Nothing is overwritten: each entry keeps the
  greater of its two versions under a total order (pins: the stricter; drafts and conversation
  details: the newer, a deletion being a tombstone with its time; participants: the union).
* `seal_state` / `open_state`: the record as posted. A fresh AES-256-GCM key encrypts the state;
  the key is wrapped with RSA-OAEP to my own encryption key, so only my identity reads it; inside
  the ciphertext the state is signed with my RSA-PSS signing key over a statement that names the
  recipient's fingerprint, so the forum (which can post in my name) can neither forge nor alter
  it, nor re-wrap another user's record for me.

Records signed by one of my retired identities are refused: a key is often retired because it
leaked, and a leaked key could otherwise make every device "verify" a stranger's key.
"""

from __future__ import annotations

import json

from ..errors import AuthenticationFailed, MalformedInput, WrongKey
from ..plugin import identity as _identity
from ..plugin import topickey
from .armour import STATE_BEGIN, STATE_END, armour, contains_block, find_block, versioned_record

STATE_HINT = "Encrypted device state for Encrypt for Discourse. Keep this message; do not edit it."
MAX_STATE_BYTES = 200_000  # far above a real state; bounds what a forged post can make us parse
_IV = 12
_WRAPPED = 512            # RSA-4096 OAEP output
_SIG_CONTEXT = b"EFD device state v1\n"

# The strictness of a pin: a later state never loosens an earlier one.
PIN_RANKS = {"first_seen": 0, "verified": 1, "key_changed": 2}


def empty() -> dict:
    return {"pins": {}, "conversations": {}, "drafts": {}}


# ------------------------------------------------------------------------------- entries
def _canon(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _key(origin, name) -> str:
    if not isinstance(origin, str) or not origin or not isinstance(name, (str, int)) or isinstance(name, bool):
        raise MalformedInput("device state: an entry needs an origin and a name")
    return f"{origin}\n{name}"


def split_key(key: str) -> tuple[str, str]:
    origin, _, name = key.partition("\n")
    return origin, name


def _num(v, what) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0:
        raise MalformedInput(f"device state: {what} must be a time")
    return v


def _text(v, what, *, optional=False) -> str | None:
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise MalformedInput(f"device state: {what} must be text")
    return v


def _fp(v, what="fingerprint") -> str:
    if not isinstance(v, str) or len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
        raise MalformedInput(f"device state: {what} must be 64 lower-case hex digits")
    return v


def pin_entry(fingerprint, state, *, pending=None, at=0, public=None, pending_public=None) -> dict:
    """`public` / `pending_public`: the public identity strings of the two keys, so that a device
    that never saw the user's key can pin it as my other device did (the engine checks that each
    string has its fingerprint before using it)."""
    if state not in PIN_RANKS:
        raise MalformedInput(f"device state: pin state {state!r} is not one of {sorted(PIN_RANKS)}")
    if (state == "key_changed") != (pending is not None):
        raise MalformedInput("device state: a changed key (and only that) names the pending fingerprint")
    if pending is None and pending_public is not None:
        raise MalformedInput("device state: a pending public key without a pending fingerprint")
    return {"fingerprint": _fp(fingerprint), "state": state,
            "pending": None if pending is None else _fp(pending, "pending fingerprint"), "at": _num(at, "pin time"),
            "public": _text(public, "public key", optional=True),
            "pending_public": _text(pending_public, "pending public key", optional=True)}


def conversation_entry(conversation_id, *, title=None, participants=(), updated_at=0) -> dict:
    if not isinstance(participants, (list, tuple)) or not all(isinstance(p, str) and p for p in participants):
        raise MalformedInput("device state: participants must be usernames")
    return {"conversation_id": _text(conversation_id, "conversation id"), "title": _text(title, "title", optional=True),
            "participants": sorted(set(participants)), "updated_at": _num(updated_at, "conversation time")}


def draft_entry(text=None, *, title=None, updated_at, deleted=False) -> dict:
    if deleted:
        return {"text": None, "title": None, "updated_at": _num(updated_at, "draft time"), "deleted": True}
    return {"text": _text(text, "draft text"), "title": _text(title, "draft title", optional=True),
            "updated_at": _num(updated_at, "draft time"), "deleted": False}


def put_pin(st, origin, username, entry) -> None:
    st["pins"][_key(origin, username.lower())] = entry


def put_conversation(st, origin, topic_id, entry) -> None:
    st["conversations"][_key(origin, str(topic_id))] = entry


def put_draft(st, origin, draft_key, entry) -> None:
    st["drafts"][_key(origin, draft_key)] = entry


# ------------------------------------------------------------------------------- the join
def _pin_order(e):
    return (PIN_RANKS[e["state"]], e["at"], e["fingerprint"], e["pending"] or "", e["public"] or "",
            e["pending_public"] or "")


def _draft_order(e):
    # A deletion at the same moment as an edit wins: the device that deleted saw the text.
    return (e["updated_at"], e["deleted"], _canon(e))


def _join_pin(a, b):
    return max(a, b, key=_pin_order)


def _join_draft(a, b):
    return max(a, b, key=_draft_order)


def _join_conversation(a, b):
    newer = max(a, b, key=lambda e: (e["updated_at"], _canon({k: v for k, v in e.items() if k != "participants"})))
    return {**newer, "participants": sorted(set(a["participants"]) | set(b["participants"]))}


_JOINS = {"pins": _join_pin, "conversations": _join_conversation, "drafts": _join_draft}


def merge(a: dict, b: dict) -> dict:
    """The join of two states: every entry of either, each the greater of its two versions."""
    out = {}
    for part, join in _JOINS.items():
        pa, pb = a.get(part, {}), b.get(part, {})
        merged = dict(pa)
        for k, eb in pb.items():
            merged[k] = join(pa[k], eb) if k in pa else eb
        out[part] = merged
    return out


def merge_all(states) -> dict:
    out = empty()
    for s in states:
        out = merge(out, s)
    return out


def covers(a: dict, b: dict) -> bool:
    """True when `a` already holds everything `b` says (merging b into a changes nothing): a
    device need not post when the forum's merged record covers its own state."""
    return merge(a, b) == normalise(a)


# ------------------------------------------------------------------------------- validation
_BUILDERS = {
    "pins": lambda e: pin_entry(e.get("fingerprint"), e.get("state"), pending=e.get("pending"), at=e.get("at"),
                                public=e.get("public"), pending_public=e.get("pending_public")),
    "conversations": lambda e: conversation_entry(e.get("conversation_id"), title=e.get("title"),
                                                  participants=e.get("participants", []), updated_at=e.get("updated_at")),
    "drafts": lambda e: draft_entry(e.get("text"), title=e.get("title"), updated_at=e.get("updated_at"),
                                    deleted=e.get("deleted") is True),
}


def normalise(obj) -> dict:
    """A state checked entry by entry (MalformedInput names what is wrong); unknown parts are
    dropped so a newer format's extra parts do not stop an older device."""
    if not isinstance(obj, dict):
        raise MalformedInput("device state: expected an object")
    out = empty()
    for part, build in _BUILDERS.items():
        entries = obj.get(part, {})
        if not isinstance(entries, dict):
            raise MalformedInput(f"device state: {part} must be an object")
        for k, e in entries.items():
            if not isinstance(k, str) or "\n" not in k or not isinstance(e, dict):
                raise MalformedInput(f"device state: a malformed {part} entry")
            out[part][k] = build(e)
    return out


def to_bytes(st: dict) -> bytes:
    return _canon(normalise(st)).encode("utf-8")


def from_bytes(data: bytes) -> dict:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedInput("device state: not JSON") from None
    return normalise(obj)


# ------------------------------------------------------------------------------- the record
def is_state_raw(raw) -> bool:
    return contains_block(raw, STATE_BEGIN, STATE_END)


async def _statement(prims, recipient, body: bytes) -> bytes:
    fp = await _identity.fingerprint(prims, recipient)
    return _SIG_CONTEXT + fp + body


async def seal_state(prims, ident, st: dict) -> str:
    """The raw of a state post: readable by `ident` only, signed by it."""
    if not ident.can_sign:
        raise MalformedInput("device state: sealing needs my private signing key")
    body = to_bytes(st)
    if len(body) > MAX_STATE_BYTES:
        raise MalformedInput(f"device state: {len(body)} bytes is more than {MAX_STATE_BYTES}")
    sig = await prims.rsa_pss_sign(ident.sign_private, await _statement(prims, ident, body), 32)
    key = await topickey.generate(prims)
    wrapped = await prims.rsa_oaep_encrypt(ident.encrypt_public, await topickey.to_raw(prims, key))
    if len(wrapped) != _WRAPPED:
        raise MalformedInput("device state: only RSA-4096 identities")
    iv = prims.random_bytes(_IV)
    inner = len(sig).to_bytes(2, "big") + sig + body
    record = bytes([1]) + wrapped + iv + await prims.aes_gcm_encrypt(key, iv, inner)
    return STATE_HINT + "\n\n" + armour(STATE_BEGIN, STATE_END, record)


async def open_state(prims, ident, raw: str) -> dict:
    """The state inside a state post, if it was sealed by and for `ident`. Raises WrongKey (not
    for my key: another user's record, or one sealed to a retired key), AuthenticationFailed
    (altered, or signed by a key other than mine), MalformedInput / UnsupportedVersion."""
    _, _, encoded = find_block(raw, STATE_BEGIN, STATE_END, "device state")
    rec = versioned_record(encoded, "device state")
    if len(rec) < 1 + _WRAPPED + _IV + 16 + 2:
        raise MalformedInput("device state: truncated")
    wrapped, iv, ct = rec[1:1 + _WRAPPED], rec[1 + _WRAPPED:1 + _WRAPPED + _IV], rec[1 + _WRAPPED + _IV:]
    try:
        raw_key = await prims.rsa_oaep_decrypt(ident.encrypt_private, wrapped)
    except (WrongKey, AuthenticationFailed, ValueError):
        raise WrongKey("device state: not sealed for my key") from None
    key = await topickey.from_raw(prims, raw_key, extractable=False)
    try:
        inner = await prims.aes_gcm_decrypt(key, iv, ct)
    except AuthenticationFailed:
        raise AuthenticationFailed("device state: the record was altered") from None
    n = int.from_bytes(inner[:2], "big")
    sig, body = inner[2:2 + n], inner[2 + n:]
    if len(sig) != n or len(body) > MAX_STATE_BYTES:
        raise MalformedInput("device state: truncated")
    if not await prims.rsa_pss_verify(ident.sign_public, sig, await _statement(prims, ident, body), 32):
        raise AuthenticationFailed("device state: not signed by my current key")
    return from_bytes(body)


async def open_all(prims, ident, raws) -> tuple[dict, list[dict]]:
    """(the join of every record that opens, [{index, code, detail}] for each refused one)."""
    states, rejected = [], []
    for i, raw in enumerate(raws):
        try:
            states.append(await open_state(prims, ident, raw))
        except (WrongKey, AuthenticationFailed, MalformedInput) as e:
            rejected.append({"index": i, "code": e.code, "detail": str(e)})
    return merge_all(states), rejected
