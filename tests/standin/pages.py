"""The HTML app shell: head metas (generator, csrf, discourse-base-uri), preloaded data, CSP."""
from __future__ import annotations

import html
import json
from pathlib import Path

from flask import Response, g, request

from . import serializers as S
from .forum import Forum
from .views import topic_view

STATIC = Path(__file__).parent / "static"
_MIME = {".js": "text/javascript", ".css": "text/css"}

# Client-visible site settings exposed in the preload (a subset of Discourse's).
CLIENT_SETTINGS = ("min_personal_message_post_length", "min_personal_message_title_length", "max_post_length",
                   "max_topic_title_length", "max_allowed_message_recipients", "title", "rich_editor",
                   "suppress_reply_directly_below", "suppress_reply_directly_above",
                   "enable_discourse_connect", "discourse_connect_overrides_bio",
                   # uploads: `client: true` in site_settings.yml (max_image_megapixels is not)
                   "authorized_extensions", "authorized_extensions_for_staff", "max_image_size_kb",
                   "max_attachment_size_kb", "max_image_width", "max_image_height",
                   "allow_staff_to_upload_any_file_in_pm", "prevent_anons_from_downloading_files")


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
        "standin": {"draft_autosave_ms": st["draft_autosave_ms"], "draft_immediate_ms": st["draft_immediate_ms"],
                    "cloaking": bool(st["cloaking"])},
    }
    if user:
        preload["currentUser"] = current_user_json(forum, user)
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
    # application_helper.rb html_classes: the server's first guess comes from the user agent
    # (lib/mobile_detection.rb: "Mobile" and not "iPad"); the client then decides by width.
    ua = request.headers.get("User-Agent", "")
    view = "mobile-view mobile-device" if "Mobile" in ua and "iPad" not in ua else "desktop-view not-mobile-device"
    base = st["base_path"]
    # _head.html.erb: the base-uri meta exists only on subfolder installs
    base_meta = f'<meta name="discourse-base-uri" content="{html.escape(base)}">\n' if base else ""
    page = f"""<!DOCTYPE html>
<html lang="en" class="{view} {'dark-scheme' if theme == 'dark' else 'light-scheme'}">
<head>
<meta name="generator" content="Discourse {st['discourse_version']} - https://github.com/discourse/discourse version {st['discourse_sha']}">
{base_meta}<meta charset="utf-8">
<title>{html.escape(st['title'])}</title>
<meta name="csrf-param" content="authenticity_token">
<meta name="csrf-token" content="{html.escape(g.csrf)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{base}/assets/app.css">
<script id="data-preloaded" type="application/json">{_script_json(preloaded)}</script>
{injected}<script nonce="{nonce}" src="{base}/assets/app.js" defer></script>
</head>
<body class="{' '.join(body_classes)}">
<section id="main">
<header class="d-header"><div class="wrap"><a class="title" href="{base}/">{html.escape(st['title'])}</a>
<span class="header-user"></span></div></header>
<div id="main-outlet"><noscript>This forum needs JavaScript.</noscript></div>
</section>
<div id="reply-control" class="closed"></div>
</body>
</html>"""
    return Response(page, status=status, mimetype="text/html")




def current_user_json(forum: Forum, user: dict) -> dict:
    return S.current_user(user, forum.can_send_private_messages(user), forum.user_groups(user["id"]),
                          forum.composition_mode(user), forum.user_counts(user))
