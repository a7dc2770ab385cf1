"""`python build.py bench` runs end to end at a small size and writes every figure's key (the
figures themselves are not judged here: benchmarks print numbers, tests do not time things)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .bench import KEYS, REPO

pytestmark = pytest.mark.e2e


def test_the_benchmark_runs_and_writes_every_key(tmp_path, ext_dir):
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, "build.py", "bench", "--sizes", "10", "--runs", "1", "--json", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(out.read_text())
    assert set(KEYS) <= set(res)
    assert res["failures"] == {}, res["failures"]
    for key in ("read_posts_ms", "engine_batch_ms", "raw_webcrypto_ms"):
        assert res[key]["10"]["n"] == 1 and res[key]["10"]["median"] > 0
    assert res["read_posts_ratio"]["10"]["median"] > 0
    for key in ("first_post_visible_ms", "all_visible_ms", "wake_ms", "cold_start_ms", "wrap_30_recipients_ms",
                "search_10000_query_ms"):
        assert res[key]["median"] > 0, key
    assert res["forum_requests"]["raws"]["median"] >= 1
    for line in ("read_posts_ratio [10]", "first_post_visible_ms", "wake_ms", "forum_requests [topic + raws]",
                 "search_10000_query_ms"):
        assert line in p.stdout
