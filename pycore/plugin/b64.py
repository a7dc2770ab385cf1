"""Base64 as the discourse-encrypt formats use it.

Encoding is plain RFC 4648 base64 with padding (the plugin's encoder is byte-for-byte the same).

Decoding is deliberately stricter than the plugin's decoder, which never validates and turns
stray characters into garbage bytes (see docs/DECISIONS.md, "base64"):
- missing padding is accepted, because the plugin accepts it and never needs it;
- characters outside the standard alphabet, '=' anywhere but at the end, and lengths that no
  encoder can produce (1 mod 4) are rejected with MalformedInput;
- non-zero unused bits in the last character are accepted: they do not change the decoded
  bytes, and the plugin accepts them too.
"""

import base64
import binascii
import re

from ..errors import MalformedInput
from ..primitives import jwk as _jwk_b64

_STD = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def encode(data: bytes) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def decode(text: str, *, what: str = "base64 data") -> bytes:
    if not isinstance(text, str):
        raise MalformedInput(f"{what}: expected text, got {type(text).__name__}")
    if not _STD.fullmatch(text):
        raise MalformedInput(f"{what}: not standard base64 (only A-Z a-z 0-9 + / and final '=')")
    body = text.rstrip("=")
    if len(body) % 4 == 1:
        raise MalformedInput(f"{what}: truncated base64 (length {len(body)} is impossible)")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the checks above cover it
        raise MalformedInput(f"{what}: {exc}") from None


# JWK members use base64url; the primitives layer defines it, the formats reuse it.
encode_url = _jwk_b64.encode_url
decode_url = _jwk_b64.decode_url
