"""Armour: how the in-band protocol's binary records travel in Discourse's plain text.

A record (first byte: format version) is written in the A256 alphabet, one letter or digit per
byte in lines of 96 characters, between BEGIN/END marker lines, inside a ```text fence so
Discourse cooks it verbatim (PROTOCOL.md §1 explains the alphabet).
"""

from __future__ import annotations

from ..errors import MalformedInput, UnsupportedVersion

try:  # present in CPython and in Pyodide's standard library
    import unicodedata as _unicodedata
except ImportError:  # pragma: no cover
    _unicodedata = None

LINE = 96
KEY_BEGIN = "-----BEGIN EFD PUBLIC KEY-----"
KEY_END = "-----END EFD PUBLIC KEY-----"
MSG_BEGIN = "-----BEGIN EFD MESSAGE-----"
MSG_END = "-----END EFD MESSAGE-----"
BACKUP_BEGIN = "-----BEGIN EFD KEY BACKUP-----"
BACKUP_END = "-----END EFD KEY BACKUP-----"
STATE_BEGIN = "-----BEGIN EFD DEVICE STATE-----"
STATE_END = "-----END EFD DEVICE STATE-----"
FENCE_OPEN = "```text"
FENCE_CLOSE = "```"

# Digits, A-Z, a-z, then the first 194 code points from U+00C0 that are letters (Lu/Ll), stable
# under NFC and NFKC, without U+0130/U+0131. tests/test_inband.py re-derives it.
A256_ALPHABET = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿĀāĂă"
    "ĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįĴĵĶķĸĹĺĻļĽľŁłŃńŅņŇňŊ"
    "ŋŌōŎŏŐőŒœŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƀƁƂƃƄƅƆƇƈƉƊƋ"
)
assert len(A256_ALPHABET) == 256 and len(set(A256_ALPHABET)) == 256
_A256_INDEX = {c: i for i, c in enumerate(A256_ALPHABET)}


def a256_encode(data: bytes, *, line: int = LINE) -> str:
    text = "".join(A256_ALPHABET[b] for b in bytes(data))
    return "\n".join(text[i:i + line] for i in range(0, len(text), line))


def a256_decode(text: str, *, what: str = "armoured data") -> bytes:
    if not isinstance(text, str):
        raise MalformedInput(f"{what}: expected text")
    if _fast_decode is not None:
        out = _fast_decode(text)
        if out is not None:
            return out
    if _unicodedata is not None and not text.isascii():
        text = _unicodedata.normalize("NFC", text)
    out = bytearray()
    index = _A256_INDEX
    for ch in text:
        v = index.get(ch)
        if v is None:
            if ch.isspace():
                continue
            raise MalformedInput(f"{what}: unexpected character U+{ord(ch):04X}")
        out.append(v)
    return bytes(out)


# Decoding runs once for every post read, and a Python loop over each character is most of the
# engine's own work per post. An embedder may install a faster decoder (the extension's engine
# host does, in JavaScript): it must return exactly a256_decode's bytes, or None for any text it
# does not handle (then the code above decides, errors included).
_fast_decode = None


def use_fast_decoder(fn) -> None:
    global _fast_decode
    _fast_decode = fn


def a256_length(n_bytes: int) -> int:
    return n_bytes + max(0, -(-n_bytes // LINE) - 1)


def armour(begin: str, end: str, data: bytes, header: str = "") -> str:
    return "\n".join([FENCE_OPEN, begin] + ([header] if header else []) + [a256_encode(data), end, FENCE_CLOSE])


def versioned_record(encoded: str, what: str) -> bytes:
    """The bytes of an armoured record whose first byte is the format version (1) and which has at
    least one more byte. Raises MalformedInput / UnsupportedVersion."""
    record = a256_decode(encoded, what=what)
    if len(record) < 2:
        raise MalformedInput(f"{what}: too short")
    if record[0] != 1:
        raise UnsupportedVersion(f"{what}: version {record[0]} is not supported")
    return record


def find_block(text: str, begin: str, end: str, what: str) -> tuple[int, int, str]:
    """(start of BEGIN, end of END, text between). Raises MalformedInput on 0 or 2+ blocks."""
    if not isinstance(text, str):
        raise MalformedInput(f"{what}: expected text")
    i = text.find(begin)
    if i < 0:
        raise MalformedInput(f"{what}: no {begin} line")
    if text.find(begin, i + len(begin)) >= 0:
        raise MalformedInput(f"{what}: more than one block")
    j = text.find(end, i + len(begin))
    if j < 0:
        raise MalformedInput(f"{what}: the block has no {end} line")
    return i, j + len(end), text[i + len(begin):j]


def contains_block(text, begin: str, end: str) -> bool:
    """True when `text` holds a BEGIN line followed somewhere by its END line."""
    if not isinstance(text, str):
        return False
    i = text.find(begin)
    return i >= 0 and text.find(end, i) > i
