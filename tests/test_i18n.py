"""Every word the extension shows comes from _locales/en/messages.json through the i18n API
(common/i18n.js t() and localizePage()): no user-visible literal in the extension's HTML or
JavaScript bypasses it, every key used exists, every message is used, placeholders agree, and the
error words are generated from pycore/errors.py FOR_USERS. The checker is tests/i18n_check.py;
the synthetic snippets below show that it does fail."""
import json
import re
import subprocess

import pytest

from pycore import errors
from pycore.js_constants import error_messages, fields_of, for_javascript
from tests.i18n_check import EXT, REPO, check_html, check_js, check_messages

MESSAGES_FILE = EXT / "_locales" / "en" / "messages.json"
# Modules that produce no UI: the engine (Pyodide host) and the message contract, whose
# validators' words are developer messages carried in bad_request errors (userText never shows
# an error's message).
NOT_UI = ("vendor/", "engine/", "common/messages.js")


def _messages():
    return json.loads(MESSAGES_FILE.read_text(encoding="utf-8"))


def _js_sources():
    return {p.relative_to(EXT).as_posix(): p.read_text() for p in sorted(EXT.rglob("*.js"))
            if not p.relative_to(EXT).as_posix().startswith(NOT_UI)}


def _html_files():
    return [p for p in sorted(EXT.rglob("*.html")) if not p.relative_to(EXT).as_posix().startswith(NOT_UI)]


def test_html_words_come_from_messages_json():
    messages = _messages()
    problems = []
    for p in _html_files():
        found, _ = check_html(p.read_text(), messages)
        problems += [f"{p.relative_to(REPO)}: {x}" for x in found]
    assert not problems, "\n".join(problems)


def test_javascript_words_come_from_messages_json():
    problems, _ = check_js(_js_sources(), _messages())
    assert not problems, "\n".join(problems)


def test_every_message_is_well_formed_and_used():
    messages = _messages()
    assert not check_messages(messages)
    used = set()
    for p in _html_files():
        used |= check_html(p.read_text(), messages)[1]
    used |= check_js(_js_sources(), messages)[1]
    manifest = (EXT / "manifests" / "common.json").read_text()
    used |= set(re.findall(r"__MSG_(\w+)__", manifest))
    # user_text.js names its fallbacks as t() calls too; the generated error_* are not in this file
    dead = sorted(set(messages) - used)
    assert not dead, f"messages nobody shows (remove them): {dead}"
    missing = sorted(used - set(messages))
    assert not missing, f"keys used but not defined: {missing}"


def test_manifest_takes_its_words_from_the_default_locale():
    m = json.loads((EXT / "manifests" / "common.json").read_text())
    assert m["default_locale"] == "en"
    for field in (m["name"], m["short_name"], m["description"], m["action"]["default_title"]):
        assert re.fullmatch(r"__MSG_\w+__", field), field


def test_error_words_are_generated_from_for_users():
    """The error words live in pycore/errors.py only: build.py adds them to the packaged
    messages.json, and constants.js carries only each code's field names."""
    generated = error_messages()
    assert not check_messages(generated)
    assert not set(generated) & set(_messages()), "hand-written messages must not redefine error_* entries"
    for code, (what, next_step) in errors.FOR_USERS.items():
        full = generated[f"error_{code}"]
        fields = fields_of(code)
        filled = full["message"]
        for f in fields:
            filled = filled.replace(f"${f}$", "{" + f + "}")
        assert filled == f"{what} {next_step}"
        assert generated[f"error_{code}_what"]["message"].startswith(what.split("{")[0])
        assert [full.get("placeholders", {})[f]["content"] for f in fields] == [f"${i + 1}" for i in range(len(fields))]
        assert (f"error_{code}_forum_says" in generated) == (code in errors.WITH_FORUM_WORDS)
    js = for_javascript()
    assert js["USER_TEXT"] == {code: fields_of(code) for code in errors.FOR_USERS}
    assert set(js["WITH_FORUM_WORDS"]) == set(errors.WITH_FORUM_WORDS)
    # not the English twice: constants.js holds no sentence of FOR_USERS
    dumped = json.dumps(js)
    assert not any(what in dumped for what, _ in errors.FOR_USERS.values())


def test_a_key_in_both_files_fails_the_build(monkeypatch, tmp_path):
    import build
    loc = tmp_path / "_locales" / "en"
    loc.mkdir(parents=True)
    (loc / "messages.json").write_text(json.dumps({"error_locked": {"message": "x", "description": "y"}}))
    monkeypatch.setattr(build, "EXT", tmp_path)
    with pytest.raises(SystemExit, match="error_locked"):
        build.locale_messages("en")
    (loc / "messages.json").write_text(json.dumps({"ok_key": {"message": "x", "description": "y"}}))
    merged = build.locale_messages("en")
    assert "ok_key" in merged and "error_locked" in merged


# ---------------------------------------------------------------------- the checker can fail
MSGS = {"greeting": {"message": "Hello $name$", "description": "d", "placeholders": {"name": {"content": "$1"}}},
        "bye": {"message": "Goodbye", "description": "d"}}


@pytest.mark.parametrize("src", [
    'el.textContent = "Hello world";',
    "el.textContent = 'Hello world';",
    "el.textContent = `Found ${n} new messages`;",
    'status("idle", "Sent.");',
    'const x = /a"b/; el.title = "Click to open";',
])
def test_the_checker_finds_a_bare_literal(src):
    problems, _ = check_js({"x.js": src}, MSGS)
    assert problems and "outside _locales" in problems[0], problems


@pytest.mark.parametrize("src", [
    'el.textContent = t("bye");',
    'el.textContent = t("greeting", [name]);',
    '// el.textContent = "Hello world";\n/* "Hello world" */ el.textContent = t("bye");',
    'document.querySelector("a[title=\'Hello world\']");',
    'throw new Error("the engine answered for another post");',
    'console.warn("Encrypt for Discourse: cannot place viewer", e);',
    'iframe.style.cssText = "display:block; width:100%; border:0;";',
    'const STYLE = `body{margin:0;font:14px/1.5 system-ui,sans-serif}`;',
    'el.className = "btn btn-primary efd-reply";',
    'if (x === "not found here") y();',
])
def test_the_checker_accepts_non_user_literals(src):
    problems, _ = check_js({"x.js": src}, MSGS)
    assert not problems, problems


def test_the_checker_checks_keys_and_substitutions():
    problems, used = check_js({"x.js": 't("nope"); t("greeting"); t("greeting", [a, b]); t(c ? "bye" : "greeting", [a]);'}, MSGS)
    assert any("'nope'" in p and "not in messages.json" in p for p in problems)
    assert sum("substitutions" in p for p in problems) == 3   # greeting with 0 and 2; bye with 1
    assert used == {"nope", "greeting", "bye"}


@pytest.mark.parametrize("html, expect", [
    ("<p>Hi there</p>", "text outside data-i18n"),
    ('<input placeholder="your name">', "no data-i18n-placeholder"),
    ('<img alt="A picture">', "no data-i18n-alt"),
    ('<p data-i18n="missing_key">Hi</p>', "not in messages.json"),
    ('<p data-i18n="bye">Goodbye <b>friend</b></p>', "text outside data-i18n"),
    ('<p data-i18n="bye">Farewell</p>', "the HTML says"),
])
def test_the_checker_finds_html_words_outside_messages(html, expect):
    problems, _ = check_html(html, MSGS)
    assert any(expect in p for p in problems), problems


def test_the_checker_accepts_localized_html():
    html = ('<p data-i18n="greeting">Hello <strong data-i18n-part id="n"></strong></p>'
            '<p data-i18n="bye">Goodbye</p><pre>{"code": "as is"}</pre>'
            '<input placeholder="Goodbye" data-i18n-placeholder="bye">')
    problems, used = check_html(html, MSGS)
    assert not problems and used == {"greeting", "bye"}


# ---------------------------------------------------------------------- i18n.js itself
I18N_CHECK = r"""
const calls = [];
globalThis.chrome = { i18n: { getMessage: (k, s) => { calls.push([k, s]);
  return { hi: "Hi " + s[0], part: "A " + s[0] + " B " + s[1] + " C" }[k] || ""; } } };
const errors = [];
console.error = (m) => errors.push(m);
class Text { constructor(d) { this.data = d; } }
globalThis.document = { createTextNode: (d) => new Text(d) };
const { pathToFileURL } = await import("node:url");
await import(pathToFileURL(process.argv[2]).href);
const { t, tNodes } = globalThis.EFD_I18N;
const out = { hi: t("hi", ["Ann"]), one: t("hi", "Bob"), missing: t("no_such_key"), errors: errors.length };
const el1 = { tag: "b" }, el2 = { tag: "i" };
out.nodes = tNodes("part", [el1, el2]).map((n) => n instanceof Text ? n.data : n.tag);
console.log(JSON.stringify(out));
"""


def test_t_fills_placeholders_and_shows_a_missing_key(tmp_path):
    script = tmp_path / "check.mjs"
    script.write_text(I18N_CHECK)
    r = subprocess.run(["node", str(script), str(EXT / "common" / "i18n.js")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["hi"] == "Hi Ann" and out["one"] == "Hi Bob"
    # a missing key is never silently empty: a visible marker, and an error in the console
    assert out["missing"] == "\u27e6no_such_key\u27e7" and out["errors"] == 1
    assert out["nodes"] == ["A ", "b", " B ", "i", " C"]


def test_i18n_js_never_uses_inner_html():
    src = (EXT / "common" / "i18n.js").read_text()
    assert "innerHTML" not in src and "insertAdjacentHTML" not in src
