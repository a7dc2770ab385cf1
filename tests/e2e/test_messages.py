"""extension/common/messages.js checked in Node (`node --test`), no browser needed."""
import shutil
import subprocess
from pathlib import Path

import pytest


def test_messages_declarations_and_validators():
    node = shutil.which("node")
    if not node:
        pytest.fail("node is required (installed by tools/bootstrap.sh)")
    script = Path(__file__).with_name("messages_check.mjs")
    r = subprocess.run([node, "--test", str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# fail 0" in r.stdout and "# pass 4" in r.stdout, r.stdout
