"""The forum's domain logic: users, groups, PM topics, posts, revisions, drafts, read state, and
Discourse's validations and rate limits, in the order Discourse applies them.

HTTP lives in app.py; this module raises `ApiError` carrying Discourse's status and JSON body.
docs/DISCOURSE-FIDELITY.md names the Discourse source of every rule here.
"""
from __future__ import annotations

import json
import secrets

from . import serializers as S
from .cook import cook
from .db import DB, now
from .db import now as _now    # for methods whose `now` parameter hides the function
from .errors import (ApiError, create_post_error, error, invalid_access, invalid_parameters, not_found,
                     param_missing)
from .limits import Limiter, RateLimiter, blocked_matches, blocked_message
from .uploads import T as UPLOAD_T
from .uploads import (UploadRefused, UploadStore, clean_filename, process, sha1s_in_cooked, sha1s_in_text, validate,
                      with_one_pixel_changed)

DEFAULT_SETTINGS = {
    # ---- Discourse site settings, with Discourse's defaults
    "min_personal_message_post_length": 10,
    "min_personal_message_title_length": 2,
    "max_post_length": 32000,
    "max_topic_title_length": 255,
    "unique_posts_mins": 5,
    "max_allowed_message_recipients": 30,
    # personal_message_enabled_groups = "11" (trust_level_1): users of this trust level and up
    "personal_message_enabled_trust_level": 1,
    "rate_limit_create_topic": 15,             # seconds between topics; PMs are topics
    "rate_limit_new_user_create_topic": 120,
    "rate_limit_create_post": 5,               # seconds between posts (a PM's first post counts)
    "rate_limit_new_user_create_post": 30,
    "max_personal_messages_per_day": 20,
    "max_replies_in_first_day": 10,
    "max_edits_per_day": 30,
    "max_draft_length": 400000,
    "enable_discourse_connect": False,
    "discourse_connect_overrides_bio": False,
    "rich_editor": False,
    "suppress_reply_directly_below": True,
    "suppress_reply_directly_above": True,
    "watched_words_block": [],                 # the "block" action of Admin > Watched Words
    "base_path": "",                           # Discourse.base_path of a subfolder install ("/forum")
    "pm_page_size": 30,                        # TopicQuery::DEFAULT_PER_PAGE_COUNT
    "allow_private_messages_default": True,    # the default of UserOption#allow_private_messages
    "cloaking": True,                          # the Glimmer post stream's viewport tracker
    # uploads (the "files" settings; uploads.py models what UploadCreator does with them)
    "authorized_extensions": "jpg|jpeg|png|gif|heic|heif|webp",
    "authorized_extensions_for_staff": "",
    "allow_staff_to_upload_any_file_in_pm": True,
    "max_image_size_kb": 4096,
    "max_attachment_size_kb": 4096,
    "max_image_megapixels": 40,
    "max_image_width": 690,                    # ImageSizer: the thumbnail_width/height an upload reports
    "max_image_height": 500,
    "png_to_jpg_quality": 95,                  # 100 turns the PNG → JPEG attempt off
    "recompress_original_jpg_quality": 90,
    "strip_image_metadata": True,
    "clean_up_uploads": True,
    "clean_orphan_uploads_grace_period_hours": 48,
    "prevent_anons_from_downloading_files": False,
    # ---- not site settings
    "max_bio_length": 3000,                    # UserProfile validation
    "max_drafts_per_user": 0,                  # 0 = unlimited (Discourse's default is not confirmed)
    "draft_autosave_ms": 2000,                 # the composer's draft debounce (a constant in Discourse)
    "draft_immediate_ms": 15000,               # ... saved at once when the last save is older
    "seed_pms_per_user": 0,                    # older plain PMs created for every new user
    "seed_partner": "pen_pal",                 # ... from this user (created on first use)
    "content_security_policy": True,
    "discourse_version": "3.5.0",
    "discourse_sha": "5f2b3c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c",
    "title": "Stand-in Forum",
}

CHUNK_SIZE = 20          # TopicView::CHUNK_SIZE
MAX_POST_REPLIES = 20    # PostsController::MAX_POST_REPLIES
DAY = 86400.0

# Group::ALIAS_LEVELS
NOBODY, ONLY_ADMINS, MODS_AND_ADMINS, MEMBERS_MODS_AND_ADMINS, OWNERS_MODS_AND_ADMINS, EVERYONE = 0, 1, 2, 3, 4, 99

# English texts of Discourse's server locale keys (the keys are facts, these texts are not confirmed)
T = {
    "cant_send_pm": "Sorry, you cannot send a personal message to that user.",
    "not_accepting_pms": "Sorry, {username} is not accepting messages at the moment.",
    "no_user_selected": "You must select a valid user.",
    "target_user_not_found": "Sorry, the user you're trying to message could not be found.",
    "target_group_not_found": "Sorry, the group you're trying to message could not be found.",
    "max_pm_recipients": "Sorry, you can send a message to a maximum of {n} recipients.",
    "topic_not_found": "Something has gone wrong. Perhaps this topic was closed or deleted while you were looking at it?",
    "just_posted_that": "Body is too similar to what you recently posted",
    "edit_conflict": "Someone else has edited this post while you were editing it.",
    "sequence_conflict_title": "Draft is outdated",
    "sequence_conflict_description": "This draft was changed in another window or device. Reload to see the latest version.",
    "too_many_drafts_title": "Too many drafts",
    "too_many_drafts_description": "You have reached the maximum number of drafts. Delete some of your drafts to continue.",
}


def _truthy(v) -> bool:
    return str(v).lower() in ("1", "true", "on", "yes")


class Forum:
    def __init__(self, settings: dict | None = None):
        self.settings = dict(DEFAULT_SETTINGS)
        self.settings.update(settings or {})
        self.db = DB()
        # What a malicious server can do, set through the test API (not stored in "Discourse's" tables).
        self.bio_overrides: dict[tuple[str, str], str] = {}
        self.order_overrides: dict[int, list[int]] = {}
        self.limiter = RateLimiter()
        self.uploads = UploadStore()
        self.damage_uploads = 0        # images still to store with a changed pixel (test API)
        self._seeding = False

    # ------------------------------------------------------------------------------ users
    def create_user(self, username, password, trust_level=1, name=None, bio_raw="", admin=False,
                    moderator=False, hide_profile=False, allow_private_messages=None, created_at=None) -> int:
        apm = self.settings["allow_private_messages_default"] if allow_private_messages is None \
            else allow_private_messages
        uid = self.db.run(
            "INSERT INTO users (username, name, password, trust_level, admin, moderator, bio_raw,"
            " hide_profile, allow_private_messages, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            username, name if name is not None else username.capitalize(), password, trust_level,
            int(admin), int(moderator), bio_raw, int(hide_profile), int(bool(apm)),
            created_at if created_at is not None else now())
        if not self._seeding and int(self.settings.get("seed_pms_per_user") or 0) > 0:
            self._seed_pms(self.user_by_id(uid))
        return uid

    def _seed_pms(self, user: dict) -> None:
        """`seed_pms_per_user` older plain PMs from the seed partner to a new user, so that the
        user's inbox starts with more than one page (stand-in only)."""
        partner_name = self.settings["seed_partner"]
        self._seeding = True
        try:
            partner = self.user_by_name(partner_name)
            if not partner:
                self.create_user(partner_name, secrets.token_hex(12), trust_level=2,
                                 created_at=now() - 400 * DAY)
                partner = self.user_by_name(partner_name)
        finally:
            self._seeding = False
        if partner["id"] == user["id"]:
            return
        n = int(self.settings["seed_pms_per_user"])
        base = now() - 60 * DAY
        with self.db.transaction():
            for i in range(n):
                t = base + i * 3600.0
                tid = self.db.run("INSERT INTO topics (title, archetype, user_id, created_at, bumped_at)"
                                  " VALUES (?, 'private_message', ?, ?, ?)",
                                  f"Older conversation {i + 1:02d}", partner["id"], t, t)
                self.db.run("INSERT INTO topic_allowed_users VALUES (?, ?)", tid, user["id"])
                self.db.run("INSERT INTO topic_allowed_users VALUES (?, ?)", tid, partner["id"])
                self._insert_post(tid, partner["id"], f"An older plain message, number {i + 1}.", None, at=t)

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
        return self.db.one("SELECT users.* FROM auth_tokens JOIN users ON users.id = auth_tokens.user_id"
                           " WHERE token = ?", token)

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

    def is_new_user(self, user: dict) -> bool:
        """User#new_user?: registered less than a day ago or TL0, below TL2, not staff."""
        return (now() - user["created_at"] < DAY or user["trust_level"] == 0) and user["trust_level"] < 2 \
            and not S.staff(user)

    def posting_on_first_day(self, user: dict) -> bool:
        """User#new_user_posting_on_first_day?"""
        if S.staff(user) or user["trust_level"] >= 2:
            return False
        first = self.db.one("SELECT MIN(created_at) AS t FROM posts WHERE user_id = ? AND post_type = 1",
                            user["id"])["t"]
        return user["trust_level"] == 0 or first is None or now() - first < DAY

    def composition_mode(self, user: dict) -> int:
        """UserOption#composition_mode: 1 = rich editor, 0 = markdown. Users who never chose
        follow the site: rich when the rich editor is enabled."""
        if user.get("composition_mode") is not None:
            return int(user["composition_mode"])
        return 1 if self.settings["rich_editor"] else 0

    def can_change_bio(self) -> bool:
        """UserSerializer#can_change_bio."""
        st = self.settings
        return not (st["enable_discourse_connect"] and st["discourse_connect_overrides_bio"])

    def bio_for(self, target: dict, viewer: dict | None) -> str:
        key = ((viewer or {}).get("username", "").lower(), target["username"].lower())
        return self.bio_overrides.get(key, target["bio_raw"])

    def update_user(self, user: dict, viewer: dict, p: dict) -> None:
        """UsersController#update through UserUpdater: bio (ignored when DiscourseConnect
        overrides it), and the user options the stand-in keeps."""
        if not viewer or (viewer["id"] != user["id"] and not viewer["admin"]):
            raise invalid_access()
        if "bio_raw" in p and p["bio_raw"] is not None and self.can_change_bio():
            bio_raw = str(p["bio_raw"])
            errors = []
            limit = self.settings["max_bio_length"]
            if len(bio_raw) > limit:
                errors.append(f"Bio raw is too long (maximum is {limit} characters)")
            words = blocked_matches(bio_raw, self.settings["watched_words_block"])
            if words:
                errors.append(blocked_message(words))
            if errors:
                # render_json_error(user_profile): the model's messages, no error_type
                raise ApiError(422, {"errors": errors})
            self.db.run("UPDATE users SET bio_raw = ? WHERE id = ?", bio_raw, user["id"])
        if "allow_private_messages" in p and p["allow_private_messages"] is not None:
            self.db.run("UPDATE users SET allow_private_messages = ? WHERE id = ?",
                        int(_truthy(p["allow_private_messages"])), user["id"])
        if "composition_mode" in p and str(p["composition_mode"]).isdigit():
            self.db.run("UPDATE users SET composition_mode = ? WHERE id = ?", int(p["composition_mode"]), user["id"])

    def user_counts(self, user: dict) -> dict:
        row = self.db.one("SELECT COUNT(*) AS c, MAX(created_at) AS last FROM posts WHERE user_id = ?"
                          " AND post_type = 1", user["id"])
        topics = self.db.one("SELECT COUNT(*) AS c FROM topics WHERE user_id = ?", user["id"])
        return {"post_count": row["c"], "last_posted_at": row["last"], "topic_count": topics["c"]}

    def search_users(self, term: str, limit: int = 6) -> list[dict]:
        term = (term or "").lower().lstrip("@")
        return self.db.all("SELECT * FROM users WHERE lower(username) LIKE ? OR lower(name) LIKE ?"
                           " ORDER BY (lower(username) = ?) DESC, username LIMIT ?",
                           term + "%", term + "%", term, limit)

    # ------------------------------------------------------------------------------ groups
    def create_group(self, name: str, members=(), messageable_level: int = NOBODY, full_name=None,
                     publish_read_state: bool = False) -> int:
        gid = self.db.run("INSERT INTO groups (name, full_name, messageable_level, publish_read_state)"
                          " VALUES (?,?,?,?)", name, full_name, int(messageable_level), int(publish_read_state))
        for m in members:
            self.add_group_member(name, m)
        return gid

    def group_by_name(self, name: str | None) -> dict | None:
        if not name:
            return None
        return self.db.one("SELECT * FROM groups WHERE name = ?", name)

    def group_by_name_ci(self, name: str | None) -> dict | None:
        """GroupsController#find_group: lower(name) = name.downcase."""
        if not name:
            return None
        return self.db.one("SELECT * FROM groups WHERE lower(name) = ?", name.lower())

    def can_see_group_members(self, user: dict | None, group: dict) -> bool:
        """Guardian#can_see_group_members? by members_visibility_level (Group.visibility_levels:
        0 public, 1 logged on users, 2 members, 3 staff, 4 owners); owners are not modelled, so
        level 4 is staff only."""
        lvl = group["members_visibility_level"]
        if lvl == 0:
            return True
        if not user:
            return False
        if S.staff(user) or lvl == 1:
            return True
        return lvl == 2 and group["id"] in self.user_group_ids(user["id"])

    def add_group_member(self, group: str, username: str) -> None:
        g, u = self.group_by_name(group), self.user_by_name(username)
        if not g or not u:
            raise KeyError(group if not g else username)
        self.db.run("INSERT OR IGNORE INTO group_users VALUES (?, ?)", g["id"], u["id"])

    def group_member_ids(self, group_id: int) -> list[int]:
        return [r["user_id"] for r in self.db.all("SELECT user_id FROM group_users WHERE group_id = ?"
                                                   " ORDER BY rowid", group_id)]

    def user_group_ids(self, user_id: int) -> set[int]:
        return {r["group_id"] for r in self.db.all("SELECT group_id FROM group_users WHERE user_id = ?", user_id)}

    def user_groups(self, user_id: int) -> list[dict]:
        return self.db.all("SELECT groups.* FROM groups JOIN group_users gu ON gu.group_id = groups.id"
                           " WHERE gu.user_id = ? ORDER BY groups.name", user_id)

    def group_messageable(self, group: dict, user: dict) -> bool:
        """Group.messageable(user): alias levels the user qualifies for, or membership."""
        lvl = group["messageable_level"]
        if lvl == EVERYONE:
            return True
        if user["admin"] and lvl in (ONLY_ADMINS, MODS_AND_ADMINS, MEMBERS_MODS_AND_ADMINS, OWNERS_MODS_AND_ADMINS):
            return True
        if S.staff(user) and lvl in (MODS_AND_ADMINS, MEMBERS_MODS_AND_ADMINS, OWNERS_MODS_AND_ADMINS):
            return True
        return lvl == MEMBERS_MODS_AND_ADMINS and group["id"] in self.user_group_ids(user["id"])

    # ------------------------------------------------------------------------------ permissions
    def can_send_private_messages(self, user: dict | None) -> bool:
        """Guardian#can_send_private_messages?: staff or a member of personal_message_enabled_groups."""
        return bool(user) and (S.staff(user) or
                               user["trust_level"] >= self.settings["personal_message_enabled_trust_level"])

    def can_send_private_message(self, user: dict | None, target: dict, target_is_group=False) -> bool:
        """Guardian#can_send_private_message?(target). There is no check that the target is not
        the sender, so a user's own allow_private_messages applies to a PM to themself."""
        if not user:
            return False
        if target_is_group:
            # messageable groups accept PMs even from users outside personal_message_enabled_groups
            return self.group_messageable(target, user)
        return self.can_send_private_messages(user) and (S.staff(user) or bool(target["allow_private_messages"]))

    # ------------------------------------------------------------------------------ topics
    def topic(self, topic_id) -> dict | None:
        t = self.db.one("SELECT * FROM topics WHERE id = ?", topic_id)
        if t:
            row = self.db.one("SELECT COUNT(*) AS c, MAX(post_number) AS h FROM posts WHERE topic_id = ?"
                              " AND dropped = 0", topic_id)
            t["posts_count"] = row["c"]
            t["highest_post_number"] = row["h"] or 0
        return t

    def allowed_user_ids(self, topic_id) -> list[int]:
        return [r["user_id"] for r in self.db.all(
            "SELECT user_id FROM topic_allowed_users WHERE topic_id = ? ORDER BY rowid", topic_id)]

    def allowed_group_ids(self, topic_id) -> list[int]:
        return [r["group_id"] for r in self.db.all(
            "SELECT group_id FROM topic_allowed_groups WHERE topic_id = ? ORDER BY rowid", topic_id)]

    def group_allowed_user_ids(self, topic_id) -> set[int]:
        """TopicView#group_allowed_user_ids: members of the topic's allowed groups."""
        out: set[int] = set()
        for gid in self.allowed_group_ids(topic_id):
            out.update(self.group_member_ids(gid))
        return out

    def can_see(self, topic: dict, viewer: dict | None) -> bool:
        """Guardian#can_see_topic? for PMs: allowed users, members of allowed groups, admins."""
        if not viewer:
            return False
        return bool(viewer["admin"]) or viewer["id"] in self.allowed_user_ids(topic["id"]) or \
            viewer["id"] in self.group_allowed_user_ids(topic["id"])

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

    def reply_count(self, post: dict) -> int:
        """Post#reply_count: posts of the topic that reply to this one."""
        return self.db.one("SELECT COUNT(*) AS c FROM posts WHERE topic_id = ? AND reply_to_post_number = ?"
                           " AND dropped = 0 AND post_type = 1", post["topic_id"], post["post_number"])["c"]

    def replies(self, post: dict, after: int) -> list[dict]:
        """PostsController#replies: up to 20 direct replies with a post_number above `after`."""
        return self.db.all("SELECT * FROM posts WHERE topic_id = ? AND reply_to_post_number = ? AND dropped = 0"
                           " AND post_number > ? ORDER BY post_number LIMIT ?", post["topic_id"],
                           post["post_number"], max(after, 1), MAX_POST_REPLIES)

    def reply_history(self, post: dict) -> list[dict]:
        """Post#reply_history: the chain of posts this one replies to, oldest first."""
        chain, seen = [], set()
        cur = post
        while cur and cur["reply_to_post_number"] and len(chain) < 100:
            parent = self.db.one("SELECT * FROM posts WHERE topic_id = ? AND post_number = ? AND dropped = 0",
                                 cur["topic_id"], cur["reply_to_post_number"])
            if not parent or parent["id"] in seen:
                break
            seen.add(parent["id"])
            chain.append(parent)
            cur = parent
        return list(reversed(chain))

    def last_read(self, topic_id: int, user_id: int) -> int | None:
        row = self.db.one("SELECT last_read_post_number FROM topic_users WHERE topic_id = ? AND user_id = ?",
                          topic_id, user_id)
        return row["last_read_post_number"] if row else None

    def mark_read(self, topic_id: int, user_id: int, post_number: int) -> None:
        """TopicUser.update_last_read (from /topics/timings, and for the author on posting)."""
        self.db.run("INSERT INTO topic_users (topic_id, user_id, last_read_post_number) VALUES (?,?,?)"
                    " ON CONFLICT(topic_id, user_id) DO UPDATE SET last_read_post_number ="
                    " MAX(last_read_post_number, excluded.last_read_post_number)", topic_id, user_id, post_number)

    def archive_message(self, user: dict, topic_id: int, archived: bool = True) -> None:
        if archived:
            self.db.run("INSERT OR IGNORE INTO user_archived_messages VALUES (?, ?)", topic_id, user["id"])
        else:
            self.db.run("DELETE FROM user_archived_messages WHERE topic_id = ? AND user_id = ?", topic_id, user["id"])

    # ------------------------------------------------------------------------------ validation
    def _validate_raw(self, user: dict, raw: str, errors: list[str], check_unique=True) -> None:
        """PostValidator for PMs: private_message_post_length, watched words, unique_post."""
        st = self.settings
        stripped = len((raw or "").strip())
        if stripped < st["min_personal_message_post_length"]:
            errors.append(f"Body is too short (minimum is {st['min_personal_message_post_length']} characters)")
        if len(raw or "") > st["max_post_length"]:
            errors.append(f"Body is limited to {st['max_post_length']} characters; you entered {len(raw)}.")
        words = blocked_matches(raw, st["watched_words_block"])
        if words:
            errors.append(blocked_message(words))
        if check_unique and st["unique_posts_mins"] and not S.staff(user) and raw:
            dup = self.db.one("SELECT id FROM posts WHERE user_id = ? AND raw = ? AND created_at > ? AND post_type = 1",
                              user["id"], raw, now() - 60 * st["unique_posts_mins"])
            if dup:
                errors.append(T["just_posted_that"])

    def _validate_title(self, title: str, errors: list[str]) -> None:
        """Topic title validators for PMs: topic_title_length and watched words (no quality, no uniqueness)."""
        st = self.settings
        if len(title) < st["min_personal_message_title_length"]:
            errors.append(f"Title is too short (minimum is {st['min_personal_message_title_length']} characters)")
        if len(title) > st["max_topic_title_length"]:
            errors.append(f"Title is too long (maximum is {st['max_topic_title_length']} characters)")
        words = blocked_matches(title, st["watched_words_block"])
        if words:
            errors.append(blocked_message(words))

    def _post_limiters(self, user: dict, post_number: int) -> list[Limiter]:
        """Post's `rate_limit` callbacks: create_post, and first-day replies (post_number > 1)."""
        st = self.settings
        gap = st["rate_limit_new_user_create_post"] if self.is_new_user(user) else st["rate_limit_create_post"]
        out = [Limiter("create_post", 1, gap)]
        if post_number > 1 and self.posting_on_first_day(user):
            out.append(Limiter("first-day-replies-per-day", st["max_replies_in_first_day"], DAY))
        return out

    def _topic_limiters(self, user: dict) -> list[Limiter]:
        """Topic's `rate_limit` callbacks for a PM: create_topic, then pms-per-day."""
        st = self.settings
        gap = st["rate_limit_new_user_create_topic"] if self.is_new_user(user) else st["rate_limit_create_topic"]
        return [Limiter("create_topic", 1, gap), Limiter("pms-per-day", st["max_personal_messages_per_day"], DAY)]

    # ------------------------------------------------------------------------------ posting
    def create_post(self, user: dict, p: dict, skip_validations: bool = False) -> tuple[dict, dict, int]:
        """PostsController#create → NewPostManager → PostCreator/TopicCreator, for PMs.
        Returns (post, topic, draft_sequence). PMs are never queued for approval."""
        raw = p.get("raw")
        if not isinstance(raw, str) or raw == "":
            raise param_missing("raw")       # create_params does params.require(:raw)
        st = self.settings
        topic_id = p.get("topic_id")
        title = p.get("title")
        title = title.strip() if isinstance(title, str) else ""
        # NewPostManager#perform: blocked watched words in "title raw", for non-staff, first of all
        if not skip_validations and not S.staff(user):
            words = blocked_matches(f"{title} {raw}", st["watched_words_block"])
            if words:
                raise create_post_error([blocked_message(words)], action="created_post")
        if topic_id not in (None, ""):
            if p.get("archetype") == "private_message":
                raise create_post_error(["You cannot create a message on an existing topic."])
            return self._create_reply(user, p, raw, topic_id, skip_validations)
        if p.get("archetype") != "private_message":
            raise create_post_error(["This forum only has personal messages (use archetype=private_message)."])
        return self._create_pm(user, p, raw, title, skip_validations)

    def _resolve_recipients(self, user: dict, value) -> tuple[list[str], list[str]]:
        """create_params: target_recipients → names of groups the sender may message, the rest usernames."""
        names = [n.strip().lower() for n in str(value or "").split(",") if n.strip()]
        groups = [n for n in names if (g := self.group_by_name(n)) and self.group_messageable(g, user)]
        return [n for n in names if n not in groups], groups

    def _create_pm(self, user, p, raw, title, skip_validations):
        st = self.settings
        usernames, groupnames = self._resolve_recipients(user, p.get("target_recipients"))
        errors: list[str] = []
        if not skip_validations:
            # PostCreator#valid?: recipient cap and UserCommScreener (never the sender themself)
            if usernames and not S.staff(user):
                if len(usernames) > st["max_allowed_message_recipients"]:
                    raise create_post_error([T["max_pm_recipients"].format(n=st["max_allowed_message_recipients"])])
                refusing = [u for u in (self.user_by_name(n) for n in usernames)
                            if u and u["id"] != user["id"] and not u["allow_private_messages"]]
                if refusing:
                    raise create_post_error([T["not_accepting_pms"].format(username=u["username"]) for u in refusing])
            self._validate_title(title, errors)
            if errors:
                raise create_post_error(errors)
            self._validate_raw(user, raw, errors)
            if errors:
                raise create_post_error(errors)
        # TopicCreator#process_private_message
        if not usernames and not groupnames:
            raise create_post_error([T["no_user_selected"]])
        recipients = []
        for n in dict.fromkeys(usernames):
            u = self.user_by_name(n)
            if not u:
                continue
            if not skip_validations and not self.can_send_private_message(user, u):
                raise create_post_error([T["cant_send_pm"]])
            recipients.append(u)
        if len(recipients) != len(dict.fromkeys(usernames)):
            raise create_post_error([T["target_user_not_found"]])
        groups = [self.group_by_name(n) for n in dict.fromkeys(groupnames)]
        for g in groups:
            if not skip_validations and not self.can_send_private_message(user, g, target_is_group=True):
                raise create_post_error([T["cant_send_pm"]])
        if not skip_validations:
            # after_create callbacks of the topic, then of its first post
            self.limiter.perform_all(user, self._topic_limiters(user) + self._post_limiters(user, 1), S.staff(user))
        with self.db.transaction():
            t = now()
            tid = self.db.run("INSERT INTO topics (title, archetype, user_id, created_at, bumped_at)"
                              " VALUES (?, 'private_message', ?, ?, ?)", title, user["id"], t, t)
            for u in recipients:
                self.db.run("INSERT OR IGNORE INTO topic_allowed_users VALUES (?, ?)", tid, u["id"])
            for g in groups:
                self.db.run("INSERT OR IGNORE INTO topic_allowed_groups VALUES (?, ?)", tid, g["id"])
                self.db.run("UPDATE groups SET has_messages = 1 WHERE id = ?", g["id"])
            # The creator is added unless already a recipient (a PM to oneself has one participant).
            self.db.run("INSERT OR IGNORE INTO topic_allowed_users VALUES (?, ?)", tid, user["id"])
            post = self._insert_post(tid, user["id"], raw, None)
        self.mark_read(tid, user["id"], 1)
        seq = self._advance_draft(user["id"], str(p.get("draft_key") or "new_private_message"))
        return post, self.topic(tid), seq

    def _create_reply(self, user, p, raw, topic_id, skip_validations):
        try:
            topic = self.topic(int(topic_id))
        except (TypeError, ValueError):
            topic = None
        if not topic or not self.can_see(topic, user):
            raise create_post_error([T["topic_not_found"]])
        errors: list[str] = []
        if not skip_validations:
            self._validate_raw(user, raw, errors)
            if errors:
                raise create_post_error(errors)
        reply_to = p.get("reply_to_post_number")
        try:
            reply_to = int(reply_to) if reply_to not in (None, "") else None
        except (TypeError, ValueError):
            reply_to = None
        if reply_to is not None and not self.db.one("SELECT 1 FROM posts WHERE topic_id = ? AND post_number = ?",
                                                    topic["id"], reply_to):
            reply_to = None
        if not skip_validations:
            number = topic["highest_post_number"] + 1
            self.limiter.perform_all(user, self._post_limiters(user, number), S.staff(user))
        draft_key = p.get("draft_key") or f"topic_{topic['id']}"
        with self.db.transaction():
            post = self._insert_post(topic["id"], user["id"], raw, reply_to)
            self.db.run("UPDATE topics SET bumped_at = ? WHERE id = ?", now(), topic["id"])
        self.mark_read(topic["id"], user["id"], post["post_number"])
        seq = self._advance_draft(user["id"], str(draft_key))
        return post, self.topic(topic["id"]), seq

    def _insert_post(self, topic_id, user_id, raw, reply_to, post_type=1, action_code=None,
                     action_code_who=None, at=None) -> dict:
        n = self.db.one("SELECT COALESCE(MAX(post_number), 0) + 1 AS n FROM posts WHERE topic_id = ?",
                        topic_id)["n"]
        t = now() if at is None else at
        pid = self.db.run(
            "INSERT INTO posts (topic_id, post_number, user_id, raw, cooked, post_type, action_code,"
            " action_code_who, reply_to_post_number, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            topic_id, n, user_id, raw, cook(raw) if raw else "", post_type, action_code, action_code_who,
            reply_to, t, t)
        return self.db.one("SELECT * FROM posts WHERE id = ?", pid)

    def edit_post(self, user: dict, post_id: int, p: dict) -> dict:
        """PostsController#update → PostRevisor (every change of raw is a revision)."""
        post = self.post(post_id)
        if not post:
            raise not_found()
        topic = self.visible_topic(post["topic_id"], user)
        data = p.get("post")
        if not isinstance(data, dict):
            raise param_missing("post")      # params.require(:post)
        if post["user_id"] != user["id"] and not user["admin"]:
            raise invalid_access()
        raw = str(data.get("raw") if data.get("raw") is not None else post["raw"])
        original = data.get("original_text", data.get("raw_old"))
        if original not in (None, "") and original != post["raw"]:
            raise ApiError(409, {"errors": [T["edit_conflict"]]})
        errors: list[str] = []
        self._validate_raw(user, raw, errors, check_unique=False)
        title = p.get("title")
        if isinstance(title, str) and post["post_number"] == 1:
            self._validate_title(title.strip(), errors)
        if errors:
            raise ApiError(422, {"errors": errors})      # render_json_error(post): no error_type
        if raw != post["raw"]:
            self.limiter.perform_all(user, [Limiter("edit-post", self.settings["max_edits_per_day"], DAY)],
                                     S.staff(user))
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
        slots = len(allowed) + len(self.allowed_group_ids(topic["id"]))
        if not S.staff(user) and slots >= self.settings["max_allowed_message_recipients"]:
            raise ApiError(422, {"errors": ["Sorry, this message has reached the maximum number of recipients."]})
        self.db.run("INSERT INTO topic_allowed_users VALUES (?, ?)", topic["id"], target["id"])
        self._insert_post(topic["id"], user["id"], "", None, post_type=3, action_code="invited_user",
                          action_code_who=target["username"])
        return target

    def can_remove_allowed_users(self, user: dict, topic: dict, target: dict | None = None) -> bool:
        """TopicGuardian#can_remove_allowed_users?: staff; the PM's creator from trust level 2 on;
        or a participant removing themself, when they are not its creator and not alone in it."""
        if S.staff(user) or (topic["user_id"] == user["id"] and user["trust_level"] >= 2):
            return True
        return (target is not None and target["id"] == user["id"] and target["id"] != topic["user_id"]
                and len(self.allowed_user_ids(topic["id"])) > 1)

    def remove_allowed_user(self, user: dict, topic_id: int, username: str) -> None:
        """TopicsController#remove_allowed_user: 404 for an unknown user, 403 when the guardian
        refuses, 422 when the user is not allowed in the PM."""
        topic = self.visible_topic(topic_id, user)
        target = self.user_by_name(username)
        if not target:
            raise not_found()
        if not self.can_remove_allowed_users(user, topic, target):
            raise invalid_access()
        if target["id"] not in self.allowed_user_ids(topic["id"]):
            raise ApiError(422, {"failed": "FAILED"})
        with self.db.transaction():
            self.db.run("DELETE FROM topic_allowed_users WHERE topic_id = ? AND user_id = ?", topic["id"], target["id"])
            self._insert_post(topic["id"], user["id"], "", None, post_type=3,
                              action_code="user_left" if user["id"] == target["id"] else "removed_user",
                              action_code_who=target["username"])

    # ------------------------------------------------------------------------------ PM lists
    def pm_list(self, owner: dict, kind: str, page: int = 0, group: dict | None = None) -> list[dict]:
        """TopicQuery::PrivateMessageLists: `kind` is inbox, sent, archive, new, unread or group;
        one page of `pm_page_size`, newest bump first."""
        uid = owner["id"]
        mine = "topics.id IN (SELECT topic_id FROM topic_allowed_users WHERE user_id = :uid)"
        archived = "topics.id IN (SELECT topic_id FROM user_archived_messages WHERE user_id = :uid)"
        args = {"uid": uid}
        if kind == "inbox":
            where = f"{mine} AND NOT {archived}"
        elif kind == "sent":
            where = (f"{mine} AND NOT {archived} AND EXISTS (SELECT 1 FROM posts WHERE posts.topic_id = topics.id"
                     " AND posts.user_id = :uid)")
        elif kind == "archive":
            where = f"{mine} AND {archived}"
        elif kind == "new":
            # TopicQuery.new_filter: never read, created after the user's "new" start date
            start = max(owner["created_at"], now() - 2880 * 60)
            where = (f"{mine} AND topics.id NOT IN (SELECT topic_id FROM topic_users WHERE user_id = :uid)"
                     " AND topics.created_at >= :start")
            args["start"] = start
        elif kind == "unread":
            where = (f"{mine} AND EXISTS (SELECT 1 FROM topic_users tu WHERE tu.topic_id = topics.id AND"
                     " tu.user_id = :uid AND tu.last_read_post_number < (SELECT MAX(post_number) FROM posts"
                     " WHERE posts.topic_id = topics.id AND posts.dropped = 0))")
        elif kind == "group":
            if group is None:
                return []
            where = "topics.id IN (SELECT topic_id FROM topic_allowed_groups WHERE group_id = :gid)"
            args["gid"] = group["id"]
            if not owner["admin"] and group["id"] not in self.user_group_ids(uid):
                return []
        else:
            raise ValueError(kind)
        per_page = int(self.settings["pm_page_size"])
        args.update(limit=per_page, offset=max(0, page) * per_page)
        sql = (f"SELECT topics.* FROM topics WHERE archetype = 'private_message' AND {where}"
               " ORDER BY topics.bumped_at DESC, topics.id DESC LIMIT :limit OFFSET :offset")
        with self.db.lock:
            rows = [dict(r) for r in self.db._conn.execute(sql, args).fetchall()]
        return [self.topic(r["id"]) for r in rows]

    def private_posts(self, user: dict, before: int | None, limit: int = 50) -> list[dict]:
        sql = ("SELECT DISTINCT posts.* FROM posts WHERE posts.dropped = 0 AND posts.post_type = 1 AND"
               " (posts.topic_id IN (SELECT topic_id FROM topic_allowed_users WHERE user_id = ?) OR"
               " posts.topic_id IN (SELECT tag.topic_id FROM topic_allowed_groups tag JOIN group_users gu"
               " ON gu.group_id = tag.group_id WHERE gu.user_id = ?))")
        args: list = [user["id"], user["id"]]
        if before:
            sql += " AND posts.id < ?"
            args.append(before)
        sql += " ORDER BY posts.id DESC LIMIT ?"
        args.append(limit)
        return self.db.all(sql, *args)

    # ------------------------------------------------------------------------------ uploads
    def create_upload(self, user: dict, data: bytes | None, filename: str | None, p: dict,
                      base_path: str = "") -> dict:
        """UploadsController#create → UploadCreator#create_for → UploadValidator. Returns the stored
        upload row (an existing one when a file with the same SHA-1 is stored already); raises
        ApiError with Discourse's answer."""
        upload_type = p.get("upload_type") or p.get("type")
        if upload_type in (None, "") or isinstance(upload_type, (dict, list)):
            raise param_missing("upload_type")      # params.require(:upload_type) (type: deprecated)
        if data is None:
            raise ApiError(422, {"errors": [UPLOAD_T["file_missing"]]})
        for_private_message = str(p.get("for_private_message")) == "true"
        for_site_setting = str(p.get("for_site_setting")) == "true"
        name = clean_filename(filename)
        try:
            # `pasted` no longer matters in the newest generation: every PNG gets the JPEG attempt
            done = process(data, name, self.settings, for_site_setting=for_site_setting)
        except UploadRefused as refused:
            raise ApiError(422, refused.body())
        if self.damage_uploads > 0 and done.is_image:
            self.damage_uploads -= 1           # the test API's hostile store (damage_next_uploads)
            done.data = with_one_pixel_changed(done.data)
            done.steps.append("one pixel changed (hostile store)")
        existing = self.uploads.by_sha1(done.sha1)
        if existing:
            return existing
        errors = validate(done.filename, len(done.data), self.settings, staff=S.staff(user),
                          for_private_message=for_private_message)
        if errors:
            raise ApiError(422, {"errors": errors})
        retain = p.get("retain_hours")
        retain_hours = int(retain) if user["admin"] and str(retain or "").isdigit() and int(retain) > 0 else None
        return self.uploads.add(done, user["id"], self.settings, base_path, for_private_message, retain_hours)

    def referenced_upload_sha1s(self, host: str | None = None) -> set[str]:
        """UploadReference as Discourse keeps it: a post references the uploads its cooked HTML links
        or shows (Post#link_post_uploads); drafts and bios any upload their text names
        (Upload.extract_upload_ids). Posts dropped by the test API count as gone."""
        out: set[str] = set()
        for row in self.db.all("SELECT cooked FROM posts WHERE dropped = 0"):
            out |= sha1s_in_cooked(row["cooked"], host)
        for row in self.db.all("SELECT data FROM drafts"):
            out |= sha1s_in_text(row["data"])
        for row in self.db.all("SELECT bio_raw FROM users"):
            out |= sha1s_in_text(row["bio_raw"])
        return out

    def clean_up_uploads(self, now: float | None = None, grace_hours: float | None = None,
                         host: str | None = None) -> list[dict]:
        """Jobs::CleanUpUploads: uploads older than the grace period (at least an hour) that nothing
        references are deleted, unless retain_hours keeps them. Returns the removed rows."""
        st = self.settings
        if not st["clean_up_uploads"]:
            return []
        hours = st["clean_orphan_uploads_grace_period_hours"] if grace_hours is None else grace_hours
        grace = max(float(hours), 1.0) * 3600
        t = _now() if now is None else float(now)
        referenced = self.referenced_upload_sha1s(host)
        removed = []
        for row in self.uploads.all():
            if row["retain_hours"] and row["created_at"] >= t - row["retain_hours"] * 3600:
                continue
            if row["created_at"] >= t - grace or row["sha1"] in referenced:
                continue
            removed.append(self.uploads.remove(row["id"]))
        return removed

    # ------------------------------------------------------------------------------ drafts
    def draft_sequence(self, user_id: int, key: str) -> int:
        row = self.db.one("SELECT sequence FROM draft_sequences WHERE user_id = ? AND draft_key = ?", user_id, key)
        return row["sequence"] if row else 0

    def _set_sequence(self, user_id: int, key: str, seq: int) -> None:
        self.db.run("INSERT INTO draft_sequences (user_id, draft_key, sequence) VALUES (?,?,?)"
                    " ON CONFLICT(user_id, draft_key) DO UPDATE SET sequence = excluded.sequence",
                    user_id, key, seq)

    def _advance_draft(self, user_id: int, key: str) -> int:
        """DraftSequence.next!: creating a post advances its draft key's sequence and drops the draft."""
        with self.db.transaction():
            seq = self.draft_sequence(user_id, key) + 1
            self._set_sequence(user_id, key, seq)
            self.db.run("DELETE FROM drafts WHERE user_id = ? AND draft_key = ?", user_id, key)
        return seq

    def save_draft(self, user: dict, key: str, data, sequence, force: bool, owner=None) -> int:
        """DraftsController#create and Draft.set. Saving over an existing draft needs the current
        sequence (or force_save) and advances it; the first save needs the current sequence, and
        a stale one is replaced by the current sequence when no draft exists."""
        if not key:
            raise not_found()
        if not isinstance(data, str):
            raise param_missing("data")
        if len(data) > self.settings["max_draft_length"]:
            raise invalid_parameters("data")
        try:
            json.loads(data)
        except ValueError:
            raise invalid_parameters("data")
        limit = self.settings["max_drafts_per_user"]
        exists = self.db.one("SELECT sequence FROM drafts WHERE user_id = ? AND draft_key = ?", user["id"], key)
        if limit and not exists and \
                self.db.one("SELECT COUNT(*) AS c FROM drafts WHERE user_id = ?", user["id"])["c"] >= limit:
            raise error(403, T["too_many_drafts_title"], extras={"description": T["too_many_drafts_description"]})
        try:
            seq = int(sequence) if sequence not in (None, "") else 0
        except (TypeError, ValueError):
            seq = 0
        current = self.draft_sequence(user["id"], key)
        t = now()
        with self.db.transaction():
            if exists:
                if not force and seq != current:
                    raise error(409, T["sequence_conflict_title"],
                                extras={"description": T["sequence_conflict_description"]})
                seq = current + 1
                self._set_sequence(user["id"], key, seq)
                self.db.run("UPDATE drafts SET data = ?, sequence = ?, owner = COALESCE(?, owner), updated_at = ?"
                            " WHERE user_id = ? AND draft_key = ?", data, seq, owner, t, user["id"], key)
            else:
                seq = current      # also when the client's sequence was stale: no draft to conflict with
                self.db.run("INSERT INTO drafts (user_id, draft_key, data, sequence, owner, created_at, updated_at)"
                            " VALUES (?,?,?,?,?,?,?)", user["id"], key, data, seq, owner, t, t)
        return seq

    def get_draft(self, user: dict, key: str) -> dict | None:
        return self.db.one("SELECT * FROM drafts WHERE user_id = ? AND draft_key = ?", user["id"], key)

    def list_drafts(self, user: dict, offset: int = 0, limit: int = 30) -> list[dict]:
        return self.db.all("SELECT * FROM drafts WHERE user_id = ? ORDER BY updated_at DESC LIMIT ? OFFSET ?",
                           user["id"], min(max(limit, 1), 50), max(offset, 0))

    def delete_draft(self, user: dict, key: str, sequence) -> None:
        """Draft.clear: only with the current sequence (a stale one is silently ignored)."""
        try:
            seq = int(sequence) if sequence not in (None, "") else 0
        except (TypeError, ValueError):
            seq = 0
        if seq == self.draft_sequence(user["id"], key):
            self.db.run("DELETE FROM drafts WHERE user_id = ? AND draft_key = ?", user["id"], key)
