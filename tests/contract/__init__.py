"""The message contract between extension/common/messages.js and the Python engine.

`Router` runs messages.js in Node (one process per test session) and checks requests exactly
as the extension's router does; `tests/engine_support.py` sends every engine-test request
through it, so an engine test that uses a field or a type messages.js does not declare fails,
and `Contract` records which types and fields the engine tests used.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
MESSAGES_JS = REPO / "extension" / "common" / "messages.js"


class Router:
    def __init__(self):
        node = shutil.which("node")
        if not node:
            raise RuntimeError("node is required for the message contract (installed by tools/bootstrap.sh)")
        from pycore.js_constants import for_javascript
        self._constants = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(for_javascript(), self._constants)
        self._constants.close()
        self.proc = subprocess.Popen([node, str(Path(__file__).with_name("router.mjs")), str(MESSAGES_JS),
                                      self._constants.name], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self._senders: dict[str, str] = {}

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the messages.js checker stopped")
        return json.loads(line)

    def check(self, type: str, payload, sender: str, test_hooks: bool = False) -> dict:
        return self.ask({"op": "check", "type": type, "payload": payload, "sender": sender, "testHooks": test_hooks})

    def default_sender(self, type: str) -> str:
        """The first context messages.js allows to send `type` ("frame:*" read as the viewer,
        "page:*" as the options page)."""
        if type not in self._senders:
            allowed = self.ask({"op": "senders", "type": type})["from"]
            first = allowed[0] if allowed else "page:options"
            self._senders[type] = {"frame:*": "frame:viewer", "page:*": "page:options"}.get(first, first)
        return self._senders[type]

    def describe(self) -> dict:
        return self.ask({"op": "describe"})["types"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        Path(self._constants.name).unlink(missing_ok=True)


class Contract:
    """Which engine-bound types and payload fields the engine tests sent (and the router accepted)."""

    def __init__(self):
        self.fields: dict[str, set] = {}

    def record(self, type: str, payload: dict):
        self.fields.setdefault(type, set()).update(payload if isinstance(payload, dict) else ())


_router: Router | None = None
CONTRACT = Contract()


def router() -> Router:
    global _router
    if _router is None:
        _router = Router()
    return _router


def close_router() -> None:
    """Stops the Node checker (tests/conftest.py calls this when the session ends)."""
    global _router
    if _router is not None:
        _router.close()
        _router = None
