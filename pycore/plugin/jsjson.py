"""JSON exactly as the plugin's JavaScript reads and writes it.

Signatures in discourse-encrypt v1 cover `JSON.stringify(obj, sortedTopLevelKeys)` (see the formats
spec, section 1.5). A verifier never sees the signed bytes: it re-serialises the decrypted object,
so this module must reproduce JavaScript's output byte for byte:
- compact separators, top-level members in sorted (UTF-16 code unit) order;
- the same key list used as an allow-list at every nesting level (a quirk of array replacers);
- JS string escaping (lone surrogates as lower-case \\udxxx, everything else non-ASCII literal);
- JS number formatting (Number.prototype.toString), after JSON.parse turned every number into a
  double, exactly as JavaScript would.
"""

import json
import math
import re
from json.encoder import encode_basestring   # what json.dumps(ensure_ascii=False) uses for a str

from ..errors import MalformedInput

_MAX_SAFE = 2**53


def _utf16_key(s: str) -> bytes:
    # JavaScript's default sort compares UTF-16 code units; UTF-16-BE bytes sort the same way.
    return s.encode("utf-16-be", "surrogatepass")


def _join_surrogate_pairs(s: str) -> str:
    # A Python str may hold a valid surrogate pair as two code points; JavaScript sees one
    # character there. Round-tripping through UTF-16 joins such pairs and keeps lone ones.
    return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\ud800-\udfff]')


def _escape_char(match: "re.Match[str]") -> str:
    ch = match.group(0)
    return _ESCAPES.get(ch) or "\\u%04x" % ord(ch)


_SURROGATE = re.compile("[\ud800-\udfff]")


def quote(s: str) -> str:
    """JSON.stringify of a string."""
    if _SURROGATE.search(s) is None:
        # Without surrogates, the json module's encoder (in C) escapes exactly what JavaScript
        # does: '"', '\\', \b \f \n \r \t, the other controls as lower-case \u00xx. It is
        # several times faster, and every post read re-serialises its body to verify it.
        return encode_basestring(s)
    return _quote_js(s)


def _quote_js(s: str) -> str:
    """JSON.stringify of any string, lone surrogates included (the rule quote() follows)."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, _join_surrogate_pairs(s)) + '"'


def number_to_string(x) -> str:
    """Number.prototype.toString for what JSON.parse can produce (finite doubles)."""
    if isinstance(x, bool):  # pragma: no cover - callers handle bool first
        raise TypeError("bool")
    if isinstance(x, int):
        if abs(x) <= _MAX_SAFE:
            return str(x)
        x = float(x)
    if not math.isfinite(x):
        return "null"  # JSON.stringify(Infinity) === "null"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() gives the shortest round-trip digits, as JavaScript does; only the layout differs.
    mantissa, _, exp = repr(abs(x)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    all_digits = int_part + frac_part
    digits = all_digits.lstrip("0")
    # value = 0.<digits> * 10**point, the layout ECMAScript's Number::toString works from
    point = len(int_part) + int(exp or 0) - (len(all_digits) - len(digits))
    digits = digits.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp_s = ("+" if e >= 0 else "-") + str(abs(e))
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + exp_s
    return sign + out


def _is_array_index(key: str) -> bool:
    return key.isdigit() and key.isascii() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1


def _js_property_order(obj: dict) -> list[str]:
    """The order JavaScript enumerates an object's own keys: array indexes ascending first, then
    the other keys in insertion order."""
    indexes = sorted((k for k in obj if _is_array_index(k)), key=int)
    return indexes + [k for k in obj if not _is_array_index(k)]


def _serialize(value, allow: list[str] | None) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (int, float)):
        return number_to_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_serialize(v, allow) for v in value) + "]"
    if isinstance(value, dict):
        keys = _js_property_order(value) if allow is None else [k for k in allow if k in value]
        return "{" + ",".join(quote(k) + ":" + _serialize(value[k], allow) for k in keys) + "}"
    raise MalformedInput(f"cannot serialise a {type(value).__name__} as JSON")


def stringify(value) -> str:
    """JSON.stringify(value) with no replacer (insertion order, compact)."""
    return _serialize(value, None)


def stringify_sorted(obj) -> str:
    """The plugin's v1 serialisation: JSON.stringify(obj, Object.keys(obj).sort()) for objects,
    plain JSON.stringify for anything else (draft titles are bare strings)."""
    if isinstance(obj, dict):
        allow = sorted(obj.keys(), key=_utf16_key)
        return _serialize(obj, allow)
    return _serialize(obj, None)


def to_utf8(text: str) -> bytes:
    """UTF-8 as TextEncoder produces it (lone surrogates cannot occur after quote())."""
    return text.encode("utf-8", "surrogatepass")


def _reject_constant(name: str):
    raise MalformedInput(f"JSON: {name} is not valid JSON")


def _parse_int(text: str):
    # JSON.parse yields doubles: integers past 2**53 lose precision exactly as in JavaScript.
    value = int(text)
    return value if abs(value) <= _MAX_SAFE else float(text)


def _parse_float(text: str):
    value = float(text)
    if value.is_integer() and abs(value) <= _MAX_SAFE:
        return int(value)  # JavaScript has no 1.0: it is the number 1
    return value


# One decoder for every parse (json.loads with these hooks would build a new one each time).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float)


def parse(text: str, *, what: str = "JSON"):
    """JSON.parse: strict JSON (no NaN/Infinity), numbers as JavaScript would hold them."""
    try:
        if isinstance(text, str):
            return _DECODER.decode(text)
        return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float)
    except MalformedInput:
        raise
    except (ValueError, RecursionError) as exc:
        raise MalformedInput(f"{what}: not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None


def parse_utf8(data: bytes, *, what: str = "JSON"):
    """TextDecoder (UTF-8, replacing invalid sequences like the browser does) + JSON.parse."""
    return parse(data.decode("utf-8", "replace"), what=what)


def decode_utf16le_whatwg(data: bytes) -> str:
    """TextDecoder("utf-16") as browsers implement it: little endian, one leading BOM removed,
    unpaired surrogates and an odd trailing byte each replaced by U+FFFD."""
    data = bytes(data)
    units = [data[i] | (data[i + 1] << 8) for i in range(0, len(data) - 1, 2)]
    out: list[str] = []
    i = 0
    while i < len(units):
        u = units[i]
        if 0xD800 <= u <= 0xDBFF:
            if i + 1 < len(units) and 0xDC00 <= units[i + 1] <= 0xDFFF:
                out.append(chr(0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00)))
                i += 2
                continue
            out.append("\ufffd")
        elif 0xDC00 <= u <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(chr(u))
        i += 1
    if len(data) % 2:
        out.append("\ufffd")
    text = "".join(out)
    return text[1:] if text.startswith("\ufeff") else text


def encode_utf16le(text: str) -> bytes:
    """The plugin's v0 string-to-bytes: each UTF-16 code unit, little endian, lone surrogates kept."""
    return _join_surrogate_pairs(text).encode("utf-16-le", "surrogatepass")


_PARSE_INT = re.compile(r"[\s\ufeff]*([+-]?)(\d+)")


def parse_int_prefix(text: str):
    """parseInt(text, 10) as JavaScript does it: leading white space and a sign are skipped,
    digits are read up to the first non-digit; None where JavaScript gives NaN."""
    m = _PARSE_INT.match(text)
    if not m or not m.group(2).isascii():
        return None
    value = int(m.group(2))
    return -value if m.group(1) == "-" else value
