"""JSON shapes of Discourse's serializers, for the endpoints the stand-in implements.

Field lists follow Discourse's serializers as captured in the openapi document
(shared/spec/discourse-openapi-subset.json); the contract tests validate against it.
Each endpoint's post shape differs slightly in Discourse too (e.g. /t/{id}.json posts carry
`link_counts`/`read` but never `raw`), hence the per-endpoint projections below.
"""
from __future__ import annotations

import datetime as _dt
import re

AVATAR = "/letter_avatar_proxy/v4/letter/{letter}/8e7dd6/{{size}}.png"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    d = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def slugify(title: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", (title or "").lower()).strip("-")
    return s or "topic"


def avatar_template(user: dict) -> str:
    return AVATAR.format(letter=(user["username"][:1] or "x").lower())


def basic_user(user: dict) -> dict:
    return {
        "id": user["id"],
        "username": user["username"],
        "name": user["name"] or "",
        "avatar_template": avatar_template(user),
    }


def staff(user: dict | None) -> bool:
    return bool(user and (user["admin"] or user["moderator"]))


# ---------------------------------------------------------------------------------- posts

def _post_base(post: dict, topic: dict, author: dict, viewer: dict | None) -> dict:
    yours = bool(viewer and viewer["id"] == author["id"])
    can_edit = yours or bool(viewer and viewer["admin"])
    return {
        "id": post["id"],
        "name": author["name"] or "",
        "username": author["username"],
        "avatar_template": avatar_template(author),
        "created_at": iso(post["created_at"]),
        "cooked": post["cooked"],
        "post_number": post["post_number"],
        "post_type": post["post_type"],
        "posts_count": topic.get("posts_count", 0),
        "updated_at": iso(post["updated_at"]),
        "reply_count": 0,
        "reply_to_post_number": post["reply_to_post_number"],
        "quote_count": 0,
        "incoming_link_count": 0,
        "reads": 1,
        "readers_count": 0,
        "score": 0,
        "yours": yours,
        "topic_id": topic["id"],
        "topic_slug": slugify(topic["title"]),
        "display_username": author["name"] or "",
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "flair_group_id": None,
        "badges_granted": [],
        "version": post["version"],
        "can_edit": can_edit,
        "can_delete": can_edit,
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


def post_for_create(post, topic, author, viewer, draft_sequence: int) -> dict:
    d = _post_base(post, topic, author, viewer)
    d["draft_sequence"] = draft_sequence
    d["post_localizations"] = []
    return d


def post_for_show(post, topic, author, viewer) -> dict:
    """GET /posts/{id}.json and PUT /posts/{id}.json (inside "post")."""
    return _post_base(post, topic, author, viewer)


def post_for_topic(post, topic, author, viewer, include_raw=False) -> dict:
    """Posts inside /t/{id}.json and /t/{id}/posts.json: no raw unless include_raw."""
    d = _post_base(post, topic, author, viewer)
    for k in ("posts_count", "badges_granted", "post_url", "mentioned_users", "raw", "flair_group_id"):
        d.pop(k, None)
    d["reviewable_id"] = 0
    d["link_counts"] = []
    d["read"] = True
    d["actions_summary"] = [{"id": 2, "can_act": not d["yours"]}]
    if post["action_code"]:
        d["action_code"] = post["action_code"]
    if include_raw:
        d["raw"] = post["raw"]
    return d


def post_for_latest(post, topic, author, viewer) -> dict:
    """/private-posts.json and /posts.json: with raw and topic title."""
    d = _post_base(post, topic, author, viewer)
    for k in ("mentioned_users",):
        d.pop(k, None)
    d.update({
        "topic_title": topic["title"],
        "topic_html_title": topic["title"],
        "category_id": 0,
        "excerpt": "",
        "truncated": False,
    })
    return d


# ---------------------------------------------------------------------------------- users

def user_option(user: dict) -> dict:
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
        "push_notification_level": "always",
        "enable_upcoming_change_available_notifications": False,
        "include_tl0_in_digests": False, "theme_ids": [], "theme_key_seq": 0,
        "allow_private_messages": True, "enable_allowed_pm_users": False, "homepage_id": None,
        "hide_profile_and_presence": bool(user["hide_profile"]),
        "hide_profile": bool(user["hide_profile"]), "hide_presence": False,
        "text_size": "normal", "text_size_seq": 0, "title_count_mode": "notifications",
        "timezone": "UTC", "skip_new_user_tips": True, "topics_unread_when_closed": True,
        "interface_color_mode": 2 if user["theme"] == "dark" else 1,
        "show_original_content": True, "send_shortcut": "ctrl_enter",
        "automatically_translate": False, "understood_languages": ["en"],
    }


def can_send_pm(user: dict | None, settings: dict) -> bool:
    return bool(user) and (staff(user) or user["trust_level"] >= settings["personal_message_enabled_trust_level"])


def user_full(user: dict, viewer: dict | None, settings: dict, bio_raw: str | None,
              bio_cooked: str | None, counts: dict) -> dict:
    """GET /u/{username}.json -> {"user": ..., "user_badges": []}."""
    me = bool(viewer and viewer["id"] == user["id"])
    u = {
        **basic_user(user),
        "last_posted_at": iso(counts.get("last_posted_at")),
        "last_seen_at": iso(user["created_at"]),
        "created_at": iso(user["created_at"]),
        "ignored": False, "muted": False,
        "can_ignore_user": False, "can_mute_user": False,
        "can_send_private_messages": can_send_pm(viewer, settings),
        "can_send_private_message_to_user": can_send_pm(viewer, settings) and not me,
        "trust_level": user["trust_level"],
        "moderator": bool(user["moderator"]), "admin": bool(user["admin"]),
        "title": None, "badge_count": 0, "custom_fields": {},
        "time_read": 0, "recent_time_read": 0,
        "primary_group_id": None, "primary_group_name": None, "flair_group_id": None,
        "flair_name": None, "flair_url": None, "flair_bg_color": None, "flair_color": None,
        "featured_topic": None,
        "staged": False,
        "can_edit": me or bool(viewer and viewer["admin"]),
        "can_edit_username": me, "can_edit_email": me, "can_edit_name": me,
        "uploaded_avatar_id": None, "has_title_badges": False, "pending_count": 0,
        "profile_view_count": 0, "second_factor_enabled": False,
        "can_upload_profile_header": me, "can_upload_user_card_background": me,
        "post_count": counts.get("post_count", 0), "topic_count": counts.get("topic_count", 0),
        "can_be_deleted": False, "can_delete_all_posts": False, "locale": None,
        "muted_category_ids": [], "regular_category_ids": [], "watched_tags": [],
        "watching_first_post_tags": [], "tracked_tags": [], "muted_tags": [],
        "tracked_category_ids": [], "watched_category_ids": [],
        "watched_first_post_category_ids": [], "system_avatar_upload_id": None,
        "system_avatar_template": avatar_template(user), "muted_usernames": [],
        "ignored_usernames": [], "allowed_pm_usernames": [], "mailing_list_posts_per_day": 0,
        "can_change_bio": True, "can_change_location": True, "can_change_website": True,
        "can_change_tracking_preferences": True, "user_api_keys": None,
        "user_auth_tokens": [],
        "user_notification_schedule": {"enabled": False, **{
            f"day_{i}_{k}_time": (480 if k == "start" else 1020) for i in range(7) for k in ("start", "end")}},
        "use_logo_small_as_avatar": False, "featured_user_badge_ids": [], "invited_by": None,
        "groups": [], "group_users": [], "user_option": user_option(user),
    }
    # UserSerializer's "untrusted attributes": omitted when empty or when the profile is hidden.
    if bio_raw:
        u["bio_raw"] = bio_raw
        u["bio_cooked"] = bio_cooked
        u["bio_excerpt"] = _excerpt(bio_cooked)
    if user["hide_profile"] and not me:
        u["profile_hidden"] = True
    return {"user_badges": [], "user": u}


def _excerpt(cooked):
    from .cook import excerpt
    return excerpt(cooked or "")


def user_card(user: dict, viewer: dict | None, settings: dict, bio_cooked: str | None) -> dict:
    """UserCardSerializer: no bio_raw, only a 350-char bio_excerpt."""
    card = {
        **basic_user(user),
        "trust_level": user["trust_level"],
        "moderator": bool(user["moderator"]), "admin": bool(user["admin"]),
        "title": None, "primary_group_name": None, "flair_name": None,
        "last_posted_at": None, "last_seen_at": iso(user["created_at"]),
        "created_at": iso(user["created_at"]),
        "can_send_private_message_to_user": can_send_pm(viewer, settings),
        "website": None, "website_name": None, "location": None,
        "user_fields": {}, "custom_fields": {}, "featured_user_badge_ids": [],
    }
    if bio_cooked and not (user["hide_profile"] and not (viewer and viewer["id"] == user["id"])):
        card["bio_excerpt"] = _excerpt(bio_cooked)
    elif user["hide_profile"]:
        card["profile_hidden"] = True
    return card


def current_user(user: dict, settings: dict) -> dict:
    """CurrentUserSerializer (session/current.json and preload `currentUser`)."""
    return {
        **basic_user(user),
        "admin": bool(user["admin"]), "moderator": bool(user["moderator"]),
        "staff": staff(user), "trust_level": user["trust_level"], "title": None,
        "can_send_private_messages": can_send_pm(user, settings),
        "can_create_topic": True, "can_edit": True,
        "groups": [{"id": 10 + min(user["trust_level"], 4), "name": f"trust_level_{user['trust_level']}"}],
        "custom_fields": {}, "user_option": user_option(user),
        "unread_notifications": 0, "unread_high_priority_notifications": 0,
        "read_first_notification": True, "can_review": staff(user),
    }
