"""The router's storage.local / storage.session items carry a schema version
(extension/background/storage_schema.js), run in Node with an in-memory storage API."""
import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_router_storage_is_versioned_migrated_and_a_newer_one_left_alone():
    r = subprocess.run([shutil.which("node"), str(REPO / "tests" / "js" / "storage_schema_check.mjs")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    n = out["schema"]
    old = out["old"]   # 0.1.0: no schema item
    assert old["local"] == {"sites": ["https://a.example"], "later": 1, "schema": n}
    assert old["session"] == {"marker": "m", "tok.x": {}, "schema": n}
    assert old["report"]["local"] == {"schema": n, "previous": 0, "unknown": ["later"], "newer": False}
    assert old["refused"] is None
    assert out["current"]["report"]["local"]["previous"] == n and out["current"]["refused"] is None
    newer = out["newer"]
    assert newer["local"] == {"schema": n + 1, "sites": ["https://b.example"], "shape": "new"}, "left as it is"
    assert newer["report"]["local"]["newer"] is True
    assert newer["refused"]["code"] == "newer_data" and "newer version" in newer["refused"]["message"]
