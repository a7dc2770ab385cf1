"""Which PMs a notification poll reports (extension/background/notify.js, run in Node): nothing on
a site's first poll, then only topics with posts beyond those seen whose last poster is not me."""
import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_only_new_posts_of_others_are_news():
    r = subprocess.run([shutil.which("node"), str(REPO / "tests" / "js" / "notify_check.mjs")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["first"]["fresh"] == [] and out["first"]["seen"] == {"1": 3, "2": 1}
    assert [t["topic_id"] for t in out["later"]["fresh"]] == [1, 3]   # 2: my own post; 4: no number
    assert out["later"]["seen"] == {"1": 4, "2": 2, "3": 1}
    assert out["again"]["fresh"] == []
    # a list that shows fewer posts than seen (a post deleted) is no news and forgets nothing
    assert out["older"]["fresh"] == [] and out["older"]["seen"]["1"] == 4
