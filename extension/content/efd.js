// Encrypt for Discourse content script: finds encrypted posts and replaces their body
// with an extension-origin viewer frame, places the entry points of the encrypted composer, and
// performs the forum's HTTP requests for the extension's frames and pages.
//
// It only ever holds ciphertext and public data (post raws, bios, usernames, ids). It never
// listens to window.postMessage and never trusts the page: user decisions are taken inside the
// frames. Frames get their (public) bundle from the router with a random single-use token.
(() => {
  "use strict";
  if (globalThis.__efdContentLoaded) return;
  globalThis.__efdContentLoaded = true;
  const api = globalThis.browser ?? globalThis.chrome;
  const gen = document.querySelector('meta[name="generator"]');
  if (!gen || !/^Discourse\b/.test(String(gen.content || ""))) return;

  const M = globalThis.EFD_MESSAGES;
  const C = globalThis.EFD_CONSTANTS;
  const CFG = globalThis.EFD_CONFIG || {};
  const P = M.patterns;
  const baseMeta = document.querySelector('meta[name="discourse-base-uri"]');
  const BASE = baseMeta ? String(baseMeta.content || "").replace(/\/+$/, "") : "";
  const frames = new Map();   // token -> iframe element (viewer or composer)
  let enabled = false;
  let me = null;              // current username (from /session/current.json)

  // ------------------------------------------------------------------ messaging
  async function send(type, payload = {}) {
    const reply = await api.runtime.sendMessage({ type, payload });
    if (!reply || !reply.ok) throw new Error((reply && reply.error && reply.error.message) || "no reply");
    return reply.result;
  }

  function newToken() {
    const b = crypto.getRandomValues(new Uint8Array(24));
    return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // ------------------------------------------------------------------ forum HTTP
  class ForumError extends Error {
    constructor(code, message) { super(message); this.code = code; }
  }
  let csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function ajax(method, path, data, retried = false) {
    const headers = { "X-Requested-With": "XMLHttpRequest", Accept: "application/json" };
    const opts = { method, credentials: "same-origin", headers, cache: "no-store" };
    if (method !== "GET") {
      if (!csrf) await refreshCsrf();
      headers["X-CSRF-Token"] = csrf;
    }
    if (data) {
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
      r = await fetch(BASE + path, opts);
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
      const msg = json && Array.isArray(json.errors) ? json.errors.join(" ") : (json && json.error) || `HTTP ${r.status}`;
      throw new ForumError(r.status === 404 ? "not_found" : r.status === 403 ? "forbidden" : "forum_refused", String(msg).slice(0, 500));
    }
    return json;
  }

  async function refreshCsrf() {
    const r = await fetch(BASE + "/session/csrf.json", { credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest", Accept: "application/json" } });
    csrf = (await r.json()).csrf || "";
  }

  async function currentUser() {
    if (me) return me;
    try {
      const j = await ajax("GET", "/session/current.json");
      me = j && j.current_user ? j.current_user.username : null;
    } catch (_) { me = null; }
    return me;
  }

  const topicCache = new Map();   // topic_id -> {at, promise}
  const userCache = new Map();    // lower-cased username -> {at, promise} (public bios)
  async function topicPosts(topicId) {
    const hit = topicCache.get(topicId);
    if (hit && Date.now() - hit.at < 4000) return hit.promise;
    const promise = (async () => {
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
      const participants = ((t.details && t.details.allowed_users) || []).map((u) => u.username);
      return { topic_id: topicId, archetype: t.archetype, posts, participants };
    })();
    topicCache.set(topicId, { at: Date.now(), promise });
    promise.catch(() => topicCache.delete(topicId));
    return promise;
  }

  async function postPm(fields) {
    const j = await ajax("POST", "/posts.json", { ...fields, typing_duration_msecs: 6000, composer_open_duration_msecs: 12000 });
    if (j && j.action === "enqueued") throw new ForumError("enqueued", "the forum queued the post for approval by a moderator");
    const post = j && j.post ? j.post : j;
    if (!post || !post.id) throw new ForumError("forum_refused", "the forum did not return a post");
    topicCache.delete(post.topic_id);
    return { post_id: post.id, topic_id: post.topic_id, post_number: post.post_number };
  }

  // Each operation: public data and ciphertext in, public data and ciphertext out.
  const OPS = {
    async me() { return { username: await currentUser() }; },
    async user({ username }) {
      // Several viewers ask for the same bios at once: share one request for a few seconds.
      const k = username.toLowerCase();
      const hit = userCache.get(k);
      if (hit && Date.now() - hit.at < 5000) return hit.promise;
      const promise = ajax("GET", `/u/${encodeURIComponent(username)}.json`).then((j) => {
        const u = (j && j.user) || {};
        return { username: u.username || username, bio_raw: typeof u.bio_raw === "string" ? u.bio_raw : null };
      });
      userCache.set(k, { at: Date.now(), promise });
      promise.catch(() => userCache.delete(k));
      return promise;
    },
    async search_users({ term }) {
      const j = await ajax("GET", `/u/search/users.json?term=${encodeURIComponent(term)}&include_groups=false`);
      return { users: ((j && j.users) || []).slice(0, 20).map((u) => ({ username: u.username, name: u.name || "" })) };
    },
    async topic({ topic_id }) { return topicPosts(topic_id); },
    async create_pm({ title, raw, target_recipients }) {
      if (title !== C.PLACEHOLDER_TITLE || !P.message.test(raw)) throw new ForumError("refused", "only ciphertext can be posted");
      return postPm({ archetype: "private_message", title, raw, target_recipients });
    },
    async reply({ topic_id, raw }) {
      if (!P.message.test(raw)) throw new ForumError("refused", "only ciphertext can be posted");
      return postPm({ topic_id, raw });
    },
    async invite({ topic_id, user }) {
      const j = await ajax("POST", `/t/${topic_id}/invite.json`, { user });
      topicCache.delete(topic_id);
      return { user: (j && j.user && j.user.username) || user };
    },
    async put_bio({ bio_raw }) {
      const u = await currentUser();
      if (!u) throw new ForumError("not_logged_in", "log in to the forum first");
      await ajax("PUT", `/u/${encodeURIComponent(u)}.json`, { bio_raw });
      userCache.delete(u.toLowerCase());
      return { username: u };
    },
    async create_backup({ title, raw }) {
      if (title !== C.BACKUP_TITLE || !P.backup.test(raw)) throw new ForumError("refused", "only a key backup can be posted");
      const u = await currentUser();
      if (!u) throw new ForumError("not_logged_in", "log in to the forum first");
      return postPm({ archetype: "private_message", title, raw, target_recipients: u });
    },
    async find_backup() {
      const u = await currentUser();
      if (!u) throw new ForumError("not_logged_in", "log in to the forum first");
      const j = await ajax("GET", `/topics/private-messages-sent/${encodeURIComponent(u)}.json`);
      const topics = ((j && j.topic_list && j.topic_list.topics) || []).filter((t) => t.title === C.BACKUP_TITLE)
        .sort((a, b) => b.id - a.id);
      for (const t of topics) {
        const tp = await topicPosts(t.id);
        const first = tp.posts.find((p) => p.post_number === 1);
        if (first && first.username.toLowerCase() === u.toLowerCase() && P.backup.test(first.raw)) {
          return { found: true, topic_id: t.id, raw: first.raw };
        }
      }
      return { found: false, topic_id: null, raw: null };
    },
    async my_pms() {
      const u = await currentUser();
      if (!u) throw new ForumError("not_logged_in", "log in to the forum first");
      const j = await ajax("GET", `/topics/private-messages/${encodeURIComponent(u)}.json`);
      return { username: u, topics: ((j && j.topic_list && j.topic_list.topics) || []).map((t) => ({
        topic_id: t.id, server_title: String(t.title || ""), posts_count: t.posts_count || 0,
        last_poster: t.last_poster_username || null })) };
    },
    async navigate({ topic_id }) {
      location.assign(`${BASE}/t/${topic_id}`);
      return { navigating: true };
    },
  };

  // Requests from the router (tabs.sendMessage), declared in common/messages.js with to "content".
  const ROUTER_REQUESTS = {
    "content.resize_frame"({ token, height }) {
      const f = frames.get(token);
      if (f) {
        const cap = f.classList.contains("efd-composer") ? Math.floor(window.innerHeight * 0.85) : 20000;
        f.style.height = Math.max(40, Math.min(height, cap)) + "px";
      }
      return {};
    },
    "content.close_frame"({ token, topic_id }) {
      closeFrame(token);
      if (Number.isInteger(topic_id)) location.assign(`${BASE}/t/${topic_id}`);
      return {};
    },
    "content.forum"({ op, args }) {
      if (!Object.prototype.hasOwnProperty.call(OPS, op)) throw new ForumError("rejected", "unknown operation");
      return OPS[op](args || {});
    },
  };

  api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    try {
      M.check(msg, M.classifySender(api, sender), { testHooks: !!CFG.testHooks, to: "content" });
    } catch (e) {
      if (!(e instanceof M.Rejected)) throw e;
      sendResponse(M.fail(e.code, e.message));
      return false;
    }
    Promise.resolve().then(() => ROUTER_REQUESTS[msg.type](msg.payload ?? {})).then(
      (result) => sendResponse(M.ok(result)),
      (e) => sendResponse(M.fail(e.code || "content_error", String(e.message || e))));
    return true;
  });

  function closeFrame(token) {
    const f = frames.get(token);
    if (f) { (f.closest(".efd-composer-dock") || f).remove(); frames.delete(token); }
  }

  // ------------------------------------------------------------------ frames
  async function placeFrame(kind, bundle, iframe) {
    const token = newToken();
    await send("frame.register", { token, kind, me: await currentUser(), ...bundle });
    frames.set(token, iframe);
    iframe.src = api.runtime.getURL(`frames/${kind}.html`) + "#" + token;
    return token;
  }

  // An encrypted message or a key backup (PM to oneself): both get a viewer frame; the frame
  // reads the post's raw from the forum and decides what it is (the key backup is never opened there).
  const ARMOURS = [[C.MSG_BEGIN, C.MSG_END], [C.BACKUP_BEGIN, C.BACKUP_END]];
  function isEncryptedCooked(cooked) {
    for (const code of cooked.querySelectorAll("pre code, pre")) {
      const t = code.textContent || "";
      for (const [begin, end] of ARMOURS) {
        const i = t.indexOf(begin);
        if (i >= 0 && t.indexOf(end, i) > i) return true;
      }
    }
    return false;
  }

  async function decoratePost(article) {
    const postId = parseInt(article.getAttribute("data-post-id"), 10);
    const topicId = parseInt(article.getAttribute("data-topic-id") || topicIdFromUrl() || "", 10);
    if (!Number.isInteger(postId) || !Number.isInteger(topicId)) return;
    const cooked = article.querySelector(".cooked");
    if (!cooked || cooked.dataset.efdState || !isEncryptedCooked(cooked)) return;
    if (!(await currentUser())) return;
    if (cooked.dataset.efdState) return;
    cooked.dataset.efdState = "framed";
    // The cooked element was re-rendered next to a viewer that is still there: keep that viewer.
    const existing = article.querySelector(`iframe.efd-viewer[data-efd-post-id="${postId}"]`);
    if (existing) {
      cooked.style.display = "none";
      return;
    }
    const iframe = document.createElement("iframe");
    iframe.className = "efd-viewer";
    iframe.dataset.efdPostId = String(postId);
    iframe.setAttribute("title", "Encrypted message (Encrypt for Discourse)");
    iframe.setAttribute("referrerpolicy", "no-referrer");
    iframe.style.cssText = "display:block;width:100%;height:90px;border:0;margin:0;padding:0;background:transparent;";
    cooked.style.display = "none";
    cooked.after(iframe);
    try {
      await placeFrame("viewer", { topic_id: topicId, post_id: postId }, iframe);
    } catch (e) {
      console.warn("Encrypt for Discourse: cannot place viewer", e);
      iframe.remove();
      cooked.style.display = "";
      delete cooked.dataset.efdState;
    }
    addTopicButtons(topicId);
  }

  function topicIdFromUrl() {
    const m = location.pathname.slice(BASE.length).match(/^\/t\/(?:[^/]+\/)?(\d+)/);
    return m ? m[1] : null;
  }

  function button(label, cls, onclick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "btn efd-button " + cls;
    b.textContent = label;
    b.addEventListener("click", (e) => { e.preventDefault(); e.stopPropagation(); onclick(); });
    return b;
  }

  function addTopicButtons(topicId) {
    const footer = document.querySelector("#topic-footer-buttons");
    if (!footer || footer.querySelector(".efd-reply")) return;
    const create = footer.querySelector(".create");
    const reply = button("Encrypted reply", "btn-primary efd-reply", () => openComposer({ mode: "reply", topic_id: topicId }));
    const invite = button("Add participant (encrypted)", "efd-invite", () => openComposer({ mode: "invite", topic_id: topicId }));
    if (create) create.before(reply, invite); else footer.prepend(reply, invite);
    const note = document.createElement("div");
    note.className = "efd-notice";
    note.style.cssText = "font-size:12px;color:#57606a;margin:4px 0;";
    note.textContent = "This conversation is end-to-end encrypted: answer with \u201cEncrypted reply\u201d. " +
      "The forum's own Reply button would send plain text.";
    footer.append(note);
  }

  async function openComposer(bundle) {
    for (const [t, f] of frames) if (f.classList.contains("efd-composer")) closeFrame(t);
    const dock = document.createElement("div");
    dock.className = "efd-composer-dock";
    dock.style.cssText = "position:fixed;right:16px;bottom:0;width:min(640px,96vw);z-index:2147483000;" +
      "box-shadow:0 0 12px rgba(0,0,0,.35);border-radius:8px 8px 0 0;background:#fff;";
    const iframe = document.createElement("iframe");
    iframe.className = "efd-composer";
    iframe.setAttribute("title", "Encrypted composer (Encrypt for Discourse)");
    iframe.style.cssText = "display:block;width:100%;height:520px;border:0;border-radius:8px 8px 0 0;";
    dock.append(iframe);
    document.body.append(dock);
    try {
      await placeFrame("composer", bundle, iframe);
    } catch (e) {
      dock.remove();
      console.warn("Encrypt for Discourse: cannot open the composer", e);
    }
  }

  const PROFILE_PATH = new RegExp(`^/u/(${C.USERNAME_PATTERN})/?(?:summary|activity)?/?$`);
  function addPageButtons() {
    const path = location.pathname.slice(BASE.length);
    // The user's messages page: a "New encrypted message" entry point.
    if (/^\/u\/[^/]+\/messages/.test(path) && !document.querySelector(".efd-new-message")) {
      const anchor = document.querySelector(".messages-nav, .user-nav-messages, .user-navigation-secondary")
        || document.querySelector("#main-outlet");
      if (anchor) {
        const b = button("New encrypted message", "btn-primary efd-new-message", () => openComposer({ mode: "new" }));
        const inbox = button("Encrypted inbox", "efd-open-inbox", () => send("ui.open_inbox").catch(() => {}));
        const wrap = document.createElement("div");
        wrap.className = "efd-actions";
        wrap.append(b, inbox);
        if (anchor.id === "main-outlet") anchor.prepend(wrap); else anchor.after(wrap);
      }
    }
    // Someone's profile: an encrypted message to them.
    const m = path.match(PROFILE_PATH);
    const controls = document.querySelector(".user-profile-controls, .user-main .controls");
    if (m && controls && !controls.querySelector(".efd-message-user") && me && m[1].toLowerCase() !== me.toLowerCase()) {
      controls.append(button("Send encrypted message", "btn-primary efd-message-user", () => openComposer({ mode: "new", to: m[1] })));
    }
  }

  // ------------------------------------------------------------------ scanning (idempotent)
  let scheduled = false;
  function scan() {
    scheduled = false;
    if (!enabled) return;
    for (const [t, f] of frames) if (!f.isConnected) frames.delete(t);
    for (const article of document.querySelectorAll("article[data-post-id]")) decoratePost(article);
    addPageButtons();
  }
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(scan, 50);
  }

  let lastHref = location.href;
  async function start() {
    try {
      const hello = await send("content.hello", { generator: String(gen.content || "").slice(0, 200) });
      enabled = !!hello.enabled;
    } catch (_) { enabled = false; }
    if (!enabled) return;
    await currentUser();
    document.documentElement.dataset.efdReady = "1";
    new MutationObserver(() => {
      if (location.href !== lastHref) { lastHref = location.href; topicCache.clear(); }
      schedule();
    }).observe(document.body, { childList: true, subtree: true });
    window.addEventListener("popstate", schedule);
    scan();
  }
  start();
})();
