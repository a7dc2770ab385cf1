"""The engine's request handlers, one module per area; each module's HANDLERS maps a message
type (declared in extension/common/messages.js) to `async fn(engine, payload, context) -> dict`.

A handler uses `engine.prims`, `engine.store`, `engine.clock()`, `await engine.require_unlocked()`
and raises pycore errors (pycore.errors) for anything it refuses.
"""

from . import backup, conversations, drafts, files, identity, keys, plugin_posts, search, sync

HANDLERS = {}
for _area in (identity, plugin_posts, keys, backup, conversations, drafts, sync, search, files):
    assert not set(_area.HANDLERS) & set(HANDLERS), f"{_area.__name__} redeclares a handler"
    HANDLERS.update(_area.HANDLERS)
