"""The HTML app shell (head metas, preloaded data, CSP) and the composite JSON views."""
from __future__ import annotations

import html
import json
from pathlib import Path

from flask import Response, g, request

from . import serializers as S
from .forum import CHUNK_SIZE, Forum

STATIC = Path(__file__).parent / "static"
_MIME = {".js": "text/javascript", ".css": "text/css"}

# Client-visible site settings exposed in the preload (a subset of Discourse's).
CLIENT_SETTINGS = ("min_personal_message_post_length", "min_personal_message_title_length", "max_post_length",
                   "max_topic_title_length", "max_allowed_message_recipients", "title")


def csp(nonce: str) -> str:
    """ContentSecurityPolicy::Default (spec §7): nonce + 'strict-dynamic', no default-src/frame-src."""
    return ("base-uri 'self'; object-src 'none'; "
            f"script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; "
            "worker-src 'self' blob:; manifest-src 'self'; frame-ancestors 'self'")


def asset(name: str):
    p = STATIC / name
    if "/" in name or not p.is_file():
        return None, None
    return p.read_bytes(), _MIME.get(p.suffix, "application/octet-stream")


def _script_json(value) -> str:
    """JSON safe to place inside <script type="application/json">."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def shell(forum: Forum, server, status: int = 200, topic_id: int | None = None) -> Response:
    st = forum.settings
    user = g.get("user")
    theme = request.args.get("theme") or (user["theme"] if user else "light")
    if theme not in ("light", "dark"):
        theme = "light"
    preload = {
        "site": {"default_archetype": "regular", "can_create_tag": False},
        "siteSettings": {k: st[k] for k in CLIENT_SETTINGS},
        "isReadOnly": False,
        "customHTML": {},
        "banner": {},
        "standin": {"draft_autosave_ms": st["draft_autosave_ms"], "cloaking": bool(st["cloaking"])},
    }
    if user:
        preload["currentUser"] = S.current_user(user, st)
    if topic_id and user:
        t = forum.topic(topic_id)
        if t and forum.can_see(t, user):
            preload[f"topic_{topic_id}"] = topic_view(forum, t, user)
    # Like Discourse's store_preloaded: every value is itself a JSON string.
    preloaded = {k: json.dumps(v) for k, v in preload.items()}
    nonce = g.get("nonce", "")
    # Inline like a theme component's <script>; "</script" inside the source would end the element early.
    sources = [js.replace("</script", "<\\/script") for js in server.injected_scripts()]
    injected = "".join(f'<script nonce="{nonce}">\n{js}\n</script>\n' for js in sources)
    body_classes = ["standin", f"theme-{theme}"]
    page = f"""<!DOCTYPE html>
<html lang="en" class="desktop-view not-mobile-device {'dark-scheme' if theme == 'dark' else 'light-scheme'}">
<head>
<meta name="generator" content="Discourse {st['discourse_version']} - https://github.com/discourse/discourse version {st['discourse_sha']}">
<meta charset="utf-8">
<title>{html.escape(st['title'])}</title>
<meta name="csrf-param" content="authenticity_token">
<meta name="csrf-token" content="{html.escape(g.csrf)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script id="data-preloaded" type="application/json">{_script_json(preloaded)}</script>
{injected}<script nonce="{nonce}" src="/assets/app.js" defer></script>
</head>
<body class="{' '.join(body_classes)}">
<section id="main">
<header class="d-header"><div class="wrap"><a class="title" href="/">{html.escape(st['title'])}</a>
<span class="header-user"></span></div></header>
<div id="main-outlet"><noscript>This forum needs JavaScript.</noscript></div>
</section>
<div id="reply-control" class="closed"></div>
</body>
</html>"""
    return Response(page, status=status, mimetype="text/html")


# ------------------------------------------------------------------------------ JSON views

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
    allowed = [forum.user_by_id(i) for i in forum.allowed_user_ids(topic["id"])]
    creator = users[topic["user_id"]]
    last = users[posts[-1]["user_id"]] if posts else creator
    is_staff = S.staff(viewer)
    participants = []
    for uid, u in users.items():
        n = sum(1 for p in posts if p["user_id"] == uid and p["post_type"] == 1)
        if n:
            participants.append({**S.basic_user(u), "post_count": n, "primary_group_name": None,
                                 "flair_name": None, "flair_url": None, "flair_color": None,
                                 "flair_bg_color": None, "flair_group_id": None, "admin": bool(u["admin"]),
                                 "moderator": bool(u["moderator"]), "trust_level": u["trust_level"]})
    draft_key = f"topic_{topic['id']}"
    draft = forum.get_draft(viewer, draft_key)
    slug = S.slugify(topic["title"])
    return {
        "post_stream": {"posts": [S.post_for_topic(p, topic, users[p["user_id"]], viewer) for p in chunk],
                        "stream": stream},
        "timeline_lookup": [[1, 0]],
        "suggested_topics": [],
        "tags": [], "tags_descriptions": {},
        "id": topic["id"], "title": topic["title"], "fancy_title": html.escape(topic["title"], quote=False),
        "posts_count": len(posts), "created_at": S.iso(topic["created_at"]), "views": 1,
        "reply_count": max(0, len(posts) - 1), "like_count": 0,
        "last_posted_at": S.iso(posts[-1]["created_at"]) if posts else None,
        "visible": False, "closed": False, "archived": False, "has_summary": False,
        "archetype": topic["archetype"], "slug": slug, "category_id": 0, "word_count": None,
        "deleted_at": None, "user_id": topic["user_id"], "featured_link": None, "pinned_globally": False,
        "pinned_at": None, "pinned_until": None, "image_url": None, "slow_mode_seconds": 0,
        "draft": draft["data"] if draft else None, "draft_key": draft_key,
        "draft_sequence": forum.draft_sequence(viewer["id"], draft_key), "unpinned": None, "pinned": False,
        "current_post_number": near or 1,
        "highest_post_number": max((p["post_number"] for p in posts), default=0),
        "deleted_by": None, "has_deleted": False, "actions_summary": [], "chunk_size": CHUNK_SIZE,
        "bookmarked": False, "bookmarks": [], "topic_timer": None, "message_bus_last_id": 0,
        "participant_count": len(allowed), "show_read_indicator": False, "thumbnails": None,
        "slow_mode_enabled_until": None,
        "details": {
            "can_edit": viewer["id"] == topic["user_id"] or bool(viewer["admin"]),
            "notification_level": 3, "can_move_posts": is_staff, "can_delete": is_staff,
            "can_remove_allowed_users": viewer["id"] == topic["user_id"] or is_staff,
            "can_invite_to": True, "can_create_post": True, "can_reply_as_new_topic": False,
            "can_convert_topic": is_staff, "can_review_topic": is_staff, "can_close_topic": is_staff,
            "can_archive_topic": True, "can_split_merge_topic": is_staff, "can_edit_staff_notes": is_staff,
            "can_toggle_topic_visibility": is_staff, "can_pin_unpin_topic": is_staff,
            "can_moderate_category": is_staff, "can_remove_self_id": viewer["id"],
            "participants": participants,
            "created_by": S.basic_user(creator), "last_poster": S.basic_user(last),
            # PM-only (TopicViewDetailsSerializer): who has access
            "allowed_users": [S.basic_user(u) for u in allowed if u],
            "allowed_groups": [],
        },
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
    return {"post_stream": {"posts": [S.post_for_topic(p, topic, forum.user_by_id(p["user_id"]), viewer,
                                                       include_raw=include_raw) for p in sel]},
            "id": topic["id"]}


def pm_list(forum: Forum, owner: dict, viewer: dict, topics: list[dict]) -> dict:
    users: dict[int, dict] = {}
    out = []
    for t in topics:
        posts = forum.posts_in_order(t["id"])
        allowed = forum.allowed_user_ids(t["id"])
        for uid in allowed + [t["user_id"]]:
            users.setdefault(uid, forum.user_by_id(uid))
        last = posts[-1] if posts else None
        out.append({
            "id": t["id"], "title": t["title"], "fancy_title": html.escape(t["title"], quote=False),
            "slug": S.slugify(t["title"]), "posts_count": len(posts), "reply_count": max(0, len(posts) - 1),
            "highest_post_number": max((p["post_number"] for p in posts), default=0), "image_url": None,
            "created_at": S.iso(t["created_at"]), "last_posted_at": S.iso(last["created_at"]) if last else None,
            "bumped": True, "bumped_at": S.iso(t["bumped_at"]), "archetype": "private_message",
            "unseen": False, "last_read_post_number": max((p["post_number"] for p in posts), default=0),
            "unread_posts": 0, "pinned": False, "unpinned": None, "visible": False, "closed": False,
            "archived": False, "notification_level": 3, "bookmarked": False, "liked": False, "views": 1,
            "like_count": 0, "has_summary": False,
            "last_poster_username": users.setdefault(last["user_id"], forum.user_by_id(last["user_id"]))["username"]
            if last else users[t["user_id"]]["username"],
            "category_id": None, "pinned_globally": False, "featured_link": None,
            "allowed_user_count": len(allowed),
            "posters": [{"extras": "latest single", "description": "Original Poster, Most Recent Poster",
                         "user_id": t["user_id"], "primary_group_id": None}],
            "participants": [{"extras": "", "description": None, "user_id": uid, "primary_group_id": None}
                             for uid in allowed if uid != t["user_id"]],
        })
    key = "new_private_message"
    draft = forum.get_draft(viewer, key)
    return {
        "users": [S.basic_user(u) for u in users.values() if u],
        "primary_groups": [],
        "topic_list": {"can_create_topic": True, "draft": draft["data"] if draft else None, "draft_key": key,
                       "draft_sequence": forum.draft_sequence(viewer["id"], key), "per_page": 30,
                       "topics": out},
    }


def draft_json(forum: Forum, user: dict, row: dict) -> dict:
    try:
        data = json.loads(row["data"])
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    key = row["draft_key"]
    topic_id = int(key[6:]) if key.startswith("topic_") and key[6:].isdigit() else None
    return {
        "draft_key": key, "sequence": forum.draft_sequence(user["id"], key), "data": row["data"],
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
