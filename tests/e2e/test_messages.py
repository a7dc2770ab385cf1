"""extension/common/messages.js checked in Node (`node --test`), no browser needed:
- messages_check.mjs: declarations, validators and sender classification;
- conversation_messages_check.mjs: the issue-5 declarations — the content script can neither ask
  for plaintext nor post it; user decisions come from extension frames."""
import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.mark.parametrize("script,passes", [("messages_check.mjs", 4), ("conversation_messages_check.mjs", 3)])
def test_message_declarations_in_node(script, passes):
    node = shutil.which("node")
    if not node:
        pytest.fail("node is required (installed by tools/bootstrap.sh)")
    path = Path(__file__).with_name(script)
    r = subprocess.run([node, "--test", str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# fail 0" in r.stdout and f"# pass {passes}" in r.stdout, r.stdout
