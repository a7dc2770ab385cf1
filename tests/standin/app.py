"""HTTP layer: Discourse's routes, auth (`_t` cookie), CSRF, check_xhr and error envelopes."""
from __future__ import annotations

import json
import re
import secrets
import urllib.parse

from flask import Flask, Response, abort, g, request

from . import pages
from . import serializers as S
from . import views
from .cook import cook
from .errors import ApiError, error, invalid_access, invalid_parameters, not_found, not_logged_in
from .forum import Forum
from .params import as_int, as_str, parse
from .uploads import content_type, is_inline_image, sha1_from_base62

AUTH_COOKIE = "_t"
SESSION_COOKIE = "_forum_session"


def json_response(body, status=200, headers=None) -> Response:
    r = Response(json.dumps(body), status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        r.headers[k] = v
    return r


def wants_json() -> bool:
    """Discourse's check_xhr: `.json` format, an XHR header, or an Accept of JSON."""
    if request.path.endswith(".json"):
        return True
    if request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest":
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def create_app(forum: Forum, server) -> Flask:
    app = Flask(__name__, static_folder=None)
    # nginx's client_max_body_size in Discourse's config/nginx.sample.conf: bigger bodies get 413
    app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024

    # --------------------------------------------------------------------------- plumbing
    @app.before_request
    def load_session():
        g.sid, g.csrf, g.new_session = forum.session_csrf(request.cookies.get(SESSION_COOKIE))
        g.user = forum.user_for_token(request.cookies.get(AUTH_COOKIE))
        g.bad_token = bool(request.cookies.get(AUTH_COOKIE)) and g.user is None
        g.params = parse(request)
        g.nonce = secrets.token_urlsafe(18)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not request.path.startswith("/__hostile/"):
            sent = request.headers.get("X-CSRF-Token") or as_str(g.params.get("authenticity_token"))
            if not sent or not secrets.compare_digest(sent.encode(), g.csrf.encode()):
                # handle_unverified_request: log the user out for this request, plain-text body.
                g.user = None
                return Response('["BAD CSRF"]', status=403, mimetype="text/plain")
        return None

    @app.after_request
    def finish(resp: Response):
        if g.get("new_session"):
            resp.set_cookie(SESSION_COOKIE, g.sid, httponly=True, samesite="Lax", path="/")
        if g.get("user"):
            resp.headers["X-Discourse-Username"] = g.user["username"]
        if g.get("bad_token"):
            resp.headers["Discourse-Logged-Out"] = "1"
        resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        resp.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if forum.settings["content_security_policy"]:
            resp.headers["Content-Security-Policy"] = pages.csp(g.get("nonce", ""))
        resp.headers["Cache-Control"] = "no-cache, no-store"
        return resp

    @app.errorhandler(ApiError)
    def api_error(e: ApiError):
        return json_response(e.body, e.status, e.headers)

    @app.errorhandler(404)
    def not_found_handler(e):
        if wants_json():
            return json_response(not_found().body, 404)
        return pages.shell(forum, server, status=404)

    @app.errorhandler(405)
    def bad_method(e):
        return json_response(not_found().body, 404)

    def require_user():
        if not g.user:
            raise not_logged_in()
        return g.user

    def route(rule, methods=("GET",), xhr=True, login=False):
        """Register `rule` and `rule.json`. Without `.json`/XHR, a request gets the HTML shell (200)."""
        def deco(fn):
            def view(**kw):
                if xhr and not wants_json():
                    return pages.shell(forum, server)
                if login:
                    require_user()
                return fn(**kw)
            view.__name__ = fn.__name__
            app.add_url_rule(rule + ".json", fn.__name__ + "_json", view, methods=list(methods))
            app.add_url_rule(rule, fn.__name__, view, methods=list(methods))
            return fn
        return deco

    # --------------------------------------------------------------------------- session
    @route("/session/csrf")
    def session_csrf():
        return json_response({"csrf": g.csrf})

    @route("/session/current")
    def session_current():
        if not g.user:
            return Response("", status=404)
        return json_response({"current_user": pages.current_user_json(forum, g.user)})

    @route("/session", methods=("POST",))
    def session_create():
        p = g.params
        user = forum.authenticate(as_str(p.get("login")) or "", as_str(p.get("password")) or "")
        if not user:
            # Discourse answers failed logins with 200 and an "error" key.
            return json_response({"error": "Incorrect username, email or password"})
        token = forum.new_auth_token(user["id"])
        g.user = user
        resp = json_response({"user": pages.current_user_json(forum, user)})
        resp.set_cookie(AUTH_COOKIE, token, httponly=True, samesite="Lax", path="/")
        return resp

    @route("/session/<username>", methods=("DELETE",), login=True)
    def session_destroy(username):
        if username.lower() != g.user["username"].lower() and not g.user["admin"]:
            raise invalid_access()
        forum.revoke_tokens(g.user["id"])
        resp = json_response({"success": True, "redirect_url": (forum.settings["base_path"] or "") + "/"})
        resp.delete_cookie(AUTH_COOKIE, path="/")
        return resp

    # --------------------------------------------------------------------------- users
    def target_user(username):
        u = forum.user_by_name(username)
        if not u:
            raise not_found()
        return u

    def can_pm_user(viewer, u):
        """UserSerializer#can_send_private_message_to_user: allowed, and not oneself."""
        return bool(viewer) and viewer["id"] != u["id"] and forum.can_send_private_message(viewer, u)

    def user_json(u):
        viewer = g.user
        bio = forum.bio_for(u, viewer)
        hidden = u["hide_profile"] and not (viewer and (viewer["id"] == u["id"] or S.staff(viewer)))
        if hidden:
            bio = ""
        perms = {"can_send_private_messages": forum.can_send_private_messages(viewer),
                 "can_send_private_message_to_user": can_pm_user(viewer, u),
                 "can_change_bio": forum.can_change_bio()}
        groups = [S.basic_group(gr, len(forum.group_member_ids(gr["id"]))) for gr in forum.user_groups(u["id"])]
        return S.user_full(u, viewer, perms, bio, cook(bio) if bio else None, forum.user_counts(u), groups,
                           forum.composition_mode(u))

    @route("/u/search/users")
    def search_users():
        p = g.params
        if p.get("usernames"):
            rows = [forum.user_by_name(n.strip()) for n in str(p["usernames"]).split(",")]
            rows = [r for r in rows if r]
        else:
            rows = forum.search_users(as_str(p.get("term")) or "", as_int(p.get("limit")) or 6)
        return json_response({"users": [S.basic_user(r) for r in rows], "groups": []})

    @route("/u/<username>/card")
    def user_card(username):
        u = target_user(username)
        bio = forum.bio_for(u, g.user)
        return json_response({"user": S.user_card(u, g.user, can_pm_user(g.user, u), cook(bio) if bio else None)})

    @route("/user-cards")
    def user_cards():
        ids = [i for i in (as_int(x) for x in str(g.params.get("user_ids") or "").split(",")) if i]
        if len(ids) > 50:
            raise error(400, "You can request at most 50 user cards at once.", "invalid_parameters")
        users = [u for u in (forum.user_by_id(i) for i in ids) if u]
        out = []
        for u in users:
            bio = forum.bio_for(u, g.user)
            out.append(S.user_card(u, g.user, can_pm_user(g.user, u), cook(bio) if bio else None))
        return json_response({"users": out})

    @route("/u/<username>", methods=("GET", "PUT"))
    def user_show(username):
        u = target_user(username)
        if request.method == "PUT":
            require_user()
            # UserUpdater: with DiscourseConnect overriding bios, bio_raw is ignored and the
            # answer is still a success.
            forum.update_user(u, g.user, g.params)
            u = forum.user_by_id(u["id"])
            return json_response({"success": "OK", "user": user_json(u)["user"]})
        return json_response(user_json(u))

    # --------------------------------------------------------------------------- posts
    def post_author(post):
        return forum.user_by_id(post["user_id"])

    @route("/posts", methods=("GET", "POST"))
    def posts_collection():
        if request.method == "GET":
            # latest public posts: this forum has none; PMs are never listed here.
            return json_response({"latest_posts": []})
        user = require_user()
        post, topic, seq = forum.create_post(user, g.params)
        body = S.post_for_create(post, topic, user, user, seq, views.post_extra(forum, post))
        # backwards_compatible_json: the bare post unless nested_post is present (not blank)
        nested = g.params.get("nested_post")
        if nested not in (None, "", False, [], {}):
            body = {"action": "create_post", "post": body, "success": True}
        return json_response(body)

    @route("/private-posts", login=True)
    def private_posts():
        rows = forum.private_posts(g.user, as_int(g.params.get("before")))
        out = []
        for r in rows:
            t = forum.topic(r["topic_id"])
            out.append(S.post_for_latest(r, t, post_author(r), g.user))
        return json_response({"private_posts": out})

    def visible_post(post_id):
        post = forum.post(post_id)
        if not post:
            raise not_found()
        topic = forum.visible_topic(post["topic_id"], g.user)
        return post, topic

    @route("/posts/<int:post_id>", methods=("GET", "PUT"))
    def post_show(post_id):
        if request.method == "PUT":
            user = require_user()
            post = forum.edit_post(user, post_id, g.params)
            topic = forum.topic(post["topic_id"])
            body = S.post_for_show(post, topic, post_author(post), user, views.post_extra(forum, post))
            body["draft_sequence"] = forum.draft_sequence(user["id"], f"topic_{topic['id']}")
            return json_response({"post": body})
        post, topic = visible_post(post_id)
        return json_response(S.post_for_show(post, topic, post_author(post), g.user, views.post_extra(forum, post)))

    @route("/posts/<int:post_id>/replies", login=True)
    def post_replies(post_id):
        post, topic = visible_post(post_id)
        rows = forum.replies(post, as_int(g.params.get("after")) or 1)
        return json_response([views.topic_post(forum, r, topic, g.user) for r in rows])

    @route("/posts/<int:post_id>/reply-history", login=True)
    def post_reply_history(post_id):
        post, topic = visible_post(post_id)
        return json_response([views.topic_post(forum, r, topic, g.user) for r in forum.reply_history(post)])

    @route("/topics/timings", methods=("POST",), login=True)
    def topic_timings():
        """TopicsController#timings: the posts the client reports as read."""
        tid = as_int(g.params.get("topic_id"))
        topic = forum.visible_topic(tid, g.user) if tid else None
        timings = g.params.get("timings")
        numbers = [as_int(k) for k in timings] if isinstance(timings, dict) else []
        numbers = [n for n in numbers if n]
        if topic and numbers:
            forum.mark_read(topic["id"], g.user["id"], min(max(numbers), topic["highest_post_number"]))
        return Response("", status=200)

    @route("/posts/by_number/<int:topic_id>/<int:post_number>")
    def post_by_number(topic_id, post_number):
        topic = forum.visible_topic(topic_id, g.user)
        post = next((p for p in forum.posts_in_order(topic["id"]) if p["post_number"] == post_number), None)
        if not post:
            raise not_found()
        return json_response(S.post_for_show(post, topic, post_author(post), g.user, views.post_extra(forum, post)))

    @route("/posts/<int:post_id>/cooked")
    def post_cooked(post_id):
        post, _ = visible_post(post_id)
        return json_response({"cooked": post["cooked"]})

    @app.route("/posts/<int:post_id>/raw")
    def post_raw(post_id):
        post, _ = visible_post(post_id)
        return Response(post["raw"], mimetype="text/plain")

    @route("/posts/<int:post_id>/revisions/<rev>")
    def post_revision(post_id, rev):
        post, topic = visible_post(post_id)
        revs = forum.revisions(post_id)
        if not revs:
            raise not_found()
        if rev == "latest":
            r = revs[-1]
        else:
            r = next((x for x in revs if str(x["number"]) == rev), None)
            if not r:
                raise not_found()
        return json_response(views.revision_json(r, post, topic, forum.user_by_id(r["user_id"]), len(revs)))

    @app.route("/raw/<int:topic_id>/<int:post_number>")
    def raw_post(topic_id, post_number):
        topic = forum.visible_topic(topic_id, g.user)
        post = next((p for p in forum.posts_in_order(topic["id"]) if p["post_number"] == post_number), None)
        if not post:
            raise not_found()
        return Response(post["raw"], mimetype="text/plain")

    @app.route("/raw/<int:topic_id>")
    def raw_topic(topic_id):
        topic = forum.visible_topic(topic_id, g.user)
        blocks = []
        for p in forum.posts_in_order(topic["id"]):
            if p["post_type"] != 1:
                continue
            a = post_author(p)
            blocks.append(f"{a['username']} | {S.iso(p['updated_at'])} | #{p['post_number']}\n\n{p['raw']}")
        return Response("\n\n-------------------------\n\n".join(blocks), mimetype="text/plain")

    # --------------------------------------------------------------------------- topics
    @app.route("/t/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
    def topic_routes(rest):
        """/t/{id}, /t/{slug}/{id}, /t/{id}/{n}, /t/{slug}/{id}/{n}, /t/{id}/posts, invite, remove..."""
        is_json = rest.endswith(".json")
        parts = (rest[:-5] if is_json else rest).strip("/").split("/")
        action = None
        if parts and parts[-1] in ("posts", "invite", "remove-allowed-user", "post_ids"):
            action = parts.pop()
        if parts and not parts[0].isdigit():
            parts = parts[1:]  # slug
        if not parts or not parts[0].isdigit() or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            raise not_found()
        tid = int(parts[0])
        near = int(parts[1]) if len(parts) == 2 else None
        if not wants_json():
            return pages.shell(forum, server, topic_id=tid)
        method = request.method
        if action is None and method == "GET":
            topic = forum.visible_topic(tid, g.user)
            page = as_int(g.params.get("page"))
            return json_response(views.topic_view(forum, topic, g.user, near=near, page=page))
        if action == "posts" and method == "GET":
            topic = forum.visible_topic(tid, g.user)
            return json_response(views.topic_posts(forum, topic, g.user, g.params))
        if action == "post_ids" and method == "GET":
            topic = forum.visible_topic(tid, g.user)
            after = as_int(g.params.get("post_number")) or 0
            ids = [p["id"] for p in forum.posts_in_order(topic["id"]) if p["post_number"] > after]
            return json_response({"post_ids": ids})
        if action == "invite" and method == "POST":
            user = require_user()
            name = as_str(g.params.get("user")) or as_str(g.params.get("usernames")) or ""
            target = forum.invite(user, tid, name)
            return json_response({"user": S.basic_user(target)})
        if action == "remove-allowed-user" and method == "PUT":
            user = require_user()
            forum.remove_allowed_user(user, tid, as_str(g.params.get("username")) or "")
            return json_response({"success": "OK"})
        raise not_found()

    def pm_list(username, kind, group_name=None):
        """ListController: only the user themself or an admin (can_see_private_messages?)."""
        u = target_user(username)
        if g.user["id"] != u["id"] and not g.user["admin"]:
            raise invalid_access()
        raw_page = g.params.get("page")
        page = as_int(raw_page) if raw_page not in (None, "") else 0
        if page is None or not 0 <= page <= 2147483647:
            raise invalid_parameters("page")
        group = forum.group_by_name(group_name) if group_name else None
        if group_name and not group:
            raise not_found()
        return json_response(views.pm_list(forum, u, g.user, kind, page, group))

    def list_view(kind):
        def view(username):
            return pm_list(username, kind)
        view.__name__ = f"pm_{kind}"
        return view

    for _kind, _path in views.LIST_PATHS.items():
        route(f"/topics/{_path}/<username>", login=True)(list_view(_kind))

    @route("/topics/private-messages-group/<username>/<group_name>", login=True)
    def pm_group(username, group_name):
        return pm_list(username, "group", group_name)

    # --------------------------------------------------------------------------- groups
    @route("/groups/<group_name>/members")
    def group_members(group_name):
        """GroupsController#members: a group nobody may see answers 403 like an unknown one
        (guardian.ensure_can_see!(nil)); `limit` (default 50, at most 1000) and `offset` page the
        members, owners first, then by username descending unless `asc`."""
        grp = forum.group_by_name_ci(group_name)
        if not grp or not forum.can_see_group_members(g.user, grp):
            raise invalid_access()
        p = g.params
        limit = as_int(p.get("limit")) if p.get("limit") not in (None, "") else 50
        offset = as_int(p.get("offset")) or 0
        if limit is None or limit < 0 or limit > 1000:
            raise invalid_parameters("limit")
        if offset < 0:
            raise invalid_parameters("offset")
        users = [forum.user_by_id(i) for i in forum.group_member_ids(grp["id"])]
        users.sort(key=lambda u: u["username"].lower(), reverse=not p.get("asc"))
        page = users[offset:offset + limit]
        return json_response({"members": [S.group_user(u) for u in page], "owners": [],
                              "meta": {"total": len(users), "limit": limit, "offset": offset}})

    # --------------------------------------------------------------------------- drafts
    @app.route("/drafts.json", methods=["GET", "POST"])
    @app.route("/drafts", methods=["GET", "POST"])
    def drafts():
        user = require_user()
        p = g.params
        if request.method == "POST":
            seq = forum.save_draft(user, as_str(p.get("draft_key")) or "", p.get("data"), p.get("sequence"),
                                   str(p.get("force_save", "")).lower() == "true", as_str(p.get("owner")))
            return json_response({"success": "OK", "draft_sequence": seq})
        rows = forum.list_drafts(user, as_int(p.get("offset")) or 0, as_int(p.get("limit")) or 30)
        return json_response({"drafts": [views.draft_json(forum, user, r) for r in rows]})

    @app.route("/drafts/<path:key>", methods=["GET", "DELETE"])
    def draft_one(key):
        user = require_user()
        if key.endswith(".json"):
            key = key[:-5]
        if request.method == "DELETE":
            forum.delete_draft(user, key, g.params.get("sequence"))
            return json_response({"success": "OK"})
        row = forum.get_draft(user, key)
        return json_response({"draft": row["data"] if row else None,
                              "draft_sequence": forum.draft_sequence(user["id"], key)})

    # --------------------------------------------------------------------------- uploads
    @route("/uploads", methods=("POST",), login=True)
    def uploads_create():
        """UploadsController#create: multipart `file` (or `files[]`), `upload_type`; the answer is
        the UploadSerializer JSON, or 422 with Discourse's errors."""
        f = request.files.get("file") or next(iter(request.files.getlist("files[]")), None)
        data = f.read() if f is not None else None
        row = forum.create_upload(g.user, data, f.filename if f is not None else None, g.params,
                                  base_path=forum.settings["base_path"] or "")
        return json_response(S.upload(row, request.host_url))

    def refuse_xhr():
        """show / show_short: "do not serve uploads requested via XHR to prevent XSS" (request.xhr?
        matches the X-Requested-With header); then anonymous users get 404 when
        prevent_anons_from_downloading_files is on."""
        if "xmlhttprequest" in request.headers.get("X-Requested-With", "").lower():
            raise invalid_parameters("XHR not allowed")
        if forum.settings["prevent_anons_from_downloading_files"] and not g.user:
            abort(404)

    def send_upload(row):
        """send_file_local_upload: the stored bytes, the type of the stored name, and a download
        (attachment) unless an inline image is asked for with ?inline."""
        name = row["original_filename"]
        disposition = "inline" if is_inline_image(name) and request.args.get("inline") else "attachment"
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "%22")
        headers = {"Content-Disposition": f'{disposition}; filename="{ascii_name}"; '
                                          f"filename*=UTF-8''{urllib.parse.quote(name)}"}
        return Response(row["data"], status=200, mimetype=content_type(name), headers=headers)

    @app.route("/uploads/short-url/<name>")
    def upload_show_short(name):
        m = re.fullmatch(r"([a-zA-Z0-9]+)(?:\.([a-zA-Z0-9._-]+))?", name)
        if not m:
            abort(404)
        refuse_xhr()
        row = forum.uploads.by_sha1(sha1_from_base62(m.group(1)))
        if not row:
            abort(404)
        return send_upload(row)

    def show_original(site, sha):
        refuse_xhr()
        if site != "default":          # RailsMultisite: no such site
            abort(404)
        row = forum.uploads.by_sha1(sha)
        if not row:
            abort(404)
        return send_upload(row)

    @app.route("/uploads/<site>/original/<path:rest>")
    def upload_show(site, rest):
        m = re.fullmatch(r"(?:[a-zA-Z0-9]+/)+([0-9a-fA-F]{40})(?:\.[a-zA-Z0-9._]+)?", rest)
        if not m or not re.fullmatch(r"\w+", site):
            abort(404)
        return show_original(site, m.group(1).lower())

    @app.route("/uploads/<site>/<name>")
    def upload_show_flat(site, name):
        m = re.fullmatch(r"([0-9a-fA-F]{40})(?:\.[a-zA-Z0-9._]+)?", name)
        if not m or not re.fullmatch(r"\w+", site):
            abort(404)
        return show_original(site, m.group(1).lower())

    # --------------------------------------------------------------------------- site
    @route("/site/basic-info")
    def site_basic_info():
        return json_response(views.basic_info(forum))

    # --------------------------------------------------------------------------- assets, hostile
    @app.route("/assets/<name>")
    def asset(name):
        data, mime = pages.asset(name)
        if data is None:
            raise not_found()
        return Response(data, mimetype=mime)

    @app.route("/__hostile/exfil", methods=["POST", "GET", "PUT"])
    def exfil():
        # An attacker-controlled sink: what arrives here is already in the request log.
        return Response("", status=204)

    # --------------------------------------------------------------------------- SPA pages
    for rule in ("/", "/login", "/latest", "/new-message", "/u/<username>/messages",
                 "/u/<username>/messages/<box>", "/u/<username>/messages/group/<group>",
                 "/u/<username>/preferences/profile", "/u/<username>/preferences", "/u/<username>/summary",
                 "/u/<username>/activity"):
        app.add_url_rule(rule, "page_" + rule, lambda **kw: pages.shell(forum, server))

    return app
