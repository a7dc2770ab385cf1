"""The one contract: extension/common/messages.js declares every message, and the Python engine
handles exactly the engine-bound ones, with exactly the declared fields.

- Every request the engine tests send goes through messages.js first (tests/engine_support.py),
  so a field or a type the engine uses but messages.js does not declare fails those tests.
- Here: the engine-bound types of messages.js are the engine's handlers, and (after the engine
  tests ran) every field messages.js declares for an engine-bound type was used by at least one
  engine test, so a field declared in JavaScript only fails too.
"""
import os

import pytest

from pycore.engine import Engine, MemoryStore
from tests.contract import CONTRACT, router

# Answered by the JavaScript engine host (extension/engine/host.js), not by pycore.
HOST_TYPES = {"test.engine_info"}


def _engine_bound():
    return {t: d for t, d in router().describe().items() if d["to"] == "engine" and t not in HOST_TYPES}


def test_engine_bound_types_are_the_engines_handlers(prims):
    declared = set(_engine_bound())
    handled = set(Engine(prims, MemoryStore()).handlers)
    assert declared - handled == set(), "declared in messages.js, no engine handler"
    assert handled - declared == set(), "engine handlers messages.js does not declare (unreachable)"


def test_every_engine_bound_declaration_is_an_object_shape():
    for type, decl in _engine_bound().items():
        assert isinstance(decl["fields"], list), f"{type}: the engine reads named fields; declare them with V.obj"


@pytest.mark.after_engine_tests
def test_every_declared_field_is_used_by_the_engine_tests():
    if not CONTRACT.fields:
        reason = "needs the engine tests (tests/test_engine*.py) in the same run"
        pytest.fail(reason) if os.environ.get("CI") else pytest.skip(reason)
    unused = {}
    for type, decl in _engine_bound().items():
        missing = set(decl["fields"]) - CONTRACT.fields.get(type, set())
        if missing:
            unused[type] = sorted(missing)
    assert unused == {}, "declared in messages.js but sent by no engine test (add a test, or drop the field)"
