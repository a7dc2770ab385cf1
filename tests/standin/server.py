"""StandinServer: the stand-in forum running in a background thread, plus the test API
through which tests act as the (possibly malicious) server."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import AUTH_COOKIE, create_app
from .cook import cook
from .forum import Forum
from .reqlog import LoggingMiddleware, RequestLog

class _QuietHandler(WSGIRequestHandler):
    """No per-request lines on stderr: the request log is the record."""

    def log_request(self, *args, **kwargs):
        pass


HOSTILE_DIR = Path(__file__).parent / "hostile"


HOSTILE_CHANNEL = HOSTILE_DIR / "_channel.js"


def hostile_scripts() -> list[Path]:
    """The built-in hostile theme-component scripts (tests/standin/hostile/*.js)."""
    return sorted(p for p in HOSTILE_DIR.glob("*.js") if not p.name.startswith("_"))


def _read_script(path: Path) -> str:
    text = path.read_text()
    if path.resolve().parent == HOSTILE_DIR.resolve() and path.name != HOSTILE_CHANNEL.name:
        # Hostile scripts share one exfiltration channel; it guards itself against running twice.
        text = HOSTILE_CHANNEL.read_text() + "\n" + text
    return text


def _load_inject(item) -> str:
    """An inject item is a path to a .js file or a JS source string."""
    if isinstance(item, Path):
        return _read_script(item)
    s = str(item)
    if "\n" not in s and s.endswith(".js") and Path(s).is_file():
        return _read_script(Path(s))
    return s


class _FailureInjector:
    """WSGI middleware behind the request log: the next matching requests fail like an overloaded
    or unreachable Discourse (`StandinServer.fail_next`)."""

    def __init__(self, app):
        self.app = app
        self._lock = threading.Lock()
        self.rules: list[dict] = []

    def add(self, rule: dict) -> None:
        with self._lock:
            self.rules.append(rule)

    def _take(self, method: str, path: str) -> dict | None:
        with self._lock:
            for rule in self.rules:
                if rule["count"] > 0 and path.startswith(rule["path_prefix"]) and \
                        (rule["method"] is None or rule["method"] == method):
                    rule["count"] -= 1
                    return rule
        return None

    def __call__(self, environ, start_response):
        rule = self._take(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        if rule is None:
            return self.app(environ, start_response)
        if rule["drop"]:
            # The connection closes without an answer (the client sees a network error).
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                import socket
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            # werkzeug treats a ConnectionError as a dropped connection (quietly, no answer).
            raise ConnectionAbortedError("stand-in fail_next: connection dropped")
        status = rule["status"]
        if status == 503:  # Discourse's read-only/maintenance answer (spec 1.7)
            body = {"errors": ["The site is in read only mode. Interactions are disabled."], "error_type": "read_only"}
            headers = [("Discourse-Readonly", "true")]
        else:
            body = {"errors": [f"The server answered {status} (stand-in fail_next)."], "error_type": "server_error"}
            headers = []
        import json
        data = json.dumps(body).encode()
        reason = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                  504: "Gateway Timeout"}.get(status, "Error")
        start_response(f"{status} {reason}", [("Content-Type", "application/json; charset=utf-8"),
                                              ("Content-Length", str(len(data))), ("Cache-Control", "no-cache, no-store"),
                                              *headers])
        return [data]


class _SubfolderInstall:
    """A subfolder install (setting base_path, e.g. "/forum"): Discourse is mounted below the
    prefix (SCRIPT_NAME), and nothing answers outside it but the attacker's sink."""

    def __init__(self, app, forum):
        self.app = app
        self.forum = forum

    def __call__(self, environ, start_response):
        base = (self.forum.settings.get("base_path") or "").rstrip("/")
        path = environ.get("PATH_INFO", "")
        if base and not path.startswith("/__hostile/"):
            if path != base and not path.startswith(base + "/"):
                body = b"Not Found (outside the forum's subfolder)"
                start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
                return [body]
            environ["SCRIPT_NAME"] = base
            environ["PATH_INFO"] = path[len(base):] or "/"
        return self.app(environ, start_response)


class StandinServer:
    def __init__(self, inject=None, settings: dict | None = None, port: int = 0, host: str = "127.0.0.1"):
        self.forum = Forum(settings)
        self.log = RequestLog()
        self._inject = list(inject or [])
        self._host, self._port = host, port
        self._httpd = None
        self._thread = None
        self.app = create_app(self.forum, self)
        # fail_next matches paths below the subfolder, so the same rules work on both installs
        self._failures = _FailureInjector(self.app)
        self._wsgi = LoggingMiddleware(_SubfolderInstall(self._failures, self.forum), self.log,
                                       base_path=lambda: self.forum.settings.get("base_path") or "")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "StandinServer":
        if self._httpd:
            return self
        self._httpd = make_server(self._host, self._port, self._wsgi, threaded=True,
                                  request_handler=_QuietHandler)
        self._port = self._httpd.server_port
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=10)
            self._httpd = None
        self.forum.db.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def origin(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def base_path(self) -> str:
        return (self.forum.settings.get("base_path") or "").rstrip("/")

    @property
    def url(self) -> str:
        """The forum's address: the origin plus the subfolder of a subfolder install."""
        return self.origin + self.base_path

    @property
    def settings(self) -> dict:
        """Live settings: tests may change them while the server runs."""
        return self.forum.settings

    # ------------------------------------------------------------------ injection
    def inject(self, item) -> None:
        """Add a script (path or JS source) to the main world of every page served from now on."""
        self._inject.append(item)

    def injected_scripts(self) -> list[str]:
        return [_load_inject(i) for i in self._inject]

    # ------------------------------------------------------------------ users & sessions
    def create_user(self, username, password, trust_level=1, name=None, bio_raw="", admin=False,
                    moderator=False, hide_profile=False, allow_private_messages=None, age_days=0.0) -> int:
        """A user registered `age_days` ago (0: just now, so Discourse's new-user rate limits apply
        for a day); allow_private_messages None = setting allow_private_messages_default."""
        created = time.time() - float(age_days) * 86400
        return self.forum.create_user(username, password, trust_level, name, bio_raw, admin, moderator,
                                      hide_profile, allow_private_messages, created_at=created)

    def set_trust_level(self, username: str, trust_level: int) -> None:
        """Promote or demote a user (Discourse's trust levels 0-4)."""
        self.forum.db.run("UPDATE users SET trust_level = ? WHERE username = ?", int(trust_level), username)

    def set_allow_private_messages(self, username: str, allowed: bool) -> None:
        self.forum.db.run("UPDATE users SET allow_private_messages = ? WHERE username = ?", int(bool(allowed)), username)

    def set_composition_mode(self, username: str, mode: str | None) -> None:
        """The user's editor preference: "rich", "markdown", or None (follow setting rich_editor)."""
        value = {"rich": 1, "markdown": 0, None: None}[mode]
        self.forum.db.run("UPDATE users SET composition_mode = ? WHERE username = ?", value, username)

    def create_group(self, name: str, members=(), messageable_level: int = 0, full_name=None,
                     publish_read_state: bool = False) -> int:
        """A custom group. messageable_level: Group::ALIAS_LEVELS (0 nobody, 1 only admins,
        2 mods and admins, 3 members, mods and admins, 4 owners, mods and admins, 99 everyone)."""
        return self.forum.create_group(name, members, messageable_level, full_name, publish_read_state)

    def add_group_member(self, group: str, username: str) -> None:
        self.forum.add_group_member(group, username)

    def archive_message(self, username: str, topic_id: int, archived: bool = True) -> None:
        """Move a PM to the user's archive (or back to the inbox)."""
        self.forum.archive_message(self.forum.user_by_name(username), int(topic_id), archived)

    def reset_rate_limits(self, username: str | None = None) -> None:
        """Forget the rate limiters' history (of one user, or of everyone)."""
        u = self.forum.user_by_name(username) if username else None
        self.forum.limiter.clear(u["id"] if u else None)

    def user(self, username) -> dict | None:
        return self.forum.user_by_name(username)

    def login_cookie(self, username) -> dict:
        """A `_t` cookie for Selenium's add_cookie (load any page of srv.url first)."""
        u = self.forum.user_by_name(username)
        if not u:
            raise KeyError(username)
        return {"name": AUTH_COOKIE, "value": self.forum.new_auth_token(u["id"]), "path": "/",
                "httpOnly": True, "sameSite": "Lax"}   # Rails' default path, also on subfolder installs

    def client(self, username=None, password=None):
        """An HTTP client with its own cookie jar, logged in as `username` when given."""
        from .client import StandinClient
        c = StandinClient(self.url)    # requests get the subfolder prefix like Discourse's getURL
        if username:
            if password is None:
                c.set_cookie(AUTH_COOKIE, self.login_cookie(username)["value"])
            else:
                c.login(username, password)
        return c

    # ------------------------------------------------------------------ request log
    @property
    def requests(self) -> list[dict]:
        return self.log.snapshot()

    def clear_log(self) -> None:
        self.log.clear()

    # ------------------------------------------------------------------ failures
    def fail_next(self, path_prefix: str, status: int = 503, count: int = 1, method: str | None = None,
                  drop: bool = False) -> None:
        """The next `count` requests whose path starts with `path_prefix` (and whose method is
        `method`, if given) fail before reaching the forum: with `status` (5xx; 503 = Discourse's
        read-only answer `{"errors", "error_type":"read_only"}` + `Discourse-Readonly`), or with
        `drop=True` by closing the connection without an answer (logged with status None).
        Nothing is stored for a failed request. Rules add up; each is used `count` times."""
        if not drop and not 500 <= int(status) <= 599:
            raise ValueError("fail_next: status must be 5xx")
        if int(count) < 1:
            raise ValueError("fail_next: count must be at least 1")
        self._failures.add({"path_prefix": path_prefix, "status": int(status), "count": int(count),
                            "method": method.upper() if method else None, "drop": bool(drop)})

    def failures_left(self) -> int:
        """How many injected failures are still to come (all rules)."""
        return sum(r["count"] for r in self._failures.rules)

    # ------------------------------------------------------------------ content shortcuts
    def create_pm(self, sender: str, recipients, title: str, raw: str, skip_validations: bool = False) -> dict:
        """Create a PM as `sender` through the same rules as POST /posts.json (recipients may name
        groups). skip_validations=True is PostCreator's skip_validations: no validation, no rate
        limit (seeding). Raises ApiError like the API would answer. Returns the post row."""
        user = self.forum.user_by_name(sender)
        if isinstance(recipients, (list, tuple)):
            recipients = ",".join(recipients)
        post, _, _ = self.forum.create_post(user, {"archetype": "private_message", "title": title, "raw": raw,
                                                   "target_recipients": recipients}, skip_validations)
        return post

    def reply(self, sender: str, topic_id: int, raw: str, reply_to_post_number: int | None = None,
              skip_validations: bool = False) -> dict:
        user = self.forum.user_by_name(sender)
        post, _, _ = self.forum.create_post(user, {"topic_id": topic_id, "raw": raw,
                                                   "reply_to_post_number": reply_to_post_number},
                                            skip_validations)
        return post

    # ------------------------------------------------------------------ uploads
    def uploads(self) -> list[dict]:
        """The stored uploads, oldest first: id, user_id, original_filename, filesize, width, height,
        thumbnail_width, thumbnail_height, extension, sha1, url (the local store's path),
        short_url, short_path, retain_hours, dominant_color, animated, for_private_message,
        created_at, steps (what the pipeline did to the file) and data (the stored bytes)."""
        return self.forum.uploads.all()

    def clean_up_uploads(self, now: float | None = None, grace_hours: float | None = None) -> list[dict]:
        """Run Discourse's orphan clean-up job (Jobs::CleanUpUploads) as if the time were `now`
        (default: now): uploads older than clean_orphan_uploads_grace_period_hours (or
        `grace_hours`) that no post, draft or bio references are deleted. Returns the removed rows."""
        return self.forum.clean_up_uploads(now=now, grace_hours=grace_hours, host=f"{self._host}:{self.port}")

    def age_upload(self, upload_id: int, hours: float) -> None:
        """Make an upload `hours` older (its created_at moves back)."""
        row = self.forum.uploads.get(upload_id)
        if not row:
            raise KeyError(upload_id)
        self.forum.uploads.set_created_at(upload_id, row["created_at"] - float(hours) * 3600)

    def damage_next_uploads(self, count: int = 1) -> None:
        """Store the next `count` uploaded images with one pixel changed (a hostile or broken
        store: what a lossy step would do to a carrier)."""
        self.forum.damage_uploads = int(count)

    def replace_upload(self, short_url: str, data: bytes) -> None:
        """Serve `data` from now on for the upload named by `short_url` (a hostile server swapping
        a stored file)."""
        row = next((r for r in self.forum.uploads.all() if r["short_url"] == short_url), None)
        if row is None:
            raise KeyError(short_url)
        self.forum.uploads.set_data(row["id"], data)

    # ------------------------------------------------------------------ acting as the server
    def set_bio(self, username: str, bio_raw: str) -> None:
        self.forum.db.run("UPDATE users SET bio_raw = ? WHERE username = ?", bio_raw, username)

    def serve_bio_to(self, viewer_username: str, target_username: str, bio_raw: str | None) -> None:
        """Serve `bio_raw` as target's bio only when `viewer` asks (None removes the override)."""
        key = (viewer_username.lower(), target_username.lower())
        if bio_raw is None:
            self.forum.bio_overrides.pop(key, None)
        else:
            self.forum.bio_overrides[key] = bio_raw

    def add_allowed_user(self, topic_id: int, username: str) -> None:
        """Silently give `username` access to the PM `topic_id`, as a server could: no invite, no
        small-action post, nothing posted by a participant (the user then shows in
        details.allowed_users)."""
        target = self.forum.user_by_name(username)
        if not target or not self.forum.topic(topic_id):
            raise ValueError(f"add_allowed_user: no user {username!r} or no topic {topic_id}")
        self.forum.db.run("INSERT OR IGNORE INTO topic_allowed_users VALUES (?, ?)", int(topic_id), target["id"])

    def rewrite_post(self, post_id: int, raw: str) -> None:
        """Silently replace a stored post's raw (no revision, no version bump)."""
        self.forum.db.run("UPDATE posts SET raw = ?, cooked = ? WHERE id = ?", raw, cook(raw), post_id)

    def drop_post(self, post_id: int) -> None:
        """Omit a post from every response (streams, /posts, /raw) as if it never existed."""
        self.forum.db.run("UPDATE posts SET dropped = 1 WHERE id = ?", post_id)

    def reorder_posts(self, topic_id: int, post_ids: list[int]) -> None:
        """Serve the topic's posts in this order (ids not listed follow in their normal order)."""
        self.forum.order_overrides[int(topic_id)] = [int(i) for i in post_ids]

    def posts(self, topic_id: int, include_dropped: bool = False) -> list[dict]:
        sql = "SELECT * FROM posts WHERE topic_id = ?" + ("" if include_dropped else " AND dropped = 0")
        return self.forum.db.all(sql + " ORDER BY post_number", topic_id)

    def post(self, post_id: int) -> dict | None:
        return self.forum.db.one("SELECT * FROM posts WHERE id = ?", post_id)

    def topic(self, topic_id: int) -> dict | None:
        t = self.forum.topic(topic_id)
        if t:
            t["allowed_usernames"] = [self.forum.user_by_id(i)["username"]
                                      for i in self.forum.allowed_user_ids(topic_id)]
            t["allowed_groupnames"] = [self.forum.db.one("SELECT name FROM groups WHERE id = ?", i)["name"]
                                       for i in self.forum.allowed_group_ids(topic_id)]
        return t

    def topics(self) -> list[dict]:
        return self.forum.db.all("SELECT * FROM topics ORDER BY id")

    def drafts(self, username: str) -> list[dict]:
        u = self.forum.user_by_name(username)
        return self.forum.db.all("SELECT draft_key, data, sequence, updated_at FROM drafts WHERE user_id = ?"
                                 " ORDER BY updated_at", u["id"]) if u else []

    def set_theme(self, username: str, theme: str) -> None:
        """The user's colour scheme ("light"/"dark"), applied to every page they load."""
        self.forum.db.run("UPDATE users SET theme = ? WHERE username = ?", theme, username)

    def revisions(self, post_id: int) -> list[dict]:
        return self.forum.revisions(post_id)


DEMO_PASSWORD = "demo-password-123"


def seed_demo(srv: StandinServer) -> list[tuple[str, str, int]]:
    users = [("alice", 2), ("bob", 1), ("carol", 1), ("dave", 0)]
    # established accounts (a month old): Discourse's new-user limits are for the first day
    for name, tl in users:
        srv.create_user(name, DEMO_PASSWORD, trust_level=tl, age_days=30)
    srv.create_user("admin", DEMO_PASSWORD, trust_level=4, admin=True, age_days=30)
    srv.create_pm("alice", "bob", "Welcome to the stand-in", "Hi Bob, this is a plain (unencrypted) message.")
    return [(n, DEMO_PASSWORD, tl) for n, tl in users] + [("admin", DEMO_PASSWORD, 4)]
