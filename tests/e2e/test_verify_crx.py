"""`build.py verify` on a CRX that real Chromium packed from the store build (what a user
downloads from a store that serves CRX files), and on the same files with one byte changed.

Installing a CRX into a profile's Extensions/<id>/<version> folder needs an enterprise policy
or the Chrome Web Store (Chromium refuses other CRX installs; chromedriver's add_extension
unpacks into a temporary folder and loads it unpacked), so the installed-folder case is covered
by tests/test_build.py with the files and manifest members the store adds.
"""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .browser import CHROMIUM

REPO = Path(__file__).resolve().parents[2]


def _verify(*args):
    return subprocess.run([sys.executable, str(REPO / "build.py"), "verify", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_verify_a_crx_packed_by_chromium_and_reject_one_changed_byte(tmp_path):
    store = REPO / "dist" / "chromium"
    if not (store / "manifest.json").is_file():
        subprocess.run([sys.executable, str(REPO / "build.py"), "--no-zip"], check=True, cwd=REPO)
    src = tmp_path / "ext"
    shutil.copytree(store, src)
    r = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
                        f"--pack-extension={src}"], capture_output=True, text=True, timeout=120)
    crx = tmp_path / "ext.crx"
    assert crx.is_file(), r.stdout + r.stderr
    assert crx.read_bytes()[:4] == b"Cr24"
    r = _verify(crx)
    assert r.returncode == 0 and "every file matches this source" in r.stdout, r.stdout + r.stderr
    # the CRX's files with one byte of one file changed
    changed = tmp_path / "changed"
    with zipfile.ZipFile(crx) as z:
        z.extractall(changed)
    f = changed / "common" / "messages.js"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x20
    f.write_bytes(bytes(data))
    r = _verify(changed)
    assert r.returncode == 1 and "DIFFERS  common/messages.js" in r.stdout, r.stdout
