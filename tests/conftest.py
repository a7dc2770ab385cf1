"""Shared pytest configuration.

Hypothesis profiles: "ci" (selected when the CI environment variable is set, as CI does) runs a
few thousand examples per property; "dev" is quicker for local runs. Choose explicitly with
HYPOTHESIS_PROFILE=ci|dev.
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.standin.fixtures", "tests.leftovers"]

REPO_DIR = Path(__file__).resolve().parent.parent

import pytest  # noqa: E402

# CI: a thousand examples per property (the damaged-identity property alone took 140 s at 3000,
# on a CI budget of 45 minutes); HYPOTHESIS_PROFILE=thorough for a long local run.
settings.register_profile("thorough", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def missing_tool(reason: str):
    """A test cannot run because a tool or file is missing. Locally that is a skip; in CI
    (CI is set) it is a failure, because tools/bootstrap.sh installs everything and a skip there
    would hide a broken install step."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it: see tools/bootstrap.sh)")
    pytest.skip(reason)


def pytest_collection_modifyitems(session, config, items):
    """Tests marked after_engine_tests run last: they check what the engine tests recorded."""
    items.sort(key=lambda item: item.get_closest_marker("after_engine_tests") is not None)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """Stop the message-contract checker before the leftover-process check runs."""
    from tests.contract import close_router
    close_router()


def shared_dir() -> Path:
    """../shared next to the repository (as laid out for CI), or ENCRYPT_SHARED_DIR."""
    return Path(os.environ.get("ENCRYPT_SHARED_DIR") or REPO_DIR.parent / "shared")


# ---------------------------------------------------------------- pycore fixtures
import asyncio  # noqa: E402
import json  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prims():
    from pycore.primitives import default_primitives

    return default_primitives()


def known_answer_dir() -> Path:
    """The known-answer vectors; a clear failure when they are not where CI lays them out."""
    path = shared_dir() / "vectors"
    if not path.is_dir():
        pytest.fail(f"known-answer vectors not found at {path} (set ENCRYPT_SHARED_DIR)")
    return path


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return known_answer_dir()


@pytest.fixture(scope="session")
def vector_identities(prims, vectors_dir):
    """identities.json's identities by index, imported from their unprotected private exports."""
    from pycore.plugin import identity

    data = json.loads((vectors_dir / "identities.json").read_text("utf-8"))

    async def load():
        out = {}
        for case in data["cases"]:
            clear = next(e for e in case["exports"] if e["passphrase"] is None)
            out[case["index"]] = await identity.import_identity(prims, clear["private"])
        return out

    return asyncio.run(load())


@pytest.fixture(scope="session")
def fresh_identity(prims):
    """One newly generated v1 identity (RSA-4096 generation is slow: shared by the session)."""
    from pycore.plugin import identity

    return asyncio.run(identity.generate(prims))
