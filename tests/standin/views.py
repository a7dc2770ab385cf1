"""Composite JSON views: topic view (TopicViewSerializer), post lists, PM lists (TopicListSerializer),
drafts, revisions, site info."""
from __future__ import annotations

import html
import json

from . import serializers as S
from .forum import CHUNK_SIZE, Forum


def post_extra(forum: Forum, post: dict) -> dict:
    """Per-post data the serializer needs: reply_count, reply_to_user."""
    extra = {"reply_count": forum.reply_count(post) if post["post_type"] == 1 else 0}
    if post["reply_to_post_number"]:
        parent = forum.db.one("SELECT user_id FROM posts WHERE topic_id = ? AND post_number = ?",
                              post["topic_id"], post["reply_to_post_number"])
        u = forum.user_by_id(parent["user_id"]) if parent else None
        if u:
            extra["reply_to_user"] = {"id": u["id"], "username": u["username"], "name": u["name"] or None,
                                      "avatar_template": S.avatar_template(u)}
    return extra


def topic_post(forum: Forum, post: dict, topic: dict, viewer: dict, include_raw=False) -> dict:
    last = forum.last_read(topic["id"], viewer["id"]) or 0
    return S.post_for_topic(post, topic, forum.user_by_id(post["user_id"]), viewer, include_raw=include_raw,
                            extra=post_extra(forum, post), read=post["post_number"] <= last)


def topic_view(forum: Forum, topic: dict, viewer: dict, near: int | None = None, page: int | None = None) -> dict:
    posts = forum.posts_in_order(topic["id"])
    stream = [p["id"] for p in posts]
    start = 0
    if page:
        start = max(0, (page - 1) * CHUNK_SIZE) if page > 0 else 0
    elif near:
        idx = next((i for i, p in enumerate(posts) if p["post_number"] >= near), 0)
        start = max(0, idx - CHUNK_SIZE // 2)
    chunk = posts[start:start + CHUNK_SIZE]
    users = {u: forum.user_by_id(u) for u in {p["user_id"] for p in posts} | {topic["user_id"]}}
    is_staff = S.staff(viewer)
    participants = []
    for uid, u in users.items():
        n = sum(1 for p in posts if p["user_id"] == uid and p["post_type"] == 1)
        if n:
            participants.append({**S.basic_user(u), "post_count": n, "primary_group_name": None,
                                 "flair_name": None, "flair_url": None, "flair_color": None,
                                 "flair_bg_color": None, "flair_group_id": None, "admin": bool(u["admin"]),
                                 "moderator": bool(u["moderator"]), "trust_level": u["trust_level"]})
    creator = users[topic["user_id"]]
    regular = [p for p in posts if p["post_type"] == 1]
    last_poster = users[regular[-1]["user_id"]] if regular else creator
    draft_key = f"topic_{topic['id']}"
    draft = forum.get_draft(viewer, draft_key)
    slug = S.slugify(topic["title"])
    # TopicViewDetailsSerializer: allowed users minus members of the allowed groups, except
    # the current user (newest serializer); allowed groups as BasicGroupSerializer.
    group_members = forum.group_allowed_user_ids(topic["id"])
    allowed = [forum.user_by_id(i) for i in forum.allowed_user_ids(topic["id"])]
    allowed = [u for u in allowed if u and (u["id"] not in group_members or u["id"] == viewer["id"])]
    groups = [forum.db.one("SELECT * FROM groups WHERE id = ?", g) for g in forum.allowed_group_ids(topic["id"])]
    mine = viewer["id"] == topic["user_id"]
    can = {  # the serializer includes a can_* key only when it is true
        "can_move_posts": is_staff, "can_delete": is_staff, "can_edit": mine or bool(viewer["admin"]),
        "can_remove_allowed_users": forum.can_remove_allowed_users(viewer, topic), "can_invite_to": True,
        "can_create_post": True, "can_reply_as_new_topic": False, "can_flag_topic": not mine,
        "can_convert_topic": is_staff, "can_review_topic": is_staff, "can_close_topic": is_staff,
        "can_archive_topic": True, "can_split_merge_topic": is_staff, "can_edit_staff_notes": is_staff,
        "can_toggle_topic_visibility": is_staff, "can_pin_unpin_topic": is_staff,
        "can_moderate_category": is_staff, "can_invite_via_email": False,
    }
    details = {
        "notification_level": 3, "notifications_reason_id": 1 if mine else 2,
        **{k: True for k, v in can.items() if v},
        **({"can_remove_self_id": viewer["id"]} if forum.can_remove_allowed_users(viewer, topic, viewer) else {}),
        "participants": participants,
        "created_by": S.basic_user(creator), "last_poster": S.basic_user(last_poster),
        "allowed_users": [S.basic_user(u) for u in allowed],
        "allowed_groups": [S.basic_group(g, len(forum.group_member_ids(g["id"]))) for g in groups if g],
    }
    last_read = forum.last_read(topic["id"], viewer["id"])
    last_read_post = next((p for p in posts if last_read and p["post_number"] == last_read), None)
    archived = forum.db.one("SELECT 1 FROM user_archived_messages WHERE topic_id = ? AND user_id = ?",
                            topic["id"], viewer["id"])
    return {
        "post_stream": {"posts": [topic_post(forum, p, topic, viewer) for p in chunk], "stream": stream},
        "timeline_lookup": [[1, 0]],
        "related_messages": [],
        "suggested_topics": [],
        "tags": [], "tags_descriptions": {},
        "id": topic["id"], "title": topic["title"], "fancy_title": S.fancy_title(topic["title"]),
        "posts_count": len(posts), "created_at": S.iso(topic["created_at"]), "views": 1,
        "reply_count": max(0, len(regular) - 1), "like_count": 0,
        "last_posted_at": S.iso(posts[-1]["created_at"]) if posts else None,
        "visible": True, "closed": False, "archived": False, "has_summary": False,
        "archetype": topic["archetype"], "slug": slug, "category_id": None, "word_count": 0,
        "deleted_at": None, "user_id": topic["user_id"], "featured_link": None, "pinned_globally": False,
        "pinned_at": None, "pinned_until": None, "image_url": None, "slow_mode_seconds": 0,
        "draft": draft["data"] if draft else None, "draft_key": draft_key,
        "draft_sequence": forum.draft_sequence(viewer["id"], draft_key), "unpinned": None, "pinned": False,
        "posted": any(p["user_id"] == viewer["id"] for p in regular),
        "current_post_number": near or 1,
        "highest_post_number": max((p["post_number"] for p in posts), default=0),
        "last_read_post_number": last_read or 0,
        "last_read_post_id": last_read_post["id"] if last_read_post else None,
        "deleted_by": None, "has_deleted": False, "actions_summary": [], "chunk_size": CHUNK_SIZE,
        "bookmarked": False, "bookmarks": [], "topic_timer": None, "message_bus_last_id": 0,
        "participant_count": len(forum.allowed_user_ids(topic["id"])), "show_read_indicator": False,
        "thumbnails": None, "slow_mode_enabled_until": None, "message_archived": bool(archived),
        "pm_with_non_human_user": False, "requested_group_name": None, "tags_disable_ads": False,
        "details": details,
    }


def topic_posts(forum: Forum, topic: dict, viewer: dict, params: dict) -> dict:
    posts = forum.posts_in_order(topic["id"])
    ids = params.get("post_ids")
    if ids is not None:
        wanted = {int(x) for x in (ids if isinstance(ids, list) else [ids]) if str(x).isdigit()}
        sel = [p for p in posts if p["id"] in wanted]
    elif params.get("post_number"):
        n = int(params["post_number"]) if str(params["post_number"]).isdigit() else 0
        asc = str(params.get("asc", "")).lower() == "true"
        sel = [p for p in posts if (p["post_number"] > n if asc else p["post_number"] < n)]
        sel = sel[:CHUNK_SIZE] if asc else sel[-CHUNK_SIZE:]
    else:
        sel = posts[:CHUNK_SIZE]
    include_raw = str(params.get("include_raw", "")).lower() == "true"
    return {"post_stream": {"posts": [topic_post(forum, p, topic, viewer, include_raw=include_raw) for p in sel]},
            "id": topic["id"]}


# ------------------------------------------------------------------------------ PM lists

LIST_PATHS = {"inbox": "private-messages", "sent": "private-messages-sent", "archive": "private-messages-archive",
              "new": "private-messages-new", "unread": "private-messages-unread"}


def pm_list(forum: Forum, owner: dict, viewer: dict, kind: str, page: int, group: dict | None = None) -> dict:
    """ListController#private_messages* → TopicListSerializer."""
    topics = forum.pm_list(owner, kind, page, group)
    users: dict[int, dict] = {}
    out = []
    for t in topics:
        posts = forum.posts_in_order(t["id"])
        allowed = forum.allowed_user_ids(t["id"])
        for uid in allowed + [t["user_id"]]:
            users.setdefault(uid, forum.user_by_id(uid))
        regular = [p for p in posts if p["post_type"] == 1]
        last = regular[-1] if regular else None
        if last:
            users.setdefault(last["user_id"], forum.user_by_id(last["user_id"]))
        highest = max((p["post_number"] for p in posts), default=0)
        read = forum.last_read(t["id"], owner["id"])
        out.append({
            "id": t["id"], "title": t["title"], "fancy_title": S.fancy_title(t["title"]),
            "slug": S.slugify(t["title"]), "posts_count": len(posts), "reply_count": max(0, len(regular) - 1),
            "highest_post_number": highest, "image_url": None,
            "created_at": S.iso(t["created_at"]), "last_posted_at": S.iso(last["created_at"]) if last else None,
            "bumped": True, "bumped_at": S.iso(t["bumped_at"]), "archetype": "private_message",
            "unseen": read is None, "last_read_post_number": read or 0,
            "unread_posts": max(0, highest - read) if read is not None else 0,
            "pinned": False, "unpinned": None, "visible": True, "closed": False,
            "archived": False, "notification_level": 3, "bookmarked": False, "liked": False, "views": 1,
            "like_count": 0, "has_summary": False, "bookmarks": [],
            "last_poster_username": users[last["user_id"]]["username"] if last else users[t["user_id"]]["username"],
            "category_id": None, "pinned_globally": False, "featured_link": None,
            "allowed_user_count": len(allowed),
            "posters": [{"extras": "latest single", "description": "Original Poster, Most Recent Poster",
                         "user_id": t["user_id"], "primary_group_id": None}],
            "participants": [{"extras": "", "description": None, "user_id": uid, "primary_group_id": None}
                             for uid in allowed if uid != t["user_id"]],
        })
    key = "new_private_message"
    draft = forum.get_draft(viewer, key)
    per_page = int(forum.settings["pm_page_size"])
    topic_list = {"can_create_topic": True, "draft": draft["data"] if draft else None, "draft_key": key,
                  "draft_sequence": forum.draft_sequence(viewer["id"], key), "per_page": per_page, "topics": out}
    if len(out) == per_page:
        # topics_<action>_path(username:, page: page+1) with ".json?" turned into "?"
        base = forum.settings["base_path"]
        if kind == "group":
            path = f"{base}/topics/private-messages-group/{owner['username']}/{group['name']}"
        else:
            path = f"{base}/topics/{LIST_PATHS[kind]}/{owner['username']}"
        topic_list["more_topics_url"] = f"{path}?page={page + 1}"
    return {"users": [S.basic_user(u) for u in users.values() if u], "primary_groups": [],
            "topic_list": topic_list}


def draft_json(forum: Forum, user: dict, row: dict) -> dict:
    try:
        data = json.loads(row["data"])
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    key = row["draft_key"]
    topic_id = int(key[6:]) if key.startswith("topic_") and key[6:].isdigit() else None
    return {
        "draft_key": key, "sequence": row["sequence"], "data": row["data"],
        "excerpt": str(data.get("reply", ""))[:300], "created_at": S.iso(row["created_at"]),
        "updated_at": S.iso(row["updated_at"]), "topic_id": topic_id, "title": data.get("title"),
        "archetype": "private_message" if key == "new_private_message" or topic_id else "regular",
        "username": user["username"], "name": user["name"], "user_id": user["id"],
        "avatar_template": S.avatar_template(user),
    }


def revision_json(rev: dict, post: dict, topic: dict, editor: dict, count: int) -> dict:
    diff = (f'<table class="markdown"><tr><td class="diff-del">{html.escape(rev["raw_before"])}</td>'
            f'<td class="diff-ins">{html.escape(rev["raw_after"])}</td></tr></table>')
    return {
        "created_at": S.iso(rev["created_at"]), "post_id": post["id"], "previous_hidden": False,
        "current_hidden": False, "first_revision": 2, "previous_revision": rev["number"] - 1 if rev["number"] > 2 else None,
        "current_revision": rev["number"], "next_revision": rev["number"] + 1 if rev["number"] < count + 1 else None,
        "last_revision": count + 1, "current_version": rev["number"], "version_count": count + 1,
        "username": editor["username"], "display_username": editor["name"],
        "avatar_template": S.avatar_template(editor), "edit_reason": post["edit_reason"],
        "body_changes": {"inline": diff, "side_by_side": diff, "side_by_side_markdown": diff},
        "title_changes": None, "user_changes": None, "wiki": False, "post_type": post["post_type"],
        "can_edit": True, "topic_id": topic["id"],
    }


def basic_info(forum: Forum) -> dict:
    return {"logo_url": "", "logo_small_url": "", "apple_touch_icon_url": "", "favicon_url": "",
            "title": forum.settings["title"], "description": "A Discourse stand-in for tests",
            "header_primary_color": "222222", "header_background_color": "ffffff",
            "login_required": False, "locale": "en", "include_in_discourse_discover": False,
            "mobile_logo_url": ""}
