"""The checker behind tests/test_i18n.py: finds user-visible words in the extension's HTML and
JavaScript that do not come from _locales through the i18n API (common/i18n.js).

HTML: a text node with letters must be the text of an element marked data-i18n (or sit in a
<code>/<pre>/<script>/<style>, which hold formats, not prose); a placeholder, title, aria-label or
alt attribute with letters needs its data-i18n-* counterpart.

JavaScript (parsed with acorn from node_modules, so comments and regular expressions cannot fool
it): a string or template literal that reads like prose must not reach the user. A literal is
exempt only in a non-user context: the key of t(), a selector (querySelector, closest, matches,
$), a developer's message (new …Error(…), console.*, throw), an import, a property key, a
comparison, or CSS (declarations or rules).
"""
from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXT = REPO / "extension"
SCAN_JS = Path(__file__).resolve().parent / "js" / "i18n_literals.mjs"
ATTRS = ("placeholder", "title", "aria-label", "alt")
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# Elements whose text is a format or code, never prose.
LITERAL_TAGS = {"code", "pre", "script", "style"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PLACEHOLDER = re.compile(r"\$([A-Za-z0-9_@]+)\$")


# ------------------------------------------------------------------------------------------- HTML
class _Html(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict]] = []
        self.problems: list[str] = []
        self.keys: dict[str, list[str]] = {}   # key -> the English texts found for it (patterns)
        self.open: list[dict] = []              # data-i18n elements being read: {key, text, args, parts}

    def _where(self):
        return f"line {self.getpos()[0]}"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ATTRS:
            v = a.get(name)
            if v and LETTERS.search(v):
                key = a.get(f"data-i18n-{name}")
                if not key:
                    self.problems.append(f"{self._where()}: <{tag} {name}=\"{v}\"> has no data-i18n-{name}")
                else:
                    self.keys.setdefault(key, []).append(v)
        for name in ATTRS:
            if a.get(f"data-i18n-{name}") and not a.get(name):
                self.keys.setdefault(a[f"data-i18n-{name}"], [])
        if self.open and "data-i18n-part" in a:
            self.open[-1]["text"] += f"\x00{len(self.open[-1]['parts'])}\x00"
            self.open[-1]["parts"].append(tag)
        if tag in VOID:
            return
        self.stack.append((tag, a))
        if "data-i18n" in a:
            self.open.append({"key": a["data-i18n"], "text": "", "parts": [], "depth": len(self.stack),
                              "args": [x for x in (a.get("data-i18n-args") or "").split(",") if x]})

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            t, _ = self.stack.pop()
            if self.open and self.open[-1]["depth"] == len(self.stack) + 1:
                o = self.open.pop()
                self.keys.setdefault(o["key"], []).append(o)
            if t == tag:
                break

    def handle_data(self, data):
        if self.open and self.open[-1]["depth"] == len(self.stack):
            self.open[-1]["text"] += data
        if not LETTERS.search(data):
            return
        if any(t in LITERAL_TAGS for t, _ in self.stack):
            return
        parent = self.stack[-1][1] if self.stack else {}
        if "data-i18n" not in parent:
            self.problems.append(f"{self._where()}: text outside data-i18n: {data.strip()[:60]!r}")


def check_html(text: str, messages: dict) -> tuple[list[str], set[str]]:
    """(problems, keys used) of one HTML document."""
    p = _Html()
    p.feed(text)
    p.close()
    problems = list(p.problems)
    for key, found in p.keys.items():
        if key not in messages:
            problems.append(f"data-i18n key {key!r} is not in messages.json")
            continue
        msg = messages[key]
        declared = {k.lower() for k in msg.get("placeholders", {})}
        for f in found:
            if isinstance(f, str):   # an attribute: the English must be the message
                if norm(f) != norm(msg["message"]):
                    problems.append(f"{key}: the HTML says {f!r}, messages.json {msg['message']!r}")
                continue
            want = len(f["args"]) + len(f["parts"])
            if len(declared) != want:
                problems.append(f"{key}: {want} placeholders in the HTML ({f['args'] + f['parts']}), "
                                f"{len(declared)} in messages.json")
            # The HTML keeps the English text (shown before the script runs): it must be the
            # message's, with the parts and the constants where the placeholders stand.
            want_text = norm(PLACEHOLDER.sub("", msg["message"]))
            got = norm(re.sub(r"\x00\d+\x00", "", f["text"]))
            if got != want_text:
                problems.append(f"{key}: the HTML says {got!r}, messages.json {msg['message']!r}")
    return problems, set(p.keys)


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("$$", "$")).strip()


# ------------------------------------------------------------------------------------------- JS
FORMAT = re.compile(r"^\s*<[\s\S]*>\s*$|^[\w.+-]+/[\w.+-]+(;\s*[\w-]+=[\w-]+)*$")


def looks_like_prose(s: str) -> bool:
    """Two words of letters separated by a space, or a capitalised word with punctuation; not
    markup (`<…>`) nor a media type."""
    if FORMAT.match(s):
        return False
    if re.search(r"[^\W\d_]{2,}[,;:]?\s+[^\W\d_]{2,}", s):
        return True
    return bool(re.search(r"\b[A-Z][a-z]+[.!?…:]", s))


CSS_DECL = re.compile(r"^\s*-?[a-z-]+\s*:\s*[^;]*$")


def looks_like_css(s: str) -> bool:
    """Declarations (`a:b;c:d`) or rules (`sel{a:b}`): style, not words."""
    body = re.sub(r"[^{}]*\{", ";", s).replace("}", ";")
    parts = [p for p in body.split(";") if p.strip()]
    return bool(parts) and all(CSS_DECL.match(p) for p in parts)


def scan_js(sources: dict[str, str]) -> dict:
    """{name: {"literals": [...], "keys": [...]}} from tests/js/i18n_literals.mjs (acorn)."""
    out = subprocess.run(["node", str(SCAN_JS)], input=json.dumps(sources), capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def check_js(sources: dict[str, str], messages: dict) -> tuple[list[str], set[str]]:
    """(problems, keys used) of JavaScript sources {name: text}."""
    problems, used = [], set()
    for name, r in scan_js(sources).items():
        if r.get("error"):
            problems.append(f"{name}: cannot parse: {r['error']}")
            continue
        for lit in r["literals"]:
            if lit["context"] or not looks_like_prose(lit["value"]) or looks_like_css(lit["value"]):
                continue
            problems.append(f"{name}:{lit['line']}: user-visible text outside _locales: {lit['value'][:70]!r}")
        for k in r["keys"]:
            key = k["key"]
            used.add(key)
            if key not in messages:
                problems.append(f"{name}:{k['line']}: t({key!r}) is not in messages.json")
                continue
            declared = len(messages[key].get("placeholders", {}))
            if k["subs"] is not None and k["subs"] != declared:
                problems.append(f"{name}:{k['line']}: t({key!r}) gets {k['subs']} substitutions, "
                                f"messages.json declares {declared}")
    return problems, used


def check_messages(messages: dict) -> list[str]:
    """Every message has a description, and its $name$ placeholders are the declared ones, whose
    contents are $1…$n."""
    problems = []
    for key, m in messages.items():
        if not re.fullmatch(r"[A-Za-z0-9_@]+", key) or key.startswith("@@"):
            problems.append(f"{key}: not a valid message name")
        if not m.get("message") or not m.get("description"):
            problems.append(f"{key}: needs a message and a description for translators")
            continue
        text = m["message"].replace("$$", "")
        named = {n.lower() for n in PLACEHOLDER.findall(text)}
        declared = {k.lower(): v for k, v in m.get("placeholders", {}).items()}
        if named != set(declared):
            problems.append(f"{key}: placeholders in the text {sorted(named)}, declared {sorted(declared)}")
        contents = sorted(int(v["content"][1:]) for v in declared.values() if re.fullmatch(r"\$[1-9]", v.get("content", "")))
        if len(contents) != len(declared) or contents != list(range(1, len(declared) + 1)):
            problems.append(f"{key}: placeholder contents must be $1…${len(declared)}")
        if "$" in PLACEHOLDER.sub("", text):
            problems.append(f"{key}: a lone $ (write $$)")
    return problems
