"""The store screenshots come from one command, in real Chromium, at the stores' 1280×800."""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.screenshots import NAMES, SIZE

pytestmark = [pytest.mark.e2e, pytest.mark.forum_independent]
REPO = Path(__file__).resolve().parents[2]


def png_size(p: Path) -> tuple[int, int]:
    head = p.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", p
    return struct.unpack(">II", head[16:24])


def test_the_screenshot_command_takes_every_picture(tmp_path, ext_dir):
    r = subprocess.run([sys.executable, str(REPO / "build.py"), "screenshots", "--out", str(tmp_path),
                        "--ext", str(ext_dir)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    for name in NAMES:
        p = tmp_path / f"{name}.png"
        assert p.is_file() and str(p) in r.stdout, name
        assert png_size(p) == SIZE, (name, png_size(p))
        assert p.stat().st_size > 10_000, f"{name}.png looks blank"   # a blank 1280×800 PNG is ~4 kB
