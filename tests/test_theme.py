"""The frames' look from the page's colours (extension/frames/theme.js), in Node: a dark page
gives the dark scheme with the page's own colours; colours that make text unreadable, or that are
not plain colours, give the extension's own light look; only plain names reach the font."""
import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(themes):
    r = subprocess.run([shutil.which("node"), str(REPO / "tests" / "js" / "theme_check.mjs"), json.dumps(themes)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


DARK_PAGE = {"bg": "rgb(28, 28, 28)", "fg": "rgb(221, 221, 221)", "accent": "#3399ee", "font": "Inter, \"Helvetica Neue\", sans-serif"}
OWN_LIGHT = {"--efd-bg": "rgb(255, 255, 255)", "--efd-fg": "rgb(27, 31, 36)"}


def test_a_dark_page_gives_the_dark_scheme_in_its_own_colours():
    out = run([DARK_PAGE])
    p = out["palettes"][0]
    assert p["scheme"] == "dark"
    assert p["vars"]["--efd-bg"] == "rgb(28, 28, 28)" and p["vars"]["--efd-fg"] == "rgb(221, 221, 221)"
    assert p["vars"]["--efd-accent"] == "rgb(51, 153, 238)" and p["vars"]["--efd-font"] == DARK_PAGE["font"]
    assert out["css"].startswith(":root{color-scheme:dark;--efd-bg:rgb(28, 28, 28);")


def test_unreadable_or_strange_colours_give_our_own_look():
    cases = [
        {"bg": "rgb(28, 28, 28)", "fg": "rgb(28, 28, 28)"},              # text the colour of the page
        {"bg": "rgb(255, 255, 255)", "fg": "rgb(240, 240, 240)"},        # too faint to read
        {"bg": "rgba(0, 0, 0, 0.5)", "fg": "rgb(255, 255, 255)"},        # see-through background
        {"bg": "url(x)", "fg": "rgb(0, 0, 0)"},                          # not a colour
        {},
    ]
    for case, p in zip(cases, run(cases)["palettes"]):
        assert p["scheme"] == "light" and {k: p["vars"][k] for k in OWN_LIGHT} == OWN_LIGHT, case
        assert "--efd-font" not in p["vars"], case


def test_a_link_colour_that_cannot_be_read_and_a_font_with_css_in_it_are_dropped():
    themes = [{**DARK_PAGE, "accent": "rgb(30, 30, 30)"}, {**DARK_PAGE, "font": "x;} body{display:none"}]
    a, b = run(themes)["palettes"]
    assert a["vars"]["--efd-accent"] == "rgb(79, 168, 232)" and a["vars"]["--efd-bg"] == "rgb(28, 28, 28)"
    assert "--efd-font" not in b["vars"]


def test_colours_are_read_as_numbers():
    got = run([{}])["colours"]
    assert got[:4] == [{"r": 1, "g": 2, "b": 3, "a": 1}, {"r": 1, "g": 2, "b": 3, "a": 0.5},
                       {"r": 170, "g": 187, "b": 204, "a": 1}, {"r": 161, "g": 178, "b": 195, "a": 1}]
    assert got[4:] == [None, None, None]
