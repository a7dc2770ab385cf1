"""SQLite storage for the stand-in: one fresh in-memory database per server.

One connection shared by the server threads, serialised with a lock: SQLite in memory cannot
be shared across connections, and the stand-in's load is a handful of requests at a time.
"""
from __future__ import annotations

import sqlite3
import threading
import time

SCHEMA = """
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT NOT NULL DEFAULT '',
  password TEXT NOT NULL,
  trust_level INTEGER NOT NULL DEFAULT 1,
  admin INTEGER NOT NULL DEFAULT 0,
  moderator INTEGER NOT NULL DEFAULT 0,
  bio_raw TEXT NOT NULL DEFAULT '',
  hide_profile INTEGER NOT NULL DEFAULT 0,
  theme TEXT NOT NULL DEFAULT 'light',
  allow_private_messages INTEGER NOT NULL DEFAULT 1,   -- UserOption#allow_private_messages
  composition_mode INTEGER,                            -- UserOption#composition_mode (NULL: the site's default)
  created_at REAL NOT NULL
);
CREATE TABLE groups (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  full_name TEXT,
  messageable_level INTEGER NOT NULL DEFAULT 0,      -- Group::ALIAS_LEVELS (0 nobody ... 99 everyone)
  visibility_level INTEGER NOT NULL DEFAULT 0,
  members_visibility_level INTEGER NOT NULL DEFAULT 0,
  mentionable_level INTEGER NOT NULL DEFAULT 0,
  publish_read_state INTEGER NOT NULL DEFAULT 0,
  has_messages INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE group_users (
  group_id INTEGER NOT NULL REFERENCES groups(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  PRIMARY KEY (group_id, user_id)
);
-- _t cookie values (auth tokens) and _forum_session ids (carry the CSRF token)
CREATE TABLE auth_tokens (token TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id));
CREATE TABLE sessions (sid TEXT PRIMARY KEY, csrf TEXT NOT NULL);
CREATE TABLE topics (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  archetype TEXT NOT NULL DEFAULT 'private_message',
  user_id INTEGER NOT NULL REFERENCES users(id),
  created_at REAL NOT NULL,
  bumped_at REAL NOT NULL
);
CREATE TABLE topic_allowed_groups (
  topic_id INTEGER NOT NULL REFERENCES topics(id),
  group_id INTEGER NOT NULL REFERENCES groups(id),
  PRIMARY KEY (topic_id, group_id)
);
-- read state (TopicUser#last_read_post_number), written by /topics/timings and by posting
CREATE TABLE topic_users (
  topic_id INTEGER NOT NULL REFERENCES topics(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  last_read_post_number INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (topic_id, user_id)
);
CREATE TABLE user_archived_messages (
  topic_id INTEGER NOT NULL REFERENCES topics(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  PRIMARY KEY (topic_id, user_id)
);
CREATE TABLE topic_allowed_users (
  topic_id INTEGER NOT NULL REFERENCES topics(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  PRIMARY KEY (topic_id, user_id)
);
CREATE TABLE posts (
  id INTEGER PRIMARY KEY,
  topic_id INTEGER NOT NULL REFERENCES topics(id),
  post_number INTEGER NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id),
  raw TEXT NOT NULL,
  cooked TEXT NOT NULL,
  post_type INTEGER NOT NULL DEFAULT 1,
  action_code TEXT,
  action_code_who TEXT,
  reply_to_post_number INTEGER,
  version INTEGER NOT NULL DEFAULT 1,
  edit_reason TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  dropped INTEGER NOT NULL DEFAULT 0,   -- hidden by the test API (a server omitting a post)
  UNIQUE (topic_id, post_number)
);
CREATE TABLE post_revisions (
  id INTEGER PRIMARY KEY,
  post_id INTEGER NOT NULL REFERENCES posts(id),
  number INTEGER NOT NULL,              -- the version this revision produced (2, 3, ...)
  user_id INTEGER NOT NULL,
  raw_before TEXT NOT NULL,
  raw_after TEXT NOT NULL,
  created_at REAL NOT NULL
);
CREATE TABLE drafts (
  user_id INTEGER NOT NULL,
  draft_key TEXT NOT NULL,
  data TEXT NOT NULL,
  sequence INTEGER NOT NULL DEFAULT 0,
  owner TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (user_id, draft_key)
);
CREATE TABLE draft_sequences (
  user_id INTEGER NOT NULL,
  draft_key TEXT NOT NULL,
  sequence INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, draft_key)
);
"""


class DB:
    def __init__(self, path: str = ":memory:"):
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.executescript(SCHEMA)
        self.lock = threading.RLock()

    def all(self, sql: str, *args) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self._conn.execute(sql, args).fetchall()]

    def one(self, sql: str, *args) -> dict | None:
        with self.lock:
            r = self._conn.execute(sql, args).fetchone()
            return dict(r) if r else None

    def run(self, sql: str, *args) -> int:
        """Execute a write; returns lastrowid."""
        with self.lock:
            return self._conn.execute(sql, args).lastrowid

    def transaction(self):
        """`with db.transaction():` groups writes atomically (and holds the lock)."""
        return _Tx(self)

    def close(self):
        with self.lock:
            self._conn.close()


class _Tx:
    def __init__(self, db: DB):
        self.db = db

    def __enter__(self):
        self.db.lock.acquire()
        self.db._conn.execute("BEGIN")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        try:
            self.db._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.db.lock.release()
        return False


def now() -> float:
    return time.time()
