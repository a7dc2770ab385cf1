"""The forum's domain logic: users, PM topics, posts, revisions, drafts, Discourse's validations.

HTTP lives in app.py; this module raises `ApiError` carrying Discourse's status and JSON body.
"""
from __future__ import annotations

import json
import math
import secrets
import threading

from . import serializers as S
from .cook import cook
from .db import DB, now

DEFAULT_SETTINGS = {
    # Discourse defaults (spec §5)
    "min_personal_message_post_length": 10,
    "min_personal_message_title_length": 2,
    "max_post_length": 32000,
    "max_topic_title_length": 255,
    "unique_posts_mins": 5,
    "max_allowed_message_recipients": 30,
    "personal_message_enabled_trust_level": 1,   # personal_message_enabled_groups = TL1
    "max_bio_length": 3000,                      # UserProfile validation, not a site setting
    "max_draft_length": 400000,
    "max_drafts_per_user": 0,                    # 0 = unlimited
    # Rate limits: seconds between actions / count per day. 0 = off, so e2e tests are not slowed.
    "rate_limit_create_topic": 0,
    "rate_limit_new_user_create_topic": 0,
    "rate_limit_create_post": 0,
    "rate_limit_new_user_create_post": 0,
    "max_personal_messages_per_day": 0,
    "max_edits_per_day": 0,
    # NewPostManager approval queue: posts by users below this trust level are enqueued (0 = off)
    "approve_unless_trust_level": 0,
    # Stand-in behaviour
    "draft_autosave_ms": 2000,   # the composer saves a draft this long after typing stops/continues
    "cloaking": False,           # IntersectionObserver-based post cloaking in the SPA
    "content_security_policy": True,
    "discourse_version": "3.5.0",
    "discourse_sha": "5f2b3c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
    "title": "Stand-in Forum",
}

CHUNK_SIZE = 20


class ApiError(Exception):
    def __init__(self, status: int, body, headers: dict | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def error(status: int, message: str, error_type: str, extras: dict | None = None) -> ApiError:
    body = {"errors": [message], "error_type": error_type}
    if extras:
        body["extras"] = extras
    return ApiError(status, body)


def not_found() -> ApiError:
    return error(404, "The requested URL or resource could not be found.", "not_found")


def invalid_access() -> ApiError:
    return error(403, "You are not permitted to view the requested resource.", "invalid_access")


def create_post_error(messages: list[str]) -> ApiError:
    return ApiError(422, {"action": "create_post", "errors": messages})


def rate_limited(wait: int) -> ApiError:
    wait = max(1, int(math.ceil(wait)))
    left = f"{wait} second{'s' if wait != 1 else ''}"
    err = error(429, f"You’ve performed this action too many times. Please wait {left} before trying again.",
                "rate_limit", {"wait_seconds": wait, "time_left": left})
    err.headers = {"Retry-After": str(wait), "Discourse-Rate-Limit-Error-Code": "create_post"}
    return err


class Enqueued(Exception):
    """Not an error: answered 200 with the NewPostResult body."""

    def __init__(self, body: dict):
        super().__init__("enqueued")
        self.body = body


class Forum:
    def __init__(self, settings: dict | None = None):
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings.update(settings or {})
        self.db = DB()
        # What a malicious server can do, set through the test API (not stored in "Discourse's" tables).
        self.bio_overrides: dict[tuple[str, str], str] = {}
        self.order_overrides: dict[int, list[int]] = {}
        self._rl_lock = threading.Lock()
        self._last_action: dict[tuple[int, str], float] = {}
        self._day_actions: dict[tuple[int, str], list[float]] = {}

    # ------------------------------------------------------------------------------ users
    def create_user(self, username, password, trust_level=1, name=None, bio_raw="", admin=False,
                    moderator=False, hide_profile=False) -> int:
        return self.db.run(
            "INSERT INTO users (username, name, password, trust_level, admin, moderator, bio_raw,"
            " hide_profile, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            username, name if name is not None else username.capitalize(), password, trust_level,
            int(admin), int(moderator), bio_raw, int(hide_profile), now())

    def user_by_name(self, username: str | None) -> dict | None:
        if not username:
            return None
        return self.db.one("SELECT * FROM users WHERE username = ?", username)

    def user_by_id(self, uid) -> dict | None:
        return self.db.one("SELECT * FROM users WHERE id = ?", uid)

    def authenticate(self, login: str, password: str) -> dict | None:
        u = self.user_by_name(login)
        if u and secrets.compare_digest(u["password"].encode(), (password or "").encode()):
            return u
        return None

    def new_auth_token(self, user_id: int) -> str:
        token = secrets.token_hex(16)
        self.db.run("INSERT INTO auth_tokens (token, user_id) VALUES (?, ?)", token, user_id)
        return token

    def user_for_token(self, token: str | None) -> dict | None:
        if not token:
            return None
        row = self.db.one("SELECT users.* FROM auth_tokens JOIN users ON users.id = auth_tokens.user_id"
                          " WHERE token = ?", token)
        return row

    def revoke_tokens(self, user_id: int) -> None:
        self.db.run("DELETE FROM auth_tokens WHERE user_id = ?", user_id)

    def session_csrf(self, sid: str | None) -> tuple[str, str, bool]:
        """Returns (sid, csrf, created). A missing or unknown session id gets a new session."""
        if sid:
            row = self.db.one("SELECT csrf FROM sessions WHERE sid = ?", sid)
            if row:
                return sid, row["csrf"], False
        sid = secrets.token_hex(16)
        csrf = secrets.token_urlsafe(64)
        self.db.run("INSERT INTO sessions (sid, csrf) VALUES (?, ?)", sid, csrf)
        return sid, csrf, True

    def bio_for(self, target: dict, viewer: dict | None) -> str:
        key = ((viewer or {}).get("username", "").lower(), target["username"].lower())
        return self.bio_overrides.get(key, target["bio_raw"])

    def update_bio(self, user: dict, viewer: dict, bio_raw: str) -> None:
        if not viewer or (viewer["id"] != user["id"] and not viewer["admin"]):
            raise invalid_access()
        limit = self.settings["max_bio_length"]
        if len(bio_raw) > limit:
            raise ApiError(422, {"errors": [f"Bio raw is too long (maximum is {limit} characters)"],
                                 "error_type": "record_invalid"})
        self.db.run("UPDATE users SET bio_raw = ? WHERE id = ?", bio_raw, user["id"])

    def user_counts(self, user: dict) -> dict:
        row = self.db.one("SELECT COUNT(*) AS c, MAX(created_at) AS last FROM posts WHERE user_id = ?"
                          " AND post_type = 1", user["id"])
        topics = self.db.one("SELECT COUNT(*) AS c FROM topics WHERE user_id = ?", user["id"])
        return {"post_count": row["c"], "last_posted_at": row["last"], "topic_count": topics["c"]}

    def search_users(self, term: str, limit: int = 6) -> list[dict]:
        term = (term or "").lower().lstrip("@")
        rows = self.db.all("SELECT * FROM users WHERE lower(username) LIKE ? OR lower(name) LIKE ?"
                           " ORDER BY (lower(username) = ?) DESC, username LIMIT ?",
                           term + "%", term + "%", term, limit)
        return rows

    # ------------------------------------------------------------------------------ topics
    def topic(self, topic_id) -> dict | None:
        t = self.db.one("SELECT * FROM topics WHERE id = ?", topic_id)
        if t:
            t["posts_count"] = self.db.one("SELECT COUNT(*) AS c FROM posts WHERE topic_id = ? AND dropped = 0",
                                           topic_id)["c"]
        return t

    def allowed_user_ids(self, topic_id) -> list[int]:
        return [r["user_id"] for r in self.db.all(
            "SELECT user_id FROM topic_allowed_users WHERE topic_id = ? ORDER BY rowid", topic_id)]

    def can_see(self, topic: dict, viewer: dict | None) -> bool:
        if not viewer:
            return False
        return bool(viewer["admin"]) or viewer["id"] in self.allowed_user_ids(topic["id"])

    def visible_topic(self, topic_id, viewer) -> dict:
        t = self.topic(topic_id)
        if not t:
            raise not_found()
        if not self.can_see(t, viewer):
            # Discourse answers 403 invalid_access for PMs the user may not see.
            raise invalid_access()
        return t

    def posts_in_order(self, topic_id) -> list[dict]:
        rows = self.db.all("SELECT * FROM posts WHERE topic_id = ? AND dropped = 0 ORDER BY post_number",
                           topic_id)
        order = self.order_overrides.get(int(topic_id))
        if order:
            pos = {pid: i for i, pid in enumerate(order)}
            rows.sort(key=lambda r: pos.get(r["id"], len(pos) + r["post_number"]))
        return rows

    def post(self, post_id) -> dict | None:
        return self.db.one("SELECT * FROM posts WHERE id = ? AND dropped = 0", post_id)

    # ------------------------------------------------------------------------------ limits
    def _rate_limit(self, user: dict, action: str, min_gap: float, per_day: int = 0) -> None:
        """Raise 429 like Discourse's RateLimiter. Staff are exempt."""
        if S.staff(user):
            return
        t = now()
        with self._rl_lock:
            key = (user["id"], action)
            last = self._last_action.get(key)
            if min_gap and last is not None and t - last < min_gap:
                raise rate_limited(min_gap - (t - last))
            if per_day:
                day = [x for x in self._day_actions.get(key, []) if t - x < 86400]
                if len(day) >= per_day:
                    raise rate_limited(86400 - (t - day[0]))
                day.append(t)
                self._day_actions[key] = day
            self._last_action[key] = t

    def _validate_raw(self, user: dict, raw: str, errors: list[str], check_unique=True) -> None:
        st = self.settings
        stripped = len((raw or "").strip())
        if stripped < st["min_personal_message_post_length"]:
            errors.append(f"Body is too short (minimum is {st['min_personal_message_post_length']} characters)")
        if len(raw or "") > st["max_post_length"]:
            errors.append(f"Body is limited to {st['max_post_length']} characters; you entered {len(raw)}.")
        if check_unique and st["unique_posts_mins"] and not S.staff(user) and raw:
            dup = self.db.one("SELECT id FROM posts WHERE user_id = ? AND raw = ? AND created_at > ?",
                              user["id"], raw, now() - 60 * st["unique_posts_mins"])
            if dup:
                errors.append("Body is too similar to what you recently posted")

    # ------------------------------------------------------------------------------ posting
    def create_post(self, user: dict, p: dict) -> tuple[dict, dict, int]:
        """PostsController#create for PMs. Returns (post, topic, draft_sequence)."""
        raw = p.get("raw")
        if not isinstance(raw, str) or raw == "":
            # create_params does params.require(:raw): ActionController::ParameterMissing -> 400
            raise ApiError(400, {"errors": ["param is missing or the value is empty: raw"],
                                 "error_type": "invalid_parameters"})
        topic_id = p.get("topic_id")
        st = self.settings
        errors: list[str] = []
        if topic_id not in (None, ""):
            try:
                topic = self.visible_topic(int(topic_id), user)
            except (TypeError, ValueError):
                raise not_found()
            self._validate_raw(user, raw, errors)
            if errors:
                raise create_post_error(errors)
            tl0 = user["trust_level"] == 0
            self._rate_limit(user, "create_post",
                             st["rate_limit_new_user_create_post"] if tl0 else st["rate_limit_create_post"])
            if self._needs_approval(user):
                self._enqueue(user, p, raw, topic["id"], None)
            reply_to = p.get("reply_to_post_number")
            try:
                reply_to = int(reply_to) if reply_to not in (None, "") else None
            except (TypeError, ValueError):
                reply_to = None
            draft_key = p.get("draft_key") or f"topic_{topic['id']}"
            with self.db.transaction():
                post = self._insert_post(topic["id"], user["id"], raw, reply_to)
                self.db.run("UPDATE topics SET bumped_at = ? WHERE id = ?", now(), topic["id"])
            seq = self._advance_draft(user["id"], str(draft_key))
            return post, self.topic(topic["id"]), seq

        if p.get("archetype") != "private_message":
            raise create_post_error(["This forum only has private messages (use archetype=private_message)."])
        title = p.get("title")
        title = title.strip() if isinstance(title, str) else ""
        if not S.can_send_pm(user, st):
            raise create_post_error(["Sorry, you cannot send a message to that user."])
        # target_usernames is no longer permitted by create_params: only target_recipients counts.
        names = [n.strip().lower() for n in str(p.get("target_recipients") or "").split(",") if n.strip()]
        recipients = []
        for n in names:
            u = self.user_by_name(n)
            if not u:
                raise create_post_error([f"Sorry, there is no user named {n}." if n else "You must select a valid user."])
            if u["id"] not in [r["id"] for r in recipients]:
                recipients.append(u)
        if not recipients:
            raise create_post_error(["You must select a valid user."])
        if not S.staff(user) and len(recipients) > st["max_allowed_message_recipients"]:
            raise create_post_error([f"Sorry, you can only send a message to a maximum of "
                                     f"{st['max_allowed_message_recipients']} recipients."])
        if len(title) < st["min_personal_message_title_length"]:
            errors.append(f"Title is too short (minimum is {st['min_personal_message_title_length']} characters)")
        if len(title) > st["max_topic_title_length"]:
            errors.append(f"Title is too long (maximum is {st['max_topic_title_length']} characters)")
        self._validate_raw(user, raw, errors)
        if errors:
            raise create_post_error(errors)
        tl0 = user["trust_level"] == 0
        if self._needs_approval(user):
            self._enqueue(user, p, raw, None, title)
        self._rate_limit(user, "create_topic",
                         st["rate_limit_new_user_create_topic"] if tl0 else st["rate_limit_create_topic"],
                         st["max_personal_messages_per_day"])
        with self.db.transaction():
            t = now()
            tid = self.db.run("INSERT INTO topics (title, archetype, user_id, created_at, bumped_at)"
                              " VALUES (?, 'private_message', ?, ?, ?)", title, user["id"], t, t)
            for u in recipients:
                self.db.run("INSERT OR IGNORE INTO topic_allowed_users VALUES (?, ?)", tid, u["id"])
            # The creator is added only if not already a recipient (PM to self is allowed).
            self.db.run("INSERT OR IGNORE INTO topic_allowed_users VALUES (?, ?)", tid, user["id"])
            post = self._insert_post(tid, user["id"], raw, None)
        seq = self._advance_draft(user["id"], str(p.get("draft_key") or "new_private_message"))
        return post, self.topic(tid), seq

    def _needs_approval(self, user: dict) -> bool:
        return not S.staff(user) and user["trust_level"] < self.settings["approve_unless_trust_level"]

    def _enqueue(self, user: dict, p: dict, raw: str, topic_id, title) -> dict:
        """NewPostManager: the post waits for a moderator; the client gets action "enqueued"."""
        pid = self.db.run("INSERT INTO pending_posts (user_id, topic_id, title, raw, params, created_at)"
                          " VALUES (?,?,?,?,?,?)", user["id"], topic_id, title, raw, json.dumps(p), now())
        count = self.db.one("SELECT COUNT(*) AS c FROM pending_posts WHERE user_id = ?", user["id"])["c"]
        raise Enqueued({"action": "enqueued", "success": True, "pending_count": count,
                        "pending_post": {"id": pid, "raw": raw, "created_at": S.iso(now())}})

    def approve_pending(self, pending_id: int) -> dict:
        row = self.db.one("SELECT * FROM pending_posts WHERE id = ?", pending_id)
        if not row:
            raise KeyError(pending_id)
        self.db.run("DELETE FROM pending_posts WHERE id = ?", pending_id)
        user = self.user_by_id(row["user_id"])
        saved = self.settings["approve_unless_trust_level"]
        self.settings["approve_unless_trust_level"] = 0
        try:
            post, _, _ = self.create_post(user, json.loads(row["params"]))
        finally:
            self.settings["approve_unless_trust_level"] = saved
        return post

    def _insert_post(self, topic_id, user_id, raw, reply_to, post_type=1, action_code=None) -> dict:
        n = self.db.one("SELECT COALESCE(MAX(post_number), 0) + 1 AS n FROM posts WHERE topic_id = ?",
                        topic_id)["n"]
        t = now()
        pid = self.db.run(
            "INSERT INTO posts (topic_id, post_number, user_id, raw, cooked, post_type, action_code,"
            " reply_to_post_number, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            topic_id, n, user_id, raw, cook(raw) if raw else "", post_type, action_code, reply_to, t, t)
        return self.db.one("SELECT * FROM posts WHERE id = ?", pid)

    def edit_post(self, user: dict, post_id: int, p: dict) -> dict:
        post = self.post(post_id)
        if not post:
            raise not_found()
        topic = self.visible_topic(post["topic_id"], user)
        data = p.get("post")
        if not isinstance(data, dict) or "raw" not in data:
            raise ApiError(400, {"errors": ["param is missing or the value is empty: post"],
                                 "error_type": "invalid_parameters"})
        if post["user_id"] != user["id"] and not user["admin"]:
            raise invalid_access()
        raw = str(data.get("raw") or "")
        original = data.get("original_text", data.get("raw_old"))
        if original is not None and original != post["raw"]:
            raise ApiError(409, {"errors": ["The post was edited by someone else; your edit was not saved."],
                                 "error_type": "edit_conflict"})
        errors: list[str] = []
        self._validate_raw(user, raw, errors, check_unique=False)
        if errors:
            raise ApiError(422, {"errors": errors, "error_type": "record_invalid"})
        self._rate_limit(user, "edit_post", 0, self.settings["max_edits_per_day"])
        title = p.get("title")
        with self.db.transaction():
            if raw != post["raw"]:
                version = post["version"] + 1
                self.db.run("INSERT INTO post_revisions (post_id, number, user_id, raw_before, raw_after,"
                            " created_at) VALUES (?,?,?,?,?,?)", post_id, version, user["id"], post["raw"], raw,
                            now())
                self.db.run("UPDATE posts SET raw = ?, cooked = ?, version = ?, updated_at = ?, edit_reason = ?"
                            " WHERE id = ?", raw, cook(raw), version, now(), data.get("edit_reason"), post_id)
            if isinstance(title, str) and title.strip() and post["post_number"] == 1:
                self.db.run("UPDATE topics SET title = ? WHERE id = ?", title.strip(), topic["id"])
        return self.post(post_id)

    def revisions(self, post_id) -> list[dict]:
        return self.db.all("SELECT * FROM post_revisions WHERE post_id = ? ORDER BY number", post_id)

    # ------------------------------------------------------------------------------ participants
    def invite(self, user: dict, topic_id: int, username: str) -> dict:
        topic = self.visible_topic(topic_id, user)
        target = self.user_by_name(username)
        if not target:
            raise ApiError(422, {"errors": ["Sorry, that user does not exist."], "error_type": "invalid_parameters"})
        allowed = self.allowed_user_ids(topic["id"])
        if target["id"] in allowed:
            raise ApiError(422, {"errors": [f"The user {target['username']} already has access to this message."]})
        if not S.staff(user) and len(allowed) >= self.settings["max_allowed_message_recipients"]:
            raise ApiError(422, {"errors": [f"Sorry, you can only send a message to a maximum of "
                                            f"{self.settings['max_allowed_message_recipients']} recipients."]})
        self.db.run("INSERT INTO topic_allowed_users VALUES (?, ?)", topic["id"], target["id"])
        self._insert_post(topic["id"], user["id"], "", None, post_type=3, action_code="invited_user")
        return target

    def remove_allowed_user(self, user: dict, topic_id: int, username: str) -> None:
        topic = self.visible_topic(topic_id, user)
        target = self.user_by_name(username)
        allowed = self.allowed_user_ids(topic["id"])
        if not target or target["id"] not in allowed:
            raise ApiError(422, {"failed": "FAILED"})
        # creator or staff may remove anyone; anyone may remove themself
        if not (user["id"] == target["id"] or user["id"] == topic["user_id"] or S.staff(user)):
            raise ApiError(422, {"failed": "FAILED"})
        with self.db.transaction():
            self.db.run("DELETE FROM topic_allowed_users WHERE topic_id = ? AND user_id = ?", topic["id"], target["id"])
            self._insert_post(topic["id"], user["id"], "", None, post_type=3,
                              action_code="user_left" if user["id"] == target["id"] else "removed_user")

    def pm_topics(self, user: dict, sent_only: bool) -> list[dict]:
        if sent_only:
            rows = self.db.all("SELECT * FROM topics WHERE user_id = ? ORDER BY bumped_at DESC, id DESC", user["id"])
        else:
            rows = self.db.all("SELECT topics.* FROM topics JOIN topic_allowed_users tau ON tau.topic_id = topics.id"
                               " WHERE tau.user_id = ? ORDER BY bumped_at DESC, topics.id DESC", user["id"])
        return [self.topic(r["id"]) for r in rows]

    def private_posts(self, user: dict, before: int | None, limit: int = 50) -> list[dict]:
        sql = ("SELECT posts.* FROM posts JOIN topic_allowed_users tau ON tau.topic_id = posts.topic_id"
               " WHERE tau.user_id = ? AND posts.dropped = 0 AND posts.post_type = 1")
        args: list = [user["id"]]
        if before:
            sql += " AND posts.id < ?"
            args.append(before)
        sql += " ORDER BY posts.id DESC LIMIT ?"
        args.append(limit)
        return self.db.all(sql, *args)

    # ------------------------------------------------------------------------------ drafts
    def draft_sequence(self, user_id: int, key: str) -> int:
        row = self.db.one("SELECT sequence FROM draft_sequences WHERE user_id = ? AND draft_key = ?", user_id, key)
        return row["sequence"] if row else 0

    def _advance_draft(self, user_id: int, key: str) -> int:
        """Creating a post clears its draft and advances the draft sequence (DraftSequence.next!)."""
        with self.db.transaction():
            seq = self.draft_sequence(user_id, key) + 1
            self.db.run("INSERT INTO draft_sequences (user_id, draft_key, sequence) VALUES (?,?,?)"
                        " ON CONFLICT(user_id, draft_key) DO UPDATE SET sequence = excluded.sequence",
                        user_id, key, seq)
            self.db.run("DELETE FROM drafts WHERE user_id = ? AND draft_key = ?", user_id, key)
        return seq

    def save_draft(self, user: dict, key: str, data, sequence, force: bool) -> int:
        if not key:
            raise ApiError(400, {"errors": ["param is missing or the value is empty: draft_key"],
                                 "error_type": "invalid_parameters"})
        if not isinstance(data, str):
            raise ApiError(400, {"errors": ["Invalid draft data: it must be a JSON string"],
                                 "error_type": "invalid_parameters"})
        try:
            json.loads(data)
        except ValueError:
            raise ApiError(400, {"errors": ["Invalid draft data: it must be a JSON string"],
                                 "error_type": "invalid_parameters"})
        if len(data) > self.settings["max_draft_length"]:
            raise ApiError(400, {"errors": ["Draft is too long"], "error_type": "invalid_parameters"})
        current = self.draft_sequence(user["id"], key)
        try:
            seq = int(sequence) if sequence not in (None, "") else current
        except (TypeError, ValueError):
            seq = current
        if seq != current and not force:
            raise ApiError(409, {"failed": "FAILED", "message": "Draft is outdated: it was saved elsewhere.",
                                 "draft_sequence": current})
        exists = self.db.one("SELECT 1 FROM drafts WHERE user_id = ? AND draft_key = ?", user["id"], key)
        limit = self.settings["max_drafts_per_user"]
        if not exists and limit:
            n = self.db.one("SELECT COUNT(*) AS c FROM drafts WHERE user_id = ?", user["id"])["c"]
            if n >= limit:
                raise error(403, "You have too many drafts.", "invalid_access")
        t = now()
        self.db.run("INSERT INTO drafts (user_id, draft_key, data, created_at, updated_at) VALUES (?,?,?,?,?)"
                    " ON CONFLICT(user_id, draft_key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                    user["id"], key, data, t, t)
        return current

    def get_draft(self, user: dict, key: str) -> dict | None:
        return self.db.one("SELECT * FROM drafts WHERE user_id = ? AND draft_key = ?", user["id"], key)

    def list_drafts(self, user: dict, offset: int = 0, limit: int = 30) -> list[dict]:
        return self.db.all("SELECT * FROM drafts WHERE user_id = ? ORDER BY updated_at DESC LIMIT ? OFFSET ?",
                           user["id"], min(max(limit, 1), 50), max(offset, 0))

    def delete_draft(self, user: dict, key: str) -> None:
        self._advance_draft(user["id"], key)
