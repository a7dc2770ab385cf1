"""pycore.engine.store.CachedStore: the engine's write-through cache over IndexedDB. It must
answer exactly as the store below would, only without asking it again."""
import asyncio

import pytest

from pycore import engine as E
from pycore.engine import store as names
from pycore.engine.store import SCHEMA, CachedStore, MemoryStore
from pycore.errors import NewerData
from tests.engine_support import run
from tests.test_engine import PASS, Harness, imported


class CountingStore(MemoryStore):
    """A MemoryStore that counts the reads that reach it."""

    def __init__(self):
        super().__init__()
        self.reads = 0

    async def get_record(self, key):
        self.reads += 1
        return await super().get_record(key)


def test_reads_are_answered_from_memory_after_the_first():
    inner = CountingStore()
    s = CachedStore(inner)

    async def go():
        await s.set("settings", {"auto_lock_seconds": 60})
        assert await s.get("settings") == {"auto_lock_seconds": 60}
        assert await s.get("settings") == {"auto_lock_seconds": 60}
        assert await s.get("throttle") is None
        assert await s.get("throttle") is None
    run(go())
    assert inner.reads == 1   # only the first look for the absent record


def test_a_caller_changing_what_it_read_changes_nothing_stored():
    s = CachedStore(MemoryStore())

    async def go():
        await s.set("session", {"marker": "m1", "last_activity": 1})
        got = await s.get("session")
        got["marker"] = "changed"
        assert (await s.get("session"))["marker"] == "m1"
        value = {"a": [1]}
        await s.set("x", value)
        value["a"].append(2)
        assert await s.get("x") == {"a": [1]}
    run(go())


def test_writes_and_removals_are_seen_at_once():
    inner = MemoryStore()
    s = CachedStore(inner)

    async def go():
        await s.set("pin", {"v": 1})
        assert await s.get("pin") == {"v": 1}
        await s.set("pin", {"v": 2})
        assert await s.get("pin") == {"v": 2}
        await s.delete("pin")
        assert await s.get("pin") is None
    run(go())
    assert "pin" not in inner.data


def test_a_record_of_a_newer_schema_stays_refused_and_is_not_remembered():
    inner = MemoryStore()
    inner.data["identity"], inner.schemas["identity"] = {"from": "the future"}, SCHEMA + 1
    s = CachedStore(inner)

    async def go():
        with pytest.raises(NewerData):
            await s.set("identity", {"mine": 1})
        with pytest.raises(NewerData):
            await s.get("identity")
        with pytest.raises(NewerData):
            await s.delete("identity")
        assert inner.data["identity"] == {"from": "the future"}
    run(go())


def test_a_read_under_way_during_a_write_does_not_bring_the_old_value_back():
    class SlowReads(MemoryStore):
        async def get_record(self, key):
            rec = await super().get_record(key)
            await asyncio.sleep(0)   # the write below happens while this read is away
            await asyncio.sleep(0)
            return rec

    s = CachedStore(SlowReads())

    async def go():
        await s.inner.put_record("session", SCHEMA, {"n": 1})
        reading = asyncio.ensure_future(s.get("session"))
        await asyncio.sleep(0)
        await s.set("session", {"n": 2})
        assert (await reading) == {"n": 1}   # it began before the write
        assert await s.get("session") == {"n": 2}
    run(go())


def test_the_cache_keeps_at_most_its_limit_dropping_the_least_recently_used():
    inner = CountingStore()
    s = CachedStore(inner, limit_chars=100)

    async def go():
        for k in "abc":
            await s.set(k, "x" * 30)   # 32 characters each as JSON
        await s.get("a")               # a is used: b is now the oldest
        await s.set("d", "x" * 30)
        before = inner.reads
        assert await s.get("a") == "x" * 30 and await s.get("d") == "x" * 30
        assert inner.reads == before
        assert await s.get("b") == "x" * 30   # dropped from memory, read from the store
        assert inner.reads == before + 1
        await s.set("huge", "y" * 500)          # larger than the whole cache: not kept
        assert await s.get("huge") == "y" * 500
    run(go())
    assert s._chars <= 100


def test_key_handles_are_kept_as_they_are():
    s = CachedStore(MemoryStore())
    handle = object()

    async def go():
        await s.set("session.encrypt_private", handle)
        assert (await s.get("session.encrypt_private")) is handle
    run(go())


def test_an_engine_over_the_cache_locks_unlocks_and_restarts_as_over_the_store():
    """The lifecycle through the cache, with a restart on the same database (a new engine and
    a new cache, as when the offscreen document is opened again)."""
    inner = CountingStore()
    h = imported(Harness(store=CachedStore(inner)))
    assert h.ok("engine.status")["unlocked"] is True
    reads = inner.reads
    for _ in range(5):
        h.ok("identity.public")
    assert inner.reads == reads   # requests no longer read the session and settings from the store
    h.ok("identity.lock")
    assert h.ok("engine.status")["unlocked"] is False
    h.ok("identity.unlock", {"passphrase": PASS})
    h2 = Harness(store=CachedStore(inner), clock=h.clock)
    assert h2.ok("engine.status")["unlocked"] is True
    h2.clock.advance(E.DEFAULT_AUTO_LOCK_SECONDS + 1)
    assert h2.ok("engine.status")["unlocked"] is False
    assert run(inner.get(names.SESSION)) is None
