"""build.py: reproducible zips, manifests, contents, and the trimmed Pyodide runtime actually works."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ENCRYPT_SHARED_DIR") or REPO.parent / "shared")
PYODIDE_FILES = {"pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"}
CSP = "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'"


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    outs = []
    for n in (1, 2):
        out = tmp_path_factory.mktemp(f"build{n}")
        r = subprocess.run([sys.executable, str(REPO / "build.py"), "--out", str(out)], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        outs.append((out, r.stdout))
    return outs


def _zips(out: Path):
    """The store zips (not the source package)."""
    return sorted(p for p in out.glob("encrypt-for-discourse-*.zip") if not p.name.endswith("-source.zip"))


def test_zips_are_reproducible_and_reported(two_builds):
    (a, log_a), (b, _log_b) = two_builds
    za, zb = _zips(a), _zips(b)   # the store zips (the source package is checked below)
    assert [p.name for p in za] == ["encrypt-for-discourse-chromium-0.2.0.zip", "encrypt-for-discourse-firefox-0.2.0.zip"]
    assert [p.name for p in zb] == [p.name for p in za]
    for pa, pb in zip(za, zb):
        data = pa.read_bytes()
        assert data == pb.read_bytes(), f"{pa.name} differs between two builds"
        sha = hashlib.sha256(data).hexdigest()
        assert sha in log_a and f"{len(data):,}" in log_a  # build.py prints SHA-256 and size
        with zipfile.ZipFile(pa) as z:
            infos = z.infolist()
            assert [i.filename for i in infos] == sorted(i.filename for i in infos)
            assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def _manifest(out: Path, target: str) -> dict:
    return json.loads((out / target / "manifest.json").read_text())


def test_chromium_manifest(two_builds):
    out = two_builds[0][0]
    m = _manifest(out, "chromium")
    assert m["manifest_version"] == 3
    assert m["background"] == {"service_worker": "background/router_sw.js", "type": "module"}
    assert "offscreen" in m["permissions"]
    assert m["content_security_policy"] == {"extension_pages": CSP}
    assert "host_permissions" not in m and "content_scripts" not in m and "externally_connectable" not in m
    assert "<all_urls>" not in json.dumps(m)
    assert set(m["optional_host_permissions"]) == {"https://*/*", "http://*/*"}
    # The store build has no key (the Chrome Web Store refuses one); the test build's fixed key
    # gives the deterministic id the tests use.
    assert "key" not in m
    from tests.e2e.browser import extension_id
    assert extension_id(out / "chromium-test") == "amfnpddnafokmhbgjafjnbkgpndpggaj"
    for war in m.get("web_accessible_resources", []):
        assert war.get("use_dynamic_url") is True
        assert all(r.startswith("frames/") and r.endswith(".html") for r in war["resources"])
    assert not (out / "chromium" / "background" / "firefox.js").exists()


def test_firefox_manifest(two_builds):
    out = two_builds[0][0]
    m = _manifest(out, "firefox")
    assert m["background"] == {"scripts": ["background/firefox.js"], "type": "module"}
    gecko = m["browser_specific_settings"]["gecko"]
    assert gecko["id"] == "encrypt-for-discourse@efd.invalid" and "data_collection_permissions" in gecko
    assert "offscreen" not in m["permissions"] and "key" not in m
    assert m["content_security_policy"] == {"extension_pages": CSP}
    assert "host_permissions" not in m and "externally_connectable" not in m
    assert "<all_urls>" not in json.dumps(m)
    for war in m.get("web_accessible_resources", []):
        assert "use_dynamic_url" not in war
    assert not (out / "firefox" / "engine" / "offscreen.html").exists()


def test_test_builds_differ_only_in_host_permissions_test_hooks_and_key(two_builds):
    """…and in the notifications permission, optional in store builds."""
    out = two_builds[0][0]
    for target in ("chromium", "firefox"):
        store, test = out / target, out / f"{target}-test"
        ms, mt = _manifest(out, target), _manifest(out, f"{target}-test")
        assert mt.pop("host_permissions") == ["http://127.0.0.1/*", "http://localhost/*"]
        # the optional notifications permission, granted at install (headless browsers have no prompt)
        assert mt["permissions"].pop() == "notifications" and "notifications" in mt["optional_permissions"]
        if target == "chromium":
            assert mt.pop("key").startswith("MIIBIjAN")
        assert mt.pop("name").endswith("(test build)")
        ms.pop("name")
        assert ms == mt
        assert '"testHooks": false' in (store / "common" / "config.js").read_text()
        assert '"testHooks": true' in (test / "common" / "config.js").read_text()
        files = lambda d: sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())
        assert files(store) == files(test)
        for rel in files(store):
            if rel not in ("manifest.json", "common/config.js"):
                assert (store / rel).read_bytes() == (test / rel).read_bytes(), rel
    assert not list(out.glob("*-test*.zip"))


def test_zip_contents(two_builds):
    out = two_builds[0][0]
    for zp in _zips(out):
        with zipfile.ZipFile(zp) as z:
            names = set(z.namelist())
        assert {n.split("/", 1)[1] for n in names if n.startswith("pyodide/") and not n.endswith(".txt")} == PYODIDE_FILES
        assert not any(n.endswith(".map") or "node_modules" in n or "__pycache__" in n for n in names)
        assert {"manifest.json", "pycore.zip", "common/messages.js", "common/config.js", "common/constants.js",
                "content/forum.js", "content/page.js", "common/conversation.js", "ui/options.html",
                "ui/popup.html", "engine/host.js", "vendor/markdown-it.mjs", "vendor/purify.mjs",
                "vendor/qrcode.mjs"} <= names
    with zipfile.ZipFile(out / "chromium" / "pycore.zip") as z:
        shipped = set(z.namelist())
    from pycore.__main__ import DEV_MODULES
    expected = {p.relative_to(REPO).as_posix() for p in (REPO / "pycore").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
                and p.relative_to(REPO / "pycore").as_posix() not in DEV_MODULES}
    assert shipped == expected
    # the vector runner is a development command: it is not in the store package
    assert "pycore/vectors.py" not in shipped and "pycore/__main__.py" not in shipped
    with zipfile.ZipFile(out / "chromium" / "pyodide" / "python_stdlib.zip") as z:
        std = set(z.namelist())
    assert "asyncio/__init__.py" in std and "json/__init__.py" in std and "encodings/utf_8.py" in std
    assert not any(n.startswith(("unittest/", "email/", "xml/", "http/")) for n in std)


def _generated_object(text: str, name: str) -> dict:
    """The object literal of a generated `globalThis.NAME = Object.freeze({...});` file."""
    prefix = f"globalThis.{name} = Object.freeze("
    line = next(ln for ln in text.splitlines() if ln.startswith(prefix))
    assert line.endswith(");"), line
    return json.loads(line[len(prefix):-2])


def test_constants_js_is_what_pycore_defines(two_builds):
    from pycore.js_constants import for_javascript
    out = two_builds[0][0]
    expected = for_javascript()
    for tree in ("chromium", "chromium-test", "firefox", "firefox-test"):
        text = (out / tree / "common" / "constants.js").read_text()
        assert text.startswith("// Generated by build.py"), tree
        assert _generated_object(text, "EFD_CONSTANTS") == expected, tree
    # Generated only: never a source file.
    assert not (REPO / "extension" / "common" / "constants.js").exists()


def test_no_javascript_retypes_the_armour_markers_or_titles():
    """The markers and the forum titles reach JavaScript only through common/constants.js."""
    import re
    from pycore.js_constants import for_javascript
    facts = for_javascript()
    markers = [facts[k] for k in ("MSG_BEGIN", "MSG_END", "BACKUP_BEGIN", "BACKUP_END", "KEY_BEGIN", "KEY_END")]
    titles = [facts["PLACEHOLDER_TITLE"], facts["BACKUP_TITLE"]]
    # A title as a whole string literal; longer texts that start with the same words are labels.
    title_literal = re.compile("|".join(f"[\"'`]{re.escape(t)}[\"'`]" for t in titles))
    sources = [p for p in (REPO / "extension").rglob("*") if p.suffix in (".js", ".mjs")
               and "vendor" not in p.relative_to(REPO / "extension").parts]
    assert len(sources) > 10
    for p in sources:
        text = p.read_text()
        for m in markers:
            assert m not in text, f"{p.relative_to(REPO)} retypes {m}"
        found = title_literal.search(text)
        assert not found, f"{p.relative_to(REPO)} retypes the title {found.group(0)}"


def test_every_pycore_module_imports_and_the_engine_runs_in_the_shipped_pyodide(two_builds):
    out = two_builds[0][0]
    node = shutil.which("node")
    assert node, "node is required"
    v = SHARED / "vectors"
    r = subprocess.run([node, str(REPO / "tests" / "build_pyodide_check.mjs"), str(out / "chromium"),
                        str(v / "identities.json"), str(v / "posts.json"), str(v / "topic_keys.json")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["platform"] == "emscripten" and res["prims"] == "webcrypto"
    # The CPython backend needs `cryptography`, which only exists on CPython: everything else imports.
    assert set(res["failed"]) <= {"pycore.primitives.cpython"}, res["failed"]
    assert {"pycore.engine", "pycore.engine.pyodide_adapter", "pycore.plugin.identity", "pycore.inband.messages"} \
        <= set(res["modules"])
    steps = res["steps"]
    assert steps["import"]["ok"] and steps["unlock"]["ok"] and steps["decrypt"]["ok"], steps
    assert steps["wrong"]["error"]["code"] == "wrong_passphrase"
    assert res["decrypt_matches"] is True


def test_no_network_urls_in_extension_sources():
    """Nothing is fetched from the network at run time: no http(s) URLs in our extension code."""
    import re
    for p in (REPO / "extension").rglob("*"):
        if p.suffix in (".js", ".mjs", ".html", ".json") and "manifests" not in p.parts:
            text = p.read_text()
            urls = [u for u in re.findall(r"https?://[^\s\"'`)]+", text)
                    if not u.startswith(("http://127.0.0.1", "http://localhost"))]
            assert not urls, f"{p}: {urls}"


def test_one_version_everywhere():
    """The manifest, package.json, the lockfile's root and pycore state the same release version."""
    import pycore
    manifest = json.loads((REPO / "extension" / "manifests" / "common.json").read_text())["version"]
    package = json.loads((REPO / "package.json").read_text())["version"]
    lock = json.loads((REPO / "package-lock.json").read_text())
    import tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert manifest == package == lock["version"] == lock["packages"][""]["version"] == pycore.__version__ == project


# What both stores state for uploads, checked on the zips themselves (not the unpacked trees).
STORE_PERMISSIONS = {"chromium": ["storage", "alarms", "scripting", "activeTab", "offscreen"],
                     "firefox": ["storage", "alarms", "scripting", "activeTab"]}


def _png_size(data: bytes) -> tuple[int, int]:
    import struct
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_store_zips_follow_the_upload_rules(two_builds):
    import re
    out = two_builds[0][0]
    zips = {p.name.split("-")[3]: p for p in _zips(out)}
    assert set(zips) == {"chromium", "firefox"}
    for target, zp in zips.items():
        with zipfile.ZipFile(zp) as z:
            names = z.namelist()
            assert len(names) == len(set(names)), "duplicate entries"
            assert all(not n.startswith(("/", "../")) and "/../" not in n and "\\" not in n for n in names)
            assert not any(n.endswith("/") for n in names), "directory entries"
            assert not any(p.startswith(".") for n in names for p in n.split("/")), "hidden files"
            # Chromium and Firefox both refuse files whose name starts with "_" at the root
            # (reserved: _metadata and the like) except the locales' messages.
            assert not any(n.startswith("_") and not re.fullmatch(r"_locales/[A-Za-z_]+/messages\.json", n) for n in names)
            m = json.loads(z.read("manifest.json"))
            assert m["default_locale"] == "en" and "_locales/en/messages.json" in names
            words = json.loads(z.read("_locales/en/messages.json"))
            for k in ("name", "short_name", "description"):   # as the store and the browser read them
                m[k] = re.sub(r"__MSG_(\w+)__", lambda g: words[g.group(1)]["message"], m[k])
            assert any(k.startswith("error_") for k in words), "the error words generated from FOR_USERS"
            assert "key" not in m, f"{target}: the Chrome Web Store refuses a manifest with a key"
            assert "update_url" not in m, f"{target}: store-hosted extensions must not set update_url"
            assert "update_url" not in json.dumps(m.get("browser_specific_settings", {}))
            assert m["manifest_version"] == 3
            assert re.fullmatch(r"(0|[1-9]\d{0,4})(\.(0|[1-9]\d{0,4})){0,3}", m["version"]), m["version"]
            assert all(int(p) <= 65535 for p in m["version"].split("."))
            assert 0 < len(m["name"]) <= 45 and 0 < len(m["short_name"]) <= 45
            assert 0 < len(m["description"]) <= 132, "Chrome's limit for the description"
            assert m["permissions"] == STORE_PERMISSIONS[target]
            assert m["optional_permissions"] == ["notifications"], "asked for when the user turns notifications on"
            assert m["optional_host_permissions"] == ["https://*/*", "http://*/*"]
            assert "host_permissions" not in m and "content_scripts" not in m
            assert m["content_security_policy"] == {"extension_pages": CSP}
            icons = m["icons"]
            assert set(icons) >= {"16", "48", "128"}, "both stores want a 128 px icon; 16 and 48 for the UI"
            for size, path in icons.items():
                assert path in names, f"{target}: icon {path} is not in the zip"
                assert _png_size(z.read(path)) == (int(size), int(size)), path
            for page in (m["action"]["default_popup"], m["options_ui"]["page"]):
                assert page in names
            if target == "chromium":
                assert m["background"] == {"service_worker": "background/router_sw.js", "type": "module"}
                assert m["background"]["service_worker"] in names
                assert "browser_specific_settings" not in m
            else:
                assert all(s in names for s in m["background"]["scripts"])
                gecko = m["browser_specific_settings"]["gecko"]
                assert re.fullmatch(r"[\w.+-]+@[\w.-]+", gecko["id"]) and len(gecko["id"]) <= 80
                assert gecko["data_collection_permissions"] == {"required": ["none"]}
                assert "minimum_chrome_version" not in m
            for war in m.get("web_accessible_resources", []):
                assert all(r in names for r in war["resources"])


def test_sha256sums_cover_the_zips_and_the_source_package(two_builds):
    out = two_builds[0][0]
    lines = (out / "SHA256SUMS").read_text().splitlines()
    names = [ln.split("  ", 1)[1] for ln in lines]
    version = json.loads((REPO / "extension" / "manifests" / "common.json").read_text())["version"]
    assert names == [f"encrypt-for-discourse-chromium-{version}.zip", f"encrypt-for-discourse-firefox-{version}.zip",
                     f"encrypt-for-discourse-{version}-source.zip"]
    for ln in lines:
        sha, name = ln.split("  ", 1)
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha, name
    # the source package is reproducible too (compared by digest: a failing comparison of two
    # megabyte-long byte strings makes pytest compute their diff for many minutes)
    assert hashlib.sha256((out / names[2]).read_bytes()).hexdigest() == \
        hashlib.sha256((two_builds[1][0] / names[2]).read_bytes()).hexdigest()


def _third_party_rows(text: str) -> dict:
    rows = {}
    for ln in text.splitlines():
        cells = [c.strip().strip("`") for c in ln.strip("|").split("|")]
        if ln.startswith("| `") and len(cells) == 6:
            rows[cells[0]] = {"package": cells[1], "version": cells[2], "license": cells[3], "source": cells[4],
                              "sha256": cells[5]}
    return rows


def test_third_party_md_lists_every_file_not_ours_with_its_published_hash(two_builds):
    out = two_builds[0][0]
    text = (out / "THIRD_PARTY.md").read_text()
    rows = _third_party_rows(text)
    node = REPO / "node_modules"
    for target in ("chromium", "firefox"):
        tree = out / target
        assert (tree / "THIRD_PARTY.md").read_text() == text
        ours = {p.relative_to(REPO / "extension").as_posix() for p in (REPO / "extension").rglob("*")
                if p.is_file() and "manifests" not in p.parts}
        ours |= {"manifest.json", "pycore.zip", "THIRD_PARTY.md", "common/config.js", "common/constants.js"}
        shipped = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
        assert shipped - ours == set(rows), "every file that is not ours is listed, and only those"
        for path, r in rows.items():
            published = node / r["source"]
            assert hashlib.sha256(published.read_bytes()).hexdigest() == r["sha256"], path
            meta = json.loads((node / r["package"] / "package.json").read_text())
            assert meta["version"] == r["version"] and meta["name"] == r["package"]
            data = (tree / path).read_bytes()
            if path == "pyodide/python_stdlib.zip":
                assert f"- as shipped: `{hashlib.sha256(data).hexdigest()}`" in text
                assert f"`{r['sha256']}`" in text.split("## pyodide/python_stdlib.zip", 1)[1]
            else:
                assert hashlib.sha256(data).hexdigest() == r["sha256"], f"{path} is shipped unmodified"
                assert r["license"] == meta["license"]


def test_source_package_rebuilds_the_firefox_zip_byte_for_byte(two_builds, tmp_path):
    """The review package, unpacked like `unzip` does (modes kept), built with `./dev.sh build`
    inside it. Its bootstrap finds this checkout's .venv and node_modules (linked in: installed
    from the same lockfiles, which the bootstrap compares) instead of downloading them again."""
    import stat
    out = two_builds[0][0]
    src_zip = next(out.glob("encrypt-for-discourse-*-source.zip"))
    with zipfile.ZipFile(src_zip) as z:
        z.extractall(tmp_path)
        for info in z.infolist():
            mode = info.external_attr >> 16
            if mode:
                (tmp_path / info.filename).chmod(stat.S_IMODE(mode))
    (top,) = tmp_path.iterdir()
    assert (top / "REVIEW.md").is_file() and (top / "THIRD_PARTY.md").is_file()
    assert not (top / "tests").exists() and not (top / ".git").exists()
    for lockfile in ("requirements.lock", "package-lock.json"):
        assert (top / lockfile).read_bytes() == (REPO / lockfile).read_bytes()
    (top / ".venv").symlink_to(REPO / ".venv")
    (top / "node_modules").symlink_to(REPO / "node_modules")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(["./dev.sh", "build"], cwd=top, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    name = next(out.glob("encrypt-for-discourse-firefox-*.zip")).name
    assert hashlib.sha256((top / "dist" / name).read_bytes()).hexdigest() == \
        hashlib.sha256((out / name).read_bytes()).hexdigest(), "the Firefox zip differs"
    sha = hashlib.sha256((out / name).read_bytes()).hexdigest()
    assert sha in (top / "REVIEW.md").read_text()


def _verify(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "build.py"), "verify", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_verify_accepts_this_build_and_names_every_file_that_differs(two_builds, tmp_path):
    out = two_builds[0][0]
    chromium_zip, firefox_zip = _zips(out)
    # against a fresh build of this source (built by the command itself)
    r = _verify(firefox_zip)
    assert r.returncode == 0 and "every file matches this source" in r.stdout, r.stdout + r.stderr
    # an installed copy as the Chrome Web Store delivers it: its signed hashes in _metadata/, and
    # the package's public key and the store's update_url added to manifest.json, re-serialised
    inst = tmp_path / "Extensions" / "abcdefghijklmnopabcdefghijklmnop" / "0.2.0_0"
    shutil.copytree(out / "chromium", inst)
    m = json.loads((inst / "manifest.json").read_text())
    m.update(key="MIIBIjANBgkq", update_url="https://store.invalid/update")
    (inst / "manifest.json").write_text(json.dumps(m, separators=(",", ":"), sort_keys=True))
    (inst / "_metadata").mkdir()
    (inst / "_metadata" / "verified_contents.json").write_text("[]")
    r = _verify(inst, "--against", chromium_zip)
    assert r.returncode == 0, r.stdout
    assert "_metadata/verified_contents.json" in r.stdout and "key, update_url" in r.stdout
    # one byte of one file changed; a file removed; a file added
    target = inst / "engine" / "host.js"
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    r = _verify(inst, "--against", chromium_zip)
    assert r.returncode == 1 and "DIFFERS  engine/host.js" in r.stdout and "DOES NOT MATCH" in r.stdout, r.stdout
    (inst / "ui" / "popup.js").unlink()
    (inst / "ui" / "extra.js").write_text("steal()")
    r = _verify(inst, "--against", chromium_zip)
    assert "MISSING  ui/popup.js" in r.stdout and "EXTRA    ui/extra.js" in r.stdout and r.returncode == 1
    # a manifest member that no store adds is a difference
    m["permissions"].append("tabs")
    shutil.copytree(out / "chromium", tmp_path / "other")
    (tmp_path / "other" / "manifest.json").write_text(json.dumps(m))
    r = _verify(tmp_path / "other", "--against", chromium_zip)
    assert r.returncode == 1 and "DIFFERS  manifest.json" in r.stdout
    # a signed Firefox package: META-INF/ is the add-ons site's signature
    signed = tmp_path / "signed.xpi"
    shutil.copyfile(firefox_zip, signed)
    with zipfile.ZipFile(signed, "a") as z:
        z.writestr("META-INF/cose.sig", b"signature")
    r = _verify(signed, "--against", out / "firefox")
    assert r.returncode == 0 and "META-INF/cose.sig" in r.stdout, r.stdout
    assert _verify(tmp_path / "nothing-here").returncode == 1
