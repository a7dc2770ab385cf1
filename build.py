#!/usr/bin/env python3
"""Build the Encrypt for Discourse extension packages (standard library only, no network).

    python build.py [--out DIR] [--no-zip]
                                    build dist/chromium, dist/firefox (store builds, unpacked),
                                    dist/chromium-test, dist/firefox-test (test builds, unpacked)
                                    and the store zips dist/encrypt-for-discourse-<target>-<version>.zip
    python build.py bench [--json FILE] [--runs N]
                                    measure the engine in a real headless Chromium (needs selenium
                                    from .venv and a previous build); prints a table

Inputs: extension/ (sources and manifests/), pycore/ (shipped as pycore.zip, unpacked by the engine
into Pyodide's file system), and runtime files from node_modules/ installed by `npm ci` from the
lockfile: the 5 Pyodide runtime files (python_stdlib.zip conservatively trimmed), markdown-it,
DOMPurify and qrcode-generator. Nothing is fetched at run time.

Zips are reproducible: fixed timestamps, sorted entries, fixed permissions.

Generated into every built tree (never kept in extension/): common/config.js (target, test hooks,
build id) and common/constants.js (the facts JavaScript shares with pycore: armour markers, titles,
the username pattern, limits; from pycore.js_constants.for_javascript()).

Test builds differ from store builds in exactly these things (see docs/EXTENSION.md):
  * manifest `host_permissions` grants http://127.0.0.1/* and http://localhost/* at install, so e2e
    tests need no permission prompt for the local Discourse stand-in;
  * common/config.js sets `testHooks: true`, which enables the `test.*` messages;
  * the manifest overlay extension/manifests/<target>-test.json (Chromium: the fixed public "key",
    so the test extension id is always the same; stores refuse a "key" in uploads).
Test builds are never zipped.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

from pycore.__main__ import package_zip  # the one reproducible pycore archive
from pycore.js_constants import for_javascript

ROOT = Path(__file__).resolve().parent
EXT = ROOT / "extension"
PYCORE = ROOT / "pycore"
NODE = ROOT / "node_modules"
DIST = ROOT / "dist"
PYODIDE_VERSION = "314.0.7"
PYODIDE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
VENDOR = {  # destination in the extension -> source in node_modules
    "vendor/markdown-it.mjs": "markdown-it/dist/browser/markdown-it.esm.min.mjs",
    "vendor/purify.mjs": "dompurify/dist/purify.es.mjs",
    "vendor/qrcode.mjs": "qrcode-generator/dist/qrcode.mjs",
}
VENDOR_LICENSES = {
    "vendor/LICENSE.markdown-it.txt": "markdown-it/LICENSE",
    "vendor/LICENSE.dompurify.txt": "dompurify/LICENSE",
    "vendor/LICENSE.qrcode-generator.txt": "qrcode-generator/LICENSE",
    "pyodide/LICENSE.pyodide.txt": "pyodide/LICENSE",
}
TARGETS = ("chromium", "firefox")
TEST_HOSTS = ["http://127.0.0.1/*", "http://localhost/*"]
FIXED_DATE = (1980, 1, 1, 0, 0, 0)

# Conservative trim of Pyodide's python_stdlib.zip (platform-notes §7): top-level modules and
# packages nobody in pycore or the engine imports, even lazily. tests/test_build.py and the e2e
# suite import every pycore module inside Pyodide with this trim.
STDLIB_DROP = {
    "unittest", "_pyrepl", "multiprocessing", "xml", "email", "http", "urllib", "pdb.py", "doctest.py",
    "pydoc.py", "pydoc_data", "tarfile.py", "_pyio.py", "ctypes", "zoneinfo", "html", "wsgiref",
    "xmlrpc", "sqlite3", "tkinter", "turtle.py", "turtledemo", "idlelib", "lib2to3", "ensurepip",
    "venv", "curses", "dbm", "__phello__", "mailbox.py", "smtplib.py", "imaplib.py", "poplib.py",
    "ftplib.py", "nntplib.py", "telnetlib.py", "webbrowser.py", "this.py", "antigravity.py",
    "tabnanny.py", "_pydatetime.py", "_pydecimal.py", "mimetypes.py", "cgi.py", "cgitb.py",
    "pickletools.py", "optparse.py", "uuid.py", "ipaddress.py", "shelve.py", "wave.py", "zipapp.py",
    "timeit.py", "trace.py", "cProfile.py", "profile.py", "pstats.py",
}
STDLIB_KEEP_ENCODINGS = {
    "__init__.py", "aliases.py", "ascii.py", "latin_1.py", "utf_8.py", "utf_8_sig.py", "utf_16.py",
    "utf_16_le.py", "utf_16_be.py", "utf_32.py", "utf_32_le.py", "utf_32_be.py", "idna.py",
    "punycode.py", "unicode_escape.py", "raw_unicode_escape.py", "charmap.py", "base64_codec.py",
    "hex_codec.py", "cp437.py",
}


def log(*a):
    print(*a, flush=True)


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def web_accessible_resources(target: str) -> list:
    """Only the frame pages (extension/frames/*.html) are web-accessible."""
    frames = sorted(p.relative_to(EXT).as_posix() for p in (EXT / "frames").glob("*.html")) if (EXT / "frames").is_dir() else []
    if not frames:
        return []
    entry = {"resources": frames, "matches": ["https://*/*", "http://*/*"]}
    if target == "chromium":
        entry["use_dynamic_url"] = True
    return [entry]


def manifest_for(target: str, test: bool) -> dict:
    common = json.loads((EXT / "manifests" / "common.json").read_text())
    specific = json.loads((EXT / "manifests" / f"{target}.json").read_text())
    m = deep_merge(common, specific)
    war = web_accessible_resources(target)
    if war:
        m["web_accessible_resources"] = war
    if test:
        # Test-only overlay: Chromium's fixed public key (a stable extension id for the tests).
        # The Chrome Web Store refuses uploads whose manifest has a "key", so store builds never do.
        overlay = EXT / "manifests" / f"{target}-test.json"
        if overlay.is_file():
            m = deep_merge(m, json.loads(overlay.read_text()))
        m["host_permissions"] = list(TEST_HOSTS)
        m["name"] = m["name"] + " (test build)"
    return m


def strip_docstrings(src: bytes, name: str) -> bytes:
    """Module/class/function docstrings removed (ast round trip). Files this Python cannot parse
    (newer syntax) are kept as they are. Saves about 0.5 MB in each zip."""
    import ast
    try:
        tree = ast.parse(src.decode("utf-8"), name)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return src
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    out = (ast.unparse(tree) + "\n").encode("utf-8")
    try:
        compile(out, name, "exec", dont_inherit=True)
    except SyntaxError:
        return src
    return out


def trimmed_stdlib(src: Path) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
        for info in sorted(zin.infolist(), key=lambda i: i.filename):
            name = info.filename
            top = name.split("/", 1)[0]
            if top in STDLIB_DROP or name.endswith("/"):
                continue
            if top == "encodings" and "/" in name and name.split("/", 1)[1] not in STDLIB_KEEP_ENCODINGS:
                continue
            zi = zipfile.ZipInfo(name, FIXED_DATE)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            data = zin.read(name)
            if name.endswith(".py"):
                data = strip_docstrings(data, name)
            zout.writestr(zi, data, compresslevel=9)
    return out.getvalue()


def config_js(target: str, test: bool, build_id: str) -> str:
    cfg = {"target": target, "testHooks": test, "pyodideVersion": PYODIDE_VERSION, "buildId": build_id}
    return ("// Generated by build.py. Do not edit.\n"
            f"globalThis.EFD_CONFIG = Object.freeze({json.dumps(cfg, sort_keys=True)});\n")


def constants_js() -> str:
    """common/constants.js: pycore's facts for JavaScript, so that no script retypes them."""
    return ("// Generated by build.py from pycore.js_constants. Do not edit.\n"
            f"globalThis.EFD_CONSTANTS = Object.freeze({json.dumps(for_javascript(), sort_keys=True)});\n")


GENERATED = ("common/config.js", "common/constants.js")


def check_inputs():
    missing = [f for f in PYODIDE_FILES if not (NODE / "pyodide" / f).is_file()]
    missing += [s for s in VENDOR.values() if not (NODE / s).is_file()]
    if missing:
        sys.exit(f"build.py: missing runtime files (run `npm ci`): {', '.join(missing)}")
    ver = json.loads((NODE / "pyodide" / "package.json").read_text())["version"]
    if ver != PYODIDE_VERSION:
        sys.exit(f"build.py: node_modules/pyodide is {ver}, expected {PYODIDE_VERSION} (run `npm ci`)")


def build_tree(target: str, test: bool, shared: dict) -> Path:
    out = DIST / (f"{target}-test" if test else target)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for p in sorted(EXT.rglob("*")):
        rel = p.relative_to(EXT)
        if p.is_dir() or rel.parts[0] == "manifests" or p.name.startswith(".") or "__pycache__" in rel.parts:
            continue
        if rel.as_posix() in GENERATED:
            continue
        if target == "firefox" and rel.as_posix() in ("background/router_sw.js", "engine/offscreen.html", "engine/offscreen.js"):
            continue
        if target == "chromium" and rel.as_posix() == "background/firefox.js":
            continue
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dst)
    (out / "pyodide").mkdir()
    for f in PYODIDE_FILES:
        if f == "python_stdlib.zip":
            (out / "pyodide" / f).write_bytes(shared["stdlib"])
        else:
            shutil.copyfile(NODE / "pyodide" / f, out / "pyodide" / f)
    for dst, src in {**VENDOR, **VENDOR_LICENSES}.items():
        if (NODE / src).is_file():
            (out / dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(NODE / src, out / dst)
    (out / "pycore.zip").write_bytes(shared["pycore"])
    build_id = hashlib.sha256(PYODIDE_VERSION.encode() + shared["stdlib"] + shared["pycore"]).hexdigest()[:16]
    (out / "common" / "config.js").write_text(config_js(target, test, build_id))
    (out / "common" / "constants.js").write_text(constants_js())
    (out / "manifest.json").write_text(json.dumps(manifest_for(target, test), indent=2, sort_keys=False) + "\n")
    return out


def make_zip(tree: Path, dest: Path) -> None:
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for p in files:
            rel = p.relative_to(tree).as_posix()
            zi = zipfile.ZipInfo(rel, FIXED_DATE)
            zi.external_attr = 0o644 << 16
            # Already-compressed members gain nothing from deflate.
            zi.compress_type = zipfile.ZIP_STORED if rel.endswith((".zip", ".png")) else zipfile.ZIP_DEFLATED
            z.writestr(zi, p.read_bytes(), compresslevel=9)


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def version() -> str:
    return json.loads((EXT / "manifests" / "common.json").read_text())["version"]


def zip_path(target: str) -> Path:
    return DIST / f"encrypt-for-discourse-{target}-{version()}.zip"


def build(zips: bool = True) -> dict:
    check_inputs()
    DIST.mkdir(exist_ok=True)
    shared = {"stdlib": trimmed_stdlib(NODE / "pyodide" / "python_stdlib.zip"), "pycore": package_zip()}
    result = {}
    for target in TARGETS:
        tree = build_tree(target, False, shared)
        build_tree(target, True, shared)
        log(f"built {_rel(tree)} and {_rel(tree)}-test")
        if zips:
            zp = zip_path(target)
            make_zip(tree, zp)
            data = zp.read_bytes()
            result[target] = {"zip": str(zp), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            log(f"{_rel(zp)}  {len(data):>10,} bytes  sha256 {result[target]['sha256']}")
    return result


def main(argv: list[str]) -> int:
    if argv and argv[0] == "bench":
        # The benchmark drives a browser with the test tooling (selenium, in .venv only): run it
        # as its own process so that building never imports tests/.
        import subprocess
        return subprocess.call([sys.executable, "-m", "tests.e2e.bench", *argv[1:]], cwd=ROOT)
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    global DIST
    if "--out" in argv:
        DIST = Path(argv[argv.index("--out") + 1]).resolve()
    build(zips="--no-zip" not in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
