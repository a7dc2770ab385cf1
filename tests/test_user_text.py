"""What users read when something fails: every error code that can reach the extension's pages
and frames has a plain sentence and a next step (pycore/errors.py FOR_USERS, shipped as the
error_<code> messages of _locales/en/messages.json), and no page or frame shows an exception's own
message."""
import re
from pathlib import Path

from pycore import errors
from pycore.js_constants import for_javascript

REPO = Path(__file__).resolve().parents[1]
EXT = REPO / "extension"
# Error codes written as literals in the extension's scripts: ForumError("code", …),
# M.fail("code", …), new M.Rejected(…, "code"), {code: "code", …}.
CODE_LITERALS = [
    re.compile(r'ForumError\(\s*"([a-z_]+)"'),
    re.compile(r'\bfail\(\s*"([a-z_]+)"'),
    re.compile(r'Rejected\([^;]*?,\s*"([a-z_]+)"\s*\)'),
    re.compile(r'\bcode:\s*"([a-z_]+)"'),
]
# Text that is written for developers: a payload path, a handler's name before a colon, a
# library's or a runtime's words.
INTERNAL = re.compile(r"payload\.|\b[a-z]+\.[a-z_]+: |AES-GCM|RSA-OAEP|PBKDF2|Traceback|\bundefined\b|"
                      r"\[object |TypeError|ReferenceError|pycore|Pyodide|_[a-z]+_")


def _extension_scripts():
    return [p for p in EXT.rglob("*.js") if "vendor" not in p.parts]


def test_every_error_code_has_words_for_users():
    codes = {cls.code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.PycoreError)}
    for p in _extension_scripts():
        src = p.read_text()
        for rx in CODE_LITERALS:
            codes |= {c for c in rx.findall(src)}
    # codes that are statuses or internal signals, never shown as an error
    codes -= {"enqueued", "no_content", "malformed", "error", "not_a_participant_yet"}
    missing = sorted(c for c in codes if c not in errors.FOR_USERS)
    assert not missing, f"error codes without words for users in pycore/errors.py FOR_USERS: {missing}"


def test_the_words_are_plain_and_complete():
    for code, entry in errors.FOR_USERS.items():
        assert isinstance(entry, tuple) and len(entry) == 2, code
        what, next_step = entry
        for text in entry:
            assert text and (text[0].isupper() or text.startswith("{")) and text.endswith((".", "!", "?")), (code, text)
            assert not INTERNAL.search(text), (code, text)
            assert "_" not in code or code not in text, (code, text)
        assert set(re.findall(r"\{(\w+)\}", what + next_step)) <= {"username", "excess", "retry_after", "fingerprint"}, code
    assert re.search(r"\{(\w+)\}", errors.FORUM_SAYS) and set(errors.WITH_FORUM_WORDS) <= set(errors.FOR_USERS)
    # JavaScript gets each code's fields; the words are the error_<code> messages of _locales
    # (tests/test_i18n.py checks them against FOR_USERS).
    assert set(for_javascript()["USER_TEXT"]) == set(errors.FOR_USERS)


def test_no_page_or_frame_shows_an_exception_s_message():
    shown = re.compile(r"\b(e|err|error|ge)\.message\b")
    offenders = []
    for p in [*(EXT / "frames").glob("*.js"), *(EXT / "ui").glob("*.js")]:
        for n, line in enumerate(p.read_text().splitlines(), 1):
            # the composer reads the forum's "retry after N" to time its retry; it never shows it
            if shown.search(line) and "retry after" not in line:
                offenders.append(f"{p.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "show userText(e) (common/user_text.js) instead:\n" + "\n".join(offenders)
