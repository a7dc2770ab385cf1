"""JWK checks shared by both backends, so that both refuse the same inputs the same way."""

import base64
import binascii
import re

from ..errors import MalformedInput
from .base import JWK_ALG, JWK_OPS, MAX_RSA_BITS, MIN_RSA_BITS, PRIVATE_MEMBERS, RSA_KINDS

_URL = re.compile(r"[A-Za-z0-9_-]*")


def encode_url(data: bytes) -> str:
    """JWK-style base64url without padding."""
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def decode_url(text: str, *, what: str = "base64url data") -> bytes:
    if not isinstance(text, str):
        raise MalformedInput(f"{what}: expected text, got {type(text).__name__}")
    if not _URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedInput(f"{what}: not base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover
        raise MalformedInput(f"{what}: {exc}") from None


def _int(jwk: dict, name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedInput(f"RSA JWK: member {name!r} is missing or not a string")
    return int.from_bytes(decode_url(value, what=f"RSA JWK member {name!r}"), "big")


def check_rsa_jwk(jwk, kind: str) -> tuple[dict[str, int], bool]:
    """Validates an RSA JWK for `kind` and returns its integers and whether it is private."""
    if kind not in RSA_KINDS:
        raise ValueError(f"unknown RSA kind {kind!r}")
    if not isinstance(jwk, dict):
        raise MalformedInput("RSA JWK: expected a JSON object")
    if jwk.get("kty") != "RSA":
        raise MalformedInput(f"RSA JWK: kty is {jwk.get('kty')!r}, expected 'RSA'")
    alg = jwk.get("alg")
    if alg is not None and alg != JWK_ALG[kind]:
        raise MalformedInput(f"RSA JWK: alg is {alg!r}, expected {JWK_ALG[kind]!r}")
    private = "d" in jwk
    ops = jwk.get("key_ops")
    if ops is not None:
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            raise MalformedInput("RSA JWK: key_ops must be a list of strings")
        if not set(JWK_OPS[(kind, private)]) & set(ops):
            raise MalformedInput(f"RSA JWK: key_ops {ops} do not allow {JWK_OPS[(kind, private)]}")
    if jwk.get("ext", True) is not True:
        raise MalformedInput("RSA JWK: ext must be true or absent")
    numbers = {"n": _int(jwk, "n"), "e": _int(jwk, "e")}
    bits = numbers["n"].bit_length()
    if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
        raise MalformedInput(f"RSA JWK: a {bits}-bit modulus is outside {MIN_RSA_BITS}..{MAX_RSA_BITS}")
    e = numbers["e"]
    if e < 3 or e % 2 == 0 or e.bit_length() > 64:
        raise MalformedInput("RSA JWK: unusable public exponent")
    if private:
        for name in PRIVATE_MEMBERS:
            numbers[name] = _int(jwk, name)
        if numbers["p"] * numbers["q"] != numbers["n"]:
            raise MalformedInput("RSA JWK: p * q does not equal n")
    return numbers, private


def clean_rsa_jwk(jwk: dict, kind: str) -> dict:
    """The members WebCrypto needs, with the alg it insists on and nothing it could refuse."""
    out = {"kty": "RSA", "n": jwk["n"], "e": jwk["e"], "alg": JWK_ALG[kind], "ext": True}
    if "d" in jwk:
        for name in PRIVATE_MEMBERS:
            out[name] = jwk[name]
    return out


def chrome_order(jwk: dict) -> dict:
    """Members in alphabetical order, as Chrome exports them (the plugin's fixtures look like this)."""
    return {k: jwk[k] for k in sorted(jwk)}


def make_jwk(kind: str, numbers: dict[str, int], private: bool) -> dict:
    """A Chrome-like JWK from integers (the CPython backend's export)."""
    size = (numbers["n"].bit_length() + 7) // 8

    def enc(name: str) -> str:
        value = numbers[name]
        length = max(1, (value.bit_length() + 7) // 8)
        return encode_url(value.to_bytes(length, "big"))

    jwk = {
        "alg": JWK_ALG[kind],
        "e": enc("e"),
        "ext": True,
        "key_ops": list(JWK_OPS[(kind, private)]),
        "kty": "RSA",
        "n": encode_url(numbers["n"].to_bytes(size, "big")),
    }
    if private:
        for name in PRIVATE_MEMBERS:
            jwk[name] = enc(name)
    return chrome_order(jwk)
