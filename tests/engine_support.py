"""Helpers shared by the engine unit tests (tests/test_engine.py, tests/test_engine_conv.py):
running a coroutine, an injected clock, and ok()/err() checks of the engine's replies."""
import asyncio


def run(coro):
    return asyncio.run(coro)


class Clock:
    """An injected clock: returns `t` until advanced (tests never sleep)."""

    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, s):
        self.t += s


class EngineReplies:
    """Mixin for a test's engine wrapper whose call(type, payload, **kw) returns the engine's reply."""

    def ok(self, type, payload=None, **kw):
        """The call succeeds: returns its result."""
        r = self.call(type, payload, **kw)
        assert r["ok"], r
        return r["result"]

    def err(self, type, payload=None, **kw):
        """The call fails: returns its error."""
        r = self.call(type, payload, **kw)
        assert not r["ok"], r
        return r["error"]
