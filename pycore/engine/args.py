"""Reading a request's payload. The router has already checked every payload against its
declaration in extension/common/messages.js; these checks keep the engine safe on its own (a
bad payload is a BadRequest, never a crash) and turn the values into what handlers use."""

from __future__ import annotations

import re

from ..errors import BadRequest
from ..inband import MAX_POST_CHARS, is_username

MIN_PASSPHRASE_LENGTH = 15
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?")
_DRAFT_KEY = re.compile(r"[A-Za-z0-9_.:\-]{1,100}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_new_passphrase(p) -> None:
    if not isinstance(p, str) or len(p) < MIN_PASSPHRASE_LENGTH:
        raise BadRequest(f"the passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters")


def origin(payload, context) -> str:
    """The forum's origin ("https://forum.example"): from the router's context when it sets it
    (from the sender tab's URL), else from the payload."""
    o = context.get("origin") if isinstance(context.get("origin"), str) else payload.get("origin")
    if not isinstance(o, str) or not _ORIGIN.fullmatch(o):
        raise BadRequest("origin must be the forum's origin, like https://forum.example")
    return o.lower()


def text(payload, name, *, empty=False, max_len=None) -> str:
    v = payload.get(name)
    if not isinstance(v, str) or (not empty and not v.strip()) or (max_len and len(v) > max_len):
        raise BadRequest(f"{name} must be {'a' if empty else 'a non-empty'} string")
    return v


def optional_text(payload, name) -> str | None:
    v = payload.get(name)
    if v is not None and not isinstance(v, str):
        raise BadRequest(f"{name} must be a string")
    return v


def username(v, what="username") -> str:
    if not is_username(v):
        raise BadRequest(f"{what} is not a Discourse username")
    return v


def topic_id(payload) -> int:
    t = payload.get("topic_id")
    if isinstance(t, bool) or not isinstance(t, int) or t <= 0:
        raise BadRequest("topic_id must be a positive integer")
    return t


def max_chars(payload) -> int:
    m = payload.get("max_chars", MAX_POST_CHARS)
    if m is None:
        return MAX_POST_CHARS
    if isinstance(m, bool) or not isinstance(m, int) or not 1000 <= m <= 1_000_000:
        raise BadRequest("max_chars must be an integer from 1000 to 1000000")
    return m


def user_ref(payload, name) -> tuple[str, str | None]:
    """(username, bio_raw or None) of a {username, bio_raw} member."""
    v = payload.get(name)
    if not isinstance(v, dict):
        raise BadRequest(f"{name} must be an object {{username, bio_raw}}")
    bio = v.get("bio_raw")
    if bio is not None and not isinstance(bio, str):
        raise BadRequest(f"{name}.bio_raw must be a string")
    return username(v.get("username"), f"{name}.username"), bio


def fingerprint(payload) -> str:
    fp = payload.get("fingerprint")
    if not isinstance(fp, str) or not _HEX64.fullmatch(fp):
        raise BadRequest("fingerprint must be 64 lower-case hex digits")
    return fp


def draft_key(payload) -> str:
    dk = payload.get("draft_key")
    if not isinstance(dk, str) or not _DRAFT_KEY.fullmatch(dk):
        raise BadRequest("draft_key must be 1-100 characters of A-Z a-z 0-9 _ . : -")
    return dk


def usernames(payload, name) -> list[str] | None:
    v = payload.get(name)
    if v is None:
        return None
    if not isinstance(v, list) or not all(is_username(u) for u in v):
        raise BadRequest(f"{name} must be a list of usernames")
    return v
