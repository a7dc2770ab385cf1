#!/usr/bin/env python3
"""Build the Encrypt for Discourse extension packages (standard library only, no network).

    python build.py [--out DIR] [--no-zip]
                                    build dist/chromium, dist/firefox (store builds, unpacked),
                                    dist/chromium-test, dist/firefox-test (test builds, unpacked)
                                    and the store zips dist/encrypt-for-discourse-<target>-<version>.zip
                                    plus dist/encrypt-for-discourse-<version>-source.zip (the review
                                    package), dist/THIRD_PARTY.md and dist/SHA256SUMS
    python build.py verify PATH [--against ZIP|DIR]
                                    does an installed extension folder, or a downloaded zip/xpi/crx,
                                    hold exactly this source's store build? exit 0 (yes) or 1 (no)
    python build.py screenshots [--out DIR]
                                    the store screenshots (docs/store/screenshots) from the demo in a
                                    real headless Chromium at 1280x800 (needs a previous build)
    python build.py bench [--json FILE] [--runs N]
                                    measure the engine in a real headless Chromium (needs selenium
                                    from .venv and a previous build); prints a table

Inputs: extension/ (sources and manifests/), pycore/ (shipped as pycore.zip, unpacked by the engine
into Pyodide's file system), and runtime files from node_modules/ installed by `npm ci` from the
lockfile: the 5 Pyodide runtime files (python_stdlib.zip conservatively trimmed), markdown-it,
markdown-it-emoji, DOMPurify, qrcode-generator and zxcvbn-ts (passphrase strength). Nothing is fetched at run time.

Zips are reproducible: fixed timestamps, sorted entries, fixed permissions.

Generated into every built tree (never kept in extension/): common/config.js (target, test hooks,
build id) and common/constants.js (the facts JavaScript shares with pycore: armour markers, titles,
the username pattern, limits; from pycore.js_constants.for_javascript()). _locales/en/messages.json
is extension/_locales/en/messages.json (the UI's words) merged with the error_* messages generated
from pycore/errors.py FOR_USERS (locale_messages()).

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
from pycore.js_constants import error_messages, for_javascript

ROOT = Path(__file__).resolve().parent
EXT = ROOT / "extension"
PYCORE = ROOT / "pycore"
NODE = ROOT / "node_modules"
DIST = ROOT / "dist"
PYODIDE_VERSION = "314.0.7"
PYODIDE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]
VENDOR = {  # destination in the extension -> source in node_modules
    "vendor/markdown-it.mjs": "markdown-it/dist/browser/markdown-it.esm.min.mjs",
    # a classic script (globalThis.markdownitEmoji), loaded by the frames before their modules
    "vendor/markdown-it-emoji.js": "markdown-it-emoji/dist/markdown-it-emoji.js",
    "vendor/purify.mjs": "dompurify/dist/purify.es.mjs",
    "vendor/qrcode.mjs": "qrcode-generator/dist/qrcode.mjs",
    # zxcvbn-ts' browser builds: classic scripts with their dependencies inside
    "vendor/zxcvbn-core.js": "@zxcvbn-ts/core/dist/zxcvbn-ts.js",
    "vendor/zxcvbn-language-common.js": "@zxcvbn-ts/language-common/dist/zxcvbn-ts.js",
    "vendor/zxcvbn-language-en.js": "@zxcvbn-ts/language-en/dist/zxcvbn-ts.js",
}
VENDOR_LICENSES = {
    "vendor/LICENSE.markdown-it.txt": "markdown-it/LICENSE",
    "vendor/LICENSE.markdown-it-emoji.txt": "markdown-it-emoji/LICENSE",
    "vendor/LICENSE.dompurify.txt": "dompurify/LICENSE",
    "vendor/LICENSE.qrcode-generator.txt": "qrcode-generator/LICENSE",
    "vendor/LICENSE.zxcvbn-core.txt": "@zxcvbn-ts/core/LICENSE.txt",
    "vendor/LICENSE.zxcvbn-language-common.txt": "@zxcvbn-ts/language-common/LICENSE.txt",
    "vendor/LICENSE.zxcvbn-language-en.txt": "@zxcvbn-ts/language-en/LICENSE.txt",
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
        # Headless browsers cannot answer the permission prompt: granted at install.
        m["permissions"] = m["permissions"] + ["notifications"]
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
DEFAULT_LOCALE = "en"


def locale_messages(locale: str) -> dict:
    """_locales/<locale>/messages.json as shipped: the hand-written UI messages of
    extension/_locales/<locale>/messages.json and, for the default locale, the error words of
    pycore/errors.py FOR_USERS (pycore.js_constants.error_messages()), defined there only. A key
    in both is a mistake (one would silently win), so it fails the build. Other locales translate
    the error_* messages in their own file; a key they lack falls back to the default locale."""
    src = EXT / "_locales" / locale / "messages.json"
    written = json.loads(src.read_text(encoding="utf-8"))
    if locale != DEFAULT_LOCALE:
        return written
    generated = error_messages()
    clash = sorted(set(written) & set(generated))
    if clash:
        sys.exit(f"build.py: {_rel(src)} defines messages that build.py generates from pycore/errors.py "
                 f"FOR_USERS: {', '.join(clash)}")
    return {**written, **generated}


def messages_json(messages: dict) -> str:
    return json.dumps(messages, indent=2, ensure_ascii=False) + "\n"


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
    for d in sorted((EXT / "_locales").iterdir()):
        if (d / "messages.json").is_file():
            (out / "_locales" / d.name / "messages.json").write_text(messages_json(locale_messages(d.name)), encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps(manifest_for(target, test), indent=2, sort_keys=False) + "\n")
    (out / "THIRD_PARTY.md").write_text(shared["third_party"])
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
    shared = shared_inputs()
    result = {}
    for target in TARGETS:
        tree = build_tree(target, False, shared)
        build_tree(target, True, shared)
        log(f"built {_rel(tree)} and {_rel(tree)}-test")
        if zips:
            zp = zip_path(target)
            make_zip(tree, zp)
            result[target] = _report(zp)
    (DIST / "THIRD_PARTY.md").write_text(shared["third_party"])
    if zips:
        sp = DIST / f"encrypt-for-discourse-{version()}-source.zip"
        make_source_zip(sp, shared["third_party"], result["firefox"])
        result["source"] = _report(sp)
        # sha256sum's format: `sha256sum -c SHA256SUMS` checks the downloads.
        sums = "".join(f"{result[k]['sha256']}  {Path(result[k]['zip']).name}\n" for k in ("chromium", "firefox", "source"))
        (DIST / "SHA256SUMS").write_text(sums)
        log(f"{_rel(DIST / 'SHA256SUMS')}")
    return result


def _report(zp: Path) -> dict:
    data = zp.read_bytes()
    r = {"zip": str(zp), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    log(f"{_rel(zp)}  {len(data):>10,} bytes  sha256 {r['sha256']}")
    return r


def shared_inputs() -> dict:
    """What every built tree shares: the trimmed stdlib, pycore.zip and THIRD_PARTY.md."""
    shared = {"stdlib": trimmed_stdlib(NODE / "pyodide" / "python_stdlib.zip"), "pycore": package_zip()}
    shared["third_party"] = third_party_md(shared["stdlib"])
    return shared


# ---------------------------------------------------------------------------------- third party
STDLIB_LICENSE = "PSF-2.0 (CPython's standard library, as distributed in the pyodide package)"


def third_party_files(stdlib: bytes) -> list[dict]:
    """Every file of the package that is not ours: where it comes from and its SHA-256, as
    published in the npm package (the file in node_modules, installed by `npm ci` from the
    lockfile's integrity-checked tarball) and as shipped."""
    rows = []
    shipped = {f"pyodide/{f}": f"pyodide/{f}" for f in PYODIDE_FILES}
    shipped.update(VENDOR)
    shipped.update(VENDOR_LICENSES)
    for dst, src in sorted(shipped.items()):
        if not (NODE / src).is_file():   # build_tree() ships a licence file only when the package has one
            continue
        pkg = "/".join(src.split("/")[:2 if src.startswith("@") else 1])   # "@scope/name" or "name"
        meta = json.loads((NODE / pkg / "package.json").read_text())
        published = hashlib.sha256((NODE / src).read_bytes()).hexdigest()
        row = {"path": dst, "package": pkg, "version": meta["version"], "license": meta.get("license", "?"),
               "source": src, "published_sha256": published, "shipped_sha256": published, "note": ""}
        if dst == "pyodide/python_stdlib.zip":
            row["license"] = STDLIB_LICENSE
            row["shipped_sha256"] = hashlib.sha256(stdlib).hexdigest()
            row["note"] = "trimmed by build.py (see below)"
        rows.append(row)
    return rows


def third_party_md(stdlib: bytes) -> str:
    rows = third_party_files(stdlib)
    lines = [
        "# Third-party files in Encrypt for Discourse " + version(),
        "",
        "Generated by build.py. Every file of the extension package that we did not write, with the npm",
        "package it comes from (installed by `npm ci` from package-lock.json, whose integrity hashes",
        "pin each package tarball) and the SHA-256 of the file as published in that package. To check",
        "one: `npm pack <package>@<version>`, unpack the tarball, `sha256sum package/<file>`.",
        "",
        "All files are shipped unmodified except `pyodide/python_stdlib.zip`. The pyodide npm package",
        "holds no licence file; its package.json states the licence given here.",
        "",
        "| file in the package | npm package | version | licence | file in the npm package | SHA-256 as published |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| `{r['path']}` | {r['package']} | {r['version']} | {r['license']} | `{r['source']}` "
                     f"| `{r['published_sha256']}` |")
    std = next(r for r in rows if r["path"] == "pyodide/python_stdlib.zip")
    lines += [
        "",
        "## pyodide/python_stdlib.zip (trimmed)",
        "",
        f"- as published in pyodide {std['version']} (`{std['source']}`): `{std['published_sha256']}`",
        f"- as shipped: `{std['shipped_sha256']}`",
        "",
        "Derived by `trimmed_stdlib()` in build.py, deterministically (the same input always gives the",
        "same bytes): the published archive is read in name order; top-level modules and packages in",
        "`STDLIB_DROP` (unused by the extension: unittest, email, xml, http, ...) and every `encodings/`",
        "module not in `STDLIB_KEEP_ENCODINGS` are left out; from each remaining `.py` file the module,",
        "class and function docstrings are removed with an `ast` round trip (`strip_docstrings()`; a file",
        "this Python cannot parse is kept verbatim); entries are written with the date 1980-01-01,",
        "permissions 0644 and deflate level 9. No file is added and no code is changed. To reproduce:",
        "`python build.py` from the source package, or call `build.trimmed_stdlib(path)` on the",
        "published archive and hash the result (needs the same Python minor version as the build, since",
        "`ast.unparse` output can differ between versions; this package was built with Python "
        f"{sys.version_info.major}.{sys.version_info.minor}).",
        "",
        "The rest of the package (everything not listed here) is this project's own code, MIT licence.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- source package
# What the add-ons site's reviewers need to rebuild the package: every input of the build and the
# tools that install them; not the tests (in the repository) nor generated files.
SOURCE_TOP_FILES = ("README.md", "build.py", "dev.sh", "package.json", "package-lock.json", "pyproject.toml",
                    "requirements.in", "requirements.lock")
SOURCE_DIRS = ("docs", "extension", "pycore", "tools")


def source_files() -> list[Path]:
    files = [ROOT / f for f in SOURCE_TOP_FILES if (ROOT / f).is_file()]
    for d in SOURCE_DIRS:
        for p in (ROOT / d).rglob("*"):
            rel = p.relative_to(ROOT)
            # the same exclusions as build_tree() and pycore's package_zip(): caches, editor files
            if p.is_file() and "__pycache__" not in rel.parts and not p.name.endswith((".pyc", "~")) \
                    and not (rel.parts[0] == "extension" and p.name.startswith(".")):
                files.append(p)
    return sorted(files, key=lambda p: p.relative_to(ROOT).as_posix())


def make_source_zip(dest: Path, third_party: str, firefox: dict) -> None:
    top = dest.name[:-len(".zip")] + "/"
    review = (EXT.parent / "docs" / "store" / "REVIEW.md").read_text()
    review = review.replace("{version}", version()).replace("{top}", top.rstrip("/")) \
        .replace("{firefox_zip}", Path(firefox["zip"]).name).replace("{firefox_sha256}", firefox["sha256"]) \
        .replace("{python}", f"{sys.version_info.major}.{sys.version_info.minor}")
    entries = [(p.relative_to(ROOT).as_posix(), p.read_bytes(), 0o755 if os.access(p, os.X_OK) else 0o644)
               for p in source_files()]
    entries += [("REVIEW.md", review.encode(), 0o644), ("THIRD_PARTY.md", third_party.encode(), 0o644)]
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for rel, data, mode in sorted(entries):
            zi = zipfile.ZipInfo(top + rel, FIXED_DATE)
            zi.external_attr = (0o100000 | mode) << 16   # a regular file; unzip restores the mode
            zi.create_system = 3                          # Unix, so that unzip reads the mode
            zi.compress_type = zipfile.ZIP_STORED if rel.endswith((".zip", ".png")) else zipfile.ZIP_DEFLATED
            z.writestr(zi, data, compresslevel=9)


# ---------------------------------------------------------------------------------- verify
# What a store or a browser adds when it publishes or installs a package; never part of our build.
# Chrome Web Store: _metadata/ (signed hashes); the add-ons site: META-INF/ (the signature).
STORE_ADDED_DIRS = ("_metadata/", "META-INF/")
# Manifest members a store or a browser adds: Chromium writes the package's public "key" into the
# installed manifest.json (a CRX install; the file is re-serialised, so only its meaning is
# compared), and the Chrome Web Store adds "update_url".
STORE_ADDED_MANIFEST = ("key", "update_url")


def read_package(path: Path) -> dict[str, bytes]:
    """{name: bytes} of an extension folder or of a zip/xpi/crx (a CRX is a zip behind a signed
    header, which zipfile skips)."""
    if path.is_dir():
        return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}


def target_of(manifest: dict) -> str:
    return "chromium" if "service_worker" in manifest.get("background", {}) else "firefox"


def built_store_files(target: str) -> dict[str, bytes]:
    """This source's store build of `target`, built now into a temporary folder."""
    import tempfile
    global DIST
    check_inputs()
    saved = DIST
    with tempfile.TemporaryDirectory(prefix="efd-verify-") as tmp:
        DIST = Path(tmp)
        try:
            return read_package(build_tree(target, False, shared_inputs()))
        finally:
            DIST = saved


def compare_packages(installed: dict[str, bytes], built: dict[str, bytes]) -> dict:
    """What differs between an installed/downloaded package and a build: lists of file names, and
    the store-added files and manifest members (reported, never failures)."""
    store_added = sorted(n for n in installed if n.startswith(STORE_ADDED_DIRS))
    mine = {n: d for n, d in installed.items() if not n.startswith(STORE_ADDED_DIRS)}
    r = {"same": [], "differs": [], "missing": sorted(set(built) - set(mine)), "extra": sorted(set(mine) - set(built)),
         "store_added": store_added, "manifest_added": []}
    for name in sorted(set(mine) & set(built)):
        if name == "manifest.json" and mine[name] != built[name]:
            try:
                got, want = json.loads(mine[name]), json.loads(built[name])
            except ValueError:
                r["differs"].append(name)
                continue
            added = [k for k in STORE_ADDED_MANIFEST if k in got and k not in want]
            for k in added:
                got.pop(k)
            r["manifest_added"] = added
            (r["same"] if got == want else r["differs"]).append(name)
        else:
            (r["same"] if mine[name] == built[name] else r["differs"]).append(name)
    r["ok"] = not (r["differs"] or r["missing"] or r["extra"])
    return r


def verify(path: Path, against: Path | None = None) -> int:
    if not path.exists():
        log(f"verify: {path} does not exist")
        return 1
    installed = read_package(path)
    if "manifest.json" not in installed:
        log(f"verify: {path} holds no manifest.json: not an extension folder or package")
        return 1
    m = json.loads(installed["manifest.json"])
    target = target_of(m)
    if against is not None:
        built, what = read_package(against), f"the store build {against}"
    else:
        built, what = built_store_files(target), "this source's store build (built now)"
    bm = json.loads(built["manifest.json"])
    log(f"verify: {path}\n  {target} package, version {m.get('version')}; compared with {what}, version {bm.get('version')}")
    r = compare_packages(installed, built)
    log(f"  {len(r['same'])} of {len(built)} files identical")
    for kind in ("differs", "missing", "extra"):
        for n in r[kind]:
            log(f"  {kind.upper():8} {n}")
    for n in r["store_added"]:
        log(f"  added by the store or the browser (not compared): {n}")
    if r["manifest_added"]:
        log(f"  manifest.json: identical in meaning apart from members the store or the browser adds: "
            f"{', '.join(r['manifest_added'])}")
    log("  RESULT: every file matches this source" if r["ok"] else
        "  RESULT: DOES NOT MATCH this source (the files above differ, are missing or are extra)")
    return 0 if r["ok"] else 1


def main(argv: list[str]) -> int:
    if argv and argv[0] == "verify":
        if len(argv) < 2:
            print("usage: python build.py verify PATH [--against ZIP|DIR]", file=sys.stderr)
            return 2
        against = Path(argv[argv.index("--against") + 1]) if "--against" in argv else None
        return verify(Path(argv[1]), against)
    if argv and argv[0] == "screenshots":
        # Also drives a browser with the test tooling, in its own process.
        import subprocess
        return subprocess.call([sys.executable, "-m", "tests.e2e.screenshots", *argv[1:]], cwd=ROOT)
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
