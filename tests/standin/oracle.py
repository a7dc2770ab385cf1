"""Leak oracle: did a registered secret reach the server in any common encoding?

Strategy: turn each logged request into a few "decoded views" (raw, percent-decoded with and
without '+'-as-space, JSON-string-unescaped, and combinations), and search each view for a set
of byte needles derived from the secret: UTF-8, UTF-16LE/BE, each of those as hex (both cases),
and as base64/base64url in all three alignments a secret can have inside a longer stream.
"""
from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from dataclasses import dataclass

MIN_SECRET_LEN = 6


def _b64_aligned(data: bytes, alphabet_url: bool) -> list[tuple[str, bytes]]:
    """Base64 of `data` at byte offsets 0, 1, 2 within a stream: only the characters that depend
    on `data` alone (no neighbouring bytes) are kept, so they occur in any stream containing it."""
    out = []
    n = len(data)
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + data + b"\0\0")
        first = -(-8 * k // 6)                  # first char whose 6 bits are all inside `data`
        last = (8 * (k + n)) // 6               # one past the last such char
        piece = enc[first:last]
        if alphabet_url:
            piece = piece.translate(bytes.maketrans(b"+/", b"-_"))
        if len(piece) >= 4:
            out.append((f"base64{'url' if alphabet_url else ''}@{k}", piece))
    return out


def needles(secret: str | bytes) -> list[tuple[str, bytes]]:
    """Byte needles of a text secret (in its text encodings) or of a bytes secret (a file's own
    bytes), each also as hex and base64."""
    forms = [("bytes", bytes(secret))] if isinstance(secret, (bytes, bytearray)) else [
        ("utf-8", secret.encode("utf-8")), ("utf-16le", secret.encode("utf-16-le")),
        ("utf-16be", secret.encode("utf-16-be"))]
    out: list[tuple[str, bytes]] = []
    for name, b in forms:
        out.append((name, b))
        out.append((f"hex({name})", binascii.hexlify(b)))
        out.append((f"HEX({name})", binascii.hexlify(b).upper()))
        for enc, piece in _b64_aligned(b, False) + _b64_aligned(b, True):
            out.append((f"{enc}({name})", piece))
    # de-duplicate (e.g. base64 and base64url agree when no + or / occurs)
    seen, uniq = set(), []
    for name, b in out:
        if b not in seen:
            seen.add(b)
            uniq.append((name, b))
    return uniq


_JSON_ESC = re.compile(
    rb'\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\(["\\/bfnrt])')
_SIMPLE = {b'"': b'"', b"\\": b"\\", b"/": b"/", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t"}


def json_unescape(data: bytes) -> bytes:
    """Undo one level of JSON string escaping anywhere in `data` (\\uXXXX incl. surrogate pairs, \\n, \\/...)."""
    def rep(m):
        if m.group(1):
            cp = 0x10000 + ((int(m.group(1), 16) - 0xD800) << 10) + (int(m.group(2), 16) - 0xDC00)
            return chr(cp).encode("utf-8")
        if m.group(3):
            return chr(int(m.group(3), 16)).encode("utf-8", "surrogatepass")
        return _SIMPLE[m.group(4)]
    return _JSON_ESC.sub(rep, data)


_TRANSFORMS = {
    "url-decoded": urllib.parse.unquote_to_bytes,
    "url-decoded(+)": lambda b: urllib.parse.unquote_to_bytes(b.replace(b"+", b" ")),
    "json-unescaped": json_unescape,
}


def views(data: bytes, depth: int = 3) -> list[tuple[str, bytes]]:
    """`data` under every chain of up to `depth` decodings (JSON inside a form field inside JSON...)."""
    out = [("raw", data)]
    seen = {data}
    frontier = [("raw", data)]
    for _ in range(depth):
        nxt = []
        for name, v in frontier:
            for tname, fn in _TRANSFORMS.items():
                w = fn(v)
                if w not in seen:
                    seen.add(w)
                    label = tname if name == "raw" else f"{name},{tname}"
                    out.append((label, w))
                    nxt.append((label, w))
        frontier = nxt
    return out


def request_bytes(entry: dict) -> bytes:
    """Everything a request carried: request line, headers, body."""
    head = f"{entry.get('method', '')} {entry.get('raw_uri') or entry.get('path', '')}?{entry.get('query', '')}\n"
    head += f"{entry.get('path', '')}\n"
    for k, v in (entry.get("headers") or {}).items():
        head += f"{k}: {v}\n"
    body = entry.get("body_bytes")
    if body is None:
        body = (entry.get("body") or "").encode("utf-8", "surrogateescape")
    return head.encode("utf-8", "surrogateescape") + b"\n" + body


@dataclass
class Leak:
    label: str
    encoding: str
    view: str
    method: str
    path: str
    index: int

    def __str__(self):
        return f"secret {self.label!r} leaked as {self.encoding} ({self.view}) in request #{self.index} {self.method} {self.path}"


class LeakOracle:
    def __init__(self):
        self.secrets: list[tuple[str | bytes, str]] = []
        self.servers: list = []
        self.extra_logs: list = []     # callables returning lists of request dicts

    def register(self, secret: str, label: str | None = None) -> str:
        if not isinstance(secret, str):
            secret = secret.decode("utf-8") if isinstance(secret, bytes) else str(secret)
        if len(secret) < MIN_SECRET_LEN:
            raise ValueError(f"secrets must have at least {MIN_SECRET_LEN} characters to be checked reliably")
        self.secrets.append((secret, label or secret[:24]))
        return secret

    def register_bytes(self, label: str, data: bytes) -> bytes:
        """A secret that is not text (bytes of a file): found raw, as hex or as base64."""
        data = bytes(data)
        if len(data) < MIN_SECRET_LEN:
            raise ValueError(f"secrets must have at least {MIN_SECRET_LEN} bytes to be checked reliably")
        self.secrets.append((data, label))
        return data

    def watch(self, srv) -> None:
        if srv not in self.servers:
            self.servers.append(srv)

    def scan(self, entries: list[dict]) -> list[Leak]:
        found: list[Leak] = []
        prepared = [(s, label, needles(s)) for s, label in self.secrets]
        for i, entry in enumerate(entries):
            data = request_bytes(entry)
            vs = views(data)
            for s, label, nds in prepared:
                hit = None
                for vname, v in vs:
                    for ename, nd in nds:
                        if nd in v:
                            hit = Leak(label, ename, vname, entry.get("method", ""), entry.get("path", ""), i)
                            break
                    if hit:
                        break
                if hit:
                    found.append(hit)
        return found

    def leaks(self) -> list[Leak]:
        out = []
        for srv in self.servers:
            out += self.scan(srv.requests)
        for fn in self.extra_logs:
            out += self.scan(fn())
        return out

    def check(self) -> None:
        """Raise AssertionError listing every leak (one line per secret and request)."""
        found = self.leaks()
        if found:
            raise AssertionError("secrets reached the server:\n  " + "\n  ".join(str(x) for x in found))
