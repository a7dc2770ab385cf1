"""Stored records across versions of the extension: the start-up check and the migrations.

An update must keep everything: the identity, pins, verified states, conversations, drafts. So on
its first request after a start the engine checks its store once (`check_storage`):

* the `meta` record says the store was checked by this schema version: nothing else to do (one
  read; the usual case);
* otherwise every record is read: a record of an older schema whose name this code knows is
  upgraded step by step (`MIGRATIONS`) and written back with the current schema; a record of a
  newer schema is left untouched (the store refuses to read, overwrite or delete it:
  `store.NewerData`); a record whose name this code does not know is left untouched. Both kinds
  are reported in `meta` and by `engine.status` (`storage`).

Nothing is ever deleted here.
"""

from __future__ import annotations

from . import store as names
from .store import SCHEMA


def _v0_to_v1(key: str, value):
    """0.1.0 wrote the same contents without a schema version: only the version is added."""
    return value


# MIGRATIONS[n](key, value) turns a record of schema n into schema n + 1.
MIGRATIONS = {0: _v0_to_v1}


def upgrade(key: str, schema: int, value):
    """A record's value of `schema` as the current schema reads it."""
    for n in range(schema, SCHEMA):
        value = MIGRATIONS[n](key, value)
    return value


async def check_storage(store) -> dict:
    """Migrates older records, reports newer and unknown ones; returns the report
    {schema, previous, migrated, unknown, newer} (also kept in the `meta` record): `previous` is
    the schema the store was last checked with (0: never, a store of 0.1.0 or a new one),
    `migrated` how many records were upgraded."""
    meta = await store.get_record(names.META)
    if meta is not None and meta[0] == SCHEMA and isinstance(meta[1], dict) and meta[1].get("schema") == SCHEMA:
        return meta[1]
    previous = 0
    if meta is not None and isinstance(meta[1], dict) and isinstance(meta[1].get("schema"), int):
        previous = meta[1]["schema"]
    unknown, newer, migrated = [], [], 0
    if meta is not None and meta[0] > SCHEMA:
        newer.append(names.META)
    for key in await store.keys():
        if key == names.META:
            continue
        rec = await store.get_record(key)
        if rec is None:
            continue
        schema, value = rec
        if schema > SCHEMA:
            newer.append(key)
        elif not names.is_known(key):
            unknown.append(key)
        elif schema < SCHEMA:
            if await store.put_record(key, SCHEMA, upgrade(key, schema, value)):
                migrated += 1
    report = {"schema": SCHEMA, "previous": previous, "migrated": migrated, "unknown": unknown, "newer": newer}
    if not newer:
        # With records of a newer version present, the next start must look again.
        await store.put_record(names.META, SCHEMA, report)
    return report
