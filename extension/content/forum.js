// Encrypt for Discourse content script, part 1: the forum's HTTP client and the forum operations
// the extension's frames and pages ask for (through the router, message content.forum).
//
// Runs in the content script's isolated world, on forums the user enabled. Requests go to the
// forum with the user's session cookie and CSRF token; what goes out and comes back is public
// data and ciphertext only (post raws, bios, usernames, ids). Exposes one object to
// content/page.js, `globalThis.EFD_FORUM` (the page world cannot see it).
(() => {
  "use strict";
  if (globalThis.EFD_FORUM) return;
  const C = globalThis.EFD_CONSTANTS;
  const P = globalThis.EFD_MESSAGES.patterns;
  // The forum's base path ("" or e.g. "/forum"): as the server wrote it (content/early.js), or
  // read from the document when this script started too late to know. Only a plain path is
  // accepted, so no page-written value can send our requests (with the CSRF token) elsewhere.
  const early = globalThis.EFD_EARLY && globalThis.EFD_EARLY.baseUri();
  const written = early !== null && early !== undefined ? early
    : String((document.querySelector('meta[name="discourse-base-uri"]') || {}).content || "");
  const BASE = /^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?$/.test(written) ? written.replace(/\/+$/, "") : "";
  // Every request goes to this origin, under BASE.
  function forumUrl(path) {
    const url = new URL(BASE + path, location.origin);
    if (url.origin !== location.origin) throw new ForumError("refused", "not a request to this forum");
    return url.href;
  }

  class ForumError extends Error {
    constructor(code, message) { super(message); this.code = code; }
  }

  // ------------------------------------------------------------------ HTTP
  let csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function ajax(method, path, data, retried = false) {
    const headers = { "X-Requested-With": "XMLHttpRequest", Accept: "application/json" };
    const opts = { method, credentials: "same-origin", headers, cache: "no-store" };
    if (method !== "GET") {
      if (!csrf) await refreshCsrf();
      headers["X-CSRF-Token"] = csrf;
    }
    if (data instanceof FormData) {
      opts.body = data;   // multipart: the browser writes the Content-Type with its boundary
    } else if (data) {
      const body = new URLSearchParams();
      for (const [k, v] of Object.entries(data)) {
        if (Array.isArray(v)) for (const x of v) body.append(k, String(x));
        else if (v !== undefined && v !== null) body.append(k, String(v));
      }
      opts.body = body;
      headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8";
    }
    let r;
    try {
      r = await fetch(forumUrl(path), opts);
    } catch (e) {
      throw new ForumError("offline", "the forum could not be reached (offline?)");
    }
    const text = await r.text();
    if (r.status === 403 && text === '["BAD CSRF"]' && !retried) {
      await refreshCsrf();
      return ajax(method, path, data, true);
    }
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (r.status === 429) {
      const ra = parseInt(r.headers.get("Retry-After") || (json && json.extras && json.extras.wait_seconds) || "5", 10);
      throw new ForumError("rate_limited", `the forum asks to slow down (retry after ${Number.isFinite(ra) ? ra : 5} s)`);
    }
    if (r.status >= 500) throw new ForumError("server_error", `the forum answered ${r.status} (retry later)`);
    if (!r.ok) {
      // Discourse's own words name the cause (blocked words, trust level, a recipient who does
      // not accept PMs, the daily PM limit, too many recipients), in the forum's language.
      // (The extension's own words for a refusal are the forbidden and forum_refused messages.)
      const msg = json && Array.isArray(json.errors) ? json.errors.join(" ") : (json && json.error) || `HTTP ${r.status}`;
      throw new ForumError(r.status === 404 ? "not_found" : r.status === 403 ? "forbidden" : "forum_refused", String(msg).slice(0, 500));
    }
    return json;
  }

  async function refreshCsrf() {
    const r = await fetch(forumUrl("/session/csrf.json"), { credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest", Accept: "application/json" } });
    csrf = (await r.json()).csrf || "";
  }

  // ------------------------------------------------------------------ current user
  let me = null;   // from /session/current.json, once known
  async function currentUser() {
    if (me) return me;
    try {
      const j = await ajax("GET", "/session/current.json");
      me = j && j.current_user ? j.current_user.username : null;
    } catch (_) { me = null; }
    return me;
  }
  async function requireUser() {
    const u = await currentUser();
    if (!u) throw new ForumError("not_logged_in", "log in to the forum first");
    return u;
  }

  // ------------------------------------------------------------------ topics, for this page view
  // Every viewer of a topic needs the raws of its posts: they are fetched once per page view and
  // shared. A cached topic is dropped on navigation (newPageView) and after our own post or
  // invite in it, and refetched when someone asks for a post it does not hold yet.
  const topics = new Map();   // topic_id -> Promise<topic>

  async function fetchTopic(topicId) {
    const t = await ajax("GET", `/t/${topicId}.json`);
    const ids = (t.post_stream && t.post_stream.stream) || [];
    const posts = [];
    for (let i = 0; i < ids.length; i += 50) {
      const chunk = ids.slice(i, i + 50);
      const q = chunk.map((id) => "post_ids[]=" + encodeURIComponent(id)).join("&");
      const j = await ajax("GET", `/t/${topicId}/posts.json?${q}&include_raw=true`);
      for (const p of (j.post_stream && j.post_stream.posts) || []) {
        posts.push({ post_id: p.id, post_number: p.post_number, username: p.username,
          raw: typeof p.raw === "string" ? p.raw : "", post_type: p.post_type, created_at: p.created_at });
      }
    }
    posts.sort((a, b) => a.post_number - b.post_number);
    // Discourse's allowed_users leaves out those who take part through an allowed group
    // (topic_view_details_serializer.rb): their members are participants too.
    const participants = ((t.details && t.details.allowed_users) || []).map((u) => u.username);
    const groups = [];
    for (const g of (t.details && t.details.allowed_groups) || []) {
      if (!g || typeof g.name !== "string") continue;
      let members = [];
      try { members = await groupMembers(g.name); } catch (_) { /* members hidden from me */ }
      groups.push({ name: g.name, members });
      for (const m of members) {
        if (participants.length >= MAX_GROUP_MEMBERS) break;
        if (!participants.some((p) => p.toLowerCase() === m.toLowerCase())) participants.push(m);
      }
    }
    return { topic_id: topicId, archetype: t.archetype, posts, participants, groups };
  }

  // GroupsController#members pages by limit/offset (meta.total): every member, up to a bound.
  const MEMBERS_PER_REQUEST = 200;
  const MAX_GROUP_MEMBERS = 1000;
  async function groupMembers(name) {
    const out = [];
    for (let offset = 0; offset < MAX_GROUP_MEMBERS; offset += MEMBERS_PER_REQUEST) {
      const j = await ajax("GET", `/groups/${encodeURIComponent(name)}/members.json?limit=${MEMBERS_PER_REQUEST}&offset=${offset}&asc=true`);
      const page = ((j && j.members) || []).map((m) => m && m.username).filter((u) => typeof u === "string");
      out.push(...page);
      const total = j && j.meta && Number.isInteger(j.meta.total) ? j.meta.total : 0;
      if (!page.length || out.length >= total) break;
    }
    return out;
  }

  function loadTopic(topicId) {
    const promise = fetchTopic(topicId);
    topics.set(topicId, promise);
    promise.catch(() => { if (topics.get(topicId) === promise) topics.delete(topicId); });
    return promise;
  }

  async function topic(topicId, postId = null) {
    const cached = topics.get(topicId);
    if (!cached) return loadTopic(topicId);
    const t = await cached;
    if (postId === null || postId === undefined || t.posts.some((p) => p.post_id === postId)) return t;
    // A post newer than the cached topic: one refetch serves everyone who asks meanwhile.
    const current = topics.get(topicId);
    if (current && current !== cached) return current;
    return loadTopic(topicId);
  }

  function forgetTopic(topicId) { topics.delete(topicId); }

  async function postPm(fields) {
    const j = await ajax("POST", "/posts.json", { ...fields, typing_duration_msecs: 6000, composer_open_duration_msecs: 12000 });
    if (j && j.action === "enqueued") throw new ForumError("enqueued", "the forum queued the post for approval by a moderator");
    const post = j && j.post ? j.post : j;
    if (!post || !post.id) throw new ForumError("forum_refused", "the forum did not return a post");
    forgetTopic(post.topic_id);
    return { post_id: post.id, topic_id: post.topic_id, post_number: post.post_number };
  }

  // ------------------------------------------------------------------ users (public bios)
  const users = new Map();    // lower-cased username -> {at, promise}

  // ------------------------------------------------------------------ PM lists
  // Discourse's PM lists are paged (lib/topic_query.rb: 30 per page, 0-based ?page=, and
  // topic_list.more_topics_url only while a page is full): every page, up to a bound.
  const MAX_LIST_PAGES = 60;
  async function* pmTopics(path, maxPages = MAX_LIST_PAGES) {
    for (let page = 0; page < Math.min(maxPages, MAX_LIST_PAGES); page++) {
      const j = await ajax("GET", page ? `${path}?page=${page}` : path);
      const list = (j && j.topic_list) || {};
      for (const t of list.topics || []) yield t;
      if (!list.more_topics_url || !(list.topics || []).length) return;
    }
  }

  // ------------------------------------------------------------------ attachment carriers
  // What this script uploads for an encrypted attachment is a carrier (PROTOCOL §11): a PNG of
  // ciphertext, greyscale at 1 bit per pixel, CARRIER_WIDTH wide. Anything else is refused, so a
  // file's own bytes never reach the forum from here.
  const A = C.ATTACHMENTS;
  const SHORT_URL = new RegExp(`^${A.SHORT_URL_PATTERN}$`);
  const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const PNG_SIGNATURE_BASE64 = "iVBORw0KGgo";   // the base64 of PNG_SIGNATURE's first 8 bytes

  function fromBase64(text) {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function isCarrier(png) {
    if (png.length < 33 || PNG_SIGNATURE.some((b, i) => png[i] !== b)) return false;
    const ihdr = new DataView(png.buffer, png.byteOffset + 8, 25);
    const kind = String.fromCharCode(png[12], png[13], png[14], png[15]);
    return kind === "IHDR" && ihdr.getUint32(0) === 13 && ihdr.getUint32(8) === A.CARRIER_WIDTH &&
      png[24] === 1 && png[25] === 0 && png[28] === 0;   // bit depth 1, greyscale, not interlaced
  }

  // ------------------------------------------------------------------ operations
  // Each operation: public data and ciphertext in, public data and ciphertext out. The router
  // validated the arguments (common/messages.js FORUM_OPS); what is posted is checked again here.
  const OPS = {
    async me() { return { username: await currentUser(), base: BASE }; },
    async user({ username }) {
      // Several viewers ask for the same bios at once: share one request for a few seconds.
      const k = username.toLowerCase();
      const hit = users.get(k);
      if (hit && Date.now() - hit.at < 5000) return hit.promise;
      const promise = ajax("GET", `/u/${encodeURIComponent(username)}.json`).then((j) => {
        const u = (j && j.user) || {};
        return { username: u.username || username, bio_raw: typeof u.bio_raw === "string" ? u.bio_raw : null };
      });
      users.set(k, { at: Date.now(), promise });
      promise.catch(() => users.delete(k));
      return promise;
    },
    async search_users({ term }) {
      const j = await ajax("GET", `/u/search/users.json?term=${encodeURIComponent(term)}&include_groups=false`);
      return { users: ((j && j.users) || []).slice(0, 20).map((u) => ({ username: u.username, name: u.name || "" })) };
    },
    async topic({ topic_id, post_id }) { return topic(topic_id, post_id ?? null); },
    // A name that is no user may be a group: its members, or "not_found" when it is none I can see.
    async group_members({ name }) {
      try {
        return { name, members: await groupMembers(name) };
      } catch (e) {
        if (e.code === "forbidden" || e.code === "not_found") throw new ForumError("not_found", `there is no user or group named ${name}`);
        throw e;
      }
    },
    // A viewer's own post, from the page view's topic: each frame gets one raw, not the whole
    // topic (which would cost every frame of a long topic the raws of all the others).
    async post({ topic_id, post_id }) {
      const t = await topic(topic_id, post_id);
      const post = t.posts.find((p) => p.post_id === post_id);
      if (!post) throw new ForumError("not_found", "this post is not in the topic");
      return { topic_id, post };
    },
    async create_pm({ title, raw, target_recipients }) {
      if (![C.PLACEHOLDER_TITLE, C.FALLBACK_TITLE].includes(title) || !P.message.test(raw)) {
        throw new ForumError("refused", "only ciphertext can be posted");
      }
      return postPm({ archetype: "private_message", title, raw, target_recipients });
    },
    async reply({ topic_id, raw }) {
      if (!P.message.test(raw)) throw new ForumError("refused", "only ciphertext can be posted");
      return postPm({ topic_id, raw });
    },
    // Discourse's edit (PostsController#update: the fields nested under post, and a 409 when
    // original_text is no longer the post's raw); the old raw stays in Discourse's revisions.
    async edit_post({ post_id, raw, original_raw }) {
      if (!P.message.test(raw)) throw new ForumError("refused", "only ciphertext can be posted");
      const j = await ajax("PUT", `/posts/${post_id}.json`, { "post[raw]": raw, "post[original_text]": original_raw });
      const post = j && j.post;
      if (!post || post.id !== post_id) throw new ForumError("forum_refused", "the forum did not return the post");
      forgetTopic(post.topic_id);
      return { post_id: post.id, topic_id: post.topic_id, post_number: post.post_number };
    },
    async invite({ topic_id, user }) {
      const j = await ajax("POST", `/t/${topic_id}/invite.json`, { user });
      forgetTopic(topic_id);
      return { user: (j && j.user && j.user.username) || user };
    },
    // TopicsController#remove_allowed_user: the PM's creator or staff may remove anyone, anyone
    // may remove themself; Discourse answers 422 otherwise.
    async remove_allowed_user({ topic_id, username }) {
      await ajax("PUT", `/t/${topic_id}/remove-allowed-user.json`, { username });
      forgetTopic(topic_id);
      return { username };
    },
    // UploadsController#create (multipart `file`, an upload type, the CSRF token). Never `pasted`:
    // that makes Discourse try a JPEG conversion. The short url names the stored file; a forum
    // that converted the carrier answers another extension, which stops the send.
    async upload_carrier({ png }) {
      const bytes = fromBase64(png);
      if (!isCarrier(bytes)) throw new ForumError("refused", "only an encrypted attachment's carrier can be uploaded");
      const form = new FormData();
      form.append("upload_type", "composer");
      form.append("for_private_message", "true");
      form.append("file", new Blob([bytes], { type: "image/png" }), A.CARRIER_FILENAME);
      const j = await ajax("POST", "/uploads.json", form);
      if (!j || typeof j.short_url !== "string" || !SHORT_URL.test(j.short_url)) {
        throw new ForumError("forum_refused", "the forum did not keep the attachment's carrier as the PNG it was sent");
      }
      return { short_url: j.short_url };
    },
    // UploadsController#show_short serves the stored file, and refuses XHR requests: a plain
    // fetch, without the X-Requested-With header of ajax().
    async fetch_carrier({ short_url }) {
      let r;
      try {
        r = await fetch(forumUrl(`/uploads/short-url/${short_url.slice("upload://".length)}`),
          { credentials: "same-origin", cache: "no-store" });
      } catch (e) {
        throw new ForumError("offline", "the forum could not be reached (offline?)");
      }
      if (r.status >= 500) throw new ForumError("server_error", `the forum answered ${r.status} (retry later)`);
      if (!r.ok) throw new ForumError(r.status === 404 ? "not_found" : "forum_refused", `the forum answered ${r.status} for an attachment`);
      // Read as a data: URL, a string: in Firefox the response's buffers belong to the page's
      // compartment, which a typed array of this script cannot wrap.
      const blob = await r.blob();
      if (blob.size > A.MAX_CARRIER_BYTES) throw new ForumError("forum_refused", "the forum served something else than the attachment's carrier");
      const url = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result));
        reader.onerror = () => reject(new ForumError("offline", "the attachment could not be read from the forum's answer"));
        reader.readAsDataURL(blob);
      });
      const png = url.slice(url.indexOf(",") + 1);
      // (a lossless re-encoding may have changed its bit depth or colour type: the engine reads
      // any PNG by its pixels)
      if (!png.startsWith(PNG_SIGNATURE_BASE64)) {
        throw new ForumError("forum_refused", "the forum served something else than the attachment's carrier");
      }
      return { png };
    },
    async put_bio({ bio_raw }) {
      // Discourse answers 200 and keeps the old bio when DiscourseConnect manages profiles
      // (app/services/user_updater.rb): read it back to know what the forum really kept.
      const u = await requireUser();
      await ajax("PUT", `/u/${encodeURIComponent(u)}.json`, { bio_raw });
      users.delete(u.toLowerCase());
      const j = await ajax("GET", `/u/${encodeURIComponent(u)}.json`);
      const kept = j && j.user && typeof j.user.bio_raw === "string" ? j.user.bio_raw : null;
      return { username: u, saved: kept === bio_raw, can_change_bio: !(j && j.user && j.user.can_change_bio === false) };
    },
    async create_key_exchange({ to, raw }) {
      if (!P.key.test(raw) || P.message.test(raw) || P.backup.test(raw)) throw new ForumError("refused", "only a key can be posted");
      return postPm({ archetype: "private_message", title: C.KEY_EXCHANGE_TITLE, raw, target_recipients: to });
    },
    async answer_key_exchange({ topic_id, raw }) {
      if (!P.key.test(raw) || P.message.test(raw) || P.backup.test(raw)) throw new ForumError("refused", "only a key can be posted");
      return postPm({ topic_id, raw });
    },
    async create_backup({ title, raw }) {
      if (title !== C.BACKUP_TITLE || !P.backup.test(raw)) throw new ForumError("refused", "only a key backup can be posted");
      const u = await requireUser();
      return postPm({ archetype: "private_message", title, raw, target_recipients: u });
    },
    async find_backup() {
      // The backup PM is never bumped: on an active account it is pages deep in the list, which
      // Discourse orders by last activity (newest backup first).
      const u = await requireUser();
      for await (const t of pmTopics(`/topics/private-messages-sent/${encodeURIComponent(u)}.json`)) {
        if (t.title !== C.BACKUP_TITLE) continue;
        const tp = await topic(t.id);
        const first = tp.posts.find((p) => p.post_number === 1);
        if (first && first.username.toLowerCase() === u.toLowerCase() && P.backup.test(first.raw)) {
          return { found: true, topic_id: t.id, raw: first.raw };
        }
      }
      return { found: false, topic_id: null, raw: null };
    },
    async reply_state({ topic_id, raw }) {
      if (!P.state.test(raw) || P.backup.test(raw)) throw new ForumError("refused", "only a device state can be posted");
      return postPm({ topic_id, raw });
    },
    // Device state records are replies in my key backup PMs: a new topic per device would count
    // against Discourse's topic rate limits (rate_limit_create_topic and its new-user variant),
    // which the user's own next message would then hit. topic_id: the newest backup PM, where
    // this device replies; records: my state posts in every backup PM (the engine refuses any it
    // cannot open as mine).
    async find_state() {
      const u = await requireUser();
      let newest = null;
      const records = [];
      for await (const t of pmTopics(`/topics/private-messages-sent/${encodeURIComponent(u)}.json`)) {
        if (t.title !== C.BACKUP_TITLE) continue;
        const tp = await topic(t.id);
        const first = tp.posts.find((p) => p.post_number === 1);
        if (!first || first.username.toLowerCase() !== u.toLowerCase() || !P.backup.test(first.raw)) continue;
        if (newest === null || t.id > newest) newest = t.id;
        for (const p of tp.posts) {
          if (p.post_number !== 1 && p.username.toLowerCase() === u.toLowerCase() && P.state.test(p.raw)) records.push(p.raw);
        }
      }
      return { found: newest !== null, topic_id: newest, records: records.slice(-100) };
    },
    async my_pms({ pages } = {}) {
      const u = await requireUser();
      const topics = [];
      const iso = (v) => (typeof v === "string" ? v : null);
      const count = (v) => (Number.isInteger(v) && v >= 0 ? v : null);
      for await (const t of pmTopics(`/topics/private-messages/${encodeURIComponent(u)}.json`, pages ?? MAX_LIST_PAGES)) {
        // The list's own read state (TopicListItemSerializer, from the user's TopicUser row):
        // unseen = never opened; unread_posts (older forums: unread, new_posts) = posts after the
        // last one read. Dates and counts are public metadata of the PM, like its title.
        const unread = count(t.unread_posts) ?? ((count(t.unread) ?? 0) + (count(t.new_posts) ?? 0));
        topics.push({ topic_id: t.id, server_title: String(t.title || ""), posts_count: t.posts_count || 0,
          last_poster: t.last_poster_username || null, created_at: iso(t.created_at),
          last_posted_at: iso(t.last_posted_at), bumped_at: iso(t.bumped_at),
          highest_post_number: count(t.highest_post_number), last_read_post_number: count(t.last_read_post_number),
          unread_posts: unread, unseen: t.unseen === true });
      }
      return { username: u, topics };
    },
    async navigate({ topic_id }) {
      location.assign(`${BASE}/t/${topic_id}`);
      return { navigating: true };
    },
  };

  // Runs a forum operation; rejects with {code, message} errors.
  function run(op, args = {}) {
    if (!Object.prototype.hasOwnProperty.call(OPS, op)) return Promise.reject(new ForumError("rejected", "unknown operation"));
    return OPS[op](args);
  }

  globalThis.EFD_FORUM = Object.freeze({
    base: BASE,
    currentUser,
    run,
    // A new page view (SPA navigation): topics are fetched afresh.
    newPageView() { topics.clear(); },
    topicUrl: (topicId) => `${BASE}/t/${topicId}`,
  });
})();
