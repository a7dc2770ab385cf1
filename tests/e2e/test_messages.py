"""extension/common/messages.js checked in Node (`node --test`), no browser needed:
- messages_check.mjs: declarations, validators, sender classification, the router -> content and
  router -> engine hops, describe();
- conversation_messages_check.mjs: the conversation declarations — the content script can neither
  ask for plaintext nor post it; user decisions come from extension frames.
Both load common/constants.js first (load_messages.mjs); this test writes it from pycore."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import build


@pytest.fixture(scope="module")
def constants_js(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("constants") / "constants.js"
    path.write_text(build.constants_js())
    return path


@pytest.mark.parametrize("script,passes", [("messages_check.mjs", 9), ("conversation_messages_check.mjs", 4)])
def test_message_declarations_in_node(script, passes, constants_js):
    node = shutil.which("node")
    if not node:
        pytest.fail("node is required (installed by tools/bootstrap.sh)")
    path = Path(__file__).with_name(script)
    env = {**os.environ, "EFD_CONSTANTS_JS": str(constants_js)}
    r = subprocess.run([node, "--test", str(path)], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# fail 0" in r.stdout and f"# pass {passes}" in r.stdout, r.stdout
