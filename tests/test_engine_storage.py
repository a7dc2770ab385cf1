"""Stored records across versions (pycore/engine/migrate.py, store.py): every record carries a
schema version; records of 0.1.0 (none) are migrated on start; records of a newer version are
refused with a clear message and left untouched; records this code does not know are kept and
reported."""
import json

from pycore import engine as E
from pycore.engine import migrate, store
from tests.test_engine import PASS, Harness, imported

ORIGIN = "https://forum.example"


def as_written_by_0_1_0(h):
    """The store as 0.1.0 left it: the same records, without schema versions and without meta."""
    h.store.schemas.clear()
    h.store.data.pop(store.META, None)


def test_every_record_written_carries_the_current_schema():
    h = imported()
    h.ok("settings.set", {"auto_lock_seconds": 600})
    assert h.store.data and set(h.store.schemas) == set(h.store.data)
    assert set(h.store.schemas.values()) == {store.SCHEMA}
    assert h.ok("engine.status")["storage"] == {"schema": store.SCHEMA, "previous": 0, "migrated": 0,
                                               "unknown": [], "newer": []}


def test_records_of_0_1_0_are_migrated_on_start_and_keep_everything():
    h = imported()
    h.ok("settings.set", {"auto_lock_seconds": 600})
    pin = {"fingerprint": "ab" * 32, "verified": True}
    run_set(h, store.pin(ORIGIN, "bob"), pin)
    # an update starts a new browser session for the extension: the unlocked keys go, the rest stays
    kept = lambda k: k != store.META and not k.startswith(store.SESSION)
    before = {k: (json.loads(v) if isinstance(v, str) else v) for k, v in h.store.data.items() if kept(k)}
    as_written_by_0_1_0(h)
    h2 = h.restart(marker="after-update")
    st = h2.ok("engine.status")
    assert st["has_identity"] and st["storage"]["previous"] == 0
    assert st["storage"]["migrated"] == len(before) + 1 + len(store.SESSION_KEYS) and st["storage"]["unknown"] == st["storage"]["newer"] == []
    assert all(h2.store.schemas[k] == store.SCHEMA for k in before)
    after = {k: (json.loads(v) if isinstance(v, str) else v) for k, v in h2.store.data.items() if kept(k)}
    assert after == before, "the migration from 0.1.0 changes no content"
    assert h2.ok("identity.unlock", {"passphrase": PASS})["unlocked"]
    assert h2.ok("settings.get")["auto_lock_seconds"] == 600
    # the next start finds meta up to date and reads nothing else
    reads = []
    real = h2.store.get_record

    async def counting(key):
        reads.append(key)
        return await real(key)
    h2.store.get_record = counting
    assert E.Engine(h2.prims, h2.store, h2.clock).storage_report is None
    import asyncio
    report = asyncio.run(migrate.check_storage(h2.store))
    assert reads == [store.META] and report["schema"] == store.SCHEMA


def test_requests_arriving_together_on_start_migrate_once_and_report_the_migration():
    """The first requests after an update often arrive together (the options page and a forum tab):
    the storage check runs once, and every request sees its report, not a second check's empty one."""
    import asyncio
    h = imported()
    h.ok("settings.set", {"auto_lock_seconds": 600})
    as_written_by_0_1_0(h)
    h2 = h.restart(marker="after-update")
    walks = []
    real_keys, real_get = h2.store.keys, h2.store.get_record

    async def walking_keys():
        walks.append(1)
        return await real_keys()

    async def slow_get(key):   # IndexedDB answers asynchronously: other requests run meanwhile
        await asyncio.sleep(0)
        return await real_get(key)
    h2.store.keys, h2.store.get_record = walking_keys, slow_get

    async def together():
        ctx = h2.context("page:options")
        return await asyncio.gather(*(h2.engine.handle("engine.status", {}, ctx) for _ in range(3)))
    answers = asyncio.run(together())
    reports = [a["result"]["storage"] for a in answers]
    assert walks == [1], "the records were walked more than once"
    assert all(r == reports[0] for r in reports) and reports[0]["migrated"] > 0, reports
    assert h2.ok("engine.status")["storage"] == reports[0]


def run_set(h, key, value):
    import asyncio
    asyncio.run(h.store.set(key, value))


def test_records_this_version_does_not_know_are_kept_and_reported():
    h = imported()
    h.store.data["future.feature.x"] = store._Json(json.dumps({"something": 1}))
    h.store.data["inband.pin." + ORIGIN + ".carol"] = store._Json(json.dumps({"fingerprint": "cd" * 32}))
    as_written_by_0_1_0(h)
    h2 = h.restart()
    st = h2.ok("engine.status")["storage"]
    assert st["unknown"] == ["future.feature.x"]
    assert json.loads(h2.store.data["future.feature.x"]) == {"something": 1}
    assert h2.store.schemas.get("future.feature.x", 0) == 0, "not stamped: we do not know what it is"
    assert h2.store.schemas["inband.pin." + ORIGIN + ".carol"] == store.SCHEMA
    # reported again on the next start (kept in meta)
    assert h2.restart().ok("engine.status")["storage"]["unknown"] == ["future.feature.x"]


def test_a_record_of_a_newer_version_is_refused_and_left_untouched():
    h = imported()
    newer = store.SCHEMA + 1
    key = store.pin(ORIGIN, "bob")
    raw = store._Json(json.dumps({"fingerprint": "ab" * 32, "shape": "from the future"}))
    h.store.data[key], h.store.schemas[key] = raw, newer
    h.store.data.pop(store.META)
    h2 = h.restart()
    args = {"origin": ORIGIN, "username": "bob", "fingerprint": "ab" * 32}
    err = h2.err("keys.mark_verified", args)
    assert err["code"] == "newer_data" and err["record"] == key and err["schema"] == newer
    assert "newer version of Encrypt for Discourse" in err["message"] and "left as it is" in err["message"]
    assert h2.err("keys.acknowledge", args)["code"] == "newer_data"
    assert h2.store.data[key] == raw and h2.store.schemas[key] == newer
    assert h2.ok("identity.public")["fingerprint"]   # what does not touch it still works
    assert h2.ok("engine.status")["storage"]["newer"] == [key]
    # every start looks again while a newer record is there (meta is not written over it)
    assert store.META not in h2.store.data
    assert h2.restart().ok("engine.status")["storage"]["newer"] == [key]


def test_newer_settings_refuse_every_request_with_the_reason():
    """Every request reads the settings (auto-lock): with settings of a newer version the engine
    answers nothing but why."""
    h = imported()
    h.ok("settings.set", {"auto_lock_seconds": 600})
    raw = h.store.data[store.SETTINGS]
    h.store.schemas[store.SETTINGS] = store.SCHEMA + 1
    h2 = h.restart()
    for type_, payload in (("engine.status", None), ("settings.get", None), ("settings.set", {"auto_lock_seconds": 60})):
        assert h2.err(type_, payload)["code"] == "newer_data", type_
    assert h2.store.data[store.SETTINGS] == raw and h2.store.schemas[store.SETTINGS] == store.SCHEMA + 1


def test_a_newer_identity_is_not_reset():
    h = imported()
    rec = h.store.data[store.IDENTITY]
    h.store.schemas[store.IDENTITY] = store.SCHEMA + 5
    h2 = h.restart()
    assert h2.err("engine.status")["code"] == "newer_data"
    assert h2.err("identity.reset", {"confirm": "RESET"})["code"] == "newer_data"
    assert h2.store.data[store.IDENTITY] == rec


def test_known_names_cover_every_record_the_engine_writes():
    for name in (store.IDENTITY, store.SESSION, store.session_key("encrypt_private"), store.THROTTLE,
                 store.SETTINGS, store.VAULT, store.META, store.pin(ORIGIN, "Bob"), store.conversation(ORIGIN, 5),
                 store.conversation_index(ORIGIN), store.conversation_first_topic(ORIGIN, "c1"),
                 store.message_ids(ORIGIN, 5), store.draft(ORIGIN, "new:abc")):
        assert store.is_known(name), name
    assert not store.is_known("inband.other.x") and not store.is_known("identity2")
    assert sorted(migrate.MIGRATIONS) == list(range(store.SCHEMA)), "one step from every older schema"
