"""Helpers shared by the engine unit tests (tests/test_engine.py, tests/test_engine_conversations.py):
running a coroutine, an injected clock, and requests that go through the router's checks.

Every request an engine test sends is first checked by extension/common/messages.js (run in
Node, tests/contract): a request the router would refuse fails the test unless the test says it
expects the refusal (`router_rejects=True`), so the engine tests can only use what the contract
declares, and the contract test knows which types and fields they exercised.
"""
import asyncio

from tests.contract import CONTRACT, router


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


def routed(engine, type, payload, context, *, router_rejects=False):
    """The reply to a request as the extension delivers it: the router's refusal, or the engine's
    reply. With router_rejects=True the router must refuse the request (the engine trusts the
    router and is not asked)."""
    # test.* types exist in test builds only: they are checked as a test build checks them
    verdict = router().check(type, payload, context["sender"], test_hooks=type.startswith("test."))
    if router_rejects:
        assert not verdict["ok"], f"messages.js accepts {type} {payload!r} from {context['sender']}, expected a refusal"
        return {"ok": False, "error": {"code": "rejected", "message": verdict["error"]}}
    assert verdict["ok"], f"messages.js refuses what this engine test sends ({type} from {context['sender']}): {verdict['error']}"
    assert verdict["to"] == "engine", f"{type} is declared for {verdict['to']}, not the engine"
    CONTRACT.record(type, payload)
    return run(engine.handle(type, payload, context))


class EngineReplies:
    """Mixin for a test's engine wrapper: subclasses set self.engine and implement
    context(sender, **kw) -> the router's context."""

    def call(self, type, payload=None, router_rejects=False, sender=None, **kw):
        """A request from `sender` (default: the first context messages.js allows to send it)."""
        sender = sender or router().default_sender(type)
        return routed(self.engine, type, payload or {}, self.context(sender=sender, **kw), router_rejects=router_rejects)

    def call_unrouted(self, type, payload=None, sender="page:options", **kw):
        """Straight to the engine, as no product path does (robustness tests)."""
        return run(self.engine.handle(type, payload if payload is not None else {}, self.context(sender=sender, **kw)))

    def refused(self, type, payload=None, **kw):
        """The router refuses the request, and so does the engine on its own (its checks do not
        rely on the router for safety): returns the engine's error."""
        self.call(type, payload, router_rejects=True, **kw)
        r = self.call_unrouted(type, payload, **kw)
        assert not r["ok"], r
        return r["error"]

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
