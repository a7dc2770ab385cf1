"""The issue-5 message declarations (extension/common/messages.js) checked in Node: the content
script can neither ask for plaintext nor post it; user decisions come from extension frames."""
import shutil
import subprocess
from pathlib import Path

import pytest


def test_conversation_message_declarations():
    node = shutil.which("node")
    if not node:
        pytest.fail("node is required (installed by tools/bootstrap.sh)")
    script = Path(__file__).with_name("conversation_messages_check.mjs")
    r = subprocess.run([node, "--test", str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# fail 0" in r.stdout and "# pass 3" in r.stdout, r.stdout
