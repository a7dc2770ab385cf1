"""Pytest plugin: `standin`, `standin_factory`, `leak_oracle` (load with
`pytest_plugins = ["tests.standin.fixtures"]`).

    @pytest.mark.standin(hostile=True, settings={"cloaking": True}, inject=["x.js"])
    def test_x(standin, leak_oracle): ...

Every server created through these fixtures also injects the scripts listed in the env var
E2E_EXTRA_INJECT (paths separated by ':'), takes the settings profile named by E2E_STANDIN_SETTINGS
(a test's own settings win), and is watched by `leak_oracle`, which fails the test at teardown if a
registered secret reached any of them.
"""
from __future__ import annotations

import os

import pytest

from .oracle import LeakOracle
from .profile import with_profile
from .server import StandinServer, hostile_scripts


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "standin(hostile=False, settings=None, inject=None): options for the `standin` fixture")


def _extra_inject() -> list[str]:
    return [p for p in os.environ.get("E2E_EXTRA_INJECT", "").split(":") if p.strip()]


@pytest.fixture
def leak_oracle(request):
    oracle = LeakOracle()
    yield oracle
    # Fail the test (as an error at teardown) if anything leaked, unless the test itself failed.
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.failed:
        oracle.check()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def standin_factory(request):
    """`standin_factory(inject=[...], settings={...}, hostile=False)` -> a started StandinServer."""
    servers: list[StandinServer] = []
    oracle = request.getfixturevalue("leak_oracle") if "leak_oracle" in request.fixturenames else None

    def make(inject=None, settings=None, hostile=False) -> StandinServer:
        scripts = list(inject or []) + (hostile_scripts() if hostile else []) + _extra_inject()
        srv = StandinServer(inject=scripts, settings=with_profile(settings)).start()
        servers.append(srv)
        if oracle is not None:
            oracle.watch(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def standin(request, standin_factory):
    """A started stand-in with a fresh database, stopped at teardown. Options via @pytest.mark.standin."""
    m = request.node.get_closest_marker("standin")
    kw = dict(m.kwargs) if m else {}
    return standin_factory(inject=kw.get("inject"), settings=kw.get("settings"), hostile=kw.get("hostile", False))
