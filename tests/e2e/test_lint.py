"""`web-ext lint` on the Firefox store build: no errors, and no warnings in our own files
(the remaining warnings are inside vendored Pyodide/DOMPurify code)."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENDORED = ("pyodide/", "vendor/")


def test_web_ext_lint_firefox_build():
    src = REPO / "dist" / "firefox"
    if not (src / "manifest.json").is_file():
        subprocess.run([sys.executable, str(REPO / "build.py"), "--no-zip"], check=True, cwd=REPO)
    web_ext = REPO / "node_modules" / ".bin" / "web-ext"
    r = subprocess.run([str(web_ext), "lint", "--source-dir", str(src), "--output", "json", "--no-input"],
                       capture_output=True, text=True, timeout=300, cwd=REPO)
    report = json.loads(r.stdout)
    assert report["summary"]["errors"] == 0, report["errors"]
    ours = [w for w in report["warnings"] if not str(w.get("file") or "").startswith(VENDORED)]
    assert ours == [], ours
