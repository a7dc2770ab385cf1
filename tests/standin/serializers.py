"""JSON shapes of Discourse's serializers, for the endpoints the stand-in implements.

Keys and types follow Discourse's frontend fixtures and serializers (docs/DISCOURSE-FIDELITY.md,
"JSON shapes"; tests/test_standin_fidelity.py checks every response against that table).
Each endpoint's post shape differs in Discourse too (e.g. /t/{id}.json posts carry `read` but
never `raw`), hence the per-endpoint projections below.
"""
from __future__ import annotations

import datetime as _dt
import html
import re

from .uploads import human_filesize

AVATAR = "/letter_avatar_proxy/v4/letter/{letter}/8e7dd6/{{size}}.png"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    d = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def slugify(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", (title or "").lower()).strip("-")
    return s or "topic"


def fancy_title(title: str) -> str:
    return html.escape(title or "", quote=False)


def avatar_template(user: dict) -> str:
    return AVATAR.format(letter=(user["username"][:1] or "x").lower())


def basic_user(user: dict) -> dict:
    """BasicUserSerializer."""
    return {"id": user["id"], "username": user["username"], "name": user["name"] or None,
            "avatar_template": avatar_template(user)}


def group_user(user: dict) -> dict:
    """GroupUserSerializer (a member in /groups/{name}/members.json)."""
    return {**basic_user(user), "title": None, "last_posted_at": None, "last_seen_at": None,
            "added_at": None, "timezone": None, "primary_group_name": None}


def staff(user: dict | None) -> bool:
    return bool(user and (user["admin"] or user["moderator"]))


def basic_group(g: dict, member_count: int) -> dict:
    """BasicGroupSerializer (details.allowed_groups, current user's groups)."""
    return {
        "id": g["id"], "automatic": False, "name": g["name"], "display_name": g["name"],
        "user_count": member_count, "mentionable_level": g["mentionable_level"],
        "messageable_level": g["messageable_level"], "visibility_level": g["visibility_level"],
        "primary_group": False, "title": None, "grant_trust_level": None, "incoming_email": None,
        "has_messages": bool(g["has_messages"]), "flair_url": None, "flair_bg_color": "", "flair_color": "",
        "bio_raw": None, "bio_cooked": None, "bio_excerpt": None, "public_admission": False,
        "public_exit": False, "allow_membership_requests": False, "full_name": g["full_name"],
        "default_notification_level": 3, "membership_request_template": None,
        "members_visibility_level": g["members_visibility_level"], "can_see_members": True,
        "can_admin_group": False, "can_edit_group": False, "publish_read_state": bool(g["publish_read_state"]),
        "automatic_membership_email_domains": "",
    }


# ---------------------------------------------------------------------------------- posts

def _post_base(post: dict, topic: dict, author: dict, viewer: dict | None, extra: dict) -> dict:
    """PostSerializer. `extra`: reply_count, reply_to_user (dict or None), for this post."""
    yours = bool(viewer and viewer["id"] == author["id"])
    can_edit = post["post_type"] == 1 and (yours or bool(viewer and viewer["admin"]))
    d = {
        "id": post["id"],
        "name": author["name"] or None,
        "username": author["username"],
        "avatar_template": avatar_template(author),
        "created_at": iso(post["created_at"]),
        "cooked": post["cooked"],
        "post_number": post["post_number"],
        "post_type": post["post_type"],
        "posts_count": topic.get("posts_count", 0),
        "updated_at": iso(post["updated_at"]),
        "reply_count": extra.get("reply_count", 0),
        "reply_to_post_number": post["reply_to_post_number"],
        "quote_count": 0,
        "incoming_link_count": 0,
        "reads": 1,
        "readers_count": 0,
        "score": 0,
        "yours": yours,
        "topic_id": topic["id"],
        "topic_slug": slugify(topic["title"]),
        "display_username": author["name"] or None,
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "flair_group_id": None,
        "badges_granted": [],
        "version": post["version"],
        "can_edit": can_edit,
        "can_delete": post["post_number"] > 1 and (yours or staff(viewer)),
        "can_recover": False,
        "can_see_hidden_post": False,
        "can_wiki": False,
        "user_title": None,
        "bookmarked": False,
        "actions_summary": [],
        "moderator": bool(author["moderator"]),
        "admin": bool(author["admin"]),
        "staff": staff(author),
        "user_id": author["id"],
        "hidden": False,
        "trust_level": author["trust_level"],
        "deleted_at": None,
        "user_deleted": False,
        "edit_reason": post["edit_reason"],
        "can_view_edit_history": True,
        "wiki": False,
        "reviewable_id": None,
        "reviewable_score_count": 0,
        "reviewable_score_pending_count": 0,
        "post_url": f"/t/{slugify(topic['title'])}/{topic['id']}/{post['post_number']}",
        "mentioned_users": [],
        "raw": post["raw"],
    }
    if extra.get("reply_to_user"):
        d["reply_to_user"] = extra["reply_to_user"]
    if post["action_code"]:
        d["action_code"] = post["action_code"]
        if post.get("action_code_who"):
            d["action_code_who"] = post["action_code_who"]
    return d


def post_for_create(post, topic, author, viewer, draft_sequence: int, extra=None) -> dict:
    d = _post_base(post, topic, author, viewer, extra or {})
    d["draft_sequence"] = draft_sequence
    d["post_localizations"] = []
    return d


def post_for_show(post, topic, author, viewer, extra=None) -> dict:
    """GET /posts/{id}.json and PUT /posts/{id}.json (inside "post"): with raw."""
    return _post_base(post, topic, author, viewer, extra or {})


def post_for_topic(post, topic, author, viewer, include_raw=False, extra=None, read=True) -> dict:
    """Posts inside /t/{id}.json, /t/{id}/posts.json, replies and reply history: no raw unless include_raw."""
    d = _post_base(post, topic, author, viewer, extra or {})
    for k in ("posts_count", "badges_granted", "post_url", "mentioned_users", "raw", "flair_group_id"):
        d.pop(k, None)
    d["reviewable_id"] = 0
    d["link_counts"] = []
    d["read"] = read
    d["actions_summary"] = [{"id": 2, "can_act": not d["yours"]}]
    if include_raw:
        d["raw"] = post["raw"]
    return d


def post_for_latest(post, topic, author, viewer) -> dict:
    """/private-posts.json and /posts.json: with raw and topic title."""
    d = _post_base(post, topic, author, viewer, {})
    d.pop("mentioned_users", None)
    d.update({"topic_title": topic["title"], "topic_html_title": topic["title"], "category_id": 0,
              "excerpt": "", "truncated": False})
    return d


# ---------------------------------------------------------------------------------- users

def user_option(user: dict, composition_mode: int) -> dict:
    return {
        "user_id": user["id"], "mailing_list_mode": False, "mailing_list_mode_frequency": 1,
        "email_digests": True, "email_level": 1, "email_messages_level": 0,
        "external_links_in_new_tab": False, "color_scheme_id": None, "dark_scheme_id": None,
        "dynamic_favicon": False, "enable_quoting": True, "enable_smart_lists": True,
        "enable_markdown_monospace_font": False, "digest_after_minutes": 10080,
        "automatically_unpin_topics": True, "auto_track_topics_after_msecs": 240000,
        "notification_level_when_replying": 2, "new_topic_duration_minutes": 2880,
        "email_previous_replies": 2, "email_in_reply_to": False,
        "like_notification_frequency": 1, "notify_on_linked_posts": True,
        "push_notification_level": "always", "enable_upcoming_change_available_notifications": False,
        "include_tl0_in_digests": False, "theme_ids": [], "theme_key_seq": 0,
        "allow_private_messages": bool(user["allow_private_messages"]), "enable_allowed_pm_users": False,
        "homepage_id": None, "hide_profile_and_presence": bool(user["hide_profile"]),
        "hide_profile": bool(user["hide_profile"]), "hide_presence": False,
        "text_size": "normal", "text_size_seq": 0, "title_count_mode": "notifications",
        "timezone": "UTC", "skip_new_user_tips": True,
        "topics_unread_when_closed": True, "interface_color_mode": 2 if user["theme"] == "dark" else 1,
        "show_original_content": True, "send_shortcut": "ctrl_enter", "composition_mode": composition_mode,
        "automatically_translate": False, "understood_languages": ["en"],
    }


def user_full(user: dict, viewer: dict | None, perms: dict, bio_raw: str | None,
              bio_cooked: str | None, counts: dict, groups: list[dict], composition_mode: int) -> dict:
    """GET /u/{username}.json (UserSerializer). `perms`: can_send_private_messages,
    can_send_private_message_to_user, can_change_bio."""
    me = bool(viewer and viewer["id"] == user["id"])
    u = {
        **basic_user(user),
        "last_posted_at": iso(counts.get("last_posted_at")),
        "last_seen_at": iso(user["created_at"]),
        "created_at": iso(user["created_at"]),
        "ignored": False, "muted": False,
        "can_ignore_user": False, "can_mute_user": False,
        "can_send_private_messages": perms["can_send_private_messages"],
        "can_send_private_message_to_user": perms["can_send_private_message_to_user"],
        "trust_level": user["trust_level"],
        "moderator": bool(user["moderator"]), "admin": bool(user["admin"]),
        "title": None, "badge_count": 0, "custom_fields": {}, "user_fields": {},
        "time_read": 0, "recent_time_read": 0,
        "primary_group_id": None, "primary_group_name": None, "flair_group_id": None,
        "flair_name": None, "flair_url": None, "flair_bg_color": None, "flair_color": None,
        "featured_topic": None, "staged": False,
        "can_edit": me or bool(viewer and viewer["admin"]),
        "can_edit_username": me, "can_edit_email": me, "can_edit_name": me,
        "uploaded_avatar_id": None, "has_title_badges": False, "pending_count": 0,
        "profile_view_count": 0, "second_factor_enabled": False,
        "can_upload_profile_header": me, "can_upload_user_card_background": me,
        "post_count": counts.get("post_count", 0), "topic_count": counts.get("topic_count", 0),
        "can_be_deleted": False, "can_delete_all_posts": False, "locale": "en",
        "muted_category_ids": [], "regular_category_ids": [], "watched_tags": [],
        "watching_first_post_tags": [], "tracked_tags": [], "muted_tags": [],
        "tracked_category_ids": [], "watched_category_ids": [],
        "watched_first_post_category_ids": [], "system_avatar_upload_id": None,
        "system_avatar_template": avatar_template(user), "muted_usernames": [],
        "ignored_usernames": [], "allowed_pm_usernames": [], "mailing_list_posts_per_day": 0,
        "can_change_bio": perms["can_change_bio"], "can_change_location": True, "can_change_website": True,
        "can_change_tracking_preferences": True, "user_api_keys": None,
        "user_auth_tokens": [],
        "user_notification_schedule": {"enabled": False, **{
            f"day_{i}_{k}_time": (480 if k == "start" else 1020) for i in range(7) for k in ("start", "end")}},
        "use_logo_small_as_avatar": False, "featured_user_badge_ids": [], "invited_by": None,
        "groups": groups, "group_users": [],
        "user_option": user_option(user, composition_mode),
    }
    # UserSerializer's "untrusted attributes": omitted when empty or when the profile is hidden.
    if bio_raw:
        u["bio_raw"] = bio_raw
        u["bio_cooked"] = bio_cooked
        u["bio_excerpt"] = _excerpt(bio_cooked)
    if user["hide_profile"] and not me:
        u["profile_hidden"] = True
    # badges, badge_types, users and topics are side-loads that come with featured badges only
    return {"user_badges": [], "user": u}


def _excerpt(cooked):
    from .cook import excerpt
    return excerpt(cooked or "")


def user_card(user: dict, viewer: dict | None, can_pm_user: bool, bio_cooked: str | None) -> dict:
    """UserCardSerializer: no bio_raw, only a 350-char bio_excerpt."""
    card = {
        **basic_user(user),
        "trust_level": user["trust_level"],
        "moderator": bool(user["moderator"]), "admin": bool(user["admin"]),
        "title": None, "primary_group_name": None, "flair_name": None,
        "last_posted_at": None, "last_seen_at": iso(user["created_at"]),
        "created_at": iso(user["created_at"]),
        "can_send_private_message_to_user": can_pm_user,
        "website": None, "website_name": None, "location": None,
        "user_fields": {}, "custom_fields": {}, "featured_user_badge_ids": [],
    }
    if bio_cooked and not (user["hide_profile"] and not (viewer and viewer["id"] == user["id"])):
        card["bio_excerpt"] = _excerpt(bio_cooked)
    elif user["hide_profile"]:
        card["profile_hidden"] = True
    return card


def current_user(user: dict, can_send_pms: bool, groups: list[dict], composition_mode: int,
                 counts: dict | None = None) -> dict:
    """CurrentUserSerializer (session/current.json and preload `currentUser`)."""
    counts = counts or {}
    tl = min(user["trust_level"], 4)
    auto = [{"id": 10 + n, "name": f"trust_level_{n}", "has_messages": False} for n in range(tl + 1)]
    if staff(user):
        auto.append({"id": 3, "name": "staff", "has_messages": False})
    return {
        **basic_user(user),
        "uploaded_avatar_id": None,
        "admin": bool(user["admin"]), "moderator": bool(user["moderator"]),
        "staff": staff(user), "trust_level": user["trust_level"], "title": None,
        "unread_notifications": 0, "unread_high_priority_notifications": 0,
        "site_flagged_posts_count": 0, "reply_count": max(0, counts.get("post_count", 0) - counts.get("topic_count", 0)),
        "topic_count": counts.get("topic_count", 0),
        "can_send_private_messages": can_send_pms,
        "can_create_topic": True, "can_create_group": bool(user["admin"]), "can_edit": True,
        "can_invite_to_forum": staff(user), "can_ignore_users": staff(user) or user["trust_level"] >= 2,
        "can_mute_users": staff(user) or user["trust_level"] >= 1, "can_review": staff(user),
        "notification_channel_position": None, "dismissed_banner_key": None,
        "muted_category_ids": [], "ignored_users": [], "sidebar_sections": [],
        "groups": auto + [{"id": g["id"], "name": g["name"], "has_messages": bool(g["has_messages"])}
                          for g in groups],
        "custom_fields": {},
        "user_option": {**user_option(user, composition_mode), "should_be_redirected_to_top": False},
        "read_first_notification": True,
    }


# ---------------------------------------------------------------------------------- uploads

def upload(row: dict, origin: str) -> dict:
    """UploadSerializer (POST /uploads.json). `url` goes through UrlHelper.cook_url: the local
    store's path made absolute on the forum's origin, then schemaless (only "http:" is dropped)."""
    url = row["url"]
    if url.startswith("/") and not url.startswith("//"):
        url = origin.rstrip("/") + url
    if url.lower().startswith("http:"):
        url = url[5:]
    return {
        "id": row["id"], "url": url, "original_filename": row["original_filename"], "filesize": row["filesize"],
        "width": row["width"], "height": row["height"], "thumbnail_width": row["thumbnail_width"],
        "thumbnail_height": row["thumbnail_height"], "extension": row["extension"], "short_url": row["short_url"],
        "short_path": row["short_path"], "retain_hours": row["retain_hours"],
        "human_filesize": human_filesize(row["filesize"]), "dominant_color": row["dominant_color"],
    }
